// tandem/task_group.hpp: structured concurrency (asyncio's TaskGroup).
//
//     tandem::with_task_group([](tandem::task_group& g) {
//       auto a = g.create_task([] { return fetch("a"); });
//       auto b = g.create_task([] { return fetch("b"); });
//     });  // returns once both are done; a failure cancels the rest
//
// Rules (docs/rules.md, section 8):
//  - Tasks created through the group start like event_loop::create_task.
//    with_task_group returns once body has returned and every task of the
//    group is done.
//  - When a task of the group fails (any exception but cancelled_error), or
//    body throws, every other task of the group is cancelled, and so is
//    body where it is suspended. Once all are done, exception_group is
//    thrown: the tasks' failures in the order they failed, then body's
//    exception, as asyncio orders them. Exceptions collected this way count
//    as retrieved.
//  - Cancelled from outside: the group's tasks are cancelled and awaited,
//    then cancelled_error propagates. When there are failures too,
//    exception_group wins, and the outside cancellation stays pending: the
//    task's next suspension throws it.
//  - create_task on a group that is shutting down (after a failure) or
//    finished: std::logic_error.
// body runs in the calling task; with_task_group is a suspending call
// (outside a task, or inside a generator coroutine: std::logic_error).
#pragma once

#include <exception>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "tandem/loop.hpp"
#include "tandem/task.hpp"

namespace tandem {

// asyncio's (Base)ExceptionGroup: what a task group's tasks and body threw.
class exception_group : public std::exception {
 public:
  explicit exception_group(std::vector<std::exception_ptr> exceptions);
  const std::vector<std::exception_ptr>& exceptions() const noexcept { return exceptions_; }
  const char* what() const noexcept override { return what_.c_str(); }

 private:
  std::vector<std::exception_ptr> exceptions_;
  std::string what_;
};

namespace detail {
class task_group_state;
}

// A copyable handle to a running group, handed to with_task_group's body.
class task_group {
 public:
  template <class F>
  auto create_task(F&& fn, stack_options stack = {})
      -> task<std::invoke_result_t<std::decay_t<F>&>> {
    check_can_create();
    auto t = loop().create_task(std::forward<F>(fn), stack);
    adopt(detail::task_access::share(t));
    return t;
  }

 private:
  template <class F>
  friend void with_task_group(F&& body);
  explicit task_group(std::shared_ptr<detail::task_group_state> s) : state_(std::move(s)) {}
  void check_can_create() const;
  event_loop& loop() const;
  void adopt(const std::shared_ptr<detail::task_core>& t);

  std::shared_ptr<detail::task_group_state> state_;
};

namespace detail {
std::shared_ptr<task_group_state> open_task_group();
// Waits for the group's tasks once body has ended (body_failure: what it
// threw, cancelled_error aside) and throws as the rules say.
void close_task_group(task_group_state& s, std::exception_ptr body_failure, bool body_cancelled);
}  // namespace detail

template <class F>
void with_task_group(F&& body) {
  auto state = detail::open_task_group();
  task_group group(state);
  std::exception_ptr failure;
  bool cancelled = false;
  try {
    body(group);
  } catch (const cancelled_error&) {
    cancelled = true;
  } catch (const coroutine_exit&) {
    // The loop closes and unwinds this task by force (it unwinds the
    // group's tasks too): nothing to wait for, nothing to collect.
    throw;
  } catch (...) {
    failure = std::current_exception();
  }
  detail::close_task_group(*state, std::move(failure), cancelled);
}

}  // namespace tandem
