// The event loop behind tandem/loop.hpp: a ready queue, a timer heap, and
// epoll for file descriptors and cross-thread wake-ups (an eventfd).
#include "tandem/loop.hpp"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <deque>
#include <mutex>
#include <string>
#include <system_error>
#include <unordered_map>
#include <unordered_set>

#include "ready_queue.hpp"
#include "timer_heap.hpp"

namespace tandem {
namespace {

thread_local event_loop* running_loop = nullptr;
thread_local detail::task_core* running_task = nullptr;

// What what() says about an exception, for the unretrieved report.
std::string describe(const std::exception_ptr& e) {
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& x) {
    return x.what();
  } catch (const cancelled_error& x) {
    return x.what();
  } catch (...) {
    return "an exception not derived from std::exception";
  }
}

[[noreturn]] void throw_errno(const std::string& what) {
  throw std::system_error(errno, std::generic_category(), what);
}

}  // namespace

struct event_loop::impl {
  // Registrations are EPOLLONESHOT: an event disarms the fd, and the next
  // wait re-arms it with one epoll_ctl (no ADD/DEL pair per wait).
  struct fd_watch {
    std::function<void()> reader;
    std::function<void()> writer;
    std::uint32_t armed = 0;  // the events epoll will report for this fd
    bool added = false;       // ever added to epoll (it may have been closed since)
  };

  detail::ready_queue ready;
  detail::timer_heap timers;
  std::uint64_t timer_seq = 0;
  std::size_t cancelled_timers = 0;  // cancelled, still in the heap
  int epoll_fd = -1;
  int wake_fd = -1;
  std::mutex posted_mutex;
  std::vector<std::function<void()>> posted;  // from call_soon_threadsafe
  std::atomic<bool> has_posted{false};
  std::uint64_t next_task_serial = 0;
  std::size_t items_since_poll = 0;  // ready items run since the last epoll_wait
  std::unordered_map<int, fd_watch> fds;
  std::unordered_map<detail::task_core*, std::shared_ptr<detail::task_core>> unfinished;
  bool running = false;
  bool stopping = false;
  bool closed = false;

  // Arms epoll for exactly the directions somebody waits for.
  void rearm(int fd, fd_watch& w) {
    const std::uint32_t want = (w.reader ? EPOLLIN : 0u) | (w.writer ? EPOLLOUT : 0u);
    if (want == w.armed) return;
    epoll_event ev{};
    ev.events = want | EPOLLONESHOT;
    ev.data.fd = fd;
    // MOD fails with ENOENT when the fd was closed (and its number perhaps
    // reused) since it was added: add it afresh.
    int rc = w.added ? ::epoll_ctl(epoll_fd, EPOLL_CTL_MOD, fd, &ev) : -1;
    if (!w.added || (rc != 0 && errno == ENOENT))
      rc = ::epoll_ctl(epoll_fd, EPOLL_CTL_ADD, fd, &ev);
    if (rc != 0) {
      if (want == 0 && (errno == EBADF || errno == ENOENT)) {  // closed: nothing to disarm
        w.armed = 0;
        return;
      }
      throw_errno("tandem: epoll_ctl on file descriptor " + std::to_string(fd));
    }
    w.added = true;
    w.armed = want;
  }

  void wake_waiter(int fd, bool writable) {
    auto it = fds.find(fd);
    if (it == fds.end()) return;
    auto& waker = writable ? it->second.writer : it->second.reader;
    if (waker) waker();
  }

  // A waiter leaves. If it leaves without an event (cancelled), its
  // direction is still armed: disarm it now, since the fd may be closed and
  // its number reused before anybody waits on it again.
  void forget_waiter(int fd, fd_watch& w, bool writable) {
    (writable ? w.writer : w.reader) = nullptr;
    if ((w.armed & (writable ? EPOLLOUT : EPOLLIN)) == 0) return;
    try {
      rearm(fd, w);
    } catch (const std::system_error&) {
      w.armed = 0;  // the fd is gone; epoll forgot it with it
    }
  }

