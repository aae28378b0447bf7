// A long soak run, not part of CI: 10^9 switches, 10^7 coroutine lives
// (create, first resume, destroy) and a churn of coroutines whose number
// alive rises and falls, each touching a different depth of its stack. It
// prints the resident set size (VmRSS) at the start, after a warm-up that
// does a little of each phase, after each phase and at the end, with the
// time each phase took, and fails (exit status 1) if the resident set at
// the end is more than `tolerance_kib` above the post-warm-up figure: the
// pooled stacks, the frames at their tops and the heap must all be reused,
// not grown, however long a program runs.
//
//   tandem_soak [switches [lives [churn_steps]]]   defaults: 1e9 1e7 2e6
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "tandem/coroutine.hpp"
#include "tandem/stack.hpp"

namespace {

// More than the page-granular noise of malloc's trimming and the kernel's
// accounting, far less than one leaked stack per thousand lives would cost.
constexpr long tolerance_kib = 1024;

// A "Name:   123 kB" line of /proc/self/status, in KiB; -1 if missing.
long status_kib(const char* name) {
  std::FILE* f = std::fopen("/proc/self/status", "r");
  if (f == nullptr) return -1;
  char line[256];
  long kib = -1;
  const std::size_t length = std::strlen(name);
  while (std::fgets(line, sizeof line, f) != nullptr)
    if (std::strncmp(line, name, length) == 0 && line[length] == ':')
      kib = std::strtol(line + length + 1, nullptr, 10);
  std::fclose(f);
  return kib;
}
long rss_kib() { return status_kib("VmRSS"); }
long hwm_kib() { return status_kib("VmHWM"); }

using clock_type = std::chrono::steady_clock;

struct phase_timer {
  const char* name;
  clock_type::time_point start = clock_type::now();
  ~phase_timer() {
    const double s = std::chrono::duration<double>(clock_type::now() - start).count();
    std::printf("%-32s %9.2f s   VmRSS %8ld KiB\n", name, s, rss_kib());
    std::fflush(stdout);
  }
};

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "tandem_soak: %s\n", what);
  std::exit(2);
}

// Phase 1: two coroutines answer each sent value with value + 1; every
// send is two switches.
void pingpong(std::uint64_t switches) {
  auto make = [] {
    return tandem::coroutine<long, long>([](tandem::yielder<long, long>& y) {
      long value = 0;
      for (;;) value = y.yield(value) + 1;
    });
  };
  auto a = make();
  auto b = make();
  a.next();
  b.next();
  long value = 0;
  const std::uint64_t rounds = switches / 4;
  for (std::uint64_t i = 0; i < rounds; ++i) {
    value = a.send(value);
    value = b.send(value);
  }
  if (static_cast<std::uint64_t>(value) != 2 * rounds) fail("ping-pong: wrong result");
}

// Phase 2: a coroutine's whole life. Half of them are destroyed while
// suspended at their first yield (the destructor unwinds them), half
// return from their first resume (next() throws stop_iteration).
void lives(std::uint64_t count) {
  std::uint64_t sum = 0;
  for (std::uint64_t i = 0; i < count; ++i) {
    if (i % 2 == 0) {
      tandem::coroutine<int> co([](tandem::yielder<int>& y) { y.yield(1); });
      sum += static_cast<std::uint64_t>(co.next());
    } else {
      tandem::coroutine<int> co([&sum](tandem::yielder<int>&) { ++sum; });
      try {
        co.next();
      } catch (const tandem::stop_iteration&) {
        // How a body that returns ends its resumer's next().
      }
    }
  }
  if (sum != count) fail("lives: wrong count");
}

// Touches `bytes` of stack below the caller, in frames of 1 KiB.
[[gnu::noinline]] std::uint64_t touch_stack(std::size_t bytes) {
  volatile unsigned char frame[1024];
  for (std::size_t i = 0; i < sizeof frame; i += 64) frame[i] = static_cast<unsigned char>(i);
  const std::uint64_t below = bytes > sizeof frame ? touch_stack(bytes - sizeof frame) : 0;
  return below + frame[64];  // read after the call, so that each call keeps its own frame
}

