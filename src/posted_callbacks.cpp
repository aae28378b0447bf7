// Callbacks posted from other threads: see posted_callbacks.hpp.
#include "posted_callbacks.hpp"

#include <functional>
#include <utility>
#include <vector>

namespace tandem::detail {

bool posted_callbacks::post(std::function<void()>&& cb, poller& io) {
  std::lock_guard lock(mutex_);
  if (closed_) return false;
  callbacks_.push_back(std::move(cb));
  pending_.store(true, std::memory_order_release);
  io.wake();  // under the lock: see close()
  return true;
}

void posted_callbacks::take_into(ready_queue& ready) {
  std::lock_guard lock(mutex_);
  // Room for all of them first: a std::bad_alloc leaves each posted, in
  // order, where moving them one by one lost the one it was moving.
  ready.make_room_for_callbacks(callbacks_.size());
  for (auto& cb : callbacks_) ready.push_callback(std::move(cb));  // cannot fail now
  callbacks_.clear();
  pending_.store(false, std::memory_order_relaxed);
}

void posted_callbacks::close(poller& io) {
  // Destroyed after the lock is let go: a callback's captures may post
  // again from their destructors (refused now), which would wait forever
  // for this very lock.
  std::vector<std::function<void()>> dropped;
  {
    std::lock_guard lock(mutex_);
    closed_ = true;
    dropped.swap(callbacks_);
    io.close_wake_fd();
  }
}

}  // namespace tandem::detail
