// tandem::event_loop: every loop rule (docs/rules.md, section 4), and the bad-input
// cases of section 5 that need no file descriptor, each with a test named after it.
// File descriptor readiness is in loop_io_test.cpp; the large-scale cases
// (10,000 timers, 100,000 tasks, 1,000 unwound tasks) in
// loop_stress_test.cpp.
//
// No test may hang on a broken loop: whatever waits on the loop runs under a
// watchdog (a timer that stops the loop, or, where the loop may sleep in
// epoll with no timer at all, a thread that aborts the process).
#include "tandem/loop.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <tuple>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "support/loop_watchdog.hpp"
#include "tandem/coroutine.hpp"

namespace {

using namespace std::chrono_literals;
using tandem::event_loop;
using steady = tandem::clock;

constexpr steady::duration kWatchdog = loop_testing::default_watchdog;

using loop_testing::run_bounded;

// run_forever() until something calls stop(), under the same watchdog.
void run_forever_bounded(event_loop& loop, steady::duration limit = kWatchdog) {
  bool fired = false;
  tandem::timer_handle watchdog = loop.call_later(limit, [&] {
    fired = true;
    loop.stop();
  });
  loop.run_forever();
  watchdog.cancel();
  EXPECT_FALSE(fired) << "the watchdog stopped the loop: nothing else did";
}

// For tests in which the loop may sleep in epoll with no timer at all (so a
// watchdog timer would change what is tested): if the test is still running
// after `limit`, say why and abort, so a missing wake-up fails the test.
class abort_watchdog {
 public:
  abort_watchdog(steady::duration limit, const char* what)
      : thread_([this, limit, what] {
          std::unique_lock lock(mutex_);
          if (!cv_.wait_for(lock, limit, [this] { return done_; })) {
            std::fprintf(stderr, "watchdog: %s\n", what);
            std::abort();
          }
        }) {}
  ~abort_watchdog() {
    {
      std::lock_guard lock(mutex_);
      done_ = true;
    }
    cv_.notify_one();
    thread_.join();
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  bool done_ = false;
  std::thread thread_;  // last: it uses the members above
};

using loop_testing::counted;

// ---------------------------------------------------------------------------
// The declarations.

TEST(Loop, ErrorTypesFollowTheRules) {
  static_assert(std::is_same_v<tandem::clock, std::chrono::steady_clock>);
  static_assert(!std::is_base_of_v<std::exception, tandem::cancelled_error>);
  static_assert(std::is_base_of_v<std::runtime_error, tandem::timeout_error>);
  static_assert(std::is_base_of_v<std::logic_error, tandem::invalid_state_error>);
  static_assert(std::is_copy_constructible_v<tandem::task<int>>);
  static_assert(std::is_copy_assignable_v<tandem::task<void>>);
  event_loop loop;
  EXPECT_FALSE(loop.is_running());
  EXPECT_FALSE(loop.is_closed());
  const auto before = steady::now();
  const auto now = loop.time();
  EXPECT_LE(before, now);
  EXPECT_LE(now, steady::now());
}

// cancelled_error is not a std::exception: a task that catches
// std::exception around a suspension is still cancelled.
TEST(Loop, CancelledErrorIsNotAStdException) {
  event_loop loop;
  bool swallowed = false;
  auto t = loop.create_task([&] {
    try {
      tandem::sleep_for(1h);
    } catch (const std::exception&) {
      swallowed = true;
    }
  });
  run_bounded(loop, [&] {
    tandem::sleep_for(0s);
    t.cancel();
    EXPECT_THROW(tandem::await(t), tandem::cancelled_error);
  });
  EXPECT_FALSE(swallowed);
  EXPECT_TRUE(t.cancelled());
}

// ---------------------------------------------------------------------------
// A created task starts on a later loop iteration.

TEST(Loop, CreatedTaskStartsOnALaterIteration) {
  event_loop loop;
  int runs = 0;
  auto outside = loop.create_task([&] { ++runs; });
  EXPECT_EQ(runs, 0);  // not before the loop runs
  EXPECT_FALSE(outside.done());
  run_bounded(loop, [&] {
    EXPECT_EQ(runs, 1);  // created earlier, so it ran first
    bool started = false;
    auto inside = tandem::current_loop().create_task([&] { started = true; });
    EXPECT_FALSE(started);  // not inside create_task
    for (int i = 0; i < 1000; ++i) std::this_thread::yield();
    EXPECT_FALSE(started);  // nor while its creator keeps running
    EXPECT_FALSE(inside.done());
    tandem::sleep_for(0s);
    EXPECT_TRUE(started);
    EXPECT_TRUE(inside.done());
  });
  // A task created by a callback starts after the callback has returned.
  std::vector<std::string> log;
  loop.call_soon([&] {
    tandem::current_loop().create_task([&] { log.push_back("task"); });
    log.push_back("callback end");
  });
  loop.call_soon([&] { log.push_back("next callback"); });
  run_bounded(loop, [] {
    tandem::sleep_for(0s);
    tandem::sleep_for(0s);
  });
  EXPECT_EQ(log, (std::vector<std::string>{"callback end", "next callback", "task"}));
}

// Tasks, call_soon callbacks and timers with equal deadlines run in the
// order they were scheduled (FIFO).
TEST(Loop, TasksAndCallbacksRunInTheOrderScheduled) {
  event_loop loop;
  std::vector<int> order;
  std::vector<int> expected;
  for (int i = 0; i < 40; i += 2) {
    loop.create_task([&order, i] { order.push_back(i); });
    loop.call_soon([&order, i] { order.push_back(i + 1); });
    expected.push_back(i);
    expected.push_back(i + 1);
  }
  loop.call_soon([&] { loop.stop(); });
  run_forever_bounded(loop);
  EXPECT_EQ(order, expected);

  // The same, scheduled from inside a running task.
  order.clear();
  run_bounded(loop, [&] {
    auto& l = tandem::current_loop();
    for (int i = 0; i < 40; i += 2) {
      l.call_soon([&order, i] { order.push_back(i); });
      l.create_task([&order, i] { order.push_back(i + 1); });
    }
    tandem::sleep_for(0s);  // queued after all of them
    EXPECT_EQ(order, expected);
  });
}

TEST(Loop, TimersWithEqualDeadlinesRunInTheOrderScheduled) {
  event_loop loop;
  std::vector<int> order;
  const auto first = loop.time() + 20ms;
  const auto second = first + 10ms;
  // Two deadlines interleaved, scheduled out of deadline order: a heap
  // that is not stable for equal keys would show.
  for (int i = 0; i < 20; ++i)
    loop.call_at(i % 2 ? first : second, [&order, i] { order.push_back(i); });
  loop.call_at(second, [&] { loop.stop(); });
  run_forever_bounded(loop);
  EXPECT_EQ(order, (std::vector<int>{1, 3, 5, 7, 9, 11, 13, 15, 17, 19,
                                     0, 2, 4, 6, 8, 10, 12, 14, 16, 18}));
}

TEST(Loop, TasksSleepingUntilTheSameDeadlineWakeInTheOrderTheySlept) {
  // A deadline already past when a task sleeps makes sleep_until a plain
  // yield, and this test would no longer be about timers; on a slow machine
  // (qemu, a loaded CI) starting ten tasks can take longer than the margin,
  // so a run where that happened is repeated with a wider one.
  for (const auto margin : {20ms, 200ms, 2000ms}) {
    event_loop loop;
    std::vector<int> order;
    bool a_deadline_had_passed = false;
    run_bounded(loop, [&] {
      const auto first = tandem::current_loop().time() + margin;
      const auto second = first + margin / 2;
      std::vector<tandem::task<void>> tasks;
      for (int i = 0; i < 10; ++i) {
        tasks.push_back(
            tandem::current_loop().create_task([&, i, deadline = i % 2 ? first : second] {
              // A quarter margin of slack: sleep_until looks at the clock again.
              if (tandem::clock::now() + margin / 4 >= deadline) a_deadline_had_passed = true;
              tandem::sleep_until(deadline);
              order.push_back(i);
            }));
      }
      for (auto& t : tasks) tandem::await(t);
    });
    if (a_deadline_had_passed) continue;
    EXPECT_EQ(order, (std::vector<int>{1, 3, 5, 7, 9, 0, 2, 4, 6, 8}));
    return;
  }
  FAIL() << "even a 2 s margin was not enough to start ten tasks";
}

TEST(Loop, TimersRunInDeadlineOrderNotSchedulingOrder) {
  event_loop loop;
  std::vector<int> order;
  const auto start = loop.time();
  loop.call_later(30ms, [&] { order.push_back(30); });
  loop.call_at(start + 10ms, [&] { order.push_back(10); });
  // By call_at: a call_later here would count from when it is made, and a
  // thread held up for 10 ms after the first call (a loaded machine, qemu)
  // would put it after the 30 ms one.
  loop.call_at(start + 20ms, [&] { order.push_back(20); });
  loop.call_later(40ms, [&] { loop.stop(); });
  run_forever_bounded(loop);
  EXPECT_EQ(order, (std::vector<int>{10, 20, 30}));
}

TEST(Loop, CallLaterFiresNoEarlierThanItsDeadline) {
  event_loop loop;
  const auto scheduled = loop.time();
  steady::time_point fired_at{};
  loop.call_later(30ms, [&] {
    fired_at = tandem::current_loop().time();
    loop.stop();
  });
  run_forever_bounded(loop);
  EXPECT_GE(fired_at - scheduled, 30ms);
  EXPECT_GE(steady::now() - scheduled, 30ms);
}

TEST(Loop, CancelledTimerNeverRuns) {
  event_loop loop;
  std::vector<std::string> log;
  auto dropped = loop.call_later(10ms, [&] { log.push_back("dropped"); });
  EXPECT_FALSE(dropped.cancelled());
  dropped.cancel();
  EXPECT_TRUE(dropped.cancelled());
  // A timer cancelled by an earlier timer of the same deadline does not run.
  const auto deadline = loop.time() + 20ms;
  std::optional<tandem::timer_handle> victim;
  loop.call_at(deadline, [&] {
    log.push_back("killer");
    victim->cancel();
  });
  victim = loop.call_at(deadline, [&] { log.push_back("victim"); });
  loop.call_at(deadline, [&] { log.push_back("survivor"); });
  loop.call_later(40ms, [&] { loop.stop(); });
  run_forever_bounded(loop);
  EXPECT_EQ(log, (std::vector<std::string>{"killer", "survivor"}));
  EXPECT_TRUE(victim->cancelled());
}

// ---------------------------------------------------------------------------
// run_until_complete, run_forever, stop.

TEST(Loop, RunUntilCompleteReturnsTheValue) {
  event_loop loop;
  EXPECT_EQ(run_bounded(loop,
                        [] {
                          tandem::sleep_for(1ms);
                          return 42;
                        }),
            42);
  auto t = loop.create_task([] { return std::string("from a task handle"); });
  EXPECT_EQ(run_bounded(loop, t), "from a task handle");
  bool ran = false;
  run_bounded(loop, [&] { ran = true; });
  EXPECT_TRUE(ran);
}

TEST(Loop, RunUntilCompleteRethrowsTheException) {
  event_loop loop;
  try {
    run_bounded(loop, []() -> int {
      tandem::sleep_for(0s);
      throw std::out_of_range("seven");
    });
    ADD_FAILURE() << "no exception";
  } catch (const std::out_of_range& e) {
    EXPECT_STREQ(e.what(), "seven");
  }
  auto cancelled = loop.create_task([] { return 1; });
  cancelled.cancel();
  EXPECT_THROW(run_bounded(loop, cancelled), tandem::cancelled_error);
  // The loop is still usable.
  EXPECT_EQ(run_bounded(loop, [] { return 3; }), 3);
}

TEST(Loop, RunUntilCompleteWhileRunningThrows) {
  event_loop loop;
  run_bounded(loop, [&] {
    EXPECT_TRUE(loop.is_running());
    auto other = loop.create_task([] { return 1; });
    EXPECT_THROW(loop.run_until_complete(other), std::logic_error);
    EXPECT_THROW(loop.run_until_complete([] { return 2; }), std::logic_error);
    EXPECT_THROW(loop.run_forever(), std::logic_error);
    EXPECT_TRUE(loop.is_running());
    EXPECT_EQ(tandem::await(other), 1);  // unaffected
  });
  // From a callback the loop runs, too.
  bool checked = false;
  loop.call_soon([&] {
    EXPECT_THROW(loop.run_until_complete([] { return 2; }), std::logic_error);
    checked = true;
  });
  run_bounded(loop, [] { tandem::sleep_for(0s); });
  EXPECT_TRUE(checked);
  EXPECT_FALSE(loop.is_running());
}

TEST(Loop, RunUntilCompleteOnAClosedLoopThrows) {
  event_loop loop;
  auto made_before = loop.create_task([] { return 1; });
  loop.close();
  EXPECT_THROW(loop.run_until_complete([] { return 1; }), std::logic_error);
  EXPECT_THROW(loop.run_until_complete(made_before), std::logic_error);
}

TEST(Loop, RunForeverRunsUntilStopAndCanRunAgain) {
  event_loop loop;
  int ticks = 0;
  bool running_inside = false;
  std::function<void()> tick = [&] {
    running_inside = loop.is_running();
    if (++ticks % 5 == 0) {
      loop.stop();
    } else {
      loop.call_soon(tick);
    }
  };
  loop.call_soon(tick);
  run_forever_bounded(loop);
  EXPECT_EQ(ticks, 5);
  EXPECT_TRUE(running_inside);
  EXPECT_FALSE(loop.is_running());
  // stop() ended that run only: the loop runs again.
  loop.call_soon(tick);
  run_forever_bounded(loop);
  EXPECT_EQ(ticks, 10);
}

TEST(Loop, StopFromATaskEndsRunForever) {
  event_loop loop;
  bool after = false;
  loop.create_task([&] {
    tandem::sleep_for(5ms);
    tandem::current_loop().stop();
    after = true;  // stop() does not suspend the task
  });
  run_forever_bounded(loop);
  EXPECT_TRUE(after);
}

// ---------------------------------------------------------------------------
// current_loop and the suspending calls: only in a task (current_loop also
// in a callback); elsewhere std::logic_error.

TEST(Loop, CurrentLoopInsideTasksAndCallbacks) {
  event_loop loop;
  event_loop* in_task = nullptr;
  event_loop* in_callback = nullptr;
  event_loop* in_timer = nullptr;
  loop.call_soon([&] { in_callback = &tandem::current_loop(); });
  loop.call_later(1ms, [&] { in_timer = &tandem::current_loop(); });
  run_bounded(loop, [&] {
    in_task = &tandem::current_loop();
    tandem::sleep_for(5ms);
  });
  EXPECT_EQ(in_task, &loop);
  EXPECT_EQ(in_callback, &loop);
  EXPECT_EQ(in_timer, &loop);
  EXPECT_THROW(tandem::current_loop(), std::logic_error);  // no loop runs now
}

TEST(Loop, SuspendingOutsideATaskThrows) {
  EXPECT_THROW(tandem::current_loop(), std::logic_error);
  EXPECT_THROW(tandem::sleep_for(0s), std::logic_error);
  EXPECT_THROW(tandem::sleep_until(steady::now() + 1ms), std::logic_error);
  event_loop loop;
  EXPECT_THROW(tandem::current_loop(), std::logic_error);  // exists, does not run
  auto pending = loop.create_task([] { return 1; });
  EXPECT_THROW(tandem::await(pending), std::logic_error);
  auto for_gather = loop.create_task([] { return 2; });
  EXPECT_THROW(tandem::gather(for_gather), std::logic_error);
  auto for_wait_for = loop.create_task([] { return 3; });
  EXPECT_THROW(tandem::wait_for(for_wait_for, 1s), std::logic_error);
  tandem::queue<int> empty_queue;
  EXPECT_THROW(empty_queue.get(), std::logic_error);
  tandem::queue<int> full_queue(1);
  EXPECT_TRUE(full_queue.try_put(1));
  EXPECT_THROW(full_queue.put(2), std::logic_error);
  EXPECT_EQ(full_queue.size(), 1u);
  tandem::event never_set;
  EXPECT_THROW(never_set.wait(), std::logic_error);
  // A callback is not a task either.
  bool checked = false;
  loop.call_soon([&] {
    EXPECT_THROW(tandem::sleep_for(0s), std::logic_error);
    EXPECT_THROW(empty_queue.get(), std::logic_error);
    checked = true;
  });
  // The refused calls changed nothing.
  EXPECT_EQ(run_bounded(loop,
                        [&] {
                          tandem::sleep_for(0s);  // after the callback
                          return tandem::await(pending);
                        }),
            1);
  EXPECT_TRUE(checked);
}

TEST(Loop, SuspendingInsideGeneratorThrows) {
  event_loop loop;
  run_bounded(loop, [&] {
    auto other = tandem::current_loop().create_task([] { return 1; });
    tandem::queue<int> empty_queue;
    tandem::event never_set;
    tandem::coroutine<int> generator([&](tandem::yielder<int>& y) {
      EXPECT_THROW(tandem::sleep_for(0s), std::logic_error);
      EXPECT_THROW(tandem::sleep_until(steady::now() + 1ms), std::logic_error);
      EXPECT_THROW(tandem::await(other), std::logic_error);
      EXPECT_THROW(tandem::wait_for(other, 1s), std::logic_error);
      EXPECT_THROW(empty_queue.get(), std::logic_error);
      EXPECT_THROW(never_set.wait(), std::logic_error);
      y.yield(1);
      tandem::sleep_for(0s);  // this one escapes the body
      y.yield(2);
    });
    EXPECT_EQ(generator.next(), 1);
    EXPECT_THROW(generator.next(), std::logic_error);
    EXPECT_TRUE(generator.done());
    // The task itself still suspends normally.
    tandem::sleep_for(0s);
    EXPECT_EQ(tandem::await(other), 1);
  });
}

// ---------------------------------------------------------------------------
// await.

TEST(Loop, AwaitReturnsTheValue) {
  event_loop loop;
  run_bounded(loop, [] {
    auto& l = tandem::current_loop();
    auto slow = l.create_task([] {
      tandem::sleep_for(5ms);
      return std::string("slow");
    });
    EXPECT_EQ(tandem::await(slow), "slow");
    EXPECT_TRUE(slow.done());
    bool ran = false;
    auto nothing = l.create_task([&] { ran = true; });
    tandem::await(nothing);
    EXPECT_TRUE(ran);
  });
}

TEST(Loop, AwaitFailedTaskRethrows) {
  event_loop loop;
  run_bounded(loop, [] {
    auto failing = tandem::current_loop().create_task([]() -> int {
      tandem::sleep_for(1ms);
      throw std::domain_error("awaited failure");
    });
    try {
      tandem::await(failing);
      ADD_FAILURE() << "no exception";
    } catch (const std::domain_error& e) {
      EXPECT_STREQ(e.what(), "awaited failure");
    }
    EXPECT_TRUE(failing.done());
    EXPECT_FALSE(failing.cancelled());
  });
}

TEST(Loop, AwaitCancelledTaskThrowsCancelled) {
  event_loop loop;
  const int value = run_bounded(loop, [] {
    auto& l = tandem::current_loop();
    auto never_started = l.create_task([] { return 1; });
    never_started.cancel();
    EXPECT_THROW(tandem::await(never_started), tandem::cancelled_error);
    // Cancelled by someone else while we wait for it: our await throws,
    // but we are not cancelled ourselves.
    auto sleeper = l.create_task([] { tandem::sleep_for(1h); });
    l.call_later(5ms, [sleeper]() mutable { sleeper.cancel(); });
    try {
      tandem::await(sleeper);
    } catch (const tandem::cancelled_error&) {
      return 7;
    }
    return 0;
  });
  EXPECT_EQ(value, 7);
}

TEST(Loop, AwaitSelfThrows) {
  event_loop loop;
  std::optional<tandem::task<int>> self;
  bool refused = false;
  self = loop.create_task([&] {
    try {
      tandem::await(*self);
    } catch (const std::logic_error&) {
      refused = true;
    }
    return 5;
  });
  EXPECT_EQ(run_bounded(loop, *self), 5);
  EXPECT_TRUE(refused);
}

// ---------------------------------------------------------------------------
// Task handles.

// A task's result stays in the task: every handle, and every later await,
// gather, wait_for or run_until_complete, sees the same value (asyncio:
// awaiting a finished task again gives its result again). Only a move-only
// value can be had once, by whoever takes it first.
TEST(Loop, ResultStaysAfterItIsRetrieved) {
  event_loop loop;
  const std::string value = "a value longer than the small-string buffer";
  auto t = loop.create_task([&] { return value; });
  auto copy = t;
  EXPECT_EQ(run_bounded(loop, t), value);
  EXPECT_EQ(t.result(), value) << "after run_until_complete";
  EXPECT_EQ(run_bounded(loop, t), value) << "a second run_until_complete";
  run_bounded(loop, [&] {
    EXPECT_EQ(tandem::await(t), value);
    EXPECT_EQ(tandem::await(copy), value) << "a second await";
    EXPECT_EQ(std::get<0>(tandem::gather(t)), value);
    EXPECT_EQ(std::get<0>(tandem::gather(copy)), value) << "a second gather";
    EXPECT_EQ(tandem::wait_for(t, 1s), value);
    EXPECT_EQ(tandem::wait_for(copy, 1s), value) << "a second wait_for";
  });
  EXPECT_EQ(copy.result(), value);
}

TEST(Loop, MoveOnlyResultIsHandedOver) {
  event_loop loop;
  auto t = loop.create_task([] { return std::make_unique<int>(42); });
  auto got = run_bounded(loop, [&] { return tandem::await(t); });
  ASSERT_NE(got, nullptr);
  EXPECT_EQ(*got, 42);
}

TEST(Loop, TaskHandlesAreShared) {
  event_loop loop;
  auto t = loop.create_task([] { return 11; });
  auto copy = t;
  EXPECT_FALSE(copy.done());
  run_bounded(loop, t);
  EXPECT_TRUE(copy.done());
  EXPECT_EQ(copy.result(), 11);
  copy.result() = 12;  // result() is a reference to the one value
  EXPECT_EQ(t.result(), 12);
  EXPECT_EQ(&t.result(), &copy.result());
}

TEST(Loop, ExceptionIsNullOnSuccessAndTheFailureOtherwise) {
  event_loop loop;
  auto ok = loop.create_task([] { return 1; });
  auto failed = loop.create_task([]() -> int { throw std::runtime_error("stored"); });
  auto nothing = loop.create_task([] {});
  run_bounded(loop, [] { tandem::sleep_for(0s); });
  ASSERT_TRUE(ok.done() && failed.done() && nothing.done());
  EXPECT_EQ(ok.exception(), nullptr);
  EXPECT_EQ(nothing.exception(), nullptr);
  nothing.result();  // void: returns, throws nothing
  ASSERT_NE(failed.exception(), nullptr);
  try {
    std::rethrow_exception(failed.exception());
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(), "stored");
  }
  EXPECT_THROW(failed.result(), std::runtime_error);
  EXPECT_FALSE(failed.cancelled());
}

// ---------------------------------------------------------------------------
// cancel().

TEST(Loop, CancelBeforeStartNeverRuns) {
  event_loop loop;
  bool ran = false;
  auto t = loop.create_task([&] {
    ran = true;
    return 1;
  });
  EXPECT_TRUE(t.cancel());
  run_bounded(loop, [] { tandem::sleep_for(1ms); });
  EXPECT_FALSE(ran);
  EXPECT_TRUE(t.done());
  EXPECT_TRUE(t.cancelled());
  EXPECT_THROW(t.result(), tandem::cancelled_error);
  EXPECT_THROW(t.exception(), tandem::cancelled_error);
  EXPECT_FALSE(t.cancel());  // done now

  // Cancelled by a sibling task before it got its turn.
  bool sibling_ran = false;
  run_bounded(loop, [&] {
    auto sibling = tandem::current_loop().create_task([&] { sibling_ran = true; });
    EXPECT_TRUE(sibling.cancel());
    tandem::sleep_for(0s);
    tandem::sleep_for(0s);
    EXPECT_TRUE(sibling.cancelled());
  });
  EXPECT_FALSE(sibling_ran);
}

TEST(Loop, CancelReturnsFalseWhenDone) {
  event_loop loop;
  auto ok = loop.create_task([] { return 1; });
  auto failed = loop.create_task([] { throw std::runtime_error("x"); });
  run_bounded(loop, [] { tandem::sleep_for(0s); });
  EXPECT_FALSE(ok.cancel());
  EXPECT_FALSE(failed.cancel());
  EXPECT_FALSE(ok.cancelled());
  EXPECT_EQ(ok.result(), 1);  // unchanged
  EXPECT_THROW(failed.result(), std::runtime_error);
}

TEST(Loop, CancelSuspendedTaskThrowsAtSuspension) {
  event_loop loop;
  // The waitables outlive the loop (loop rule 10: objects tasks use must).
  tandem::queue<int> empty_queue;
  tandem::queue<int> full_queue(1);
  ASSERT_TRUE(full_queue.try_put(0));
  tandem::event never_set;
  struct suspension {
    const char* name;
    std::function<void()> suspend;
  };
  const std::vector<suspension> suspensions = {
      {"sleep_for", [] { tandem::sleep_for(1h); }},
      {"sleep_until", [] { tandem::sleep_until(steady::now() + 1h); }},
      {"await",
       [] {
         auto t = tandem::current_loop().create_task([] { tandem::sleep_for(1h); });
         tandem::await(t);
       }},
      {"gather",
       [] {
         auto& l = tandem::current_loop();
         auto a = l.create_task([] { tandem::sleep_for(1h); });
         auto b = l.create_task([] { return 1; });
         tandem::gather(a, b);
       }},
      {"wait_for",
       [] {
         auto t = tandem::current_loop().create_task([] { tandem::sleep_for(1h); });
         tandem::wait_for(t, 1h);
       }},
      {"queue::get", [&] { empty_queue.get(); }},
      {"queue::put", [&] { full_queue.put(1); }},
      {"event::wait", [&] { never_set.wait(); }},
  };
  for (const auto& s : suspensions) {
    SCOPED_TRACE(s.name);
    bool caught = false;
    bool went_on = false;
    auto t = loop.create_task([&] {
      try {
        s.suspend();
        went_on = true;
      } catch (const tandem::cancelled_error&) {
        caught = true;
        throw;
      }
    });
    run_bounded(loop, [&] {
      tandem::sleep_for(0s);  // t ran first (FIFO) and is suspended now
      tandem::sleep_for(0s);
      ASSERT_FALSE(t.done());
      EXPECT_TRUE(t.cancel());
      EXPECT_THROW(tandem::await(t), tandem::cancelled_error);
    });
    EXPECT_TRUE(caught);
    EXPECT_FALSE(went_on);
    EXPECT_TRUE(t.done());
    EXPECT_TRUE(t.cancelled());
    EXPECT_THROW(t.result(), tandem::cancelled_error);
  }
  // The cancelled put added nothing, the cancelled get took nothing.
  EXPECT_EQ(full_queue.size(), 1u);
  EXPECT_TRUE(empty_queue.empty());
}

TEST(Loop, CatchingCancellationAndReturningCompletesNormally) {
  event_loop loop;
  auto t = loop.create_task([] {
    try {
      tandem::sleep_for(1h);
    } catch (const tandem::cancelled_error&) {
      tandem::sleep_for(1ms);  // it may even suspend again while cleaning up
      return 7;
    }
    return 0;
  });
  run_bounded(loop, [&] {
    tandem::sleep_for(0s);
    EXPECT_TRUE(t.cancel());
    EXPECT_EQ(tandem::await(t), 7);
  });
  EXPECT_TRUE(t.done());
  EXPECT_FALSE(t.cancelled());
  EXPECT_EQ(t.result(), 7);
  EXPECT_EQ(t.exception(), nullptr);
}

// asyncio's behaviour for Task.cancel() on the running task itself: the
// request is delivered at its next suspension.
TEST(Loop, TaskCancellingItselfThrowsAtItsNextSuspension) {
  event_loop loop;
  bool went_on = false;
  std::optional<tandem::task<void>> self;
  self = loop.create_task([&] {
    EXPECT_TRUE(self->cancel());
    EXPECT_FALSE(self->done());
    tandem::sleep_for(0s);
    went_on = true;
  });
  EXPECT_THROW(run_bounded(loop, *self), tandem::cancelled_error);
  EXPECT_FALSE(went_on);
  EXPECT_TRUE(self->cancelled());
}

TEST(Loop, CancellingAwaitForwardsToAwaited) {
  event_loop loop;
  bool inner_saw_cancel = false;
  std::optional<tandem::task<int>> inner;
  auto outer = loop.create_task([&] {
    inner = tandem::current_loop().create_task([&] {
      try {
        tandem::sleep_for(1h);
      } catch (const tandem::cancelled_error&) {
        inner_saw_cancel = true;
        throw;
      }
      return 1;
    });
    return tandem::await(*inner);
  });
  run_bounded(loop, [&] {
    tandem::sleep_for(0s);
    tandem::sleep_for(0s);  // outer awaits inner, inner sleeps
    ASSERT_TRUE(inner.has_value());
    EXPECT_TRUE(outer.cancel());
    EXPECT_THROW(tandem::await(outer), tandem::cancelled_error);
  });
  EXPECT_TRUE(inner_saw_cancel);
  EXPECT_TRUE(inner->cancelled());
  EXPECT_TRUE(outer.cancelled());
}

// "... and the await ends the way t2 ends": if t2 handles its cancellation
// and returns, the await returns that value; if it fails, the await
// rethrows its exception.
TEST(Loop, CancellingAwaitEndsTheWayTheAwaitedEnds) {
  event_loop loop;
  auto outer_returning = loop.create_task([] {
    auto inner = tandem::current_loop().create_task([] {
      try {
        tandem::sleep_for(1h);
      } catch (const tandem::cancelled_error&) {
        return 5;
      }
      return 0;
    });
    return tandem::await(inner) * 10;
  });
  auto outer_failing = loop.create_task([] {
    auto inner = tandem::current_loop().create_task([]() -> int {
      try {
        tandem::sleep_for(1h);
      } catch (const tandem::cancelled_error&) {
        throw std::runtime_error("inner failed while cancelled");
      }
      return 0;
    });
    return tandem::await(inner);
  });
  run_bounded(loop, [&] {
    tandem::sleep_for(0s);
    tandem::sleep_for(0s);
    EXPECT_TRUE(outer_returning.cancel());
    EXPECT_TRUE(outer_failing.cancel());
    EXPECT_EQ(tandem::await(outer_returning), 50);
    EXPECT_THROW(tandem::await(outer_failing), std::runtime_error);
  });
  EXPECT_FALSE(outer_returning.cancelled());
  EXPECT_EQ(outer_returning.result(), 50);
  EXPECT_FALSE(outer_failing.cancelled());
}

// ---------------------------------------------------------------------------
// sleep.

TEST(Loop, SleepForZeroLetsEveryReadyTaskRunOnce) {
  event_loop loop;
  std::vector<std::string> log;
  run_bounded(loop, [&] {
    std::vector<tandem::task<void>> tasks;
    for (char name : {'a', 'b', 'c'}) {
      tasks.push_back(tandem::current_loop().create_task([&log, name] {
        for (int i = 0; i < 3; ++i) {
          log.push_back(std::string(1, name) + std::to_string(i));
          tandem::sleep_for(0s);
        }
      }));
    }
    for (auto& t : tasks) tandem::await(t);
  });
  EXPECT_EQ(log, (std::vector<std::string>{"a0", "b0", "c0", "a1", "b1", "c1", "a2", "b2", "c2"}));
}

TEST(Loop, SleepWaitsAtLeastTheDurationAndLetsOthersRun) {
  event_loop loop;
  std::vector<std::string> log;
  run_bounded(loop, [&] {
    auto& l = tandem::current_loop();
    auto long_sleeper = l.create_task([&] {
      const auto before = steady::now();
      tandem::sleep_for(40ms);
      EXPECT_GE(steady::now() - before, 40ms);
      log.push_back("long");
    });
    auto short_sleeper = l.create_task([&] {
      const auto deadline = steady::now() + 10ms;
      tandem::sleep_until(deadline);
      EXPECT_GE(steady::now(), deadline);
      log.push_back("short");
    });
    tandem::await(long_sleeper);
    tandem::await(short_sleeper);
  });
  EXPECT_EQ(log, (std::vector<std::string>{"short", "long"}));
}

// ---------------------------------------------------------------------------
// gather.

TEST(Loop, GatherReturnsTheResultsInArgumentOrder) {
  event_loop loop;
  run_bounded(loop, [] {
    auto& l = tandem::current_loop();
    auto a = l.create_task([] {
      tandem::sleep_for(15ms);
      return 1;
    });
    auto b = l.create_task([] { tandem::sleep_for(5ms); });
    auto c = l.create_task([] {
      tandem::sleep_for(10ms);
      return std::string("c");
    });
    auto results = tandem::gather(a, b, c);
    static_assert(std::is_same_v<decltype(results), std::tuple<int, std::monostate, std::string>>);
    EXPECT_EQ(std::get<0>(results), 1);
    EXPECT_EQ(std::get<2>(results), "c");
    EXPECT_TRUE(a.done() && b.done() && c.done());
    // Tasks that are already done: at once.
    auto again = tandem::gather(b, a);
    EXPECT_EQ(std::get<1>(again), 1);
  });
}

TEST(Loop, GatherRethrowsFirstExceptionOthersKeepRunning) {
  event_loop loop;
  tandem::event release;
  bool slow_finished = false;
  run_bounded(loop, [&] {
    auto& l = tandem::current_loop();
    auto slow = l.create_task([&] {
      release.wait();
      slow_finished = true;
      return 3;
    });
    auto late_failure = l.create_task([&]() -> int {
      release.wait();
      throw std::runtime_error("second");
    });
    auto early_failure = l.create_task([]() -> int {
      tandem::sleep_for(1ms);
      throw std::runtime_error("first");
    });
    try {
      tandem::gather(slow, late_failure, early_failure);
      ADD_FAILURE() << "no exception";
    } catch (const std::runtime_error& e) {
      EXPECT_STREQ(e.what(), "first");
    }
    // gather did not wait for the others, and did not cancel them.
    EXPECT_FALSE(slow.done());
    EXPECT_FALSE(late_failure.done());
    release.set();
    EXPECT_EQ(tandem::await(slow), 3);
    EXPECT_THROW(tandem::await(late_failure), std::runtime_error);
    EXPECT_FALSE(slow.cancelled());
  });
  EXPECT_TRUE(slow_finished);
}

// ---------------------------------------------------------------------------
// wait_for.

TEST(Loop, WaitForReturnsTheValueInTime) {
  event_loop loop;
  run_bounded(loop, [] {
    auto& l = tandem::current_loop();
    auto quick = l.create_task([] {
      tandem::sleep_for(1ms);
      return 5;
    });
    EXPECT_EQ(tandem::wait_for(quick, 5s), 5);
    auto failing = l.create_task([]() -> int {
      tandem::sleep_for(1ms);
      throw std::invalid_argument("in time but failed");
    });
    EXPECT_THROW(tandem::wait_for(failing, 5s), std::invalid_argument);
  });
}

TEST(Loop, WaitForTimesOutAndCancels) {
  event_loop loop;
  bool saw_cancel = false;
  bool cleaned_up = false;
  run_bounded(loop, [&] {
    auto slow = tandem::current_loop().create_task([&] {
      try {
        tandem::sleep_for(1h);
      } catch (const tandem::cancelled_error&) {
        saw_cancel = true;
        tandem::sleep_for(5ms);  // wait_for waits for this clean-up
        cleaned_up = true;
        throw;
      }
      return 1;
    });
    const auto before = steady::now();
    EXPECT_THROW(tandem::wait_for(slow, 20ms), tandem::timeout_error);
    EXPECT_GE(steady::now() - before, 20ms);
    EXPECT_TRUE(saw_cancel);
    EXPECT_TRUE(cleaned_up);
    EXPECT_TRUE(slow.done());
    EXPECT_TRUE(slow.cancelled());
  });
}

TEST(Loop, WaitForReturnsValueIfTaskCaughtCancellation) {
  event_loop loop;
  run_bounded(loop, [] {
    auto stubborn = tandem::current_loop().create_task([] {
      try {
        tandem::sleep_for(1h);
      } catch (const tandem::cancelled_error&) {
        return 9;
      }
      return 0;
    });
    EXPECT_EQ(tandem::wait_for(stubborn, 10ms), 9);
    EXPECT_FALSE(stubborn.cancelled());
    EXPECT_EQ(stubborn.result(), 9);
  });
}

TEST(Loop, WaitForZeroTimeout) {
  event_loop loop;
  run_bounded(loop, [] {
    auto& l = tandem::current_loop();
    // Not started: times out, and (cancelled before it started) never runs.
    bool ran = false;
    auto not_started = l.create_task([&] {
      ran = true;
      return 1;
    });
    EXPECT_THROW(tandem::wait_for(not_started, 0s), tandem::timeout_error);
    EXPECT_TRUE(not_started.cancelled());
    EXPECT_FALSE(ran);
    // Suspended: times out.
    auto suspended = l.create_task([] {
      tandem::sleep_for(1h);
      return 2;
    });
    tandem::sleep_for(0s);
    EXPECT_THROW(tandem::wait_for(suspended, 0s), tandem::timeout_error);
    EXPECT_TRUE(suspended.cancelled());
    // Negative: the same as zero.
    auto negative = l.create_task([] {
      tandem::sleep_for(1h);
      return 3;
    });
    EXPECT_THROW(tandem::wait_for(negative, -1s), tandem::timeout_error);
    EXPECT_TRUE(negative.cancelled());
    // Already done: its outcome, whatever the timeout.
    auto finished = l.create_task([] { return 4; });
    auto failed = l.create_task([]() -> int { throw std::runtime_error("done badly"); });
    tandem::sleep_for(0s);
    ASSERT_TRUE(finished.done() && failed.done());
    EXPECT_EQ(tandem::wait_for(finished, 0s), 4);
    EXPECT_EQ(tandem::wait_for(finished, -5s), 4);
    EXPECT_THROW(tandem::wait_for(failed, 0s), std::runtime_error);
  });
}

// ---------------------------------------------------------------------------
// queue<T>.

TEST(Loop, QueueIsFifoAndTracksItsSize) {
  tandem::queue<int> unbounded;
  EXPECT_TRUE(unbounded.empty());
  EXPECT_FALSE(unbounded.full());
  EXPECT_EQ(unbounded.size(), 0u);
  for (int i = 0; i < 100; ++i) EXPECT_TRUE(unbounded.try_put(i));
  EXPECT_FALSE(unbounded.full());  // maxsize 0: never full
  EXPECT_EQ(unbounded.size(), 100u);
  for (int i = 0; i < 100; ++i) {
    auto v = unbounded.try_get();
    ASSERT_TRUE(v.has_value());
    EXPECT_EQ(*v, i);
  }
  EXPECT_FALSE(unbounded.try_get().has_value());
  EXPECT_TRUE(unbounded.empty());

  tandem::queue<int> bounded(2);
  EXPECT_TRUE(bounded.try_put(1));
  EXPECT_TRUE(bounded.try_put(2));
  EXPECT_TRUE(bounded.full());
  EXPECT_FALSE(bounded.try_put(3));
  EXPECT_EQ(bounded.size(), 2u);
  EXPECT_EQ(bounded.try_get(), std::optional<int>(1));
  EXPECT_FALSE(bounded.full());
  EXPECT_TRUE(bounded.try_put(3));
  EXPECT_EQ(bounded.try_get(), std::optional<int>(2));
  EXPECT_EQ(bounded.try_get(), std::optional<int>(3));
}

TEST(Loop, QueueGetWaitsForAnItem) {
  event_loop loop;
  tandem::queue<std::string> q;
  run_bounded(loop, [&] {
    auto consumer = tandem::current_loop().create_task([&] { return q.get(); });
    tandem::sleep_for(0s);
    tandem::sleep_for(0s);
    EXPECT_FALSE(consumer.done());
    q.put("item");  // room: does not suspend
    EXPECT_EQ(tandem::await(consumer), "item");
    // An item already there: get() returns it at once.
    q.put("ready");
    EXPECT_EQ(q.get(), "ready");
  });
}

TEST(Loop, QueuePutWaitsWhileFull) {
  event_loop loop;
  tandem::queue<int> q(1);
  run_bounded(loop, [&] {
    q.put(1);
    bool second_in = false;
    auto producer = tandem::current_loop().create_task([&] {
      q.put(2);
      second_in = true;
    });
    tandem::sleep_for(0s);
    tandem::sleep_for(0s);
    EXPECT_FALSE(second_in);
    EXPECT_TRUE(q.full());
    EXPECT_EQ(q.get(), 1);
    tandem::await(producer);
    EXPECT_TRUE(second_in);
    EXPECT_EQ(q.get(), 2);
  });
}

// asyncio serves waiting getters in the order they started waiting.
TEST(Loop, QueueWaitingGettersAreServedInOrder) {
  event_loop loop;
  tandem::queue<int> q;
  run_bounded(loop, [&] {
    std::vector<tandem::task<int>> getters;
    for (int i = 0; i < 5; ++i)
      getters.push_back(tandem::current_loop().create_task([&] { return q.get(); }));
    tandem::sleep_for(0s);
    for (int i = 0; i < 5; ++i) q.put(i * 10);
    for (int i = 0; i < 5; ++i) EXPECT_EQ(tandem::await(getters[i]), i * 10);
  });
}

TEST(Loop, QueueCarriesMoveOnlyItems) {
  event_loop loop;
  tandem::queue<std::unique_ptr<int>> q(1);
  run_bounded(loop, [&] {
    auto producer = tandem::current_loop().create_task([&] {
      for (int i = 0; i < 10; ++i) q.put(std::make_unique<int>(i));
    });
    for (int i = 0; i < 10; ++i) {
      auto p = q.get();
      ASSERT_NE(p, nullptr);
      EXPECT_EQ(*p, i);
    }
    tandem::await(producer);
  });
  EXPECT_TRUE(q.try_put(std::make_unique<int>(99)));
  EXPECT_EQ(**q.try_get(), 99);
}

TEST(Loop, QueueOfMaxsizeOnePassesTenThousandItemsInOrder) {
  event_loop loop;
  tandem::queue<int> q(1);
  constexpr int kItems = 10'000;
  int put = 0;
  int got = 0;
  int max_ahead = 0;
  int out_of_order = 0;
  auto producer = loop.create_task([&] {
    for (int i = 0; i < kItems; ++i) {
      q.put(i);
      ++put;
      max_ahead = std::max(max_ahead, put - got);
      if (q.size() > 1) ++out_of_order;  // never more than maxsize
    }
  });
  auto consumer = loop.create_task([&] {
    for (int i = 0; i < kItems; ++i) {
      if (q.get() != i) ++out_of_order;
      ++got;
    }
  });
  run_bounded(loop, [&] {
    tandem::await(producer);
    tandem::await(consumer);
  });
  EXPECT_EQ(put, kItems);
  EXPECT_EQ(got, kItems);
  EXPECT_EQ(out_of_order, 0);
  EXPECT_LE(max_ahead, 1);  // the producer was held back by maxsize
  EXPECT_TRUE(q.empty());
}

// ---------------------------------------------------------------------------
// event.

TEST(Loop, EventWakesEveryWaiterWhenSet) {
  event_loop loop;
  tandem::event e;
  EXPECT_FALSE(e.is_set());
  int woken = 0;
  run_bounded(loop, [&] {
    std::vector<tandem::task<void>> waiters;
    for (int i = 0; i < 3; ++i)
      waiters.push_back(tandem::current_loop().create_task([&] {
        e.wait();
        ++woken;
      }));
    tandem::sleep_for(0s);
    tandem::sleep_for(0s);
    EXPECT_EQ(woken, 0);
    e.set();
    EXPECT_TRUE(e.is_set());
    for (auto& w : waiters) tandem::await(w);
    EXPECT_EQ(woken, 3);
    e.wait();  // set: returns at once
    e.clear();
    EXPECT_FALSE(e.is_set());
    auto late = tandem::current_loop().create_task([&] { e.wait(); });
    tandem::sleep_for(0s);
    tandem::sleep_for(0s);
    EXPECT_FALSE(late.done());  // cleared: waits again
    e.set();
    tandem::await(late);
  });
}

// asyncio.Event: set() wakes the current waiters even if clear() follows
// before they get to run.
TEST(Loop, EventSetThenClearStillWakesTheWaiters) {
  event_loop loop;
  tandem::event e;
  run_bounded(loop, [&] {
    auto waiter = tandem::current_loop().create_task([&] { e.wait(); });
    tandem::sleep_for(0s);
    e.set();
    e.clear();
    tandem::await(waiter);
    EXPECT_FALSE(e.is_set());
  });
}

// ---------------------------------------------------------------------------
// call_soon_threadsafe.

TEST(Loop, CallSoonThreadsafeWakesASleepingLoop) {
  event_loop loop;
  // Nothing is scheduled: the loop sleeps in epoll with no timeout, so only
  // the wake-up can end this test; the watchdog turns a hang into a failure.
  abort_watchdog dog(20s, "call_soon_threadsafe did not wake the loop");
  std::atomic<bool> ran{false};
  const auto start = steady::now();
  std::thread poster([&] {
    std::this_thread::sleep_for(100ms);  // let the loop fall asleep first
    loop.call_soon_threadsafe([&] {
      ran = true;
      EXPECT_EQ(&tandem::current_loop(), &loop);
      loop.stop();
    });
  });
  loop.run_forever();
  poster.join();
  EXPECT_TRUE(ran);
  EXPECT_GE(steady::now() - start, 100ms);
}

TEST(Loop, CallSoonThreadsafeKeepsEachThreadsOrder) {
  event_loop loop;
  abort_watchdog dog(20s, "call_soon_threadsafe callbacks were lost");
  constexpr int kThreads = 3;
  constexpr int kPerThread = 2'000;
  std::vector<std::vector<int>> seen(kThreads);  // touched on the loop thread only
  int total = 0;
  std::vector<std::thread> posters;
  for (int t = 0; t < kThreads; ++t) {
    posters.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        loop.call_soon_threadsafe([&, t, i] {
          seen[t].push_back(i);
          if (++total == kThreads * kPerThread) loop.stop();
        });
      }
    });
  }
  loop.run_forever();
  for (auto& p : posters) p.join();
  EXPECT_EQ(total, kThreads * kPerThread);
  for (int t = 0; t < kThreads; ++t) {
    ASSERT_EQ(seen[t].size(), static_cast<std::size_t>(kPerThread));
    for (int i = 0; i < kPerThread; ++i) ASSERT_EQ(seen[t][i], i) << "thread " << t;
  }
}

