// Generator rule 16 (docs/rules.md): yielder::yield_from(sub), Python's
// `yield from` (PEP 380) with its full forwarding: values out, next/send
// in, raise becomes sub.raise, close closes sub first, sub's result comes
// back; and delegation chains, which a send crosses straight into the
// innermost body.
#include <gtest/gtest.h>

#include <cfenv>
#include <exception>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "tandem/coroutine.hpp"

namespace {

using tandem::coroutine;
using tandem::coroutine_exit;
using tandem::stop_iteration;
using tandem::yielder;

using chain = coroutine<long, long, long>;
using chain_yielder = yielder<long, long>;

// An error tagged with the level that should handle it.
struct level_error : std::exception {
  explicit level_error(int l) : level(l) {}
  int level;
};

// What the levels of a chain did, in order.
using journal = std::vector<std::string>;

// Yields `bias`, then echoes what it is sent plus `bias`, until it is sent
// a negative value; returns the sum of what it was sent. Handles
// level_error(level) by yielding 1000 * level; records its cleanup.
chain echo(int level, long bias, journal& log) {
  return chain([level, bias, &log](chain_yielder& y) -> long {
    struct cleanup {
      journal& log;
      int level;
      ~cleanup() { log.push_back("cleanup " + std::to_string(level)); }
    } on_exit{log, level};
    long sum = 0;
    long out = bias;
    for (;;) {
      long sent = 0;
      try {
        sent = y.yield(out);
      } catch (const level_error& e) {
        if (e.level != level) throw;
        log.push_back("caught at " + std::to_string(level));
        out = 1000 * level;
        continue;
      } catch (const coroutine_exit&) {
        log.push_back("exit at " + std::to_string(level));
        throw;
      }
      if (sent < 0) return sum;
      sum += sent;
      out = sent + bias;
    }
  });
}

// Delegates to `sub`, then yields its result; handles level_error(level)
// thrown out of the delegation by yielding -1000 * level and returning;
// records its cleanup.
chain delegator(int level, chain sub, journal& log) {
  return chain([level, &log, sub = std::move(sub)](chain_yielder& y) mutable -> long {
    struct cleanup {
      journal& log;
      int level;
      ~cleanup() { log.push_back("cleanup " + std::to_string(level)); }
    } on_exit{log, level};
    try {
      const long r = y.yield_from(sub);
      y.yield(r);
      return r * 10;
    } catch (const level_error& e) {
      if (e.level != level) throw;
      log.push_back("caught at " + std::to_string(level));
      y.yield(-1000 * level);
      return -1;
    } catch (const coroutine_exit&) {
      log.push_back("exit at " + std::to_string(level));
      throw;
    }
  });
}

// Levels 1 (outermost) to 3 (the echo at the bottom).
chain three_levels(journal& log) { return delegator(1, delegator(2, echo(3, 100, log), log), log); }

TEST(CoroutineRules, Rule16_ValuesComeOutAndSendsGoIn) {
  journal log;
  chain co = delegator(1, echo(2, 100, log), log);
  EXPECT_EQ(co.next(), 100);   // the sub started: its first yield
  EXPECT_EQ(co.send(5), 105);  // the send reached the sub
  EXPECT_EQ(co.next(), 100);   // next() sends In{} (0)
  EXPECT_EQ(co.send(-1), 5);   // the sub returned 5; the delegator yields it
  EXPECT_THROW(co.next(), stop_iteration);
  EXPECT_EQ(co.result(), 50);
}

TEST(CoroutineRules, Rule16_SubsResultComesBackFromYieldFrom) {
  coroutine<int, void, std::string> sub([](yielder<int>& y) {
    y.yield(1);
    return std::string("sub's result");
  });
  coroutine<int, void, std::string> by_lvalue(
      [&](yielder<int>& y) { return y.yield_from(sub) + " (copied)"; });
  EXPECT_EQ(by_lvalue.next(), 1);
  EXPECT_THROW(by_lvalue.next(), stop_iteration);
  EXPECT_EQ(by_lvalue.result(), "sub's result (copied)");
  EXPECT_EQ(sub.result(), "sub's result");  // an lvalue sub keeps its own

  coroutine<int, void, std::unique_ptr<int>> by_rvalue([](yielder<int>& y) {
    return y.yield_from(coroutine<int, void, std::unique_ptr<int>>([](yielder<int>& inner) {
      inner.yield(2);
      return std::make_unique<int>(7);
    }));
  });
  EXPECT_EQ(by_rvalue.next(), 2);
  EXPECT_THROW(by_rvalue.next(), stop_iteration);
  ASSERT_NE(by_rvalue.result(), nullptr);
  EXPECT_EQ(*by_rvalue.result(), 7);
}

TEST(CoroutineRules, Rule16_MoveOnlyResultFromAnLvalueSubIsMoved) {
  coroutine<int, void, std::unique_ptr<int>> sub(
      [](yielder<int>&) { return std::make_unique<int>(3); });
  coroutine<int, void, int> co([&](yielder<int>& y) { return *y.yield_from(sub); });
  EXPECT_THROW(co.next(), stop_iteration);  // sub returned at once, so did co
  EXPECT_EQ(co.result(), 3);
  EXPECT_EQ(sub.result(), nullptr);  // moved out
}

TEST(CoroutineRules, Rule16_RaiseBecomesSubRaise) {
  journal log;
  chain co = delegator(1, echo(2, 100, log), log);
  co.next();
  EXPECT_EQ(co.raise(level_error(2)), 2000);   // the sub handled it and yielded
  EXPECT_EQ(co.send(4), 104);                  // still delegating
  EXPECT_EQ(co.raise(level_error(1)), -1000);  // escaped the sub: at the yield_from
  EXPECT_EQ(log, (journal{"caught at 2", "cleanup 2", "caught at 1"}));
  EXPECT_THROW(co.next(), stop_iteration);
  EXPECT_EQ(co.result(), -1);
}

TEST(CoroutineRules, Rule16_CloseClosesTheSubFirstThenExitsAtTheYieldFrom) {
  journal log;
  chain co = delegator(1, echo(2, 100, log), log);
  co.next();
  co.close();
  EXPECT_TRUE(co.done());
  EXPECT_EQ(log, (journal{"exit at 2", "cleanup 2", "exit at 1", "cleanup 1"}));
}

TEST(CoroutineRules, Rule16_RaiseOfCoroutineExitActsAsClose) {
  journal log;
  chain co = delegator(1, echo(2, 100, log), log);
  co.next();
  EXPECT_THROW(co.raise(coroutine_exit{}), coroutine_exit);
  EXPECT_TRUE(co.done());
  EXPECT_EQ(log, (journal{"exit at 2", "cleanup 2", "exit at 1", "cleanup 1"}));
}

TEST(CoroutineRules, Rule16_AnExceptionFromClosingTheSubPropagatesAtTheYieldFrom) {
  chain sub([](chain_yielder& y) -> long {
    try {
      for (;;) y.yield(0);
    } catch (const coroutine_exit&) {
      throw std::runtime_error("sub refused to close quietly");
    }
  });
  std::string seen;
  chain co([&](chain_yielder& y) -> long {
    try {
      return y.yield_from(sub);
    } catch (const std::runtime_error& e) {
      seen = e.what();
      throw;
    }
  });
  co.next();
  EXPECT_THROW(co.close(), std::runtime_error);
  EXPECT_EQ(seen, "sub refused to close quietly");
  EXPECT_TRUE(co.done());
  EXPECT_TRUE(sub.done());
}

TEST(CoroutineRules, Rule16_EscapingExceptionsPropagateAndStopIterationBecomesRuntimeError) {
  chain failing_sub([](chain_yielder& y) -> long {
    y.yield(1);
    throw std::out_of_range("from the sub");
  });
  chain co([&](chain_yielder& y) { return y.yield_from(failing_sub); });
  co.next();
  EXPECT_THROW(co.next(), std::out_of_range);
  EXPECT_TRUE(co.done());

  chain leaking_sub([](chain_yielder& y) -> long {
    y.yield(1);
    throw stop_iteration();  // rule 5: becomes runtime_error in the sub
  });
  chain outer([&](chain_yielder& y) { return y.yield_from(leaking_sub); });
  outer.next();
  EXPECT_THROW(outer.next(), std::runtime_error);
}

TEST(CoroutineRules, Rule16_SubNotStartedAlreadyDoneOrRunning) {
  // Not started: yield_from starts it.
  journal log;
  chain fresh = echo(2, 7, log);
  chain starts_it([&](chain_yielder& y) { return y.yield_from(fresh); });
  EXPECT_EQ(starts_it.next(), 7);
  EXPECT_TRUE(fresh.started());

  // Done, having returned: its result at once.
  chain returned([](chain_yielder&) -> long { return 5; });
  EXPECT_THROW(returned.next(), stop_iteration);
  chain gets_result([&](chain_yielder& y) { return y.yield_from(returned) + 1; });
  EXPECT_THROW(gets_result.next(), stop_iteration);
  EXPECT_EQ(gets_result.result(), 6);

  // Done without a result (closed before it started): R{}.
  chain closed([](chain_yielder&) -> long { return 5; });
  closed.close();
  chain gets_default([&](chain_yielder& y) { return y.yield_from(closed) + 1; });
  EXPECT_THROW(gets_default.next(), stop_iteration);
  EXPECT_EQ(gets_default.result(), 1);

  // Running: std::logic_error.
  chain* self = nullptr;
  chain itself([&](chain_yielder& y) { return y.yield_from(*self); });
  self = &itself;
  EXPECT_THROW(itself.next(), std::logic_error);
}

TEST(CoroutineRules, Rule16_ThreeLevelsRaiseAtEveryLevel) {
  journal log;
  chain co = three_levels(log);
  EXPECT_EQ(co.next(), 100);
  EXPECT_EQ(co.raise(level_error(3)), 3000);  // the innermost handles it
  EXPECT_EQ(co.send(1), 101);
  EXPECT_EQ(co.raise(level_error(2)), -2000);  // the middle one
  EXPECT_EQ(log, (journal{"caught at 3", "cleanup 3", "caught at 2"}));
  EXPECT_EQ(co.next(), -1);  // level 2 returned -1; level 1 yields it
  EXPECT_THROW(co.next(), stop_iteration);
  EXPECT_EQ(co.result(), -10);
}

TEST(CoroutineRules, Rule16_ThreeLevelsRaiseAtTheOutermost) {
  journal log;
  chain co = three_levels(log);
  co.next();
  EXPECT_EQ(co.raise(level_error(1)), -1000);
  EXPECT_EQ(log, (journal{"cleanup 3", "cleanup 2", "caught at 1"}));  // innermost first
  EXPECT_THROW(co.next(), stop_iteration);
  EXPECT_EQ(co.result(), -1);
  EXPECT_EQ(log.back(), "cleanup 1");
}

TEST(CoroutineRules, Rule16_ThreeLevelsUnhandledRaisePropagatesOut) {
  journal log;
  chain co = three_levels(log);
  co.next();
  EXPECT_THROW(co.raise(level_error(9)), level_error);
  EXPECT_TRUE(co.done());
  EXPECT_EQ(log, (journal{"cleanup 3", "cleanup 2", "cleanup 1"}));
}

TEST(CoroutineRules, Rule16_ThreeLevelsCloseAtEveryDepth) {
  // Suspended three deep, in the echo.
  journal deep;
  chain a = three_levels(deep);
  a.next();
  a.close();
  EXPECT_EQ(deep, (journal{"exit at 3", "cleanup 3", "exit at 2", "cleanup 2", "exit at 1",
                           "cleanup 1"}));
  // Suspended two deep: the echo returned, level 2 yields its result.
  journal middle;
  chain b = three_levels(middle);
  b.next();
  EXPECT_EQ(b.send(-1), 0);
  middle.clear();
  b.close();
  EXPECT_EQ(middle, (journal{"exit at 2", "cleanup 2", "exit at 1", "cleanup 1"}));
  // Suspended at the outermost's own yield.
  journal outermost;
  chain c = three_levels(outermost);
  c.next();
  EXPECT_EQ(c.send(-1), 0);
  EXPECT_EQ(c.next(), 0);  // level 2 returned 0 * 10; level 1 yields it
  outermost.clear();
  c.close();
  EXPECT_EQ(outermost, (journal{"exit at 1", "cleanup 1"}));
}

TEST(CoroutineRules, Rule16_ThreeLevelsDestroyedWhileDelegating) {
  journal log;
  {
    chain co = three_levels(log);
    co.next();
    co.send(3);
  }
  EXPECT_EQ(
      log, (journal{"exit at 3", "cleanup 3", "exit at 2", "cleanup 2", "exit at 1", "cleanup 1"}));
}

TEST(CoroutineRules, Rule16_ResultsClimbTheChain) {
  journal log;
  chain co = three_levels(log);
  co.next();
  EXPECT_EQ(co.send(2), 102);
  EXPECT_EQ(co.send(3), 103);
  EXPECT_EQ(co.send(-1), 5);  // echo returned 5: level 2 yields it
  EXPECT_EQ(co.next(), 50);   // level 2 returned 50: level 1 yields it
  EXPECT_THROW(co.next(), stop_iteration);
  EXPECT_EQ(co.result(), 500);
  EXPECT_EQ(log, (journal{"cleanup 3", "cleanup 2", "cleanup 1"}));
}

TEST(CoroutineRules, Rule16_AChainIsResumedOnAnotherThreadAndBack) {
  journal log;
  chain co = three_levels(log);
  EXPECT_EQ(co.next(), 100);
  long on_other_thread = 0;
  long after_echo_returned = 0;
  std::thread([&] {
    on_other_thread = co.send(1);       // straight into the echo
    after_echo_returned = co.send(-1);  // the echo ends: level 2 goes on there
  }).join();
  EXPECT_EQ(on_other_thread, 101);
  EXPECT_EQ(after_echo_returned, 1);
  EXPECT_EQ(co.next(), 10);  // level 2 returned 10: level 1 yields it
  EXPECT_THROW(co.next(), stop_iteration);
  EXPECT_EQ(co.result(), 100);
}

// A delegation chain `depth` deep over a counter that yields 0..n-1 and
// returns n; each level adds 1 to the result.
chain nested(int depth, long n) {
  if (depth == 0)
    return chain([n](chain_yielder& y) {
      for (long i = 0; i < n; ++i) y.yield(i);
      return n;
    });
  return chain([depth, n](chain_yielder& y) { return y.yield_from(nested(depth - 1, n)) + 1; });
}

TEST(CoroutineRules, Rule16_ChainsNestToAnyDepth) {
  chain co = nested(200, 5);
  for (long i = 0; i < 5; ++i) EXPECT_EQ(co.next(), i);
  EXPECT_THROW(co.next(), stop_iteration);
  EXPECT_EQ(co.result(), 205);
}

TEST(CoroutineRules, Rule16_TheChainRunsAsPartOfTheDelegator) {
  chain* outer_handle = nullptr;
  bool outer_running = false;
  bool resuming_outer_refused = false;
  chain inner([&](chain_yielder& y) -> long {
    y.yield(1);
    outer_running = outer_handle->running();
    try {
      outer_handle->next();
    } catch (const std::logic_error&) {
      resuming_outer_refused = true;  // rule 8: it runs
    }
    y.yield(2);
    return 0;
  });
  chain outer([&](chain_yielder& y) { return y.yield_from(inner); });
  outer_handle = &outer;
  EXPECT_EQ(outer.next(), 1);
  EXPECT_FALSE(outer.running());
  EXPECT_EQ(outer.next(), 2);
  EXPECT_TRUE(outer_running);
  EXPECT_TRUE(resuming_outer_refused);
}

TEST(CoroutineRules, Rule16_UsingTheSubDirectlyWhileDelegated) {
  journal log;
  chain sub = echo(2, 100, log);
  chain co([&](chain_yielder& y) { return y.yield_from(sub) + 1; });
  EXPECT_EQ(co.next(), 100);
  EXPECT_EQ(sub.send(1), 101);                 // Python allows this: the sub is suspended
  EXPECT_EQ(co.send(2), 102);                  // the delegation goes on
  EXPECT_THROW(sub.send(-1), stop_iteration);  // finished behind the delegator's back
  EXPECT_THROW(co.next(), stop_iteration);     // the yield_from returns its result
  EXPECT_EQ(co.result(), 4);
}

// Python: a delegator's throw(StopIteration) while its sub is already
// exhausted re-raises StopIteration from the sub, which yield from takes
// for the sub's return: the delegator goes on past it.
TEST(CoroutineRules, Rule16_RaiseStopIterationWhileTheSubIsFinishedEndsTheYieldFrom) {
  chain sub([](chain_yielder& y) -> long {
    y.yield(1);
    return 7;
  });
  bool went_on = false;
  chain co([&](chain_yielder& y) -> long {
    y.yield_from(sub);
    went_on = true;
    y.yield(99);
    return 0;
  });
  EXPECT_EQ(co.next(), 1);
  EXPECT_THROW(sub.next(), stop_iteration);  // finished behind co's back
  EXPECT_EQ(co.raise(stop_iteration{}), 99);
  EXPECT_TRUE(went_on);
}

// A sub moved away while delegated to: the delegator's next resume finds
// its sub moved from: std::logic_error, as for any use of a moved-from
// coroutine (bad-input rule 1), not a sub that returned.
TEST(CoroutineRules, Rule16_ASubMovedAwayWhileDelegatedIsLogicError) {
  journal log;
  chain sub = echo(2, 100, log);
  chain co([&](chain_yielder& y) { return y.yield_from(sub) + 1; });
  EXPECT_EQ(co.next(), 100);
  chain moved = std::move(sub);
  EXPECT_THROW(co.next(), std::logic_error);
  EXPECT_FALSE(moved.done());
  EXPECT_EQ(moved.send(1), 101);  // still suspended where it was
}

// An rvalue sub is handed over to the delegation, which keeps it until the
// yield_from returns (CPython's `yield from` holds a strong reference): the
// object it came from may go meanwhile. The delegation referred to that
// object: destroying it closed the sub, and the next resume read freed
// memory.
TEST(CoroutineRules, Rule16_AnRvalueSubBelongsToTheDelegationSoTheObjectItCameFromMayGo) {
  journal log;
  auto owner = std::make_unique<chain>(echo(2, 100, log));
  chain co([&](chain_yielder& y) { return y.yield_from(std::move(*owner)) + 1; });
  EXPECT_EQ(co.next(), 100);
  EXPECT_TRUE(owner->done());  // moved from: the delegation has it
  owner.reset();
  ASSERT_EQ(log, journal{});  // the sub is neither closed nor gone
  EXPECT_EQ(co.send(5), 105);
  EXPECT_THROW(co.send(-1), stop_iteration);
  EXPECT_EQ(co.result(), 6);
  EXPECT_EQ(log, journal{"cleanup 2"});
}

// A borrowed (lvalue) sub destroyed while a yield_from delegates to it:
// its destructor closes it, and the yield_from ends as for a sub closed
// directly (CPython's `yield from` then gets StopIteration and returns
// None): it returns R{}. The delegation referred to the destroyed handle,
// and the next resume read freed memory (ASan: heap-use-after-free).
TEST(CoroutineRules, Rule16_ABorrowedSubDestroyedWhileDelegatedIsClosedAndTheYieldFromReturns) {
  journal log;
  auto owner = std::make_unique<chain>(echo(2, 100, log));
  chain co([&, sub = owner.get()](chain_yielder& y) -> long {
    const long r = y.yield_from(*sub);
    y.yield(r + 1000);
    return r;
  });
  EXPECT_EQ(co.next(), 100);
  EXPECT_EQ(co.send(5), 105);
  owner.reset();
  EXPECT_EQ(log, (journal{"exit at 2", "cleanup 2"}));  // closed by its destructor
  EXPECT_EQ(co.next(), 1000);                           // the yield_from returned R{}
  EXPECT_THROW(co.next(), stop_iteration);
  EXPECT_EQ(co.result(), 0);
}

// The same when the sub was taken out of the delegation first (used
// directly), and when it had finished behind the delegator's back: the
// yield_from returns what it would have found in the handle, the result
// the sub returned.
TEST(CoroutineRules, Rule16_ABorrowedSubUsedDirectlyThenDestroyedEndsTheYieldFrom) {
  journal log;
  auto owner = std::make_unique<chain>(echo(2, 100, log));
  chain co([&, sub = owner.get()](chain_yielder& y) { return y.yield_from(*sub) + 1; });
  EXPECT_EQ(co.next(), 100);
  EXPECT_EQ(owner->send(3), 103);  // takes the delegation apart
  owner.reset();
  EXPECT_THROW(co.next(), stop_iteration);
  EXPECT_EQ(co.result(), 1);

  auto finished = std::make_unique<chain>(echo(2, 100, log));
  chain co2([&, sub = finished.get()](chain_yielder& y) { return y.yield_from(*sub) + 1; });
  EXPECT_EQ(co2.next(), 100);
  EXPECT_EQ(finished->send(4), 104);
  EXPECT_THROW(finished->send(-1), stop_iteration);  // returned 4
  finished.reset();
  EXPECT_THROW(co2.next(), stop_iteration);
  EXPECT_EQ(co2.result(), 5);
}

// A borrowed sub kept in a std::vector that grows: the vector moves it and
// destroys the object the yield_from borrowed. The next resume throws
// std::logic_error, as for a sub moved away (the object borrowed was moved
// from), and the moved sub is untouched.
TEST(CoroutineRules, Rule16_ABorrowedSubMovedAndItsOldObjectDestroyedIsLogicError) {
  journal log;
  std::vector<chain> subs;
  subs.push_back(echo(2, 100, log));
  chain co([&, sub = &subs[0]](chain_yielder& y) { return y.yield_from(*sub) + 1; });
  EXPECT_EQ(co.next(), 100);
  const chain* before = subs.data();
  while (subs.data() == before) subs.push_back(echo(3, 0, log));  // reallocates
  EXPECT_THROW(co.next(), std::logic_error);
  EXPECT_TRUE(co.done());
  EXPECT_EQ(subs[0].send(1), 101);  // still suspended where it was
  EXPECT_EQ(log, journal{});
}

// A borrowed sub moved away, and its new owner destroyed (which closes it)
// while the object borrowed stays: the next resume throws
// std::logic_error, as for any use of a moved-from coroutine.
TEST(CoroutineRules, Rule16_ABorrowedSubMovedAwayAndClosedByItsNewOwnerIsLogicError) {
  journal log;
  chain sub = echo(2, 100, log);
  chain co([&](chain_yielder& y) { return y.yield_from(sub) + 1; });
  EXPECT_EQ(co.next(), 100);
  { chain moved = std::move(sub); }
  EXPECT_EQ(log, (journal{"exit at 2", "cleanup 2"}));
  EXPECT_THROW(co.next(), std::logic_error);
  EXPECT_TRUE(co.done());
}

// Two yield_froms borrowing the same sub (the second took it over from the
// first): destroying it ends both.
TEST(CoroutineRules, Rule16_ASubBorrowedByTwoYieldFromsDestroyedEndsBoth) {
  journal log;
  auto owner = std::make_unique<chain>(echo(2, 100, log));
  chain first([&, sub = owner.get()](chain_yielder& y) { return y.yield_from(*sub) + 1; });
  chain second([&, sub = owner.get()](chain_yielder& y) { return y.yield_from(*sub) + 2; });
  EXPECT_EQ(first.next(), 100);
  EXPECT_EQ(second.next(), 100);  // next(sub) again: it is second's now
  owner.reset();
  EXPECT_THROW(second.next(), stop_iteration);
  EXPECT_EQ(second.result(), 2);
  EXPECT_THROW(first.next(), stop_iteration);
  EXPECT_EQ(first.result(), 1);
}

// A running sub given as an rvalue is refused, as an lvalue one is, before
// it is moved (moving a running coroutine terminates).
TEST(CoroutineRules, Rule16_ARunningRvalueSubIsRefusedAndNotMoved) {
  chain* self = nullptr;
  chain itself([&](chain_yielder& y) { return y.yield_from(std::move(*self)); });
  self = &itself;
  EXPECT_THROW(itself.next(), std::logic_error);
  EXPECT_TRUE(itself.done());  // the logic_error escaped its body
}

TEST(CoroutineRules, Rule16_VoidOutAndInCombinations) {
  coroutine<void, void, int> sub_vv([](yielder<void, void>& y) {
    y.yield();
    y.yield();
    return 2;
  });
  coroutine<void, void, int> vv([&](yielder<void, void>& y) { return y.yield_from(sub_vv); });
  vv.next();
  vv.next();
  EXPECT_THROW(vv.next(), stop_iteration);
  EXPECT_EQ(vv.result(), 2);

  coroutine<void, int, int> vi([](yielder<void, int>& y) {
    return y.yield_from(coroutine<void, int, int>(
        [](yielder<void, int>& inner) { return inner.yield() + inner.yield(); }));
  });
  vi.next();
  vi.send(20);
  EXPECT_THROW(vi.send(22), stop_iteration);
  EXPECT_EQ(vi.result(), 42);

  std::vector<int> seen;
  coroutine<int> iv([](yielder<int>& y) {
    y.yield_from(coroutine<int>([](yielder<int>& inner) {
      inner.yield(1);
      inner.yield(2);
    }));
    y.yield(3);
  });
  for (int v : iv) seen.push_back(v);
  EXPECT_EQ(seen, (std::vector<int>{1, 2, 3}));
}

TEST(CoroutineRules, Rule16_MoveOnlyValuesCrossTheChain) {
  using ptr = std::unique_ptr<int>;
  coroutine<ptr, ptr, ptr> co([](yielder<ptr, ptr>& y) {
    return y.yield_from(coroutine<ptr, ptr, ptr>([](yielder<ptr, ptr>& inner) {
      ptr got = inner.yield(std::make_unique<int>(1));
      return got;
    }));
  });
  EXPECT_EQ(*co.next(), 1);
  EXPECT_THROW(co.send(std::make_unique<int>(9)), stop_iteration);
  EXPECT_EQ(*co.result(), 9);
}

// Generator rule 12 with delegation: each body keeps its own exception
// state, whichever body the resumer switches into.
TEST(CoroutineRules, Rule16_EachBodyKeepsItsExceptionState) {
  std::string inner_saw;
  std::string outer_saw;
  chain inner([&](chain_yielder& y) -> long {
    try {
      throw std::runtime_error("inner's");
    } catch (const std::exception&) {
      y.yield(1);  // suspended inside the handler
      try {
        throw;
      } catch (const std::exception& e) {
        inner_saw = e.what();
      }
    }
    return 0;
  });
  chain outer([&](chain_yielder& y) -> long {
    try {
      throw std::logic_error("outer's");
    } catch (const std::exception&) {
      y.yield_from(inner);
      try {
        throw;
      } catch (const std::exception& e) {
        outer_saw = e.what();
      }
    }
    return 0;
  });
  EXPECT_EQ(outer.next(), 1);
  try {
    throw std::out_of_range("the resumer's");
  } catch (const std::exception&) {
    EXPECT_THROW(outer.next(), stop_iteration);
    EXPECT_EQ(std::uncaught_exceptions(), 0);
  }
  EXPECT_EQ(inner_saw, "inner's");
  EXPECT_EQ(outer_saw, "outer's");
}

// Generator rule 14 with delegation: a sub runs as part of a delegator that
// keeps its own FP control state.
TEST(CoroutineRules, Rule16_ASubRunsWithItsOwnFpControlDelegatorsState) {
  ASSERT_EQ(std::fesetround(FE_TONEAREST), 0);
  tandem::stack_options own;
  own.own_fp_control = true;
  coroutine<int, void, int> co(
      [](yielder<int>& y) {
        std::fesetround(FE_UPWARD);
        return y.yield_from(coroutine<int, void, int>([](yielder<int>& inner) {
          inner.yield(std::fegetround());
          inner.yield(std::fegetround());
          return 0;
        }));
      },
      own);
  EXPECT_EQ(co.next(), FE_UPWARD);
  EXPECT_EQ(std::fegetround(), FE_TONEAREST);
  EXPECT_EQ(co.next(), FE_UPWARD);
  EXPECT_EQ(std::fegetround(), FE_TONEAREST);
  EXPECT_THROW(co.next(), stop_iteration);
  std::fesetround(FE_TONEAREST);
}

}  // namespace
