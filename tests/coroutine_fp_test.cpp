// The floating-point control rule: the state (rounding mode, exception
// masks, flush-to-zero) belongs to the thread unless a coroutine or task
// asks for its own with stack_options::own_fp_control (include/tandem/
// stack.hpp). The rounding mode stands for the whole state: fesetround
// writes both the MXCSR and the x87 control word on x86-64, and FPCR on
// AArch64. Every test puts the thread's rounding mode back.
#include <gtest/gtest.h>

#include <cfenv>
#include <chrono>
#include <vector>

#include "tandem/coroutine.hpp"
#include "tandem/loop.hpp"

namespace {

using tandem::coroutine;
using tandem::stack_options;
using tandem::yielder;

// Puts the thread's rounding mode back however the test ends.
class rounding_restored : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_EQ(std::fesetround(FE_TONEAREST), 0); }
  void TearDown() override { std::fesetround(FE_TONEAREST); }
};

stack_options own_fp() {
  stack_options options;
  options.own_fp_control = true;
  return options;
}

// Default: a body's change is its resumer's after the yield, and the other
// way round, as for a function call.
using FpControlShared = rounding_restored;

TEST_F(FpControlShared, Rule14_ABodysChangeIsSeenByItsResumer) {
  coroutine<int> co([](yielder<int>& y) {
    std::fesetround(FE_UPWARD);
    y.yield(std::fegetround());
  });
  EXPECT_EQ(co.next(), FE_UPWARD);
  EXPECT_EQ(std::fegetround(), FE_UPWARD);
}

TEST_F(FpControlShared, Rule14_AResumersChangeIsSeenByTheBody) {
  coroutine<int> co([](yielder<int>& y) {
    for (;;) y.yield(std::fegetround());
  });
  EXPECT_EQ(co.next(), FE_TONEAREST);
  std::fesetround(FE_DOWNWARD);
  EXPECT_EQ(co.next(), FE_DOWNWARD);
  std::fesetround(FE_TOWARDZERO);
  EXPECT_EQ(co.next(), FE_TOWARDZERO);
}

// own_fp_control: the coroutine starts with its first resumer's state and
// keeps its own; each side's changes stay on that side.
using FpControlOwn = rounding_restored;

TEST_F(FpControlOwn, Rule14_StartsWithTheFirstResumersState) {
  coroutine<int> co([](yielder<int>& y) { y.yield(std::fegetround()); }, own_fp());
  std::fesetround(FE_TOWARDZERO);  // after creation, before the first resume
  EXPECT_EQ(co.next(), FE_TOWARDZERO);
}

TEST_F(FpControlOwn, Rule14_EachSideKeepsItsOwn) {
  coroutine<int> co(
      [](yielder<int>& y) {
        std::fesetround(FE_UPWARD);
        for (;;) y.yield(std::fegetround());
      },
      own_fp());
  EXPECT_EQ(co.next(), FE_UPWARD);
  EXPECT_EQ(std::fegetround(), FE_TONEAREST);  // the body's change stayed inside
  std::fesetround(FE_DOWNWARD);
  EXPECT_EQ(co.next(), FE_UPWARD);  // and the resumer's stays outside
  EXPECT_EQ(std::fegetround(), FE_DOWNWARD);
}

TEST_F(FpControlOwn, Rule14_TheResumersStateIsBackWhenTheBodyEnds) {
  coroutine<int> co(
      [](yielder<int>&) {
        std::fesetround(FE_UPWARD);  // and returns
      },
      own_fp());
  EXPECT_THROW(co.next(), tandem::stop_iteration);
  EXPECT_EQ(std::fegetround(), FE_TONEAREST);
}

// Nesting: a shared coroutine inside an own one shares the own one's state;
// an own coroutine inside a shared one keeps its changes from both.
TEST_F(FpControlOwn, Rule14_MixedOwnAndSharedNestInsideEachOther) {
  std::vector<int> seen;
  coroutine<int> outer(
      [&seen](yielder<int>& y) {
        std::fesetround(FE_UPWARD);
        coroutine<int> shared([](yielder<int>& inner) {
          const int found = std::fegetround();
          std::fesetround(FE_DOWNWARD);  // the outer body's state: shared
          inner.yield(found);
        });
        seen.push_back(shared.next());      // FE_UPWARD: the outer's
        seen.push_back(std::fegetround());  // FE_DOWNWARD: the shared one's change
        coroutine<int> own(
            [](yielder<int>& inner) {
              const int found = std::fegetround();
              std::fesetround(FE_TOWARDZERO);
              inner.yield(found);
              inner.yield(std::fegetround());
            },
            own_fp());
        seen.push_back(own.next());         // FE_DOWNWARD: its first resumer's
        seen.push_back(std::fegetround());  // still FE_DOWNWARD
        std::fesetround(FE_UPWARD);
        seen.push_back(own.next());  // FE_TOWARDZERO: its own
        y.yield(std::fegetround());  // FE_UPWARD
      },
      own_fp());
  EXPECT_EQ(outer.next(), FE_UPWARD);
  EXPECT_EQ(std::fegetround(), FE_TONEAREST);
  EXPECT_EQ(seen,
            (std::vector<int>{FE_UPWARD, FE_DOWNWARD, FE_DOWNWARD, FE_DOWNWARD, FE_TOWARDZERO}));

  // And an own coroutine inside a shared one.
  coroutine<int> shared_outer([](yielder<int>& y) {
    coroutine<int> own(
        [](yielder<int>& inner) {
          std::fesetround(FE_UPWARD);
          inner.yield(0);
        },
        own_fp());
    own.next();
    y.yield(std::fegetround());  // the own one's change stayed inside it
  });
  EXPECT_EQ(shared_outer.next(), FE_TONEAREST);
}

// Event-loop tasks follow the same rule.
using FpControlTasks = rounding_restored;

TEST_F(FpControlTasks, Rule14_OwnTasksKeepTheirOwnAcrossSuspensions) {
  tandem::event_loop loop;
  std::vector<int> seen;
  auto body = [&seen](int mode) {
    return [&seen, mode] {
      std::fesetround(mode);
      for (int i = 0; i < 3; ++i) {
        tandem::sleep_for(std::chrono::seconds(0));
        seen.push_back(std::fegetround() == mode ? 1 : 0);
      }
    };
  };
  loop.run_until_complete([&] {
    auto up = tandem::current_loop().create_task(body(FE_UPWARD), own_fp());
    auto down = tandem::current_loop().create_task(body(FE_DOWNWARD), own_fp());
    tandem::await(up);
    tandem::await(down);
  });
  EXPECT_EQ(seen, std::vector<int>(6, 1));
  EXPECT_EQ(std::fegetround(), FE_TONEAREST);
}

TEST_F(FpControlTasks, Rule14_DefaultTasksShareTheThreadsState) {
  tandem::event_loop loop;
  int seen_by_second = -1;
  loop.run_until_complete([&] {
    auto first = tandem::current_loop().create_task([] {
      std::fesetround(FE_UPWARD);
      tandem::sleep_for(std::chrono::seconds(0));
    });
    auto second = tandem::current_loop().create_task([&seen_by_second] {
      seen_by_second = std::fegetround();
      std::fesetround(FE_TONEAREST);
    });
    tandem::await(first);
    tandem::await(second);
  });
  EXPECT_EQ(seen_by_second, FE_UPWARD);
}

}  // namespace