  // One iteration: take in I/O readiness and posted callbacks, then run
  // what was ready at that moment, in order, then the timers that were due
  // at that moment, in deadline order. asyncio moves the due timers to the
  // end of its ready queue first, which comes to the same order; firing
  // them from the heap spares a million due timers a trip through the ring.
  void run_once() {
    // With work ready, asking the kernel about I/O every iteration (asyncio
    // does) would cost a system call per task switch or two. Once per 256
    // items run keeps I/O served: every iteration when iterations are long.
    if (ready.empty() || stopping || items_since_poll >= 256) {
      items_since_poll = 0;
      poll_io();
    }
    if (has_posted.load(std::memory_order_acquire)) {
      std::lock_guard lock(posted_mutex);
      for (auto& cb : posted) ready.push_callback(std::move(cb));
      posted.clear();
      has_posted.store(false, std::memory_order_relaxed);
    }
    sweep_cancelled_timers();
    std::int64_t due_by = 0;
    bool timers_due = false;
    if (!timers.empty()) {
      due_by = clock::now().time_since_epoch().count();
      timers_due = timers.top().when <= due_by;
    }
    const std::uint64_t scheduled_before = timer_seq;
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
    if (timers_due) fire_due_timers(due_by, scheduled_before);
  }

  // Fires the timers due by `due_by` that were scheduled before this
  // iteration began; those scheduled since wait for the next one, as in
  // asyncio (only call_at with a past deadline can put one of them among
  // the due).
  void fire_due_timers(std::int64_t due_by, std::uint64_t scheduled_before) {
    std::vector<detail::timer_heap::entry> held_over;
    try {
      while (!timers.empty() && timers.top().when <= due_by) {
        const detail::timer_heap::entry e = timers.pop();
        // The next one's record is most likely a cache miss: start it now.
        if (!timers.empty()) __builtin_prefetch(timers.top().record);
        if (e.record->seq >= scheduled_before) {
          held_over.push_back(e);
          continue;
        }
        e.record->cancelled_in_heap = nullptr;
        if (e.record->cancelled) --cancelled_timers;
        fire(e.record);
      }
    } catch (...) {  // a callback threw: the rest stay scheduled
      for (const auto& e : held_over) timers.push(e);
      throw;
    }
    for (const auto& e : held_over) timers.push(e);
  }

  // Cancelled timers stay in the heap until their deadline, as in asyncio;
  // when they are half of it, one linear pass sweeps them out. Checked
  // every iteration, due timers or not, as asyncio does: a loop whose
  // timeouts are mostly cancelled early must not hoard them.
  void sweep_cancelled_timers() {
    if (cancelled_timers <= 64 || 2 * cancelled_timers <= timers.size()) return;
    timers.remove_if([](detail::timer_record* r) {
      if (!r->cancelled) return false;
      r->cancelled_in_heap = nullptr;
      detail::release_timer(r);
      return true;
    });
    cancelled_timers = 0;
  }

  // Runs a timer's callback, unless it was cancelled, and drops the loop's
  // reference, even if the callback throws.
  static void fire(detail::timer_record* r) {
    struct finish {  // however the callback ends: drop it, then the reference
      detail::timer_record* r;
      ~finish() {
        r->firing = false;
        r->drop_callback();
        detail::release_timer(r);
      }
    } guard{r};
    if (r->cancelled) return;  // its callback is gone already
    r->firing = true;          // a cancel() from inside it must not destroy it
    r->invoke(*r);
  }

  // Empties the heap (close): its timers will never run.
  void drop_timers() noexcept {
    timers.remove_if([](detail::timer_record* r) {
      r->cancelled_in_heap = nullptr;
      r->drop_callback();  // a handle may keep the record: not its captures
      detail::release_timer(r);
      return true;
    });
    cancelled_timers = 0;
  }

