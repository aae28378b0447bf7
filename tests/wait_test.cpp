// Waiting on time and on tasks (docs/rules.md, section 4): sleep_for and
// sleep_until, gather, wait_for; negative and saturating durations
// (section 5, rule 5).
//
// Every test that waits on the loop runs under a watchdog timer that stops
// the loop, so a broken loop fails the test instead of hanging it.
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <tuple>
#include <type_traits>
#include <variant>
#include <vector>

#include "support/loop_support.hpp"
#include "tandem/coroutine.hpp"
#include "tandem/loop.hpp"

namespace {

using namespace loop_testing;

// A task that sleeps until it is cancelled, then returns what `cleanup`
// returns (cleanup may wait, or rethrow with `throw;`).
template <class F>
tandem::task<int> sleeper_until_cancelled(F cleanup) {
  return tandem::current_loop().create_task([cleanup] {
    try {
      tandem::sleep_for(1h);
    } catch (const tandem::cancelled_error&) {
      return cleanup();
    }
    return 0;
  });
}

// Runs fn, which must refuse at once with std::logic_error saying that a
// task cannot wait for itself (a wait that returns, hangs or throws
// anything else fails the test).
template <class F>
void expect_refused_waiting_for_itself(F fn) {
  try {
    fn();
    ADD_FAILURE() << "the wait returned";
  } catch (const std::logic_error& e) {
    EXPECT_NE(std::string(e.what()).find("itself"), std::string::npos) << e.what();
  } catch (...) {
    ADD_FAILURE() << "the wait threw something other than std::logic_error";
  }
}

// ---------------------------------------------------------------------------
// sleep_for, sleep_until.

TEST(Wait, SleepForZeroLetsEveryReadyTaskRunOnce) {
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

TEST(Wait, SleepWaitsAtLeastTheDurationAndLetsOthersRun) {
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

TEST(Wait, TasksSleepingUntilTheSameDeadlineWakeInTheOrderTheySlept) {
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

// Regression: sleep_for refused inside a generator had already queued a wake-up of
// the task, which ended its next sleep early.
TEST(Wait, SleepRefusedInsideAGeneratorLeavesNoWakeUpQueued) {
  event_loop loop;
  run_bounded(loop, [] {
    tandem::coroutine<void, void> g([](tandem::yielder<void, void>&) { tandem::sleep_for(0s); });
    EXPECT_THROW(g.next(), std::logic_error);
    // A stray step would end this sleep early (or abort when the task ends).
    const auto start = std::chrono::steady_clock::now();
    tandem::sleep_for(50ms);
    EXPECT_GE(std::chrono::steady_clock::now() - start, 50ms);
  });
}

TEST(Wait, NegativeDurationCountsAsZero) {
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

// A deadline past the clock's range saturates: it never comes.
TEST(Wait, SleepForTheLongestDurationSleepsUntilCancelled) {
  event_loop loop;
  bool woke = false;
  const bool cancelled = run_bounded(loop, [&] {
    auto sleeper = tandem::current_loop().create_task([&] {
      tandem::sleep_for(tandem::clock::duration::max());
      woke = true;
    });
    tandem::sleep_for(20ms);
    EXPECT_FALSE(sleeper.done()) << "sleep_for(duration::max()) returned at once";
    sleeper.cancel();
    try {
      tandem::await(sleeper);
    } catch (const tandem::cancelled_error&) {
    }
    return sleeper.cancelled();
  });
  EXPECT_TRUE(cancelled);
  EXPECT_FALSE(woke);
}

// Bad-input rule 5: "forever" in a coarser unit than the clock's, the way
// std::this_thread::sleep_for takes it, saturates too. Regression: such a
// duration was converted to the clock's nanoseconds implicitly, at the
// call, and the multiplication overflowed (undefined behaviour): it wrapped
// negative, so sleep_for(hours::max()) returned at once and wait_for,
// timeout and wait timed out at once.
TEST(Wait, TheLongestDurationInACoarserUnitNeverExpires) {
  event_loop loop;
  run_bounded(loop, [] {
    auto sleeper = tandem::current_loop().create_task([] {
      tandem::sleep_for(std::chrono::hours::max());
      tandem::sleep_for(std::chrono::duration<unsigned long long, std::milli>::max());
    });
    auto slow = [] {
      return tandem::current_loop().create_task([] {
        tandem::sleep_for(5ms);
        return 7;
      });
    };
    EXPECT_EQ(tandem::wait_for(slow(), std::chrono::minutes::max()), 7);
    EXPECT_EQ(tandem::timeout(std::chrono::seconds::max(),
                              [] {
                                tandem::sleep_for(5ms);
                                return 8;
                              }),
              8);
    auto [done, pending] = tandem::wait(std::vector{slow()}, tandem::return_when::all_completed,
                                        std::chrono::microseconds::max());
    EXPECT_EQ(done.size(), 1u);
    EXPECT_TRUE(pending.empty());
    // Equally far into the past: it counts as zero.
    EXPECT_THROW(tandem::wait_for(slow(), std::chrono::hours::min()), tandem::timeout_error);
    EXPECT_FALSE(sleeper.done()) << "sleep_for(hours::max()) returned";
    sleeper.cancel();
  });
}

// ---------------------------------------------------------------------------
// gather.

TEST(Wait, GatherReturnsTheResultsInArgumentOrder) {
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

TEST(Wait, GatherRethrowsFirstExceptionOthersKeepRunning) {
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

// asyncio's _GatheringFuture: a gather whose cancellation was passed on to
// its tasks ends cancelled, even though they caught it and returned.
// Regression: such a gather returned its tasks' values.
TEST(Wait, CancelledGatherEndsCancelledEvenIfItsTasksReturn) {
  event_loop loop;
  int caught = 0;
  run_bounded(loop, [&] {
    auto& l = tandem::current_loop();
    auto stubborn = [&caught] {
      try {
        tandem::sleep_for(1h);
      } catch (const tandem::cancelled_error&) {
        ++caught;
      }
      return 1;
    };
    auto a = l.create_task(stubborn);
    auto b = l.create_task(stubborn);
    auto gathering = l.create_task([&] { return tandem::gather(a, b); });
    tandem::sleep_for(0s);
    tandem::sleep_for(0s);  // gathering waits, a and b sleep
    EXPECT_TRUE(gathering.cancel());
    EXPECT_THROW(tandem::await(gathering), tandem::cancelled_error);
    EXPECT_TRUE(gathering.cancelled());
    EXPECT_EQ(a.result(), 1);  // the tasks themselves completed normally
    EXPECT_EQ(b.result(), 1);
  });
  EXPECT_EQ(caught, 2);
}

// ---------------------------------------------------------------------------
// wait_for.

TEST(Wait, WaitForReturnsTheValueInTime) {
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

TEST(Wait, WaitForTimesOutAndCancels) {
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

TEST(Wait, WaitForReturnsValueIfTaskCaughtCancellation) {
  event_loop loop;
  run_bounded(loop, [] {
    auto stubborn = sleeper_until_cancelled([] { return 9; });
    EXPECT_EQ(tandem::wait_for(stubborn, 10ms), 9);
    EXPECT_FALSE(stubborn.cancelled());
    EXPECT_EQ(stubborn.result(), 9);
  });
}

TEST(Wait, WaitForZeroTimeout) {
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

// A timeout past the clock's range saturates: it never comes.
TEST(Wait, WaitForWithTheLongestTimeoutWaitsForTheTask) {
  event_loop loop;
  const int value = run_bounded(loop, [] {
    auto t = tandem::current_loop().create_task([] {
      tandem::sleep_for(5ms);
      return 7;
    });
    return tandem::wait_for(t, tandem::clock::duration::max());
  });
  EXPECT_EQ(value, 7);
}

// Regression (fuzzer): wait_for refused inside a generator had already cancelled
// the task it was given.
TEST(Wait, WaitForRefusedInsideAGeneratorDoesNotCancelTheTask) {
  event_loop loop;
  run_bounded(loop, [] {
    auto worker = tandem::current_loop().create_task([] {
      tandem::sleep_for(1ms);
      return 5;
    });
    tandem::coroutine<void, void> g(
        [&](tandem::yielder<void, void>&) { tandem::wait_for(worker, 0s); });
    EXPECT_THROW(g.next(), std::logic_error);
    EXPECT_FALSE(worker.cancelled());
    EXPECT_EQ(tandem::await(worker), 5);
  });
}

// ---------------------------------------------------------------------------
// gather over a vector (a list built at run time).

tandem::task<int> value_after(int value, steady::duration d) {
  return tandem::current_loop().create_task([value, d] {
    tandem::sleep_for(d);
    return value;
  });
}

// A cancellation that came while the task ran goes, at its next gather
// or wait_for, to the tasks they wait for (asyncio forwards a pending
// cancellation to what the task awaits), and that call ends cancelled.
// Regression: they threw at once and left the tasks running.
TEST(Wait, GatherAndWaitForForwardACancellationThatCameWhileTheTaskRan) {
  event_loop loop;
  std::optional<tandem::task<void>> self;
  std::vector<tandem::task<int>> waited;
  self = loop.create_task([&] {
    auto a = sleeper_until_cancelled([]() -> int { throw; });
    auto b = sleeper_until_cancelled([]() -> int { throw; });
    auto c = sleeper_until_cancelled([]() -> int { throw; });
    waited = {a, b, c};
    tandem::sleep_for(0s);  // they sleep
    self->cancel();
    EXPECT_THROW(tandem::gather(a, b), tandem::cancelled_error);
    self->cancel();
    EXPECT_THROW(tandem::wait_for(c, 1h), tandem::cancelled_error);
  });
  EXPECT_NO_THROW(run_bounded(loop, *self));
  for (auto& t : waited) EXPECT_TRUE(t.cancelled());
}

// wait() never cancels: a cancellation that came while the task ran is
// thrown at it, and the tasks go on.
TEST(Wait, WaitThrowsACancellationThatCameWhileTheTaskRanAndCancelsNothing) {
  event_loop loop;
  std::optional<tandem::task<void>> self;
  self = loop.create_task([&] {
    std::vector<tandem::task<int>> tasks{value_after(1, 1ms)};
    self->cancel();
    EXPECT_THROW(tandem::wait(tasks), tandem::cancelled_error);
    EXPECT_FALSE(tasks[0].cancelled());
    EXPECT_EQ(tandem::await(tasks[0]), 1);
  });
  EXPECT_NO_THROW(run_bounded(loop, *self));
}

TEST(Wait, GatherOverAVectorReturnsTheValuesInListOrder) {
  event_loop loop;
  const auto values = run_bounded(loop, [] {
    std::vector<tandem::task<int>> tasks;
    for (int i = 0; i < 5; ++i) tasks.push_back(value_after(i, std::chrono::milliseconds(5 - i)));
    return tandem::gather(tasks);
  });
  EXPECT_EQ(values, (std::vector<int>{0, 1, 2, 3, 4}));
}

TEST(Wait, GatherOverAVectorMovesMoveOnlyValuesOut) {
  event_loop loop;
  run_bounded(loop, [] {
    std::vector<tandem::task<std::unique_ptr<int>>> tasks;
    for (int i = 0; i < 3; ++i)
      tasks.push_back(
          tandem::current_loop().create_task([i] { return std::make_unique<int>(i * 10); }));
    const auto values = tandem::gather(std::move(tasks));
    ASSERT_EQ(values.size(), 3u);
    EXPECT_EQ(*values[2], 20);
  });
}

TEST(Wait, GatherOverAnEmptyVectorReturnsAtOnce) {
  event_loop loop;
  run_bounded(loop, [] {
    EXPECT_TRUE(tandem::gather(std::vector<tandem::task<int>>{}).empty());
    tandem::gather(std::vector<tandem::task<void>>{});
  });
}

TEST(Wait, GatherOverAVectorRethrowsTheFirstFailureAndACancellation) {
  event_loop loop;
  run_bounded(loop, [] {
    auto& l = tandem::current_loop();
    std::vector<tandem::task<void>> tasks;
    tasks.push_back(l.create_task([] { tandem::sleep_for(1h); }));
    tasks.push_back(l.create_task([] { throw std::runtime_error("second failed"); }));
    EXPECT_THROW(tandem::gather(tasks), std::runtime_error);
    EXPECT_FALSE(tasks[0].done()) << "the others keep running";
    tasks[0].cancel();
    std::vector<tandem::task<void>> with_cancelled{tasks[0]};
    EXPECT_THROW(tandem::gather(with_cancelled), tandem::cancelled_error);
  });
}

TEST(Wait, CancellingAGatherOverAVectorCancelsTheListedTasks) {
  event_loop loop;
  run_bounded(loop, [] {
    auto& l = tandem::current_loop();
    std::vector<tandem::task<int>> tasks{value_after(1, 1h), value_after(2, 1h)};
    auto gatherer = l.create_task([tasks] { tandem::gather(tasks); });
    tandem::sleep_for(0s);
    gatherer.cancel();
    EXPECT_THROW(tandem::await(gatherer), tandem::cancelled_error);
    EXPECT_TRUE(tasks[0].cancelled());
    EXPECT_TRUE(tasks[1].cancelled());
  });
}

// A task that gathers itself would wait for its own end, which cannot come
// while it waits: std::logic_error, as from await(self) and wait_for(self),
// before anything is waited (no listed task cancelled, no callback left on
// one). CPython 3.11 hangs there. Regression: the gather hung.
TEST(Wait, GatherOfTheGatheringTaskItselfThrowsLogicError) {
  event_loop loop;
  std::optional<tandem::task<int>> self;
  self = loop.create_task([&] {
    auto other = value_after(1, 1h);
    expect_refused_waiting_for_itself([&] { tandem::gather(other, *self); });
    expect_refused_waiting_for_itself([&] { tandem::gather(std::vector{other, *self}); });
    EXPECT_FALSE(other.done()) << "the refusal cancelled a gathered task";
    EXPECT_EQ(tandem::detail::task_access::core(other).done_callback_count(), 0u);
    other.cancel();
    return 0;
  });
  EXPECT_EQ(run_bounded(loop, *self), 0);
}

// ---------------------------------------------------------------------------
// wait (asyncio.wait)

TEST(Wait, WaitAllCompletedReturnsEveryTaskDoneInInputOrder) {
  event_loop loop;
  run_bounded(loop, [] {
    std::vector<tandem::task<int>> tasks{value_after(0, 3ms), value_after(1, 1ms)};
    auto [done, pending] = tandem::wait(tasks);
    ASSERT_EQ(done.size(), 2u);
    EXPECT_TRUE(pending.empty());
    EXPECT_EQ(done[0].result(), 0);
    EXPECT_EQ(done[1].result(), 1);
  });
}

TEST(Wait, WaitFirstCompletedReturnsOnceOneIsDoneAndCancelsNothing) {
  event_loop loop;
  run_bounded(loop, [] {
    std::vector<tandem::task<int>> tasks{value_after(0, 1h), value_after(1, 1ms)};
    auto [done, pending] = tandem::wait(tasks, tandem::return_when::first_completed);
    ASSERT_EQ(done.size(), 1u);
    ASSERT_EQ(pending.size(), 1u);
    EXPECT_EQ(done[0].result(), 1);
    EXPECT_FALSE(pending[0].done());
    EXPECT_FALSE(pending[0].cancelled());
    pending[0].cancel();
  });
}

TEST(Wait, WaitFirstExceptionReturnsAtAFailureButNotAtACancellation) {
  event_loop loop;
  run_bounded(loop, [] {
    auto& l = tandem::current_loop();
    std::vector<tandem::task<void>> tasks;
    tasks.push_back(l.create_task([] { tandem::sleep_for(1h); }));
    tasks.push_back(l.create_task([] { tandem::sleep_for(1h); }));
    tasks.push_back(l.create_task([] {
      tandem::sleep_for(2ms);
      throw std::runtime_error("failed");
    }));
    tandem::sleep_for(0s);
    tasks[1].cancel();
    auto [done, pending] = tandem::wait(tasks, tandem::return_when::first_exception);
    ASSERT_EQ(done.size(), 2u) << "the cancelled task is done, and did not end the wait";
    EXPECT_TRUE(done[0].cancelled());
    EXPECT_THROW(done[1].result(), std::runtime_error);
    ASSERT_EQ(pending.size(), 1u);
    pending[0].cancel();
  });
}

TEST(Wait, WaitWithATimeoutReturnsWhatIsDoneSoFar) {
  event_loop loop;
  run_bounded(loop, [] {
    std::vector<tandem::task<int>> tasks{value_after(0, 1h), value_after(1, 0s)};
    auto [done, pending] = tandem::wait(tasks, tandem::return_when::all_completed, 5ms);
    ASSERT_EQ(done.size(), 1u);
    EXPECT_EQ(done[0].result(), 1);
    ASSERT_EQ(pending.size(), 1u);
    EXPECT_FALSE(pending[0].cancelled()) << "wait never cancels";
    pending[0].cancel();
  });
}

// A wait that ends before a task does takes back the done-callback it left
// on that task, as asyncio's wait() removes its own: a loop of waits with a
// timeout on a long-lived task must not grow the task's list without bound.
// Regression: each wait left one callback behind.
TEST(Wait, WaitsThatEndFirstLeaveNoCallbackOnTheTaskTheyWaitedFor) {
  event_loop loop;
  run_bounded(loop, [] {
    std::vector<tandem::task<int>> tasks{value_after(0, 1h)};
    const auto& long_lived = tandem::detail::task_access::core(tasks[0]);
    for (int i = 0; i < 100; ++i) {
      auto [done, pending] = tandem::wait(tasks, tandem::return_when::all_completed, 0s);
      ASSERT_EQ(pending.size(), 1u);
      tasks = std::move(pending);
      EXPECT_EQ(long_lived.done_callback_count(), 0u) << "after wait " << i;
    }
    std::vector<tandem::task<int>> pair{tasks[0], value_after(1, 0s)};
    auto [done, pending] = tandem::wait(pair, tandem::return_when::first_completed);
    ASSERT_EQ(done.size(), 1u);
    EXPECT_EQ(long_lived.done_callback_count(), 0u) << "after first_completed";
    tasks[0].cancel();
  });
}

TEST(Wait, GatherEndedByAFailureLeavesNoCallbackOnTheTasksStillRunning) {
  event_loop loop;
  run_bounded(loop, [] {
    auto& l = tandem::current_loop();
    auto slow = l.create_task([] { tandem::sleep_for(1h); });
    auto failing = l.create_task([] {
      tandem::sleep_for(1ms);
      throw std::runtime_error("failed");
    });
    EXPECT_THROW(tandem::gather(slow, failing), std::runtime_error);
    EXPECT_FALSE(slow.done());
    EXPECT_EQ(tandem::detail::task_access::core(slow).done_callback_count(), 0u);
    slow.cancel();
  });
}

TEST(Wait, WaitOnAnEmptyListThrowsInvalidArgument) {
  event_loop loop;
  run_bounded(loop, [] {
    EXPECT_THROW(tandem::wait(std::vector<tandem::task<int>>{}), std::invalid_argument);
  });
}

// wait() on a list that holds the waiting task: refused as gather(self) is,
// also where it would not hang (another listed task is done and
// first_completed could return, or a timeout would end the wait), as
// wait_for(self, timeout) is refused: a task cannot wait for itself.
// Regression: the waits returned, or hung.
TEST(Wait, WaitOnAListHoldingTheWaitingTaskItselfThrowsLogicError) {
  event_loop loop;
  std::optional<tandem::task<int>> self;
  self = loop.create_task([&] {
    auto done = value_after(2, 0s);
    tandem::await(done);
    auto pending = value_after(1, 1h);
    expect_refused_waiting_for_itself([&] {
      tandem::wait(std::vector{done, *self}, tandem::return_when::first_completed);
    });
    expect_refused_waiting_for_itself(
        [&] { tandem::wait(std::vector{*self}, tandem::return_when::all_completed, 1ms); });
    expect_refused_waiting_for_itself([&] { tandem::wait(std::vector{pending, *self}); });
    EXPECT_FALSE(pending.done());
    EXPECT_EQ(tandem::detail::task_access::core(pending).done_callback_count(), 0u);
    pending.cancel();
    return 0;
  });
  EXPECT_EQ(run_bounded(loop, *self), 0);
}

// ---------------------------------------------------------------------------
// timeout / timeout_at (asyncio.timeout)

TEST(Wait, TimeoutReturnsTheValueOfAFnThatFinishesInTime) {
  event_loop loop;
  EXPECT_EQ(run_bounded(loop,
                        [] {
                          return tandem::timeout(1h, [] {
                            tandem::sleep_for(1ms);
                            return 3;
                          });
                        }),
            3);
}

TEST(Wait, TimeoutThatExpiresThrowsTimeoutError) {
  event_loop loop;
  run_bounded(loop, [] {
    bool cancelled_inside = false;
    EXPECT_THROW(tandem::timeout(2ms,
                                 [&] {
                                   try {
                                     tandem::sleep_for(1h);
                                   } catch (const tandem::cancelled_error&) {
                                     cancelled_inside = true;
                                     throw;
                                   }
                                 }),
                 tandem::timeout_error);
    EXPECT_TRUE(cancelled_inside) << "fn saw a cancellation at its suspension";
    tandem::sleep_for(1ms);  // the task is not left cancelled
  });
}

TEST(Wait, TimeoutWhoseFnCatchesTheCancellationReturnsItsValue) {
  event_loop loop;
  EXPECT_EQ(run_bounded(loop,
                        [] {
                          const int v = tandem::timeout(1ms, [] {
                            try {
                              tandem::sleep_for(1h);
                            } catch (const tandem::cancelled_error&) {
                              return -1;
                            }
                            return 0;
                          });
                          tandem::sleep_for(1ms);  // not cancelled again afterwards
                          return v;
                        }),
            -1);
}

// asyncio's Timeout.__aexit__ withdraws its cancellation whatever fn
// raised: a fn that turns the timeout's cancelled_error into another
// exception leaves the task with no cancellation request, and nothing
// cancels it later (a task group's child failing after this cancelled the
// task once more, as if from outside).
TEST(Wait, TimeoutWhoseFnTurnsTheCancellationIntoAnotherErrorWithdrawsIt) {
  event_loop loop;
  auto t = loop.create_task([] {
    EXPECT_THROW(tandem::timeout(1ms,
                                 [] {
                                   try {
                                     tandem::sleep_for(1h);
                                   } catch (const tandem::cancelled_error&) {
                                     throw std::runtime_error("converted");
                                   }
                                 }),
                 std::runtime_error);
    EXPECT_THROW(tandem::with_task_group([](tandem::task_group& g) {
                   g.create_task([] {
                     tandem::sleep_for(1ms);
                     throw std::runtime_error("child");
                   });
                   tandem::sleep_for(1h);
                 }),
                 tandem::exception_group);
    tandem::sleep_for(1ms);  // not cancelled
    return 7;
  });
  EXPECT_EQ(loop.run_until_complete(t), 7);
}

// A call that need not wait does not yield, so it never times out.
TEST(Wait, TimeoutNeverExpiresInACallThatDoesNotYield) {
  event_loop loop;
  run_bounded(loop, [] {
    tandem::queue<int> q;
    q.put(5);
    const int v = tandem::timeout(0s, [&] {
      const auto until = steady::now() + 3ms;
      while (steady::now() < until) {
      }                // past the deadline without yielding
      return q.get();  // not empty: no suspension
    });
    EXPECT_EQ(v, 5);
    tandem::sleep_for(1ms);
  });
}

// CPython's test_timeouts: nested timeouts where the outer one expires
// first. The inner fn sees a cancellation, the inner timeout passes it on
// (it did not expire), the outer one turns it into timeout_error.
TEST(Wait, NestedTimeoutsWhereTheOuterExpiresFirst) {
  event_loop loop;
  run_bounded(loop, [] {
    bool inner_saw_cancelled = false;
    EXPECT_THROW(tandem::timeout(2ms,
                                 [&] {
                                   try {
                                     tandem::timeout(1h, [] { tandem::sleep_for(1h); });
                                   } catch (const tandem::cancelled_error&) {
                                     inner_saw_cancelled = true;
                                     throw;
                                   }
                                 }),
                 tandem::timeout_error);
    EXPECT_TRUE(inner_saw_cancelled);
  });
}

TEST(Wait, NestedTimeoutsWhereTheInnerExpiresFirst) {
  event_loop loop;
  EXPECT_EQ(run_bounded(loop,
                        [] {
                          return tandem::timeout(1h, [] {
                            try {
                              tandem::timeout(1ms, [] { tandem::sleep_for(1h); });
                            } catch (const tandem::timeout_error&) {
                              tandem::sleep_for(1ms);  // the outer one is not affected
                              return 1;
                            }
                            return 0;
                          });
                        }),
            1);
}

// A cancellation from outside stays a cancellation, even when the deadline
// passed too.
TEST(Wait, TimeoutKeepsACancellationFromOutside) {
  event_loop loop;
  run_bounded(loop, [] {
    auto& l = tandem::current_loop();
    auto t = l.create_task([] { tandem::timeout(1ms, [] { tandem::sleep_for(1h); }); });
    tandem::sleep_for(0s);
    t.cancel();
    EXPECT_THROW(tandem::await(t), tandem::cancelled_error);
    EXPECT_TRUE(t.cancelled());
  });
}

TEST(Wait, TimeoutWithTheLongestDurationNeverExpires) {
  event_loop loop;
  EXPECT_EQ(run_bounded(loop,
                        [] {
                          return tandem::timeout(steady::duration::max(), [] {
                            tandem::sleep_for(2ms);
                            return 9;
                          });
                        }),
            9);
}

TEST(Wait, TimeoutAtADeadlineInThePastStillRunsFn) {
  event_loop loop;
  run_bounded(loop, [] {
    int ran = 0;
    EXPECT_THROW(tandem::timeout_at(steady::now() - 1h,
                                    [&] {
                                      ++ran;
                                      tandem::sleep_for(1h);
                                    }),
                 tandem::timeout_error);
    EXPECT_EQ(ran, 1) << "timeout never throws before fn runs";
  });
}

TEST(Wait, TimeoutOutsideATaskThrowsLogicError) {
  EXPECT_THROW(tandem::timeout(1s, [] { return 1; }), std::logic_error);
}

// CPython's test_timeouts: a timeout whose deadline is moved.
TEST(Wait, TimeoutWhoseDeadlineIsMovedLaterDoesNotExpireAtTheFirst) {
  event_loop loop;
  EXPECT_EQ(run_bounded(loop,
                        [] {
                          return tandem::timeout(1ms, [](tandem::timeout_scope& t) {
                            const auto later = steady::now() + 1h;
                            t.reschedule(later);
                            EXPECT_EQ(t.when(), later);
                            tandem::sleep_for(5ms);
                            EXPECT_FALSE(t.expired());
                            return 7;
                          });
                        }),
            7);
}

TEST(Wait, TimeoutWhoseDeadlineIsMovedEarlierExpiresThen) {
  event_loop loop;
  run_bounded(loop, [] {
    bool expired_inside = false;
    EXPECT_THROW(tandem::timeout(1h,
                                 [&](tandem::timeout_scope& t) {
                                   t.reschedule(steady::now() + 1ms);
                                   try {
                                     tandem::sleep_for(1h);
                                   } catch (const tandem::cancelled_error&) {
                                     expired_inside = t.expired();
                                     EXPECT_THROW(t.reschedule(steady::now() + 1h),
                                                  std::logic_error);
                                     throw;
                                   }
                                 }),
                 tandem::timeout_error);
    EXPECT_TRUE(expired_inside);
  });
}

TEST(Wait, TimeoutRescheduledToTheLongestDeadlineHasNone) {
  event_loop loop;
  EXPECT_EQ(run_bounded(loop,
                        [] {
                          return tandem::timeout(1ms, [](tandem::timeout_scope& t) {
                            t.reschedule(steady::time_point::max());
                            tandem::sleep_for(3ms);
                            return 1;
                          });
                        }),
            1);
}

// wait_for(t, 0) cancels t once (rule 4.6). A task that catches the
// cancellation and cleans up (which suspends) must not be cancelled again.
TEST(Wait, WaitForZeroTimeoutCancelsOnlyOnce) {
  event_loop loop;
  run_bounded(loop, [] {
    auto stubborn = sleeper_until_cancelled([] {
      tandem::sleep_for(20ms);  // cleanup that waits
      return 9;
    });
    tandem::sleep_for(0s);  // stubborn sleeps
    EXPECT_EQ(tandem::wait_for(stubborn, 0s), 9);
    EXPECT_EQ(stubborn.cancelling(), 1u);
  });
}

// A task waiting in wait_for that is cancelled from outside ends in
// cancelled_error even if the deadline passes while the awaited task cleans
// up (asyncio: the outside cancellation is not turned into a timeout).
TEST(Wait, WaitForCancelledFromOutsideStaysCancelledThoughTheDeadlinePasses) {
  event_loop loop;
  run_bounded(loop, [] {
    auto inner = sleeper_until_cancelled([]() -> int {
      tandem::sleep_for(50ms);  // cleanup, past the waiter's deadline
      throw;
    });
    auto waiter =
        tandem::current_loop().create_task([inner] { return tandem::wait_for(inner, 20ms); });
    tandem::sleep_for(0s);
    tandem::sleep_for(0s);
    waiter.cancel();  // from outside, long before the deadline
    bool cancelled = false;
    try {
      tandem::await(waiter);
    } catch (const tandem::cancelled_error&) {
      cancelled = true;
    } catch (const tandem::timeout_error&) {
    }
    EXPECT_TRUE(cancelled) << "the outside cancellation became a timeout_error";
  });
}

// ---------------------------------------------------------------------------
// as_completed (asyncio.as_completed).

// A task that sleeps `ms` milliseconds and returns `value`.
tandem::task<int> sleeper(int ms, int value) {
  return tandem::current_loop().create_task([ms, value] {
    tandem::sleep_for(std::chrono::milliseconds(ms));
    return value;
  });
}

// A task that returns `value` once `finish` is set.
tandem::task<int> finisher(tandem::event& finish, int value) {
  return tandem::current_loop().create_task([&finish, value] {
    finish.wait();
    return value;
  });
}

// Listed 3, 1, 2, the tasks finish 1, 2, 3, as a driver sets their events
// one loop iteration apart: no clock decides the order, so a stalled
// machine cannot change it (with sleeps of 20, 40 and 60 ms, one stalled
// under TSan between the tasks' starts once finished them 1, 3, 2).
TEST(Wait, AsCompletedHandsTasksBackInTheOrderTheyFinish) {
  event_loop loop;
  run_bounded(loop, [] {
    tandem::event first;
    tandem::event second;
    tandem::event third;
    std::vector<tandem::task<int>> tasks{finisher(third, 3), finisher(first, 1),
                                         finisher(second, 2)};
    auto driver = tandem::current_loop().create_task([&] {
      for (tandem::event* e : {&first, &second, &third}) {
        e->set();
        tandem::sleep_for(0s);  // its task runs to its end meanwhile
      }
    });
    std::vector<int> order;
    for (tandem::task<int>& t : tandem::as_completed(std::move(tasks))) {
      EXPECT_TRUE(t.done());
      order.push_back(tandem::await(t));
    }
    EXPECT_EQ(order, (std::vector<int>{1, 2, 3}));
    tandem::await(driver);
  });
}

// Done already: first, in list order; then the others as they finish.
TEST(Wait, AsCompletedHandsBackTasksDoneAlreadyFirstInListOrder) {
  event_loop loop;
  run_bounded(loop, [] {
    auto slow = sleeper(200, 0);
    auto a = tandem::current_loop().create_task([] { return 1; });
    auto b = tandem::current_loop().create_task([] { return 2; });
    tandem::sleep_for(0s);
    ASSERT_TRUE(a.done() && b.done());
    tandem::as_completed pending(std::vector<tandem::task<int>>{slow, b, a});
    std::vector<int> order;
    while (auto t = pending.next()) order.push_back(t->result());
    EXPECT_EQ(order, (std::vector<int>{2, 1, 0}));
    EXPECT_FALSE(pending.next().has_value());
  });
}

// A failed or cancelled task comes back like any other: its handle tells
// how it ended.
TEST(Wait, AsCompletedHandsBackFailedAndCancelledTasks) {
  event_loop loop;
  run_bounded(loop, [] {
    auto& l = tandem::current_loop();
    auto failing = l.create_task([]() -> int { throw std::runtime_error("failed"); });
    auto cancelled = sleeper(1000, 0);
    auto ok = sleeper(5, 7);
    cancelled.cancel();
    tandem::as_completed pending(std::vector<tandem::task<int>>{ok, cancelled, failing});
    int seen = 0;
    while (auto t = pending.next()) {
      ++seen;
      if (t->cancelled()) {
        EXPECT_THROW(tandem::await(*t), tandem::cancelled_error);
      } else if (t->exception() != nullptr) {
        EXPECT_THROW(tandem::await(*t), std::runtime_error);
      } else {
        EXPECT_EQ(tandem::await(*t), 7);
      }
    }
    EXPECT_EQ(seen, 3);
  });
}

// asyncio: the timeout covers the whole iteration; past it the wait throws
// TimeoutError, and nothing is cancelled.
TEST(Wait, AsCompletedPastItsTimeoutThrowsTimeoutErrorAndCancelsNothing) {
  event_loop loop;
  run_bounded(loop, [] {
    auto quick = sleeper(1, 1);
    auto slow = sleeper(200, 2);
    tandem::as_completed pending(std::vector<tandem::task<int>>{slow, quick}, 50ms);
    auto first = pending.next();
    ASSERT_TRUE(first.has_value());
    EXPECT_EQ(first->result(), 1);
    EXPECT_THROW((void)pending.next(), tandem::timeout_error);
    EXPECT_FALSE(slow.done());
    EXPECT_FALSE(slow.cancelled());
    EXPECT_EQ(tandem::await(slow), 2);
    // Once it finished, the same iteration hands it back without waiting.
    auto last = pending.next();
    ASSERT_TRUE(last.has_value());
    EXPECT_EQ(last->result(), 2);
  });
}

// Cancelling the task waiting in next() cancels none of the listed tasks;
// an iteration dropped early leaves no callback on the tasks still running.
TEST(Wait, AsCompletedCancelledOrDroppedLeavesTheTasksAlone) {
  event_loop loop;
  run_bounded(loop, [] {
    auto& l = tandem::current_loop();
    auto slow = sleeper(200, 5);
    auto waiter = l.create_task([&] {
      tandem::as_completed pending(std::vector<tandem::task<int>>{slow});
      return pending.next()->result();
    });
    tandem::sleep_for(0s);
    tandem::sleep_for(0s);
    EXPECT_EQ(tandem::detail::task_access::core(slow).done_callback_count(), 1u);
    waiter.cancel();
    EXPECT_THROW(tandem::await(waiter), tandem::cancelled_error);
    EXPECT_FALSE(slow.cancelled());
    EXPECT_EQ(tandem::detail::task_access::core(slow).done_callback_count(), 0u);
    EXPECT_EQ(tandem::await(slow), 5);
  });
}

// A "forever" in a coarse unit saturates: it never comes (a conversion
// that wrapped would time out at once).
TEST(Wait, AsCompletedWithTheLongestTimeoutInACoarserUnitNeverTimesOut) {
  event_loop loop;
  run_bounded(loop, [] {
    tandem::as_completed pending(std::vector<tandem::task<int>>{sleeper(10, 4)},
                                 std::chrono::hours::max());
    auto t = pending.next();
    ASSERT_TRUE(t.has_value());
    EXPECT_EQ(t->result(), 4);
  });
}

TEST(Wait, AsCompletedOfNothingEndsAtOnceAndWaitingOutsideATaskThrows) {
  event_loop loop;
  tandem::as_completed empty(std::vector<tandem::task<int>>{});
  EXPECT_FALSE(empty.next().has_value());
  auto t = loop.create_task([] { return 1; });
  tandem::as_completed pending(std::vector<tandem::task<int>>{t});
  EXPECT_THROW((void)pending.next(), std::logic_error);  // t has not run: must wait
}

// as_completed over a list that holds the iterating task: its first next()
// refuses, before any wait and before handing back the tasks done already
// (the iteration could only end waiting for the task's own end), and so
// does any later one that would wait. Regression: it handed the others
// back, then timed out, or hung.
TEST(Wait, AsCompletedOfTheIteratingTaskItselfThrowsLogicError) {
  event_loop loop;
  std::optional<tandem::task<int>> self;
  self = loop.create_task([&] {
    auto done = value_after(2, 0s);
    tandem::await(done);
    tandem::as_completed with_done(std::vector{done, *self});
    expect_refused_waiting_for_itself([&] { (void)with_done.next(); });
    tandem::as_completed with_timeout(std::vector{*self}, 1ms);
    expect_refused_waiting_for_itself([&] { (void)with_timeout.next(); });
    tandem::as_completed alone(std::vector{*self});
    expect_refused_waiting_for_itself([&] { (void)alone.next(); });
    return 0;
  });
  EXPECT_EQ(run_bounded(loop, *self), 0);
}

// Loop rule 6, a cancellation from outside: as asyncio 3.11's wait_for
// (which cancels the awaited task, waits for it, and raises), the wait
// ends in cancelled_error even if the awaited task caught the forwarded
// cancellation and returned, as gather's does. Regression: wait_for
// returned the awaited task's value, and the outside cancellation was
// lost, though the header says the wait ends in cancelled_error.
TEST(Wait, WaitForCancelledFromOutsideThrowsCancelledEvenIfTheTaskReturned) {
  event_loop loop;
  run_bounded(loop, [] {
    auto stubborn = sleeper_until_cancelled([] { return 9; });
    auto waiter =
        tandem::current_loop().create_task([stubborn] { return tandem::wait_for(stubborn, 1h); });
    tandem::sleep_for(0s);
    tandem::sleep_for(0s);
    waiter.cancel();
    EXPECT_THROW(tandem::await(waiter), tandem::cancelled_error)
        << "wait_for returned the value: the outside cancellation was lost";
    EXPECT_EQ(stubborn.result(), 9);  // it was cancelled, caught it and returned
  });
}

}  // namespace