// ---------------------------------------------------------------------------
// close() and the destructor.

TEST(Loop, CloseCancelsAndUnwinds) {
  int destroyed = 0;
  auto token = std::make_shared<int>(0);  // captured by every body
  tandem::queue<int> q;                   // outlives the loop
  tandem::event e;
  std::vector<tandem::task<void>> tasks;
  bool unstarted_ran = false;
  {
    event_loop loop;
    std::vector<std::function<void()>> suspensions = {
        [] { tandem::sleep_for(1h); },
        [] { tandem::sleep_until(steady::now() + 1h); },
        [&] { q.get(); },
        [&] { e.wait(); },
        [] {
          auto t = tandem::current_loop().create_task([] { tandem::sleep_for(1h); });
          tandem::await(t);
        },
    };
    for (auto& s : suspensions) {
      tasks.push_back(loop.create_task([&destroyed, token, s] {
        counted c(destroyed);
        s();
        ADD_FAILURE() << "a task resumed normally at close";
      }));
    }
    run_bounded(loop, [] { tandem::sleep_for(0s); });
    EXPECT_EQ(destroyed, 0);
    tasks.push_back(loop.create_task([&unstarted_ran, token] { unstarted_ran = true; }));
    loop.close();
    EXPECT_TRUE(loop.is_closed());
    EXPECT_FALSE(loop.is_running());
    EXPECT_EQ(destroyed, static_cast<int>(suspensions.size()));
  }
  EXPECT_FALSE(unstarted_ran);
  for (auto& t : tasks) {
    EXPECT_TRUE(t.done());
    EXPECT_TRUE(t.cancelled());
  }
  tasks.clear();
  EXPECT_EQ(token.use_count(), 1);  // every body was released
}