  // Waits for I/O until the next timer; not at all when work is ready.
  void poll_io() {
    int timeout_ms = -1;
    if (!ready.empty() || stopping || has_posted.load(std::memory_order_acquire)) {
      timeout_ms = 0;
    } else if (!timers.empty()) {
      const auto wait = clock::duration(timers.top().when) - clock::now().time_since_epoch();
      timeout_ms = wait <= clock::duration::zero()
                       ? 0
                       : static_cast<int>(std::min<std::int64_t>(
                             std::chrono::ceil<std::chrono::milliseconds>(wait).count(), 1 << 30));
    }
    epoll_event events[64];
    const int n = ::epoll_wait(epoll_fd, events, 64, timeout_ms);
    if (n < 0 && errno != EINTR) throw_errno("tandem: epoll_wait");
    for (int i = 0; i < n; ++i) {
      const int fd = events[i].data.fd;
      if (fd == wake_fd) {
        std::uint64_t count;
        [[maybe_unused]] auto r = ::read(wake_fd, &count, sizeof count);
        continue;
      }
      auto it = fds.find(fd);
      if (it == fds.end()) continue;
      fd_watch& w = it->second;
      w.armed = 0;  // one-shot: the kernel disarmed it
      const std::uint32_t e = events[i].events;
      const bool trouble = (e & (EPOLLERR | EPOLLHUP)) != 0;
      const bool readable = w.reader && ((e & EPOLLIN) || trouble);
      const bool writable = w.writer && ((e & EPOLLOUT) || trouble);
      // Queue a look-up, not a copy of the waker: by the time this runs the
      // waiter may have left (cancelled), and its waker must not run then.
      if (readable) ready.push_callback([this, fd] { wake_waiter(fd, false); });
      if (writable) ready.push_callback([this, fd] { wake_waiter(fd, true); });
      if ((w.reader && !readable) || (w.writer && !writable)) {
        // The other direction still waits: arm it alone.
        std::function<void()> woken_reader = readable ? std::move(w.reader) : nullptr;
        std::function<void()> woken_writer = writable ? std::move(w.writer) : nullptr;
        bool rearmed = true;
        try {
          rearm(fd, w);
        } catch (const std::system_error&) {
          rearmed = false;  // e.g. the fd was closed under its waiters
        }
        if (readable) w.reader = std::move(woken_reader);
        if (writable) w.writer = std::move(woken_writer);
        if (!rearmed) {
          // Wake whoever still waits: its next read or write reports the
          // error. The rest of this batch is handled as usual.
          w.armed = 0;
          if (!readable && w.reader) ready.push_callback([this, fd] { wake_waiter(fd, false); });
          if (!writable && w.writer) ready.push_callback([this, fd] { wake_waiter(fd, true); });
        }
      }
    }
  }
};

// No closed-loop check: close() empties the queue and no task can be
// scheduled after it (every task is done by then).
inline void event_loop::queue_step(detail::task_core* t) { impl_->ready.push_task(t); }

namespace detail {

namespace {
[[noreturn]] void throw_outside_a_task() {
  throw std::logic_error("tandem: a suspending call was made outside a task");
}
// current_task() for this file's hot paths, inlined.
inline task_core& running() {
  if (running_task == nullptr) [[unlikely]]
    throw_outside_a_task();
  return *running_task;
}
}  // namespace

namespace {
// A generator coroutine running inside the task is on another stack and
// cannot suspend the task.
void refuse_inside_generator(const task_core& t) {
  if (!t.can_suspend_here())
    throw std::logic_error(
        "tandem: a suspending call was made inside a generator coroutine, not directly in a task");
}
}  // namespace

task_core& current_task() { return running(); }

inline void task_core::schedule_step() {
  if (step_scheduled_) return;
  step_scheduled_ = true;
  // A raw pointer: the loop holds every unfinished task, and a task only
  // finishes inside its own step, with no other step queued (see finish).
  loop_->queue_step(this);
}

// Inlined where the hot paths suspend (sleep_for(0s)): every function
// whose frame is live across a stack switch costs a mispredicted return
// when it resumes, since the return predictor was filled by the code that
// ran on the other stack.
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
  // Throws logic_error if this is not the task's own stack (a generator
  // coroutine running inside the task).
  std::uintptr_t nothing = 0;
  detail::suspend(t.frame_, nothing, /*stack_checked=*/true);  // refuse_inside_generator did
  if (t.cancel_pending_) {
    t.cancel_pending_ = false;
    throw cancelled_error{};
  }
}

void suspend(suspension& s) { task_core::suspend_running(s); }

std::function<void()> task_core::waker(const suspension& s) {
  // The suspension's id: a waker from an earlier wait cannot resume a later one.
  auto& mutable_s = const_cast<suspension&>(s);
  if (mutable_s.id == 0) mutable_s.id = ++next_suspension_id_;
  return [weak = weak_from_this(), id = mutable_s.id] {
    auto t = weak.lock();
    if (t && t->waiting_ != nullptr && t->waiting_->id == id) t->schedule_step();
  };
}

task_core::~task_core() {
  if (status_ == status::failed && !retrieved_)
    std::fprintf(stderr, "tandem: task exception was never retrieved: %s\n",
                 describe(failure_).c_str());
}

