// tandem/wait.hpp: waiting inside a task (asyncio's sleep, gather, wait,
// as_completed, wait_for, timeout).
//
//     auto [a, b] = tandem::gather(t1, t2);   // both values, as a tuple
//     int v = tandem::wait_for(t3, 100ms);    // or timeout_error
//
// Rules (docs/rules.md, section 4):
//  - sleep_for(0s) lets every ready task run once (asyncio's sleep(0)).
//  - gather() rethrows the first exception (in order of completion) as soon
//    as it happens; the other tasks keep running. Cancelling a task suspended
//    in gather() (or one cancelled while it ran, when it reaches gather())
//    cancels the gathered tasks that are not done, as asyncio does, and the
//    gather then throws cancelled_error once they are all done, even if
//    every one of them caught its cancellation and returned.
//  - wait_for() cancels the task on timeout, waits for it to finish, and
//    throws timeout_error; if the task caught the cancellation and returned,
//    its value is returned. A zero or negative timeout times out a task that
//    is not already done (it is cancelled once, at once). Cancelling the
//    waiting task (or one cancelled while it ran, when it reaches
//    wait_for()) cancels the awaited one, and the wait then ends in
//    cancelled_error once it is done, however it ended (asyncio 3.11: even
//    if it caught the cancellation and returned), not timeout_error, should
//    the deadline pass meanwhile.
//  - A negative duration counts as zero, and a deadline too far for the
//    clock (now + duration::max()) saturates: it never comes.
// Each of them is a suspending call: outside a task, or inside a generator
// coroutine running in a task, std::logic_error.
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <tuple>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "tandem/clock.hpp"
#include "tandem/task.hpp"

namespace tandem {

void sleep_for(clock::duration d);  // sleep_for(0s) lets every ready task run once
void sleep_until(clock::time_point t);
// Any other integral unit: saturated to the clock's range, not wrapped
// (detail::to_clock_duration); so for every duration below.
template <class Rep, class Period>
requires std::is_integral_v<Rep>
void sleep_for(std::chrono::duration<Rep, Period> d) { sleep_for(detail::to_clock_duration(d)); }

namespace detail {
template <class T>
using gathered = std::conditional_t<std::is_void_v<T>, std::monostate, T>;

template <class T>
gathered<T> take_gathered(task<T>& t) {
  if constexpr (std::is_void_v<T>) {
    t.result();
    return {};
  } else {
    return task_access::take_value(t);
  }
}

// Waits until every core is done, or one of them failed or was cancelled;
// returns that one's index (completion order), or -1 when all succeeded.
int gather_wait(task_core* const* cores, std::size_t n);

// Waits for core with a deadline; true if the deadline passed first (the
// task was then cancelled and has finished). cancelled_error if the waiting
// task was cancelled meanwhile (passed on to core, which has finished).
bool wait_with_deadline(task_core& core, clock::duration timeout);
}  // namespace detail

// When wait() returns (asyncio.FIRST_COMPLETED, FIRST_EXCEPTION, ALL_COMPLETED).
enum class return_when { first_completed, first_exception, all_completed };

namespace detail {
// Suspends until `when` holds for the cores, or the timeout passes. Never
// cancels them.
void wait_until(task_core* const* cores, std::size_t n, return_when when,
                std::optional<clock::duration> timeout);
}  // namespace detail

// A timeout in progress (asyncio's Timeout, the object `async with
// asyncio.timeout(d) as cm` binds): a fn that takes a timeout_scope& gets
// it, to read or move its deadline. Not movable: it belongs to its timeout.
class timeout_scope {
 public:
  timeout_scope(const timeout_scope&) = delete;
  timeout_scope& operator=(const timeout_scope&) = delete;
  ~timeout_scope();

  clock::time_point when() const noexcept;  // time_point::max(): none
  // Moves the deadline (asyncio's reschedule); time_point::max() removes
  // it. Once it has expired: std::logic_error.
  void reschedule(clock::time_point deadline);
  bool expired() const noexcept;

 private:
  template <class F>
  friend auto timeout_at(clock::time_point deadline, F&& fn);
  explicit timeout_scope(clock::time_point deadline);
  // fn returned, or threw something other than cancelled_error: withdraws
  // this timeout's cancellation request, if it made one (asyncio's
  // Timeout.__aexit__ uncancels whatever fn raised).
  void returned() noexcept;
  // fn threw cancelled_error: withdraws this timeout's request, and throws
  // timeout_error when it was the one that cancelled (none from outside is
  // left); otherwise rethrows the cancellation.
  [[noreturn]] void cancelled();

