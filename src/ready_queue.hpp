// The event loop's ready queue: what runs in the next iteration, in order.
// A ring buffer that grows by doubling and never shrinks, so that a busy
// loop allocates nothing per task switch. An entry is either a task to step
// (the common case: no std::function, no allocation) or a callback.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <utility>
#include <vector>

namespace tandem::detail {

class task_core;
struct timer_record;

struct ready_item {
  task_core* task = nullptr;            // step this task, or else:
  std::shared_ptr<timer_record> timer;  // fire this timer, or else:
  std::function<void()> callback;       // run this
};

class ready_queue {
 public:
  bool empty() const noexcept { return size_ == 0; }
  std::size_t size() const noexcept { return size_; }

  // A task step touches only the pointer: slots keep their (empty)
  // callbacks, so the hot path moves no std::function.
  void push_task(task_core* t) { next_slot().task = t; }
  void push_callback(std::function<void()> cb) {
    ready_item& slot = next_slot();
    slot.task = nullptr;
    slot.callback = std::move(cb);
  }
  void push_timer(std::shared_ptr<timer_record> timer) {
    ready_item& slot = next_slot();
    slot.task = nullptr;
    slot.timer = std::move(timer);
  }
  // Takes the front entry: a task to step (returned), or else a timer or a
  // callback (moved out; the slot is left empty).
  task_core* pop(std::shared_ptr<timer_record>& timer, std::function<void()>& cb) {
    ready_item& slot = data_[head_];
    head_ = (head_ + 1) & mask_;
    --size_;
    if (slot.task != nullptr) return slot.task;
    if (slot.timer) {
      timer = std::move(slot.timer);
    } else {
      cb = std::move(slot.callback);
      slot.callback = nullptr;
    }
    return nullptr;
  }
  void clear() {
    std::shared_ptr<timer_record> timer;
    std::function<void()> callback;
    while (!empty()) pop(timer, callback);
  }

 private:
  ready_item& next_slot() {
    if (size_ == slots_.size()) grow();
    ready_item& slot = data_[(head_ + size_) & mask_];
    ++size_;
    return slot;
  }
  void grow() {
    std::vector<ready_item> bigger(slots_.empty() ? 64 : slots_.size() * 2);
    for (std::size_t i = 0; i < size_; ++i) bigger[i] = std::move(data_[(head_ + i) & mask_]);
    slots_ = std::move(bigger);
    data_ = slots_.data();
    mask_ = slots_.size() - 1;
    head_ = 0;
  }

  std::vector<ready_item> slots_;  // a power of two in size
  ready_item* data_ = nullptr;     // slots_.data(), and its index mask:
  std::size_t mask_ = 0;           // cached, as the hot path needs them
  std::size_t head_ = 0;
  std::size_t size_ = 0;
};

}  // namespace tandem::detail
