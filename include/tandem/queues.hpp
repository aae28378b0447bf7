// tandem/queues.hpp: queues between the tasks of one loop (asyncio's
// queues.py): queue (first in, first out), lifo_queue (last in, first
// out) and priority_queue (lowest first), each with asyncio's task_done()
// and join().
//
// put() waits while the queue is full (maxsize 0: never full), get() while
// it is empty; waiting tasks are served in arrival order. try_put() and
// try_get() never wait (asyncio's put_nowait and get_nowait, which raise
// QueueFull and QueueEmpty where these return false and nullopt). A queue
// is not movable, since waiting tasks refer to it, and belongs to the
// loop's thread.
#pragma once

#include <algorithm>
#include <concepts>
#include <cstddef>
#include <deque>
#include <functional>
#include <optional>
#include <stdexcept>
#include <type_traits>
#include <utility>
#include <vector>

#include "tandem/detail/wait_list.hpp"

namespace tandem {

namespace detail {

// The orders a queue hands its items out in: push() stores an item,
// take<Out>() moves the one next in order straight into the Out it returns
// (the T of get(), the optional of try_get()) and then removes it.

// Items in arrival order, taken from the front (first in, first out) or
// the back (last in, first out). Removed only once moved out: if that
// move throws, the item stays queued where it was.
enum class taken_from { front, back };
template <class T, taken_from End>
class arrival_order {
 public:
  void push(T&& value) { items_.push_back(std::move(value)); }
  template <class Out>
  Out take() {
    constexpr bool front = End == taken_from::front;
    Out value(std::move(front ? items_.front() : items_.back()));
    if constexpr (front) {
      items_.pop_front();
    } else {
      items_.pop_back();
    }
    return value;
  }
  std::size_t size() const noexcept { return items_.size(); }

 private:
  std::deque<T> items_;
};

// A binary heap with the lowest item by `less` on top (Python's heapq).
// A `less` that throws leaves the heap as it was (the strong guarantee):
// push() and take() make every comparison they need before they move an
// item, and then only move, which cannot throw (T's moves must not). The
// standard heap algorithms compare and move in turn, so a throw among them
// left an item moved out of its place (lost, its moved-from shell still
// counted) or the heap out of order.
template <class T, class Compare>
class lowest_first {
 public:
  explicit lowest_first(Compare less) : less_{std::move(less)} {}
  void push(T&& value) {
    // Where value belongs: up from the new last place, past every parent
    // that it comes before.
    std::size_t hole = items_.size();
    while (hole > 0 && before(value, items_[parent(hole)])) hole = parent(hole);
    items_.push_back(std::move(value));  // a std::bad_alloc changes nothing
    if (hole == items_.size() - 1) return;
    T moving(std::move(items_.back()));
    for (std::size_t i = items_.size() - 1; i != hole; i = parent(i))
      items_[i] = std::move(items_[parent(i)]);
    items_[hole] = std::move(moving);
  }
  template <class Out>
  Out take() {
    // Where the last item belongs once the top is gone: down from the top,
    // each step to the lower child, while that child comes before it.
    const std::size_t last = items_.size() - 1;
    std::size_t hole = 0;
    for (std::size_t child = 1; child < last; child = 2 * hole + 1) {
      if (child + 1 < last && before(items_[child + 1], items_[child])) ++child;
      if (!before(items_[child], items_[last])) break;
      hole = child;
    }
    Out value(std::move(items_.front()));
    if (hole != last) {
      // Each child on the path from the top to the hole moves up a level.
      // In 1-based numbering (k = index + 1) the ancestors of k are k >> j.
      int depth = 0;
      for (std::size_t k = hole + 1; k > 1; k >>= 1) ++depth;
      for (int j = depth - 1; j >= 0; --j) {
        const std::size_t child = ((hole + 1) >> j) - 1;
        items_[parent(child)] = std::move(items_[child]);
      }
      items_[hole] = std::move(items_[last]);
    }
    items_.pop_back();
    return value;
  }
  std::size_t size() const noexcept { return items_.size(); }

 private:
  static std::size_t parent(std::size_t i) noexcept { return (i - 1) / 2; }
  // `less` is called as a non-const lvalue, as priority_queue's constraint
  // asks and as std::priority_queue calls its comparison, on const items.
  bool before(const T& a, const T& b) { return less_(a, b); }

  Compare less_;
  std::vector<T> items_;
};

// What every queue does whatever its order: waiting, and asyncio's count
// of unfinished items for task_done() and join().
template <class T, class Order>
class basic_queue {
 public:
  basic_queue(const basic_queue&) = delete;
  basic_queue& operator=(const basic_queue&) = delete;