  // The state lives in the scope itself, not on the heap (one allocation
  // less per timeout): wait.cpp constructs it here and checks that it fits.
  // The scope never moves, so the timer may refer to it.
  struct state;
  state& get() noexcept;
  const state& get() const noexcept;
  alignas(8) unsigned char storage_[64];
};

namespace detail {
// fn(timeout_scope&) if fn takes it, else fn().
template <class F>
decltype(auto) run_in_timeout(F& fn, timeout_scope& scope) {
  if constexpr (std::is_invocable_v<F&, timeout_scope&>) {
    return fn(scope);
  } else {
    return fn();
  }
}
}  // namespace detail

// The tasks' values as a tuple (void -> std::monostate); rethrows the first
// exception as soon as it happens. A task that lists itself would wait for
// its own end: std::logic_error, before anything is waited, as from
// await(self) (CPython 3.11's gather hangs there; tandem refuses, as its
// await does).
template <class... T>
auto gather(task<T>... ts) {
  std::array<detail::task_core*, sizeof...(T)> cores{&detail::task_access::core(ts)...};
  const int failed = detail::gather_wait(cores.data(), cores.size());
  if (failed >= 0) {
    std::size_t i = 0;
    // Rethrow through the failed task's own handle, so it counts as retrieved.
    ((i++ == static_cast<std::size_t>(failed) ? (void)ts.result() : (void)0), ...);
  }
  return std::tuple<detail::gathered<T>...>{detail::take_gathered(ts)...};
}

// gather over a list built at run time: the values in the list's order
// (moved out, so move-only T works); T = void: nothing. An empty list
// returns at once. Failures, cancellation and a task that lists itself
// (std::logic_error) as for the variadic gather.
template <class T>
auto gather(std::vector<task<T>> tasks) {
  std::vector<detail::task_core*> cores;
  cores.reserve(tasks.size());
  for (auto& t : tasks) cores.push_back(&detail::task_access::core(t));
  const int failed = detail::gather_wait(cores.data(), cores.size());
  if (failed >= 0) tasks[static_cast<std::size_t>(failed)].result();  // rethrows
  if constexpr (std::is_void_v<T>) {
    for (auto& t : tasks) t.result();
  } else {
    std::vector<T> values;
    values.reserve(tasks.size());
    for (auto& t : tasks) values.push_back(std::move(t.result()));
    return values;
  }
}

// asyncio.wait: suspends until `when` holds, or the timeout passes, and
// returns (done, pending), each in the input order; `done` holds every task
// finished at return, so first_completed may return several. Never cancels:
// on timeout, what is done so far. A cancelled task does not count as an
// exception for first_exception. An empty list: std::invalid_argument. A
// list that holds the waiting task: std::logic_error, before anything is
// waited, even where another task is done or a timeout would end the wait
// (CPython 3.11 hangs there without one; tandem refuses, as its await and
// wait_for do, with or without a timeout).
template <class T>
std::pair<std::vector<task<T>>, std::vector<task<T>>> wait(
    std::vector<task<T>> tasks, return_when when = return_when::all_completed,
    std::optional<clock::duration> timeout = std::nullopt) {
  if (tasks.empty()) throw std::invalid_argument("tandem::wait: the list of tasks is empty");
  std::vector<detail::task_core*> cores;
  cores.reserve(tasks.size());
  for (auto& t : tasks) cores.push_back(&detail::task_access::core(t));
  detail::wait_until(cores.data(), cores.size(), when, timeout);
  std::pair<std::vector<task<T>>, std::vector<task<T>>> result;
  for (auto& t : tasks) (t.done() ? result.first : result.second).push_back(std::move(t));
  return result;
}
template <class T, class Rep, class Period>
requires std::is_integral_v<Rep> std::pair<std::vector<task<T>>, std::vector<task<T>>> wait(
    std::vector<task<T>> tasks, return_when when, std::chrono::duration<Rep, Period> timeout) {
  return wait(std::move(tasks), when, std::optional(detail::to_clock_duration(timeout)));
}

namespace detail {
// The order in which listed tasks finish, for as_completed: a done-callback
// on each queues its index as it finishes (through call_soon, so tasks
// already done at the start come first, in list order).
class completion_order {
 public:
  completion_order(std::vector<std::shared_ptr<task_core>> cores,
                   std::optional<clock::duration> timeout);
  completion_order(completion_order&&) noexcept = default;
  completion_order& operator=(completion_order&&) noexcept = default;
  ~completion_order();  // takes back the callbacks of tasks still running
  // The index of the next task to finish; waits for it if none has (a
  // suspending call), until the deadline: timeout_error.
  std::size_t next();

