// Timers (call_later, call_at, timer_handle) beyond the ordering rules of
// loop_test.cpp: asyncio's TimerHandle semantics, what a timer's callback
// holds and when it lets go, callbacks that throw, and bad callbacks.
#include <gtest/gtest.h>

#include <array>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "support/loop_watchdog.hpp"
#include "tandem/loop.hpp"

namespace {

using namespace std::chrono_literals;
using loop_testing::run_bounded;
using tandem::event_loop;

// Runs the loop until `stop_after` from now.
void run_for(event_loop& loop, tandem::clock::duration stop_after) {
  loop.call_later(stop_after, [&loop] { loop.stop(); });
  loop.run_forever();
}

TEST(LoopTimer, FiredTimerIsNotCancelledUntilCancelIsCalled) {
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

TEST(LoopTimer, CancelLetsGoOfTheCallbackAtOnce) {
  event_loop loop;
  auto held = std::make_shared<int>(7);
  std::vector<tandem::timer_handle> handles;
  for (int i = 0; i < 1000; ++i) handles.push_back(loop.call_later(1h, [held] { (void)*held; }));
  EXPECT_EQ(held.use_count(), 1001);
  for (auto& h : handles) h.cancel();
  EXPECT_EQ(held.use_count(), 1) << "cancelled timers still hold their callbacks' captures";
}

TEST(LoopTimer, ACallbackThatRanIsDestroyed) {
  event_loop loop;
  auto held = std::make_shared<int>(7);
  auto h = loop.call_later(1ms, [held] { (void)*held; });
  EXPECT_EQ(held.use_count(), 2);
  run_for(loop, 10ms);
  EXPECT_EQ(held.use_count(), 1) << "a timer that ran still holds its callback";
}

// Most of the heap cancelled, far in the future: the loop sweeps them out
// in one pass and rebuilds the heap, rather than keeping them until their
// deadline. The live timers, with equal deadlines among them, must still
// fire in deadline order, then scheduling order.
TEST(LoopTimer, ManyCancelledTimersDoNotDisturbTheLiveOnes) {
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

TEST(LoopTimer, CallbackMayCancelItsOwnHandle) {
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

TEST(LoopTimer, LargeCallbackRunsAndIsDestroyed) {
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

TEST(LoopTimer, HandleOutlivesItsLoop) {
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

TEST(LoopTimer, CopiedHandlesShareOneTimer) {
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

// A callback that throws ends run_forever with its exception; the timers
// due with it that had not run yet stay scheduled and run next time.
TEST(LoopTimer, ThrowingCallbackLeavesTheOtherDueTimersScheduled) {
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

// asyncio takes the due timers at the start of an iteration; one scheduled
// by a callback of that iteration with a deadline already past runs in the
// next, after what call_soon queued meanwhile.
TEST(LoopTimer, PastDeadlineScheduledWhileFiringWaitsForTheNextIteration) {
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

TEST(LoopTimer, EmptyCallbackIsRejected) {
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

}  // namespace

// --- Deadlines far away ---------------------------------------------------------
// now + duration::max() does not fit in a time_point: every deadline
// saturates at time_point::max() ("never") instead of wrapping into the past.

TEST(LoopTimer, CallLaterWithTheLongestDurationNeverFires) {
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

TEST(LoopTimer, WaitForWithTheLongestTimeoutWaitsForTheTask) {
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

TEST(LoopTimer, SleepForTheLongestDurationSleepsUntilCancelled) {
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
