// Mutexes, semaphores, conditions and barriers (tandem/locks.hpp). Each of
// the first three hands what it guards straight to its first waiter, so
// that waiters are served in order: the woken task finds it already its own
// when it runs.
#include "tandem/locks.hpp"

#include <algorithm>
#include <exception>
#include <limits>
#include <stdexcept>
#include <string>

#include "tandem/task.hpp"
#include "task_switch.hpp"

namespace tandem {

bool mutex::held_by_current_task() const { return locked_ && holder_ == &detail::current_task(); }

void mutex::lock() {
  const detail::task_core& me = detail::current_task();  // logic_error outside a task
  if (!locked_) {
    locked_ = true;
    holder_ = &me;
    return;
  }
  if (holder_ == &me)
    throw std::logic_error(
        "tandem::mutex::lock: this task holds the mutex already (it would wait forever)");
  waiters_.wait(pass_on_);  // returns once unlock() handed the mutex over
  handed_over_ = false;
  holder_ = &me;
}

bool mutex::try_lock() {
  if (locked_) return false;
  locked_ = true;
  holder_ = detail::running_task_or_null();
  return true;
}

void mutex::unlock() {
  if (!unwound_without_it_.empty()) {
    const auto it = std::find(unwound_without_it_.begin(), unwound_without_it_.end(),
                              detail::running_task_or_null());
    if (it != unwound_without_it_.end()) {
      unwound_without_it_.erase(it);
      return;
    }
  }
  // Handed over, not yet taken: the waiter it went to owns it (asyncio's
  // release of a released lock raises too).
  if (!locked_ || handed_over_)
    throw std::logic_error("tandem::mutex::unlock: the mutex is not locked");
  hand_over();
}

void mutex::hand_over() {
  holder_ = nullptr;
  handed_over_ = waiters_.wake_one();  // stays locked: the first waiter owns it now
  if (!handed_over_) locked_ = false;
}

void detail::throw_negative_semaphore_value(const char* who, std::intmax_t value) {
  throw std::invalid_argument(std::string(who) + ": the initial value must be >= 0, got " +
                              std::to_string(value));
}

void detail::throw_too_large_semaphore_value(const char* who, std::uintmax_t value) {
  throw std::invalid_argument(std::string(who) + ": the initial value must be at most " +
                              std::to_string(std::numeric_limits<std::size_t>::max()) + ", got " +
                              std::to_string(value));
}

void semaphore::acquire() {
  detail::current_task();  // logic_error outside a task, even with a permit free
  if (value_ > 0) {
    --value_;
    return;
  }
  waiters_.wait(pass_on_);  // returns once release() handed a permit over
}

bool semaphore::try_acquire() {
  if (value_ == 0) return false;
  --value_;
  return true;
}

void semaphore::release() {
  if (value_ >= bound_)
    throw std::logic_error("tandem::bounded_semaphore::release: released more often than acquired");
  hand_over();
}

void semaphore::hand_over() {
  if (!waiters_.wake_one()) ++value_;  // else the permit went to the first waiter
}

void condition::wait() {
  if (!mutex_->held_by_current_task())
    throw std::logic_error("tandem::condition::wait: the task does not hold the mutex");
  // Refused before the mutex is let go: a refused wait keeps it held.
  detail::refuse_inside_generator(detail::current_task());
  mutex_->unlock();
  std::exception_ptr failure;
  bool notified = false;
  try {
    waiters_.wait(pass_on_);
    notified = true;
  } catch (const cancelled_error&) {
    failure = std::current_exception();
  } catch (...) {
    unwound();
    throw;
  }
  // Locked again whether notified or cancelled, as asyncio does: a
  // cancellation while waiting for the mutex is kept and thrown once it is
  // held.
  for (;;) {
    try {
      mutex_->lock();
      break;
    } catch (const cancelled_error&) {
      if (!failure) {
        failure = std::current_exception();
        if (notified) pass_on_();  // notified, then cancelled: the next waiter gets it
      }
    } catch (...) {
      unwound();  // while it waited to take the mutex back
      throw;
    }
  }
  if (failure) std::rethrow_exception(failure);
}

void condition::unwound() noexcept {
  // No waiting now. The mutex is taken back if it is free, so that the
  // caller's guard unlocks what it holds; if another task holds it, the
  // guard's unlock must not let go of that task's hold (whose own guard
  // would then find it unlocked, throw from a destructor and terminate).
  if (!mutex_->locked()) {
    mutex_->try_lock();
  } else {
    try {
      mutex_->unwound_without_it_.push_back(detail::running_task_or_null());
    } catch (...) {  // out of memory: the guard unlocks the holder's mutex, as before
    }
  }
}

void condition::notify(std::size_t n) {
  if (!mutex_->locked())
    throw std::logic_error("tandem::condition::notify: the mutex is not locked");
  for (; n > 0 && waiters_.wake_one(); --n) {
  }
}

void condition::notify_all() { notify(static_cast<std::size_t>(-1)); }

void detail::throw_invalid_barrier_parties(std::intmax_t parties) {
  throw std::invalid_argument("tandem::barrier: parties must be >= 1, got " +
                              std::to_string(parties));
}

void detail::throw_too_many_barrier_parties(std::uintmax_t parties) {
  throw std::invalid_argument("tandem::barrier: parties must be at most " +
                              std::to_string(std::numeric_limits<std::size_t>::max()) + ", got " +
                              std::to_string(parties));
}

barrier::barrier(std::size_t parties) : parties_(parties) {
  if (parties == 0) detail::throw_invalid_barrier_parties(0);
}

// asyncio's Barrier.wait, on its condition's list without the lock: in one
// thread, with no suspension but the waits themselves, the lock is never
// waited for, so it orders nothing.
std::size_t barrier::wait() {
  detail::task_core& me = detail::current_task();  // logic_error outside a task
  // Refused before it arrives, where it would wait, so that a refused call
  // leaves the barrier as it was (never counted in n_waiting()).
  const bool trips = state_ == state::filling && count_ + 1 == parties_;
  if (!trips && state_ != state::broken) detail::refuse_inside_generator(me);
  // The last round is still leaving (or was reset): wait until it has. A
  // cancellation here throws before the task counts in the round.
  while (state_ == state::draining || state_ == state::resetting) waiters_.wait();
  if (state_ == state::broken)
    throw broken_barrier_error("tandem::barrier::wait: the barrier is broken (aborted)");
  const std::size_t index = count_++;
  try {
    if (index + 1 == parties_) {
      state_ = state::draining;  // later arrivals wait for the round to leave
      waiters_.wake_all();
    } else {
      while (state_ == state::filling) waiters_.wait();
      if (state_ != state::draining)
        throw broken_barrier_error(
            "tandem::barrier::wait: the barrier was reset or aborted while the task waited");
    }
  } catch (...) {  // broken, cancelled, refused or unwound: the task leaves the round
    leave();
    throw;
  }
  leave();
  return index;
}

void barrier::leave() {
  if (--count_ > 0) return;
  // The round has left: the next one fills (a broken barrier stays broken),
  // and the tasks that arrived meanwhile go on.
  if (state_ == state::draining || state_ == state::resetting) state_ = state::filling;
  waiters_.wake_all();
}

void barrier::reset() {
  // With tasks inside, they leave first (broken), then the barrier fills.
  state_ = count_ > 0 ? state::resetting : state::filling;
  waiters_.wake_all();
}

void barrier::abort() {
  state_ = state::broken;
  waiters_.wake_all();
}

}  // namespace tandem
