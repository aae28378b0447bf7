// A short generator's whole life, and the death of a suspended one, against
// their peers in the same run:
//
//   BM_generator_life/*: create a generator, take its three values to the
//     end the way a range-for does, destroy it. tandem's coroutine with
//     range-for (the end is found without an exception); a
//     boost::context::fiber on pooled_fixedsize_stack, resumed until it
//     hands back an empty fiber; a C++20 stackless generator, its body in
//     stackless_bodies.cpp.
//   BM_destroy_suspended/*: destroy a generator suspended at its first
//     yield (created and resumed beforehand, outside the timing), which
//     unwinds its stack: tandem's coroutine_exit against Boost's
//     forced_unwind. Timed in batches with the clock paused around the
//     set-up.
//
// Both stackful sides take stacks of tandem::default_stack_size bytes from
// a warm pool.
#include <benchmark/benchmark.h>

#include <array>
#include <boost/context/fiber.hpp>
#include <boost/context/pooled_fixedsize_stack.hpp>
#include <cstddef>
#include <memory>
#include <optional>
#include <utility>

#include "stackless_generator.hpp"
#include "tandem/coroutine.hpp"
#include "tandem/stack.hpp"

namespace {

namespace ctx = boost::context;

void BM_generator_life_tandem(benchmark::State& state) {
  long sum = 0;
  for (auto _ : state) {
    tandem::coroutine<long> co([](tandem::yielder<long>& y) {
      for (long i = 1; i <= 3; ++i) y.yield(i);
    });
    for (long v : co) sum += v;
  }
  benchmark::DoNotOptimize(sum);
  if (sum != 6 * static_cast<long>(state.iterations())) state.SkipWithError("wrong sum");
}
BENCHMARK(BM_generator_life_tandem)->Name("BM_generator_life/tandem_coroutine");

void BM_generator_life_boost_fiber(benchmark::State& state) {
  ctx::pooled_fixedsize_stack stacks(tandem::default_stack_size);
  long sum = 0;
  for (auto _ : state) {
    long slot = 0;
    ctx::fiber f(std::allocator_arg, stacks, [&slot](ctx::fiber&& caller) {
      for (long i = 1; i <= 3; ++i) {
        slot = i;
        caller = std::move(caller).resume();
      }
      slot = 0;
      return std::move(caller);
    });
    while ((f = std::move(f).resume())) sum += slot;
  }
  benchmark::DoNotOptimize(sum);
  if (sum != 6 * static_cast<long>(state.iterations())) state.SkipWithError("wrong sum");
}
BENCHMARK(BM_generator_life_boost_fiber)->Name("BM_generator_life/boost_fiber_pooled");

void BM_generator_life_stackless(benchmark::State& state) {
  long sum = 0;
  for (auto _ : state) {
    auto g = bench::stackless_three();
    while (g.advance()) sum += g.value();
  }
  benchmark::DoNotOptimize(sum);
  if (sum != 6 * static_cast<long>(state.iterations())) state.SkipWithError("wrong sum");
}
BENCHMARK(BM_generator_life_stackless)->Name("BM_generator_life/stackless_cpp20");

// Destroys `batch` suspended generators per timed stretch: PauseTiming costs
// far more than one destruction, so each pause is shared by many.
constexpr std::size_t batch = 64;

void BM_destroy_suspended_tandem(benchmark::State& state) {
  std::array<std::optional<tandem::coroutine<int>>, batch> live;
  while (state.KeepRunningBatch(batch)) {
    state.PauseTiming();
    for (auto& co : live) {
      co.emplace([](tandem::yielder<int>& y) {
        for (;;) y.yield(1);
      });
      co->next();
    }
    state.ResumeTiming();
    for (auto& co : live) co.reset();
  }
}
BENCHMARK(BM_destroy_suspended_tandem)->Name("BM_destroy_suspended/tandem_coroutine");

void BM_destroy_suspended_boost_fiber(benchmark::State& state) {
  ctx::pooled_fixedsize_stack stacks(tandem::default_stack_size);
  std::array<ctx::fiber, batch> live;
  while (state.KeepRunningBatch(batch)) {
    state.PauseTiming();
    for (auto& f : live) {
      f = ctx::fiber(std::allocator_arg, stacks, [](ctx::fiber&& caller) {
        for (;;) caller = std::move(caller).resume();
        return std::move(caller);
      });
      f = std::move(f).resume();
    }
    state.ResumeTiming();
    for (auto& f : live) f = ctx::fiber();
  }
}
BENCHMARK(BM_destroy_suspended_boost_fiber)->Name("BM_destroy_suspended/boost_fiber_pooled");

}  // namespace
