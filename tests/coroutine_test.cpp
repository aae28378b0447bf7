// tandem::coroutine: every numbered generator rule (docs/rules.md, section 3)
// has a test named Rule<N>_..., followed by the other cases worth pinning down.
#include "tandem/coroutine.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace {

using tandem::coroutine;
using tandem::coroutine_exit;
using tandem::stop_iteration;
using tandem::yielder;

// Yields 0, 1, 2, ... and adds what it is sent: value = (yield value) + 1.
using adder = coroutine<long, long>;
adder make_adder(long start = 0) {
  return adder([start](yielder<long, long>& y) {
    long value = start;
    for (;;) value = y.yield(value) + 1;
  });
}

// 1. Construction does not run the body; the first next() runs it to its
//    first yield and returns the yielded value.
TEST(CoroutineRules, Rule1_ConstructionDoesNotRunTheBody) {
  int runs = 0;
  coroutine<int> co([&](yielder<int>& y) {
    ++runs;
    y.yield(7);
  });
  EXPECT_EQ(runs, 0);
  EXPECT_FALSE(co.started());
  EXPECT_EQ(co.next(), 7);
  EXPECT_EQ(runs, 1);
  EXPECT_TRUE(co.started());
}

// 2. send(v) before the first next() throws logic_error and changes nothing.
TEST(CoroutineRules, Rule2_SendBeforeStartThrowsAndChangesNothing) {
  auto co = make_adder(10);
  EXPECT_THROW(co.send(5), std::logic_error);
  EXPECT_FALSE(co.started());
  EXPECT_FALSE(co.done());
  EXPECT_EQ(co.next(), 10);  // still startable
  EXPECT_EQ(co.send(5), 6);
}

// 3. next()/send(v) make the pending yield return In{} / v and return the
//    next yielded value.
TEST(CoroutineRules, Rule3_NextSendsDefaultAndSendSendsTheValue) {
  std::vector<long> received;
  coroutine<long, long> co([&](yielder<long, long>& y) {
    for (long i = 0;; ++i) received.push_back(y.yield(i));
  });
  EXPECT_EQ(co.next(), 0);
  EXPECT_EQ(co.send(42), 1);
  EXPECT_EQ(co.next(), 2);
  EXPECT_EQ(co.send(-1), 3);
  EXPECT_EQ(received, (std::vector<long>{42, 0, -1}));
}

// 4. When the body returns the resuming call throws stop_iteration and
//    done() is true; later next/send throw stop_iteration, raise(e) throws e.
TEST(CoroutineRules, Rule4_ReturnEndsWithStopIteration) {
  coroutine<int, int> co([](yielder<int, int>& y) { y.yield(1); });
  EXPECT_EQ(co.next(), 1);
  EXPECT_THROW(co.send(0), stop_iteration);
  EXPECT_TRUE(co.done());
  EXPECT_THROW(co.next(), stop_iteration);
  EXPECT_THROW(co.send(3), stop_iteration);
  EXPECT_THROW(co.raise(std::out_of_range("late")), std::out_of_range);
}

// 5. An exception escaping the body propagates out of the resuming call and
//    the coroutine is done; an escaping stop_iteration becomes runtime_error.
TEST(CoroutineRules, Rule5_EscapingExceptionPropagatesAndEnds) {
  coroutine<int> co([](yielder<int>& y) {
    y.yield(1);
    throw std::domain_error("from the body");
  });
  co.next();
  EXPECT_THROW(co.next(), std::domain_error);
  EXPECT_TRUE(co.done());
  EXPECT_THROW(co.next(), stop_iteration);
}

TEST(CoroutineRules, Rule5_EscapingStopIterationBecomesRuntimeError) {
  coroutine<int> inner([](yielder<int>&) {});
  coroutine<int> outer([&](yielder<int>& y) {
    y.yield(inner.next());  // inner is exhausted: stop_iteration escapes
  });
  try {
    outer.next();
    FAIL() << "no exception";
  } catch (const stop_iteration&) {
    FAIL() << "stop_iteration leaked out of the body";
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(), "coroutine raised stop_iteration");
    EXPECT_THROW(std::rethrow_if_nested(e), stop_iteration);  // the cause is kept
  }
  EXPECT_TRUE(outer.done());
}

