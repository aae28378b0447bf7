// The event loop (tandem/loop.hpp): running it, one iteration after
// another, and what it schedules. Each iteration is a sequence of phases,
// as in libuv's uv_run; the parts live in their own files: the ready queue
// (ready_queue.hpp), the timers (timer_queue.hpp), file descriptors and
// the wake-up eventfd (poller.hpp), callbacks from other threads
// (posted_callbacks.hpp), and a task's step (task_switch.hpp).
#include "tandem/loop.hpp"

#include <signal.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <stdexcept>
#include <string>
#include <vector>

#include "loop_state.hpp"
#include "task_switch.hpp"

namespace tandem {

namespace detail {
constinit thread_local event_loop* running_loop __attribute__((tls_model("initial-exec"))) =
    nullptr;
}  // namespace detail

// How long the poll phase may wait: not at all when anything is ready to
// run, else until the earliest timer (no timer: until some fd is ready).
int event_loop::impl::poll_timeout_ms() const {
  if (!ready.empty() || stopping || posted.pending()) return 0;
  if (timers.empty()) return -1;
  // Compared before subtracting: a deadline at time_point::min() less now
  // would overflow into a wait of days.
  const clock::time_point earliest = timers.earliest();
  const clock::time_point now = clock::now();
  if (earliest <= now) return 0;
  const auto wait = earliest - now;
  return static_cast<int>(
      std::min<std::int64_t>(std::chrono::ceil<std::chrono::milliseconds>(wait).count(), 1 << 30));
}

// One iteration: take in I/O readiness and posted callbacks, then run what
// was ready at that moment, in order, then the timers that were due at
// that moment, in deadline order. asyncio moves the due timers to the end
// of its ready queue first, which comes to the same order; firing them
// from the heap spares a million due timers a trip through the ring.
void event_loop::impl::run_once() {
  // 1. I/O. With work ready, asking the kernel about I/O every iteration
  // (asyncio does) would cost a system call per task switch or two. Once
  // per 256 items run keeps I/O served: every iteration when they are long.
  if (ready.empty() || stopping || items_since_poll >= 256) {
    items_since_poll = 0;
    io.poll(poll_timeout_ms());
  }
  // 2. Callbacks from other threads join the ready queue.
  if (posted.pending()) posted.take_into(ready);
  // 3. Timers: sweep out the cancelled, note which are due now.
  timers.sweep_cancelled();
  const detail::timer_queue::due_timers due = timers.due_now();
  // 4. Run what is ready now (what this runs schedules for the next
  // iteration). A task's step is inlined here: see task_switch.hpp.
  std::function<void()> callback;
  items_since_poll += ready.size();
  for (std::size_t todo = ready.size(); todo > 0 && !ready.empty(); --todo) {
    if (detail::task_core* t = ready.pop(callback)) {
      t->step();
    } else {
      callback();
      callback = nullptr;
    }
  }
  // 5. Fire the timers that were due.
  timers.fire(due);
}

namespace {
// A run of the loop, from entering to leaving, however it leaves: the loop
// is the thread's running loop meanwhile, and a stop() made during the run
// is forgotten at its end (asyncio's run_forever does so in its finally).
// No task runs meanwhile but the loop's own: close() may run the loop's
// cleanup from inside a task of another loop, whose callbacks must not see
// that task as theirs (current_loop() would name the other loop, and a
// suspending call would suspend that task with this loop on its stack).
class run_scope {
 public:
  run_scope(event_loop* loop, detail::loop_access::state& state) noexcept
      : state_(state), outer_(detail::running_loop), outer_task_(detail::running_task) {
    detail::running_loop = loop;
    detail::running_task = nullptr;
    state_.running = true;
  }
  ~run_scope() {
    state_.running = false;
    state_.stopping = false;
    detail::running_loop = outer_;
    detail::running_task = outer_task_;
  }
  run_scope(const run_scope&) = delete;
  run_scope& operator=(const run_scope&) = delete;

