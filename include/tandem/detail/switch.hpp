// tandem::detail::switch_within, leave_for and switch_slots for this target: the inline
// switch where there is one, tandem_jump elsewhere; with the reads of the
// stack and thread pointers that the hot path makes around them.
#pragma once

#if defined(TANDEM_PORTABLE_SWITCH)  // tests of the fallback, on any target
#include "tandem/detail/switch_portable.hpp"
#define TANDEM_INLINE_SWITCH 0
#elif defined(__x86_64__)
#include "tandem/detail/switch_x86_64.hpp"
#define TANDEM_INLINE_SWITCH 1
#elif defined(__aarch64__)
#include "tandem/detail/switch_aarch64.hpp"
#define TANDEM_INLINE_SWITCH 1
#elif defined(__arm__) && defined(__ARM_PCS_VFP) && __ARM_ARCH >= 7
#include "tandem/detail/switch_arm.hpp"
#define TANDEM_INLINE_SWITCH 1
#elif defined(__riscv) && __riscv_xlen == 64 && defined(__riscv_float_abi_double)
#include "tandem/detail/switch_riscv64.hpp"
#define TANDEM_INLINE_SWITCH 1
#else
#include "tandem/detail/switch_portable.hpp"
#define TANDEM_INLINE_SWITCH 0
#endif

#ifndef TANDEM_SWITCH_LANDS_INJECTIONS_APART
namespace tandem::detail {
// A body's yield lands in one place, whatever the resume brings, and
// tests there whether it has an exception to throw (see
// switch_x86_64.hpp for the alternative).
inline constexpr bool switch_lands_injections_apart = false;
inline void land_at_injection(switch_slots&) noexcept {}
}  // namespace tandem::detail
#endif
#undef TANDEM_SWITCH_LANDS_INJECTIONS_APART

#include <cstdint>

#if TANDEM_INLINE_SWITCH

namespace tandem::detail {

// Readies a fresh body's slots: the first switch into it enters `start`
// (asm/'s tandem_coroutine_start) on a 16-byte aligned stack just below
// `top`, with no frame pointer, so that backtraces end there.
inline void set_first_resume(switch_slots& body, std::uintptr_t top, void (*start)()) noexcept {
  // NOLINTNEXTLINE(performance-no-int-to-ptr): an address computed inside the stack
  body.sp = reinterpret_cast<void*>((top & ~std::uintptr_t{15}) - 16);
  body.fp = nullptr;
  body.ip = first_resume_address(reinterpret_cast<void*>(start), body.sp);
}

#if !defined(__x86_64__)
// The caller's stack pointer less `frame`, modulo 2^N (a yield's check
// that it runs on its own coroutine's stack, below its frame: see
// on_own_stack). Not volatile: a function's invocation runs on one stack
// whatever switches it makes, so the offset is the same wherever in the
// function it is read, and the compiler may compute it once for a loop of
// yields (see invariant_word).
// One instruction on AArch64, 32-bit ARM and RISC-V.
inline std::uintptr_t stack_offset(const void* frame) noexcept {
  std::uintptr_t offset;
  asm("sub %0, sp, %1" : "=r"(offset) : "r"(frame));
  return offset;
}
#endif

#ifdef TANDEM_READ_THREAD_POINTER
// The running thread's pointer plus `offset`: the address of a
// thread_local `offset` from it. The thread pointer is read afresh at each
// use (volatile): a compiler takes it for a constant, and may keep it, or
// an address made from it, across a switch after which the code runs on
// another thread (a coroutine resumed there). See frame.hpp's thread_eh.
// The addition is left to the compiler, which folds it into the load.
inline std::uintptr_t thread_address(std::uintptr_t offset) noexcept {
  std::uintptr_t tp;
  asm volatile(TANDEM_READ_THREAD_POINTER : "=r"(tp));
  return tp + offset;
}
#undef TANDEM_READ_THREAD_POINTER
#endif

}  // namespace tandem::detail
#endif

namespace tandem::detail {

// *p, for a word that never changes while code that reads it runs (a
// frame's stack_floor, set before its body first runs). Where the switch is
// inline, loaded in an asm statement as a function of p alone: the compiler
// may then keep it, or what it computes from it, across switches (which
// clobber memory) as it keeps any value it holds: a yield's stack check is
// computed once for a loop of yields where a register lives across the
// switch (AArch64's x22).
#ifdef TANDEM_LOAD_WORD
inline std::uintptr_t invariant_word(const std::uintptr_t* p) noexcept {
  std::uintptr_t word;
  asm(TANDEM_LOAD_WORD : "=r"(word) : "r"(p));
  return word;
}
#undef TANDEM_LOAD_WORD
#else
inline std::uintptr_t invariant_word(const std::uintptr_t* p) noexcept { return *p; }
#endif

}  // namespace tandem::detail