// 6. raise(e) throws e at the pending yield: the next yielded value if the
//    body handles it and yields; stop_iteration if it handles it and returns;
//    e otherwise. Not started: the body never runs, e propagates, done.
TEST(CoroutineRules, Rule6_RaiseHandledAndYieldingReturnsNextValue) {
  coroutine<int> co([](yielder<int>& y) {
    try {
      y.yield(1);
    } catch (const std::runtime_error& e) {
      y.yield(100);
    }
  });
  co.next();
  EXPECT_EQ(co.raise(std::runtime_error("x")), 100);
}

TEST(CoroutineRules, Rule6_RaiseHandledAndReturningThrowsStopIteration) {
  coroutine<int> co([](yielder<int>& y) {
    try {
      y.yield(1);
    } catch (const std::runtime_error&) {
    }
  });
  co.next();
  EXPECT_THROW(co.raise(std::runtime_error("x")), stop_iteration);
  EXPECT_TRUE(co.done());
}

TEST(CoroutineRules, Rule6_RaiseUnhandledPropagates) {
  auto co = make_adder();
  co.next();
  EXPECT_THROW(co.raise(std::length_error("unhandled")), std::length_error);
  EXPECT_TRUE(co.done());
}

TEST(CoroutineRules, Rule6_RaiseBeforeStartNeverRunsTheBody) {
  bool ran = false;
  coroutine<int> co([&](yielder<int>& y) {
    ran = true;
    y.yield(1);
  });
  EXPECT_THROW(co.raise(std::runtime_error("early")), std::runtime_error);
  EXPECT_FALSE(ran);
  EXPECT_TRUE(co.done());
  EXPECT_THROW(co.next(), stop_iteration);
}

// PEP 479 holds here too: a stop_iteration raised into a coroutine that
// has not started escapes "from its first line", as runtime_error (as
// Python's g.throw(StopIteration) on a new generator).
TEST(CoroutineRules, Rule6_RaiseStopIterationBeforeStartBecomesRuntimeError) {
  coroutine<int> co([](yielder<int>& y) { y.yield(1); });
  try {
    co.raise(stop_iteration{});
    ADD_FAILURE() << "raise returned";
  } catch (const stop_iteration&) {
    ADD_FAILURE() << "stop_iteration escaped raise() on a coroutine not yet started";
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(), "coroutine raised stop_iteration");
  }
  EXPECT_TRUE(co.done());
}

// 7. close(): not started or done: marks done. Suspended: coroutine_exit at
//    the yield; escaping or returning ends it; yielding throws runtime_error
//    and it stays suspended; other exceptions propagate.
TEST(CoroutineRules, Rule7_CloseNotStartedOrDoneJustMarksDone) {
  auto fresh = make_adder();
  fresh.close();
  EXPECT_TRUE(fresh.done());
  EXPECT_THROW(fresh.next(), stop_iteration);
  coroutine<int> finished([](yielder<int>&) {});
  EXPECT_THROW(finished.next(), stop_iteration);
  finished.close();
  EXPECT_TRUE(finished.done());
}

TEST(CoroutineRules, Rule7_CloseLetsCoroutineExitEscape) {
  bool unwound = false;
  coroutine<int> co([&](yielder<int>& y) {
    struct guard {
      bool& flag;
      ~guard() { flag = true; }
    } g{unwound};
    for (;;) y.yield(0);
  });
  co.next();
  co.close();
  EXPECT_TRUE(unwound);
  EXPECT_TRUE(co.done());
}

TEST(CoroutineRules, Rule7_CloseWhenBodyReturns) {
  coroutine<int> co([](yielder<int>& y) {
    try {
      y.yield(1);
    } catch (const coroutine_exit&) {
      return;
    }
  });
  co.next();
  EXPECT_NO_THROW(co.close());
  EXPECT_TRUE(co.done());
}

