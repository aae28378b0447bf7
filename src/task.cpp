// Tasks (tandem/task.hpp): cancelling, waking, finishing, and what a loop
// that closes does to them. Their hot paths are in task_switch.hpp.
#include "tandem/task.hpp"

#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <utility>

#include "exception_text.hpp"
#include "loop_state.hpp"
#include "task_switch.hpp"

namespace tandem::detail {

constinit thread_local task_core* running_task __attribute__((tls_model("initial-exec"))) = nullptr;

void throw_outside_a_task() {
  throw std::logic_error("tandem: a suspending call was made outside a task");
}

void throw_inside_a_generator() {
  throw std::logic_error(
      "tandem: a suspending call was made inside a generator coroutine, not directly in a task");
}

task_core& current_task() { return running(); }
task_core* running_task_or_null() noexcept { return running_task; }

void suspend(suspension& s) { task_core::suspend_running(s); }

void throw_task_of_another_loop(const char* operation) {
  throw std::logic_error(std::string(operation) + ": the task belongs to another event loop");
}

std::function<void()> task_core::waker(const suspension& s) {
  // The suspension's id: a waker from an earlier wait cannot resume a later one.
  auto& mutable_s = const_cast<suspension&>(s);
  if (mutable_s.id == 0) mutable_s.id = ++next_suspension_id_;
  return [weak = weak_from_this(), id = mutable_s.id] {
    auto t = weak.lock();
    if (t && t->waiting_ != nullptr && t->waiting_->id == id) t->schedule_step();
  };
}

std::function<void()> task_core::local_waker(const suspension& s) {
  auto& mutable_s = const_cast<suspension&>(s);
  if (mutable_s.id == 0) mutable_s.id = ++next_suspension_id_;
  // Two words, trivially copyable: std::function keeps it without
  // allocating. Safe only where s.undo unregisters it before the wait ends.
  return [t = this, id = mutable_s.id] {
    if (t->waiting_ != nullptr && t->waiting_->id == id) t->schedule_step();
  };
}

// The stack is made only now; its size was checked by create_task, but
// the address space may be spent, and listing the frame among the live
// ones may fail to allocate. The task then fails with that
// stack_alloc_error or bad_alloc, which its awaiter gets: thrown out of the
// loop, it would end whichever run of the loop was going on, and leave the
// task pending for good (an awaiter of it waiting forever). frame_ is set
// only once the frame is whole: prepare() gives a frame it could not list
// back with its stack, and one left in frame_ would be unlisted again.
bool task_core::start() {
  status_ = status::started;
  stack_options options = stack_;
  options.name = name_.c_str();
  frame_base* f = nullptr;
  try {
    f = make_frame<task_frame>(options, this);
    f->kind = co_kind::task;
    prepare(f, options);
  } catch (...) {  // stack_alloc_error, bad_alloc; whatever else fails the task the same way
    finish(status::failed, std::current_exception());  // may destroy this task: return at once
    return false;
  }
  frame_ = f;
  return true;
}

void task_core::end_of_function() {
  auto* f = static_cast<task_frame*>(frame_);
  frame_ = nullptr;
  status outcome = status::failed;
  std::exception_ptr failure;
  if (f->end == co_end::returned) {
    // asyncio: a task that cancelled itself and returned before it next
    // suspended is cancelled, not successful (a cancellation it caught at a
    // suspension was taken off, and then it returns successfully).
    outcome = cancel_pending_ ? status::cancelled : status::succeeded;
  } else if (f->cancelled) {
    outcome = status::cancelled;
  } else {
    failure = std::move(f->failure);
  }
  release(f);  // the stack goes back to the pool
  finish(outcome, std::move(failure));
}

task_core::~task_core() {
  if (frame_ != nullptr) {  // never finished (its loop is gone): unwind it
    frame_head* h = std::exchange(frame_, nullptr);
    close_for_destruction(h);
  }
  if (status_ == status::failed && !retrieved_)
    std::fprintf(stderr, "tandem: task exception was never retrieved: %s\n",
                 exception_text(failure_).c_str());
}

bool task_core::cancel() {
  if (done()) return false;
  ++cancel_requests_;
  if (status_ == status::pending) {
    cancel_pending_ = true;  // its first step finishes it as cancelled
    return true;
  }
  if (waiting_ == nullptr) {  // running: its next suspension takes it
    cancel_pending_ = true;
    return true;
  }
  // await, gather and wait_for pass the cancellation on and keep waiting;
  // if there is nothing left to cancel (what they wait for just finished),
  // the cancellation is this task's own.
  if (forward_cancel(*waiting_)) return true;
  cancel_pending_ = true;
  schedule_step();
  return true;
}

bool task_core::forward_cancel(suspension& s) {
  // A cancellation that comes back around while being forwarded (tasks
  // awaiting each other in a cycle) stops here, as this task's own.
  if (!s.forward || forwarding_cancel_) return false;
  forwarding_cancel_ = true;
  struct reset {
    bool& flag;
    ~reset() { flag = false; }
  } guard{forwarding_cancel_};
  return s.forward();
}

bool task_core::pass_on_pending_cancel(suspension& s) {
  const bool passed_on = forward_cancel(s);
  if (cancel_pending_) {  // it came back around: this task's own
    cancel_pending_ = false;
    return false;
  }
  return passed_on;
}

std::uint32_t task_core::uncancel() noexcept {
  if (cancel_requests_ > 0 && --cancel_requests_ == 0)
    cancel_pending_ = false;  // none left: one not yet delivered goes too (asyncio 3.13)
  return cancel_requests_;
}

void task_core::check_result() {
  if (!done()) throw invalid_state_error("tandem::task: result() of a task that is not done");
  retrieved_ = true;
  if (status_ == status::cancelled) throw cancelled_error{};
  if (failure_) std::rethrow_exception(failure_);
}

std::exception_ptr task_core::exception() {
  if (!done()) throw invalid_state_error("tandem::task: exception() of a task that is not done");
  retrieved_ = true;
  if (status_ == status::cancelled) throw cancelled_error{};
  return failure_;
}

// The callback's room in the ready queue is reserved now, where a
// bad_alloc is the caller's (nothing is registered): finish() queues it
// with the task's status set already, where a failure would leave the
// task's other callbacks uncalled and the task listed as unfinished.
std::uint64_t task_core::when_done(std::function<void()> cb) {
  if (done()) {
    loop_->call_soon(std::move(cb));
    return 0;
  }
  ready_queue& ready = loop_access::of(*loop_).ready;
  ready.reserve_callback();
  try {
    done_callbacks_.push_back({++next_callback_key_, std::move(cb), false});
  } catch (...) {
    ready.release_callback();
    throw;
  }
  return next_callback_key_;
}

std::uint64_t task_core::wake_when_done(std::function<void()> waker) {
  if (done()) return when_done(std::move(waker));  // the waiter is not waiting yet
  done_callbacks_.push_back({++next_callback_key_, std::move(waker), true});
  return next_callback_key_;
}

void task_core::forget_done_callback(std::uint64_t key) noexcept {
  for (auto it = done_callbacks_.begin(); it != done_callbacks_.end(); ++it) {
    if (it->key == key) {
      if (!it->waker) loop_access::of(*loop_).ready.release_callback();
      done_callbacks_.erase(it);
      return;
    }
  }
}

void task_core::finish(status s, std::exception_ptr e) {
  if (step_scheduled_) {  // the invariant schedule_step's raw pointer rests on
    std::fputs("tandem: internal error: a task finished with a step still queued\n", stderr);
    std::abort();
  }
  status_ = s;
  failure_ = std::move(e);
  // Nothing from here on allocates: each callback goes into room reserved
  // for it (a waker's step into its task's, the others' into the room
  // when_done reserved), so that every waiter is woken and the task leaves
  // the unfinished.
  auto& loop = loop_access::of(*loop_);
  auto callbacks = std::move(done_callbacks_);
  done_callbacks_.clear();
  for (auto& done : callbacks) {
    if (done.waker) {
      done.callback();  // queues the waiting task's step
    } else {
      loop.ready.push_reserved_callback(std::move(done.callback));
    }
  }
  // May drop the loop's reference, and with it this task: nothing of it is
  // used after.
  if (loop.unfinished.erase(this) != 0) loop.ready.release_task();
}

void task_core::leave_wait() noexcept {
  if (waiting_ == nullptr || !waiting_->undo) return;
  const auto undo = std::exchange(waiting_->undo, {});  // the unwinding's end of the wait skips it
  undo();
}

void task_core::abandon() noexcept {
  status_ = status::cancelled;
  for (const auto& done : done_callbacks_)
    if (!done.waker) loop_access::of(*loop_).ready.release_callback();
  done_callbacks_.clear();
  if (frame_ != nullptr) {  // a suspended body unwinds: coroutine_exit at its suspension
    frame_head* h = std::exchange(frame_, nullptr);
    close_for_destruction(h);
  }
}

}  // namespace tandem::detail