bool task_core::cancel() {
  if (done()) return false;
  if (status_ == status::pending) {
    cancel_pending_ = true;  // its first step finishes it as cancelled
    return true;
  }
  if (waiting_ == nullptr) {  // running: its next suspension throws
    cancel_pending_ = true;
    return true;
  }
  // await, gather and wait_for pass the cancellation on and keep waiting;
  // if there is nothing left to cancel (what they wait for just finished),
  // the cancellation is this task's own.
  // A cancellation that comes back around while being forwarded (tasks
  // awaiting each other in a cycle) stops here, as this task's own.
  if (waiting_->forward && !forwarding_cancel_) {
    forwarding_cancel_ = true;
    struct reset {
      bool& flag;
      ~reset() { flag = false; }
    } guard{forwarding_cancel_};
    if (waiting_->forward()) return true;
  }
  cancel_pending_ = true;
  schedule_step();
  return true;
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

void task_core::when_done(std::function<void()> cb) {
  if (done()) {
    loop_->call_soon(std::move(cb));
  } else {
    done_callbacks_.push_back(std::move(cb));
  }
}

// Inlined into run_once, so that no return into the loop's code follows the
// switch back from the task (see suspend_running).
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

void task_core::finish(status s, std::exception_ptr e) {
  if (step_scheduled_) {  // the invariant schedule_step's raw pointer rests on
    std::fputs("tandem: internal error: a task finished with a step still queued\n", stderr);
    std::abort();
  }
  status_ = s;
  failure_ = std::move(e);
  body_.reset();  // a finished body's stack goes back to the pool
  auto callbacks = std::move(done_callbacks_);
  done_callbacks_.clear();
  for (auto& cb : callbacks) loop_->call_soon(std::move(cb));
  loop_->forget(this);  // may drop the loop's reference: last statement
}

void task_core::leave_wait() noexcept {
  if (waiting_ == nullptr || !waiting_->undo) return;
  const auto undo = std::exchange(waiting_->undo, {});  // the unwinding's end of the wait skips it
  undo();
}

void task_core::abandon() noexcept {
  status_ = status::cancelled;
  done_callbacks_.clear();
  body_.reset();  // a suspended body unwinds: coroutine_exit at its suspension
}

// The analyzer loses track of the std::function storage that the callback
// lists own, and reports a leak at the end of this function.
// NOLINTBEGIN(clang-analyzer-cplusplus.NewDeleteLeaks)
int gather_wait(task_core* const* cores, std::size_t n) {
  task_core& me = current_task();
  auto order = std::make_shared<std::vector<std::size_t>>();  // completion order
  // asyncio: once a cancellation was passed on to the gathered tasks, the
  // gather ends in cancelled_error, even if they all caught it and returned.
  bool cancel_passed_on = false;
  auto forward = [cores, n, &cancel_passed_on] {
    bool taken = false;
    for (std::size_t i = 0; i < n; ++i) taken = cores[i]->cancel() || taken;
    cancel_passed_on = cancel_passed_on || taken;
    return taken;
  };
  suspension s;
  s.forward = forward;
  for (std::size_t i = 0; i < n; ++i) {
    if (cores[i]->done()) {
      order->push_back(i);
    } else {
      cores[i]->when_done([order, i, wake = me.waker(s)] {
        order->push_back(i);
        wake();
      });
    }
  }
  for (;;) {
    for (std::size_t i : *order)
      if (!cores[i]->succeeded()) return static_cast<int>(i);
    if (order->size() == n) {
      if (cancel_passed_on) throw cancelled_error{};
      return -1;
    }
    suspend(s);
  }
}
// NOLINTEND(clang-analyzer-cplusplus.NewDeleteLeaks)

bool wait_with_deadline(task_core& core, clock::duration timeout) {
  task_core& me = current_task();
  if (&core == &me) throw std::logic_error("tandem::wait_for: a task cannot wait for itself");
  if (core.done()) return false;
  refuse_inside_generator(me);  // before the timeout can cancel anything
  auto timed_out = std::make_shared<bool>(false);
  auto self = core.shared_from_this();
  if (timeout <= clock::duration::zero()) {  // no time at all: cancel now
    *timed_out = true;
    core.cancel();
  }
  auto timer = core.loop().call_later(timeout, [timed_out, self] {
    *timed_out = true;
    self->cancel();
  });
  auto forward = [&self] { return self->cancel(); };
  auto undo = [&timer] { timer.cancel(); };
  suspension s;
  s.forward = forward;
  s.undo = undo;
  core.when_done(me.waker(s));
  while (!core.done()) suspend(s);
  return *timed_out;
}

void wait_list::wait(bool pass_on_wakeup) {
  task_core& me = current_task();
  suspension s;
  auto it = wakers_.insert(wakers_.end(), me.local_waker(s));
  bool listed = true;
  bool woken = false;
  auto undo = [this, it, &listed] {
    if (listed) wakers_.erase(it);
    listed = false;
  };
  s.undo = undo;
  // wake_one/wake_all take the waker off the list before calling it.
  *it = [this, it, &listed, &woken, wake = *it] {
    wakers_.erase(it);
    listed = false;
    woken = true;
    wake();
  };
  try {
    suspend(s);
  } catch (...) {
    // Woken, then cancelled before it ran: the wake-up (an item, a free
    // slot) goes to the next waiter instead of being lost. A waiter that
    // was never woken has nothing to pass on.
    if (woken && pass_on_wakeup) wake_one();
    throw;
  }
}

void wait_list::wake_one() {
  if (!wakers_.empty()) {
    auto wake = wakers_.front();  // copy: calling it erases the node
    wake();
  }
}

void wait_list::wake_all() {
  while (!wakers_.empty()) {
    auto wake = wakers_.front();
    wake();
  }
}

}  // namespace detail

