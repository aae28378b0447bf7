// tandem/wait.hpp: waiting inside a task (asyncio's sleep, gather, wait_for).
//
//     auto [a, b] = tandem::gather(t1, t2);   // both values, as a tuple
//     int v = tandem::wait_for(t3, 100ms);    // or timeout_error
//
// Rules (docs/rules.md, section 4):
//  - sleep_for(0s) lets every ready task run once (asyncio's sleep(0)).
//  - gather() rethrows the first exception (in order of completion) as soon
//    as it happens; the other tasks keep running. Cancelling a task suspended
//    in gather() cancels the gathered tasks that are not done, as asyncio
//    does, and the gather then throws cancelled_error once they are all
//    done, even if every one of them caught its cancellation and returned.
//  - wait_for() cancels the task on timeout, waits for it to finish, and
//    throws timeout_error; if the task caught the cancellation and returned,
//    its value is returned. A zero or negative timeout times out a task that
//    is not already done. Cancelling the waiting task cancels the awaited one.
//  - A negative duration counts as zero, and a deadline too far for the
//    clock (now + duration::max()) saturates: it never comes.
// Each of them is a suspending call: outside a task, or inside a generator
// coroutine running in a task, std::logic_error.
#pragma once

#include <array>
#include <cstddef>
#include <tuple>
#include <type_traits>
#include <variant>

#include "tandem/clock.hpp"
#include "tandem/task.hpp"

namespace tandem {

void sleep_for(clock::duration d);  // sleep_for(0s) lets every ready task run once
void sleep_until(clock::time_point t);

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
// task was then cancelled and has finished).
bool wait_with_deadline(task_core& core, clock::duration timeout);
}  // namespace detail

// The tasks' values as a tuple (void -> std::monostate); rethrows the first
// exception as soon as it happens.
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

template <class T>
T wait_for(task<T> t, clock::duration timeout) {
  if (detail::wait_with_deadline(detail::task_access::core(t), timeout) && t.cancelled())
    throw timeout_error();
  return detail::task_access::take_value(t);
}

}  // namespace tandem
