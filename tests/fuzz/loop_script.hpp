// The fuzz harness's event-loop half: one tandem::event_loop per script,
// a driver task that reads the script from the input, and worker tasks
// whose short programs (sleep, await, gather, wait_for, queue, event,
// cancel, ...) are decoded when they are spawned. Outcomes are checked
// against the loop rules (docs/rules.md); every wait is bounded, so no input can hang.
#pragma once

#include "coroutine_pool.hpp"
#include "fuzz_support.hpp"

namespace fuzz {

// Runs one script read from in; its pool operations go to pool.
void run_loop_script(reader& in, coroutine_pool& pool);

}  // namespace fuzz
