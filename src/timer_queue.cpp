// The loop's timers: see timer_queue.hpp.
#include "timer_queue.hpp"

#include <utility>
#include <vector>

namespace tandem::detail {

void delete_timer(timer_record* r) noexcept { delete r; }

void cancel_timer(timer_record& r) noexcept {
  if (r.cancelled) return;
  r.cancelled = true;
  if (!r.firing) r.drop_callback();  // what it holds is let go now, as asyncio does
  if (r.cancelled_in_heap != nullptr) ++*r.cancelled_in_heap;
}

timer_record* timer_queue::schedule(clock::time_point t, std::unique_ptr<timer_record> record) {
  record->seq = next_seq_++;
  record->cancelled_in_heap = &cancelled_;
  heap_.push({t.time_since_epoch().count(), record.get()});
  ++record->refs;  // the queue's, and the handle's
  return record.release();
}

void timer_queue::sweep() {
  heap_.remove_if([](timer_record* r) {
    if (!r->cancelled) return false;
    r->cancelled_in_heap = nullptr;
    release_timer(r);
    return true;
  });
  cancelled_ = 0;
}

void timer_queue::fire_due(const due_timers& due) {
  std::vector<timer_heap::entry> held_over;
  try {
    while (!heap_.empty() && heap_.top().when <= due.by) {
      const timer_heap::entry e = heap_.pop();
      // The next one's record is most likely a cache miss: start it now.
      if (!heap_.empty()) __builtin_prefetch(heap_.top().record);
      if (e.record->seq >= due.scheduled_before) {
        held_over.push_back(e);
        continue;
      }
      e.record->cancelled_in_heap = nullptr;
      if (e.record->cancelled) --cancelled_;
      fire_one(e.record);
    }
  } catch (...) {  // a callback threw: the rest stay scheduled
    for (const auto& e : held_over) heap_.push(e);
    throw;
  }
  for (const auto& e : held_over) heap_.push(e);
}

// Runs a timer's callback, unless it was cancelled, and drops the queue's
// reference, even if the callback throws.
void timer_queue::fire_one(timer_record* r) {
  struct finish {  // however the callback ends: drop it, then the reference
    timer_record* r;
    ~finish() {
      r->firing = false;
      r->drop_callback();
      release_timer(r);
    }
  } guard{r};
  if (r->cancelled) return;  // its callback is gone already
  r->firing = true;          // a cancel() from inside it must not destroy it
  r->invoke(*r);
}

void timer_queue::drop_all() noexcept {
  heap_.remove_if([](timer_record* r) {
    r->cancelled_in_heap = nullptr;
    r->drop_callback();  // a handle may keep the record: not its captures
    release_timer(r);
    return true;
  });
  cancelled_ = 0;
}

}  // namespace tandem::detail