TEST(Loop, CloseWhileRunningThrows) {
  event_loop loop;
  run_bounded(loop, [&] { EXPECT_THROW(loop.close(), std::logic_error); });
  EXPECT_FALSE(loop.is_closed());
  EXPECT_EQ(run_bounded(loop, [] { return 1; }), 1);  // still open
}

TEST(Loop, SecondCloseDoesNothing) {
  event_loop loop;
  auto t = loop.create_task([] { return 1; });
  run_bounded(loop, t);
  loop.close();
  EXPECT_NO_THROW(loop.close());
  EXPECT_TRUE(loop.is_closed());
  EXPECT_EQ(t.result(), 1);
}  // and the destructor after two closes does nothing either

TEST(Loop, DestructorCancelsAndUnwinds) {
  int destroyed = 0;
  std::vector<tandem::task<int>> tasks;
  {
    event_loop loop;
    for (int i = 0; i < 10; ++i) {
      tasks.push_back(loop.create_task([&destroyed] {
        counted c(destroyed);
        tandem::sleep_for(1h);
        return 1;
      }));
    }
    run_bounded(loop, [] { tandem::sleep_for(0s); });
    EXPECT_EQ(destroyed, 0);
  }
  EXPECT_EQ(destroyed, 10);
  // The handles outlive the loop.
  for (auto& t : tasks) {
    EXPECT_TRUE(t.done());
    EXPECT_TRUE(t.cancelled());
    EXPECT_THROW(t.result(), tandem::cancelled_error);
  }
}

