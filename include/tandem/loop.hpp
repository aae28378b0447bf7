// tandem/loop.hpp: a single-threaded event loop in asyncio's model.
//
//     tandem::event_loop loop;
//     int answer = loop.run_until_complete([] {
//       auto t = tandem::current_loop().create_task([] {
//         tandem::sleep_for(std::chrono::milliseconds(10));
//         return 42;
//       });
//       return tandem::await(t);
//     });
//
// Tasks are stackful: a task's function, and anything it calls, may suspend
// it (await, sleep_for, wait_readable, queue::get, event::wait, ...), and
// the loop runs other tasks, callbacks and timers meanwhile. The loop and
// its handles belong to the thread that runs it; only call_soon_threadsafe
// may be called from other threads.
//
// The rules are asyncio's (numbered in docs/rules.md, section 4):
//  - A created task starts on a later loop iteration. Tasks, call_soon
//    callbacks and timers with equal deadlines run in the order they were
//    scheduled. sleep_for(0s) lets every ready task run once.
//  - cancel() on a task that has not started: it never runs. On a suspended
//    task: its pending suspension throws cancelled_error; if that escapes,
//    the task is cancelled; if the function catches it and returns, the task
//    completes normally. A task that cancels itself gets cancelled_error at
//    its next suspension; if it returns before suspending again, it ends
//    cancelled (asyncio: "cancelled right before the coroutine stops").
//    Cancelling a task suspended in await(t2) forwards the cancellation to
//    t2, and the await ends the way t2 ends.
//  - gather() rethrows the first exception (in order of completion) as soon
//    as it happens; the other tasks keep running. Cancelling a task suspended
//    in gather() cancels the gathered tasks that are not done, as asyncio
//    does, and the gather then throws cancelled_error once they are all
//    done, even if every one of them caught its cancellation and returned.
//  - stop() ends run_forever() after the current iteration; called before
//    run_forever(), it lets one iteration run (asyncio). run_until_complete
//    starts afresh: a stop() made before it is forgotten.
//  - wait_for() cancels the task on timeout, waits for it to finish, and
//    throws timeout_error; if the task caught the cancellation and returned,
//    its value is returned. A zero or negative timeout times out a task that
//    is not already done. Cancelling the waiting task cancels the awaited one.
//  - A negative duration counts as zero everywhere, and a deadline too far
//    for the clock (now + duration::max()) saturates: it never comes.
//  - close() (not while running) and the destructor cancel unfinished tasks
//    and unwind their stacks: the pending suspension of each throws
//    coroutine_exit, which unwinds to the task's start. A function that
//    catches it and suspends again makes the process terminate, as a
//    generator that ignores close() does. Their handles then report done()
//    and cancelled(); a finished task keeps its result.
//  - A task exception that nobody retrieved (result, exception, await,
//    gather, run_until_complete) is reported on stderr, naming its what(),
//    when the task's last handle goes away.
//  - Suspending calls made outside a task, or from inside a generator
//    coroutine (tandem::coroutine) running in a task, throw logic_error.
//
// Where tandem differs from asyncio, and why:
//  - Tasks are made from functions, not coroutine objects, since any
//    function can suspend; a task's value is its function's return value.
//  - At most one task may wait for readability, and one for writability, of
//    a file descriptor at a time; a second waiter gets logic_error (asyncio
//    silently replaces the earlier reader, which then waits forever).
#pragma once

#include <algorithm>
#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
#include <list>
#include <memory>
#include <new>
#include <optional>
#include <stdexcept>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "tandem/coroutine.hpp"
#include "tandem/stack.hpp"

