// Generator rule 15 (docs/rules.md): the body of a coroutine<Out, In, R>
// returns an R, which result() gives once the body has returned (PEP 380's
// StopIteration.value). The coroutine keeps the value: the stack has gone
// back to the pool by then.
#include <gtest/gtest.h>

#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>

#include "tandem/coroutine.hpp"
#include "tandem/stack.hpp"

namespace {

using tandem::coroutine;
using tandem::coroutine_exit;
using tandem::stop_iteration;
using tandem::yielder;

// Yields 1, 2, 3, then returns their sum plus what it was sent.
coroutine<int, int, int> summing() {
  return coroutine<int, int, int>([](yielder<int, int>& y) {
    int total = 0;
    for (int i = 1; i <= 3; ++i) total += i + y.yield(i);
    return total;
  });
}

TEST(CoroutineRules, Rule15_ResultIsWhatTheBodyReturned) {
  auto co = summing();
  EXPECT_EQ(co.next(), 1);
  EXPECT_EQ(co.send(10), 2);
  EXPECT_EQ(co.send(20), 3);
  EXPECT_THROW(co.send(30), stop_iteration);
  EXPECT_TRUE(co.done());
  EXPECT_EQ(co.result(), 66);
  co.result() = 7;  // a reference to the kept value
  EXPECT_EQ(co.result(), 7);
  EXPECT_THROW(co.next(), stop_iteration);  // rule 4 still holds
  EXPECT_EQ(co.result(), 7);
}

TEST(CoroutineRules, Rule15_TheValueOutlivesTheStack) {
  const std::size_t live_before = tandem::stack_pool_statistics().live;
  auto co = summing();
  EXPECT_EQ(tandem::stack_pool_statistics().live, live_before + 1);
  for (int v : co) (void)v;
  EXPECT_EQ(tandem::stack_pool_statistics().live, live_before);  // given back
  EXPECT_EQ(co.result(), 6);
}

TEST(CoroutineRules, Rule15_ResultBeforeTheBodyReturnedThrowsLogicError) {
  auto co = summing();
  EXPECT_THROW(co.result(), std::logic_error);  // not started
  co.next();
  EXPECT_THROW(co.result(), std::logic_error);  // suspended
  coroutine<int, void, int> unstarted_closed([](yielder<int>&) { return 1; });
  unstarted_closed.close();
  EXPECT_THROW(unstarted_closed.result(), std::logic_error);  // never ran
}

TEST(CoroutineRules, Rule15_ResultAfterAnExceptionThrowsLogicError) {
  coroutine<int, void, int> failing([](yielder<int>& y) -> int {
    y.yield(1);
    throw std::runtime_error("boom");
  });
  failing.next();
  EXPECT_THROW(failing.next(), std::runtime_error);
  EXPECT_THROW(failing.result(), std::logic_error);

  coroutine<int, void, int> exited([](yielder<int>& y) {
    y.yield(1);
    return 2;
  });
  exited.next();
  exited.close();  // coroutine_exit escapes the body
  EXPECT_TRUE(exited.done());
  EXPECT_THROW(exited.result(), std::logic_error);
}

TEST(CoroutineRules, Rule15_ReturningAfterCatchingCoroutineExitKeepsTheValue) {
  coroutine<int, void, std::string> co([](yielder<int>& y) -> std::string {
    try {
      for (;;) y.yield(0);
    } catch (const coroutine_exit&) {
      return "closed cleanly";
    }
  });
  co.next();
  co.close();
  EXPECT_EQ(co.result(), "closed cleanly");
}

TEST(CoroutineRules, Rule15_RaiseHandledAndReturningKeepsTheValue) {
  coroutine<int, void, int> co([](yielder<int>& y) {
    try {
      for (;;) y.yield(0);
    } catch (const std::invalid_argument&) {
      return 42;
    }
  });
  co.next();
  EXPECT_THROW(co.raise(std::invalid_argument("stop")), stop_iteration);
  EXPECT_EQ(co.result(), 42);
}

TEST(CoroutineRules, Rule15_MoveOnlyResult) {
  coroutine<int, void, std::unique_ptr<int>> co([](yielder<int>& y) {
    y.yield(1);
    return std::make_unique<int>(99);
  });
  co.next();
  EXPECT_THROW(co.next(), stop_iteration);
  ASSERT_NE(co.result(), nullptr);
  std::unique_ptr<int> taken = std::move(co.result());
  EXPECT_EQ(*taken, 99);
}

TEST(CoroutineRules, Rule15_ResultFollowsTheHandleWhenMoved) {
  auto first = summing();
  first.next();
  coroutine<int, int, int> second(std::move(first));  // moved while suspended
  second.send(0);
  second.send(0);
  EXPECT_THROW(second.send(0), stop_iteration);
  EXPECT_EQ(second.result(), 6);
  EXPECT_THROW(first.result(), std::logic_error);  // moved from

  coroutine<int, int, int> third = summing();
  third = std::move(second);  // a finished one: the value moves along
  EXPECT_EQ(third.result(), 6);
}

// An R that can be constructed but not assigned (a const type, a type with
// a const member): the handle still moves, carrying the kept value along.
struct unassignable_result {
  const int value;
};

TEST(CoroutineRules, Rule15_ResultNeedNotBeAssignable) {
  static_assert(!std::is_move_assignable_v<unassignable_result>);
  coroutine<int, void, unassignable_result> co([](yielder<int>& y) {
    y.yield(1);
    return unassignable_result{5};
  });
  co.next();
  EXPECT_THROW(co.next(), stop_iteration);
  coroutine<int, void, unassignable_result> moved(std::move(co));
  EXPECT_EQ(moved.result().value, 5);
  coroutine<int, void, unassignable_result> assigned(
      [](yielder<int>&) { return unassignable_result{0}; });
  assigned = std::move(moved);
  EXPECT_EQ(assigned.result().value, 5);

  coroutine<int, void, const std::string> constant(
      [](yielder<int>&) { return std::string("kept"); });
  EXPECT_THROW(constant.next(), stop_iteration);
  auto moved_constant = std::move(constant);
  EXPECT_EQ(moved_constant.result(), "kept");
}

// An R whose move constructor may throw (on demand here).
struct result_with_throwing_move {
  static inline bool throw_on_move = false;
  int value;
  explicit result_with_throwing_move(int v) : value(v) {}
  result_with_throwing_move(result_with_throwing_move&& other) : value(other.value) {
    if (throw_on_move) throw std::runtime_error("move");
  }
};

TEST(CoroutineRules, Rule15_AThrowingMoveOfTheResultPropagatesFromTheHandlesMove) {
  using co_type = coroutine<int, void, result_with_throwing_move>;
  static_assert(!std::is_nothrow_move_constructible_v<co_type>);
  static_assert(std::is_nothrow_move_constructible_v<coroutine<int, void, int>>);
  static_assert(std::is_nothrow_move_assignable_v<coroutine<int, void, int>>);
  co_type co([](yielder<int>&) { return result_with_throwing_move(7); });
  EXPECT_THROW(co.next(), stop_iteration);
  result_with_throwing_move::throw_on_move = true;
  EXPECT_THROW((void)co_type(std::move(co)), std::runtime_error);  // not std::terminate
  co_type target([](yielder<int>&) { return result_with_throwing_move(0); });
  EXPECT_THROW(target = std::move(co), std::runtime_error);
  result_with_throwing_move::throw_on_move = false;
  EXPECT_EQ(co.result().value, 7);  // the source is left whole
  co_type moved(std::move(co));
  EXPECT_EQ(moved.result().value, 7);
  EXPECT_THROW(co.result(), std::logic_error);  // moved from
}

TEST(CoroutineRules, Rule15_VoidResultIsTheTwoParameterCoroutine) {
  static_assert(std::is_same_v<coroutine<int>, coroutine<int, void, void>>);
  static_assert(std::is_same_v<coroutine<int, int>::result_type, void>);
  coroutine<int> co([](yielder<int>& y) { y.yield(1); });
  EXPECT_EQ(co.next(), 1);
  EXPECT_THROW(co.next(), stop_iteration);
}

TEST(CoroutineRules, Rule15_EveryVoidOutAndInCombination) {
  coroutine<void, void, int> neither([](yielder<void, void>& y) {
    y.yield();
    return 1;
  });
  neither.next();
  EXPECT_THROW(neither.next(), stop_iteration);
  EXPECT_EQ(neither.result(), 1);

  coroutine<void, int, int> in_only([](yielder<void, int>& y) { return y.yield() * 2; });
  in_only.next();
  EXPECT_THROW(in_only.send(21), stop_iteration);
  EXPECT_EQ(in_only.result(), 42);

  coroutine<std::string, void, std::string> out_only([](yielder<std::string>& y) {
    y.yield("a");
    return std::string("b");
  });
  EXPECT_EQ(out_only.next(), "a");
  EXPECT_THROW(out_only.next(), stop_iteration);
  EXPECT_EQ(out_only.result(), "b");
}

}  // namespace
