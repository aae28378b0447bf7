// Regression tests for the event-loop bugs a review found (each failed, or
// failed under ASan/TSan, before its fix).
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <optional>
#include <stdexcept>
#include <system_error>
#include <thread>

#include "tandem/coroutine.hpp"
#include "tandem/loop.hpp"

namespace {

using namespace std::chrono_literals;
using tandem::event_loop;

// Runs fn on the loop, failing instead of hanging if it does not finish.
template <class F>
void run_with_watchdog(event_loop& loop, F&& fn) {
  auto t = loop.create_task(std::forward<F>(fn));
  auto watchdog = loop.call_later(10s, [&loop] { loop.stop(); });
  loop.run_until_complete(t);
  watchdog.cancel();
}

TEST(LoopReview, CancelledEventWaiterPassesNoWakeUpOn) {
  event_loop loop;
  tandem::event e;
  run_with_watchdog(loop, [&] {
    auto& l = tandem::current_loop();
    auto a = l.create_task([&] { e.wait(); });
    auto b = l.create_task([&] { e.wait(); });
    tandem::sleep_for(0s);
    a.cancel();
    for (int i = 0; i < 5; ++i) tandem::sleep_for(0s);
    EXPECT_TRUE(a.cancelled());
    EXPECT_FALSE(b.done()) << "b woke although the event was never set";
    e.set();
    tandem::await(b);
  });
}

// Found by the fuzzer (tests/fuzz/corpus/regression-event-wait-after-
// cancelled-waiter): set() wakes every waiter, so a woken waiter cancelled
// before it ran must not hand its wake-up to one that came after clear().
TEST(LoopReview, WokenThenCancelledEventWaiterWakesNoLaterWaiter) {
  event_loop loop;
  tandem::event e;
  run_with_watchdog(loop, [&] {
    auto& l = tandem::current_loop();
    auto a = l.create_task([&] { e.wait(); });
    tandem::sleep_for(0s);  // a waits
    auto b = l.create_task([&] { e.wait(); });
    e.set();
    e.clear();
    a.cancel();
    for (int i = 0; i < 5; ++i) tandem::sleep_for(0s);
    EXPECT_FALSE(b.done()) << "b returned from wait() with the event clear";
    e.set();
    tandem::await(b);
  });
}

// Found while fuzzing: two tasks awaiting each other forwarded a
// cancellation back and forth until the stack overflowed.
TEST(LoopReview, CancellingATaskInAnAwaitCycleEndsBothCancelled) {
  event_loop loop;
  run_with_watchdog(loop, [&] {
    auto& l = tandem::current_loop();
    std::optional<tandem::task<void>> a, b;
    a.emplace(l.create_task([&] { tandem::await(*b); }));
    b.emplace(l.create_task([&] { tandem::await(*a); }));
    tandem::sleep_for(0s);  // each now awaits the other
    EXPECT_TRUE(a->cancel());
    for (int i = 0; i < 5 && !(a->done() && b->done()); ++i) tandem::sleep_for(0s);
    EXPECT_TRUE(a->cancelled());
    EXPECT_TRUE(b->cancelled());
  });
}

TEST(LoopReview, CancelledQueueGetterKeepsTheOthersInOrder) {
  event_loop loop;
  tandem::queue<int> q;
  run_with_watchdog(loop, [&] {
    auto& l = tandem::current_loop();
    auto g1 = l.create_task([&] { return q.get(); });
    auto g2 = l.create_task([&] { return q.get(); });
    auto g3 = l.create_task([&] { return q.get(); });
    tandem::sleep_for(0s);
    g1.cancel();
    q.put(7);
    for (int i = 0; i < 5; ++i) tandem::sleep_for(0s);
    EXPECT_TRUE(g2.done()) << "the item goes to the first getter still waiting";
    EXPECT_FALSE(g3.done());
    EXPECT_EQ(g2.result(), 7);
    q.put(8);
    EXPECT_EQ(tandem::await(g3), 8);
  });
}

TEST(LoopReview, SleepInsideAGeneratorLeavesNothingQueued) {
  event_loop loop;
  run_with_watchdog(loop, [] {
    tandem::coroutine<void, void> g([](tandem::yielder<void, void>&) { tandem::sleep_for(0s); });
    EXPECT_THROW(g.next(), std::logic_error);
    // A stray step would end this sleep early (or abort when the task ends).
    const auto start = std::chrono::steady_clock::now();
    tandem::sleep_for(50ms);
    EXPECT_GE(std::chrono::steady_clock::now() - start, 50ms);
  });
}

// Found while fuzzing: wait_for refused inside a generator had already
// cancelled the task it was given.
TEST(LoopReview, RefusedWaitForInsideAGeneratorCancelsNothing) {
  event_loop loop;
  run_with_watchdog(loop, [] {
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

TEST(LoopReview, CancellingAnAwaiterWhoseTaskJustFinishedCancelsIt) {
  event_loop loop;
  run_with_watchdog(loop, [] {
    auto& l = tandem::current_loop();
    auto b = l.create_task([] { return 1; });
    bool went_on = false;
    auto a = l.create_task([&] {
      tandem::await(b);
      tandem::sleep_for(10ms);
      went_on = true;
    });
    // b finishes; a is woken but has not run yet when c cancels it.
    auto c = l.create_task([&] { EXPECT_TRUE(a.cancel()); });
    EXPECT_THROW(tandem::await(a), tandem::cancelled_error);
    EXPECT_FALSE(went_on);
    EXPECT_TRUE(b.done());
    tandem::await(c);
  });
}

TEST(LoopReview, CloseUnwindsWaitersOnAnotherTasksObjects) {
  // The queue lives on the owner's stack; the consumer waits in it. Closing
  // must unregister the consumer before any stack unwinds (ASan catches a
  // use-after-free otherwise), whatever order the tasks are kept in.
  for (int round = 0; round < 20; ++round) {
    event_loop loop;
    tandem::queue<int>* shared = nullptr;
    loop.create_task([&] {
      tandem::queue<int> q;
      shared = &q;
      tandem::sleep_for(1h);
    });
    loop.create_task([&] {
      tandem::sleep_for(0s);
      shared->get();
    });
    loop.call_later(5ms, [&loop] { loop.stop(); });
    loop.run_forever();
    loop.close();
  }
}

TEST(LoopReview, CallSoonThreadsafeRacingCloseThrowsOrRuns) {
  for (int round = 0; round < 20; ++round) {
    event_loop loop;
    std::atomic<bool> go{true};
    std::thread poster([&] {
      while (go) {
        try {
          loop.call_soon_threadsafe([] {});
        } catch (const std::logic_error&) {
          return;  // closed: the only allowed outcome besides success
        }
      }
    });
    std::this_thread::sleep_for(1ms);
    loop.close();
    go = false;
    poster.join();
  }
}

TEST(LoopReview, FdClosedUnderItsWaitersDoesNotStallOthers) {
  int s[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, s), 0);
  int p[2];
  ASSERT_EQ(::pipe(p), 0);
  event_loop loop;
  bool pipe_reader_woke = false;
  try {
    run_with_watchdog(loop, [&] {
      auto& l = tandem::current_loop();
      auto reader = l.create_task([&] { tandem::wait_readable(s[0]); });
      // Fill the socket so that the writer waits too.
      auto writer = l.create_task([&] {
        char buf[4096] = {};
        while (::write(s[0], buf, sizeof buf) > 0) {
        }
        tandem::wait_writable(s[0]);
      });
      auto pipe_reader = l.create_task([&] {
        tandem::wait_readable(p[0]);
        pipe_reader_woke = true;
      });
      tandem::sleep_for(5ms);
      const int keep = ::dup(s[0]);  // the socket lives on, its fd number does not
      ASSERT_EQ(::write(s[1], "x", 1), 1);
      ASSERT_EQ(::write(p[1], "y", 1), 1);
      ::close(s[0]);
      tandem::sleep_for(50ms);
      ::close(keep);
      reader.cancel();
      writer.cancel();
    });
  } catch (const std::system_error&) {
    // Closing an fd under its waiters is the user's error; an error is fine.
  }
  EXPECT_TRUE(pipe_reader_woke) << "an unrelated fd's waiter stalled";
  ::close(s[1]);
  ::close(p[0]);
  ::close(p[1]);
}

// The three places where the loop differed from asyncio, found in review.

// asyncio's Task.__step: "Task is cancelled right before coro stops".
TEST(LoopReview, TaskCancellingItselfThenReturningEndsCancelled) {
  event_loop loop;
  std::optional<tandem::task<int>> self;
  self = loop.create_task([&] {
    EXPECT_TRUE(self->cancel());
    return 1;  // no suspension between the cancel and the return
  });
  run_with_watchdog(loop, [&] { EXPECT_THROW(tandem::await(*self), tandem::cancelled_error); });
  EXPECT_TRUE(self->cancelled());
}

// asyncio's _GatheringFuture: a gather whose cancellation was passed on to
// its tasks ends cancelled, even though they caught it and returned.
TEST(LoopReview, CancelledGatherEndsCancelledEvenIfItsTasksReturn) {
  event_loop loop;
  int caught = 0;
  run_with_watchdog(loop, [&] {
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

// asyncio: stop() before run_forever() runs one iteration, then returns.
TEST(LoopReview, StopBeforeRunForeverRunsOneIteration) {
  event_loop loop;
  int ran = 0;
  loop.call_soon([&] { ++ran; });
  loop.call_soon([&] { loop.call_soon([&] { ran += 10; }); });  // the next iteration's
  loop.stop();
  loop.run_forever();
  EXPECT_EQ(ran, 1);
  loop.call_soon([&] { loop.stop(); });
  loop.run_forever();  // the stop() above was used up: this one runs again
  EXPECT_EQ(ran, 11);
}

}  // namespace
