// The one line tandem prints when a coroutine runs off its stack, from the
// SIGSEGV handler (include/tandem/overflow.hpp: install_overflow_handler) or
// from the check of an unguarded stack at its release. Everything here is
// async-signal-safe.
#pragma once

#include <cstddef>
#include <cstdint>

#include "tandem/stack.hpp"

namespace tandem::detail {

// Who ran on the stack; id 0 means a plain tandem::stack (no coroutine).
struct overflow_subject {
  std::uint64_t id = 0;
  bool task = false;
  const char* name = "";  // empty: unnamed
  const void* bottom = nullptr;
  std::size_t size = 0;
};

struct frame_base;
overflow_subject subject_of(const frame_base& f) noexcept;

// Writes the report to stderr. `fault` is the faulting address (null when
// the overflow was found at release, on a stack without a guard page).
void write_overflow_report(const overflow_subject& who, const void* fault) noexcept;

// Dies of SIGSEGV, the signal a guarded overflow gets, bypassing handlers.
[[noreturn]] void die_of_overflow() noexcept;

// The bytes of the guard band below every pooled stack (whole pages).
std::size_t stack_guard_size() noexcept;

// Whether a stack without a guard band was run off: a page of the band
// below it, which nothing may touch, became resident. False for guarded
// stacks.
bool ran_off_unguarded(const tandem::stack& s) noexcept;

// Sets up this thread's alternate signal stack if install_overflow_handler
// was called, so that a new coroutine's thread can report its overflow.
void prepare_thread_for_overflow_reports() noexcept;

}  // namespace tandem::detail
