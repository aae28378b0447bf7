// Callbacks posted from other threads: see posted_callbacks.hpp.
#include "posted_callbacks.hpp"

#include <utility>

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
  for (auto& cb : callbacks_) ready.push_callback(std::move(cb));
  callbacks_.clear();
  pending_.store(false, std::memory_order_relaxed);
}

void posted_callbacks::close(poller& io) {
  std::lock_guard lock(mutex_);
  closed_ = true;
  callbacks_.clear();
  io.close_wake_fd();
}

}  // namespace tandem::detail
