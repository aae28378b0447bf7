// Generator rule 17 (docs/rules.md): a coroutine with a non-void Out is a
// move-only std::ranges::input_range and std::ranges::view, as
// std::generator is. Rvalues pipe into std::views adaptors, lvalues through
// std::ranges::ref_view, and reaching the end throws nothing anywhere.
// Every C++ throw of this process is counted: this file interposes
// __cxa_throw and forwards to the real one.
#include <cxxabi.h>
#include <dlfcn.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <concepts>
#include <iterator>
#include <memory>
#include <optional>
#include <ranges>
#include <string>
#include <type_traits>
#include <typeinfo>
#include <vector>

#include "tandem/coroutine.hpp"

namespace {

std::atomic<int> throws{0};

using throw_fn = void (*)(void*, std::type_info*, void (*)(void*));

}  // namespace

// Every `throw expression` starts here. Defined where <cxxabi.h> declares
// it, so that the definition matches that declaration.
namespace __cxxabiv1 {
extern "C" void __cxa_throw(void* object, std::type_info* type, void (*destroy)(void*)) {
  static const auto real = reinterpret_cast<throw_fn>(dlsym(RTLD_NEXT, "__cxa_throw"));
  throws.fetch_add(1, std::memory_order_relaxed);
  real(object, type, destroy);
  __builtin_unreachable();
}
}  // namespace __cxxabiv1