TEST(CoroutineRules, Rule7_CloseIgnoredThrowsAndStaysSuspended) {
  int exits_ignored = 0;
  coroutine<int> co([&](yielder<int>& y) {
    for (;;) {
      try {
        y.yield(1);
      } catch (const coroutine_exit&) {
        if (++exits_ignored == 2) throw;  // gives in the second time
      }
    }
  });
  co.next();
  try {
    co.close();
    FAIL() << "no exception";
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(), "coroutine ignored coroutine_exit");
  }
  EXPECT_FALSE(co.done());
  EXPECT_EQ(co.next(), 1);  // still suspended at a yield, resumable
  co.close();
  EXPECT_TRUE(co.done());
}

TEST(CoroutineRules, Rule7_CloseOtherExceptionPropagates) {
  coroutine<int> co([](yielder<int>& y) {
    try {
      y.yield(1);
    } catch (const coroutine_exit&) {
      throw std::invalid_argument("during close");
    }
  });
  co.next();
  EXPECT_THROW(co.close(), std::invalid_argument);
  EXPECT_TRUE(co.done());
}

// 8. next/send/raise/close on a running coroutine throw logic_error
//    "coroutine already executing" and change nothing.
TEST(CoroutineRules, Rule8_ResumingARunningCoroutineThrows) {
  coroutine<int>* self = nullptr;
  std::vector<std::string> errors;
  coroutine<int> co([&](yielder<int>& y) {
    for (auto op : {0, 1, 2}) {
      try {
        if (op == 0) self->next();
        if (op == 1) self->raise(std::runtime_error("x"));
        if (op == 2) self->close();
      } catch (const std::logic_error& e) {
        errors.push_back(e.what());
      }
    }
    y.yield(5);
  });
  self = &co;
  EXPECT_EQ(co.next(), 5);
  EXPECT_EQ(errors, std::vector<std::string>(3, "coroutine already executing"));
  EXPECT_FALSE(co.done());
}

// With an In that has no default, next() is only for the first resume;
// on a running coroutine it still says what rule 8 says.
struct no_default_in {
  explicit no_default_in(int v) : value(v) {}
  int value;
};
TEST(CoroutineRules, Rule8_NextOnARunningCoroutineWithoutDefaultInSaysAlreadyExecuting) {
  coroutine<int, no_default_in>* self = nullptr;
  std::string error;
  coroutine<int, no_default_in> co([&](yielder<int, no_default_in>& y) {
    try {
      self->next();
    } catch (const std::logic_error& e) {
      error = e.what();
    }
    y.yield(1);
  });
  self = &co;
  EXPECT_EQ(co.next(), 1);
  EXPECT_EQ(error, "coroutine already executing");
}

TEST(CoroutineRules, Rule8_ResumingFromACoroutineItResumedThrows) {
  coroutine<int>* outer_ptr = nullptr;
  bool refused = false;
  coroutine<int> inner([&](yielder<int>& y) {
    try {
      outer_ptr->next();
    } catch (const std::logic_error&) {
      refused = true;
    }
    y.yield(2);
  });
  coroutine<int> outer([&](yielder<int>& y) { y.yield(inner.next()); });
  outer_ptr = &outer;
  EXPECT_EQ(outer.next(), 2);
  EXPECT_TRUE(refused);
}

// 9. Destroying a suspended coroutine closes it: its locals' destructors run.
TEST(CoroutineRules, Rule9_DestructorClosesSuspendedCoroutine) {
  int destroyed = 0;
  {
    coroutine<int> co([&](yielder<int>& y) {
      auto a = std::shared_ptr<int>(new int(1), [&](int* p) {
        ++destroyed;
        delete p;
      });
      for (;;) y.yield(*a);
    });
    co.next();
    EXPECT_EQ(destroyed, 0);
  }
  EXPECT_EQ(destroyed, 1);
}

TEST(CoroutineRulesDeathTest, Rule9_YieldingAfterExitInDestructorTerminates) {
  auto run = [] {
    coroutine<int> co([](yielder<int>& y) {
      for (;;) {
        try {
          y.yield(1);
        } catch (const coroutine_exit&) {
        }
      }
    });
    co.next();
  };
  EXPECT_DEATH(run(), "ignored coroutine_exit");
}

