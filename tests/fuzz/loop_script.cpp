// The event-loop half of the fuzz harness.
//
// Timing decides the interleaving (timers, wait_for deadlines), so the
// checks are the loop rules' promises that hold under every interleaving: what
// await, gather and wait_for return agrees with how the awaited task
// ended; a task cancelled before it started never runs; the queue hands
// out exactly what went in, in order; no waiter sleeps through what it
// waits for; a mutex has one holder at a time and is never left unlocked
// with a waiter; a timeout ends in time, in timeout_error, or cancelled from
// outside; callbacks and equal-deadline timers run in FIFO order; close()
// cancels, then unwinds, every unfinished task. The newer toolkit
// (loop_worker_groups.cpp, loop_worker_locks.cpp, loop_worker_system.cpp)
// is held to the same standard: task groups, wait and gather over vectors,
// semaphores, the condition, to_thread and signal handlers. The input is
// read only by the driver and when a worker is spawned, never at a moment
// timing chooses.
//
// Nothing can wait forever: the driver never blocks; workers await only
// earlier workers (no cycles); at the end of a script the driver cancels
// every unfinished worker until none is left, or leaves them to close().
#include "loop_script.hpp"

#include <array>
#include <chrono>
#include <cstdint>
#include <thread>

#include "loop_script_state.hpp"