 private:
  struct finished_list;  // what the callbacks reach, weakly: they may outlive this
  std::shared_ptr<finished_list> finished_;
  std::vector<std::pair<std::shared_ptr<task_core>, std::uint64_t>> callbacks_;
  clock::time_point deadline_;
  bool checked_for_itself_ = false;  // by the first next(): a listed task does not iterate
};
}  // namespace detail

// asyncio.as_completed: hands the tasks back in the order they finish,
// each once, waiting for the next as needed:
//
//     for (tandem::task<int>& t : tandem::as_completed(std::move(tasks)))
//       use(tandem::await(t));   // done: at once
//
// or `while (auto t = pending.next())`. Tasks already done come first, in
// list order. With a timeout (from the start, for the whole iteration, as
// asyncio's), waiting past it throws timeout_error; nothing is cancelled,
// and the tasks not handed back run on. Waiting for the next one is a
// suspending call; cancelling the waiting task cancels none of the tasks.
// A task listed twice comes back twice. A listed task that iterates would
// end waiting for itself: its first next(), and any that would wait,
// throw std::logic_error before any wait (CPython 3.11 hangs there, or
// times out; tandem refuses, as its await does).
template <class T>
class as_completed {
 public:
  explicit as_completed(std::vector<task<T>> tasks,
                        std::optional<clock::duration> timeout = std::nullopt)
      : tasks_(std::move(tasks)), order_(shared_cores(tasks_), timeout) {}
  // Any other integral unit: saturated to the clock's range (hours::max()
  // never comes), as for the other waiting calls.
  template <class Rep, class Period>
  requires std::is_integral_v<Rep> as_completed(std::vector<task<T>> tasks,
                                                std::chrono::duration<Rep, Period> timeout)
      : as_completed(std::move(tasks), std::optional(detail::to_clock_duration(timeout))) {}

  // The next task to finish, done; nullopt once every task has come back.
  std::optional<task<T>> next() {
    if (handed_back_ == tasks_.size()) return std::nullopt;
    const std::size_t i = order_.next();
    ++handed_back_;
    return std::move(tasks_[i]);
  }

  struct sentinel {};
  // An input iterator: incrementing it waits for the next task.
  class iterator {
   public:
    using value_type = task<T>;
    using difference_type = std::ptrdiff_t;
    task<T>& operator*() const { return *current_; }
    iterator& operator++() {
      current_ = owner_->next();
      return *this;
    }
    void operator++(int) { ++*this; }
    bool operator==(sentinel) const noexcept { return !current_.has_value(); }

   private:
    friend class as_completed;
    iterator(as_completed* owner, std::optional<task<T>> first)
        : owner_(owner), current_(std::move(first)) {}
    as_completed* owner_;
    mutable std::optional<task<T>> current_;
  };
  iterator begin() { return iterator(this, next()); }
  sentinel end() const noexcept { return {}; }

 private:
  static std::vector<std::shared_ptr<detail::task_core>> shared_cores(
      const std::vector<task<T>>& tasks) {
    std::vector<std::shared_ptr<detail::task_core>> cores;
    cores.reserve(tasks.size());
    for (const auto& t : tasks) cores.push_back(detail::task_access::share(t));
    return cores;
  }

  std::vector<task<T>> tasks_;
  detail::completion_order order_;
  std::size_t handed_back_ = 0;
};

// asyncio.timeout / timeout_at: runs fn() in the calling task and returns
// its value. When the deadline passes before fn returns, the task is
// cancelled at the first call that actually yields to the loop; if that
// cancelled_error escapes fn, timeout_error is thrown in its place, and if
// fn catches it and returns, its value is returned. A call that need not
// wait does not yield and so never times out, and a fn that never yields
// returns its value even past its deadline. Nested timeouts are
// independent, and a cancellation from outside stays a cancellation. A fn
// that takes a timeout_scope& is given the timeout, to move its deadline.
template <class F>
auto timeout_at(clock::time_point deadline, F&& fn) {
  timeout_scope scope(deadline);
  using R = decltype(detail::run_in_timeout(fn, scope));
  try {
    if constexpr (std::is_void_v<R>) {
      detail::run_in_timeout(fn, scope);
      scope.returned();
    } else {
      decltype(auto) value = detail::run_in_timeout(fn, scope);
      scope.returned();
      return value;
    }
  } catch (const cancelled_error&) {
    scope.cancelled();
  } catch (...) {
    scope.returned();
    throw;
  }
}

template <class Rep, class Period, class F>
requires std::is_integral_v<Rep>
auto timeout(std::chrono::duration<Rep, Period> d, F&& fn) {
  return timeout_at(detail::deadline_after(clock::now(), detail::to_clock_duration(d)),
                    std::forward<F>(fn));
}

template <class T, class Rep, class Period>
requires std::is_integral_v<Rep> T wait_for(task<T> t, std::chrono::duration<Rep, Period> timeout) {
  if (detail::wait_with_deadline(detail::task_access::core(t),
                                 detail::to_clock_duration(timeout)) &&
      t.cancelled())
    throw timeout_error();
  return detail::task_access::take_value(t);
}

}  // namespace tandem
