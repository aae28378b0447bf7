// The loop's synchronisation objects (docs/rules.md, section 4): queue<T>
// (FIFO, bounded, waiting getters and putters) and event (set, clear,
// wait), including waiters cancelled while they wait.
//
// Every test that waits on the loop runs under a watchdog timer that stops
// the loop, so a broken loop fails the test instead of hanging it.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "support/loop_support.hpp"
#include "tandem/loop.hpp"

namespace {

using namespace loop_testing;

// ---------------------------------------------------------------------------
// queue<T>.

// Three tasks waiting in q.get(), in line in the order they were made.
auto three_getters(tandem::queue<int>& q) {
  auto& l = tandem::current_loop();
  auto getter = [&q] { return q.get(); };
  std::array getters{l.create_task(getter), l.create_task(getter), l.create_task(getter)};
  tandem::sleep_for(0s);
  return getters;
}

TEST(Sync, QueueIsFifoAndTracksItsSize) {
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

// A queue destroyed while a task waits in get(): each waiter's node would
// be taken off freed memory when the loop unwinds the task. Reported, and
// the process aborts, where it went on with a use after free.
TEST(SyncDeathTest, AQueueDestroyedWhileATaskWaitsOnItAbortsWithAMessage) {
  EXPECT_DEATH(
      {
        event_loop loop;
        auto q = std::make_unique<tandem::queue<int>>();
        run_bounded(loop, [&] {
          tandem::current_loop().create_task([&q] { (void)q->get(); });
          tandem::sleep_for(0s);
          q.reset();
        });
      },
      "destroyed while tasks wait on it");
}

TEST(Sync, QueueGetWaitsForAnItem) {
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

TEST(Sync, QueuePutWaitsWhileFull) {
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
TEST(Sync, QueueWaitingGettersAreServedInOrder) {
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

// Regression: a cancelled getter passed on a wake-up it had never got.
TEST(Sync, QueueWaitingGettersAreServedInOrderPastACancelledOne) {
  event_loop loop;
  tandem::queue<int> q;
  run_bounded(loop, [&] {
    auto [g1, g2, g3] = three_getters(q);
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

TEST(Sync, QueueCarriesMoveOnlyItems) {
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

TEST(Sync, QueueOfMaxsizeOnePassesTenThousandItemsInOrder) {
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

// A getter woken and then cancelled passes its wake-up on only if an
// item is left (asyncio: `if not self.empty()`); otherwise the next getter
// is woken for nothing and loses its place in line.
TEST(Sync, QueueGetterWokenThenCancelledWithNoItemLeftKeepsTheNextInPlace) {
  event_loop loop;
  tandem::queue<int> q;
  run_bounded(loop, [&] {
    auto [g1, g2, g3] = three_getters(q);
    q.put(7);                   // wakes g1
    EXPECT_EQ(q.try_get(), 7);  // taken before g1 ran
    g1.cancel();
    for (int i = 0; i < 5; ++i) tandem::sleep_for(0s);
    EXPECT_TRUE(g1.cancelled());
    q.put(8);
    for (int i = 0; i < 5; ++i) tandem::sleep_for(0s);
    EXPECT_TRUE(g2.done()) << "g2 was first in line";
    EXPECT_FALSE(g3.done());
    q.put(9);
    tandem::await(g2);
    tandem::await(g3);
  });
}
// asyncio's put() wakes the first getter that is not cancelled: an item is
// not offered to a getter about to throw, where a third task could take it
// before the wake-up is passed on an iteration later.
TEST(Sync, QueuePutSkipsAGetterWhoseCancellationIsPending) {
  event_loop loop;
  run_bounded(loop, [&loop] {
    tandem::queue<int> q;
    auto first = loop.create_task([&q] { return q.get(); });
    auto second = loop.create_task([&q] { return q.get(); });
    tandem::sleep_for(0s);  // both wait
    first.cancel();
    q.put(1);
    tandem::sleep_for(0s);
    EXPECT_FALSE(q.try_get().has_value()) << "the item was left for anyone to take";
    EXPECT_EQ(tandem::await(second), 1);
    EXPECT_THROW(tandem::await(first), tandem::cancelled_error);
  });
}

}  // namespace