TEST(Loop, HandleOfTaskUnfinishedAtCloseReportsCancelled) {
  std::optional<tandem::task<int>> suspended, unstarted, finished, failed;
  {
    event_loop loop;
    suspended = loop.create_task([] {
      tandem::sleep_for(1h);
      return 1;
    });
    finished = loop.create_task([] { return 2; });
    failed = loop.create_task([]() -> int { throw std::runtime_error("kept"); });
    run_bounded(loop, [] { tandem::sleep_for(0s); });
    unstarted = loop.create_task([] { return 3; });
    EXPECT_FALSE(suspended->done());
    EXPECT_FALSE(unstarted->done());
    loop.close();
    EXPECT_TRUE(suspended->done());
    EXPECT_TRUE(suspended->cancelled());
    EXPECT_TRUE(unstarted->done());
    EXPECT_TRUE(unstarted->cancelled());
  }
  EXPECT_THROW(suspended->result(), tandem::cancelled_error);
  EXPECT_THROW(unstarted->result(), tandem::cancelled_error);
  EXPECT_THROW(unstarted->exception(), tandem::cancelled_error);
  // A finished task keeps its result.
  EXPECT_FALSE(finished->cancelled());
  EXPECT_EQ(finished->result(), 2);
  EXPECT_FALSE(failed->cancelled());
  EXPECT_THROW(failed->result(), std::runtime_error);
}

