// tandem::task (docs/rules.md, section 4): when a created task starts,
// where a task may suspend, await, the task handle (result, exception,
// copies), cancel(), the error types, the report of an exception nobody
// retrieved, and the bad-input cases of section 5 that concern tasks.
//
// Every test that waits on the loop runs under a watchdog timer that stops
// the loop, so a broken loop fails the test instead of hanging it.
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <exception>
#include <fstream>
#include <functional>
#include <memory>
#include <new>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "support/failing_new.hpp"
#include "support/loop_support.hpp"
#include "support/valgrind.hpp"
#include "tandem/coroutine.hpp"
#include "tandem/loop.hpp"

namespace {

using namespace loop_testing;

// ---------------------------------------------------------------------------
// The declarations.

TEST(Task, ErrorTypesFollowTheRules) {
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
TEST(Task, CancelledErrorIsNotAStdException) {
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

TEST(Task, CreatedTaskStartsOnALaterIteration) {
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

// ---------------------------------------------------------------------------
// Suspending calls: only in a task; outside any task, or inside a generator
// running in one, std::logic_error (loop rule 7).

TEST(Task, SuspendingOutsideATaskThrows) {
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

TEST(Task, SuspendingInsideGeneratorThrows) {
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

TEST(Task, AwaitReturnsTheValue) {
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

// asyncio resumes an awaiting task in the iteration right after the one in
// which the awaited task finished (its wakeup is the done-callback): a
// cancel() made in that next iteration, after the awaiter, finds it done.
TEST(Task, AwaitResumesInTheIterationAfterTheAwaitedTaskFinished) {
  event_loop loop;
  run_bounded(loop, [&loop] {
    auto awaited = loop.create_task([] {
      tandem::sleep_for(0s);  // finishes in the second iteration
      return 5;
    });
    int got = 0;
    auto awaiter = loop.create_task([&got, awaited] { got = tandem::await(awaited); });
    tandem::sleep_for(0s);  // iteration 1: both start; the awaiter waits
    tandem::sleep_for(0s);  // iteration 2: the awaited task finishes
    bool cancel_took = true;
    loop.call_soon([&cancel_took, awaiter]() mutable { cancel_took = awaiter.cancel(); });
    for (int i = 0; i < 3; ++i) tandem::sleep_for(0s);
    EXPECT_EQ(got, 5);
    EXPECT_FALSE(cancel_took) << "the awaiter was still waiting in iteration 3";
    EXPECT_FALSE(awaiter.cancelled());
  });
}

TEST(Task, AwaitFailedTaskRethrows) {
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

TEST(Task, AwaitCancelledTaskThrowsCancelled) {
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

TEST(Task, AwaitSelfThrows) {
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
TEST(Task, ResultStaysAfterItIsRetrieved) {
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

TEST(Task, MoveOnlyResultIsHandedOver) {
  event_loop loop;
  auto t = loop.create_task([] { return std::make_unique<int>(42); });
  auto got = run_bounded(loop, [&] { return tandem::await(t); });
  ASSERT_NE(got, nullptr);
  EXPECT_EQ(*got, 42);
}

// A container of move-only values says it is copy-constructible (its copy
// constructor is declared, and fails only when used): it is moved out too.
TEST(Task, ContainerOfMoveOnlyValuesIsHandedOver) {
  event_loop loop;
  auto got = run_bounded(loop, [] {
    std::vector<std::unique_ptr<int>> values;
    values.push_back(std::make_unique<int>(7));
    return values;
  });
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(*got[0], 7);
}

TEST(Task, TaskHandlesAreShared) {
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

TEST(Task, ExceptionIsNullOnSuccessAndTheFailureOtherwise) {
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

TEST(Task, CancelBeforeStartNeverRuns) {
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

TEST(Task, CancelReturnsFalseWhenDone) {
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

TEST(Task, CancelSuspendedTaskThrowsAtSuspension) {
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

// Regression: a cancel() forwarded to an awaited task that had just finished was lost,
// and the awaiter went on.
TEST(Task, CancelOfAnAwaiterWokenButNotYetResumedThrowsAtItsAwait) {
  event_loop loop;
  run_bounded(loop, [] {
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

TEST(Task, CatchingCancellationAndReturningCompletesNormally) {
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
TEST(Task, TaskCancellingItselfThrowsAtItsNextSuspension) {
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

// asyncio's Task.__step: "Task is cancelled right before coro stops".
// Regression: such a task ended successfully.
TEST(Task, TaskCancellingItselfThenReturningEndsCancelled) {
  event_loop loop;
  std::optional<tandem::task<int>> self;
  self = loop.create_task([&] {
    EXPECT_TRUE(self->cancel());
    return 1;  // no suspension between the cancel and the return
  });
  run_bounded(loop, [&] { EXPECT_THROW(tandem::await(*self), tandem::cancelled_error); });
  EXPECT_TRUE(self->cancelled());
}

// A task that sleeps for an hour; cancelled, it sets `saw_cancel` and
// ends cancelled.
tandem::task<int> sleeper_noting_its_cancel(bool& saw_cancel) {
  return tandem::current_loop().create_task([&saw_cancel] {
    try {
      tandem::sleep_for(1h);
    } catch (const tandem::cancelled_error&) {
      saw_cancel = true;
      throw;
    }
    return 1;
  });
}

TEST(Task, CancellingAwaitForwardsToAwaited) {
  event_loop loop;
  bool inner_saw_cancel = false;
  std::optional<tandem::task<int>> inner;
  auto outer = loop.create_task([&] {
    inner = sleeper_noting_its_cancel(inner_saw_cancel);
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

// asyncio: a task cancelled while it runs passes the cancellation on to
// the task it next awaits (Task.__step: `_fut_waiter.cancel()` for a
// `_must_cancel` task), and the await ends the way that task ends.
// Regression: the await threw at once and left the awaited task running,
// with a done-callback on it.
TEST(Task, ACancellationThatCameWhileRunningIsForwardedAtTheNextAwait) {
  event_loop loop;
  bool inner_saw_cancel = false;
  std::optional<tandem::task<void>> self;
  std::optional<tandem::task<int>> inner;
  self = loop.create_task([&] {
    inner = sleeper_noting_its_cancel(inner_saw_cancel);
    tandem::sleep_for(0s);  // inner sleeps
    EXPECT_TRUE(self->cancel());
    EXPECT_THROW(tandem::await(*inner), tandem::cancelled_error);
    EXPECT_EQ(tandem::detail::task_access::core(*inner).done_callback_count(), 0u);
  });
  EXPECT_NO_THROW(run_bounded(loop, *self));  // the await's cancelled_error was caught
  EXPECT_TRUE(inner_saw_cancel);
  EXPECT_TRUE(inner->cancelled());
}

// An await refused (inside a generator) takes back the done-callback it
// left on the task: a loop of refused awaits would grow its list.
TEST(Task, AwaitRefusedInsideAGeneratorLeavesNoCallbackOnTheAwaitedTask) {
  event_loop loop;
  run_bounded(loop, [] {
    auto other = tandem::current_loop().create_task([] {
      tandem::sleep_for(1ms);
      return 1;
    });
    tandem::coroutine<void, void> g(
        [&](tandem::yielder<void, void>&) { (void)tandem::await(other); });
    EXPECT_THROW(g.next(), std::logic_error);
    EXPECT_EQ(tandem::detail::task_access::core(other).done_callback_count(), 0u);
    EXPECT_EQ(tandem::await(other), 1);
  });
}

// Regression (fuzzer): two tasks awaiting each other forwarded one cancellation back
// and forth until the stack overflowed.
TEST(Task, CancellingAwaitInAnAwaitCycleEndsBothTasksCancelled) {
  event_loop loop;
  run_bounded(loop, [&] {
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

// "... and the await ends the way t2 ends": if t2 handles its cancellation
// and returns, the await returns that value; if it fails, the await
// rethrows its exception.
TEST(Task, CancellingAwaitEndsTheWayTheAwaitedEnds) {
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
// Unretrieved exceptions.

std::size_t count_of(const std::string& haystack, const std::string& needle) {
  std::size_t n = 0;
  for (auto at = haystack.find(needle); at != std::string::npos; at = haystack.find(needle, at + 1))
    ++n;
  return n;
}

TEST(Task, UnretrievedExceptionReportedOnStderr) {
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

TEST(Task, UnretrievedExceptionOfADiscardedHandleReportedOnStderr) {
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

TEST(Task, RetrievedExceptionsAreNotReported) {
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

// asyncio's gather retrieves the exception of a task that fails after the
// gather ended on an earlier failure: that one is not reported either.
TEST(Task, AFailureAfterTheGatherEndedIsRetrievedByIt) {
  testing::internal::CaptureStderr();
  {
    event_loop loop;
    run_bounded(loop, [&loop] {
      auto first = loop.create_task([]() -> int {
        tandem::sleep_for(1ms);
        throw std::runtime_error("first-failure-81");
      });
      auto second = loop.create_task([]() -> int {
        tandem::sleep_for(5ms);
        throw std::runtime_error("later-failure-82");
      });
      EXPECT_THROW(tandem::gather(first, second), std::runtime_error);
      while (!second.done()) tandem::sleep_for(1ms);
    });
  }
  const std::string output = testing::internal::GetCapturedStderr();
  EXPECT_EQ(output.find("later-failure-82"), std::string::npos) << "reported: " << output;
}

// A gather refused because a listed task belongs to another loop gathered
// nothing, so it retrieves nothing: a failure of that task, later, that
// nobody retrieves is reported when its last handle goes away. The refusal
// used to mark every listed task's exception as retrieved (the guard that
// does so for a gather that ended early was set up before the check), and
// the failure was never reported.
TEST(Task, AFailureOfATaskAGatherRefusedAsOfAnotherLoopIsStillReported) {
  const std::string what = "refused-gather-failure-93";
  std::string output;
  testing::internal::CaptureStderr();
  {
    event_loop theirs_loop;
    event_loop loop;
    {
      auto theirs = theirs_loop.create_task([&what]() -> int {
        tandem::sleep_for(1ms);
        throw std::runtime_error(what);
      });
      run_bounded(loop, [&] { EXPECT_THROW(tandem::gather(theirs), std::logic_error); });
      run_bounded(theirs_loop, [&] {
        while (!theirs.done()) tandem::sleep_for(1ms);  // done() retrieves nothing
      });
    }  // the last handle goes away
  }
  output = testing::internal::GetCapturedStderr();
  EXPECT_EQ(count_of(output, what), 1u) << "stderr: " << output;
}

// asyncio does not log a cancelled task: cancellation is not a failure.
TEST(Task, CancelledTaskIsNotReported) {
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

TEST(Task, MovedFromTaskThrowsLogicError) {
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

TEST(Task, ResultBeforeDoneThrowsInvalidState) {
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

TEST(Task, BadStackSizeThrows) {
  event_loop loop;
  // The caller sees the exception (create_task throws it), and the loop
  // stays usable.
  auto create_and_run = [&](std::size_t size) {
    auto t = loop.create_task([] { return 1; }, tandem::stack_options{.size = size});
    return run_bounded(loop, t);
  };
  EXPECT_THROW(create_and_run(100), std::invalid_argument);
  EXPECT_THROW(create_and_run(tandem::max_stack_size + 1), std::bad_alloc);
  EXPECT_EQ(run_bounded(loop, [] { return 2; }), 2);
}

// Section 5: a stack size out of range is refused by create_task itself,
// naming the size, as a coroutine's constructor refuses it. Refused only
// when the task started, the exception left whichever run of the loop was
// going on (another task's run_until_complete), and the task stayed pending
// for good: a task awaiting it waited forever.
TEST(Task, BadStackSizeIsRefusedByCreateTaskNamingTheSize) {
  event_loop loop;
  auto create = [&](std::size_t size) {
    return tandem::current_loop().create_task([] { return 1; },
                                              tandem::stack_options{.size = size});
  };
  run_bounded(loop, [&] {
    try {
      create(100);
      ADD_FAILURE() << "create_task took a stack of 100 bytes";
    } catch (const std::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find("100 bytes"), std::string::npos) << e.what();
    }
    EXPECT_THROW(create(tandem::max_stack_size + 1), std::bad_alloc);
    tandem::sleep_for(0s);  // a task started here would throw out of the loop
  });
  EXPECT_EQ(run_bounded(loop, [] { return 2; }), 2);
}

// Lowers the soft limit on the address space to `headroom` bytes above
// what the process uses now (the hard limit stays, so that it can be put
// back); false if it cannot.
[[maybe_unused]] bool limit_address_space(rlim_t headroom) {  // unused under the sanitizers
  std::size_t used_kib = 0;
  std::ifstream status("/proc/self/status");
  for (std::string line; std::getline(status, line);)
    if (line.rfind("VmSize:", 0) == 0) used_kib = std::stoul(line.substr(7));
  rlimit as{};
  if (used_kib == 0 || ::getrlimit(RLIMIT_AS, &as) != 0) return false;
  const rlim_t wanted = (rlim_t{used_kib} << 10) + headroom;
  if (as.rlim_max != RLIM_INFINITY && as.rlim_max < wanted) return false;
  as.rlim_cur = wanted;
  return ::setrlimit(RLIMIT_AS, &as) == 0;
}

// A stack that cannot be had when the task starts (its size passed
// create_task's check, but the address space is spent) fails the task with
// that stack_alloc_error, which its awaiter gets. The exception used to
// leave the loop out of the awaiter's run, and the task stayed pending for
// good. Under a limit on the address space, in a child process.
TEST(TaskDeathTest, AStackThatCannotBeHadWhenTheTaskStartsFailsTheTask) {
#if defined(TANDEM_ASAN) || defined(TANDEM_TSAN)
  GTEST_SKIP() << "the sanitizers reserve far more address space than the limit leaves";
#else
  if (testing_support::running_on_valgrind()) GTEST_SKIP() << "Valgrind manages the address space";
  // 64 GiB, or the largest stack where that is more (32-bit targets).
  const auto size = static_cast<std::size_t>(
      std::min<std::uint64_t>(tandem::max_stack_size, std::uint64_t{1} << 36));
  constexpr rlim_t headroom = rlim_t{512} << 20;  // the loop and its tasks' first slab
  // Whether such a limit takes effect here (qemu-user ignores it): tried
  // in this process, and put back at once.
  rlimit before{};
  ASSERT_EQ(::getrlimit(RLIMIT_AS, &before), 0);
  bool effective = false;
  if (limit_address_space(headroom)) {
    void* p = ::mmap(nullptr, size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    effective = p == MAP_FAILED;
    if (!effective) ::munmap(p, size);
    ASSERT_EQ(::setrlimit(RLIMIT_AS, &before), 0);
  }
  if (!effective) GTEST_SKIP() << "no limit on the address space takes effect here";
  auto run = [size, headroom] {
    if (!limit_address_space(headroom)) std::_Exit(2);
    event_loop loop;
    bool failed = false;
    run_bounded(loop, [&] {
      auto t =
          tandem::current_loop().create_task([] { return 1; }, tandem::stack_options{.size = size});
      try {
        tandem::await(t);
      } catch (const tandem::stack_alloc_error&) {
        failed = t.done() && !t.cancelled();
      }
    });
    std::_Exit(failed ? 0 : 1);
  };
  EXPECT_EXIT(run(), testing::ExitedWithCode(0), "");
#endif
}

// A task whose stack was had, but whose frame could not be listed among
// the live ones (an allocation failing as the thread's list of frames
// grows by a chunk), fails with that bad_alloc, which its awaiter gets,
// and its stack goes back to the pool. The bad_alloc used to leave the
// loop out of the awaiter's run, with the stack held by a frame that was
// never listed (the loop's close then crashed unlisting it). Tasks start,
// one allocation failing as each does, until one of them needed one.
TEST(Task, AnAllocationFailingAsATaskStartsFailsTheTaskAndGivesItsStackBack) {
  if (testing_support::running_on_valgrind())
    GTEST_SKIP() << "Valgrind's operator new replaces the one that fails on demand";
  event_loop loop;
  bool found = false;
  run_bounded(loop, [&] {
    auto& l = tandem::current_loop();
    const tandem::stack_options small{.size = tandem::min_stack_size};
    tandem::event forever;  // keeps the tasks that started listed
    std::vector<tandem::task<void>> started;
    // One stack of that size taken and given back on this thread: taking
    // the next allocates nothing.
    tandem::await(l.create_task([] {}, small));
    (void)tandem::stack_pool_statistics();  // its first call may allocate
    for (int i = 0; i < 20000 && !found; ++i) {
      l.call_soon([] { allocations_until_failure = 0; });
      auto t = l.create_task(
          [&forever] {
            allocations_until_failure = -1;
            forever.wait();
          },
          small);
      l.call_soon([] { allocations_until_failure = -1; });
      const std::size_t live_before = tandem::stack_pool_statistics().live;
      tandem::sleep_for(0s);  // the three run in this order, then this task
      if (!t.done()) {
        started.push_back(t);
        continue;
      }
      found = true;
      EXPECT_THROW(tandem::await(t), std::bad_alloc);
      EXPECT_FALSE(t.cancelled());
      EXPECT_EQ(tandem::stack_pool_statistics().live, live_before)
          << "its stack was not given back";
    }
    forever.set();
    for (auto& t : started) tandem::await(t);
  });
  EXPECT_TRUE(found) << "no task needed an allocation as it started";
}

// Waking a task allocates nothing, however full the loop's ready queue is:
// room for every task's step is reserved as the task is made. Growing the
// queue as a wake-up queued the step could fail, and the bad_alloc left the
// woken task marked as queued but in no queue: it never ran again, and its
// awaiter waited for good. A fresh loop's queue is filled with callbacks
// to each count in turn, so that some count leaves it exactly full.
TEST(Task, WakingATaskAllocatesNothingHoweverFullTheReadyQueueIs) {
  if (testing_support::running_on_valgrind())
    GTEST_SKIP() << "Valgrind's operator new replaces the one that fails on demand";
  for (int callbacks = 1; callbacks <= 300; ++callbacks) {
    event_loop loop;
    bool stranded = false;
    run_bounded(loop, [&] {
      auto& l = tandem::current_loop();
      tandem::event e;
      auto waiter = l.create_task([&e] { e.wait(); });
      tandem::sleep_for(0s);  // it waits; nothing else is queued now
      for (int i = 0; i < callbacks; ++i) l.call_soon([] {});
      allocations_until_failure = 0;
      EXPECT_NO_THROW(e.set()) << "with " << callbacks << " callbacks queued";
      allocations_until_failure = -1;
      for (int i = 0; i < 3 && !waiter.done(); ++i) tandem::sleep_for(0s);
      stranded = !waiter.done();
    });
    ASSERT_FALSE(stranded) << "the woken task never ran, with " << callbacks << " callbacks queued";
  }
}

// Finishing a task allocates nothing, however full the loop's ready queue
// is: room for each done-callback that is queued as the task finishes
// (wait()'s, gather's, as_completed's) is reserved as it is registered.
// Queuing it used to grow the queue, and a bad_alloc there left the loop's
// run with the task's other callbacks dropped and the task still listed as
// unfinished: its waiter in wait() waited for good. The finishing task
// queues callbacks to each count in turn, so that some count leaves the
// queue exactly full as it finishes.
TEST(Task, FinishingATaskAllocatesNothingHoweverFullTheReadyQueueIs) {
  if (testing_support::running_on_valgrind())
    GTEST_SKIP() << "Valgrind's operator new replaces the one that fails on demand";
  for (int callbacks = 1; callbacks <= 300; ++callbacks) {
    event_loop loop;
    bool waiter_done = false;
    try {
      run_bounded(loop, [&] {
        auto& l = tandem::current_loop();
        tandem::event e;
        auto finishing = l.create_task([&] {
          e.wait();
          l.call_soon([] { allocations_until_failure = -1; });  // the first to run after it
          for (int i = 1; i < callbacks; ++i) l.call_soon([] {});
          allocations_until_failure = 0;  // its last act
        });
        auto waiter = l.create_task([&finishing] { tandem::wait(std::vector{finishing}); });
        tandem::sleep_for(0s);  // both wait
        e.set();
        tandem::await(waiter);
        waiter_done = true;
      });
    } catch (const std::bad_alloc&) {
      allocations_until_failure = -1;
      ADD_FAILURE() << "bad_alloc left the loop's run";
    }
    ASSERT_TRUE(waiter_done) << "the waiter never returned, with " << callbacks
                             << " callbacks queued";
  }
}

// Waking a task that waits for a file descriptor allocates nothing,
// however full the loop's ready queue is: poll wakes the task itself,
// which queues its step in the room reserved for it. It used to queue a
// callback for each ready descriptor, and a bad_alloc as the queue grew
// left the loop's run, the event taken from epoll and lost: the waiter
// waited for good. Callbacks to each count in turn are queued just before
// a poll, so that some count leaves the queue exactly full as it polls
// (257 callbacks run first, so that the loop polls although work is ready).
TEST(Task, WakingATaskThatWaitsForADescriptorAllocatesNothingHoweverFullTheReadyQueueIs) {
  if (testing_support::running_on_valgrind())
    GTEST_SKIP() << "Valgrind's operator new replaces the one that fails on demand";
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  for (int callbacks = 1; callbacks <= 600; ++callbacks) {
    event_loop loop;
    bool reader_done = false;
    try {
      run_bounded(loop, [&] {
        auto& l = tandem::current_loop();
        auto reader = l.create_task([&fds] {
          tandem::wait_readable(fds[0]);
          char c = 0;
          EXPECT_EQ(::read(fds[0], &c, 1), 1);
        });
        tandem::sleep_for(0s);  // it waits; the pipe is empty
        for (int i = 0; i < 256; ++i) l.call_soon([] {});
        l.call_soon([&] {
          l.call_soon([] { allocations_until_failure = -1; });  // the first to run after the poll
          for (int i = 1; i < callbacks; ++i) l.call_soon([] {});
          EXPECT_EQ(::write(fds[1], "x", 1), 1);
          allocations_until_failure = 0;  // the next poll takes the event
        });
        tandem::await(reader);
        reader_done = true;
      });
    } catch (const std::bad_alloc&) {
      allocations_until_failure = -1;
      ADD_FAILURE() << "bad_alloc left the loop's run";
    }
    if (!reader_done) {
      ::close(fds[0]);
      ::close(fds[1]);
      FAIL() << "the reader never returned, with " << callbacks << " callbacks queued";
    }
  }
  ::close(fds[0]);
  ::close(fds[1]);
}

// The done-callbacks of gather and as_completed, which run from the loop
// as a task finishes, allocate nothing: the room for the completion order
// is reserved as the wait begins. They used to grow it there (a vector, a
// deque), and a bad_alloc left the loop's run with the index unrecorded
// and the waiter never woken. The finishing task makes the next
// allocation fail as its last act; as_completed's waits for it after 63
// others.
TEST(Task, TheDoneCallbacksOfGatherAndAsCompletedAllocateNothing) {
  if (testing_support::running_on_valgrind())
    GTEST_SKIP() << "Valgrind's operator new replaces the one that fails on demand";
  for (const bool by_gather : {true, false}) {
    event_loop loop;
    bool waiter_done = false;
    try {
      run_bounded(loop, [&] {
        auto& l = tandem::current_loop();
        tandem::event e;
        auto finishing = l.create_task([&] {
          e.wait();
          // Runs after the done-callback (queued as the task finishes, after this).
          l.call_soon([&l] { l.call_soon([] { allocations_until_failure = -1; }); });
          allocations_until_failure = 0;  // its last act
        });
        bool waiting = false;
        auto waiter = l.create_task([&] {
          if (by_gather) {
            waiting = true;
            tandem::gather(finishing);
          } else {
            // 63 done already: a deque's first block is full as the last comes.
            std::vector<tandem::task<void>> tasks;
            for (int i = 0; i < 63; ++i) tasks.push_back(l.create_task([] {}));
            for (auto& t : tasks) tandem::await(t);
            tasks.push_back(finishing);
            waiting = true;
            for (auto& t : tandem::as_completed(std::move(tasks))) tandem::await(t);
          }
        });
        while (!waiting) tandem::sleep_for(0s);
        for (int i = 0; i < 5; ++i) tandem::sleep_for(0s);  // it waits for `finishing` alone
        e.set();
        tandem::await(waiter);
        waiter_done = true;
      });
    } catch (const std::bad_alloc&) {
      allocations_until_failure = -1;
      ADD_FAILURE() << "bad_alloc left the loop's run";
    }
    allocations_until_failure = -1;
    EXPECT_TRUE(waiter_done) << (by_gather ? "gather" : "as_completed") << " never returned";
  }
}

// A task is waited for on its own loop only: another loop would never run
// it (asyncio: "attached to a different loop"). Each way of waiting throws
// logic_error naming itself, and the task still runs on its own loop.
TEST(Task, WaitingForATaskOfAnotherLoopThrowsLogicError) {
  event_loop a;
  event_loop b;
  auto theirs = a.create_task([] {
    tandem::sleep_for(1ms);
    return 5;
  });
  auto expect_refused = [](auto&& wait, const char* name) {
    try {
      wait();
      ADD_FAILURE() << name << " returned";
    } catch (const std::logic_error& e) {
      EXPECT_NE(std::string(e.what()).find(name), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("another event loop"), std::string::npos) << e.what();
    }
  };
  run_bounded(b, [&] {
    expect_refused([&] { tandem::await(theirs); }, "tandem::await");
    expect_refused([&] { tandem::gather(theirs); }, "tandem::gather");
    expect_refused([&] { tandem::wait_for(theirs, 1s); }, "tandem::wait_for");
    expect_refused([&] { tandem::wait(std::vector{theirs}); }, "tandem::wait");
  });
  expect_refused([&] { b.run_until_complete(theirs); }, "run_until_complete");
  EXPECT_FALSE(theirs.cancelled());
  EXPECT_EQ(run_bounded(a, theirs), 5);
}

// ---------------------------------------------------------------------------
// shield (asyncio.shield).

// Cancelling the task in shield(t) throws there at once; t runs on to its
// end, and its value reaches another handle. (await would cancel t.)
TEST(Task, CancellingTheShieldingTaskLeavesTheShieldedTaskRunning) {
  event_loop loop;
  run_bounded(loop, [] {
    auto& l = tandem::current_loop();
    bool inner_saw_cancel = false;
    tandem::event release;  // the inner task runs until the test lets it go
    auto inner = l.create_task([&] {
      try {
        release.wait();
      } catch (const tandem::cancelled_error&) {
        inner_saw_cancel = true;
        throw;
      }
      return 5;
    });
    auto outer = l.create_task([&] { return tandem::shield(inner); });
    tandem::sleep_for(0s);
    tandem::sleep_for(0s);  // outer waits in shield
    EXPECT_TRUE(outer.cancel());
    EXPECT_THROW(tandem::await(outer), tandem::cancelled_error);
    tandem::sleep_for(0s);
    EXPECT_FALSE(inner.done()) << "shield's cancellation reached the inner task";
    release.set();
    EXPECT_EQ(tandem::await(inner), 5);
    EXPECT_FALSE(inner_saw_cancel);
  });
}

TEST(Task, ShieldReturnsTheValueOrRethrowsHowTheTaskEnded) {
  event_loop loop;
  run_bounded(loop, [] {
    auto& l = tandem::current_loop();
    auto value = l.create_task([] {
      tandem::sleep_for(1ms);
      return std::string("done");
    });
    EXPECT_EQ(tandem::shield(value), "done");
    EXPECT_EQ(tandem::shield(value), "done");  // done already: at once
    auto failing = l.create_task([]() -> int {
      tandem::sleep_for(1ms);
      throw std::runtime_error("inner failure");
    });
    EXPECT_THROW(tandem::shield(failing), std::runtime_error);
    // Cancelled through its own handle: cancelled_error, as from await.
    auto sleeper = l.create_task([] { tandem::sleep_for(1h); });
    auto canceller = l.create_task([&] { sleeper.cancel(); });
    EXPECT_THROW(tandem::shield(sleeper), tandem::cancelled_error);
    tandem::await(canceller);
  });
}

// A cancellation that came while the task ran is thrown at shield's wait,
// not forwarded (await would forward it to t).
TEST(Task, ShieldDoesNotForwardACancellationThatCameWhileRunning) {
  event_loop loop;
  run_bounded(loop, [] {
    auto& l = tandem::current_loop();
    auto inner = l.create_task([] {
      tandem::sleep_for(5ms);
      return 1;
    });
    std::optional<tandem::task<int>> self;
    auto outer = l.create_task([&] {
      self->cancel();
      return tandem::shield(inner);
    });
    self = outer;
    EXPECT_THROW(tandem::await(outer), tandem::cancelled_error);
    EXPECT_FALSE(inner.cancelled());
    EXPECT_EQ(tandem::await(inner), 1);
  });
}

TEST(Task, ShieldingItselfOrOutsideATaskThrowsLogicError) {
  event_loop loop;
  auto t = loop.create_task([] { return 2; });
  EXPECT_THROW(tandem::shield(t), std::logic_error);  // outside a task
  run_bounded(loop, [] {
    std::optional<tandem::task<int>> self;
    auto me = tandem::current_loop().create_task([&] {
      tandem::sleep_for(0s);
      return tandem::shield(*self);
    });
    self = me;
    EXPECT_THROW(tandem::await(me), std::logic_error);
  });
}

}  // namespace
