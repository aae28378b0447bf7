// tandem/stack.hpp: guard-paged, pooled coroutine stacks.
//
// A tandem::stack is a block of memory a context runs on. It is mmap'ed
// with MAP_NORESERVE, so pages are committed only when first touched (a
// coroutine that uses 8 KiB of a 256 KiB stack costs 8 KiB of memory), and
// a guard band sits below its low end: running off the end faults with
// SIGSEGV at once instead of overwriting whatever lies below. The band is
// 64 KiB of pages (8 KiB on 32-bit targets), not one page: a function with
// a frame larger than a page moves the stack pointer past one guard page
// in a single step. A frame larger than the band can still jump it; code
// with such frames should be built with -fstack-clash-protection, which
// touches the stack a page at a time (and assumes a 64 KiB guard on
// AArch64).
//
// Pooling. A released stack goes to a cache owned by the releasing thread
// (up to 64 per size) and the next stack of that size on that thread takes
// it back, most recently used first: once warm, creating and destroying
// coroutines in a loop makes no system call and takes no lock. Beyond the
// cache, stacks go to a process-wide free list and their pages are handed
// back to the kernel (MADV_DONTNEED) 64 stacks at a time, one call per run
// of neighbouring stacks (each call flushes the TLB); the address space is
// kept for reuse, and the 63 or fewer stacks still waiting for their batch
// are the first handed out again.
//
// A million stacks. Stacks are carved from slabs of 64 MiB, one mapping
// each. Guard pages are installed in one of two ways, chosen at first use:
//  - MADV_GUARD_INSTALL (Linux 6.13 and later): the guard lives in the page
//    tables and does not split the slab's mapping, so every stack is
//    guarded however many there are.
//  - mprotect(PROT_NONE), on older kernels: each guard splits a mapping
//    (two more mappings per guard), and Linux allows vm.max_map_count
//    mappings per process (65,530 by default). tandem spends at most a
//    quarter of that limit on guards (8,191 guards by default); stacks made
//    past that budget have no guard page. The page below each (where its
//    guard would be) is kept untouched instead, and when the stack is
//    released tandem asks the kernel (mincore) whether that page was ever
//    touched: if it was, the coroutine overflowed, and the process reports
//    it on stderr as install_overflow_handler (tandem/overflow.hpp) does, then dies of
//    SIGSEGV. Such an overflow is detected late (at release, not at the
//    faulting write, so it may first corrupt the stack below), and one that
//    jumps more than a page past the end in one frame, or whose page was
//    swapped out, can be missed; the guard pages of the first way have
//    neither weakness.
// Slabs are mapped without transparent huge pages. Under Valgrind, pool
// memory that no stack holds is inaccessible to Memcheck: a use of a stack
// after its release is reported.
// Setting TANDEM_STACK_GUARD=mprotect in the environment forces the second
// way, for testing it on a new kernel; TANDEM_STACK_GUARD=none sets its
// budget to zero, so that no stack has a guard page (for testing the
// overflow check of unguarded stacks; never in production). Emulators that ignore madvise (as
// qemu-user does) are detected and get the second way too.
#pragma once

#include <cstddef>
#include <new>
#include <stdexcept>
#include <string>
#include <utility>

