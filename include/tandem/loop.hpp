// tandem/loop.hpp: a single-threaded event loop in asyncio's model (asyncio's
// events.py and base_events.py): running it, callbacks and timers.
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
// The toolkit around the loop has a header per module, as asyncio has:
//   tandem/task.hpp   tasks, await, the errors (cancelled_error, ...)
//   tandem/task_group.hpp  with_task_group, exception_group
//   tandem/wait.hpp   sleep_for, sleep_until, gather, wait, wait_for, timeout
//   tandem/queues.hpp  queue, lifo_queue, priority_queue
//   tandem/sync.hpp   event
//   tandem/locks.hpp  mutex, semaphore, bounded_semaphore, condition
//   tandem/io.hpp     wait_readable, wait_writable
//   tandem/threads.hpp  to_thread
// This header includes them all, so that including it alone is enough.
//
// The loop and its handles belong to the thread that runs it; only
// call_soon_threadsafe may be called from other threads. The rules are
// asyncio's (numbered in docs/rules.md, section 4):
//  - Tasks, call_soon callbacks and timers with equal deadlines run in the
//    order they were scheduled. An iteration runs what was ready when it
//    began, then the timers due at that moment.
//  - stop() ends run_forever() after the current iteration; called before
//    run_forever(), it lets one iteration run (asyncio). run_until_complete
//    starts afresh: a stop() made before it is forgotten. However a run
//    ends (returned or thrown), a stop() made during it is forgotten too.
//  - A negative duration counts as zero everywhere, and a deadline too far
//    for the clock (now + duration::max()) saturates: it never comes.
//  - close() (not while running) and the destructor cancel unfinished tasks,
//    as asyncio.run does: each gets cancelled_error at its pending
//    suspension, and the loop runs while their cleanup has work ready (it
//    does not wait for timers or I/O). Then whatever is still unfinished is
//    unwound by force: its pending suspension throws coroutine_exit, which
//    unwinds to the task's start; a function that catches that and
//    suspends again makes the process terminate, as a generator that
//    ignores close() does. The handles then report done() and cancelled()
//    (or how the cleanup ended); a finished task keeps its result.
//    Callbacks and timers still pending then are dropped without running,
//    as asyncio's close() drops them ("pending callbacks will be lost"),
//    and so are any that the forced unwinding schedules: call_soon and
//    call_later accept them (a destructor must not throw), and they never
//    run.
#pragma once

#include <functional>
#include <memory>
#include <stdexcept>
#include <type_traits>
#include <utility>
#include <vector>

#include "tandem/clock.hpp"
#include "tandem/detail/timer_record.hpp"
#include "tandem/stack.hpp"
#include "tandem/task.hpp"

namespace tandem {

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

namespace detail {
struct loop_access;  // the library's own way in (src/loop_state.hpp)
}

class event_loop {
 public:
  event_loop();
  // Closes: see close(). What close() may throw here (std::bad_alloc)
  // ends the process, as from any destructor.
  ~event_loop();  // NOLINT(bugprone-exception-escape)
  event_loop(const event_loop&) = delete;
  event_loop& operator=(const event_loop&) = delete;

  // Schedules fn (R fn()) as a task; it starts on a later loop iteration.
  // fn may be move-only (it is moved into the task). A stack size out of
  // range is refused here, as a coroutine's constructor refuses it
  // (std::invalid_argument below min_stack_size, stack_alloc_error above
  // max_stack_size), though the stack is made only when the task starts;
  // if it cannot be had then, the task fails with that stack_alloc_error.
  // A closed loop refuses with std::logic_error (asyncio: RuntimeError,
  // "Event loop is closed"), and so does one whose close() is unwinding
  // its unfinished tasks by force (a destructor or handler on a stack
  // being unwound creates one): the loop runs nothing more, so such a task
  // would never run, and its handle would stay pending for good. While
  // close() lets cancelled tasks clean up, a task they create is accepted
  // and runs while the loop does (asyncio.run's cancellation runs the
  // loop too); unfinished then, it is unwound with the others.
  template <class F>
  auto create_task(F&& fn, stack_options stack = {})
      -> task<std::invoke_result_t<std::decay_t<F>&>> {
    using R = std::invoke_result_t<std::decay_t<F>&>;
    check_accepts_tasks();
    auto state =
        std::make_shared<detail::task_impl<R, std::decay_t<F>>>(*this, stack, std::forward<F>(fn));
    adopt(state);
    return task<R>(std::move(state));
  }