namespace tandem {

using clock = std::chrono::steady_clock;

// A task was cancelled. Not a std::exception (asyncio.CancelledError is a
// BaseException), so that catch (const std::exception&) does not swallow it.
class cancelled_error {
 public:
  const char* what() const noexcept { return "cancelled_error"; }
};

class timeout_error : public std::runtime_error {
 public:
  timeout_error() : std::runtime_error("timeout_error: the task did not finish in time") {}
};

class invalid_state_error : public std::logic_error {
 public:
  using std::logic_error::logic_error;
};

class event_loop;

namespace detail {

// `now + d`, where a negative d counts as zero and a deadline past the
// clock's range saturates at time_point::max(), which never comes. Plain
// `now + duration::max()` would wrap into the past, so a "wait forever"
// timeout would expire at once.
inline clock::time_point deadline_after(clock::time_point now, clock::duration d) noexcept {
  if (d <= clock::duration::zero()) return now;
  return d >= clock::time_point::max() - now ? clock::time_point::max() : now + d;
}

// A task's value, handed out: copied, so that it can be retrieved again (as
// in asyncio); a move-only value is moved out, so only once.
template <class T>
T hand_out(T& value) {
  if constexpr (std::is_copy_constructible_v<T>) {
    return value;
  } else {
    return std::move(value);
  }
}

// A timer of call_at / call_later. Its references are counted without
// atomics (the loop and its handles belong to one thread): the loop holds
// one while the timer is scheduled, each timer_handle one more. The
// callback lives in the record when it fits, so that a timer costs one
// allocation.
struct timer_record {
  timer_record() = default;
  timer_record(const timer_record&) = delete;
  timer_record& operator=(const timer_record&) = delete;
  ~timer_record() { drop_callback(); }

  template <class F>
  void set_callback(F&& f) {
    using D = std::decay_t<F>;
    if constexpr (sizeof(D) <= sizeof(storage) && alignof(D) <= alignof(std::max_align_t)) {
      ::new (static_cast<void*>(storage)) D(std::forward<F>(f));
      invoke = [](timer_record& r) { (*std::launder(reinterpret_cast<D*>(r.storage)))(); };
      destroy = [](timer_record& r) noexcept {
        std::launder(reinterpret_cast<D*>(r.storage))->~D();
      };
    } else {
      ::new (static_cast<void*>(storage)) D*(new D(std::forward<F>(f)));
      invoke = [](timer_record& r) { (**std::launder(reinterpret_cast<D**>(r.storage)))(); };
      destroy = [](timer_record& r) noexcept {
        delete *std::launder(reinterpret_cast<D**>(r.storage));
      };
    }
  }
  // Lets go of the callback and what it holds (once it ran, or cancelled).
  void drop_callback() noexcept {
    if (auto* d = std::exchange(destroy, nullptr)) d(*this);
  }

  alignas(std::max_align_t) unsigned char storage[48];
  void (*invoke)(timer_record&) = nullptr;
  void (*destroy)(timer_record&) noexcept = nullptr;  // null: no callback
  std::uint64_t seq = 0;                              // scheduling order, for equal deadlines
  // The loop's count of cancelled timers still in its heap, while this one
  // is in it (the loop sweeps them out when they are half of the heap).
  std::size_t* cancelled_in_heap = nullptr;
  std::uint32_t refs = 1;
  bool cancelled = false;
  bool firing = false;  // the callback runs: cancel() leaves it be
};
void cancel_timer(timer_record& r) noexcept;
void delete_timer(timer_record* r) noexcept;  // out of line: the rare case
inline void release_timer(timer_record* r) noexcept {
  if (r != nullptr && --r->refs == 0) delete_timer(r);
}

// A reference to a callable that the referrer does not own: two words,
// nothing to copy or destroy. Only lvalues bind, and the callable must
// outlive every call (a suspension's callables are locals of the function
// that suspends, which outlives the wait).
template <class R>
class callable_ref {
 public:
  callable_ref() = default;
  template <class F>
  requires(!std::is_same_v<std::remove_cvref_t<F>, callable_ref>) callable_ref(F& f)
  noexcept  // NOLINT(google-explicit-constructor): a reference
      : call_([](void* target) -> R { return (*static_cast<F*>(target))(); }),
        target_(const_cast<void*>(static_cast<const void*>(std::addressof(f)))) {}
  explicit operator bool() const noexcept { return call_ != nullptr; }
  R operator()() const { return call_(target_); }

