// tandem::event_loop at scale: 10,000 timers with random deadlines, 100,000
// tasks alive at once on small stacks, and a loop destroyed with 1,000
// suspended tasks whose stacks must all be unwound.
//
// Every test that waits on the loop runs under a watchdog timer that stops
// the loop, so a broken loop fails the test instead of hanging it.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <numeric>
#include <random>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "support/iterations.hpp"
#include "support/loop_support.hpp"
#include "tandem/loop.hpp"

namespace {

using namespace loop_testing;

// 10,000 timers with random deadlines (fixed seed) over 20 ms, in steps of
// 100 us so that many share a deadline: they fire in deadline order, equal
// deadlines in the order scheduled, never early; cancelled ones never.
TEST(LoopStress, TenThousandTimersFireInDeadlineOrder) {
  constexpr int kTimers = 10'000;
  event_loop loop;
  std::mt19937 random(20240617);
  std::uniform_int_distribution<int> step(0, 200);
  const auto base = loop.time() + 5ms;

  std::vector<steady::time_point> deadline(kTimers);
  std::vector<tandem::timer_handle> handles;
  handles.reserve(kTimers);
  std::vector<int> fired;
  fired.reserve(kTimers);
  int early = 0;
  for (int i = 0; i < kTimers; ++i) {
    deadline[i] = base + step(random) * 100us;
    handles.push_back(loop.call_at(deadline[i], [&, i] {
      if (tandem::current_loop().time() < deadline[i]) ++early;
      fired.push_back(i);
    }));
  }
  // Every seventh is cancelled, some before the loop runs, some by an
  // earlier timer while it runs.
  for (int i = 0; i < kTimers; i += 14) handles[i].cancel();
  loop.call_at(base - 1ms, [&] {
    for (int i = 7; i < kTimers; i += 14) handles[i].cancel();
  });

  std::vector<int> expected;
  for (int i = 0; i < kTimers; ++i)
    if (i % 7 != 0) expected.push_back(i);
  std::stable_sort(expected.begin(), expected.end(),
                   [&](int a, int b) { return deadline[a] < deadline[b]; });

  bool stopped_by_watchdog = false;
  loop.call_at(base + 21ms, [&] { loop.stop(); });  // after the last deadline
  auto watchdog = loop.call_later(kWatchdog, [&] {
    stopped_by_watchdog = true;
    loop.stop();
  });
  loop.run_forever();
  watchdog.cancel();
  EXPECT_FALSE(stopped_by_watchdog);
  EXPECT_EQ(early, 0);
  ASSERT_EQ(fired.size(), expected.size());
  EXPECT_TRUE(fired == expected) << "timers fired out of deadline/FIFO order";
  for (int i = 0; i < kTimers; i += 7) EXPECT_TRUE(handles[i].cancelled()) << i;
}

// 100,000 tasks on 16 KiB stacks, all suspended at the same time: each
// starts, yields once with sleep_for(0s) (which lets every ready task run
// once, so all 100,000 start before any resumes) and returns its number.
TEST(LoopStress, HundredThousandTasksOnSmallStacks) {
  // Trimmed (TANDEM_TEST_SHRINK) under ThreadSanitizer, which counts each
  // live coroutine as a thread and allows 8,128, and under Valgrind.
  static const int kTasks = static_cast<int>(testing_support::iterations(100'000));
  event_loop loop;
  int started = 0;
  int resumed_early = 0;  // resumed before every task had started
  const long long sum = run_bounded(loop, [&] {
    std::vector<tandem::task<long long>> tasks;
    tasks.reserve(kTasks);
    for (int i = 0; i < kTasks; ++i) {
      tasks.push_back(tandem::current_loop().create_task(
          [&started, &resumed_early, i] {
            ++started;
            tandem::sleep_for(0s);
            if (started != kTasks) ++resumed_early;
            return static_cast<long long>(i);
          },
          tandem::stack_options{.size = 16 * 1024}));
    }
    tandem::sleep_for(0s);
    EXPECT_EQ(started, kTasks);
    long long total = 0;
    for (auto& t : tasks) total += tandem::await(t);
    return total;
  });
  EXPECT_EQ(started, kTasks);
  EXPECT_EQ(resumed_early, 0);
  EXPECT_EQ(sum, static_cast<long long>(kTasks) * (kTasks - 1) / 2);
}

// Suspends `depth` frames down, each frame holding a counted object and a
// heap allocation (a leak would show under LeakSanitizer).
void nest(int depth, int& destroyed, const std::function<void()>& suspend) {
  counted c(destroyed);
  const std::string heap(100, 'h');
  if (depth == 1) {
    suspend();
  } else {
    nest(depth - 1, destroyed, suspend);
  }
}

TEST(LoopStress, LoopDestroyedWithThousandSuspendedTasksRunsAllDestructors) {
  constexpr int kTasks = 1'000;
  constexpr int kDepth = 3;
  constexpr int kUnstarted = 100;
  int destroyed = 0;
  int resumed = 0;
  auto token = std::make_shared<int>(0);  // captured by every body
  // What the tasks wait on outlives the loop (loop rule 10).
  tandem::queue<int> empty_queue;
  tandem::queue<int> full_queue(1);
  ASSERT_TRUE(full_queue.try_put(0));
  tandem::event never_set;
  std::vector<tandem::task<void>> handles;
  {
    event_loop loop;
    const std::vector<std::function<void()>> suspensions = {
        [] { tandem::sleep_for(1h); },
        [] { tandem::sleep_until(steady::now() + 1h); },
        [&] { empty_queue.get(); },
        [&] { full_queue.put(1); },
        [&] { never_set.wait(); },
        [] {
          auto inner = tandem::current_loop().create_task([] { tandem::sleep_for(1h); });
          tandem::await(inner);
        },
    };
    for (int i = 0; i < kTasks; ++i) {
      handles.push_back(loop.create_task([&, token, suspend = suspensions[i % suspensions.size()]] {
        nest(kDepth, destroyed, suspend);
        ++resumed;
      }));
    }
    run_bounded(loop, [] { tandem::sleep_for(0s); });
    EXPECT_EQ(destroyed, 0);
    for (int i = 0; i < kUnstarted; ++i)
      handles.push_back(loop.create_task([&resumed, token] { ++resumed; }));
  }
  EXPECT_EQ(destroyed, kTasks * kDepth);
  EXPECT_EQ(resumed, 0);
  int reported_cancelled = 0;
  for (auto& h : handles) reported_cancelled += h.done() && h.cancelled();
  EXPECT_EQ(reported_cancelled, kTasks + kUnstarted);
  handles.clear();
  EXPECT_EQ(token.use_count(), 1);  // every body was released
  EXPECT_EQ(full_queue.size(), 1u);
}

}  // namespace
