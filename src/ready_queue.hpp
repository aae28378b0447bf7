// The event loop's ready queue: what runs in the next iteration, in order.
// A ring buffer that grows by doubling and never shrinks, so that a busy
// loop allocates nothing per task switch. An entry is either a task to step
// (the common case: no std::function, no allocation) or a callback. Timers
// do not pass through it: the loop fires due timers from its heap.
#pragma once

#include <cstddef>
#include <functional>
#include <utility>
#include <vector>

namespace tandem::detail {

class task_core;

struct ready_item {
  task_core* task = nullptr;       // step this task, or else:
  std::function<void()> callback;  // run this
};

class ready_queue {
 public:
  bool empty() const noexcept { return size_ == 0; }
  std::size_t size() const noexcept { return size_; }

  // A task step touches only the pointer: slots keep their (empty)
  // callbacks, so the hot path moves no std::function. Growing is the
  // tail of its own path, so that a caller whose last act this is (an
  // event's wake-up) needs no frame for it.
  void push_task(task_core* t) {
    if (size_ == capacity_) [[unlikely]]
      return grow_and_push_task(t);
    data_[(head_ + size_) & mask_].task = t;
    ++size_;
  }
  void push_callback(std::function<void()> cb) {
    ready_item& slot = next_slot();
    slot.task = nullptr;
    slot.callback = std::move(cb);
  }
  // Takes the front entry: a task to step (returned), or else a callback
  // (moved out; the slot is left empty).
  task_core* pop(std::function<void()>& cb) {
    ready_item& slot = data_[head_];
    head_ = (head_ + 1) & mask_;
    --size_;
    if (slot.task != nullptr) return slot.task;
    cb = std::move(slot.callback);
    slot.callback = nullptr;
    return nullptr;
  }
  void clear() {
    std::function<void()> callback;
    while (!empty()) pop(callback);
  }

 private:
  ready_item& next_slot() {
    if (size_ == capacity_) grow();
    ready_item& slot = data_[(head_ + size_) & mask_];
    ++size_;
    return slot;
  }
  [[gnu::noinline, gnu::cold]] void grow_and_push_task(task_core* t) {
    grow();
    push_task(t);
  }
  [[gnu::noinline, gnu::cold]] void grow() {
    std::vector<ready_item> bigger(slots_.empty() ? 64 : slots_.size() * 2);
    for (std::size_t i = 0; i < size_; ++i) bigger[i] = std::move(data_[(head_ + i) & mask_]);
    slots_ = std::move(bigger);
    data_ = slots_.data();
    capacity_ = slots_.size();
    mask_ = capacity_ - 1;
    head_ = 0;
  }

  std::vector<ready_item> slots_;  // a power of two in size
  ready_item* data_ = nullptr;     // slots_.data(), its size and its
  std::size_t capacity_ = 0;       // index mask: cached, as the hot path
  std::size_t mask_ = 0;           // needs them
  std::size_t head_ = 0;
  std::size_t size_ = 0;
};

}  // namespace tandem::detail
