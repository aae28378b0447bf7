// tandem/locks.hpp: mutual exclusion and rendezvous between the tasks of
// one loop (asyncio's locks.py: Lock, Semaphore, BoundedSemaphore,
// Condition, Barrier).
//
//     tandem::mutex m;
//     {
//       std::lock_guard hold(m);   // lock() suspends the task while m is held
//       ...                        // other tasks run meanwhile
//     }
//
// Rules (docs/rules.md, section 6):
//  - Waiters are served first come, first served: unlock() and release()
//    hand the mutex or the permit straight to the first waiter, so a task
//    that arrives later cannot take it first. A waiter that is cancelled
//    never takes the mutex or the permit; one cancelled just as it was
//    handed over passes it on to the next waiter (or frees it).
//  - As asyncio's Lock, a mutex has no owner for unlock(): any task may
//    unlock it. But lock() by the task that holds it is std::logic_error,
//    since it would wait forever, and so is unlock() of an unlocked mutex.
//  - semaphore::release() never fails; bounded_semaphore::release() past
//    its initial value is std::logic_error (a release without an acquire).
//    A negative initial value is std::invalid_argument (asyncio's
//    ValueError), not a count of SIZE_MAX.
//  - condition::wait() returns or throws with the mutex held, cancelled or
//    not. A waiter that was notified and then cancelled passes its wake-up
//    on to the next. wait(pred) checks pred first. wait() without holding
//    the mutex, or notify() while it is unlocked: std::logic_error.
//    Unwound by the loop's close while another task holds the mutex, it
//    leaves the mutex to that task: the caller's unlock() then does nothing.
//  - barrier::wait() returns once `parties` tasks have called it, all in the
//    same round, each with its own arrival index. Tasks that arrive while
//    the barrier still lets the last round out wait for the next round.
//    reset() and abort() break the tasks inside with broken_barrier_error;
//    after abort(), every wait() throws it until reset().
// Waiting calls (lock, acquire, wait) suspend the calling task: outside a
// task, or inside a generator coroutine in a task, std::logic_error. The
// try_ calls never suspend. None of these is movable: waiting tasks refer
// to them. They belong to the loop's thread.
#pragma once

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <utility>
#include <vector>

#include "tandem/sync.hpp"

namespace tandem {

namespace detail {
class task_core;

// A semaphore's initial count from an integer of another type: asyncio's
// Semaphore(-1) raises ValueError, where the conversion to std::size_t
// would make it SIZE_MAX, a semaphore that never makes anyone wait; and
// where std::size_t is narrower than the type (32-bit targets), a value
// past SIZE_MAX would be cut to its low bits (2^32 to 0) without a word.
[[noreturn]] void throw_negative_semaphore_value(const char* who, std::intmax_t value);
[[noreturn]] void throw_too_large_semaphore_value(const char* who, std::uintmax_t value);
template <std::integral I>
constexpr std::size_t semaphore_count(I value, const char* who) {
  if (std::cmp_less(value, 0))
    throw_negative_semaphore_value(who, static_cast<std::intmax_t>(value));
  if (std::cmp_greater(value, std::numeric_limits<std::size_t>::max()))
    throw_too_large_semaphore_value(who, static_cast<std::uintmax_t>(value));
  return static_cast<std::size_t>(value);
}
// The integers a semaphore's count and a barrier's parties are checked
// from: all but std::size_t, taken as it is, and bool (a count of 0 or 1,
// as it was).
template <class I>
concept count_to_check =
    std::integral<I> && !std::same_as<I, std::size_t> && !std::same_as<I, bool>;

// A barrier's parties: asyncio's Barrier(0) raises ValueError, and so does
// Barrier(-1), which std::size_t would make a barrier that never trips.
// Past SIZE_MAX (32-bit targets), it would be cut to its low bits: 2^32 + 1
// would make a barrier of 1.
[[noreturn]] void throw_invalid_barrier_parties(std::intmax_t parties);
[[noreturn]] void throw_too_many_barrier_parties(std::uintmax_t parties);
template <std::integral I>
constexpr std::size_t barrier_parties(I parties) {
  if (std::cmp_less(parties, 1)) throw_invalid_barrier_parties(static_cast<std::intmax_t>(parties));
  if (std::cmp_greater(parties, std::numeric_limits<std::size_t>::max()))
    throw_too_many_barrier_parties(static_cast<std::uintmax_t>(parties));
  return static_cast<std::size_t>(parties);
}
}  // namespace detail

// asyncio.Lock (a class cannot have a member named lock() and be called
// Lock in C++ naming; it is a Lockable: std::lock_guard, std::unique_lock
// and std::scoped_lock take it).
class mutex {
 public:
  mutex() = default;
  mutex(const mutex&) = delete;
  mutex& operator=(const mutex&) = delete;

