// tandem/locks.hpp: mutual exclusion between the tasks of one loop
// (asyncio's locks.py: Lock, Semaphore, BoundedSemaphore, Condition).
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
// Waiting calls (lock, acquire, wait) suspend the calling task: outside a
// task, or inside a generator coroutine in a task, std::logic_error. The
// try_ calls never suspend. None of these is movable: waiting tasks refer
// to them. They belong to the loop's thread.
#pragma once

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <limits>
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
// The integers a semaphore's count is checked from: all but std::size_t,
// taken as it is, and bool (a count of 0 or 1, as it was).
template <class I>
concept checked_semaphore_count =
    std::integral<I> && !std::same_as<I, std::size_t> && !std::same_as<I, bool>;
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
  template <detail::checked_semaphore_count I>
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
  template <detail::checked_semaphore_count I>
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

}  // namespace tandem
