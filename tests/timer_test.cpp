// Timers (docs/rules.md, section 4): call_later, call_at and timer_handle:
// deadline order, equal deadlines in the order scheduled, cancellation,
// asyncio's TimerHandle semantics, what a timer's callback holds and when
// it lets go, callbacks that throw, bad callbacks, and deadlines too far
// for the clock.
//
// Every run of the loop is bounded: a watchdog timer stops it, or (run_for)
// a timer ends the run.
#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "support/loop_support.hpp"
#include "tandem/loop.hpp"

namespace {

using namespace loop_testing;

// ---------------------------------------------------------------------------
// Order and deadlines.

TEST(Timer, TimersWithEqualDeadlinesRunInTheOrderScheduled) {
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

// A deadline at the clock's minimum is long past: it fires in the next
// iteration. (The loop's wait for it overflowed into about 12 days; a
// thread wakes the loop after 2 s, so that such a wait ends the test.)
TEST(Timer, ADeadlineAtTheClocksMinimumFiresAtOnce) {
  event_loop loop;
  const auto start = std::chrono::steady_clock::now();
  loop.call_at(tandem::clock::time_point::min(), [&] { loop.stop(); });
  std::atomic<bool> stopped{false};
  std::thread waker([&] {
    for (int i = 0; i < 200 && !stopped.load(); ++i) std::this_thread::sleep_for(10ms);
    if (!stopped.load()) loop.call_soon_threadsafe([&] { loop.stop(); });
  });
  loop.run_forever();
  stopped.store(true);
  waker.join();
  EXPECT_LT(std::chrono::steady_clock::now() - start, 1s);
}

TEST(Timer, TimersRunInDeadlineOrderNotSchedulingOrder) {
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

TEST(Timer, CallLaterFiresNoEarlierThanItsDeadline) {
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

// Most of the heap cancelled, far in the future: the loop sweeps them out
// in one pass and rebuilds the heap, rather than keeping them until their
// deadline. The live timers, with equal deadlines among them, must still
// fire in deadline order, then scheduling order.
TEST(Timer, ManyCancelledTimersDoNotDisturbTheLiveOnes) {
  event_loop loop;
  std::vector<int> fired;
  const auto base = loop.time() + 2ms;
  for (int round = 0; round < 3; ++round) {
    std::vector<tandem::timer_handle> far;
    for (int i = 0; i < 500; ++i)
      far.push_back(loop.call_later(1h, [&fired] { fired.push_back(-1); }));
    for (int i = 0; i < 10; ++i) {
      const int id = round * 10 + i;
      loop.call_at(base + (id % 7) * 100us, [&fired, id] { fired.push_back(id); });
    }
    for (auto& h : far) h.cancel();
  }
  run_for(loop, 20ms);
  ASSERT_EQ(fired.size(), 30u);
  for (std::size_t i = 1; i < fired.size(); ++i) {
    const int a = fired[i - 1];
    const int b = fired[i];
    EXPECT_TRUE(a % 7 < b % 7 || (a % 7 == b % 7 && a < b)) << a << " before " << b;
  }
}

// asyncio takes the due timers at the start of an iteration; one scheduled
// by a callback of that iteration with a deadline already past runs in the
// next, after what call_soon queued meanwhile.
TEST(Timer, PastDeadlineScheduledWhileFiringWaitsForTheNextIteration) {
  event_loop loop;
  std::vector<std::string> order;
  const auto deadline = loop.time() + 1ms;
  loop.call_at(deadline, [&] {
    order.push_back("a");
    loop.call_at(deadline - 1h, [&] { order.push_back("c: past deadline"); });
    loop.call_soon([&] { order.push_back("d: soon"); });
  });
  loop.call_at(deadline, [&] { order.push_back("b"); });
  run_for(loop, 10ms);
  EXPECT_EQ(order, (std::vector<std::string>{"a", "b", "d: soon", "c: past deadline"}));
}

// ---------------------------------------------------------------------------
// timer_handle and the callback it holds.

TEST(Timer, CancelledTimerNeverRuns) {
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

TEST(Timer, FiredTimerIsNotCancelledUntilCancelIsCalled) {
  event_loop loop;
  int runs = 0;
  auto h = loop.call_later(1ms, [&] { ++runs; });
  run_for(loop, 10ms);
  EXPECT_EQ(runs, 1);
  EXPECT_FALSE(h.cancelled());  // asyncio: a TimerHandle that ran is not cancelled
  h.cancel();                   // ... and cancel() afterwards only says so
  EXPECT_TRUE(h.cancelled());
  run_for(loop, 5ms);
  EXPECT_EQ(runs, 1);
}

TEST(Timer, CancelLetsGoOfTheCallbackAtOnce) {
  event_loop loop;
  auto held = std::make_shared<int>(7);
  std::vector<tandem::timer_handle> handles;
  for (int i = 0; i < 1000; ++i) handles.push_back(loop.call_later(1h, [held] { (void)*held; }));
  EXPECT_EQ(held.use_count(), 1001);
  for (auto& h : handles) h.cancel();
  EXPECT_EQ(held.use_count(), 1) << "cancelled timers still hold their callbacks' captures";
}

TEST(Timer, ACallbackThatRanIsDestroyed) {
  event_loop loop;
  auto held = std::make_shared<int>(7);
  auto h = loop.call_later(1ms, [held] { (void)*held; });
  EXPECT_EQ(held.use_count(), 2);
  run_for(loop, 10ms);
  EXPECT_EQ(held.use_count(), 1) << "a timer that ran still holds its callback";
}

TEST(Timer, CallbackMayCancelItsOwnHandle) {
  event_loop loop;
  std::optional<tandem::timer_handle> self;
  std::string seen;
  auto text = std::make_shared<std::string>("still here");
  self = loop.call_later(1ms, [&, text] {
    self->cancel();  // must not destroy the running callback
    seen = *text;
  });
  run_for(loop, 10ms);
  EXPECT_EQ(seen, "still here");
  EXPECT_TRUE(self->cancelled());
  EXPECT_EQ(text.use_count(), 1);
}

TEST(Timer, LargeCallbackRunsAndIsDestroyed) {
  event_loop loop;
  auto held = std::make_shared<int>(0);
  std::array<long, 32> big{};  // far larger than the record's inline space
  big[31] = 5;
  long sum = 0;
  loop.call_later(1ms, [held, big, &sum] {
    for (long v : big) sum += v;
  });
  run_for(loop, 10ms);
  EXPECT_EQ(sum, 5);
  EXPECT_EQ(held.use_count(), 1);
}

TEST(Timer, HandleOutlivesItsLoop) {
  tandem::timer_handle h;
  auto held = std::make_shared<int>(0);
  {
    event_loop loop;
    h = loop.call_later(1h, [held] {});
  }  // closed: the timer will never run, and lets go of its callback
  EXPECT_EQ(held.use_count(), 1);
  EXPECT_FALSE(h.cancelled());
  h.cancel();
  EXPECT_TRUE(h.cancelled());
}

TEST(Timer, CopiedHandlesShareOneTimer) {
  event_loop loop;
  int runs = 0;
  auto a = loop.call_later(1ms, [&] { ++runs; });
  tandem::timer_handle b = a;
  tandem::timer_handle c;
  c = b;
  c.cancel();
  EXPECT_TRUE(a.cancelled());
  EXPECT_TRUE(b.cancelled());
  run_for(loop, 10ms);
  EXPECT_EQ(runs, 0);
}

// ---------------------------------------------------------------------------
// Callbacks that throw, bad callbacks, bad handles.

// A callback that throws ends run_forever with its exception; the timers
// due with it that had not run yet stay scheduled and run next time.
TEST(Timer, ThrowingCallbackLeavesTheOtherDueTimersScheduled) {
  event_loop loop;
  std::vector<int> order;
  const auto deadline = loop.time() + 1ms;
  loop.call_at(deadline, [&] { order.push_back(1); });
  loop.call_at(deadline, [&]() -> void {
    order.push_back(2);
    throw std::runtime_error("timer failed");
  });
  loop.call_at(deadline, [&] { order.push_back(3); });
  loop.call_later(2s, [&] { loop.stop(); });  // a watchdog for the first run
  EXPECT_THROW(
      {
        try {
          loop.run_forever();
        } catch (const std::runtime_error& e) {
          EXPECT_STREQ(e.what(), "timer failed");
          throw;
        }
      },
      std::runtime_error);
  EXPECT_EQ(order, (std::vector<int>{1, 2}));
  run_for(loop, 5ms);
  EXPECT_EQ(order, (std::vector<int>{1, 2, 3}));
}

TEST(Timer, EmptyCallbackIsRejected) {
  event_loop loop;
  const std::function<void()> empty;
  void (*null_function)() = nullptr;
  EXPECT_THROW(loop.call_later(1ms, empty), std::invalid_argument);
  EXPECT_THROW(loop.call_at(loop.time(), empty), std::invalid_argument);
  EXPECT_THROW(loop.call_later(1ms, null_function), std::invalid_argument);
  EXPECT_THROW(loop.call_soon(empty), std::invalid_argument);
  EXPECT_THROW(loop.call_soon_threadsafe(empty), std::invalid_argument);
  int runs = 0;
  loop.call_soon([&] { ++runs; });  // the loop is unharmed
  run_for(loop, 1ms);
  EXPECT_EQ(runs, 1);
}

TEST(Timer, MovedFromTimerHandleThrowsLogicError) {
  event_loop loop;
  auto h = loop.call_later(1h, [] {});
  auto h_taken = std::move(h);
  // Using the moved-from handle is the point of this test.
  EXPECT_THROW(h.cancel(), std::logic_error);  // NOLINT(clang-analyzer-cplusplus.Move)
  EXPECT_THROW(h.cancelled(), std::logic_error);
  h_taken.cancel();
  EXPECT_TRUE(h_taken.cancelled());
}

// ---------------------------------------------------------------------------
// Deadlines far away: now + duration::max() does not fit in a time_point:
// every deadline saturates at time_point::max() ("never") instead of
// wrapping into the past.

TEST(Timer, CallLaterWithTheLongestDurationNeverFires) {
  event_loop loop;
  int runs = 0;
  auto never = loop.call_later(tandem::clock::duration::max(), [&] { ++runs; });
  auto almost = loop.call_at(tandem::clock::time_point::max(), [&] { ++runs; });
  run_for(loop, 20ms);
  EXPECT_EQ(runs, 0) << "a timer with the longest duration fired";
  EXPECT_FALSE(never.cancelled());
  never.cancel();
  almost.cancel();
}

// Bad-input rule 5, in a coarser unit: call_later(seconds::max()) never
// fires. Regression: the implicit conversion to the clock's nanoseconds
// overflowed at the call and wrapped into the past, so it fired at once.
TEST(Timer, CallLaterWithTheLongestDurationInACoarserUnitNeverFires) {
  event_loop loop;
  int runs = 0;
  auto seconds = loop.call_later(std::chrono::seconds::max(), [&] { ++runs; });
  auto hours = loop.call_later(std::chrono::hours::max(), [&] { ++runs; });
  run_for(loop, 20ms);
  EXPECT_EQ(runs, 0) << "a timer with the longest duration fired";
  seconds.cancel();
  hours.cancel();
  // Equally far into the past: it counts as zero.
  loop.call_later(std::chrono::hours::min(), [&] { ++runs; });
  run_for(loop, 1ms);
  EXPECT_EQ(runs, 1);
}

}  // namespace