  void lock();
  bool try_lock();
  void unlock();
  bool locked() const noexcept { return locked_; }

 private:
  friend class condition;
  void hand_over();  // to the first waiter, or unlocked if none
  bool held_by_current_task() const;

  // Tasks whose condition::wait was unwound by force (the loop closes)
  // while another task held the mutex: their guard's unlock() does nothing,
  // since the mutex is the holder's, whose own guard unlocks it.
  std::vector<const detail::task_core*> unwound_without_it_;
  bool locked_ = false;
  bool handed_over_ = false;                   // to a woken waiter that has not run yet
  const detail::task_core* holder_ = nullptr;  // null while handed over, not yet taken
  detail::wait_list waiters_;
  struct pass_on {
    mutex* m;
    void operator()() const { m->hand_over(); }
  } pass_on_{this};
};

// asyncio.Semaphore: acquire() takes a permit, waiting while there is none.
class semaphore {
 public:
  explicit semaphore(std::size_t value = 1) : value_(value) {}
  // A count of another integer type (semaphore(2) passes an int):
  // std::invalid_argument, naming the value, if it is negative or past
  // SIZE_MAX (a std::int64_t or std::uint64_t on a 32-bit target).
  template <detail::count_to_check I>
  explicit semaphore(I value) : semaphore(detail::semaphore_count(value, "tandem::semaphore")) {}
  semaphore(const semaphore&) = delete;
  semaphore& operator=(const semaphore&) = delete;

  void acquire();
  bool try_acquire();
  void release();
  std::size_t value() const noexcept { return value_; }
  bool locked() const noexcept { return value_ == 0; }  // acquire() would wait

 protected:
  semaphore(std::size_t value, std::size_t bound) : value_(value), bound_(bound) {}

 private:
  void hand_over();  // a permit to the first waiter, or back to the count

  std::size_t value_;
  std::size_t bound_ = std::numeric_limits<std::size_t>::max();  // most value_ may reach
  detail::wait_list waiters_;
  struct pass_on {
    semaphore* s;
    void operator()() const { s->hand_over(); }
  } pass_on_{this};
};

// asyncio.BoundedSemaphore: release() past the initial value is an error,
// also through a semaphore& (the bound is the semaphore's own).
class bounded_semaphore : public semaphore {
 public:
  explicit bounded_semaphore(std::size_t value = 1) : semaphore(value, value) {}
  template <detail::count_to_check I>
  explicit bounded_semaphore(I value)
      : bounded_semaphore(detail::semaphore_count(value, "tandem::bounded_semaphore")) {}
};

// asyncio.Condition, on a mutex of the caller's.
class condition {
 public:
  explicit condition(mutex& m) : mutex_(&m) {}
  condition(const condition&) = delete;
  condition& operator=(const condition&) = delete;

  // Unlocks the mutex, waits for a notify, and locks it again.
  void wait();
  template <class P>
  void wait(P pred) {
    while (!pred()) wait();
  }
  void notify(std::size_t n = 1);
  void notify_all();

 private:
  // The wait is unwound by force: the caller's guard will unlock.
  void unwound() noexcept;

