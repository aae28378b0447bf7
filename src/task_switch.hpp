// A task's hot paths: a step (the loop switches into the task) and a
// suspension (the task switches back). Defined here, inline, so that the
// loop's run_once and the suspending calls compile them in place: every
// function whose frame is live across a stack switch costs a mispredicted
// return when it resumes, since the return predictor was filled by the
// code that ran on the other stack.
#pragma once

#include <cstdint>
#include <exception>
#include <utility>

#include "loop_state.hpp"
#include "tandem/task.hpp"

namespace tandem::detail {

[[noreturn]] void throw_outside_a_task();
[[noreturn]] void throw_inside_a_generator();

// current_task(), inlined.
inline task_core& running() {
  if (running_task == nullptr) [[unlikely]]
    throw_outside_a_task();
  return *running_task;
}

// A generator coroutine running inside the task is on another stack and
// cannot suspend the task.
inline void refuse_inside_generator(const task_core& t) {
  if (!t.can_suspend_here()) [[unlikely]]
    throw_inside_a_generator();
}

inline void task_core::schedule_step() {
  if (step_scheduled_) return;
  step_scheduled_ = true;
  // A raw pointer: the loop holds every unfinished task, and a task only
  // finishes inside its own step, with no other step queued (see finish).
  loop_access::of(*loop_).ready.push_task(this);
}

[[gnu::always_inline]] inline void task_core::suspend_running(suspension& s) {
  task_core& t = running();
  struct end_of_wait {  // however the wait ends (or is refused), unregister
    task_core& t;
    suspension& s;
    ~end_of_wait() {
      t.waiting_ = nullptr;
      if (s.undo) s.undo();
    }
  } guard{t, s};
  refuse_inside_generator(t);  // before anything is queued
  if (t.cancel_pending_) {     // cancelled while it ran
    t.cancel_pending_ = false;
    throw cancelled_error{};
  }
  t.waiting_ = &s;
  if (s.requeue) t.schedule_step();  // only now: a cancelled task throws above
  std::uintptr_t nothing = 0;
  detail::suspend(t.frame_, nothing, /*stack_checked=*/true);  // refuse_inside_generator did
  if (t.cancel_pending_) {
    t.cancel_pending_ = false;
    throw cancelled_error{};
  }
}

// Inlined into run_once, so that no return into the loop's code follows the
// switch back from the task.
[[gnu::always_inline]] inline void task_core::step() {
  step_scheduled_ = false;
  if (done()) return;
  if (status_ == status::pending) {
    if (cancel_pending_) {  // cancelled before it started: it never runs
      finish(status::cancelled, nullptr);
      return;
    }
    status_ = status::started;
    stack_options options = stack_;
    options.name = name_.c_str();
    body_.emplace([this](yielder<void, void>&) { run(); }, options);
    frame_ = detail::frame_access::of(*body_);
    frame_->kind = detail::co_kind::task;
  }
  task_core* const outer = running_task;
  running_task = this;
  status outcome = status::started;
  std::exception_ptr failure;
  try {
    body_->next();
  } catch (const stop_iteration&) {
    // asyncio: a task that cancelled itself and returned before it next
    // suspended is cancelled, not successful (a cancellation it caught at a
    // suspension was taken off, and then it returns successfully).
    outcome = cancel_pending_ ? status::cancelled : status::succeeded;
  } catch (const cancelled_error&) {
    outcome = status::cancelled;
  } catch (...) {
    outcome = status::failed;
    failure = std::current_exception();
  }
  running_task = outer;
  if (outcome != status::started) finish(outcome, std::move(failure));
}

}  // namespace tandem::detail