// Found while fuzzing: moving a running coroutine's handle left the resume
// in progress releasing a frame the new handle still held. It is refused
// the way destroying a running coroutine is.
TEST(CoroutineDeathTest, MovingARunningCoroutineTerminatesWithAMessage) {
  auto run = [] {
    std::optional<coroutine<int>> a, b;
    a.emplace([&](yielder<int>&) { b.emplace(std::move(*a)); });
    a->next();
  };
  EXPECT_DEATH(run(), "a running coroutine was moved");
}

// 10. Coroutines nest to any depth.
coroutine<int> nested_counter(int depth) {
  return coroutine<int>([depth](yielder<int>& y) {
    if (depth == 0) {
      y.yield(0);
      return;
    }
    auto inner = nested_counter(depth - 1);
    y.yield(inner.next() + 1);
  });
}

TEST(CoroutineRules, Rule10_CoroutinesNestToAnyDepth) {
  auto co = nested_counter(100);
  EXPECT_EQ(co.next(), 100);
}

// 11. Range-for iterates until the body returns; over a finished coroutine
//     it does nothing; break leaves the coroutine suspended.
TEST(CoroutineRules, Rule11_RangeForIteratesTheYieldedValues) {
  coroutine<int> co([](yielder<int>& y) {
    for (int i = 1; i <= 5; ++i) y.yield(i * i);
  });
  std::vector<int> seen;
  for (auto&& v : co) seen.push_back(v);
  EXPECT_EQ(seen, (std::vector<int>{1, 4, 9, 16, 25}));
  EXPECT_TRUE(co.done());
  for (auto&& v : co) seen.push_back(v);  // finished: nothing
  EXPECT_EQ(seen.size(), 5u);
}

TEST(CoroutineRules, Rule11_BreakLeavesTheCoroutineSuspended) {
  coroutine<long, long> co([](yielder<long, long>& y) {
    for (long i = 0;; ++i) {
      if (const long sent = y.yield(i); sent != 0) i = sent;
    }
  });
  for (long v : co) {
    if (v == 3) break;
  }
  EXPECT_FALSE(co.done());
  EXPECT_EQ(co.send(10), 11);
}

// 12. Each coroutine has its own exception-handling state.
TEST(CoroutineRules, Rule12_CatchBlockSurvivesResumerExceptions) {
  std::string rethrown;
  int inside_uncaught = -1;
  bool inside_current = false;
  coroutine<int> co([&](yielder<int>& y) {
    try {
      throw std::runtime_error("the coroutine's");
    } catch (const std::runtime_error&) {
      y.yield(1);  // suspended inside the catch block
      inside_current = std::current_exception() != nullptr;
      inside_uncaught = std::uncaught_exceptions();
      try {
        throw;  // must rethrow the coroutine's exception
      } catch (const std::runtime_error& e) {
        rethrown = e.what();
      }
    }
    y.yield(2);
  });
  EXPECT_EQ(co.next(), 1);
  // Meanwhile the resumer throws and catches its own.
  try {
    throw std::logic_error("the resumer's");
  } catch (const std::logic_error& e) {
    EXPECT_EQ(std::string(e.what()), "the resumer's");
    EXPECT_EQ(co.next(), 2);
    // Back here, the resumer's own exception is still the current one.
    try {
      throw;
    } catch (const std::logic_error& again) {
      EXPECT_STREQ(again.what(), "the resumer's");
    }
  }
  EXPECT_EQ(std::current_exception(), nullptr);
  EXPECT_EQ(rethrown, "the coroutine's");
  EXPECT_TRUE(inside_current);
  EXPECT_EQ(inside_uncaught, 0);
}

TEST(CoroutineRules, Rule12_UncaughtExceptionsCountsPerCoroutine) {
  int in_body_during_unwind = -1;
  int in_resumer_after = -1;
  coroutine<int> co([&](yielder<int>& y) {
    in_body_during_unwind = std::uncaught_exceptions();
    y.yield(1);
  });
  struct resume_while_unwinding {
    coroutine<int>& co;
    int& after;
    ~resume_while_unwinding() {
      co.next();  // runs the body while this thread unwinds one exception
      after = std::uncaught_exceptions();
    }
  };
  try {
    resume_while_unwinding r{co, in_resumer_after};
    throw 1;
  } catch (int) {
  }
  EXPECT_EQ(in_body_during_unwind, 0);  // the body is not unwinding
  EXPECT_EQ(in_resumer_after, 1);       // the resumer still is
}