  mutex* mutex_;
  detail::wait_list waiters_;
  detail::wake_next pass_on_{&waiters_};
};

// asyncio.BrokenBarrierError, which is a RuntimeError: what barrier::wait
// throws in a task that the barrier's abort() or reset() breaks.
class broken_barrier_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// asyncio.Barrier: wait() suspends the task until `parties` tasks have
// called it, then lets them all go at once. It is used again and again:
// once the last task of a round has left, the next round fills.
//
// The states are asyncio's. Filling: tasks arrive and wait. Draining: the
// last party arrived and the round is let out; it ends when the last task
// of the round has left wait() (the one that arrived last returns at once,
// the others when they next run). Resetting: reset() broke the tasks
// inside, and it ends as draining does. Broken: abort(), until reset().
// A task that arrives while the barrier drains or resets waits until the
// round has left, so that it never meets the tasks of the round before.
class barrier {
 public:
  // std::invalid_argument naming the value if `parties` is 0 (asyncio's
  // ValueError): a barrier that no task could pass.
  explicit barrier(std::size_t parties);
  // Another integer type (barrier(3) passes an int): std::invalid_argument
  // naming the value if below 1 (not a count of SIZE_MAX) or past SIZE_MAX.
  template <detail::count_to_check I>
  explicit barrier(I parties) : barrier(detail::barrier_parties(parties)) {}
  barrier(const barrier&) = delete;
  barrier& operator=(const barrier&) = delete;

  // Waits for the round to fill and returns the task's arrival index in
  // it, 0 for the first to arrive up to parties() - 1 for the last, which
  // does not suspend (so a barrier of 1 never waits), as asyncio's does.
  // broken_barrier_error if the barrier is broken when the task arrives,
  // or if abort() or reset() is called while it waits, even after the
  // round filled but before the task ran again (asyncio's order: the task
  // finds the barrier broken when it resumes).
  //
  // A task cancelled while it waits in a filling round leaves it, and the
  // round waits for one more arrival: the barrier is not broken, as in
  // asyncio 3.11 (unlike threading.Barrier, which breaks when a wait times
  // out), and the tasks still inside keep waiting. As there, the index of
  // a later arrival is the count of tasks inside when it arrives, so it
  // may repeat the index of a task still waiting: kept, so that tandem and
  // asyncio hand out the same indices. A task cancelled after its round filled, before it ran,
  // throws cancelled_error and leaves as the others do: the round still
  // drains, no wake-up is lost. One cancelled while it waits for the last
  // round to leave never counted in a round: it just goes.
  //
  // Outside a task, std::logic_error; inside a generator coroutine, where
  // it would have to suspend, std::logic_error before the task arrives.
  std::size_t wait();
  // Breaks the tasks inside the barrier (broken_barrier_error) and makes
  // it fill again from empty once they have left; tasks that arrive
  // meanwhile wait for that. Also mends a broken barrier. It never
  // suspends (asyncio's is a coroutine only for its lock, which it
  // never waits for), so it may be called outside a task.
  void reset();
  // Breaks the barrier: the tasks inside and every later wait() throw
  // broken_barrier_error until reset(). Never suspends either.
  void abort();

  std::size_t parties() const noexcept { return parties_; }
  // The tasks waiting for the round to fill; 0 while it drains, resets or
  // is broken, as asyncio counts.
  std::size_t n_waiting() const noexcept { return state_ == state::filling ? count_ : 0; }
  bool broken() const noexcept { return state_ == state::broken; }

 private:
  enum class state : unsigned char { filling, draining, resetting, broken };
  void leave();  // a task leaves wait(), however: the last one ends draining or resetting

  std::size_t parties_;
  std::size_t count_ = 0;  // tasks inside wait() that arrived in the round
  state state_ = state::filling;
  // Every task waiting in the barrier, for its round to fill or for the
  // last round to leave: one list woken whole on each change of state, and
  // each task checks again what it waits for, as asyncio's Condition does.
  // One list also keeps asyncio's order among them.
  detail::wait_list waiters_;
};

}  // namespace tandem
