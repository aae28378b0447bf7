// The loop's events (docs/rules.md, section 4): set, clear, wait,
// including waiters cancelled while they wait. Queues: queues_test.cpp.
//
// Every test that waits on the loop runs under a watchdog timer that stops
// the loop, so a broken loop fails the test instead of hanging it.
#include <gtest/gtest.h>

#include <functional>
#include <stdexcept>
#include <type_traits>
#include <utility>
#include <vector>

#include "support/loop_support.hpp"
#include "tandem/loop.hpp"

namespace {

using namespace loop_testing;

// ---------------------------------------------------------------------------
// event.

TEST(Sync, EventWakesEveryWaiterWhenSet) {
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
TEST(Sync, EventSetThenClearStillWakesTheWaiters) {
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

// Regression: a cancelled waiter passed on a wake-up it had never got.
TEST(Sync, EventWaiterWakesOnlyWhenSetThoughAnotherWaiterIsCancelled) {
  event_loop loop;
  tandem::event e;
  run_bounded(loop, [&] {
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

// Regression (fuzzer, corpus/regression-event-wait-after-cancelled-waiter): a woken
// waiter cancelled before it ran handed its wake-up to one that came after clear().
TEST(Sync, EventWaiterThatCameAfterClearWaitsThoughAWokenWaiterIsCancelled) {
  event_loop loop;
  tandem::event e;
  run_bounded(loop, [&] {
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

// Checked only if queue and event are movable at all.
TEST(Sync, MovedFromQueueAndEventThrowLogicError) {
  expect_moved_from_object_throws<tandem::queue<int>>([](auto& q) { (void)q.try_put(1); });
  expect_moved_from_object_throws<tandem::event>([](auto& e) { e.set(); });
}

}  // namespace
