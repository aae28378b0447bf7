// The loop's queues (tandem/queues.hpp, docs/rules.md section 11):
// queue<T> (first in, first out), lifo_queue<T>, priority_queue<T>,
// bounded, with waiting getters and putters, waiters cancelled while they
// wait, and asyncio's task_done() and join().
//
// Every test that waits on the loop runs under a watchdog timer that stops
// the loop, so a broken loop fails the test instead of hanging it.
#include "tandem/queues.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cstdlib>
#include <functional>
#include <memory>
#include <new>
#include <numeric>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "support/failing_new.hpp"
#include "support/loop_support.hpp"
#include "support/valgrind.hpp"
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

TEST(Queues, QueueIsFifoAndTracksItsSize) {
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
TEST(QueuesDeathTest, AQueueDestroyedWhileATaskWaitsOnItAbortsWithAMessage) {
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

TEST(Queues, QueueGetWaitsForAnItem) {
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

TEST(Queues, QueuePutWaitsWhileFull) {
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
TEST(Queues, QueueWaitingGettersAreServedInOrder) {
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
TEST(Queues, QueueWaitingGettersAreServedInOrderPastACancelledOne) {
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

TEST(Queues, QueueCarriesMoveOnlyItems) {
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

TEST(Queues, QueueOfMaxsizeOnePassesTenThousandItemsInOrder) {
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

// A getter woken and then cancelled passes its wake-up on only if an
// item is left (asyncio: `if not self.empty()`); otherwise the next getter
// is woken for nothing and loses its place in line.
TEST(Queues, QueueGetterWokenThenCancelledWithNoItemLeftKeepsTheNextInPlace) {
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
TEST(Queues, QueuePutSkipsAGetterWhoseCancellationIsPending) {
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

// ---------------------------------------------------------------------------
// lifo_queue<T> and priority_queue<T>.

TEST(Queues, LifoQueueHandsOutTheLastItemFirst) {
  tandem::lifo_queue<int> q(3);
  for (int i = 1; i <= 3; ++i) EXPECT_TRUE(q.try_put(i));
  EXPECT_TRUE(q.full());
  EXPECT_FALSE(q.try_put(4));
  EXPECT_EQ(q.try_get(), 3);
  EXPECT_TRUE(q.try_put(5));
  EXPECT_EQ(q.try_get(), 5);
  EXPECT_EQ(q.try_get(), 2);
  EXPECT_EQ(q.try_get(), 1);
  EXPECT_FALSE(q.try_get().has_value());
}

// As asyncio.PriorityQueue (heapq): the lowest first, whatever the order
// of the puts.
TEST(Queues, PriorityQueueHandsOutTheLowestItemFirst) {
  tandem::priority_queue<int> q;
  const std::vector<int> puts{5, 1, 4, 1, 9, 2, 6, 5, 3, 8, 7, 0};
  for (int v : puts) q.put(v);
  EXPECT_EQ(q.size(), puts.size());
  std::vector<int> got;
  while (auto v = q.try_get()) got.push_back(*v);
  std::vector<int> sorted = puts;
  std::sort(sorted.begin(), sorted.end());
  EXPECT_EQ(got, sorted);
}

TEST(Queues, PriorityQueueTakesItsComparison) {
  tandem::priority_queue<std::string, std::greater<>> q(0, std::greater<>{});
  for (const char* s : {"b", "d", "a", "c"}) q.put(s);
  std::string got;
  while (auto v = q.try_get()) got += *v;
  EXPECT_EQ(got, "dcba");  // std::greater: the greatest is the "lowest"
}

// The constraint asks for a strict weak order callable as a non-const
// lvalue, as std::priority_queue calls its comparison: one whose
// operator() is not const (a mutable lambda, a plain function object) is
// accepted and works, where the heap called it through a const member and
// did not compile. One taking non-const references is refused.
struct counting_less {
  int calls = 0;
  bool operator()(const int& a, const int& b) {  // not const
    ++calls;
    return a < b;
  }
};
struct mutable_ref_less {
  bool operator()(int& a, int& b) const { return a < b; }
};
template <class T, class Compare>
concept priority_queue_of = requires {
  typename tandem::priority_queue<T, Compare>;
};
static_assert(!priority_queue_of<int, mutable_ref_less>);

TEST(Queues, PriorityQueueTakesAComparisonWhoseCallIsNotConst) {
  tandem::priority_queue<int, counting_less> q;
  auto by_absolute = [calls = 0](int a, int b) mutable {
    ++calls;
    return std::abs(a) < std::abs(b);
  };
  tandem::priority_queue<int, decltype(by_absolute)> abs_q(0, by_absolute);
  for (int v : {3, -1, 2, -4}) {
    q.put(v);
    abs_q.put(v);
  }
  for (int v : {-4, -1, 2, 3}) EXPECT_EQ(q.try_get(), v);
  for (int v : {-1, 2, 3, -4}) EXPECT_EQ(abs_q.try_get(), v);
}

// (priority, arrival) pairs: first in, first out among equal priorities.
TEST(Queues, PriorityQueueOfPairsKeepsArrivalOrderAmongEqualPriorities) {
  tandem::priority_queue<std::pair<int, int>> q;
  int arrival = 0;
  for (int priority : {2, 1, 2, 1, 0, 2}) q.put({priority, arrival++});
  std::vector<std::pair<int, int>> got;
  while (auto v = q.try_get()) got.push_back(*v);
  const std::vector<std::pair<int, int>> expected{{0, 4}, {1, 1}, {1, 3}, {2, 0}, {2, 2}, {2, 5}};
  EXPECT_EQ(got, expected);
}

TEST(Queues, PriorityQueueCarriesMoveOnlyItems) {
  auto by_value = [](const std::unique_ptr<int>& a, const std::unique_ptr<int>& b) {
    return *a < *b;
  };
  tandem::priority_queue<std::unique_ptr<int>, decltype(by_value)> q(0, by_value);
  for (int v : {3, 1, 2}) q.put(std::make_unique<int>(v));
  for (int v : {1, 2, 3}) EXPECT_EQ(**q.try_get(), v);
}

// A comparison that throws in put(), try_get() or get(): the exception
// propagates and the queue is left as it was (the strong guarantee), a
// valid heap with every item once and its count of unfinished items
// unchanged. The standard heap algorithms, which moved items about between
// comparisons, lost an item there (a moved-from one took its place) or
// left the heap out of order.
struct throwing_less {
  static inline int calls_left = -1;  // calls until one throws; -1: none does
  bool operator()(int a, int b) const {
    if (calls_left >= 0 && calls_left-- == 0) throw std::runtime_error("compare failed");
    return a < b;
  }
};

// Fails a call at the n-th comparison for every n until one call makes
// them all, then takes every item that is left, and gives each of them
// back with task_done(): one task_done() more than the items put must throw.
template <class Call>
void check_every_failing_comparison(Call call, int put_in_call) {
  const std::vector<int> items{5, 1, 4, 1, 9, 2, 6, 5, 3, 8, 7, 0, 12, 10, 11, 13};
  for (int calls = 0; calls < 100; ++calls) {
    SCOPED_TRACE(testing::Message() << "the comparison throws at call " << calls);
    tandem::priority_queue<int, throwing_less> q;
    for (int v : items) q.put(v);
    std::vector<int> expected = items;
    throwing_less::calls_left = calls;
    std::optional<int> taken;
    bool threw = false;
    try {
      taken = call(q);
    } catch (const std::runtime_error&) {
      threw = true;
    }
    throwing_less::calls_left = -1;
    if (!threw) {
      if (put_in_call) expected.push_back(put_in_call);
      if (taken) expected.erase(std::find(expected.begin(), expected.end(), *taken));
    }
    std::sort(expected.begin(), expected.end());
    EXPECT_EQ(q.size(), expected.size());
    std::vector<int> got;
    while (auto v = q.try_get()) got.push_back(*v);
    EXPECT_EQ(got, expected);
    std::size_t unfinished = items.size() + (threw ? 0 : put_in_call != 0);
    for (std::size_t i = 0; i < unfinished; ++i) q.task_done();
    EXPECT_THROW(q.task_done(), std::logic_error);
    if (!threw) break;  // it made every comparison it needed
  }
}

TEST(Queues, AComparisonThatThrowsLeavesThePriorityQueueAsItWas) {
  {
    SCOPED_TRACE("put");
    check_every_failing_comparison(
        [](auto& q) {
          q.put(-1);
          return std::optional<int>();
        },
        -1);
  }
  {
    SCOPED_TRACE("try_put");
    check_every_failing_comparison(
        [](auto& q) {
          EXPECT_TRUE(q.try_put(-1));
          return std::optional<int>();
        },
        -1);
  }
  {
    SCOPED_TRACE("try_get");
    check_every_failing_comparison([](auto& q) { return q.try_get(); }, 0);
  }
  {
    SCOPED_TRACE("get");
    check_every_failing_comparison([](auto& q) { return std::optional<int>(q.get()); }, 0);
  }
}

// An item whose move throws while get() takes it stays queued, in its
// place: the next get() takes it (first in first out, last in first out).
struct fragile {
  static inline bool fail_next_move = false;
  int value = 0;
  explicit fragile(int v) : value(v) {}
  fragile(const fragile&) = delete;
  // NOLINTNEXTLINE(bugprone-exception-escape,performance-noexcept-move-constructor): the point
  fragile(fragile&& other) : value(other.value) {
    if (fail_next_move) {
      fail_next_move = false;
      throw std::runtime_error("move failed");
    }
  }
  fragile& operator=(fragile&& other) noexcept {
    value = other.value;
    return *this;
  }
  bool operator<(const fragile& other) const noexcept { return value < other.value; }
};

// A priority queue refuses such a type: its heap moves items about.
template <class T>
concept priority_queue_item = requires {
  typename tandem::priority_queue<T>;
};
static_assert(!priority_queue_item<fragile>);
static_assert(priority_queue_item<std::pair<int, std::string>>);

TEST(Queues, AnItemWhoseMoveThrowsInGetStaysQueued) {
  tandem::queue<fragile> q;
  tandem::lifo_queue<fragile> lq;
  for (int v : {1, 2}) {
    q.put(fragile(v));
    lq.put(fragile(v));
  }
  fragile::fail_next_move = true;
  EXPECT_THROW((void)q.try_get(), std::runtime_error);
  fragile::fail_next_move = true;
  EXPECT_THROW((void)lq.try_get(), std::runtime_error);
  EXPECT_EQ(q.try_get()->value, 1);
  EXPECT_EQ(lq.try_get()->value, 2);
}

// An item whose move throws at whichever move get() or try_get() makes is
// either handed out or left queued in its place, never lost: try_get()
// moved it out of the queue and then into the optional it returns, and
// lost it when that second move threw.
struct brittle {
  static inline int moves_left = -1;  // moves until one throws; -1: none does
  int value = 0;
  explicit brittle(int v) : value(v) {}
  brittle(const brittle&) = delete;
  // NOLINTNEXTLINE(bugprone-exception-escape,performance-noexcept-move-constructor): the point
  brittle(brittle&& other) : value(other.value) {
    if (moves_left >= 0 && moves_left-- == 0) throw std::runtime_error("move failed");
  }
};

template <class Queue, class Take>
std::vector<int> take_each_failing_at_every_move(Queue& q, Take take) {
  std::vector<int> got;
  for (int item = 0; !q.empty() && item < 100; ++item) {
    for (int moves = 0; !q.empty(); ++moves) {  // an item lost: no get() that waits
      brittle::moves_left = moves;
      try {
        got.push_back(take(q));
        break;
      } catch (const std::runtime_error&) {
      }
    }
  }
  brittle::moves_left = -1;
  return got;
}

TEST(Queues, AnItemWhoseMoveThrowsAtAnyMoveInTryGetOrGetIsNeverLost) {
  auto try_get = [](auto& q) { return q.try_get()->value; };
  auto get = [](auto& q) { return q.get().value; };
  tandem::queue<brittle> q;
  tandem::lifo_queue<brittle> lq;
  for (int v : {1, 2, 3}) {
    q.put(brittle(v));
    lq.put(brittle(v));
  }
  EXPECT_EQ(take_each_failing_at_every_move(q, try_get), (std::vector<int>{1, 2, 3}));
  EXPECT_EQ(take_each_failing_at_every_move(lq, try_get), (std::vector<int>{3, 2, 1}));
  event_loop loop;
  run_bounded(loop, [&] {
    for (int v : {1, 2, 3}) {
      q.put(brittle(v));
      lq.put(brittle(v));
    }
    EXPECT_EQ(take_each_failing_at_every_move(q, get), (std::vector<int>{1, 2, 3}));
    EXPECT_EQ(take_each_failing_at_every_move(lq, get), (std::vector<int>{3, 2, 1}));
  });
}

// A getter woken for an item that then fails to move it out leaves the
// item queued, and passes its wake-up on to the next getter, as a getter
// woken and then cancelled does: the item sat queued while the next
// getter waited on, until another put() came.
TEST(Queues, AWokenGetterWhoseMoveThrowsPassesTheItemOnToTheNextGetter) {
  event_loop loop;
  tandem::queue<brittle> q;
  run_bounded(loop, [&] {
    auto& l = tandem::current_loop();
    auto getter = [&q] { return q.get().value; };
    auto first = l.create_task(getter);
    auto second = l.create_task(getter);
    tandem::sleep_for(0s);    // both wait
    q.put(brittle(1));        // wakes first
    brittle::moves_left = 0;  // first's move out of the queue throws
    for (int i = 0; i < 5; ++i) tandem::sleep_for(0s);
    brittle::moves_left = -1;
    EXPECT_THROW(tandem::await(first), std::runtime_error);
    EXPECT_TRUE(second.done()) << "the item sat queued while second waited";
    second.cancel();  // if still waiting, so that the queue outlives it
    try {
      EXPECT_EQ(tandem::await(second), 1);
    } catch (const tandem::cancelled_error&) {
    }
  });
}

// The same for a putter woken for a free slot whose move into the queue
// throws: the slot goes to the next putter.
TEST(Queues, AWokenPutterWhoseMoveThrowsPassesTheSlotOnToTheNextPutter) {
  event_loop loop;
  tandem::queue<brittle> q(1);
  run_bounded(loop, [&] {
    auto& l = tandem::current_loop();
    q.put(brittle(0));  // full
    auto first = l.create_task([&q] { q.put(brittle(1)); });
    auto second = l.create_task([&q] { q.put(brittle(2)); });
    tandem::sleep_for(0s);        // both wait
    EXPECT_EQ(q.get().value, 0);  // wakes first
    brittle::moves_left = 0;      // first's move into the queue throws
    for (int i = 0; i < 5; ++i) tandem::sleep_for(0s);
    brittle::moves_left = -1;
    EXPECT_THROW(tandem::await(first), std::runtime_error);
    EXPECT_TRUE(second.done()) << "the slot stayed free while second waited";
    second.cancel();
    try {
      tandem::await(second);
      EXPECT_EQ(q.get().value, 2);
    } catch (const tandem::cancelled_error&) {
    }
  });
}

// Waking a waiter allocates nothing: wake_one() copied the waiter's
// wake function (a heap-allocated std::function) to call it, and a
// bad_alloc there escaped from try_put() (put()) after the item was stored
// and counted, so a caller told it failed would put it twice; from get()
// (try_get()) after the item had left the queue, so it was lost.
TEST(Queues, WakingAWaiterAllocatesNothingSoNoItemIsLostOrStoredTwice) {
  if (testing_support::running_on_valgrind())
    GTEST_SKIP() << "Valgrind's operator new replaces the one that fails on demand";
  event_loop loop;
  tandem::queue<int> q(1);
  run_bounded(
      loop,
      [&] {
        auto& l = tandem::current_loop();
        q.put(0);  // the queue's storage is allocated: storing allocates nothing
        (void)q.try_get();
        auto getter = l.create_task([&q] { return q.get(); });
        tandem::sleep_for(0s);  // waits
        allocations_until_failure = 0;
        bool stored = false;
        EXPECT_NO_THROW(stored = q.try_put(1));
        EXPECT_TRUE(stored);
        allocations_until_failure = -1;
        EXPECT_EQ(tandem::await(getter), 1);
        q.put(2);  // full
        auto putter = l.create_task([&q] { q.put(3); });
        tandem::sleep_for(0s);  // waits
        allocations_until_failure = 0;
        std::optional<int> got;
        EXPECT_NO_THROW(got = q.try_get());
        allocations_until_failure = -1;
        EXPECT_EQ(got, 2);
        tandem::await(putter);
        EXPECT_EQ(q.try_get(), 3);
      },
      5s);
}

// An allocation that fails as a getter starts to wait (the waiter's node,
// then its wake function: the first and second allocations) throws from
// get() and leaves no waiter listed: the failed wake function's
// assignment left the node listed, so the queue's next wake-up went to it
// and was lost, and the queue's destruction reported waiters and aborted.
TEST(Queues, AnAllocationFailingAsAGetterStartsToWaitLeavesNoWaiterListed) {
  if (testing_support::running_on_valgrind())
    GTEST_SKIP() << "Valgrind's operator new replaces the one that fails on demand";
  event_loop loop;
  tandem::queue<int> q;
  run_bounded(
      loop,
      [&] {
        auto& l = tandem::current_loop();
        for (int allocations : {0, 1}) {
          auto failing = l.create_task([&q, allocations] {
            allocations_until_failure = allocations;
            EXPECT_THROW((void)q.get(), std::bad_alloc);
            allocations_until_failure = -1;
          });
          tandem::sleep_for(0s);
          allocations_until_failure = -1;  // in case get() waited after all
          ASSERT_TRUE(failing.done());
          auto getter = l.create_task([&q] { return q.get(); });
          tandem::sleep_for(0s);  // waits
          q.put(allocations);
          for (int i = 0; i < 3 && !getter.done(); ++i) tandem::sleep_for(0s);
          ASSERT_TRUE(getter.done()) << "the wake-up went to the failed waiter";
          EXPECT_EQ(tandem::await(getter), allocations);
        }
      },
      5s);
}

// Waiting works alike whatever the order: a putter blocked on a full
// priority queue gets in when the lowest item is taken.
TEST(Queues, PriorityQueuePutWaitsWhileFullAndGetWaitsWhileEmpty) {
  event_loop loop;
  tandem::priority_queue<int> q(2);
  run_bounded(loop, [&] {
    auto getter = tandem::current_loop().create_task([&] { return q.get(); });
    tandem::sleep_for(0s);
    EXPECT_FALSE(getter.done());
    q.put(7);
    EXPECT_EQ(tandem::await(getter), 7);
    q.put(5);
    q.put(6);
    auto putter = tandem::current_loop().create_task([&] { q.put(1); });
    tandem::sleep_for(0s);
    EXPECT_FALSE(putter.done());
    EXPECT_EQ(q.get(), 5);
    tandem::await(putter);
    EXPECT_EQ(q.get(), 1);
    EXPECT_EQ(q.get(), 6);
  });
}

// ---------------------------------------------------------------------------
// task_done() and join().

TEST(Queues, TaskDoneMoreTimesThanItemsPutThrowsLogicError) {
  tandem::queue<int> q;
  EXPECT_THROW(q.task_done(), std::logic_error);
  q.put(1);
  (void)q.try_get();
  q.task_done();
  EXPECT_THROW(q.task_done(), std::logic_error);
  // A failed try_put counts nothing.
  tandem::lifo_queue<int> full(1);
  EXPECT_TRUE(full.try_put(1));
  EXPECT_FALSE(full.try_put(2));
  full.task_done();
  EXPECT_THROW(full.task_done(), std::logic_error);
}

TEST(Queues, JoinReturnsAtOnceWithNothingUnfinished) {
  event_loop loop;
  tandem::priority_queue<int> q;
  run_bounded(loop, [&] {
    q.join();  // nothing put
    q.put(1);
    (void)q.get();
    q.task_done();
    q.join();  // put, taken and done
  });
}

// asyncio's worker pattern: join() returns once every item put has been
// taken and marked done, not when the queue is merely empty.
TEST(Queues, JoinWaitsUntilEveryItemIsMarkedDone) {
  event_loop loop;
  tandem::queue<int> q;
  run_bounded(loop, [&] {
    std::vector<int> handled;
    auto worker = [&] {
      for (;;) {
        const int item = q.get();
        tandem::sleep_for(1ms);  // the work
        handled.push_back(item);
        q.task_done();
      }
    };
    auto w1 = tandem::current_loop().create_task(worker);
    auto w2 = tandem::current_loop().create_task(worker);
    for (int i = 0; i < 10; ++i) q.put(i);
    q.join();
    EXPECT_TRUE(q.empty());
    std::sort(handled.begin(), handled.end());
    std::vector<int> expected(10);
    std::iota(expected.begin(), expected.end(), 0);
    EXPECT_EQ(handled, expected) << "join returned before every item was done";
    w1.cancel();
    w2.cancel();
  });
}

// As asyncio's: a join() woken by the count reaching zero returns, though
// an item was put before it ran; every joiner is woken.
TEST(Queues, JoinWokenAtZeroReturnsThoughAnItemWasPutSince) {
  event_loop loop;
  tandem::queue<int> q;
  run_bounded(loop, [&] {
    q.put(1);
    auto j1 = tandem::current_loop().create_task([&] { q.join(); });
    auto j2 = tandem::current_loop().create_task([&] { q.join(); });
    tandem::sleep_for(0s);
    EXPECT_FALSE(j1.done());
    (void)q.get();
    q.task_done();
    q.put(2);
    tandem::sleep_for(0s);
    EXPECT_TRUE(j1.done());
    EXPECT_TRUE(j2.done());
    auto j3 = tandem::current_loop().create_task([&] { q.join(); });
    tandem::sleep_for(0s);
    EXPECT_FALSE(j3.done()) << "item 2 is unfinished";
    (void)q.get();
    q.task_done();
    tandem::await(j3);
  });
}

TEST(Queues, CancelledJoinThrowsAndLeavesTheCountAlone) {
  event_loop loop;
  tandem::queue<int> q;
  run_bounded(loop, [&] {
    q.put(1);
    auto joiner = tandem::current_loop().create_task([&] { q.join(); });
    tandem::sleep_for(0s);
    joiner.cancel();
    EXPECT_THROW(tandem::await(joiner), tandem::cancelled_error);
    auto second = tandem::current_loop().create_task([&] { q.join(); });
    tandem::sleep_for(0s);
    EXPECT_FALSE(second.done());
    (void)q.get();
    q.task_done();
    tandem::await(second);
    EXPECT_THROW(q.task_done(), std::logic_error);
  });
}

// A join() that must wait is a suspending call (docs/rules.md 4.7).
TEST(Queues, JoinThatMustWaitOutsideATaskThrowsLogicError) {
  tandem::queue<int> q;
  q.join();  // nothing unfinished: does not wait
  q.put(1);
  EXPECT_THROW(q.join(), std::logic_error);
}

}  // namespace
