// A coroutine's whole life: create, first resume, destroy. tandem's pooled
// stacks against boost::context::fiber on pooled_fixedsize_stack, both with
// tandem::default_stack_size bytes (each keeps its own bookkeeping at the
// top of that stack; only tandem's has a guard page below it).
//
// Two endings, because they cost differently:
//   suspended: the body is still at its first yield when destroyed, so
//     both unwind its stack with an exception (tandem's coroutine_exit,
//     Boost's forced_unwind).
//   returned: the body returns from the first resume. Boost hands back an
//     empty fiber; tandem's next() throws stop_iteration (Python's rule).
#include <benchmark/benchmark.h>

#include <boost/context/fiber.hpp>
#include <boost/context/pooled_fixedsize_stack.hpp>
#include <memory>
#include <utility>

#include "tandem/coroutine.hpp"
#include "tandem/stack.hpp"

namespace {

namespace ctx = boost::context;

void BM_create_tandem_suspended(benchmark::State& state) {
  int sum = 0;
  while (state.KeepRunningBatch(1)) {
    tandem::coroutine<int> co([](tandem::yielder<int>& y) { y.yield(1); });
    sum += co.next();
  }
  benchmark::DoNotOptimize(sum);
}
BENCHMARK(BM_create_tandem_suspended)->Name("BM_create_resume_destroy/tandem_coroutine/suspended");

void BM_create_boost_fiber_suspended(benchmark::State& state) {
  // Copies share one pool: every fiber below draws from and returns to it.
  ctx::pooled_fixedsize_stack stacks(tandem::default_stack_size);
  int sum = 0;
  while (state.KeepRunningBatch(1)) {
    int out = 0;
    ctx::fiber f(std::allocator_arg, stacks, [&out](ctx::fiber&& caller) {
      out = 1;
      return std::move(caller).resume();
    });
    f = std::move(f).resume();
    sum += out;
  }
  benchmark::DoNotOptimize(sum);
}
BENCHMARK(BM_create_boost_fiber_suspended)
    ->Name("BM_create_resume_destroy/boost_fiber_pooled/suspended");

void BM_create_tandem_returned(benchmark::State& state) {
  int sum = 0;
  while (state.KeepRunningBatch(1)) {
    tandem::coroutine<int> co([&sum](tandem::yielder<int>&) { ++sum; });
    try {
      co.next();
    } catch (const tandem::stop_iteration&) {
      // The expected end: the body returned without yielding.
    }
  }
  benchmark::DoNotOptimize(sum);
}
BENCHMARK(BM_create_tandem_returned)->Name("BM_create_resume_destroy/tandem_coroutine/returned");

void BM_create_boost_fiber_returned(benchmark::State& state) {
  ctx::pooled_fixedsize_stack stacks(tandem::default_stack_size);
  int sum = 0;
  while (state.KeepRunningBatch(1)) {
    ctx::fiber f(std::allocator_arg, stacks, [&sum](ctx::fiber&& caller) {
      ++sum;
      return std::move(caller);
    });
    f = std::move(f).resume();
  }
  benchmark::DoNotOptimize(sum);
}
BENCHMARK(BM_create_boost_fiber_returned)
    ->Name("BM_create_resume_destroy/boost_fiber_pooled/returned");

}  // namespace
