// Callbacks posted to the loop from other threads (call_soon_threadsafe):
// kept under a lock until the loop's next iteration takes them in.
#pragma once

#include <atomic>
#include <cstddef>
#include <functional>
#include <mutex>
#include <vector>

#include "poller.hpp"
#include "ready_queue.hpp"

namespace tandem::detail {

class posted_callbacks {
 public:
  // Any thread. Queues cb and wakes the loop's poller; false, and nothing
  // queued, once the loop is closed.
  bool post(std::function<void()>&& cb, poller& io);

  // The loop's thread: room for one later post_reserved (std::bad_alloc:
  // none), for a callback that must not fail to be posted from another
  // thread: a to_thread job's completion, whose task would otherwise wait
  // for good. release() gives it back unused.
  void reserve();
  void release() noexcept;
  // Any thread: post() into the room reserve() made, without allocating;
  // dropped once the loop is closed.
  void post_reserved(std::function<void()>&& cb, poller& io) noexcept;

  // Whether anything waits to be taken in (the loop's thread, lock-free).
  bool pending() const noexcept { return pending_.load(std::memory_order_acquire); }

  // The loop's thread: moves what was posted to the ready queue, in order,
  // all or none (std::bad_alloc: each stays posted).
  void take_into(ready_queue& ready);

  // The loop closes: drops what is posted, refuses what comes, and closes
  // the poller's eventfd under the lock, so that no post() writes to it
  // (or to a reused descriptor number) afterwards.
  void close(poller& io);

 private:
  // Under the lock: capacity for `more` callbacks besides those posted and
  // reserved.
  void make_room(std::size_t more);
  // Under the lock, with room made: queues cb and wakes the poller.
  void append(std::function<void()>&& cb, poller& io) noexcept;

  std::mutex mutex_;
  std::vector<std::function<void()>> callbacks_;  // capacity: at least size + reserved_
  std::size_t reserved_ = 0;
  std::atomic<bool> pending_{false};
  bool closed_ = false;
};

}  // namespace tandem::detail
