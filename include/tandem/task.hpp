// tandem/task.hpp: tasks (asyncio's Task), await, shield, and the loop's errors.
//
//     auto t = tandem::current_loop().create_task([] { return 42; });
//     int v = tandem::await(t);   // suspends this task until t is done
//
// A task runs a function on a stack of its own, on an event loop
// (tandem/loop.hpp creates them). Anything the function calls may suspend
// it (await, sleep_for, wait_readable, queue::get, event::wait, ...), and
// the loop runs other tasks, callbacks and timers meanwhile. The rules are
// asyncio's (numbered in docs/rules.md, section 4):
//  - A created task starts on a later loop iteration.
//  - cancel() on a task that has not started: it never runs. On a suspended
//    task: its pending suspension throws cancelled_error; if that escapes,
//    the task is cancelled; if the function catches it and returns, the task
//    completes normally. A task that cancels itself gets cancelled_error at
//    its next suspension; if it returns before suspending again, it ends
//    cancelled (asyncio: "cancelled right before the coroutine stops").
//    Cancelling a task suspended in await(t2) forwards the cancellation to
//    t2, and the await ends the way t2 ends; so does a cancellation that
//    came while the task ran, at its next await (gather and wait_for
//    forward it too; any other suspension throws it).
//    shield(t) waits for t without forwarding: the cancellation is thrown
//    in the waiting task and t runs on.
//  - A task exception that nobody retrieved (result, exception, await,
//    gather, run_until_complete) is reported on stderr, naming its what(),
//    when the task's last handle goes away.
//  - Suspending calls made outside a task, or from inside a generator
//    coroutine (tandem::coroutine) running in a task, throw logic_error.
//
// Where tandem differs from asyncio, and why: tasks are made from
// functions, not coroutine objects, since any function can suspend; a
// task's value is its function's return value.
#pragma once

#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "tandem/detail/frame.hpp"
#include "tandem/detail/suspension.hpp"
#include "tandem/stack.hpp"

namespace tandem {

// A task was cancelled. Not a std::exception (asyncio.CancelledError is a
// BaseException), so that catch (const std::exception&) does not swallow it.
class cancelled_error {
 public:
  const char* what() const noexcept { return "cancelled_error"; }
};

// wait_for's deadline passed first (asyncio.TimeoutError).
class timeout_error : public std::runtime_error {
 public:
  timeout_error() : std::runtime_error("timeout_error: the task did not finish in time") {}
};

// result() or exception() of a task that is not done (asyncio.InvalidStateError).
class invalid_state_error : public std::logic_error {
 public:
  using std::logic_error::logic_error;
};

class event_loop;

namespace detail {

// Whether a value can really be copied. A container's copy constructor is
// declared whatever its elements (std::vector<std::unique_ptr<X>> claims
// to be copy-constructible), so the elements are asked too.
template <class T>
constexpr bool copyable_value() {
  if constexpr (!std::is_copy_constructible_v<T>) {
    return false;
  } else if constexpr (requires { typename T::value_type; }) {
    if constexpr (std::is_same_v<typename T::value_type, T>) {
      return true;
    } else {
      return copyable_value<typename T::value_type>();
    }
  } else {
    return true;
  }
}

// A task's value, handed out: copied, so that it can be retrieved again (as
// in asyncio); a move-only value is moved out, so only once.
template <class T>
T hand_out(T& value) {
  if constexpr (copyable_value<T>()) {
    return value;
  } else {
    return std::move(value);
  }
}

// The type-independent part of a task. Its hot paths (a step, a
// suspension) are defined in src/task_switch.hpp, to be inlined where the
// loop switches.
struct task_frame;

class task_core : public std::enable_shared_from_this<task_core> {
 public:
  enum class status : unsigned char { pending, started, succeeded, failed, cancelled };

  // The name is copied: the body's stack is made only when the task starts.
  // Its size is checked now, so that create_task refuses a bad one.
  task_core(event_loop& loop, stack_options stack)
      : loop_(&loop), stack_(stack), name_(stack.name != nullptr ? stack.name : "") {
    stack_.name = nullptr;
    (void)checked_stack_size(stack_);
  }
  task_core(const task_core&) = delete;
  task_core& operator=(const task_core&) = delete;
  virtual ~task_core();