// ---------------------------------------------------------------------------
// Unretrieved exceptions.

std::size_t count_of(const std::string& haystack, const std::string& needle) {
  std::size_t n = 0;
  for (auto at = haystack.find(needle); at != std::string::npos; at = haystack.find(needle, at + 1))
    ++n;
  return n;
}

TEST(Loop, UnretrievedExceptionReportedOnStderr) {
  const std::string what = "unretrieved-failure-4711";
  std::optional<tandem::task<int>> handle;
  std::string before_drop;
  std::string after_drop;
  {
    event_loop loop;
    handle = loop.create_task([&]() -> int { throw std::runtime_error(what); });
    testing::internal::CaptureStderr();
    run_bounded(loop, [&] {
      while (!handle->done()) tandem::sleep_for(0s);  // done() retrieves nothing
    });
    before_drop = testing::internal::GetCapturedStderr();
    testing::internal::CaptureStderr();
    handle.reset();  // the last handle goes away
    loop.close();
  }
  after_drop = testing::internal::GetCapturedStderr();
  EXPECT_EQ(count_of(before_drop, what), 0u) << "reported while a handle was left: " << before_drop;
  EXPECT_EQ(count_of(after_drop, what), 1u) << "stderr: " << after_drop;
}

TEST(Loop, UnretrievedExceptionOfADiscardedHandleReportedOnStderr) {
  const std::string what = "discarded-failure-5150";
  bool thrown = false;
  testing::internal::CaptureStderr();
  {
    event_loop loop;
    loop.create_task([&] {
      thrown = true;
      throw std::runtime_error(what);
    });
    run_bounded(loop, [] {
      tandem::sleep_for(0s);
      tandem::sleep_for(0s);
    });
  }
  const std::string output = testing::internal::GetCapturedStderr();
  EXPECT_TRUE(thrown);
  EXPECT_EQ(count_of(output, what), 1u) << "stderr: " << output;
}

