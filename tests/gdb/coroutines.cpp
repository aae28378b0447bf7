// A program for tools/gdb/tandem.py's tests (tests/gdb/check_tandem.py).
// When it reaches gdb_stop_here() the live frames are, in creation order:
//
//   id  kind       name        state      where
//   1   coroutine  producer    suspended  producer_emit (yield)
//   2   coroutine  accumulator suspended  accumulator_wait (yield)
//   3   coroutine  -           created    (never started)
//   4   task       main-task   running    resumed coroutine 7
//   5   task       sleeper     suspended  sleeper_nap (sleep_for)
//   6   task       waiter      suspended  waiter_block (event::wait)
//   7   coroutine  inspector   running    inspector_look -> gdb_stop_here
//   8   coroutine  delegator   suspended  delegator_body (yield_from of 9)
//   9   coroutine  delegate    suspended  producer_emit (yield), for 8
//
// The functions that gdb must see are noinline, so that every build type
// keeps their frames.
#include <chrono>
#include <cstdio>

#include "tandem/coroutine.hpp"
#include "tandem/loop.hpp"

// The breakpoint; the asm keeps the call from being folded away.
extern "C" __attribute__((noinline)) void gdb_stop_here() { asm volatile("" ::: "memory"); }

namespace {

__attribute__((noinline)) void producer_emit(tandem::yielder<int>& y, int value) {
  y.yield(value);
  asm volatile("" ::: "memory");  // no tail call: keep this frame
}

__attribute__((noinline)) void producer_loop(tandem::yielder<int>& y) {
  for (int i = 0;; ++i) producer_emit(y, i);
}

__attribute__((noinline)) long accumulator_wait(tandem::yielder<long, long>& y, long total) {
  const long got = y.yield(total);
  asm volatile("" ::: "memory");
  return got;
}

__attribute__((noinline)) void sleeper_nap() {
  tandem::sleep_for(std::chrono::hours(1));
  asm volatile("" ::: "memory");
}

__attribute__((noinline)) void waiter_block(tandem::event& e) {
  e.wait();
  asm volatile("" ::: "memory");
}

__attribute__((noinline)) void delegator_body(tandem::yielder<int>& y) {
  y.yield_from(tandem::coroutine<int>([](tandem::yielder<int>& inner) { producer_loop(inner); },
                                      {.size = 0, .name = "delegate"}));
  asm volatile("" ::: "memory");
}

__attribute__((noinline)) void inspector_look() {
  // A delegation in place (generator rule 16): both are listed.
  tandem::coroutine<int> delegator([](tandem::yielder<int>& y) { delegator_body(y); },
                                   {.size = 0, .name = "delegator"});
  delegator.next();
  delegator.next();
  gdb_stop_here();
  asm volatile("" ::: "memory");
}

}  // namespace

int main() {
  tandem::coroutine<int> producer([](tandem::yielder<int>& y) { producer_loop(y); },
                                  {.size = 0, .name = "producer"});
  tandem::coroutine<long, long> accumulator(
      [](tandem::yielder<long, long>& y) {
        long total = 0;
        for (;;) total += accumulator_wait(y, total);
      },
      {.size = 64 * 1024, .name = "accumulator"});
  tandem::coroutine<void> idle([](tandem::yielder<void>&) {});  // unnamed, never started

  producer.next();
  producer.next();
  accumulator.next();
  accumulator.send(40);

  tandem::event never;
  tandem::event_loop loop;
  auto main_task = loop.create_task(
      [&] {
        auto& here = tandem::current_loop();
        auto sleeper = here.create_task([] { sleeper_nap(); }, {.size = 0, .name = "sleeper"});
        auto waiter = here.create_task([&] { waiter_block(never); }, {.size = 0, .name = "waiter"});
        tandem::sleep_for(std::chrono::seconds(0));  // both start and suspend
        tandem::coroutine<void> inspector([](tandem::yielder<void>&) { inspector_look(); },
                                          {.size = 0, .name = "inspector"});
        try {
          inspector.next();
        } catch (const tandem::stop_iteration&) {
        }
        sleeper.cancel();
        waiter.cancel();
        return 0;
      },
      {.size = 0, .name = "main-task"});
  loop.run_until_complete(main_task);
  std::puts("done");
  return 0;
}
