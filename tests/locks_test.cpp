// Mutexes, semaphores, conditions and barriers (tandem/locks.hpp;
// docs/rules.md, section 6), a test per rule, with the cases CPython's
// test_locks.py found hard: a waiter cancelled just as the mutex is handed
// to it, a semaphore released more often than acquired, a notify racing a
// cancellation, a barrier reset or aborted while tasks wait in it.
//
// Every test that waits on the loop runs under a watchdog timer that stops
// the loop, so a broken lock fails the test instead of hanging it.
#include "tandem/locks.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <mutex>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "support/loop_support.hpp"
#include "tandem/coroutine.hpp"
#include "tandem/loop.hpp"

namespace {

using namespace loop_testing;
using namespace std::chrono_literals;

// Lets every ready task run `rounds` times.
void let_others_run(int rounds = 3) {
  for (int i = 0; i < rounds; ++i) tandem::sleep_for(0s);
}

// ---------------------------------------------------------------------------
// mutex

TEST(Locks, MutexThatIsFreeIsTakenWithoutSuspending) {
  event_loop loop;
  tandem::mutex m;
  std::vector<std::string> order;
  run_bounded(loop, [&] {
    auto other = tandem::current_loop().create_task([&] { order.push_back("other ran"); });
    m.lock();  // free: no suspension, so the other task has not run yet
    order.push_back("locked");
    EXPECT_TRUE(m.locked());
    m.unlock();
    EXPECT_FALSE(m.locked());
    tandem::await(other);
  });
  EXPECT_EQ(order, (std::vector<std::string>{"locked", "other ran"}));
}

TEST(Locks, MutexWaitersAreServedInArrivalOrder) {
  event_loop loop;
  tandem::mutex m;
  std::vector<int> order;
  run_bounded(loop, [&] {
    auto& l = tandem::current_loop();
    m.lock();
    std::vector<tandem::task<void>> waiters;
    for (int i = 0; i < 5; ++i)
      waiters.push_back(l.create_task([&, i] {
        std::lock_guard hold(m);  // Lockable
        order.push_back(i);
        tandem::sleep_for(0s);  // hold it across a suspension
      }));
    let_others_run();
    EXPECT_TRUE(order.empty());
    m.unlock();
    for (auto& w : waiters) tandem::await(w);
  });
  EXPECT_EQ(order, (std::vector<int>{0, 1, 2, 3, 4}));
  EXPECT_FALSE(m.locked());
}

// unlock() hands the mutex to the first waiter: a task that asks for it
// after the unlock, before the waiter ran, must wait its turn.
TEST(Locks, MutexHandedToAWaiterIsNotTakenByALaterArrival) {
  event_loop loop;
  tandem::mutex m;
  std::vector<std::string> order;
  run_bounded(loop, [&] {
    auto& l = tandem::current_loop();
    m.lock();
    auto waiter = l.create_task([&] {
      m.lock();
      order.push_back("waiter");
      m.unlock();
    });
    let_others_run();
    m.unlock();
    EXPECT_TRUE(m.locked()) << "handed over, not freed";
    EXPECT_FALSE(m.try_lock());
    m.lock();  // after the waiter
    order.push_back("latecomer");
    m.unlock();
    tandem::await(waiter);
  });
  EXPECT_EQ(order, (std::vector<std::string>{"waiter", "latecomer"}));
}

TEST(Locks, MutexWaiterCancelledWhileWaitingNeverTakesIt) {
  event_loop loop;
  tandem::mutex m;
  bool took_it = false;
  run_bounded(loop, [&] {
    auto& l = tandem::current_loop();
    m.lock();
    auto waiter = l.create_task([&] {
      m.lock();
      took_it = true;
    });
    let_others_run();
    waiter.cancel();
    let_others_run();
    EXPECT_TRUE(waiter.cancelled());
    m.unlock();
    EXPECT_FALSE(m.locked()) << "no waiter left: the mutex is free";
  });
  EXPECT_FALSE(took_it);
}

// CPython's test_locks: the waiter is cancelled after the mutex was handed
// to it and before it ran. The mutex must go to the next waiter, not be
// lost with the cancelled one.
TEST(Locks, MutexWaiterCancelledJustAsItIsHandedTheMutexPassesItOn) {
  event_loop loop;
  tandem::mutex m;
  std::vector<std::string> order;
  run_bounded(loop, [&] {
    auto& l = tandem::current_loop();
    m.lock();
    auto first = l.create_task([&] {
      std::lock_guard hold(m);
      order.push_back("first");
    });
    auto second = l.create_task([&] {
      std::lock_guard hold(m);
      order.push_back("second");
    });
    let_others_run();
    m.unlock();      // handed to `first`, which has not run yet
    first.cancel();  // ... and is cancelled before it does
    tandem::await(second);
    EXPECT_TRUE(first.cancelled());
  });
  EXPECT_EQ(order, (std::vector<std::string>{"second"}));
  EXPECT_FALSE(m.locked());
}

TEST(Locks, MutexHandedToTheOnlyWaiterWhichIsCancelledIsUnlocked) {
  event_loop loop;
  tandem::mutex m;
  run_bounded(loop, [&] {
    auto& l = tandem::current_loop();
    m.lock();
    auto waiter = l.create_task([&] { m.lock(); });
    let_others_run();
    m.unlock();
    waiter.cancel();
    let_others_run();
    EXPECT_TRUE(waiter.cancelled());
    EXPECT_FALSE(m.locked()) << "the mutex was lost with the cancelled waiter";
  });
}

TEST(Locks, MutexLockedAgainByItsHolderThrowsLogicError) {
  event_loop loop;
  tandem::mutex m;
  run_bounded(loop, [&] {
    m.lock();
    EXPECT_THROW(m.lock(), std::logic_error);
    EXPECT_TRUE(m.locked());
    m.unlock();
  });
}

TEST(Locks, MutexUnlockedWhenNotLockedThrowsLogicError) {
  tandem::mutex m;
  EXPECT_THROW(m.unlock(), std::logic_error);
  EXPECT_TRUE(m.try_lock());
  m.unlock();
  EXPECT_THROW(m.unlock(), std::logic_error);
}

// As asyncio's Lock: no owner for unlock().
TEST(Locks, MutexMayBeUnlockedByAnotherTask) {
  event_loop loop;
  tandem::mutex m;
  run_bounded(loop, [&] {
    m.lock();
    tandem::await(tandem::current_loop().create_task([&] { m.unlock(); }));
    EXPECT_FALSE(m.locked());
  });
}

TEST(Locks, MutexLockOutsideATaskThrowsLogicError) {
  tandem::mutex m;
  EXPECT_THROW(m.lock(), std::logic_error);
  EXPECT_FALSE(m.locked());
}

// ---------------------------------------------------------------------------
// semaphore, bounded_semaphore

TEST(Locks, SemaphoreWaitsWhenNoPermitIsLeftAndServesWaitersInOrder) {
  event_loop loop;
  tandem::semaphore s(2);
  std::vector<int> order;
  run_bounded(loop, [&] {
    auto& l = tandem::current_loop();
    s.acquire();
    s.acquire();
    EXPECT_EQ(s.value(), 0u);
    EXPECT_TRUE(s.locked());
    EXPECT_FALSE(s.try_acquire());
    std::vector<tandem::task<void>> waiters;
    for (int i = 0; i < 3; ++i)
      waiters.push_back(l.create_task([&, i] {
        s.acquire();
        order.push_back(i);
      }));
    let_others_run();
    EXPECT_TRUE(order.empty());
    s.release();
    s.release();
    s.release();
    for (auto& w : waiters) tandem::await(w);
  });
  EXPECT_EQ(order, (std::vector<int>{0, 1, 2}));
  EXPECT_EQ(s.value(), 0u);
}

// CPython's test_locks: a plain semaphore released more often than
// acquired just counts up.
TEST(Locks, SemaphoreReleasedMoreOftenThanAcquiredCountsUp) {
  tandem::semaphore s(1);
  s.release();
  s.release();
  EXPECT_EQ(s.value(), 3u);
  EXPECT_TRUE(s.try_acquire());
  EXPECT_EQ(s.value(), 2u);
}

TEST(Locks, BoundedSemaphoreReleasedPastItsInitialValueThrowsLogicError) {
  tandem::bounded_semaphore b(2);
  EXPECT_THROW(b.release(), std::logic_error);
  EXPECT_TRUE(b.try_acquire());
  b.release();
  EXPECT_EQ(b.value(), 2u);
  tandem::semaphore& as_plain = b;  // the bound is the semaphore's own
  EXPECT_THROW(as_plain.release(), std::logic_error);
  EXPECT_EQ(b.value(), 2u);
}

// asyncio's Semaphore(-1) and BoundedSemaphore(-1) raise ValueError. A
// negative count converted to std::size_t would be SIZE_MAX: a semaphore
// that never makes anyone wait.
TEST(Locks, SemaphoreWithANegativeInitialValueThrowsInvalidArgumentNamingIt) {
  const auto message_of = [](auto make) -> std::string {
    try {
      make();
    } catch (const std::invalid_argument& e) {
      return e.what();
    }
    return "no std::invalid_argument";
  };
  const std::string plain = message_of([] { tandem::semaphore s(-1); });
  EXPECT_NE(plain.find("tandem::semaphore"), std::string::npos) << plain;
  EXPECT_NE(plain.find("-1"), std::string::npos) << plain;
  const std::string bounded = message_of([] { tandem::bounded_semaphore b(-3L); });
  EXPECT_NE(bounded.find("tandem::bounded_semaphore"), std::string::npos) << bounded;
  EXPECT_NE(bounded.find("-3"), std::string::npos) << bounded;
  // Zero and positive counts of any integer type are what they say.
  EXPECT_EQ(tandem::semaphore(0).value(), 0u);
  EXPECT_EQ(tandem::semaphore(std::size_t{5}).value(), 5u);
  EXPECT_EQ(tandem::semaphore(short{7}).value(), 7u);
  EXPECT_EQ(tandem::bounded_semaphore(2).value(), 2u);
  EXPECT_EQ(tandem::bounded_semaphore(4u).value(), 4u);
  EXPECT_EQ(tandem::semaphore().value(), 1u);
}

// Where std::size_t is narrower than the integer given (32-bit targets:
// armv7), an initial value past SIZE_MAX throws std::invalid_argument
// naming it, as a negative one does. It was cut to its low bits: 2^32
// made a semaphore of 0, which never lets anyone in, and 2^32 + 3 one of 3.
TEST(Locks, SemaphoreWithAnInitialValuePastItsCountersRangeThrowsInvalidArgumentNamingIt) {
  if constexpr (sizeof(std::size_t) >= sizeof(std::int64_t)) {
    GTEST_SKIP() << "every std::int64_t and std::uint64_t value fits std::size_t here";
  } else {
    const auto message_of = [](auto make) -> std::string {
      try {
        make();
      } catch (const std::invalid_argument& e) {
        return e.what();
      }
      return "no std::invalid_argument";
    };
    // Values a program computes (constants past the range draw a warning).
    std::int64_t signed_big = std::int64_t{1} << 32;
    std::uint64_t unsigned_big = (std::uint64_t{1} << 32) + 3;
    std::int64_t largest = std::numeric_limits<std::int64_t>::max();
    const std::string plain = message_of([&] { tandem::semaphore s(signed_big); });
    EXPECT_NE(plain.find("tandem::semaphore"), std::string::npos) << plain;
    EXPECT_NE(plain.find("4294967296"), std::string::npos) << plain;
    const std::string bounded = message_of([&] { tandem::bounded_semaphore b(unsigned_big); });
    EXPECT_NE(bounded.find("tandem::bounded_semaphore"), std::string::npos) << bounded;
    EXPECT_NE(bounded.find("4294967299"), std::string::npos) << bounded;
    const std::string most = message_of([&] { tandem::semaphore s(largest); });
    EXPECT_NE(most.find("9223372036854775807"), std::string::npos) << most;
    // A barrier's parties likewise: 2^32 + 1 was a barrier of 1.
    const std::string parties = message_of([&] { tandem::barrier b(unsigned_big - 2); });
    EXPECT_NE(parties.find("tandem::barrier"), std::string::npos) << parties;
    EXPECT_NE(parties.find("4294967297"), std::string::npos) << parties;
    // The largest that fits is taken as it is.
    const std::size_t top = std::numeric_limits<std::size_t>::max();
    EXPECT_EQ(tandem::semaphore(static_cast<std::int64_t>(top)).value(), top);
    EXPECT_EQ(tandem::bounded_semaphore(static_cast<std::uint64_t>(top)).value(), top);
  }
}

TEST(Locks, SemaphoreWaiterCancelledJustAsItIsHandedAPermitPassesItOn) {
  event_loop loop;
  tandem::semaphore s(0);
  std::vector<std::string> order;
  run_bounded(loop, [&] {
    auto& l = tandem::current_loop();
    auto first = l.create_task([&] {
      s.acquire();
      order.push_back("first");
    });
    auto second = l.create_task([&] {
      s.acquire();
      order.push_back("second");
    });
    let_others_run();
    s.release();  // handed to `first`
    first.cancel();
    tandem::await(second);
    EXPECT_TRUE(first.cancelled());
  });
  EXPECT_EQ(order, (std::vector<std::string>{"second"}));
  EXPECT_EQ(s.value(), 0u);
}

TEST(Locks, SemaphoreWaiterCancelledWhileWaitingNeverTakesAPermit) {
  event_loop loop;
  tandem::semaphore s(0);
  run_bounded(loop, [&] {
    auto waiter = tandem::current_loop().create_task([&] { s.acquire(); });
    let_others_run();
    waiter.cancel();
    let_others_run();
    EXPECT_TRUE(waiter.cancelled());
    s.release();
    EXPECT_EQ(s.value(), 1u);
  });
}

// ---------------------------------------------------------------------------
// condition

TEST(Locks, ConditionWaitReturnsWithTheMutexHeldAfterANotify) {
  event_loop loop;
  tandem::mutex m;
  tandem::condition c(m);
  int ready = 0;
  std::vector<std::string> order;
  run_bounded(loop, [&] {
    auto& l = tandem::current_loop();
    auto waiter = l.create_task([&] {
      std::lock_guard hold(m);
      c.wait([&] { return ready > 0; });
      EXPECT_TRUE(m.locked());
      order.push_back("woken");
    });
    let_others_run();
    EXPECT_FALSE(m.locked()) << "wait() released the mutex";
    {
      std::lock_guard hold(m);
      ready = 1;
      c.notify();
      order.push_back("notified");
    }
    tandem::await(waiter);
  });
  EXPECT_EQ(order, (std::vector<std::string>{"notified", "woken"}));
}

TEST(Locks, ConditionWaitWithAPredicateThatHoldsDoesNotWait) {
  event_loop loop;
  tandem::mutex m;
  tandem::condition c(m);
  run_bounded(loop, [&] {
    std::lock_guard hold(m);
    int checks = 0;
    c.wait([&] { return ++checks > 0; });
    EXPECT_EQ(checks, 1);
  });
}

TEST(Locks, ConditionNotifyWakesAsManyWaitersAsAskedInOrder) {
  event_loop loop;
  tandem::mutex m;
  tandem::condition c(m);
  std::vector<int> woken;
  run_bounded(loop, [&] {
    auto& l = tandem::current_loop();
    std::vector<tandem::task<void>> waiters;
    for (int i = 0; i < 4; ++i)
      waiters.push_back(l.create_task([&, i] {
        std::lock_guard hold(m);
        c.wait();
        woken.push_back(i);
      }));
    let_others_run();
    m.lock();
    c.notify(2);
    m.unlock();
    let_others_run();
    EXPECT_EQ(woken, (std::vector<int>{0, 1}));
    m.lock();
    c.notify_all();
    m.unlock();
    for (auto& w : waiters) tandem::await(w);
  });
  EXPECT_EQ(woken, (std::vector<int>{0, 1, 2, 3}));
}

TEST(Locks, ConditionWaitWithoutTheMutexAndNotifyWhileUnlockedThrowLogicError) {
  event_loop loop;
  tandem::mutex m;
  tandem::condition c(m);
  run_bounded(loop, [&] {
    EXPECT_THROW(c.wait(), std::logic_error);
    EXPECT_THROW(c.notify(), std::logic_error);
    EXPECT_THROW(c.notify_all(), std::logic_error);
    auto holder = tandem::current_loop().create_task([&] {
      m.lock();
      tandem::sleep_for(0s);
      tandem::sleep_for(0s);
      m.unlock();
    });
    tandem::sleep_for(0s);
    EXPECT_TRUE(m.locked());
    EXPECT_THROW(c.wait(), std::logic_error) << "another task holds the mutex";
    tandem::await(holder);
  });
}

// A cancelled wait throws cancelled_error with the mutex held again.
TEST(Locks, ConditionWaitCancelledThrowsWithTheMutexHeld) {
  event_loop loop;
  tandem::mutex m;
  tandem::condition c(m);
  bool held_at_throw = false;
  run_bounded(loop, [&] {
    auto waiter = tandem::current_loop().create_task([&] {
      m.lock();
      try {
        c.wait();
      } catch (const tandem::cancelled_error&) {
        held_at_throw = m.locked();
        m.unlock();
        throw;
      }
    });
    let_others_run();
    m.lock();  // the waiter must wait for it after its cancellation
    waiter.cancel();
    let_others_run();
    EXPECT_FALSE(waiter.done());
    m.unlock();
    let_others_run();
    EXPECT_TRUE(waiter.cancelled());
  });
  EXPECT_TRUE(held_at_throw);
  EXPECT_FALSE(m.locked());
}

// Two tasks, "first" and "second", that each take m, wait on c, and then
// note their name in `woken`.
std::pair<tandem::task<void>, tandem::task<void>> two_condition_waiters(
    tandem::mutex& m, tandem::condition& c, std::vector<std::string>& woken) {
  auto waiter = [&](const char* name) {
    return tandem::current_loop().create_task([&m, &c, &woken, name] {
      std::lock_guard hold(m);
      c.wait();
      woken.emplace_back(name);
    });
  };
  auto first = waiter("first");
  return {first, waiter("second")};
}

// CPython's test_locks: a notify racing a cancellation. The notified waiter
// is cancelled before it ran; its wake-up goes to the next waiter.
TEST(Locks, ConditionWaiterNotifiedThenCancelledPassesTheWakeUpOn) {
  event_loop loop;
  tandem::mutex m;
  tandem::condition c(m);
  std::vector<std::string> woken;
  run_bounded(loop, [&] {
    auto [first, second] = two_condition_waiters(m, c, woken);
    let_others_run();
    m.lock();
    c.notify(1);  // wakes `first`
    m.unlock();
    first.cancel();  // before it ran
    let_others_run(5);
    EXPECT_TRUE(first.cancelled());
    tandem::await(second);
  });
  EXPECT_EQ(woken, (std::vector<std::string>{"second"}));
  EXPECT_FALSE(m.locked());
}

// The loop's close unwinds tasks waiting on a condition and a semaphore: the
// condition's wait takes the free mutex back without waiting (a task being
// unwound must not suspend), so the waiter's guard unlocks what it holds.
TEST(Locks, LoopCloseUnwindsTasksWaitingOnLocks) {
  int destroyed = 0;
  tandem::mutex m;
  tandem::condition c(m);
  tandem::semaphore s(0);
  {
    event_loop loop;
    run_bounded(loop, [&] {
      auto& l = tandem::current_loop();
      l.create_task([&] {
        counted guard(destroyed);
        std::lock_guard hold(m);
        c.wait();
      });
      l.create_task([&] {
        counted guard(destroyed);
        s.acquire();
      });
      let_others_run();
    });
    loop.close();
  }
  EXPECT_EQ(destroyed, 2);
}

// A waiter notified, then cancelled while it waits to take the
// mutex back, must pass its wake-up on (rule 6.5).
TEST(Locks, ConditionWaiterNotifiedThenCancelledWhileRelockingPassesTheWakeUpOn) {
  tandem::mutex m;
  tandem::condition c(m);
  std::vector<std::string> woken;
  event_loop loop;  // after what its tasks use
  run_bounded(loop, [&] {
    auto [first, second] = two_condition_waiters(m, c, woken);
    let_others_run();
    m.lock();
    c.notify(1);       // wakes `first`
    let_others_run();  // `first` left the condition and waits for the mutex
    first.cancel();    // notified, then cancelled
    m.unlock();
    let_others_run(5);
    EXPECT_TRUE(first.cancelled());
    EXPECT_TRUE(second.done()) << "the wake-up of the cancelled waiter was lost";
    second.cancel();
  });
  EXPECT_EQ(woken, (std::vector<std::string>{"second"}));
}
// asyncio's release of a released lock raises. Unlocking again while the
// mutex is handed over to a waiter that has not run yet would let a third
// task in beside that waiter.
TEST(Locks, UnlockWhileTheMutexIsHandedOverThrowsAndKeepsItTheWaiters) {
  event_loop loop;
  run_bounded(loop, [&loop] {
    tandem::mutex m;
    int inside = 0;
    int most_inside = 0;
    auto holder = [&] {
      std::lock_guard guard(m);
      most_inside = std::max(most_inside, ++inside);
      tandem::sleep_for(1ms);
      --inside;
    };
    m.lock();
    auto waiter = loop.create_task(holder);
    tandem::sleep_for(0s);  // the waiter waits for the mutex
    m.unlock();             // handed over to it
    EXPECT_THROW(m.unlock(), std::logic_error);
    EXPECT_TRUE(m.locked());
    auto third = loop.create_task(holder);
    tandem::await(waiter);
    tandem::await(third);
    EXPECT_EQ(most_inside, 1);
    EXPECT_FALSE(m.locked());
  });
}

// A cancelled waiter is skipped: unlock() gives the mutex to nobody (or to
// the next waiter) rather than to a task about to throw, so the unlocking
// task takes it straight back, as in asyncio.
TEST(Locks, UnlockSkipsAWaiterWhoseCancellationIsPending) {
  event_loop loop;
  run_bounded(loop, [&loop] {
    tandem::mutex m;
    m.lock();
    auto cancelled = loop.create_task([&m] { std::lock_guard guard(m); });
    tandem::sleep_for(0s);  // it waits for the mutex
    cancelled.cancel();
    m.unlock();
    EXPECT_FALSE(m.locked()) << "handed over to a task with a cancellation pending";
    EXPECT_TRUE(m.try_lock());
    m.unlock();
    EXPECT_THROW(tandem::await(cancelled), tandem::cancelled_error);
  });
}

// condition::wait inside a generator coroutine is refused (rule 7 of the
// loop) before it lets the mutex go: the caller still holds it, and the
// task waiting for it still waits.
TEST(Locks, ConditionWaitRefusedInsideAGeneratorKeepsTheMutexHeld) {
  event_loop loop;
  run_bounded(loop, [&loop] {
    tandem::mutex m;
    tandem::condition cv(m);
    m.lock();
    bool other_got_it = false;
    auto other = loop.create_task([&] {
      std::lock_guard guard(m);
      other_got_it = true;
    });
    tandem::sleep_for(0s);  // it waits for the mutex
    tandem::coroutine<int> co([&](tandem::yielder<int>& y) {
      cv.wait();
      y.yield(1);
    });
    EXPECT_THROW(co.next(), std::logic_error);
    tandem::sleep_for(1ms);
    EXPECT_FALSE(other_got_it);
    m.unlock();
    tandem::await(other);
    EXPECT_TRUE(other_got_it);
  });
}

}  // namespace