TEST(Loop, RetrievedExceptionsAreNotReported) {
  testing::internal::CaptureStderr();
  {
    event_loop loop;
    auto fail = [](const char* what) {
      return [what]() -> int {
        tandem::sleep_for(0s);
        throw std::runtime_error(what);
      };
    };
    auto by_result = loop.create_task(fail("by-result-1"));
    auto by_exception = loop.create_task(fail("by-exception-2"));
    auto by_await = loop.create_task(fail("by-await-3"));
    auto by_gather = loop.create_task(fail("by-gather-4"));
    auto by_wait_for = loop.create_task(fail("by-wait-for-5"));
    run_bounded(loop, [&] {
      EXPECT_THROW(tandem::await(by_await), std::runtime_error);
      EXPECT_THROW(tandem::gather(by_gather), std::runtime_error);
      EXPECT_THROW(tandem::wait_for(by_wait_for, 5s), std::runtime_error);
      while (!by_result.done() || !by_exception.done()) tandem::sleep_for(0s);
    });
    EXPECT_THROW(by_result.result(), std::runtime_error);
    EXPECT_NE(by_exception.exception(), nullptr);
    EXPECT_THROW(run_bounded(loop, fail("by-run-until-complete-6")), std::runtime_error);
  }
  const std::string output = testing::internal::GetCapturedStderr();
  for (const char* what : {"by-result-1", "by-exception-2", "by-await-3", "by-gather-4",
                           "by-wait-for-5", "by-run-until-complete-6"})
    EXPECT_EQ(output.find(what), std::string::npos) << what << " reported: " << output;
}