 private:
  R (*call_)(void*) = nullptr;
  void* target_ = nullptr;
};

// What a suspended task waits in. `undo` unregisters whatever would wake it
// and runs whenever the suspension ends; `forward`, if set, is what cancel()
// does instead of waking the task with cancelled_error (await, gather,
// wait_for pass the cancellation on and keep waiting). Both refer to
// callables of the suspending function.
struct suspension {
  callable_ref<void> undo;
  callable_ref<bool> forward;  // true: the cancellation was passed on
  std::uint64_t id = 0;
  bool requeue = false;  // resume on the next iteration (sleep_for(0))
};

class task_core : public std::enable_shared_from_this<task_core> {
 public:
  enum class status : unsigned char { pending, started, succeeded, failed, cancelled };

  // The name is copied: the body's stack is made only when the task starts.
  task_core(event_loop& loop, stack_options stack)
      : loop_(&loop), stack_(stack), name_(stack.name != nullptr ? stack.name : "") {
    stack_.name = nullptr;
  }
  task_core(const task_core&) = delete;
  task_core& operator=(const task_core&) = delete;
  virtual ~task_core();

  bool done() const noexcept { return status_ >= status::succeeded; }
  bool cancelled() const noexcept { return status_ == status::cancelled; }
  bool succeeded() const noexcept { return status_ == status::succeeded; }
  bool cancel();
  void check_result();             // throws what the task ended with
  std::exception_ptr exception();  // null on success; throws if cancelled or not done
  void when_done(std::function<void()> cb);
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
  // False while a generator coroutine runs inside the task (on its stack).
  bool can_suspend_here() const noexcept { return on_own_stack(frame_); }

 protected:
  virtual void run() = 0;  // the task's function; stores its value

 private:
  friend class tandem::event_loop;
  friend void suspend(suspension& s);

  void step();
  void finish(status s, std::exception_ptr e);
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
  std::exception_ptr failure_;
  std::vector<std::function<void()>> done_callbacks_;
  suspension* waiting_ = nullptr;
  std::uint64_t next_suspension_id_ = 0;
  std::uint64_t serial_ = 0;     // creation order, for close()
  frame_base* frame_ = nullptr;  // body_'s, while it lives
  std::optional<coroutine<void, void>> body_;
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
// Suspends the current task in s until woken; throws cancelled_error if it
// is cancelled meanwhile, logic_error outside a task or inside a generator.
void suspend(suspension& s);

}  // namespace detail

// A copyable shared handle to a task. T may be void.
template <class T>
class task {
 public:
  task() = default;

  bool done() const { return core().done(); }
  bool cancelled() const { return core().cancelled(); }
  // Requests cancellation; false if the task is already done.
  bool cancel() { return core().cancel(); }
  // The value; rethrows the task's exception; cancelled_error if it was
  // cancelled; invalid_state_error if it is not done.
  std::add_lvalue_reference_t<T> result() {
    core().check_result();
    if constexpr (!std::is_void_v<T>) return *state_->value;
  }
  // Null on success; throws as result() does if cancelled or not done.
  std::exception_ptr exception() const { return core().exception(); }

  // For the free functions and the loop: the type-independent part.
  detail::task_core& core() const {
    if (!state_) throw std::logic_error("tandem::task: empty handle");
    return *state_;
  }

 private:
  friend class event_loop;
  explicit task(std::shared_ptr<detail::task_result<T>> s) : state_(std::move(s)) {}
  std::shared_ptr<detail::task_result<T>> state_;
};

// A timer's handle, as asyncio's TimerHandle: cancel() before the timer
// fired drops its callback and it never runs; cancel() afterwards does
// nothing but make cancelled() true. An empty handle (default-constructed
// or moved from) throws logic_error.
class timer_handle {
 public:
  timer_handle() = default;
  timer_handle(const timer_handle& other) noexcept : record_(other.record_) {
    if (record_ != nullptr) ++record_->refs;
  }
  timer_handle(timer_handle&& other) noexcept : record_(std::exchange(other.record_, nullptr)) {}
  timer_handle& operator=(timer_handle other) noexcept {
    std::swap(record_, other.record_);
    return *this;
  }
  ~timer_handle() { detail::release_timer(record_); }

