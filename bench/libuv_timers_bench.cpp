// libuv, the C event loop under Node.js, in the workload of BM_loop_timers
// (bench/loop_bench.cpp), so that tandem's timers are measured against a C
// peer in the same run:
//
//  - BM_libuv_timers: 1,000,000 uv_timer_t armed with uv_timer_start at
//    random (fixed-seed, the same draw as BM_loop_timers) delays below 5 ms,
//    and uv_run until all have fired. Time per timer.
//
// libuv's timeouts are whole milliseconds, so each delay is rounded up to
// the next millisecond: the deadlines spread over 0..5 ms as tandem's do,
// on fewer distinct values. The handles are made once, outside the timing
// (libuv's timers are intrusive: arming one allocates nothing), and each
// batch arms them all again. Wall-clock time, as for the loop benchmarks.
#include <benchmark/benchmark.h>
#include <uv.h>

#include <chrono>
#include <cstdint>
#include <random>
#include <vector>

#include "tandem/clock.hpp"

namespace {

using namespace std::chrono_literals;

constexpr int timer_count = 1'000'000;
constexpr auto longest_delay = 5ms;

// What the callbacks count, reached through the loop's data pointer.
struct tally {
  int fired = 0;
  std::int64_t sum = 0;
};

void on_timer(uv_timer_t* timer) {
  auto* t = static_cast<tally*>(timer->loop->data);
  t->sum += static_cast<int>(reinterpret_cast<std::intptr_t>(timer->data));
  ++t->fired;
}

void BM_libuv_timers(benchmark::State& state) {
  // The same draw as BM_loop_timers, in tandem's clock ticks, then rounded
  // up to libuv's milliseconds.
  std::vector<std::uint64_t> delays_ms(timer_count);
  std::mt19937_64 random(20240601);
  std::uniform_int_distribution<std::int64_t> pick(
      0, std::chrono::duration_cast<tandem::clock::duration>(longest_delay).count());
  for (auto& d : delays_ms)
    d = static_cast<std::uint64_t>(
        std::chrono::ceil<std::chrono::milliseconds>(tandem::clock::duration(pick(random)))
            .count());
  constexpr std::int64_t index_sum = std::int64_t{timer_count} * (timer_count - 1) / 2;

  uv_loop_t loop;
  if (uv_loop_init(&loop) != 0) {
    state.SkipWithError("uv_loop_init failed");
    return;
  }
  tally counts;
  loop.data = &counts;
  std::vector<uv_timer_t> timers(timer_count);
  for (int i = 0; i < timer_count; ++i) {
    uv_timer_init(&loop, &timers[i]);
    timers[i].data = reinterpret_cast<void*>(static_cast<std::intptr_t>(i));
  }

  bool wrong = false;
  while (state.KeepRunningBatch(timer_count)) {
    counts = {};
    const auto start = tandem::clock::now();
    uv_update_time(&loop);  // deadlines from now, not from the last batch's end
    for (int i = 0; i < timer_count; ++i)
      if (uv_timer_start(&timers[i], on_timer, delays_ms[i], 0) != 0) wrong = true;
    uv_run(&loop, UV_RUN_DEFAULT);  // returns when no timer is left armed
    // libuv's loop time is whole milliseconds, truncated: a timer may fire
    // up to 1 ms before its delay has passed in real time.
    if (counts.fired != timer_count || counts.sum != index_sum ||
        tandem::clock::now() - start < longest_delay - 1ms)
      wrong = true;
  }

  for (auto& t : timers) uv_close(reinterpret_cast<uv_handle_t*>(&t), nullptr);
  uv_run(&loop, UV_RUN_DEFAULT);
  if (uv_loop_close(&loop) != 0) wrong = true;
  if (wrong) state.SkipWithError("timers lost, doubled or early");
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
  state.counters["timers"] = timer_count;
}
// As BM_loop_timers: two batches of a million.
BENCHMARK(BM_libuv_timers)
    ->Iterations(2 * timer_count)
    ->UseRealTime()
    ->Unit(benchmark::kNanosecond);

}  // namespace