namespace fuzz {
namespace script {

using namespace std::chrono_literals;

int loop_script::timed(int us) {
  if (us <= 0 || timed_left_ == 0) return 0;
  --timed_left_;
  return us;
}

void loop_script::run() {
  loop_thread_ = std::this_thread::get_id();
  install_stray_handlers();
  base_ = loop_.time();
  driver_ = loop_.create_task([this] { return drive(); });
  FUZZ_CHECK(observe([&] { return loop_.run_until_complete(driver_); }) == returned(driver_value));
  FUZZ_CHECK(!loop_.is_running());

  closing_ = true;
  loop_.close();
  loop_.close();  // a second close does nothing
  FUZZ_CHECK(loop_.is_closed());
  FUZZ_CHECK(live_tasks_ == 0);  // every unfinished task's stack was unwound
  for (int j = 0; j < worker_count_; ++j) {
    FUZZ_CHECK(workers_[j].handle.done());
    // close() cancels first, so an unfinished worker may end in any way a
    // cancellation allows (its shield returns; an await forwarded the
    // cancellation to a task that returned, and it went on): check_final
    // holds it to what its function did.
    check_final(j, true);
  }

  // close() waited for the fns running on its threads; the handlers'
  // dispositions from before are back; every permit is back.
  FUZZ_CHECK(thread_fns_started_.load() == thread_fns_finished_.load());
  check_and_restore_dispositions();
  for (int k = 0; k < 2; ++k)
    FUZZ_CHECK(holders_[k] == 0 && static_cast<int>(semaphore_of(k).value()) == permits_[k]);

  // A closed loop refuses work (section 5).
  FUZZ_CHECK(observe([&] { return loop_.create_task([] { return 0; }).done(); }).what ==
             kind::misuse);
  FUZZ_CHECK(observe([&] { loop_.call_soon([] {}); }).what == kind::misuse);
  FUZZ_CHECK(observe([&] { loop_.call_soon_threadsafe([] {}); }).what == kind::misuse);
  FUZZ_CHECK(observe([&] { return loop_.run_until_complete([] { return 0; }); }).what ==
             kind::misuse);

  // What the tasks left in the queue comes out in the order it went in.
  while (auto item = queue_.try_get()) take_item(*item);
  FUZZ_CHECK(mirror_.empty());
}

int loop_script::drive() {
  FUZZ_CHECK(&tandem::current_loop() == &loop_);
  bool finish = true;
  while (in_.take_operation()) {
    const int op = in_.pick(d_count);
    if (op == d_end) {
      finish = (in_.byte() & 1) == 0;  // or leave the unfinished ones to close()
      break;
    }
    drive_one(op);
    check_queue();
  }
  if (finish) settle();
  return driver_value;
}

void loop_script::drive_one(int op) {
  switch (op) {
    case d_spawn:
      spawn();
      break;
    case d_cancel: {
      const int j = in_.byte();
      if (worker_count_ > 0) cancel_worker(j % worker_count_);
      break;
    }
    case d_sleep0: {
      // A created task starts on a later iteration, and sleep_for(0)
      // lets every ready task run once (a negative duration counts as 0).
      std::array<bool, max_workers> pending{};
      for (int j = 0; j < worker_count_; ++j)
        pending[j] = !workers_[j].started && !workers_[j].handle.done();
      const int how = in_.pick(3);
      FUZZ_CHECK(observe([&] {
                   if (how == 0) tandem::sleep_for(0s);
                   if (how == 1) tandem::sleep_for(-1ms);
                   if (how == 2) tandem::sleep_until(loop_.time());
                 }) == returned());
      for (int j = 0; j < worker_count_; ++j) {
        const worker& w = workers_[j];
        if (pending[j]) FUZZ_CHECK(w.started || (w.handle.done() && w.handle.cancelled()));
      }
      break;
    }
    case d_sleep_us: {
      const int us = timed(in_.pick(101));
      FUZZ_CHECK(observe([&] { tandem::sleep_for(std::chrono::microseconds(us)); }) == returned());
      break;
    }
    case d_peek: {
      const int j = in_.byte();
      if (worker_count_ == 0) break;
      const int t = j % worker_count_;
      tandem::task<int>& h = workers_[t].handle;
      if (h.done()) {
        check_final(t, false);
      } else {
        FUZZ_CHECK(observe([&] { return h.result(); }).what == kind::invalid_state);
        FUZZ_CHECK(observe([&] { return h.exception() ? 1 : 0; }).what == kind::invalid_state);
      }
      break;
    }
    case d_try_put: {
      if (next_item_ == max_items) break;
      const bool full = queue_.full();
      const bool put = queue_.try_put(next_item_);
      FUZZ_CHECK(put == !full);
      if (put) mirror_.push_back(next_item_++);
      break;
    }
    case d_try_get: {
      const bool empty = queue_.empty();
      const auto item = queue_.try_get();
      FUZZ_CHECK(item.has_value() == !empty);
      if (item) take_item(*item);
      break;
    }
    case d_event_set:
      ++event_sets_;
      event_.set();
      FUZZ_CHECK(event_.is_set());
      break;
    case d_event_clear:
      event_.clear();
      FUZZ_CHECK(!event_.is_set());
      break;
    case d_call_soon:
      loop_.call_soon([this, seq = soon_scheduled_++] {
        FUZZ_CHECK(seq == soon_ran_++);
        FUZZ_CHECK(&tandem::current_loop() == &loop_);
      });
      break;
    case d_call_soon_threadsafe:
      loop_.call_soon_threadsafe([this, seq = posted_scheduled_++] {
        FUZZ_CHECK(seq == posted_ran_++);
        FUZZ_CHECK(&tandem::current_loop() == &loop_);
      });
      break;
    case d_call_at: {
      int group = in_.pick(timer_groups);
      if (group > 0 && timed(1) == 0) group = 0;
      if (timer_count_ == max_timers) break;
      const int k = timer_count_++;
      timer_entry& t = timers_[k];
      t.group = group;
      t.seq = group_scheduled_[group]++;
      // Equal deadlines within a group: they must fire in scheduling order.
      t.handle = loop_.call_at(base_ + group * 50us, [this, k] { on_timer(k); });
      break;
    }
    case d_cancel_timer: {
      const int k = in_.byte();
      if (timer_count_ == 0) break;
      timer_entry& t = timers_[k % timer_count_];
      t.handle.cancel();
      t.cancelled = true;
      FUZZ_CHECK(t.handle.cancelled());
      break;
    }
    case d_misuse:
      FUZZ_CHECK(observe([&] { return loop_.run_until_complete([] { return 0; }); }).what ==
                 kind::misuse);
      FUZZ_CHECK(observe([&] { return loop_.run_until_complete(driver_); }).what == kind::misuse);
      FUZZ_CHECK(observe([&] { loop_.run_forever(); }).what == kind::misuse);
      FUZZ_CHECK(observe([&] { loop_.close(); }).what == kind::misuse);
      FUZZ_CHECK(observe([&] { return tandem::await(driver_); }).what == kind::misuse);
      FUZZ_CHECK(observe([&] { return tandem::wait_for(driver_, 1ms); }).what == kind::misuse);
      FUZZ_CHECK(observe([] { return tandem::task<int>{}.done(); }).what == kind::misuse);
      FUZZ_CHECK(loop_.is_running() && !loop_.is_closed());
      break;
    case d_pool_op:
      pool_.run_one(in_);
      break;
    default:
      break;
  }
}

void loop_script::on_timer(int k) {
  const timer_entry& t = timers_[k];
  FUZZ_CHECK(!t.cancelled);
  FUZZ_CHECK(t.seq > group_fired_[t.group]);
  group_fired_[t.group] = t.seq;
  FUZZ_CHECK(&tandem::current_loop() == &loop_);
}

void loop_script::spawn() {
  const int i = worker_count_;
  worker scratch;  // past the limit the program is read and dropped
  worker& w = i < max_workers ? workers_[i] : scratch;
  w.length = in_.pick(max_program + 1);
  for (int n = 0; n < w.length; ++n) w.program[n] = decode(i);
  const int tail = in_.byte();
  w.fails = (tail & 1) != 0;
  w.shield = (tail & 2) != 0;
  w.code = tail >> 2;
  if (i == max_workers) return;
  ++worker_count_;
  w.handle = loop_.create_task([this, i] { return work(i); });
  FUZZ_CHECK(!w.handle.done() && !w.handle.cancelled());
}

void loop_script::settle() {
  // Workers waiting in to_thread get their fn's result first (it comes
  // back through the loop), so that a seed reaches the same ending on
  // every machine; a fn runs for microseconds.
  const auto give_up = loop_.time() + 10s;
  auto in_thread = [this] {
    for (int j = 0; j < worker_count_; ++j)
      if (workers_[j].in_thread) return true;
    return false;
  };
  while (in_thread()) {
    FUZZ_CHECK(loop_.time() < give_up);
    tandem::sleep_for(0s);
  }
  // No waiter may sleep on while what it waits for is there: a lost wake-up
  // would show here.
  for (int round = 0; lost_wakeup_suspected(); ++round) {
    FUZZ_CHECK(round < 64);
    tandem::sleep_for(0s);
  }
  // Each round ends at least one wait in every chain of awaits; programs
  // are finite, so this ends. A few quiet iterations follow each round: a
  // condition waiter takes the mutex back before its cancellation ends it,
  // and cancelled again before it ran (directly, or forwarded by a gather
  // or await) it would pass the mutex on, each round, for ever.
  for (int round = 0;; ++round) {
    bool all_done = true;
    for (int j = 0; j < worker_count_; ++j) {
      if (workers_[j].handle.done()) continue;
      all_done = false;
      cancel_worker(j);
    }
    if (all_done) break;
    FUZZ_CHECK(round < 1000);
    for (int quiet = 0; quiet < 4; ++quiet) tandem::sleep_for(0s);
  }
  for (int j = 0; j < worker_count_; ++j) check_final(j, false);
}

bool loop_script::lost_wakeup_suspected() const {
  for (int j = 0; j < worker_count_; ++j) {
    const worker& w = workers_[j];
    // A mutex with a waiter is never unlocked: unlock() hands it over.
    if ((w.in_get && !queue_.empty()) || (w.in_put && !queue_.full()) ||
        (w.in_wait && event_.is_set()) || (w.in_lock && !mutex_.locked()) ||
        (w.in_acquire[0] && semaphore_.value() > 0) || (w.in_acquire[1] && bounded_.value() > 0))
      return true;
  }
  return false;
}

void loop_script::cancel_worker(int j) {
  worker& w = workers_[j];
  const bool was_done = w.handle.done();
  const bool taken = w.handle.cancel();
  FUZZ_CHECK(taken == !was_done);  // false only if already done
  if (taken && !w.started) w.cancelled_before_start = true;
}

// How a finished worker ended, as await/result must report it.
outcome loop_script::final_outcome(int j) const {
  const worker& w = workers_[j];
  FUZZ_CHECK(w.handle.done());
  if (w.handle.cancelled()) return {kind::cancelled, 0};
  if (w.end == ending::returned) return returned(w.end_value);
  FUZZ_CHECK(w.end == ending::threw);
  return {kind::injected, w.code};
}

// What an await-like call on a worker that was not done returned.
void loop_script::check_ended_as(int j, const outcome& got) const {
  switch (got.what) {
    case kind::value:
    case kind::injected:
      FUZZ_CHECK(final_outcome(j) == got);
      break;
    case kind::cancelled:
      break;  // the worker was cancelled, or the caller was
    default:
      fail("an await ended in an unexpected way", __FILE__, __LINE__);
  }
}

// result() and exception() of a finished worker agree with how its
// function ended; a finished task keeps its result after close().
void loop_script::check_final(int j, bool after_close) {
  worker& w = workers_[j];
  tandem::task<int>& h = w.handle;
  FUZZ_CHECK(h.done());
  const outcome result = observe([&] { return h.result(); });
  const outcome exception = observe([&] {
    if (const std::exception_ptr e = h.exception()) std::rethrow_exception(e);
    return no_exception;
  });
  if (w.cancelled_before_start) FUZZ_CHECK(!w.started && h.cancelled());
  if (h.cancelled()) {
    FUZZ_CHECK(result.what == kind::cancelled && exception.what == kind::cancelled);
    switch (w.end) {
      case ending::cancelled:
        break;
      case ending::none:  // never started, or unwound by close()
        FUZZ_CHECK(!w.started || after_close);
        break;
      case ending::returned:  // a cancellation pending when it returned without suspending
        FUZZ_CHECK(w.cancelled_itself || w.cancel_pending);
        break;
      case ending::threw:
        fail("a task that threw counts as cancelled", __FILE__, __LINE__);
    }
  } else if (w.end == ending::returned) {
    FUZZ_CHECK(result == returned(w.end_value) && exception == returned(no_exception));
  } else {
    FUZZ_CHECK(w.end == ending::threw);
    FUZZ_CHECK(result == (outcome{kind::injected, w.code}) && exception == result);
  }
}

void loop_script::check_queue() const {
  FUZZ_CHECK(queue_.size() == mirror_.size());
  if (queue_.maxsize() != 0) FUZZ_CHECK(queue_.size() <= queue_.maxsize());
}

void loop_script::take_item(int item) {
  FUZZ_CHECK(!mirror_.empty() && mirror_.front() == item);  // FIFO, nothing lost or doubled
  mirror_.pop_front();
  check_queue();
}

}  // namespace script

void run_loop_script(reader& in, coroutine_pool& pool) {
  script::loop_script script(in, pool);
  script.run();
}

}  // namespace fuzz