  bool done() const noexcept { return status_ >= status::succeeded; }
  bool cancelled() const noexcept { return status_ == status::cancelled; }
  bool succeeded() const noexcept { return status_ == status::succeeded; }
  bool failed() const noexcept { return status_ == status::failed; }
  bool cancel();
  // asyncio's cancelling() / uncancel(): the cancellation requests made and
  // not withdrawn. A timeout or a task group withdraws only its own, so that
  // one from outside stays pending.
  std::uint32_t cancelling() const noexcept { return cancel_requests_; }
  std::uint32_t uncancel() noexcept;
  // Makes the task's next suspension throw cancelled_error again (a task
  // group's exception_group won over a cancellation from outside).
  void keep_cancellation_pending() noexcept { cancel_pending_ = true; }
  // A cancellation that the task will throw at its next suspension, or at
  // the one it is in when it runs.
  bool cancel_pending() const noexcept { return cancel_pending_; }
  void check_result();             // throws what the task ended with
  std::exception_ptr exception();  // null on success; throws if cancelled or not done
  // Calls cb (through call_soon) once the task is done; returns a key
  // that forget_done_callback takes, 0 if the task is done already (cb is
  // scheduled at once). A wait that ends before the task does takes its
  // callback back, as asyncio's wait() removes its own: otherwise a loop
  // of waits with a timeout on a long-lived task would grow its list
  // without bound.
  std::uint64_t when_done(std::function<void()> cb);
  // The same for a waker (see waker()): called as the task finishes, so the
  // waiting task's step is queued then, not one iteration later from a
  // queued callback. asyncio's await wakes as soon: there the waiting
  // task's wakeup is itself the done-callback, and it steps the task.
  std::uint64_t wake_when_done(std::function<void()> waker);
  void forget_done_callback(std::uint64_t key) noexcept;
  std::size_t done_callback_count() const noexcept { return done_callbacks_.size(); }
  // Its exception, now or when it fails later, counts as retrieved (a
  // gather that ended first has it, as asyncio's does).
  void mark_retrieved() noexcept { retrieved_ = true; }
  // A callback that resumes this task if it is still suspended in s. It
  // may outlive the task (it holds a weak reference).
  std::function<void()> waker(const suspension& s);
  // The same without the weak reference, for callbacks that s.undo is
  // sure to unregister before the wait ends (timers, fds, wait lists).
  std::function<void()> local_waker(const suspension& s);
  // Resumes the task on a later iteration (once, however often called).
  void schedule_step();
  event_loop& loop() const noexcept { return *loop_; }
  // suspend()'s body, for the loop's own hot paths to inline.
  static void suspend_running(suspension& s);
  // The same, for a caller that found the running task already (`t`):
  // spares looking it up again.
  static void suspend_running(task_core& t, suspension& s);
  // False while a generator coroutine runs inside the task (on its stack).
  bool can_suspend_here() const noexcept { return on_own_stack(frame_); }

 protected:
  virtual void run() = 0;  // the task's function; stores its value

 private:
  friend class tandem::event_loop;
  friend struct task_frame;

  void step();
  // Makes the function's frame as the task starts; false when its stack
  // cannot be had: the task has failed with that stack_alloc_error.
  bool start();
  void end_of_function();  // the function ended: gives back its frame, finishes
  void finish(status s, std::exception_ptr e);
  // A cancellation that came while the task ran, at a suspension that
  // passes cancellations on (await, gather, wait_for): passed on to what
  // it waits for, as asyncio's task does with its pending cancellation,
  // and the task waits on. False: nothing took it, so the suspension
  // throws it (and always where it came back around a cycle of tasks
  // awaiting each other).
  bool pass_on_pending_cancel(suspension& s);
  // cancel() at a suspension that passes it on: true if it was passed on.
  bool forward_cancel(suspension& s);
  void leave_wait() noexcept;  // the loop closes: unregister from the wait
  void abandon() noexcept;     // the loop closes: unwind, count as cancelled

  event_loop* loop_;
  stack_options stack_;
  std::string name_;
  status status_ = status::pending;
  bool cancel_pending_ = false;
  bool retrieved_ = false;
  bool step_scheduled_ = false;
  bool forwarding_cancel_ = false;  // inside cancel(), passing it on
  std::uint32_t cancel_requests_ = 0;
  std::exception_ptr failure_;
  struct done_callback {
    std::uint64_t key;
    std::function<void()> callback;
    bool waker;  // called as the task finishes, not queued
  };
  std::vector<done_callback> done_callbacks_;
  std::uint64_t next_callback_key_ = 0;
  suspension* waiting_ = nullptr;
  std::uint64_t next_suspension_id_ = 0;
  std::uint64_t serial_ = 0;     // creation order, for close()
  frame_base* frame_ = nullptr;  // the function's frame, from its start to its end
};

template <class T>
struct task_result : task_core {
  using task_core::task_core;
  std::optional<T> value;
};
template <>
struct task_result<void> : task_core {
  using task_core::task_core;
};

template <class T, class F>
class task_impl final : public task_result<T> {
 public:
  task_impl(event_loop& loop, stack_options stack, F fn)
      : task_result<T>(loop, stack), fn_(std::move(fn)) {}