// Phase 3: up to `peak` coroutines alive at once, in waves: the target
// count swings between 0 and peak, and each step creates one (whose body
// touches 1 to 32 KiB of its stack, then yields a few times), or resumes
// or destroys a random one. Some run to their end, others are destroyed
// while suspended. The same seed every run: the same sequence. Returns the
// most that were alive at once.
std::size_t churn(std::uint64_t steps, std::size_t peak) {
  using co_type = tandem::coroutine<std::uint64_t>;
  std::mt19937_64 random(20240617);
  std::vector<std::unique_ptr<co_type>> alive;
  alive.reserve(peak);
  std::uint64_t ended = 0;
  std::size_t most = 0;
  for (std::uint64_t step = 0; step < steps; ++step) {
    // A triangle wave of period 4 * peak steps.
    const std::uint64_t phase = step % (4 * peak);
    const std::size_t target = phase < 2 * peak ? phase / 2 : (4 * peak - phase) / 2;
    const auto pick = [&] { return static_cast<std::size_t>(random() % alive.size()); };
    if (alive.size() < target) {
      const std::size_t depth = 1024 * (1 + random() % 32);
      const std::uint64_t yields = 1 + random() % 4;
      alive.push_back(std::make_unique<co_type>([depth, yields](tandem::yielder<std::uint64_t>& y) {
        const std::uint64_t touched = touch_stack(depth);
        for (std::uint64_t k = 0; k < yields; ++k) y.yield(touched + k);
      }));
      alive.back()->next();
      most = std::max(most, alive.size());
    } else if (!alive.empty()) {
      const std::size_t i = pick();
      if (random() % 2 == 0) {
        try {
          alive[i]->next();
          continue;
        } catch (const tandem::stop_iteration&) {
          ++ended;  // ran to its end: drop it below
        }
      }
      alive[i] = std::move(alive.back());
      alive.pop_back();
    }
  }
  alive.clear();
  if (ended == 0) fail("churn: no coroutine ever ran to its end");
  return most;
}

std::uint64_t arg(int argc, char** argv, int i, std::uint64_t fallback) {
  return argc > i ? std::strtoull(argv[i], nullptr, 10) : fallback;
}

}  // namespace

int main(int argc, char** argv) {
  const std::uint64_t switches = arg(argc, argv, 1, 1'000'000'000);
  const std::uint64_t life_count = arg(argc, argv, 2, 10'000'000);
  const std::uint64_t churn_steps = arg(argc, argv, 3, 2'000'000);
  constexpr std::size_t peak = 4096;

  const long at_start = rss_kib();
  std::printf("%-32s %9s     VmRSS %8ld KiB\n", "start", "", at_start);
  std::printf("(%llu switches, %llu lives, %llu churn steps with up to %zu alive)\n",
              static_cast<unsigned long long>(switches),
              static_cast<unsigned long long>(life_count),
              static_cast<unsigned long long>(churn_steps), peak);
  const auto all = clock_type::now();
  long after_warmup = 0;
  {
    // Everything the phases do, once at full width (one whole churn wave
    // reaches the peak), so that the pool, the heap and the code pages are
    // as big as they will get.
    phase_timer t{"warm-up"};
    pingpong(1'000'000);
    lives(100'000);
    churn(4 * peak, peak);
  }
  after_warmup = rss_kib();
  {
    phase_timer t{"phase 1: switches"};
    pingpong(switches);
  }
  {
    phase_timer t{"phase 2: create/resume/destroy"};
    lives(life_count);
  }
  std::size_t most_alive = 0;
  {
    phase_timer t{"phase 3: churn"};
    most_alive = churn(churn_steps, peak);
  }
  const long at_end = rss_kib();
  const double total = std::chrono::duration<double>(clock_type::now() - all).count();
  std::printf("%-32s %9.2f s   VmRSS %8ld KiB\n", "end", total, at_end);
  std::printf("peak VmHWM %ld KiB (churn: up to %zu coroutines alive)\n", hwm_kib(), most_alive);
  std::printf("growth since warm-up: %ld KiB (tolerance %ld KiB)\n", at_end - after_warmup,
              tolerance_kib);
  if (at_start < 0 || at_end - after_warmup > tolerance_kib) {
    std::printf("FAIL: resident memory grew\n");
    return 1;
  }
  std::printf("OK: resident memory flat\n");
  return 0;
}
