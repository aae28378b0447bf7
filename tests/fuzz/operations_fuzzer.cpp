// libFuzzer target: the input is a program of coroutine and event-loop
// operations (README.md describes the encoding). Each operation's outcome
// is checked against docs/rules.md; a violation aborts, which the fuzzer (or
// the corpus replay) reports as a crash.
#include <chrono>
#include <cstddef>
#include <cstdint>

#include "coroutine_pool.hpp"
#include "fuzz_support.hpp"
#include "loop_script.hpp"

namespace {

enum top_op : std::uint8_t {
  op_outside_task = fuzz::coroutine_pool::op_count,  // after the pool's own operations
  op_loop_script,
  top_count
};

// A script can cost a few milliseconds of real time (timers); a cap keeps
// every input fast.
constexpr int max_scripts = 3;

// Suspending calls outside any task are refused (section 4).
void probe_outside_task() {
  using fuzz::kind;
  using fuzz::observe;
  FUZZ_CHECK(observe([] { tandem::sleep_for(std::chrono::seconds(0)); }).what == kind::misuse);
  FUZZ_CHECK(observe([] { (void)tandem::current_loop(); }).what == kind::misuse);
  FUZZ_CHECK(observe([] { return tandem::await(tandem::task<int>{}); }).what == kind::misuse);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fuzz::reader in(data, size);
  fuzz::coroutine_pool pool(in);  // its destructor checks that every body was unwound
  int scripts = 0;
  while (in.take_operation()) {
    const int op = in.pick(top_count);
    if (op < fuzz::coroutine_pool::op_count) {
      pool.run(op, in);
    } else if (op == op_outside_task) {
      probe_outside_task();
    } else if (scripts < max_scripts) {
      ++scripts;
      fuzz::run_loop_script(in, pool);
    }
    pool.check_all();
  }
  return 0;
}
