// The costs of the loop's toolkit (to_thread, mutex, task groups, timeout),
// in the workloads that bench/asyncio/workloads.py runs on Python's asyncio;
// bench/asyncio/compare.py puts the two side by side.
//
//  - BM_loop_to_thread: a task calls to_thread on a trivial fn, again and
//    again. Time per round trip (to a worker and back to the task).
//  - BM_loop_mutex_uncontended: lock and unlock a mutex nobody else wants.
//    Time per lock + unlock.
//  - BM_loop_mutex_handover: two tasks contend for one mutex, each holding
//    it across a sleep_for(0s); every unlock hands it to the other. Time per
//    hand-over (one critical section).
//  - BM_loop_task_group: with_task_group of 1,000 trivial tasks, until all
//    are done. Time per task.
//  - BM_loop_timeout: timeout(10s, fn) around a fn that does not yield, so
//    it is entered and left without expiry; the loop runs once every 1,000.
//    Time per timeout.
//
// Every workload checks what it computed, so that a broken loop cannot pass
// for a fast one. Times are wall-clock (UseRealTime): the loop may block in
// epoll_wait (to_thread's wake-up), which CPU time would not count.
#include <benchmark/benchmark.h>

#include <chrono>
#include <cstdint>
#include <mutex>

#include "tandem/locks.hpp"
#include "tandem/loop.hpp"
#include "tandem/task_group.hpp"
#include "tandem/threads.hpp"
#include "tandem/wait.hpp"

namespace {

using namespace std::chrono_literals;

// 1. to_thread round trips. Each fn adds one to the number it was given, so
// that a lost or repeated answer shows in the sum.
void BM_loop_to_thread(benchmark::State& state) {
  tandem::event_loop loop;
  std::int64_t sum = 0;
  std::int64_t calls = 0;
  loop.run_until_complete([&] {
    tandem::to_thread([] { return 0; });  // the pool is made on first use, not timed
    for (auto _ : state) {
      const std::int64_t given = calls++;
      sum += tandem::to_thread([given] { return given + 1; });
    }
  });
  if (sum != calls * (calls + 1) / 2) state.SkipWithError("wrong to_thread answer");
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}
BENCHMARK(BM_loop_to_thread)->UseRealTime();

// 2. An uncontended mutex: lock() finds it free, unlock() finds no waiter.
void BM_loop_mutex_uncontended(benchmark::State& state) {
  tandem::event_loop loop;
  tandem::mutex m;
  std::int64_t inside = 0;
  loop.run_until_complete([&] {
    for (auto _ : state) {
      std::lock_guard hold(m);
      ++inside;
    }
  });
  if (m.locked() || inside != static_cast<std::int64_t>(state.iterations()))
    state.SkipWithError("the mutex was not taken and released each time");
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}
BENCHMARK(BM_loop_mutex_uncontended)->UseRealTime();

// 3. Two tasks contending for one mutex. Each holds it across sleep_for(0s),
// so the other is always waiting when it is unlocked: the mutex goes from
// one to the other, and the critical sections must strictly alternate. One
// pass of the benchmark's loop is two sections: its own and the partner's
// (the partner's last acquisition only sees `stop`).
void BM_loop_mutex_handover(benchmark::State& state) {
  tandem::event_loop loop;
  tandem::mutex m;
  int last = 0;  // who had the last critical section: 1 or 2
  bool out_of_turn = false;
  bool stop = false;
  std::int64_t mine = 0;
  std::int64_t theirs = 0;
  auto section = [&](int who, std::int64_t& count) {
    if (last == who) out_of_turn = true;
    last = who;
    ++count;
    tandem::sleep_for(0s);  // held across a switch: the other waits
  };
  loop.run_until_complete([&] {
    auto partner = tandem::current_loop().create_task([&] {
      for (;;) {
        std::lock_guard hold(m);
        if (stop) return;
        section(2, theirs);
      }
    });
    while (state.KeepRunningBatch(2)) {
      std::lock_guard hold(m);
      section(1, mine);
    }
    stop = true;
    tandem::await(partner);
  });
  if (out_of_turn || theirs != mine - 1 ||
      2 * mine != static_cast<std::int64_t>(state.iterations()))
    state.SkipWithError("the critical sections did not alternate");
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}
BENCHMARK(BM_loop_mutex_handover)->UseRealTime();

// 4. A task group of 1,000 trivial tasks; each adds its number to a sum,
// so a task lost or run twice shows.
constexpr int group_size = 1'000;

void BM_loop_task_group(benchmark::State& state) {
  tandem::event_loop loop;
  bool wrong = false;
  loop.run_until_complete([&] {
    while (state.KeepRunningBatch(group_size)) {
      std::int64_t sum = 0;
      tandem::with_task_group([&](tandem::task_group& g) {
        for (int i = 0; i < group_size; ++i) g.create_task([&sum, i] { sum += i; });
      });
      if (sum != std::int64_t{group_size} * (group_size - 1) / 2) wrong = true;
    }
  });
  if (wrong) state.SkipWithError("a task of the group lost or run twice");
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
  state.counters["tasks_per_group"] = group_size;
}
BENCHMARK(BM_loop_task_group)->UseRealTime();

// 5. timeout(10s, fn) with a fn that returns at once: the deadline is armed
// and withdrawn without ever passing. A withdrawn deadline stays in the
// loop's timer heap until the loop sweeps it, between its iterations, so
// the task lets the loop run once every 1,000 timeouts (as workloads.py
// does): the heap stays small, as in a program whose tasks do wait, and a
// never-yielding loop of millions is not what is measured.
constexpr int timeouts_per_sweep = 1'000;

void BM_loop_timeout(benchmark::State& state) {
  tandem::event_loop loop;
  std::int64_t inside = 0;
  std::int64_t returned = 0;
  loop.run_until_complete([&] {
    while (state.KeepRunningBatch(timeouts_per_sweep)) {
      for (int i = 0; i < timeouts_per_sweep; ++i)
        returned += tandem::timeout(10s, [&] { return ++inside; });
      tandem::sleep_for(0s);
    }
  });
  if (returned != inside * (inside + 1) / 2 ||
      inside != static_cast<std::int64_t>(state.iterations()))
    state.SkipWithError("wrong value through timeout");
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}
BENCHMARK(BM_loop_timeout)->UseRealTime();

}  // namespace