 private:
  void run() override {
    if constexpr (std::is_void_v<T>) {
      fn_();
    } else {
      this->value.emplace(fn_());
    }
  }
  F fn_;
};

// The task running on this thread; logic_error outside a task.
task_core& current_task();
// The same, or null outside a task.
task_core* running_task_or_null() noexcept;
// Suspends the current task in s until woken; throws cancelled_error if it
// is cancelled meanwhile, logic_error outside a task or inside a generator.
void suspend(suspension& s);
// A task is waited for only on its own loop (asyncio: "attached to a
// different loop"): another loop would never run it, or would be woken
// from the thread running it. logic_error naming `operation` otherwise.
[[noreturn]] void throw_task_of_another_loop(const char* operation);
inline void check_same_loop(const event_loop& loop, const task_core& t, const char* operation) {
  if (&t.loop() != &loop) [[unlikely]]
    throw_task_of_another_loop(operation);
}

struct task_access;

}  // namespace detail

// A copyable shared handle to a task (event_loop::create_task makes them).
// T may be void.
template <class T>
class task {
 public:
  task() = default;

  bool done() const { return core().done(); }
  bool cancelled() const { return core().cancelled(); }
  // Requests cancellation; false if the task is already done.
  bool cancel() { return core().cancel(); }
  // The cancellation requests not yet withdrawn (asyncio's cancelling()).
  std::uint32_t cancelling() const { return core().cancelling(); }
  // The value; rethrows the task's exception; cancelled_error if it was
  // cancelled; invalid_state_error if it is not done. An empty handle:
  // logic_error.
  std::add_lvalue_reference_t<T> result() {
    core().check_result();
    if constexpr (!std::is_void_v<T>) return *state_->value;
  }
  // Null on success; throws as result() does if cancelled or not done.
  std::exception_ptr exception() const { return core().exception(); }

 private:
  friend class event_loop;
  friend struct detail::task_access;
  explicit task(std::shared_ptr<detail::task_result<T>> s) : state_(std::move(s)) {}
  detail::task_core& core() const {
    if (!state_) throw std::logic_error("tandem::task: empty handle");
    return *state_;
  }
  std::shared_ptr<detail::task_result<T>> state_;
};

namespace detail {

// A done-callback on a task for as long as a wait lasts: taken back if the
// wait ends first (refused, or thrown), so that the task keeps none.
class done_callback_taken_back {
 public:
  done_callback_taken_back(task_core& t, std::function<void()> cb)
      : task_(t), key_(t.when_done(std::move(cb))) {}
  struct waker_tag {};
  done_callback_taken_back(task_core& t, std::function<void()> waker, waker_tag)
      : task_(t), key_(t.wake_when_done(std::move(waker))) {}
  done_callback_taken_back(const done_callback_taken_back&) = delete;
  done_callback_taken_back& operator=(const done_callback_taken_back&) = delete;
  ~done_callback_taken_back() {
    if (key_ != 0 && !task_.done()) task_.forget_done_callback(key_);
  }

 private:
  task_core& task_;
  std::uint64_t key_;
};

// What the waiting functions (await, gather, wait_for) need of a handle.
struct task_access {
  template <class T>
  static task_core& core(const task<T>& t) {
    return t.core();
  }
  template <class T>
  static std::shared_ptr<task_core> share(const task<T>& t) {
    t.core();  // an empty handle throws
    return t.state_;
  }
  // The task's value as the waiting functions hand it out (a copy, or the
  // move-only value itself); rethrows as result() does.
  template <class T>
  static T take_value(task<T>& t) {
    if constexpr (std::is_void_v<T>) {
      t.result();
    } else {
      return hand_out(t.result());
    }
  }
};

}  // namespace detail

namespace detail {
// Suspends the current task until `other` is done. `forward`: a
// cancellation of the current task goes to `other` (await), or else
// throws cancelled_error here at once and leaves `other` running (shield).
inline void wait_done(task_core& other, bool forward, const char* who) {
  task_core& me = current_task();
  if (&other == &me) throw std::logic_error(std::string(who) + ": a task cannot await itself");
  if (other.done()) return;
  check_same_loop(me.loop(), other, who);
  auto cancel_other = [&other] { return other.cancel(); };
  suspension s;
  if (forward) s.forward = cancel_other;
  const done_callback_taken_back wake(other, me.waker(s), done_callback_taken_back::waker_tag{});
  suspend(s);  // until other is done, however it ends
}
}  // namespace detail

// Suspends the current task until t is done, and returns t's value (a
// copy; a move-only value is moved out) or rethrows how it ended. A task
// awaiting itself: logic_error. Cancelling the awaiting task cancels t.
template <class T>
T await(task<T> t) {
  detail::wait_done(detail::task_access::core(t), true, "tandem::await");
  return detail::task_access::take_value(t);
}

// asyncio.shield: await(t), except that cancelling the waiting task does
// not reach t. The wait throws cancelled_error at once (also when a
// cancellation is already pending as it begins, unless t is done), and t
// runs on to its end, for anyone holding another handle to it. t cancelled
// through a handle of its own: cancelled_error, as from await.
template <class T>
T shield(task<T> t) {
  detail::wait_done(detail::task_access::core(t), false, "tandem::shield");
  return detail::task_access::take_value(t);
}

}  // namespace tandem
