// to_thread (tandem/threads.hpp; docs/rules.md, section 9): a test per rule,
// with CPython's hard case of a task cancelled while its thread runs.
#include "tandem/threads.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <memory>
#include <stdexcept>
#include <thread>
#include <vector>

#include "support/failing_new.hpp"
#include "support/loop_support.hpp"
#include "support/valgrind.hpp"
#include "tandem/loop.hpp"

namespace {

using namespace loop_testing;
using namespace std::chrono_literals;

// Spins (with short sleeps) until flag is set, for at most the watchdog's
// time: a worker blocked on a test that failed must not hang the suite.
void wait_for_flag(const std::atomic<bool>& flag) {
  const auto give_up = steady::now() + default_watchdog;
  while (!flag.load() && steady::now() < give_up) std::this_thread::sleep_for(100us);
}

TEST(Threads, ToThreadRunsFnOnAnotherThreadWhileOtherTasksRun) {
  event_loop loop;
  std::atomic<bool> release{false};
  int ticks = 0;
  std::thread::id fn_thread;
  const int value = run_bounded(loop, [&] {
    auto ticker = tandem::current_loop().create_task([&] {
      while (ticks < 3) {
        ++ticks;
        tandem::sleep_for(1ms);
      }
      release = true;  // the worker waits for the loop to have run others
    });
    const int v = tandem::to_thread([&] {
      fn_thread = std::this_thread::get_id();
      wait_for_flag(release);
      return 42;
    });
    tandem::await(ticker);
    return v;
  });
  EXPECT_EQ(value, 42);
  EXPECT_EQ(ticks, 3);
  EXPECT_NE(fn_thread, std::this_thread::get_id());
}

TEST(Threads, ToThreadMovesAMoveOnlyValueOut) {
  event_loop loop;
  run_bounded(loop, [] {
    auto p = tandem::to_thread([] { return std::make_unique<int>(7); });
    EXPECT_EQ(*p, 7);
  });
}

TEST(Threads, ToThreadRethrowsTheExceptionOfFn) {
  event_loop loop;
  run_bounded(loop, [] {
    EXPECT_THROW(tandem::to_thread([]() -> int { throw std::runtime_error("on the worker"); }),
                 std::runtime_error);
  });
}

// CPython's test_threads: cancelled while the thread runs. to_thread throws
// cancelled_error at once; fn goes on to its end, and its value is dropped.
TEST(Threads, ToThreadCancelledWhileFnRunsThrowsAtOnceAndFnFinishes) {
  event_loop loop;
  std::atomic<bool> started{false}, release{false}, finished{false};
  run_bounded(loop, [&] {
    auto& l = tandem::current_loop();
    auto t = l.create_task([&] {
      return tandem::to_thread([&] {
        started = true;
        wait_for_flag(release);
        finished = true;
        return 1;
      });
    });
    while (!started) tandem::sleep_for(100us);
    t.cancel();
    EXPECT_THROW(tandem::await(t), tandem::cancelled_error);
    EXPECT_FALSE(finished) << "to_thread did not wait for fn";
    release = true;
  });
  wait_for_flag(finished);
  EXPECT_TRUE(finished);
}

// With every worker busy, a further fn waits in the queue; cancelled there,
// it never runs.
TEST(Threads, ToThreadCancelledBeforeFnStartedNeverRunsIt) {
  event_loop loop;
  std::atomic<bool> release{false}, extra_ran{false};
  std::atomic<std::size_t> busy{0};
  run_bounded(loop, [&] {
    auto& l = tandem::current_loop();
    const std::size_t workers = tandem::detail::max_thread_workers();
    std::vector<tandem::task<void>> blockers;
    for (std::size_t i = 0; i < workers; ++i)
      blockers.push_back(l.create_task([&] {
        tandem::to_thread([&] {
          ++busy;
          wait_for_flag(release);
        });
      }));
    while (busy < workers) tandem::sleep_for(100us);
    auto extra = l.create_task([&] { tandem::to_thread([&] { extra_ran = true; }); });
    tandem::sleep_for(1ms);
    extra.cancel();
    EXPECT_THROW(tandem::await(extra), tandem::cancelled_error);
    release = true;
    for (auto& b : blockers) tandem::await(b);
    tandem::sleep_for(2ms);
  });
  EXPECT_FALSE(extra_ran);
}

TEST(Threads, LoopCloseWaitsForTheFnsThatAreRunning) {
  std::atomic<bool> started{false}, finished{false};
  {
    event_loop loop;
    loop.create_task([&] {
      tandem::to_thread([&] {
        started = true;
        std::this_thread::sleep_for(20ms);
        finished = true;
      });
    });
    run_bounded(loop, [&] {
      while (!started) tandem::sleep_for(100us);
    });
    loop.close();  // cancels the task, then waits for its fn
    EXPECT_TRUE(finished);
  }
}

// A job's completion reaches the loop without allocating: its room among
// the loop's posted callbacks is reserved as the job is submitted. Posting
// it used to allocate on the worker thread, and a std::bad_alloc there was
// taken for a closed loop and dropped: the task waited in to_thread for
// good. fn's last act makes the next allocation fail; nothing on the way
// back to the task allocates.
TEST(Threads, AJobsCompletionReachesTheLoopWithoutAllocating) {
  if (testing_support::running_on_valgrind())
    GTEST_SKIP() << "Valgrind's operator new replaces the one that fails on demand";
  event_loop loop;
  bool nothing_allocated = false;
  const int value = run_bounded(loop, [&] {
    const int v = tandem::to_thread([] {
      allocations_until_failure = 0;
      return 7;
    });
    nothing_allocated = allocations_until_failure.exchange(-1) == 0;
    return v;
  });
  EXPECT_EQ(value, 7);
  EXPECT_TRUE(nothing_allocated);
}

TEST(Threads, ToThreadOutsideATaskThrowsLogicError) {
  bool ran = false;
  EXPECT_THROW(tandem::to_thread([&] { ran = true; }), std::logic_error);
  EXPECT_FALSE(ran);
}

// Two fns handed to the pool at once while one worker is idle must
// run concurrently (the pool grows, rule 9.3), as asyncio's executor does.
TEST(Threads, TwoFnsSubmittedTogetherWithOneIdleWorkerRunConcurrently) {
  tandem::event_loop loop;
  loop.run_until_complete([] {
    tandem::to_thread([] {});                                    // one worker, idle from now on
    std::this_thread::sleep_for(std::chrono::milliseconds(50));  // let it go idle
    std::promise<void> go;
    auto went = go.get_future().share();
    auto& l = tandem::current_loop();
    auto waiter = l.create_task([went] {
      return tandem::to_thread(
          [went] { return went.wait_for(std::chrono::seconds(2)) == std::future_status::ready; });
    });
    auto setter = l.create_task([&go] { tandem::to_thread([&go] { go.set_value(); }); });
    EXPECT_TRUE(tandem::await(waiter)) << "the second fn waited behind the first";
    tandem::await(setter);
  });
}
}  // namespace