namespace tandem {

// Sizes count the bytes a coroutine can use; the guard band is extra.
// Every size is rounded up to a whole number of pages.
inline constexpr std::size_t default_stack_size = std::size_t{256} * 1024;
inline constexpr std::size_t min_stack_size = std::size_t{16} * 1024;
// 1 TiB; 1 GiB on 32-bit targets, whose whole address space is 4 GiB.
inline constexpr std::size_t max_stack_size =
    sizeof(std::size_t) >= 8 ? static_cast<std::size_t>(1ull << 40) : std::size_t{1} << 30;

struct stack_options {
  // Usable bytes. 0 means default_stack_size. Below min_stack_size:
  // std::invalid_argument. Above max_stack_size, or when the kernel has no
  // address space left: stack_alloc_error (a std::bad_alloc).
  std::size_t size = 0;
  // What debuggers (tools/gdb/tandem.py) and the stack overflow report call
  // the coroutine or task that runs on this stack. Copied, and cut at 47
  // bytes; null or empty means unnamed. A plain tandem::stack ignores it.
  const char* name = nullptr;
  // Whether the coroutine or task on this stack has floating-point control
  // state of its own (x86-64: the MXCSR control bits and the x87 control
  // word; AArch64: FPCR; 32-bit ARM: the FPSCR's control bits; RISC-V: frm;
  // rounding mode, and where the target has them, exception masks and
  // flush-to-zero).
  //  - false (the default): the state belongs to the thread, as it does
  //    across a plain function call or a C++20 coroutine's resume. A body
  //    that changes it (fesetround, _MM_SET_FLUSH_ZERO_MODE) should put it
  //    back before it yields, as a function puts it back before it returns;
  //    a change it leaves is seen by its resumer, and the other way round.
  //    The switch neither reads nor writes it: on AMD Zen reading the MXCSR
  //    (stmxcsr) alone takes about 5 ns, more than a whole switch.
  //  - true: the coroutine starts with the state of its first resumer;
  //    every switch into it restores its own, and every switch out of it
  //    restores its resumer's (written only where it differs, but for the
  //    x86-64 MXCSR: there the write costs less than comparing it). About
  //    3.6 ns more per switch on AMD Zen, where stmxcsr alone takes 4 ns.
  // The C ABI (tandem_jump) always preserves the state, whatever this says.
  // A plain tandem::stack ignores it.
  bool own_fp_control = false;
};

// A std::bad_alloc that says which stack could not be had, and why.
class stack_alloc_error : public std::bad_alloc {
 public:
  // NOLINTNEXTLINE(bugprone-throw-keyword-missing): a runtime_error kept for its text
  explicit stack_alloc_error(const std::string& message) : message_(message) {}
  const char* what() const noexcept override { return message_.what(); }

 private:
  std::runtime_error message_;  // ref-counted text: copies cannot throw
};

// One stack, owned; it goes back to the pool on destruction. Movable, not
// copyable; a moved-from stack holds nothing and top() is null.
class stack {
 public:
  explicit stack(stack_options options = {});
  // Inline, as the destructor's test: a coroutine's frame takes its stack
  // by a move, once per coroutine.
  stack(stack&& other) noexcept
      : base_(std::exchange(other.base_, nullptr)),
        size_(std::exchange(other.size_, 0)),
        guarded_(std::exchange(other.guarded_, false)),
        valgrind_id_(std::exchange(other.valgrind_id_, 0)) {}
  stack& operator=(stack&& other) noexcept;
  stack(const stack&) = delete;
  stack& operator=(const stack&) = delete;
  ~stack() {
    if (base_ != nullptr) release();
  }

  // Inline: the coroutine hot path reads them on every switch.
  void* top() const noexcept { return base_ == nullptr ? nullptr : base_ + size_; }  // exclusive
  void* bottom() const noexcept { return base_; }      // lowest usable address
  std::size_t size() const noexcept { return size_; }  // usable bytes
  bool guarded() const noexcept { return guarded_; }   // false only past the mprotect budget
  explicit operator bool() const noexcept { return base_ != nullptr; }

 private:
  void release() noexcept;

  std::byte* base_ = nullptr;  // lowest usable byte; the guard band is below
  std::size_t size_ = 0;
  bool guarded_ = false;
  unsigned valgrind_id_ = 0;  // the stack as Valgrind knows it (0 outside Valgrind)
};

// What the pool is doing, for tests and diagnostics.
struct stack_pool_stats {
  const char* guard_mechanism;  // "madvise" or "mprotect"
  std::size_t live;             // stacks handed out and not yet released
  std::size_t guarded;          // stacks ever carved with a guard page
  std::size_t unguarded;        // stacks ever carved without one
  std::size_t mprotect_budget;  // guard pages mprotect may add in all (max_map_count / 8)
};
stack_pool_stats stack_pool_statistics();  // the first call may allocate

namespace detail {
// The usable bytes stack(options) would take, checked as it checks them
// (the same exceptions), without taking a stack: a task's stack is made
// only when the task starts, but its options are refused by create_task,
// where the mistake is made, not later out of some other run of the loop.
std::size_t checked_stack_size(const stack_options& options);
}  // namespace detail

}  // namespace tandem

// The overflow report, declared with stacks before it had a header of its own.
#include "tandem/overflow.hpp"
