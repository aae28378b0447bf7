// The event loop's timers, earliest deadline first, equal deadlines in the
// order they were scheduled.
//
// A 4-ary min-heap of 16-byte entries. With a million timers the heap is far
// larger than the caches and each level of a pop costs a cache miss: four
// children to a level halves the levels of a binary heap, and the entries
// are laid out so that the four children of a node share one 64-byte line.
// Pops move the hole down to a leaf and sift the last entry up from there
// (the last entry nearly always belongs near the bottom).
#pragma once

#include <cstddef>
#include <cstdint>
#include <new>
#include <utility>

#include "tandem/detail/timer_record.hpp"

namespace tandem::detail {

class timer_heap {
 public:
  struct entry {
    std::int64_t when;  // the deadline, in clock ticks
    timer_record* record;
  };

  timer_heap() = default;
  timer_heap(const timer_heap&) = delete;
  timer_heap& operator=(const timer_heap&) = delete;
  ~timer_heap() { ::operator delete (raw_, std::align_val_t{line}); }

  bool empty() const noexcept { return size_ == 0; }
  std::size_t size() const noexcept { return size_; }
  const entry& top() const noexcept { return at(0); }

  void push(entry e) {
    if (size_ == capacity_) grow();
    sift_up(size_++, e);
  }

  entry pop() noexcept {
    const entry first = at(0);
    const entry last = at(--size_);
    if (size_ > 0) {
      // Move the hole at the root down to a leaf along the earliest child...
      std::size_t hole = 0;
      for (std::size_t child = 1; child < size_; child = 4 * hole + 1) {
        const std::size_t best = earliest_of_children(child);
        at(hole) = at(best);
        hole = best;
      }
      // ...and put the last entry there, sifting it up as far as it goes.
      sift_up(hole, last);
    }
    return first;
  }

  // Removes every entry for which drop(record) is true, then restores the
  // heap order in linear time.
  template <class Drop>
  void remove_if(Drop drop) {
    std::size_t kept = 0;
    for (std::size_t i = 0; i < size_; ++i)
      if (!drop(at(i).record)) at(kept++) = at(i);
    size_ = kept;
    for (std::size_t i = size_ > 1 ? (size_ - 2) / 4 + 1 : 0; i-- > 0;) sift_down(i);
  }

 private:
  static constexpr std::size_t line = 64;
  // Node i lives at raw_[i + 3]: the children of node i, 4i+1 .. 4i+4, then
  // sit at raw_[4i+4 .. 4i+7], one aligned line.
  static constexpr std::size_t offset = 3;

  entry& at(std::size_t i) noexcept { return raw_[i + offset]; }
  const entry& at(std::size_t i) const noexcept { return raw_[i + offset]; }

  static bool before(const entry& a, const entry& b) noexcept {
    return a.when != b.when ? a.when < b.when : a.record->seq < b.record->seq;
  }

  // The earliest of the (up to four) siblings starting at `first`.
  std::size_t earliest_of_children(std::size_t first) const noexcept {
    std::size_t best = first;
    const std::size_t end = first + 4 < size_ ? first + 4 : size_;
    for (std::size_t c = first + 1; c < end; ++c)
      if (before(at(c), at(best))) best = c;
    return best;
  }

  void sift_up(std::size_t hole, entry e) noexcept {
    while (hole > 0) {
      const std::size_t parent = (hole - 1) / 4;
      if (!before(e, at(parent))) break;
      at(hole) = at(parent);
      hole = parent;
    }
    at(hole) = e;
  }

  void sift_down(std::size_t hole) noexcept {
    const entry e = at(hole);
    for (std::size_t child = 4 * hole + 1; child < size_; child = 4 * hole + 1) {
      const std::size_t best = earliest_of_children(child);
      if (!before(at(best), e)) break;
      at(hole) = at(best);
      hole = best;
    }
    at(hole) = e;
  }

  void grow() {
    const std::size_t capacity = capacity_ == 0 ? 61 : 2 * capacity_ + offset;
    auto* bigger = static_cast<entry*>(
        ::operator new ((capacity + offset) * sizeof(entry), std::align_val_t{line}));
    for (std::size_t i = 0; i < size_; ++i) bigger[i + offset] = at(i);
    ::operator delete (raw_, std::align_val_t{line});
    raw_ = bigger;
    capacity_ = capacity;
  }

  entry* raw_ = nullptr;
  std::size_t size_ = 0;
  std::size_t capacity_ = 0;
};

}  // namespace tandem::detail
