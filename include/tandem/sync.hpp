// tandem/sync.hpp: queues and events between the tasks of one loop
// (asyncio's queues.py and locks.py).
//
// Waiters are served first come, first served. Neither is movable, since
// waiting tasks refer to them; both belong to the loop's thread.
#pragma once

#include <cstddef>
#include <deque>
#include <functional>
#include <list>
#include <optional>
#include <utility>

#include "tandem/detail/suspension.hpp"

namespace tandem {

namespace detail {
class task_core;

// Tasks waiting in a queue or an event, first come first served.
class wait_list {
 public:
  wait_list() = default;
  wait_list(const wait_list&) = delete;
  wait_list& operator=(const wait_list&) = delete;
  // Destroyed while tasks wait on it (the object that owns it did not
  // outlive them): each waiter's node would be taken off freed memory when
  // the task is woken or unwound. Reports it and aborts instead.
  ~wait_list();

  // Suspends the current task until wake_one/wake_all reaches it. A waiter
  // woken and then cancelled (or unwound) before it ran has not used what
  // woke it: it calls `pass_on`, if set, before the exception propagates
  // (a queue's item or slot goes to the next waiter; a mutex's hand-over
  // too, or the mutex is unlocked). An event's set() has woken everyone:
  // nothing to pass on.
  void wait(callable_ref<void> pass_on = {});
  // Wakes the first waiter whose task has no cancellation pending: one
  // that has will throw it when it runs, and would pass the wake-up on
  // only then, an iteration late, while another task could take what it
  // was woken for (asyncio skips a cancelled waiter's future the same
  // way). False: no waiter was woken.
  bool wake_one();
  void wake_all();
  bool empty() const noexcept { return waiters_.empty(); }

 private:
  struct waiter {
    const task_core* task;
    std::function<void()> wake;
  };
  std::list<waiter> waiters_;
};

// Wakes the next waiter of a list: what a woken waiter passes on.
struct wake_next {
  wait_list* list;
  void operator()() const { (void)list->wake_one(); }
};
}  // namespace detail

// asyncio.Queue: put() waits while full (maxsize 0: never full), get()
// waits while empty; waiters are served in arrival order.
template <class T>
class queue {
 public:
  explicit queue(std::size_t maxsize = 0) : maxsize_(maxsize) {}
  queue(const queue&) = delete;
  queue& operator=(const queue&) = delete;

  void put(T value) {
    while (full()) putters_.wait(pass_slot_on_);
    items_.push_back(std::move(value));
    getters_.wake_one();
  }
  T get() {
    while (empty()) getters_.wait(pass_item_on_);
    T value = std::move(items_.front());
    items_.pop_front();
    putters_.wake_one();
    return value;
  }
  bool try_put(T value) {
    if (full()) return false;
    items_.push_back(std::move(value));
    getters_.wake_one();
    return true;
  }
  std::optional<T> try_get() {
    if (empty()) return std::nullopt;
    std::optional<T> value(std::move(items_.front()));
    items_.pop_front();
    putters_.wake_one();
    return value;
  }
  std::size_t size() const noexcept { return items_.size(); }
  bool empty() const noexcept { return items_.empty(); }
  bool full() const noexcept { return maxsize_ != 0 && items_.size() >= maxsize_; }
  std::size_t maxsize() const noexcept { return maxsize_; }

 private:
  std::size_t maxsize_;
  std::deque<T> items_;
  detail::wait_list getters_;
  detail::wait_list putters_;
  // A woken waiter that cannot take its item (or slot) wakes the next.
  // Only when there is something to take (asyncio: `if not self.empty()`).
  struct pass_item_on {
    queue* q;
    void operator()() const {
      if (!q->empty()) q->getters_.wake_one();
    }
  } pass_item_on_{this};
  struct pass_slot_on {
    queue* q;
    void operator()() const {
      if (!q->full()) q->putters_.wake_one();
    }
  } pass_slot_on_{this};
};

// asyncio.Event: wait() returns at once while set, else waits for set().
class event {
 public:
  event() = default;
  event(const event&) = delete;
  event& operator=(const event&) = delete;
  void set() {
    set_ = true;
    waiters_.wake_all();
  }
  void clear() noexcept { set_ = false; }
  bool is_set() const noexcept { return set_; }
  void wait() {
    if (!set_) waiters_.wait();
  }

 private:
  bool set_ = false;
  detail::wait_list waiters_;
};

}  // namespace tandem
