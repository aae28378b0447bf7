// Proves that a warm pool serves create/destroy loops without the kernel.
// This binary defines mmap, munmap, mprotect, madvise and mincore itself,
// so every call the library makes to them (through the dynamic linker, or
// resolved at static link time) lands here and is counted, then forwarded
// to the kernel with syscall(2).
#include <gtest/gtest.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>

#include "support/iterations.hpp"
#include "tandem/context.h"
#include "tandem/stack.hpp"

namespace {
long memory_syscall_count = 0;  // only through the builtins below
}

// The builtin, unlike std::atomic's inline members, is not instrumented
// inside an uninstrumented function.
#define TANDEM_COUNT_SYSCALL() __atomic_fetch_add(&memory_syscall_count, 1, __ATOMIC_RELAXED)

// ThreadSanitizer's runtime maps its own memory through these before it is
// initialised, so they must not be instrumented (the counter included).
#define TANDEM_UNINSTRUMENTED __attribute__((no_sanitize("thread")))

extern "C" {
TANDEM_UNINSTRUMENTED void* mmap(void* addr, size_t len, int prot, int flags, int fd,
                                 off_t off) noexcept {
  TANDEM_COUNT_SYSCALL();
#if defined(SYS_mmap2)  // 32-bit targets (armhf): the offset counts 4096-byte units
  return reinterpret_cast<void*>(::syscall(SYS_mmap2, addr, len, prot, flags, fd, off / 4096));
#else
  return reinterpret_cast<void*>(::syscall(SYS_mmap, addr, len, prot, flags, fd, off));
#endif
}
TANDEM_UNINSTRUMENTED int munmap(void* addr, size_t len) noexcept {
  TANDEM_COUNT_SYSCALL();
  return static_cast<int>(::syscall(SYS_munmap, addr, len));
}
TANDEM_UNINSTRUMENTED int mprotect(void* addr, size_t len, int prot) noexcept {
  TANDEM_COUNT_SYSCALL();
  return static_cast<int>(::syscall(SYS_mprotect, addr, len, prot));
}
TANDEM_UNINSTRUMENTED int madvise(void* addr, size_t len, int advice) noexcept {
  TANDEM_COUNT_SYSCALL();
  return static_cast<int>(::syscall(SYS_madvise, addr, len, advice));
}
TANDEM_UNINSTRUMENTED int mincore(void* addr, size_t len, unsigned char* vec) noexcept {
  TANDEM_COUNT_SYSCALL();
  return static_cast<int>(::syscall(SYS_mincore, addr, len, vec));
}
}

namespace {

long memory_syscalls() { return __atomic_load_n(&memory_syscall_count, __ATOMIC_RELAXED); }

void come_back(tandem_transfer t) {
  for (;;) t = tandem_jump(t.from, t.data);
}

// One coroutine's worth of stack work: take a stack, run on it, give it back.
void create_run_destroy(tandem::stack_options options) {
  tandem::stack s(options);
  tandem_jump(tandem_make_context(s.top(), s.size(), come_back), nullptr);
}

TEST(StackPool, ColdPoolAsksTheKernel) {
  // The control for the test below: the counting works, so a zero there
  // means the kernel was not asked.
  const long before = memory_syscalls();
  create_run_destroy({.size = tandem::min_stack_size + 3 * 4096 * 16});  // a size no one used
  EXPECT_GT(memory_syscalls() - before, 0);
}

TEST(StackPool, WarmCreateDestroyLoopMakesNoSystemCall) {
  for (int i = 0; i < 10; ++i) create_run_destroy({});
  const long before = memory_syscalls();
  // Trimmed under TSan (TANDEM_TEST_SHRINK): each abandoned raw context
  // leaves a frame on TSan's shadow call stack, which holds 65,536.
  const auto rounds = testing_support::iterations(100'000);
  for (std::uint64_t i = 0; i < rounds; ++i) create_run_destroy({});
  EXPECT_EQ(memory_syscalls() - before, 0);
}

TEST(StackPool, WarmLoopOfManyLiveStacksMakesNoSystemCall) {
  // 32 live at once, in and out, as a scheduler with 32 tasks would.
  auto cycle = [] {
    std::vector<tandem::stack> live;
    live.reserve(32);
    for (int i = 0; i < 32; ++i) live.emplace_back();
  };
  cycle();
  const long before = memory_syscalls();
  for (int i = 0; i < 10'000; ++i) cycle();
  EXPECT_EQ(memory_syscalls() - before, 0);
}

}  // namespace
