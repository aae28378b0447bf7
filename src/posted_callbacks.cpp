// Callbacks posted from other threads: see posted_callbacks.hpp.
#include "posted_callbacks.hpp"

#include <algorithm>
#include <functional>
#include <utility>
#include <vector>

namespace tandem::detail {

void posted_callbacks::make_room(std::size_t more) {
  const std::size_t needed = callbacks_.size() + reserved_ + more;
  if (needed > callbacks_.capacity())
    callbacks_.reserve(std::max(needed, 2 * callbacks_.capacity()));
}

bool posted_callbacks::post(std::function<void()>&& cb, poller& io) {
  std::lock_guard lock(mutex_);
  if (closed_) return false;
  make_room(1);  // keeps the reserved room free
  append(std::move(cb), io);
  return true;
}

void posted_callbacks::append(std::function<void()>&& cb, poller& io) noexcept {
  callbacks_.push_back(std::move(cb));  // within the capacity: no allocation
  pending_.store(true, std::memory_order_release);
  io.wake();  // under the lock: see close()
}

void posted_callbacks::reserve() {
  std::lock_guard lock(mutex_);
  make_room(1);
  ++reserved_;
}

void posted_callbacks::release() noexcept {
  std::lock_guard lock(mutex_);
  --reserved_;
}

void posted_callbacks::post_reserved(std::function<void()>&& cb, poller& io) noexcept {
  std::lock_guard lock(mutex_);
  --reserved_;
  if (!closed_) append(std::move(cb), io);
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