namespace {

// The loop's close unwinds by force a condition waiter that waits to take
// the mutex back from a task that ignores its cancellation. The waiter
// cannot hold the mutex then, so its guard's unlock must not let go of the
// holder's: the holder's own guard, unwound after, would find the mutex
// unlocked, throw from a destructor and terminate the program.
TEST(Locks, LoopCloseUnwindsAConditionWaiterWhileAnotherTaskHoldsTheMutex) {
  int destroyed = 0;
  tandem::mutex m;
  tandem::condition c(m);
  {
    event_loop loop;
    run_bounded(loop, [&] {
      auto& l = tandem::current_loop();
      l.create_task([&] {
        counted guard(destroyed);
        std::lock_guard hold(m);
        c.wait();
      });
      let_others_run();
      l.create_task([&] {  // newer: unwound first
        counted guard(destroyed);
        std::lock_guard hold(m);
        for (;;) {
          try {
            tandem::sleep_for(1h);
          } catch (const tandem::cancelled_error&) {  // ignored: only the unwinding ends it
          }
        }
      });
      let_others_run();
    });
    loop.close();
  }
  EXPECT_EQ(destroyed, 2);
  EXPECT_FALSE(m.locked());
}

// The same with the holder older than the waiter: the waiter is unwound
// first, while the holder still holds the mutex.
TEST(Locks, LoopCloseUnwindsAConditionWaiterBeforeTheTaskThatHoldsTheMutex) {
  int destroyed = 0;
  tandem::mutex m;
  tandem::condition c(m);
  tandem::event waiting;
  {
    event_loop loop;
    run_bounded(loop, [&] {
      auto& l = tandem::current_loop();
      l.create_task([&] {  // older: unwound last
        counted guard(destroyed);
        waiting.wait();
        std::lock_guard hold(m);  // once the waiter let it go
        for (;;) {
          try {
            tandem::sleep_for(1h);
          } catch (const tandem::cancelled_error&) {  // ignored: only the unwinding ends it
          }
        }
      });
      l.create_task([&] {
        counted guard(destroyed);
        std::lock_guard hold(m);
        waiting.set();
        c.wait();
      });
      let_others_run();
      EXPECT_TRUE(m.locked());
    });
    loop.close();
  }
  EXPECT_EQ(destroyed, 2);
  EXPECT_FALSE(m.locked());
}

}  // namespace