// 13. raise(exception_ptr{}) throws invalid_argument and changes nothing;
//     move-assigning over a suspended coroutine closes it first.
TEST(CoroutineRules, Rule13_RaiseNullThrowsInvalidArgument) {
  auto co = make_adder();
  EXPECT_THROW(co.raise(std::exception_ptr{}), std::invalid_argument);
  EXPECT_FALSE(co.started());
  EXPECT_EQ(co.next(), 0);
  EXPECT_THROW(co.raise(std::exception_ptr{}), std::invalid_argument);
  EXPECT_EQ(co.send(1), 2);
}

TEST(CoroutineRules, Rule13_MoveAssignClosesTheSuspendedTarget) {
  bool closed = false;
  coroutine<int> a([&](yielder<int>& y) {
    try {
      for (;;) y.yield(1);
    } catch (const coroutine_exit&) {
      closed = true;
      throw;
    }
  });
  a.next();
  a = coroutine<int>([](yielder<int>& y) { y.yield(2); });
  EXPECT_TRUE(closed);
  EXPECT_EQ(a.next(), 2);
}

// --- Beyond the rules ------------------------------------------------------

TEST(Coroutine, MovedFromThrowsAndReportsDone) {
  auto a = make_adder();
  a.next();
  auto b = std::move(a);
  EXPECT_FALSE(a.started());  // NOLINT(clang-analyzer-cplusplus.Move)
  EXPECT_FALSE(a.running());
  EXPECT_TRUE(a.done());
  EXPECT_THROW(a.next(), std::logic_error);
  EXPECT_THROW(a.send(1), std::logic_error);
  EXPECT_THROW(a.raise(std::runtime_error("x")), std::logic_error);
  EXPECT_THROW(a.close(), std::logic_error);
  EXPECT_EQ(b.send(1), 2);
}

TEST(Coroutine, MoveOnlyOutAndIn) {
  coroutine<std::unique_ptr<int>, std::unique_ptr<int>> co(
      [](yielder<std::unique_ptr<int>, std::unique_ptr<int>>& y) {
        auto got = y.yield(std::make_unique<int>(1));
        for (;;) got = y.yield(std::make_unique<int>(*got * 10));
      });
  EXPECT_EQ(*co.next(), 1);
  EXPECT_EQ(*co.send(std::make_unique<int>(4)), 40);
  EXPECT_EQ(*co.send(std::make_unique<int>(7)), 70);
}

// References are refused by a static_assert (docs/rules.md, section 3;
// tests/compile_fail checks its message); a std::reference_wrapper is the
// way to hand out a body's local without a copy.
TEST(Coroutine, ReferenceWrapperHandsOutTheBodysObject) {
  std::vector<const std::string*> addresses;
  coroutine<std::reference_wrapper<std::string>> co(
      [&](yielder<std::reference_wrapper<std::string>>& y) {
        std::string local = "body";
        addresses.push_back(&local);
        y.yield(std::ref(local));
        EXPECT_EQ(local, "changed by the resumer");
      });
  std::string& got = co.next();
  EXPECT_EQ(&got, addresses.front());
  got = "changed by the resumer";
  for (std::string& s : co) (void)s;
  EXPECT_TRUE(co.done());
}

TEST(Coroutine, EveryVoidCombination) {
  int steps = 0;
  coroutine<void, void> vv([&](yielder<void, void>& y) {
    for (;;) {
      ++steps;
      y.yield();
    }
  });
  vv.next();
  vv.next();
  EXPECT_EQ(steps, 2);

  std::vector<int> got;
  coroutine<void, int> vi([&](yielder<void, int>& y) {
    for (;;) got.push_back(y.yield());
  });
  vi.next();
  vi.send(3);
  vi.send(4);
  EXPECT_EQ(got, (std::vector<int>{3, 4}));

  coroutine<int, void> iv([](yielder<int, void>& y) {
    for (int i = 0;; ++i) y.yield(i);
  });
  EXPECT_EQ(iv.next(), 0);
  EXPECT_EQ(iv.next(), 1);
}