  // Runs the loop until the task is done, and then one more iteration (as
  // asyncio, which stops from the task's done-callback: what its last step
  // scheduled runs); returns its value or rethrows its exception.
  // logic_error if the loop is running or closed, if another loop runs on
  // this thread (from a task or callback of it: asyncio refuses too), or if
  // the task belongs to another loop. The same refusals for run_forever.
  template <class F>
  auto run_until_complete(F&& fn) -> std::invoke_result_t<std::decay_t<F>&> {
    check_can_run("run_until_complete");
    return run_until_complete(create_task(std::forward<F>(fn)));
  }
  template <class T>
  T run_until_complete(task<T> t) {
    check_can_run("run_until_complete");
    detail::check_same_loop(*this, detail::task_access::core(t),
                            "tandem::event_loop::run_until_complete");
    run_until_done(detail::task_access::core(t));
    return detail::task_access::take_value(t);
  }

  void run_forever();
  void stop();
  void close();
  bool is_running() const;
  bool is_closed() const;

  // A callback whose exception escapes (any of these, or a signal
  // handler's) ends run_forever/run_until_complete with it, where asyncio
  // logs it and goes on: the program that runs the loop sees it. What was
  // ready after it stays queued and runs when the loop runs again.
  void call_soon(std::function<void()> cb);
  // Any thread; wakes the loop. Not async-signal-safe (it locks and may
  // allocate): a signal handler should write to a pipe a task waits on.
  // The loop takes what was posted in all at once: a std::bad_alloc there
  // ends the run and leaves each posted, in order, for the next.
  void call_soon_threadsafe(std::function<void()> cb);
  // cb: any callable (std::function, a lambda, ...), kept in the timer
  // itself when it is small. An empty std::function or a null function
  // pointer: std::invalid_argument.
  // d: any integral unit, saturated to the clock's range, not wrapped
  // (detail::to_clock_duration).
  template <class Rep, class Period, class F>
  requires std::is_integral_v<Rep> && std::is_invocable_v < std::decay_t<F>
  & > timer_handle call_later(std::chrono::duration<Rep, Period> d, F&& cb) {
    return call_at(detail::deadline_after(time(), detail::to_clock_duration(d)),
                   std::forward<F>(cb));
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

  // asyncio's loop.add_signal_handler: cb runs on the loop's thread as a
  // callback, not in signal context, whichever thread the signal hit. A
  // second handler for a signal replaces the first. SIGKILL, SIGSTOP or an
  // invalid number: std::invalid_argument; a signal that another live loop
  // handles: std::logic_error. Removing the last handler of a signal, or
  // close(), restores the disposition from before the first handler. The
  // signal must not be blocked in the thread that receives it. Each arrival
  // the loop takes in makes one call; one taken in before its handler was
  // removed or replaced still calls that handler's cb (asyncio's queued
  // handle runs). Taking a signal in allocates nothing: the room for its
  // call is reserved here, so no std::bad_alloc can lose a signal.
  void add_signal_handler(int signum, std::function<void()> cb);
  // false: no handler for signum; a number that is no signal (<= 0, >= NSIG):
  // std::invalid_argument, as asyncio's ValueError.
  bool remove_signal_handler(int signum);

 private:
  friend class detail::task_core;
  friend struct detail::loop_access;
  struct impl;  // the loop's state: src/loop_state.hpp
  void adopt(std::shared_ptr<detail::task_core> t);
  void run_until_done(detail::task_core& t);
  void cancel_unfinished_tasks();
  std::vector<std::shared_ptr<detail::task_core>> unfinished_newest_first();
  void check_open(const char* operation) const;
  void check_accepts_tasks() const;  // create_task's: check_open, and not unwinding
  void check_can_run(const char* operation) const;
  [[noreturn]] static void throw_empty_callback(const char* operation);
  timer_handle schedule(clock::time_point t, std::unique_ptr<detail::timer_record> record);

  std::unique_ptr<impl> impl_;
};

// The loop of the task running on this thread, or of the callback it runs;
// elsewhere std::logic_error.
event_loop& current_loop();

}  // namespace tandem

// The rest of the toolkit, so that this header alone is enough.
#include "tandem/io.hpp"
#include "tandem/locks.hpp"
#include "tandem/queues.hpp"
#include "tandem/sync.hpp"
#include "tandem/task_group.hpp"
#include "tandem/threads.hpp"
#include "tandem/wait.hpp"