// ---------------------------------------------------------------------------
// barrier (asyncio.Barrier). The indices expected are those asyncio gives
// in the same sequence of arrivals.

namespace {

static_assert(std::is_base_of_v<std::runtime_error, tandem::broken_barrier_error>,
              "asyncio.BrokenBarrierError is a RuntimeError");

// A task that waits on the barrier and keeps what came of it: the arrival
// index, or -1 for broken_barrier_error (a cancellation propagates).
tandem::task<long> barrier_party(tandem::barrier& b) {
  return tandem::current_loop().create_task([&b]() -> long {
    try {
      return static_cast<long>(b.wait());
    } catch (const tandem::broken_barrier_error&) {
      return -1;
    }
  });
}

TEST(Locks, BarrierLetsAllPartiesGoAtOnceWithTheirArrivalIndices) {
  tandem::barrier b(3);
  event_loop loop;  // after what its tasks use
  run_bounded(loop, [&] {
    auto first = barrier_party(b);
    auto second = barrier_party(b);
    let_others_run();
    EXPECT_EQ(b.n_waiting(), 2u);
    EXPECT_FALSE(first.done());
    EXPECT_FALSE(second.done());
    EXPECT_EQ(b.wait(), 2u) << "the last party does not wait";
    EXPECT_EQ(b.n_waiting(), 0u);
    tandem::sleep_for(0s);  // one iteration lets both out
    ASSERT_TRUE(first.done());
    ASSERT_TRUE(second.done());
    EXPECT_EQ(first.result(), 0);
    EXPECT_EQ(second.result(), 1);
  });
  EXPECT_EQ(b.parties(), 3u);
  EXPECT_FALSE(b.broken());
}

TEST(Locks, BarrierIsUsedAgainRoundAfterRound) {
  tandem::barrier b(2);
  event_loop loop;  // after what its tasks use
  std::vector<std::size_t> indices;
  run_bounded(loop, [&] {
    auto party = [&] {
      for (int round = 0; round < 5; ++round) indices.push_back(b.wait());
    };
    auto& l = tandem::current_loop();
    auto one = l.create_task(party);
    auto other = l.create_task(party);
    tandem::await(one);
    tandem::await(other);
  });
  ASSERT_EQ(indices.size(), 10u);
  for (std::size_t round = 0; round < 5; ++round) {
    std::vector<std::size_t> pair{indices[2 * round], indices[2 * round + 1]};
    std::sort(pair.begin(), pair.end());
    EXPECT_EQ(pair, (std::vector<std::size_t>{0, 1})) << "round " << round;
  }
  EXPECT_EQ(b.n_waiting(), 0u);
}

// The last party arrives again at once, while the first has not left yet:
// it waits for the next round instead of passing with the one it ended.
TEST(Locks, BarrierArrivalsWhileItDrainsWaitForTheNextRound) {
  tandem::barrier b(2);
  event_loop loop;  // after what its tasks use
  run_bounded(loop, [&] {
    auto first = barrier_party(b);
    let_others_run();
    EXPECT_EQ(b.wait(), 1u);  // ends the round; `first` has not run since
    EXPECT_FALSE(first.done());
    EXPECT_EQ(b.n_waiting(), 0u) << "draining";
    auto third = barrier_party(b);  // runs after `first` has left
    EXPECT_EQ(b.wait(), 1u) << "second in the next round, after `third`";
    EXPECT_EQ(first.result(), 0);
    EXPECT_FALSE(third.done());
    EXPECT_EQ(tandem::await(third), 0);
  });
}

// reset() breaks the tasks inside; one that arrives before they have left
// waits for them, then fills the next round from empty.
TEST(Locks, BarrierResetBreaksTheTasksWaitingInIt) {
  tandem::barrier b(3);
  event_loop loop;  // after what its tasks use
  run_bounded(loop, [&] {
    auto a = barrier_party(b);
    auto bb = barrier_party(b);
    let_others_run();
    EXPECT_EQ(b.n_waiting(), 2u);
    b.reset();
    EXPECT_EQ(b.n_waiting(), 0u);
    EXPECT_FALSE(b.broken());
    auto c = barrier_party(b);
    auto d = barrier_party(b);
    EXPECT_EQ(b.wait(), 2u) << "waited for a and b to leave, then for c and d";
    EXPECT_EQ(a.result(), -1);
    EXPECT_EQ(bb.result(), -1);
    EXPECT_EQ(tandem::await(c), 0);
    EXPECT_EQ(tandem::await(d), 1);
  });
  EXPECT_EQ(b.n_waiting(), 0u);
  EXPECT_FALSE(b.broken());
}

TEST(Locks, BarrierAbortBreaksTheTasksInsideAndEveryLaterWait) {
  tandem::barrier b(3);
  event_loop loop;  // after what its tasks use
  run_bounded(loop, [&] {
    auto a = barrier_party(b);
    auto bb = barrier_party(b);
    let_others_run();
    b.abort();
    EXPECT_TRUE(b.broken());
    EXPECT_EQ(b.n_waiting(), 0u);
    // The third party, before the others have left: it must not end a round.
    EXPECT_THROW(b.wait(), tandem::broken_barrier_error);
    EXPECT_EQ(tandem::await(a), -1);
    EXPECT_EQ(tandem::await(bb), -1);
    EXPECT_THROW(b.wait(), tandem::broken_barrier_error);
    EXPECT_EQ(tandem::await(barrier_party(b)), -1);
    EXPECT_TRUE(b.broken());
  });
}

// Aborted just after the round filled, before its tasks ran: they find it
// broken when they resume (asyncio's order), all but the last to arrive.
TEST(Locks, BarrierAbortedBeforeTheReleasedTasksRanBreaksThem) {
  tandem::barrier b(2);
  event_loop loop;  // after what its tasks use
  run_bounded(loop, [&] {
    auto first = barrier_party(b);
    let_others_run();
    EXPECT_EQ(b.wait(), 1u);
    b.abort();
    EXPECT_EQ(tandem::await(first), -1);
    EXPECT_TRUE(b.broken());
  });
}

TEST(Locks, BarrierResetAfterAbortIsUsableAgain) {
  tandem::barrier b(2);
  event_loop loop;  // after what its tasks use
  run_bounded(loop, [&] {
    b.abort();
    EXPECT_THROW(b.wait(), tandem::broken_barrier_error);
    b.reset();
    EXPECT_FALSE(b.broken());
    auto first = barrier_party(b);
    let_others_run();
    EXPECT_EQ(b.n_waiting(), 1u);
    EXPECT_EQ(b.wait(), 1u);
    EXPECT_EQ(tandem::await(first), 0);
  });
}

// As asyncio 3.11: the cancelled task leaves the round, which is not
// broken and waits for one more arrival. The next to arrive takes the
// index of the count inside, 1, which `second` has too (checked against
// asyncio 3.11, and kept as it has it).
TEST(Locks, BarrierWaiterCancelledWhileWaitingLeavesTheRoundUnbroken) {
  tandem::barrier b(3);
  event_loop loop;  // after what its tasks use
  run_bounded(loop, [&] {
    auto first = barrier_party(b);
    auto second = barrier_party(b);
    let_others_run();
    first.cancel();
    let_others_run();
    EXPECT_TRUE(first.cancelled());
    EXPECT_EQ(b.n_waiting(), 1u);
    EXPECT_FALSE(b.broken());
    auto third = barrier_party(b);
    let_others_run();
    EXPECT_FALSE(second.done()) << "the round still lacks a party";
    EXPECT_EQ(b.wait(), 2u);
    EXPECT_EQ(tandem::await(second), 1);
    EXPECT_EQ(tandem::await(third), 1);
  });
  EXPECT_EQ(b.n_waiting(), 0u);
}

// A task let out by the last arrival and cancelled before it ran throws
// cancelled_error, and still leaves: the round drains, and the task
// waiting for that is woken.
TEST(Locks, BarrierWaiterCancelledAfterTheRoundFilledStillLetsItDrain) {
  tandem::barrier b(2);
  event_loop loop;  // after what its tasks use
  run_bounded(loop, [&] {
    auto first = barrier_party(b);
    let_others_run();
    EXPECT_EQ(b.wait(), 1u);
    first.cancel();
    auto third = barrier_party(b);
    EXPECT_EQ(b.wait(), 1u) << "arrived while draining; woken when `first` left";
    EXPECT_TRUE(first.cancelled());
    EXPECT_EQ(tandem::await(third), 0);
  });
  EXPECT_EQ(b.n_waiting(), 0u);
}

// The loop's close cancels the tasks inside barriers, and unwinds by force
// one that waits again after its cancellation: each leaves its barrier as
// it goes, none stays counted in it or listed on it (a listed one would
// abort the barrier's destructor).
TEST(Locks, LoopCloseUnwindsTasksWaitingOnABarrier) {
  int destroyed = 0;
  tandem::barrier b(2);
  tandem::barrier stubborn(3);
  {
    event_loop loop;
    run_bounded(loop, [&] {
      auto& l = tandem::current_loop();
      l.create_task([&] {
        counted guard(destroyed);
        b.wait();
      });
      l.create_task([&] {  // ignores its cancellation: only the unwinding ends it
        counted guard(destroyed);
        for (;;) {
          try {
            stubborn.wait();
          } catch (const tandem::cancelled_error&) {
          }
        }
      });
      let_others_run();
      EXPECT_EQ(b.n_waiting(), 1u);
      EXPECT_EQ(stubborn.n_waiting(), 1u);
    });
    loop.close();
  }
  EXPECT_EQ(destroyed, 2);
  EXPECT_EQ(b.n_waiting(), 0u);
  EXPECT_EQ(stubborn.n_waiting(), 0u);
}

// asyncio's Barrier(0) raises ValueError; a negative count converted to
// std::size_t would be a barrier that never lets anyone go.
TEST(Locks, BarrierOfZeroPartiesThrowsInvalidArgumentNamingIt) {
  const auto message_of = [](auto make) -> std::string {
    try {
      make();
    } catch (const std::invalid_argument& e) {
      return e.what();
    }
    return "no std::invalid_argument";
  };
  for (const auto& [message, value] :
       {std::pair{message_of([] { tandem::barrier b(std::size_t{0}); }), "0"},
        std::pair{message_of([] { tandem::barrier b(0); }), "0"},
        std::pair{message_of([] { tandem::barrier b(-2L); }), "-2"}}) {
    EXPECT_NE(message.find("tandem::barrier"), std::string::npos) << message;
    EXPECT_NE(message.find(std::string("got ") + value), std::string::npos) << message;
  }
  EXPECT_EQ(tandem::barrier(1).parties(), 1u);
  EXPECT_EQ(tandem::barrier(std::size_t{4}).parties(), 4u);
}

TEST(Locks, BarrierOfOnePartyNeverWaits) {
  tandem::barrier b(1);
  event_loop loop;  // after what its tasks use
  std::vector<std::string> order;
  run_bounded(loop, [&] {
    auto other = tandem::current_loop().create_task([&] { order.push_back("other ran"); });
    EXPECT_EQ(b.wait(), 0u);
    EXPECT_EQ(b.wait(), 0u);
    order.push_back("passed twice");
    tandem::await(other);
  });
  EXPECT_EQ(order, (std::vector<std::string>{"passed twice", "other ran"}));
  EXPECT_EQ(b.n_waiting(), 0u);
}

// Outside a task, or inside a generator where it would have to wait:
// std::logic_error, before the task counts in the round.
TEST(Locks, BarrierWaitOutsideATaskOrInsideAGeneratorThrowsLogicError) {
  tandem::barrier b(2);
  EXPECT_THROW(b.wait(), std::logic_error);
  EXPECT_EQ(b.n_waiting(), 0u);
  event_loop loop;
  run_bounded(loop, [&] {
    tandem::coroutine<int> co([&](tandem::yielder<int>& y) {
      b.wait();
      y.yield(1);
    });
    EXPECT_THROW(co.next(), std::logic_error);
    EXPECT_EQ(b.n_waiting(), 0u);
  });
}

}  // namespace