 private:
  detail::loop_access::state& state_;
  event_loop* outer_;
  detail::task_core* outer_task_;
};
}  // namespace

event_loop::event_loop() : impl_(std::make_unique<impl>()) {}

event_loop::~event_loop() {  // NOLINT(bugprone-exception-escape): see loop.hpp
  if (impl_->running) {
    std::fputs("tandem: an event_loop was destroyed while running\n", stderr);
    std::terminate();
  }
  close();
}

void event_loop::check_open(const char* operation) const {
  if (impl_->closed)
    throw std::logic_error(std::string("tandem::event_loop::") + operation +
                           ": the loop is closed");
}

// Past the cancellation phase of close(), nothing more runs: a task
// accepted then would stay pending for good (close() has taken the list of
// tasks it unwinds, and clears the ready queue after).
void event_loop::check_accepts_tasks() const {
  check_open("create_task");
  if (impl_->unwinding)
    throw std::logic_error(
        "tandem::event_loop::create_task: the loop is closing (unwinding its tasks): the task "
        "would never run");
}

void event_loop::check_can_run(const char* operation) const {
  check_open(operation);
  if (impl_->running)
    throw std::logic_error(std::string("tandem::event_loop::") + operation +
                           ": the loop is already running");
  // As asyncio ("Cannot run the event loop while another loop is running"):
  // run from a task or a callback of another loop, this loop would hold
  // that loop still until it stopped, and a task of that loop resumed from
  // here would switch away with this loop on its stack.
  if (detail::running_loop != nullptr)
    throw std::logic_error(std::string("tandem::event_loop::") + operation +
                           ": another event loop is running on this thread");
}

// Whatever allocates is done here, where a bad_alloc leaves nothing made:
// the room for the task's steps in the ready queue (so that scheduling one
// never allocates) and its place among the unfinished.
void event_loop::adopt(std::shared_ptr<detail::task_core> t) {
  auto* raw = t.get();
  impl_->ready.reserve_task();
  try {
    impl_->unfinished.emplace(raw, std::move(t));
  } catch (...) {
    impl_->ready.release_task();
    throw;
  }
  raw->serial_ = impl_->next_task_serial++;
  raw->step_scheduled_ = true;
  impl_->ready.push_task(raw);  // the loop's reference in `unfinished` keeps it alive
}

void event_loop::run_until_done(detail::task_core& t) {
  impl_->stopping = false;  // a stop() made before this run is forgotten
  {
    run_scope scope(this, *impl_);
    while (!t.done() && !impl_->stopping) impl_->run_once();
    // asyncio stops the loop from the task's done-callback, which runs in
    // the next iteration: that iteration (no waiting for I/O) runs what
    // the task's last step made ready, and the timers due by then.
    if (t.done() && !impl_->stopping) {
      impl_->stopping = true;
      impl_->run_once();
    }
  }
  if (!t.done()) throw std::runtime_error("tandem::event_loop: stopped before the task was done");
}

void event_loop::run_forever() {
  check_can_run("run_forever");
  run_scope scope(this, *impl_);
  // One iteration at least: asyncio's stop() before run_forever() lets the
  // loop run what is ready once, then return.
  do {
    impl_->run_once();
  } while (!impl_->stopping);
}

void event_loop::stop() { impl_->stopping = true; }

void event_loop::close() {
  if (impl_->closed) return;
  if (impl_->running) throw std::logic_error("tandem::event_loop::close: the loop is running");
  cancel_unfinished_tasks();
  if (impl_->workers) impl_->workers->shutdown();  // waits for the fns that run
  // What is still unfinished is unwound by force, in two phases. First
  // every suspended task leaves what it waits in: those registrations may
  // live on other tasks' stacks, all still intact now. Then the tasks
  // unwind (coroutine_exit at each pending suspension), newest first, as
  // nested scopes would. A task created from there would never run: refused.
  auto tasks = unfinished_newest_first();
  impl_->unwinding = true;  // not before: a close() that could not take the list can be retried
  for (auto& t : tasks) t->leave_wait();
  for (auto& t : tasks) t->abandon();
  impl_->ready.clear();
  impl_->timers.drop_all();
  impl_->io.forget_waiters();
  impl_->sockets.close_all();
  impl_->signals.remove_all(&impl_->io);  // the dispositions from before
  impl_->closed = true;
  impl_->posted.close(impl_->io);  // against call_soon_threadsafe
  impl_->io.close();
}

std::vector<std::shared_ptr<detail::task_core>> event_loop::unfinished_newest_first() {
  std::vector<std::shared_ptr<detail::task_core>> tasks;
  tasks.reserve(impl_->unfinished.size());
  for (auto& entry : impl_->unfinished) tasks.push_back(entry.second);
  impl_->unfinished.clear();
  std::sort(tasks.begin(), tasks.end(),
            [](const auto& a, const auto& b) { return a->serial_ > b->serial_; });
  return tasks;
}

// As asyncio.run does before it closes its loop: every unfinished task is
// cancelled, so that its cancelled_error handlers and destructors run as
// they would on any cancellation, and the loop runs while that has work
// ready. It does not wait for timers or I/O (a cleanup that sleeps is
// unwound by force), and gives up after a bound, against a task that
// catches its cancellation and goes on yielding forever.
void event_loop::cancel_unfinished_tasks() {
  if (impl_->unfinished.empty()) return;
  std::vector<std::shared_ptr<detail::task_core>> tasks;
  for (auto& entry : impl_->unfinished) tasks.push_back(entry.second);
  std::sort(tasks.begin(), tasks.end(),
            [](const auto& a, const auto& b) { return a->serial_ < b->serial_; });
  // Each leaves what it waits in before any unwinds (as below), then is
  // cancelled: cancelled_error at its pending suspension.
  for (auto& t : tasks) t->leave_wait();
  for (auto& t : tasks) t->cancel();
  tasks.clear();  // the loop keeps them; those that finish go
  impl_->stopping = false;
  run_scope scope(this, *impl_);
  try {
    for (int round = 0; round < 1000 && !impl_->unfinished.empty() && !impl_->ready.empty();
         ++round)
      impl_->run_once();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "tandem: exception in a callback while the loop closed: %s\n", e.what());
  } catch (...) {
    std::fputs("tandem: exception in a callback while the loop closed\n", stderr);
  }
}