namespace {

using tandem::coroutine;
using tandem::yielder;

// Yields 0, 1, ..., n - 1.
coroutine<int> count_to(int n) {
  return coroutine<int>([n](yielder<int>& y) {
    for (int i = 0; i < n; ++i) y.yield(i);
  });
}

// The same through a delegation chain two deep that returns a value.
coroutine<int, void, int> count_through_chain(int n) {
  return coroutine<int, void, int>([n](yielder<int>& y) {
    return y.yield_from(coroutine<int, void, int>([n](yielder<int>& middle) {
      middle.yield_from(count_to(n));
      return n;
    }));
  });
}

// Throws counted while f runs.
template <class F>
int throws_during(F&& f) {
  const int before = throws.load();
  f();
  return throws.load() - before;
}

TEST(CoroutineRanges, ThrowCounterSeesADeliberateThrow) {
  EXPECT_EQ(throws_during([] {
              try {
                throw std::string("deliberate");
              } catch (const std::string&) {
              }
            }),
            1);
}

// Section 5: any use of a moved-from coroutine throws std::logic_error, its
// iterator's ++ included. It used to end the loop as if the body had
// returned, dropping what the body had still to yield without a word.
TEST(CoroutineRanges, AdvancingOverACoroutineMovedAwayThrowsLogicError) {
  auto co = count_to(5);
  std::optional<coroutine<int>> elsewhere;
  std::vector<int> seen;
  auto it = co.begin();
  seen.push_back(*it);
  elsewhere.emplace(std::move(co));
  EXPECT_THROW(++it, std::logic_error);
  EXPECT_EQ(seen, std::vector<int>{0});
  EXPECT_EQ(elsewhere->next(), 1);  // the body goes on where it was, in the new handle
  // A finished coroutine still just ends the loop (rule 11).
  auto done = count_to(0);
  EXPECT_TRUE(done.begin() == std::default_sentinel);
  EXPECT_TRUE(done.begin() == std::default_sentinel);
}

TEST(CoroutineRules, Rule17_ACoroutineIsAMoveOnlyInputView) {
  static_assert(std::ranges::input_range<coroutine<int>>);
  static_assert(std::ranges::view<coroutine<int>>);
  static_assert(std::ranges::view<coroutine<std::string, int, long>>);
  static_assert(std::movable<coroutine<int>>);
  static_assert(!std::copyable<coroutine<int>>);
  static_assert(std::ranges::viewable_range<coroutine<int>>);    // an rvalue pipes
  static_assert(!std::ranges::viewable_range<coroutine<int>&>);  // an lvalue does not...
  static_assert(std::ranges::viewable_range<std::ranges::ref_view<coroutine<int>>>);  // ...but this
  static_assert(!std::ranges::range<coroutine<void>>);
  static_assert(std::same_as<std::ranges::range_value_t<coroutine<std::string>>, std::string>);
  SUCCEED();
}

TEST(CoroutineRules, Rule17_RvaluesPipeIntoTakeTransformAndFilter) {
  std::vector<int> seen;
  std::optional view = count_to(20) | std::views::filter([](int v) { return v % 3 == 0; }) |
                       std::views::transform([](int v) { return v * 10; }) | std::views::take(4);
  EXPECT_EQ(throws_during([&] {
              for (int v : *view) seen.push_back(v);
            }),
            0);
  EXPECT_EQ(seen, (std::vector<int>{0, 30, 60, 90}));
  // take(4) left the coroutine suspended before its end: destroying the
  // view unwinds its stack, with the one throw of coroutine_exit (rule 9).
  EXPECT_EQ(throws_during([&] { view.reset(); }), 1);
}

TEST(CoroutineRules, Rule17_APipelineReachesTheEndWithoutThrowing) {
  std::vector<int> seen;
  EXPECT_EQ(throws_during([&] {
              for (int v : count_to(5) | std::views::transform([](int v) { return v + 1; }) |
                               std::views::take(100))
                seen.push_back(v);
            }),
            0);
  EXPECT_EQ(seen, (std::vector<int>{1, 2, 3, 4, 5}));
}

TEST(CoroutineRules, Rule17_LvaluesPipeThroughRefView) {
  auto co = count_to(10);
  std::vector<int> first, rest;
  EXPECT_EQ(throws_during([&] {
              for (int v : std::ranges::ref_view(co) | std::views::take(3)) first.push_back(v);
              for (int v :
                   std::ranges::ref_view(co) | std::views::filter([](int v) { return v % 2 == 0; }))
                rest.push_back(v);
            }),
            0);
  EXPECT_EQ(first, (std::vector<int>{0, 1, 2}));
  // take(3)'s last increment resumed the coroutine once more (so would
  // std::generator's): 3 went to the iterator that the first loop dropped.
  EXPECT_EQ(rest, (std::vector<int>{4, 6, 8}));
  EXPECT_TRUE(co.done());
}

TEST(CoroutineRules, Rule17_RangeAlgorithmsReachTheEndWithoutThrowing) {
  auto a = count_to(6);
  auto b = count_to(6);
  auto c = count_to(6);
  std::vector<int> copied;
  long sum = 0;
  std::ptrdiff_t odd = 0;
  bool found_none = false;
  EXPECT_EQ(throws_during([&] {
              std::ranges::copy(a, std::back_inserter(copied));
              std::ranges::for_each(b, [&](int v) { sum += v; });
              odd = std::ranges::count_if(c, [](int v) { return v % 2 != 0; });
              auto d = count_to(4);
              found_none = std::ranges::find(d, 99) == d.end();
            }),
            0);
  EXPECT_EQ(copied, (std::vector<int>{0, 1, 2, 3, 4, 5}));
  EXPECT_EQ(sum, 15);
  EXPECT_EQ(odd, 3);
  EXPECT_TRUE(found_none);
}

TEST(CoroutineRules, Rule17_DelegatingCoroutinesReachTheEndWithoutThrowing) {
  std::vector<int> seen;
  auto co = count_through_chain(4);
  EXPECT_EQ(
      throws_during([&] {
        for (int v : std::ranges::ref_view(co) | std::views::transform([](int v) { return v * v; }))
          seen.push_back(v);
      }),
      0);
  EXPECT_EQ(seen, (std::vector<int>{0, 1, 4, 9}));
  EXPECT_EQ(co.result(), 4);
}

TEST(CoroutineRules, Rule17_MoveOnlyValuesThroughAView) {
  std::vector<int> seen;
  auto ptrs = coroutine<std::unique_ptr<int>>([](yielder<std::unique_ptr<int>>& y) {
    for (int i = 1; i <= 3; ++i) y.yield(std::make_unique<int>(i));
  });
  EXPECT_EQ(throws_during([&] {
              for (auto&& p : std::move(ptrs) | std::views::take(5)) seen.push_back(*p);
            }),
            0);
  EXPECT_EQ(seen, (std::vector<int>{1, 2, 3}));
}

// An Out that can be constructed but not assigned (a const member): the
// iterator still moves, so the coroutine is still a range and a view.
struct unassignable_value {
  const int value;
};

TEST(CoroutineRules, Rule17_AnOutWithoutAssignmentIsStillAnInputView) {
  using co_type = coroutine<unassignable_value>;
  static_assert(!std::is_move_assignable_v<unassignable_value>);
  static_assert(std::input_iterator<std::ranges::iterator_t<co_type>>);
  static_assert(std::ranges::input_range<co_type> && std::ranges::view<co_type>);
  co_type co([](yielder<unassignable_value>& y) {
    for (int i = 1; i <= 3; ++i) y.yield(unassignable_value{i});
  });
  std::vector<int> seen;
  std::ranges::for_each(co, [&](const unassignable_value& v) { seen.push_back(v.value); });
  EXPECT_EQ(seen, (std::vector<int>{1, 2, 3}));
}

// An In without a default constructor: next() cannot resume a started body
// (rule 3), so neither can an iterator. Such a coroutine is no range, and
// range-for over it fails at begin()'s constraint, not inside the iterator.
struct no_default_in {
  explicit no_default_in(int v) : value(v) {}
  int value;
};

template <class C>
concept has_begin = requires(C& c) {
  c.begin();
};

TEST(CoroutineRules, Rule17_AnInWithoutADefaultMakesNoRange) {
  using co_type = coroutine<int, no_default_in>;
  static_assert(!std::default_initializable<no_default_in>);
  static_assert(!has_begin<co_type>);
  static_assert(!std::ranges::range<co_type> && !std::ranges::view<co_type>);
  static_assert(std::ranges::input_range<coroutine<int, int>>);
}

}  // namespace
