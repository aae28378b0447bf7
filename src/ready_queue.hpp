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

  // Room for a task's steps, reserved as the task is made (std::bad_alloc
  // then: create_task throws, and nothing was made) and given back as it
  // finishes. A task is queued at most once at a time (step_scheduled_),
  // and the ring always has a slot for every reserved task besides the
  // callbacks queued or reserved, so that push_task never grows it: a
  // wake-up that failed to allocate there would leave the task marked as
  // queued but in no queue, never to run again, its awaiter waiting for
  // good. Not on the hot path: the step's push and pop touch none of
  // these counts.
  void reserve_task() {
    if (taken() >= capacity_) grow();
    ++tasks_;
  }
  void release_task() noexcept { --tasks_; }

  // Room for a callback that is queued where a failure could not be
  // answered: a task's done-callback, queued as the task finishes
  // (task_core::finish), after its status is set. Reserved as the callback
  // is registered (std::bad_alloc then: the registration throws, nothing
  // was registered); used by push_reserved_callback, or given back by
  // release_callback if the callback is taken back unqueued.
  void reserve_callback() {
    if (taken() >= capacity_) grow();
    ++reserved_callbacks_;
  }
  void release_callback() noexcept {
    if (!cleared_) --reserved_callbacks_;
  }
  void push_reserved_callback(std::function<void()> cb) noexcept {
    --reserved_callbacks_;
    place_callback(std::move(cb));
  }
  // A callback queued in reserved room that has just been popped, and
  // runs, takes that room back for whoever reserved it (a signal handler's
  // call, which keeps its room from one arrival to the next). The pop
  // freed a slot, so this cannot grow the ring.
  void reserve_popped_callback() noexcept { ++reserved_callbacks_; }

  // A task step touches only the pointer: slots keep their (empty)
  // callbacks, so the hot path moves no std::function. The ring has room
  // (see reserve_task); growing is there only in case, and is the tail
  // of its own path, so that a caller whose last act this is (an event's
  // wake-up) needs no frame for it.
  void push_task(task_core* t) {
    if (size_ == capacity_) [[unlikely]]
      return grow_and_push_task(t);
    data_[(head_ + size_) & mask_].task = t;
    ++size_;
  }
  // Room for `count` more callbacks, made all at once (std::bad_alloc:
  // none), so that as many push_callback calls then cannot fail.
  void make_room_for_callbacks(std::size_t count) {
    if (taken() + count > capacity_) grow(taken() + count);
  }
  // Grows the ring before the reserved slots would be taken.
  void push_callback(std::function<void()> cb) {
    if (taken() >= capacity_) grow();
    place_callback(std::move(cb));
  }
  // Takes the front entry: a task to step (returned), or else a callback
  // (moved out; the slot is left empty).
  task_core* pop(std::function<void()>& cb) {
    ready_item& slot = data_[head_];
    head_ = (head_ + 1) & mask_;
    --size_;
    if (slot.task != nullptr) return slot.task;
    --callbacks_;
    cb = std::move(slot.callback);
    slot.callback = nullptr;
    return nullptr;
  }
  // The loop closes: what is queued goes, and so do the reservations of
  // the tasks it unwinds (none of them runs again) and of the signal
  // handlers. A handler removed after this (by a destructor that closing
  // runs) has no room left to give back: its release is ignored, where
  // it would take the count below zero.
  void clear() {
    std::function<void()> callback;
    while (!empty()) pop(callback);
    tasks_ = 0;
    reserved_callbacks_ = 0;
    cleared_ = true;
  }
  std::size_t reserved_callbacks() const noexcept { return reserved_callbacks_; }

 private:
  std::size_t taken() const noexcept { return tasks_ + callbacks_ + reserved_callbacks_; }
  // Into a slot that is there (std::function's move does not allocate).
  void place_callback(std::function<void()>&& cb) noexcept {
    ready_item& slot = data_[(head_ + size_) & mask_];
    ++size_;
    ++callbacks_;
    slot.task = nullptr;
    slot.callback = std::move(cb);
  }
  [[gnu::noinline, gnu::cold]] void grow_and_push_task(task_core* t) {
    grow();
    push_task(t);
  }
  // To twice the size, or more where `at_least` slots are wanted.
  [[gnu::noinline, gnu::cold]] void grow(std::size_t at_least = 0) {
    std::size_t size = slots_.empty() ? 64 : slots_.size() * 2;
    while (size < at_least) size *= 2;
    std::vector<ready_item> bigger(size);
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
  std::size_t tasks_ = 0;               // tasks with room reserved
  std::size_t callbacks_ = 0;           // callbacks queued
  std::size_t reserved_callbacks_ = 0;  // callbacks with room reserved; taken() <= capacity_
  bool cleared_ = false;                // clear() ran: the loop is closing
};

}  // namespace tandem::detail
