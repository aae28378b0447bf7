// The loop's timers (call_at, call_later, sleep, wait_for's deadline):
// scheduling, cancelling, firing the due ones, sweeping out the cancelled.
// The ordering itself is timer_heap's.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "tandem/clock.hpp"
#include "tandem/detail/timer_record.hpp"
#include "timer_heap.hpp"

namespace tandem::detail {

class timer_queue {
 public:
  // What was due when an iteration began: the timers with deadlines up to
  // `by` that were scheduled before then (`scheduled_before`).
  struct due_timers {
    std::int64_t by = 0;
    std::uint64_t scheduled_before = 0;
    bool any = false;
  };

  timer_queue() = default;
  timer_queue(const timer_queue&) = delete;
  timer_queue& operator=(const timer_queue&) = delete;
  ~timer_queue() { drop_all(); }

  bool empty() const noexcept { return heap_.empty(); }
  std::size_t size() const noexcept { return heap_.size(); }
  // The earliest deadline; only when not empty.
  clock::time_point earliest() const noexcept {
    return clock::time_point(clock::duration(heap_.top().when));
  }

  // Takes a timer whose one reference is its handle's; the queue adds its own.
  timer_record* schedule(clock::time_point t, std::unique_ptr<timer_record> record);

  // Cancelled timers stay queued until their deadline, as in asyncio; when
  // they are half of the queue, one linear pass sweeps them out. Checked
  // every iteration, due timers or not, as asyncio does: a loop whose
  // timeouts are mostly cancelled early must not hoard them. (The checks
  // here are inline: run_once makes them once per iteration, which may
  // run a single task switch.)
  void sweep_cancelled() {
    if (cancelled_ > 64 && 2 * cancelled_ > heap_.size()) sweep();
  }

  // Notes which timers are due now (reads the clock only if any is queued).
  due_timers due_now() const {
    due_timers due;
    due.scheduled_before = next_seq_;
    if (!heap_.empty()) {
      due.by = clock::now().time_since_epoch().count();
      due.any = heap_.top().when <= due.by;
    }
    return due;
  }

  // Fires the timers that were due: in deadline order, then scheduling
  // order. Those scheduled since wait for the next iteration, as in asyncio
  // (only call_at with a past deadline can put one of them among the due).
  // A callback that throws leaves the rest scheduled, and the exception
  // propagates.
  void fire(const due_timers& due) {
    if (due.any) fire_due(due);
  }

  // Drops every timer (the loop closes): none will ever run.
  void drop_all() noexcept;

 private:
  void sweep();
  void fire_due(const due_timers& due);
  static void fire_one(timer_record* r);

  timer_heap heap_;
  std::uint64_t next_seq_ = 0;
  std::size_t cancelled_ = 0;  // cancelled, still queued
};

}  // namespace tandem::detail