TEST(Coroutine, HundredDeepNestingOfLiveCoroutines) {
  // Each level keeps its inner coroutine alive and suspended, then all of
  // them are resumed once more through the chain.
  std::function<coroutine<int>(int)> chain = [&](int depth) {
    return coroutine<int>([depth, &chain](yielder<int>& y) {
      if (depth == 0) {
        for (int i = 0;; ++i) y.yield(i);
      }
      auto inner = chain(depth - 1);
      for (;;) y.yield(inner.next());
    });
  };
  auto top = chain(100);
  EXPECT_EQ(top.next(), 0);
  EXPECT_EQ(top.next(), 1);
}

TEST(Coroutine, CoroutineCreatedInsideAnothersBody) {
  coroutine<int> outer([](yielder<int>& y) {
    coroutine<int> inner([](yielder<int>& yi) {
      yi.yield(1);
      yi.yield(2);
    });
    for (int v : inner) y.yield(v * 10);
  });
  std::vector<int> seen;
  for (int v : outer) seen.push_back(v);
  EXPECT_EQ(seen, (std::vector<int>{10, 20}));
}

TEST(Coroutine, ExceptionsOfAnyTypeCrossBothWays) {
  struct not_std {
    int code;
  };
  coroutine<int> co([](yielder<int>& y) {
    try {
      y.yield(1);
    } catch (not_std e) {
      throw 42 + e.code;  // an int out
    }
  });
  co.next();
  try {
    co.raise(not_std{8});
    FAIL();
  } catch (int v) {
    EXPECT_EQ(v, 50);
  }
}

// A value whose move may throw (on the move numbered throw_at).
struct fragile_value {
  static inline int moves = 0;
  static inline int throw_at = 0;
  static inline int alive = 0;
  int value;
  explicit fragile_value(int v) : value(v) { ++alive; }
  fragile_value(fragile_value&& other) : value(other.value) {
    if (++moves == throw_at) throw std::runtime_error("move");
    ++alive;
  }
  ~fragile_value() { --alive; }
};

// A throwing move while a value is handed over loses that value only: the
// coroutine stays usable, both ways, and nothing leaks.
TEST(Coroutine, AThrowingMoveInTheHandOverLosesOnlyThatValue) {
  {
    coroutine<fragile_value> co([](yielder<fragile_value>& y) {
      for (int i = 0; i < 4; ++i) y.yield(fragile_value(i));
    });
    EXPECT_EQ(co.next().value, 0);
    fragile_value::moves = 0;
    fragile_value::throw_at = 2;  // the resumer's, after the body's into `out`
    EXPECT_THROW(co.next(), std::runtime_error);
    EXPECT_FALSE(co.running());
    EXPECT_FALSE(co.done());
    EXPECT_EQ(co.next().value, 2);  // 1 was lost; the body went on
    std::vector<int> rest;
    fragile_value::moves = 0;
    fragile_value::throw_at = 2;  // the iterator's, taking 3
    EXPECT_THROW(for (auto& v : co) rest.push_back(v.value), std::runtime_error);
    fragile_value::throw_at = 0;
    for (auto& v : co) rest.push_back(v.value);  // the end
    EXPECT_TRUE(rest.empty());
    EXPECT_TRUE(co.done());
  }
  {
    struct fragile_in {
      fragile_in() = default;
      fragile_in(fragile_in&&) { throw std::runtime_error("move in"); }
    };
    std::vector<std::string> seen;
    coroutine<int, fragile_in> co([&](yielder<int, fragile_in>& y) {
      try {
        y.yield(1);
      } catch (const std::runtime_error& e) {
        seen.emplace_back(e.what());
      }
      y.yield(2);
    });
    co.next();
    EXPECT_EQ(co.next(), 2);  // the body caught the failed move at its yield
    EXPECT_EQ(seen, (std::vector<std::string>{"move in"}));
  }
  EXPECT_EQ(fragile_value::alive, 0);
}

