// Waiting inside a task (tandem/wait.hpp): sleep, gather, wait_for.
#include "tandem/wait.hpp"

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <new>
#include <optional>
#include <stdexcept>
#include <utility>
#include <vector>

#include "tandem/detail/wait_list.hpp"
#include "tandem/loop.hpp"
#include "task_switch.hpp"

namespace tandem {
namespace detail {
namespace {

// The done-callbacks a wait registered, taken back however the wait ends
// (returned, timed out, cancelled, thrown): a task that outlives the wait
// keeps none of them.
class callbacks_taken_back {
 public:
  callbacks_taken_back() = default;
  callbacks_taken_back(const callbacks_taken_back&) = delete;
  callbacks_taken_back& operator=(const callbacks_taken_back&) = delete;
  ~callbacks_taken_back() {
    for (const auto& [core, key] : held_) core->forget_done_callback(key);
  }
  void add(task_core& core, std::function<void()> cb) {
    held_.reserve(held_.size() + 1);  // so that recording the key cannot throw
    if (const std::uint64_t key = core.when_done(std::move(cb)); key != 0)
      held_.emplace_back(&core, key);
  }

 private:
  std::vector<std::pair<task_core*, std::uint64_t>> held_;
};

// A task listed among those it waits for would wait for its own end, which
// cannot come while it waits: refused with std::logic_error, as await(self)
// and wait_for(self) are, rather than hang (CPython 3.11's gather and wait
// hang there). Checked before anything is waited, registered or cancelled.
void refuse_waiting_for_itself(const task_core& me, task_core* const* cores, std::size_t n,
                               const char* message) {
  for (std::size_t i = 0; i < n; ++i)
    if (cores[i] == &me) [[unlikely]]
      throw std::logic_error(message);
}

}  // namespace

// The analyzer loses track of the std::function storage that the callback
// lists own, and reports a leak at the end of this function.
// NOLINTBEGIN(clang-analyzer-cplusplus.NewDeleteLeaks)
int gather_wait(task_core* const* cores, std::size_t n) {
  task_core& me = current_task();
  // Before anything is registered or passed on (see refuse_waiting_for_itself).
  refuse_waiting_for_itself(me, cores, n, "tandem::gather: a task cannot gather itself");
  // Before the guard below: a gather refused gathered nothing, so it must
  // not mark the listed tasks' exceptions as retrieved (a later failure of
  // theirs that nobody retrieves is reported).
  for (std::size_t i = 0; i < n; ++i) check_same_loop(me.loop(), *cores[i], "tandem::gather");
  auto order = std::make_shared<std::vector<std::size_t>>();  // completion order
  // Room for every index now: the done-callbacks record them from the
  // loop, where a bad_alloc would leave its run with this wait not woken.
  order->reserve(n);
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
  // A gather that ends early (a failure, or cancelled) stands for every task
  // it gathered, as asyncio's does: it retrieves the exceptions of those
  // that fail after it, so none is reported as never retrieved.
  struct retrieved_if_left_early {
    task_core* const* cores;
    std::size_t n;
    bool completed = false;
    ~retrieved_if_left_early() {
      if (!completed)
        for (std::size_t i = 0; i < n; ++i) cores[i]->mark_retrieved();
    }
  } gathered{cores, n};
  callbacks_taken_back callbacks;  // a failure ends the gather before the others
  for (std::size_t i = 0; i < n; ++i) {
    if (cores[i]->done()) {
      order->push_back(i);
    } else {
      callbacks.add(*cores[i], [order, i, wake = me.waker(s)] {
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
      gathered.completed = true;
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
  check_same_loop(me.loop(), core, "tandem::wait_for");
  refuse_inside_generator(me);  // before the timeout can cancel anything
  auto timed_out = std::make_shared<bool>(false);
  auto self = core.shared_from_this();
  if (timeout <= clock::duration::zero()) {  // no time at all: cancel now
    *timed_out = true;
    core.cancel();
  }
  std::optional<timer_handle> timer;  // none when cancelled already: once is enough
  if (!*timed_out)
    timer = core.loop().call_later(timeout, [timed_out, self] {
      *timed_out = true;
      self->cancel();
    });
  bool cancelled_from_outside = false;
  auto forward = [&self, &cancelled_from_outside] {
    cancelled_from_outside = true;
    return self->cancel();
  };
  auto undo = [&timer] {
    if (timer) timer->cancel();
  };
  suspension s;
  s.forward = forward;
  s.undo = undo;
  const done_callback_taken_back wake(core, me.waker(s));
  while (!core.done()) suspend(s);
  // A cancellation from outside was passed on to the task, which has
  // finished: the wait ends in it, however the task ended (asyncio 3.11's
  // wait_for raises it once the task is done), as gather's does. Returning
  // the value of a task that caught it would lose the cancellation.
  if (cancelled_from_outside) throw cancelled_error{};
  return *timed_out;
}

void wait_until(task_core* const* cores, std::size_t n, return_when when,
                std::optional<clock::duration> timeout) {
  task_core& me = current_task();
  // Even where `when` holds already, or a timeout would end the wait: the
  // list is refused whatever the others' state, as wait_for(self, timeout).
  refuse_waiting_for_itself(me, cores, n, "tandem::wait: a task cannot wait for itself");
  auto satisfied = [&] {
    std::size_t done = 0;
    for (std::size_t i = 0; i < n; ++i) {
      if (!cores[i]->done()) continue;
      ++done;
      if (when == return_when::first_completed) return true;
      if (when == return_when::first_exception && cores[i]->failed()) return true;
    }
    return done == n;
  };
  if (satisfied()) return;
  for (std::size_t i = 0; i < n; ++i) check_same_loop(me.loop(), *cores[i], "tandem::wait");
  refuse_inside_generator(me);
  suspension s;
  const auto wake = me.waker(s);
  callbacks_taken_back callbacks;  // first_completed, a timeout: the others run on
  for (std::size_t i = 0; i < n; ++i)
    if (!cores[i]->done()) callbacks.add(*cores[i], wake);
  bool timed_out = false;
  std::optional<timer_handle> timer;
  struct cancel_timer_on_exit {  // however the wait ends
    std::optional<timer_handle>& timer;
    ~cancel_timer_on_exit() {
      if (timer) timer->cancel();
    }
  } guard{timer};
  if (timeout)
    timer = me.loop().call_later(*timeout, [&timed_out, wake] {
      timed_out = true;
      wake();
    });
  while (!satisfied() && !timed_out) suspend(s);
}

// as_completed's indices of finished tasks, and the task waiting for one.
// Each task's index comes once: room for all is reserved at the start, so
// that a done-callback, which runs from the loop, does not allocate (a
// bad_alloc there would leave the loop's run with the waiter not woken).
struct completion_order::finished_list {
  std::vector<std::size_t> indices;
  std::size_t taken = 0;  // indices handed out: the next is indices[taken]
  bool empty() const noexcept { return taken == indices.size(); }
  wait_list waiter;
};

completion_order::completion_order(std::vector<std::shared_ptr<task_core>> cores,
                                   std::optional<clock::duration> timeout)
    : finished_(std::make_shared<finished_list>()),
      deadline_(timeout ? deadline_after(clock::now(), *timeout) : clock::time_point::max()) {
  callbacks_.reserve(cores.size());
  finished_->indices.reserve(cores.size());
  for (std::size_t i = 0; i < cores.size(); ++i) {
    const std::uint64_t key =
        cores[i]->when_done([finished = std::weak_ptr<finished_list>(finished_), i] {
          if (const auto list = finished.lock()) {
            list->indices.push_back(i);
            list->waiter.wake_one();
          }
        });
    callbacks_.emplace_back(std::move(cores[i]), key);  // key 0: done, nothing to take back
  }
}

completion_order::~completion_order() {
  for (const auto& [core, key] : callbacks_)
    if (key != 0) core->forget_done_callback(key);
}

std::size_t completion_order::next() {
  finished_list& list = *finished_;
  const bool must_wait = list.empty();
  // The first call, and every one that waits: a listed task that iterates
  // could only end waiting for its own end (refuse_waiting_for_itself), so
  // it is refused before any task is handed back, and before any wait.
  if (must_wait || !checked_for_itself_) {
    const task_core* const me = must_wait ? &current_task() : running_task_or_null();
    if (me != nullptr) {
      for (const auto& [core, key] : callbacks_) {
        if (core->done()) continue;
        if (core.get() == me) [[unlikely]]
          throw std::logic_error("tandem::as_completed: a task cannot wait for itself");
        if (must_wait) check_same_loop(me->loop(), *core, "tandem::as_completed");
      }
    }
    checked_for_itself_ = true;
  }
  if (must_wait) {
    const auto wait = [&list] {
      while (list.empty()) list.waiter.wait();
    };
    if (deadline_ == clock::time_point::max()) {
      wait();
    } else {
      timeout_at(deadline_, wait);
    }
  }
  return list.indices[list.taken++];
}

}  // namespace detail

struct timeout_scope::state {
  detail::task_core& task;
  std::uint32_t cancelling_at_entry;
  clock::time_point deadline;
  bool expired = false;
  std::optional<timer_handle> timer;  // none: no deadline

  void arm() {
    if (timer) timer->cancel();  // the earlier deadline's
    timer.reset();
    if (deadline == clock::time_point::max()) return;
    timer = task.loop().call_at(deadline, [this] {
      expired = true;
      task.cancel();
    });
  }
};

timeout_scope::state& timeout_scope::get() noexcept {
  return *std::launder(reinterpret_cast<state*>(storage_));
}
const timeout_scope::state& timeout_scope::get() const noexcept {
  return *std::launder(reinterpret_cast<const state*>(storage_));
}

timeout_scope::timeout_scope(clock::time_point deadline) {
  static_assert(sizeof(state) <= sizeof storage_ && alignof(state) <= 8,
                "timeout_scope::storage_ must hold its state");
  detail::task_core& me = detail::current_task();  // logic_error outside a task
  state* s = ::new (static_cast<void*>(storage_)) state{me, me.cancelling(), deadline, false, {}};
  try {
    s->arm();
  } catch (...) {
    s->~state();
    throw;
  }
}

timeout_scope::~timeout_scope() {
  state& s = get();
  if (s.timer) s.timer->cancel();
  s.~state();
}

clock::time_point timeout_scope::when() const noexcept { return get().deadline; }
bool timeout_scope::expired() const noexcept { return get().expired; }

void timeout_scope::reschedule(clock::time_point deadline) {
  state& s = get();
  if (s.expired)
    throw std::logic_error("tandem::timeout_scope::reschedule: the timeout has expired");
  s.deadline = deadline;
  s.arm();
}

void timeout_scope::returned() noexcept {
  state& s = get();
  if (s.expired) s.task.uncancel();
}

void timeout_scope::cancelled() {
  // Ours, and none from outside left: the deadline is what cancelled fn.
  state& s = get();
  if (s.expired && s.task.uncancel() <= s.cancelling_at_entry) throw timeout_error();
  throw;
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

}  // namespace tandem