// asyncio does not log a cancelled task: cancellation is not a failure.
TEST(Loop, CancelledTaskIsNotReported) {
  testing::internal::CaptureStderr();
  {
    event_loop loop;
    auto t = loop.create_task([] { tandem::sleep_for(1h); });
    run_bounded(loop, [&] {
      tandem::sleep_for(0s);
      t.cancel();
      while (!t.done()) tandem::sleep_for(0s);
    });
  }
  const std::string output = testing::internal::GetCapturedStderr();
  EXPECT_EQ(output, "");
}

// ---------------------------------------------------------------------------
// docs/rules.md section 5: bad input.

template <class T>
void expect_moved_from_object_throws(const std::function<void(T&)>& use) {
  if constexpr (std::is_move_constructible_v<T>) {
    T original;
    T moved(std::move(original));
    EXPECT_THROW(use(original), std::logic_error);
  }
}

TEST(Loop, MovedFromTaskThrowsLogicError) {
  event_loop loop;
  auto t = loop.create_task([] { return 1; });
  auto taken = std::move(t);
  // Using the moved-from handle is the point of this test.
  EXPECT_THROW(t.done(), std::logic_error);  // NOLINT(clang-analyzer-cplusplus.Move)
  EXPECT_THROW(t.cancelled(), std::logic_error);
  EXPECT_THROW(t.cancel(), std::logic_error);
  EXPECT_THROW(t.result(), std::logic_error);
  EXPECT_THROW(t.exception(), std::logic_error);
  EXPECT_EQ(run_bounded(loop, taken), 1);
}

