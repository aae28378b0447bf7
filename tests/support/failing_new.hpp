// Allocation failure on demand, for the tests of what a std::bad_alloc
// leaves behind: the next allocations_until_failure allocations succeed,
// the one after throws std::bad_alloc (-1: none does). A test arms it only
// around the step it looks at.
//
// This header replaces the program's operator new and delete: include it
// in one translation unit of a test program only. They are never inlined,
// so that Valgrind, which replaces operator new and delete with its own,
// replaces both or neither (an inlined delete freed the blocks of
// Valgrind's new: "mismatched free"); under Valgrind no failure can be
// injected, and the tests that inject one skip (support/valgrind.hpp).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdlib>
#include <new>

// Atomic: a test may arm it on one thread for an allocation on another.
static std::atomic<int> allocations_until_failure{-1};

[[gnu::noinline]] void* operator new(std::size_t size) {
  if (allocations_until_failure >= 0 && allocations_until_failure-- == 0) throw std::bad_alloc();
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}
// GCC, inlining these, takes memory from operator new for another kind
// than free's and warns at -O2; here they are one kind (malloc's).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
[[gnu::noinline]] void operator delete(void* p) noexcept { std::free(p); }
[[gnu::noinline]] void operator delete(void* p, std::size_t) noexcept { std::free(p); }
#pragma GCC diagnostic pop