bool event_loop::is_running() const { return impl_->running; }
bool event_loop::is_closed() const { return impl_->closed; }

void event_loop::call_soon(std::function<void()> cb) {
  check_open("call_soon");
  if (!cb) throw_empty_callback("call_soon");
  impl_->ready.push_callback(std::move(cb));
}

void event_loop::call_soon_threadsafe(std::function<void()> cb) {
  if (!cb) throw_empty_callback("call_soon_threadsafe");
  // From inside the running loop: call_soon, as asyncio's (call_soon and a
  // wake-up), so that it keeps its place among the loop's own callbacks.
  if (detail::running_loop == this) return impl_->ready.push_callback(std::move(cb));
  if (!impl_->posted.post(std::move(cb), impl_->io))
    throw std::logic_error("tandem::event_loop::call_soon_threadsafe: the loop is closed");
}

void event_loop::throw_empty_callback(const char* operation) {
  throw std::invalid_argument(std::string("tandem::event_loop::") + operation +
                              ": the callback is empty");
}

timer_handle event_loop::schedule(clock::time_point t,
                                  std::unique_ptr<detail::timer_record> record) {
  return timer_handle(impl_->timers.schedule(t, std::move(record)));
}

clock::time_point event_loop::time() const { return clock::now(); }

void event_loop::add_signal_handler(int signum, std::function<void()> cb) {
  check_open("add_signal_handler");
  impl_->signals.add(signum, std::move(cb), impl_->io, impl_->ready);
}

bool event_loop::remove_signal_handler(int signum) {
  // As asyncio ("invalid signal number"): false would hide the mistake.
  if (signum <= 0 || signum >= NSIG)
    throw std::invalid_argument("tandem::event_loop::remove_signal_handler: " +
                                std::to_string(signum) + " is not a signal number");
  return impl_->signals.remove(signum, impl_->io);
}

event_loop& current_loop() {
  if (detail::running_task != nullptr) return detail::running_task->loop();
  if (detail::running_loop == nullptr)
    throw std::logic_error(
        "tandem::current_loop: not inside a task or a callback of a running loop");
  return *detail::running_loop;
}

}  // namespace tandem