TEST(Coroutine, LocalsDestroyedOnCloseAndOnDestruction) {
  int alive = 0;
  struct counted {
    int& n;
    explicit counted(int& c) : n(c) { ++n; }
    ~counted() { --n; }
  };
  auto body = [&](yielder<int>& y) {
    counted a(alive);
    counted b(alive);
    for (;;) y.yield(alive);
  };
  {
    coroutine<int> co(body);
    EXPECT_EQ(co.next(), 2);
    co.close();
    EXPECT_EQ(alive, 0);
  }
  {
    coroutine<int> co(body);
    EXPECT_EQ(co.next(), 2);
  }
  EXPECT_EQ(alive, 0);
}

TEST(Coroutine, YieldOnAnotherCoroutinesYielderThrows) {
  yielder<int>* outer_yielder = nullptr;
  bool refused = false;
  coroutine<int> outer([&](yielder<int>& y) {
    outer_yielder = &y;
    coroutine<int> inner([&](yielder<int>& yi) {
      try {
        outer_yielder->yield(99);
      } catch (const std::logic_error&) {
        refused = true;
      }
      yi.yield(1);
    });
    y.yield(inner.next());
  });
  EXPECT_EQ(outer.next(), 1);
  EXPECT_TRUE(refused);
}

TEST(Coroutine, ResumedOnAnotherThreadAndBack) {
  // Each thread has its own C++ exception state; a coroutine that moves
  // between threads must find the one of the thread it runs on.
  auto co = make_adder();
  EXPECT_EQ(co.next(), 0);
  long on_other_thread = 0;
  std::thread([&] {
    try {
      throw 1;  // the other thread's exception state is busy meanwhile
    } catch (int) {
      on_other_thread = co.send(10);
    }
  }).join();
  EXPECT_EQ(on_other_thread, 11);
  EXPECT_EQ(co.send(20), 21);
  EXPECT_EQ(std::current_exception(), nullptr);
}

TEST(Coroutine, TooSmallStackIsRefused) {
  EXPECT_THROW(coroutine<int>([](yielder<int>&) {}, tandem::stack_options{.size = 100}),
               std::invalid_argument);
}

}  // namespace

namespace {

// Under AddressSanitizer (the asan preset), a real bug inside a coroutine
// is still reported: the switch annotations do not blind it.
TEST(CoroutineSanitizerDeathTest, HeapUseAfterFreeInsideABodyIsReported) {
#ifndef TANDEM_ASAN
  GTEST_SKIP() << "needs the asan preset";
#else
  auto run = [] {
    tandem::coroutine<int> co([](tandem::yielder<int>& y) {
      int* p = new int(42);
      delete p;
      y.yield(*static_cast<volatile int*>(p));  // the bug
    });
    co.next();
  };
  EXPECT_DEATH(run(), "heap-use-after-free");
#endif
}

// Under ThreadSanitizer (the tsan preset), a real data race between two
// threads, each writing the same memory from inside a coroutine, is still
// reported: each coroutine is a TSan fiber, not a blind spot.
TEST(CoroutineSanitizerDeathTest, DataRaceBetweenCoroutinesOnTwoThreadsIsReported) {
#ifndef TANDEM_TSAN
  GTEST_SKIP() << "needs the tsan preset";
#else
  auto run = [] {
    static long shared = 0;  // written by both threads, with nothing ordering them
    // Relaxed atomics order nothing for TSan. They keep both coroutines
    // alive while both write: creating and destroying one takes a lock, and
    // one thread's destruction before the other's creation would order the
    // writes (and hide the race).
    static std::atomic<int> created{0}, wrote{0};
    auto writer = [] {
      tandem::coroutine<long> co([](tandem::yielder<long>& y) {
        for (int i = 0; i < 1000; ++i) y.yield(++shared);  // the bug
      });
      created.fetch_add(1, std::memory_order_relaxed);
      while (created.load(std::memory_order_relaxed) < 2) std::this_thread::yield();
      for (int i = 0; i < 1000; ++i) co.next();
      wrote.fetch_add(1, std::memory_order_relaxed);
      while (wrote.load(std::memory_order_relaxed) < 2) std::this_thread::yield();
    };
    std::thread a(writer), b(writer);
    a.join();
    b.join();
    std::exit(0);  // TSan turns this into exit code 66 if it reported the race
  };
  EXPECT_DEATH(run(), "ThreadSanitizer: data race");
#endif
}

}  // namespace
