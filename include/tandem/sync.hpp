// tandem/sync.hpp: events between the tasks of one loop (asyncio's
// locks.py Event), and the queues of tandem/queues.hpp.
//
// Waiters are served first come, first served. An event is not movable,
// since waiting tasks refer to it, and belongs to the loop's thread.
#pragma once

#include "tandem/detail/wait_list.hpp"
#include "tandem/queues.hpp"

namespace tandem {

// asyncio.Event: wait() returns at once while set, else waits for set().
class event {
 public:
  event() = default;
  event(const event&) = delete;
  event& operator=(const event&) = delete;
  void set() {
    set_ = true;
    waiters_.wake_all();
  }
  void clear() noexcept { set_ = false; }
  bool is_set() const noexcept { return set_; }
  void wait() {
    if (!set_) waiters_.wait();
  }

 private:
  bool set_ = false;
  detail::wait_list waiters_;
};

}  // namespace tandem
