// The list of tasks waiting on a queue, event, lock or barrier
// (tandem/detail/wait_list.hpp).
#include "tandem/detail/wait_list.hpp"

#include <cstdio>
#include <cstdlib>
#include <utility>

#include "tandem/task.hpp"

namespace tandem::detail {

wait_list::~wait_list() {
  if (waiters_.empty()) return;
  std::fputs(
      "tandem: a queue, event, mutex, condition, semaphore or barrier was destroyed while "
      "tasks wait on it; an object that tasks use must outlive them (and the loop)\n",
      stderr);
  std::abort();
}

void wait_list::wait(callable_ref<void> pass_on) {
  task_core& me = current_task();
  suspension s;
  auto it = waiters_.insert(waiters_.end(), {&me, me.local_waker(s)});
  bool listed = true;
  bool woken = false;
  auto undo = [this, it, &listed] {
    if (listed) waiters_.erase(it);
    listed = false;
  };
  s.undo = undo;
  // wake_one/wake_all take the waiter off the list before waking it. The
  // assignment allocates: if that fails, the waiter is taken off again
  // (left listed, it would take a wake-up meant for another).
  try {
    it->wake = [this, it, &listed, &woken, wake = it->wake] {
      waiters_.erase(it);
      listed = false;
      woken = true;
      wake();
    };
  } catch (...) {
    undo();
    throw;
  }
  try {
    suspend(s);
  } catch (...) {
    // Woken, then cancelled before it ran: what woke it (an item, a free
    // slot, a mutex) goes to the next waiter instead of being lost. A
    // waiter that was never woken has nothing to pass on.
    if (woken && pass_on) pass_on();
    throw;
  }
}

// The wake function is moved out of the node before it is called, since
// calling it erases the node; moved, not copied: a copy allocates, and a
// bad_alloc here would escape from a put() that has stored its item, or a
// get() whose item has left the queue.
bool wait_list::wake_one() {
  for (waiter& w : waiters_) {
    if (w.task->cancel_pending()) continue;
    auto wake = std::move(w.wake);
    wake();
    return true;
  }
  return false;
}

void wait_list::wake_all() {
  while (!waiters_.empty()) {
    auto wake = std::move(waiters_.front().wake);
    wake();
  }
}

}  // namespace tandem::detail