  void cancel() { detail::cancel_timer(record()); }
  bool cancelled() const { return record().cancelled; }

 private:
  friend class event_loop;
  explicit timer_handle(detail::timer_record* r) noexcept : record_(r) {}
  detail::timer_record& record() const {
    if (record_ == nullptr)
      throw std::logic_error("tandem::timer_handle: empty handle (moved from?)");
    return *record_;
  }
  detail::timer_record* record_ = nullptr;
};

class event_loop {
 public:
  event_loop();
  ~event_loop();  // closes: see close()
  event_loop(const event_loop&) = delete;
  event_loop& operator=(const event_loop&) = delete;

  // Schedules fn (R fn()) as a task; it starts on a later loop iteration.
  // fn may be move-only (it is moved into the task).
  template <class F>
  auto create_task(F&& fn, stack_options stack = {})
      -> task<std::invoke_result_t<std::decay_t<F>&>> {
    using R = std::invoke_result_t<std::decay_t<F>&>;
    check_open("create_task");
    auto state =
        std::make_shared<detail::task_impl<R, std::decay_t<F>>>(*this, stack, std::forward<F>(fn));
    adopt(state);
    return task<R>(std::move(state));
  }

  // Runs the loop until the task is done; returns its value or rethrows its
  // exception. logic_error if the loop is running or closed.
  template <class F>
  auto run_until_complete(F&& fn) -> std::invoke_result_t<std::decay_t<F>&> {
    check_can_run("run_until_complete");
    return run_until_complete(create_task(std::forward<F>(fn)));
  }
  template <class T>
  T run_until_complete(task<T> t) {
    check_can_run("run_until_complete");
    run_until_done(t.core());
    if constexpr (std::is_void_v<T>) {
      t.result();
    } else {
      return detail::hand_out(t.result());
    }
  }

  void run_forever();
  void stop();
  void close();
  bool is_running() const;
  bool is_closed() const;

  void call_soon(std::function<void()> cb);
  // Any thread; wakes the loop. Not async-signal-safe (it locks and may
  // allocate): a signal handler should write to a pipe a task waits on.
  void call_soon_threadsafe(std::function<void()> cb);
  // cb: any callable (std::function, a lambda, ...), kept in the timer
  // itself when it is small. An empty std::function or a null function
  // pointer: std::invalid_argument.
  template <class F>
  requires std::is_invocable_v < std::decay_t<F>
  & > timer_handle call_later(clock::duration d, F&& cb) {
    return call_at(detail::deadline_after(time(), d), std::forward<F>(cb));
  }
  template <class F>
  requires std::is_invocable_v < std::decay_t<F>
  & > timer_handle call_at(clock::time_point t, F&& cb) {
    check_open("call_at");
    if constexpr (std::is_constructible_v<bool, const std::decay_t<F>&>) {
      if (!static_cast<bool>(cb)) throw_empty_callback("call_at");
    }
    auto record = std::make_unique<detail::timer_record>();
    record->set_callback(std::forward<F>(cb));
    return schedule(t, std::move(record));
  }
  clock::time_point time() const;

  // For wait_readable / wait_writable: registers waker for fd's readiness;
  // the returned function unregisters it.
  std::function<void()> watch_fd(int fd, bool writable, std::function<void()> waker);

 private:
  friend class detail::task_core;
  void adopt(std::shared_ptr<detail::task_core> t);
  void queue_step(detail::task_core* t);
  void forget(detail::task_core* t);
  void run_until_done(detail::task_core& t);
  void check_open(const char* operation) const;
  void check_can_run(const char* operation) const;
  [[noreturn]] static void throw_empty_callback(const char* operation);
  timer_handle schedule(clock::time_point t, std::unique_ptr<detail::timer_record> record);

