// The tasks waiting on a queue, event, mutex, condition, semaphore or
// barrier (tandem/queues.hpp, sync.hpp, locks.hpp), first come first
// served.
#pragma once

#include <functional>
#include <list>

#include "tandem/detail/suspension.hpp"

namespace tandem::detail {

class task_core;

// Tasks waiting in a queue or an event, first come first served.
class wait_list {
 public:
  wait_list() = default;
  wait_list(const wait_list&) = delete;
  wait_list& operator=(const wait_list&) = delete;
  // Destroyed while tasks wait on it (the object that owns it did not
  // outlive them): each waiter's node would be taken off freed memory when
  // the task is woken or unwound. Reports it and aborts instead.
  ~wait_list();

  // Suspends the current task until wake_one/wake_all reaches it. A waiter
  // woken and then cancelled (or unwound) before it ran has not used what
  // woke it: it calls `pass_on`, if set, before the exception propagates
  // (a queue's item or slot goes to the next waiter; a mutex's hand-over
  // too, or the mutex is unlocked). An event's set() has woken everyone:
  // nothing to pass on.
  void wait(callable_ref<void> pass_on = {});
  // Wakes the first waiter whose task has no cancellation pending: one
  // that has will throw it when it runs, and would pass the wake-up on
  // only then, an iteration late, while another task could take what it
  // was woken for (asyncio skips a cancelled waiter's future the same
  // way). False: no waiter was woken.
  bool wake_one();
  void wake_all();
  bool empty() const noexcept { return waiters_.empty(); }

 private:
  struct waiter {
    const task_core* task;
    std::function<void()> wake;
  };
  std::list<waiter> waiters_;
};

// Wakes the next waiter of a list: what a woken waiter passes on.
struct wake_next {
  wait_list* list;
  void operator()() const { (void)list->wake_one(); }
};

}  // namespace tandem::detail
