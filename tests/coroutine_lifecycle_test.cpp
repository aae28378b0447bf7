// A coroutine's life and what it throws: a body that returns ends a
// range-for (or a range algorithm) without any exception being thrown;
// destroying a suspended coroutine unwinds its stack with a single throw.
// Also started() while the first resume runs. Every throw in this process
// is counted: this file interposes the unwinder's entry that every C++
// throw and rethrow goes through.
#include <dlfcn.h>
#include <gtest/gtest.h>
#include <unwind.h>

#include <algorithm>
#include <atomic>
#include <iterator>
#include <ranges>
#include <vector>

#include "tandem/coroutine.hpp"

namespace {

std::atomic<int> raises{0};

using raise_fn = _Unwind_Reason_Code (*)(_Unwind_Exception*);

}  // namespace

// Every throw (throw, throw;, std::rethrow_exception) starts here.
extern "C" _Unwind_Reason_Code _Unwind_RaiseException(_Unwind_Exception* e) {
  static const auto real = reinterpret_cast<raise_fn>(dlsym(RTLD_NEXT, "_Unwind_RaiseException"));
  raises.fetch_add(1, std::memory_order_relaxed);
  return real(e);
}

namespace {

using tandem::coroutine;
using tandem::yielder;

coroutine<int> three_values() {
  return coroutine<int>([](yielder<int>& y) {
    for (int i = 1; i <= 3; ++i) y.yield(i);
  });
}

TEST(CoroutineLifecycle, ThrowCounterSeesThrows) {
  const int before = raises.load();
  try {
    throw 1;
  } catch (int) {
  }
  EXPECT_EQ(raises.load() - before, 1);
}

TEST(CoroutineLifecycle, RangeForToTheEndThrowsNothing) {
  auto co = three_values();
  const int before = raises.load();
  std::vector<int> seen;
  for (int v : co) seen.push_back(v);
  EXPECT_EQ(raises.load() - before, 0);
  EXPECT_EQ(seen, (std::vector<int>{1, 2, 3}));
  EXPECT_TRUE(co.done());
  EXPECT_TRUE(co.started());
}

// GCC 12 for armhf inlines the iterator's std::optional into for_each and
// then warns that its value "may be used uninitialized" (a false positive:
// operator* is only reached after emplace). Not seen on x86-64 or AArch64.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
TEST(CoroutineLifecycle, RangeAlgorithmToTheEndThrowsNothing) {
  static_assert(std::ranges::input_range<coroutine<int>&>);
  auto co = three_values();
  const int before = raises.load();
  int sum = 0;
  std::ranges::for_each(co, [&sum](int v) { sum += v; });
  EXPECT_EQ(std::ranges::distance(co.begin(), co.end()), 0);  // finished: empty
  EXPECT_EQ(raises.load() - before, 0);
  EXPECT_EQ(sum, 6);
}
#pragma GCC diagnostic pop

TEST(CoroutineLifecycle, NextStillThrowsStopIterationAtTheEnd) {
  auto co = three_values();
  for (int i = 1; i <= 3; ++i) EXPECT_EQ(co.next(), i);
  EXPECT_THROW(co.next(), tandem::stop_iteration);
  EXPECT_THROW(co.next(), tandem::stop_iteration);
}

TEST(CoroutineLifecycle, DestroyingASuspendedCoroutineThrowsOnce) {
  int unwound = 0;
  {
    struct counts_unwind {
      int& n;
      ~counts_unwind() { ++n; }
    };
    coroutine<int> co([&unwound](yielder<int>& y) {
      counts_unwind guard{unwound};
      for (;;) y.yield(1);
    });
    co.next();
    co.next();
    const int before = raises.load();
    co.close();
    EXPECT_EQ(raises.load() - before, 1);
  }
  EXPECT_EQ(unwound, 1);

  auto co = three_values();
  co.next();
  const int before = raises.load();
  co = coroutine<int>([](yielder<int>&) {});  // destroys the suspended one
  EXPECT_EQ(raises.load() - before, 1);
}

// Rule 1: started() is true from the moment the first resume begins.
TEST(CoroutineLifecycle, Rule1_StartedIsTrueInsideTheFirstResume) {
  coroutine<bool>* self = nullptr;
  coroutine<bool> co([&self](yielder<bool>& y) {
    y.yield(self->started());
    y.yield(self->started());
  });
  self = &co;
  EXPECT_FALSE(co.started());
  EXPECT_TRUE(co.next());
  EXPECT_TRUE(co.next());
  EXPECT_TRUE(co.started());
  co.close();
  EXPECT_TRUE(co.started());  // finished, after running
}

TEST(CoroutineLifecycle, StartedStaysFalseWhenClosedBeforeItRan) {
  auto co = three_values();
  co.close();
  EXPECT_TRUE(co.done());
  EXPECT_FALSE(co.started());
}

}  // namespace