  struct impl;
  std::unique_ptr<impl> impl_;
};

// Only inside a task running on a loop (current_loop: also in a callback
// the loop runs); elsewhere they throw std::logic_error.
event_loop& current_loop();

template <class T>
T await(task<T> t) {
  detail::task_core& me = detail::current_task();
  detail::task_core& other = t.core();
  if (&other == &me) throw std::logic_error("tandem::await: a task cannot await itself");
  if (!other.done()) {
    auto forward = [&other] { return other.cancel(); };
    detail::suspension s;
    s.forward = forward;
    other.when_done(me.waker(s));
    detail::suspend(s);  // until other is done, however it ends
  }
  if constexpr (std::is_void_v<T>) {
    t.result();
  } else {
    return detail::hand_out(t.result());
  }
}

void sleep_for(clock::duration d);  // sleep_for(0s) lets every ready task run once
void sleep_until(clock::time_point t);

namespace detail {
template <class T>
using gathered = std::conditional_t<std::is_void_v<T>, std::monostate, T>;

template <class T>
gathered<T> take_result(task<T>& t) {
  if constexpr (std::is_void_v<T>) {
    t.result();
    return {};
  } else {
    return hand_out(t.result());
  }
}

// Waits until every core is done, or one of them failed or was cancelled;
// returns that one's index (completion order), or -1 when all succeeded.
int gather_wait(task_core* const* cores, std::size_t n);
}  // namespace detail

// The tasks' values as a tuple (void -> std::monostate); rethrows the first
// exception as soon as it happens.
template <class... T>
auto gather(task<T>... ts) {
  std::array<detail::task_core*, sizeof...(T)> cores{&ts.core()...};
  const int failed = detail::gather_wait(cores.data(), cores.size());
  if (failed >= 0) {
    std::size_t i = 0;
    // Rethrow through the failed task's own handle, so it counts as retrieved.
    ((i++ == static_cast<std::size_t>(failed) ? (void)ts.result() : (void)0), ...);
  }
  return std::tuple<detail::gathered<T>...>{detail::take_result(ts)...};
}

namespace detail {
// Waits for core with a deadline; true if the deadline passed first (the
// task was then cancelled and has finished).
bool wait_with_deadline(task_core& core, clock::duration timeout);
}  // namespace detail

template <class T>
T wait_for(task<T> t, clock::duration timeout) {
  if (detail::wait_with_deadline(t.core(), timeout) && t.cancelled()) throw timeout_error();
  if constexpr (std::is_void_v<T>) {
    t.result();
  } else {
    return detail::hand_out(t.result());
  }
}

void wait_readable(int fd);  // epoll; bad fd: std::system_error
void wait_writable(int fd);

namespace detail {
// Tasks waiting in a queue or an event, first come first served.
class wait_list {
 public:
  // Suspends the current task until wake_one/wake_all reaches it. A waiter
  // woken and then cancelled before it ran hands its wake-up to the next
  // one when `pass_on_wakeup` (a queue's item or slot is still there), and
  // not otherwise (an event's set() has already woken everyone).
  void wait(bool pass_on_wakeup = true);
  void wake_one();
  void wake_all();
  bool empty() const noexcept { return wakers_.empty(); }

 private:
  std::list<std::function<void()>> wakers_;
};
}  // namespace detail

// asyncio.Queue: put() waits while full (maxsize 0: never full), get()
// waits while empty; waiters are served in arrival order. Not movable:
// waiting tasks refer to it.
template <class T>
class queue {
 public:
  explicit queue(std::size_t maxsize = 0) : maxsize_(maxsize) {}
  queue(const queue&) = delete;
  queue& operator=(const queue&) = delete;

  void put(T value) {
    while (full()) putters_.wait();
    items_.push_back(std::move(value));
    getters_.wake_one();
  }
  T get() {
    while (empty()) getters_.wait();
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
};

// asyncio.Event: wait() returns at once while set, else waits for set().
// Not movable: waiting tasks refer to it.
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
    if (!set_) waiters_.wait(/*pass_on_wakeup=*/false);
  }

 private:
  bool set_ = false;
  detail::wait_list waiters_;
};

}  // namespace tandem