TEST(Loop, MovedFromTimerHandleThrowsLogicError) {
  event_loop loop;
  auto h = loop.call_later(1h, [] {});
  auto h_taken = std::move(h);
  // Using the moved-from handle is the point of this test.
  EXPECT_THROW(h.cancel(), std::logic_error);  // NOLINT(clang-analyzer-cplusplus.Move)
  EXPECT_THROW(h.cancelled(), std::logic_error);
  h_taken.cancel();
  EXPECT_TRUE(h_taken.cancelled());
}

// Checked only if queue and event are movable at all.
TEST(Loop, MovedFromQueueAndEventThrowLogicError) {
  expect_moved_from_object_throws<tandem::queue<int>>([](auto& q) { (void)q.try_put(1); });
  expect_moved_from_object_throws<tandem::event>([](auto& e) { e.set(); });
}

TEST(Loop, ResultBeforeDoneThrowsInvalidState) {
  event_loop loop;
  auto t = loop.create_task([] {
    tandem::sleep_for(5ms);
    return 1;
  });
  EXPECT_THROW(t.result(), tandem::invalid_state_error);  // not started
  EXPECT_THROW(t.exception(), tandem::invalid_state_error);
  auto v = loop.create_task([] {});
  EXPECT_THROW(v.result(), tandem::invalid_state_error);
  run_bounded(loop, [&] {
    tandem::sleep_for(0s);
    ASSERT_FALSE(t.done());
    EXPECT_THROW(t.result(), tandem::invalid_state_error);  // suspended
    EXPECT_THROW(t.exception(), tandem::invalid_state_error);
  });
  EXPECT_EQ(run_bounded(loop, t), 1);  // and nothing changed
}

TEST(Loop, BadStackSizeThrows) {
  event_loop loop;
  // Refused at create_task or when the task would start: either way the
  // caller sees the exception, and the loop stays usable.
  auto create_and_run = [&](std::size_t size) {
    auto t = loop.create_task([] { return 1; }, tandem::stack_options{.size = size});
    return run_bounded(loop, t);
  };
  EXPECT_THROW(create_and_run(100), std::invalid_argument);
  EXPECT_THROW(create_and_run(tandem::max_stack_size + 1), std::bad_alloc);
  EXPECT_EQ(run_bounded(loop, [] { return 2; }), 2);
}

TEST(Loop, ClosedLoopOperationsThrow) {
  event_loop loop;
  const auto now = steady::now();
  loop.close();
  EXPECT_THROW(loop.create_task([] {}), std::logic_error);
  EXPECT_THROW(loop.run_until_complete([] { return 1; }), std::logic_error);
  EXPECT_THROW(loop.run_forever(), std::logic_error);
  EXPECT_THROW(loop.call_soon([] {}), std::logic_error);
  EXPECT_THROW(loop.call_soon_threadsafe([] {}), std::logic_error);
  EXPECT_THROW(loop.call_later(1ms, [] {}), std::logic_error);
  EXPECT_THROW(loop.call_at(now, [] {}), std::logic_error);
  EXPECT_TRUE(loop.is_closed());
  EXPECT_FALSE(loop.is_running());
}

TEST(Loop, NegativeDurationCountsAsZero) {
  event_loop loop;
  std::vector<std::string> log;
  run_bounded(loop, [&] {
    auto& l = tandem::current_loop();
    // A negative sleep is sleep_for(0s): it lets the ready tasks run once.
    l.create_task([&] { log.push_back("other"); });
    const auto before = steady::now();
    tandem::sleep_for(-1h);
    log.push_back("after sleep_for(-1h)");
    l.create_task([&] { log.push_back("another"); });
    tandem::sleep_until(steady::now() - 1h);
    log.push_back("after sleep_until(past)");
    EXPECT_LT(steady::now() - before, 1s);
    // A negative delay is due at once: before a 10 ms timer.
    l.call_later(10ms, [&] { log.push_back("10ms"); });
    l.call_later(-1h, [&] { log.push_back("-1h"); });
    tandem::sleep_for(30ms);
  });
  EXPECT_EQ(log, (std::vector<std::string>{"other", "after sleep_for(-1h)", "another",
                                           "after sleep_until(past)", "-1h", "10ms"}));
}

}  // namespace