  // A waiter woken whose move into (or out of) the queue then throws has
  // not used its slot (or item): it passes it on, as a cancelled one does.
  void put(T value) {
    bool woken = false;
    for (; full(); woken = true) putters_.wait(pass_slot_on_);
    try {
      store(std::move(value));
    } catch (...) {
      if (woken) pass_slot_on_();
      throw;
    }
  }
  T get() {
    bool woken = false;
    for (; empty(); woken = true) getters_.wait(pass_item_on_);
    try {
      return take<T>();
    } catch (...) {
      if (woken) pass_item_on_();
      throw;
    }
  }
  bool try_put(T value) {
    if (full()) return false;
    store(std::move(value));
    return true;
  }
  std::optional<T> try_get() {
    if (empty()) return std::nullopt;
    return take<std::optional<T>>();
  }

  // asyncio's task_done(): a consumer has finished with an item it took.
  // Every put() or successful try_put() counts one unfinished item, and
  // each task_done() one less; called when none is unfinished:
  // std::logic_error (asyncio: ValueError).
  void task_done() {
    if (unfinished_ == 0)
      throw std::logic_error("tandem: queue task_done() called more times than items were put");
    if (--unfinished_ == 0) joiners_.wake_all();
  }
  // asyncio's join(): waits until every item put has been taken and
  // marked done with task_done(); returns at once if none is unfinished.
  // As asyncio's, a join() woken by the count reaching zero returns even
  // if another item was put before it ran.
  void join() {
    if (unfinished_ != 0) joiners_.wait();
  }

  std::size_t size() const noexcept { return items_.size(); }
  bool empty() const noexcept { return items_.size() == 0; }
  bool full() const noexcept { return maxsize_ != 0 && items_.size() >= maxsize_; }
  std::size_t maxsize() const noexcept { return maxsize_; }

 protected:
  basic_queue(std::size_t maxsize, Order order) : maxsize_(maxsize), items_(std::move(order)) {}
  ~basic_queue() = default;

 private:
  void store(T&& value) {
    items_.push(std::move(value));
    ++unfinished_;
    getters_.wake_one();
  }
  // Moves the next item straight into what get() or try_get() returns
  // (a second move, after the item left the queue, could throw and lose
  // it).
  template <class Out>
  Out take() {
    Out value = items_.template take<Out>();
    putters_.wake_one();
    return value;
  }

  std::size_t maxsize_;
  Order items_;
  std::size_t unfinished_ = 0;
  wait_list getters_;
  wait_list putters_;
  wait_list joiners_;
  // A woken waiter that cannot take its item (or slot) wakes the next.
  // Only when there is something to take (asyncio: `if not self.empty()`).
  struct pass_item_on {
    basic_queue* q;
    void operator()() const {
      if (!q->empty()) q->getters_.wake_one();
    }
  } pass_item_on_{this};
  struct pass_slot_on {
    basic_queue* q;
    void operator()() const {
      if (!q->full()) q->putters_.wake_one();
    }
  } pass_slot_on_{this};
};

}  // namespace detail

// asyncio.Queue: first in, first out. maxsize 0 is unbounded (asyncio:
// any maxsize <= 0).
template <class T>
class queue : public detail::basic_queue<T, detail::arrival_order<T, detail::taken_from::front>> {
 public:
  // Not refused as a negative semaphore count is: a negative maxsize
  // (queue(-1)) converts to SIZE_MAX, never reached, so the queue is
  // unbounded, as asyncio's is for any maxsize <= 0.
  explicit queue(std::size_t maxsize = 0)
      : detail::basic_queue<T, detail::arrival_order<T, detail::taken_from::front>>(maxsize, {}) {}
};

// asyncio.LifoQueue: last in, first out.
template <class T>
class lifo_queue
    : public detail::basic_queue<T, detail::arrival_order<T, detail::taken_from::back>> {
 public:
  explicit lifo_queue(std::size_t maxsize = 0)
      : detail::basic_queue<T, detail::arrival_order<T, detail::taken_from::back>>(maxsize, {}) {}
};

// asyncio.PriorityQueue: get() takes the lowest item by `Compare` (a
// min-heap, as Python's heapq; std::priority_queue hands out the greatest
// instead). Items that compare equivalent come out in no set order, as in
// asyncio: put (priority, sequence) pairs for first in, first out among
// equals. `Compare` must be a strict weak order, and T's moves must not
// throw (checked). A `Compare` that throws: the exception propagates from
// put(), try_put(), get() or try_get(), and the queue is left as it was
// (the strong guarantee): every item still queued once, in heap order, and
// the count of unfinished items (task_done(), join()) unchanged. The item
// that put() or try_put() was given is then dropped with the argument.
template <class T, class Compare = std::less<T>>
requires std::strict_weak_order<Compare&, const T&, const T&> &&
    std::is_nothrow_move_constructible_v<T> && std::is_nothrow_move_assignable_v<T>
class priority_queue : public detail::basic_queue<T, detail::lowest_first<T, Compare>> {
 public:
  explicit priority_queue(std::size_t maxsize = 0, Compare less = Compare())
      : detail::basic_queue<T, detail::lowest_first<T, Compare>>(
            maxsize, detail::lowest_first<T, Compare>(std::move(less))) {}
};

}  // namespace tandem
