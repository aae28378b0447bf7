// A task's hot paths: a step (the loop switches into the task) and a
// suspension (the task switches back). Defined here, inline, so that the
// loop's run_once and the suspending calls compile them in place: every
// function whose frame is live across a stack switch costs a mispredicted
// return when it resumes, since the return predictor was filled by the
// code that ran on the other stack.
#pragma once

#include <cxxabi.h>

#include <cstdint>
#include <exception>
#include <utility>

#include "loop_state.hpp"
#include "tandem/task.hpp"

namespace tandem::detail {

// A task's frame: runs the task's function, and tells how it ended without
// a throw reaching the loop (a cancellation apart from other failures).
struct task_frame final : frame_base {
  task_frame(tandem::stack&& memory, task_core* t) noexcept
      : frame_base(std::move(memory)), task(t) {}
  task_core* task;
  bool cancelled = false;  // cancelled_error escaped the function

  static void run(frame_base* base) {
    auto* self = static_cast<task_frame*>(base);
    try {
      self->task->run();
      base->end = co_end::returned;
    } catch (abi::__forced_unwind&) {
      throw;  // thread cancellation cannot cross into the loop: terminate
    } catch (const cancelled_error&) {
      self->cancelled = true;
      base->end = co_end::failed;
    } catch (const coroutine_exit&) {
      record_exit(base);
    } catch (const stop_iteration&) {
      record_stop_iteration(base);  // PEP 479, as in a generator
    } catch (...) {
      record_failure(base);
    }
  }
};

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
  suspend_running(running(), s);
}

[[gnu::always_inline]] inline void task_core::suspend_running(task_core& t, suspension& s) {
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
    if (!t.pass_on_pending_cancel(s)) throw cancelled_error{};
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
// switch back from the task. The task's end is read from its frame: no
// exception crosses into the loop when a task finishes.
[[gnu::always_inline]] inline void task_core::step() {
  step_scheduled_ = false;
  if (status_ != status::started) [[unlikely]] {  // one compare for the common case
    if (done()) return;
    // Pending: its first step.
    if (cancel_pending_) {  // cancelled before it started: it never runs
      finish(status::cancelled, nullptr);
      return;
    }
    if (!start()) return;  // no stack: the task failed (and may be gone)
  }
  task_core* const outer = running_task;
  running_task = this;
  std::uintptr_t nothing = 0;
  const resumed r = detail::resume<resume_kind::next>(frame_, nothing);
  running_task = outer;
  if (r.status != status_word(co_state::suspended) && r.frame->state == co_state::done) [[unlikely]]
    end_of_function();
}

}  // namespace tandem::detail
