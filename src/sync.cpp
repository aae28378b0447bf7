// Queues and events (tandem/sync.hpp): the list of waiting tasks.
#include "tandem/sync.hpp"

#include "tandem/task.hpp"

namespace tandem::detail {

void wait_list::wait(callable_ref<void> pass_on) {
  task_core& me = current_task();
  suspension s;
  auto it = wakers_.insert(wakers_.end(), me.local_waker(s));
  bool listed = true;
  bool woken = false;
  auto undo = [this, it, &listed] {
    if (listed) wakers_.erase(it);
    listed = false;
  };
  s.undo = undo;
  // wake_one/wake_all take the waker off the list before calling it.
  *it = [this, it, &listed, &woken, wake = *it] {
    wakers_.erase(it);
    listed = false;
    woken = true;
    wake();
  };
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

void wait_list::wake_one() {
  if (!wakers_.empty()) {
    auto wake = wakers_.front();  // copy: calling it erases the node
    wake();
  }
}

void wait_list::wake_all() {
  while (!wakers_.empty()) {
    auto wake = wakers_.front();
    wake();
  }
}

}  // namespace tandem::detail