event_loop::event_loop() : impl_(std::make_unique<impl>()) {
  impl_->epoll_fd = ::epoll_create1(EPOLL_CLOEXEC);
  if (impl_->epoll_fd < 0) throw_errno("tandem::event_loop: epoll_create1");
  impl_->wake_fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (impl_->wake_fd < 0) {
    ::close(impl_->epoll_fd);
    throw_errno("tandem::event_loop: eventfd");
  }
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = impl_->wake_fd;
  ::epoll_ctl(impl_->epoll_fd, EPOLL_CTL_ADD, impl_->wake_fd, &ev);
}

event_loop::~event_loop() {
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

void event_loop::check_can_run(const char* operation) const {
  check_open(operation);
  if (impl_->running)
    throw std::logic_error(std::string("tandem::event_loop::") + operation +
                           ": the loop is already running");
}

void event_loop::adopt(std::shared_ptr<detail::task_core> t) {
  auto* raw = t.get();
  raw->serial_ = impl_->next_task_serial++;
  impl_->unfinished.emplace(raw, t);
  raw->step_scheduled_ = true;
  queue_step(raw);  // the loop's reference in `unfinished` keeps it alive
}

void event_loop::forget(detail::task_core* t) { impl_->unfinished.erase(t); }

void event_loop::run_until_done(detail::task_core& t) {
  event_loop* const outer = running_loop;
  running_loop = this;
  impl_->running = true;
  impl_->stopping = false;
  try {
    while (!t.done() && !impl_->stopping) impl_->run_once();
  } catch (...) {
    impl_->running = false;
    running_loop = outer;
    throw;
  }
  impl_->running = false;
  impl_->stopping = false;
  running_loop = outer;
  if (!t.done()) throw std::runtime_error("tandem::event_loop: stopped before the task was done");
}

void event_loop::run_forever() {
  check_can_run("run_forever");
  event_loop* const outer = running_loop;
  running_loop = this;
  impl_->running = true;
  try {
    // One iteration at least: asyncio's stop() before run_forever() lets
    // the loop run what is ready once, then return.
    do {
      impl_->run_once();
    } while (!impl_->stopping);
  } catch (...) {
    impl_->running = false;
    impl_->stopping = false;
    running_loop = outer;
    throw;
  }
  impl_->running = false;
  impl_->stopping = false;
  running_loop = outer;
}

void event_loop::stop() { impl_->stopping = true; }

void event_loop::close() {
  if (impl_->closed) return;
  if (impl_->running) throw std::logic_error("tandem::event_loop::close: the loop is running");
  // Two phases. First every suspended task leaves what it waits in: those
  // registrations may live on other tasks' stacks, all still intact now.
  // Then the tasks unwind, newest first, as nested scopes would.
  std::vector<std::shared_ptr<detail::task_core>> tasks;
  tasks.reserve(impl_->unfinished.size());
  for (auto& entry : impl_->unfinished) tasks.push_back(entry.second);
  impl_->unfinished.clear();
  std::sort(tasks.begin(), tasks.end(),
            [](const auto& a, const auto& b) { return a->serial_ > b->serial_; });
  for (auto& t : tasks) t->leave_wait();
  for (auto& t : tasks) t->abandon();
  impl_->ready.clear();
  impl_->drop_timers();
  impl_->fds.clear();
  {
    std::lock_guard lock(impl_->posted_mutex);  // against call_soon_threadsafe
    impl_->closed = true;
    impl_->posted.clear();
    ::close(impl_->wake_fd);
    impl_->wake_fd = -1;
  }
  ::close(impl_->epoll_fd);
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
  {
    std::lock_guard lock(impl_->posted_mutex);
    if (impl_->closed)
      throw std::logic_error("tandem::event_loop::call_soon_threadsafe: the loop is closed");
    impl_->posted.push_back(std::move(cb));
    impl_->has_posted.store(true, std::memory_order_release);
    // Under the lock, so that close() cannot close the eventfd (and the
    // number be reused) between the check above and this write.
    const std::uint64_t one = 1;
    [[maybe_unused]] auto r = ::write(impl_->wake_fd, &one, sizeof one);
  }
}

void event_loop::throw_empty_callback(const char* operation) {
  throw std::invalid_argument(std::string("tandem::event_loop::") + operation +
                              ": the callback is empty");
}

timer_handle event_loop::schedule(clock::time_point t,
                                  std::unique_ptr<detail::timer_record> record) {
  record->seq = impl_->timer_seq++;
  record->cancelled_in_heap = &impl_->cancelled_timers;
  impl_->timers.push({t.time_since_epoch().count(), record.get()});
  ++record->refs;  // the heap's, and the handle's
  return timer_handle(record.release());
}

clock::time_point event_loop::time() const { return clock::now(); }

std::function<void()> event_loop::watch_fd(int fd, bool writable, std::function<void()> waker) {
  check_open(writable ? "wait_writable" : "wait_readable");
  auto& w = impl_->fds[fd];
  auto& slot = writable ? w.writer : w.reader;
  if (slot)
    throw std::logic_error(std::string("tandem::") +
                           (writable ? "wait_writable" : "wait_readable") +
                           ": another task already waits on file descriptor " + std::to_string(fd));
  slot = std::move(waker);
  try {
    impl_->rearm(fd, w);
  } catch (...) {
    slot = nullptr;
    throw;
  }
  return [this, fd, writable] {
    auto it = impl_->fds.find(fd);
    if (it == impl_->fds.end()) return;
    impl_->forget_waiter(fd, it->second, writable);
  };
}

namespace detail {
void delete_timer(timer_record* r) noexcept { delete r; }

void cancel_timer(timer_record& r) noexcept {
  if (r.cancelled) return;
  r.cancelled = true;
  if (!r.firing) r.drop_callback();  // what it holds is let go now, as asyncio does
  if (r.cancelled_in_heap != nullptr) ++*r.cancelled_in_heap;
}
}  // namespace detail

event_loop& current_loop() {
  if (running_task != nullptr) return running_task->loop();
  if (running_loop == nullptr)
    throw std::logic_error(
        "tandem::current_loop: not inside a task or a callback of a running loop");
  return *running_loop;
}

namespace {
// asyncio's sleep(0): the task goes to the back of the ready queue, behind
// every task that is ready now.
[[gnu::always_inline]] inline void yield_to_ready_tasks() {
  detail::suspension s;
  s.requeue = true;
  detail::task_core::suspend_running(s);
}
}  // namespace

void sleep_until(clock::time_point t) {
  if (t <= clock::now()) return yield_to_ready_tasks();
  detail::task_core& me = detail::current_task();
  detail::suspension s;
  auto timer = me.loop().call_at(t, me.local_waker(s));
  auto undo = [&timer] { timer.cancel(); };
  s.undo = undo;
  detail::suspend(s);
}

void sleep_for(clock::duration d) {
  if (d <= clock::duration::zero()) return yield_to_ready_tasks();
  sleep_until(detail::deadline_after(clock::now(), d));
}

namespace {
void wait_fd(int fd, bool writable) {
  detail::task_core& me = detail::current_task();
  detail::suspension s;
  const std::function<void()> unwatch = me.loop().watch_fd(fd, writable, me.local_waker(s));
  s.undo = unwatch;
  detail::suspend(s);
}
}  // namespace

void wait_readable(int fd) { wait_fd(fd, false); }
void wait_writable(int fd) { wait_fd(fd, true); }

}  // namespace tandem
