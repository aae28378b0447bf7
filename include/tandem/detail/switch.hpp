// tandem::detail::switch_within, leave_for and switch_slots for this target: the inline
// switch where there is one, tandem_jump elsewhere; with the reads of the
// stack and thread pointers that the hot path makes around them.
#pragma once

// A body's yield is an asm goto where its switch lands injections apart.
// GCC lays out code counting an asm statement as one instruction a line,
// but an asm goto, a jump, as one instruction whatever its length
// (final.cc's get_attr_length): on 32-bit ARM, whose literal pools must
// lie within 1020 bytes of the loads that use them, a function with a
// pool near that limit and a yield between failed to assemble ("offset
// out of range"), and AArch64's short branches (tbz, 32 KiB) rely on the
// same count. An empty asm statement of as many lines as the yield has
// instructions, put just before it, emits nothing and makes the count
// right: `lines` is what the yield emits, in instructions of 4 bytes.
// x86-64's assembler sizes every jump itself, and needs none.
#define TANDEM_ASM_GOTO_LENGTH(lines) asm volatile(lines)
#define TANDEM_EIGHT_LINES "\n\n\n\n\n\n\n\n"

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
#undef TANDEM_ASM_GOTO_LENGTH
#undef TANDEM_EIGHT_LINES

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

// Whether the caller's stack pointer, less `frame` (modulo 2^N), is above
// *floor: a yield's check that it runs on its own coroutine's stack, below
// its frame (see frame.hpp's on_own_stack). *floor never changes while code
// that reads it runs (a frame's stack_floor, set before its body first
// runs), and a function's invocation runs on one stack whatever switches
// it makes, so the answer is the same wherever in the function it is
// asked. Where the switch is inline it is computed by one asm statement
// that is a function of frame and floor alone (not volatile), which the
// compiler may compute once for a loop of yields and keep across the
// switches (which clobber memory) as it keeps any value. On the load-store
// targets the asm computes the answer itself, so a loop of yields keeps one
// word, not two: in a register the switch preserves where one is free
// (AArch64's x22, ARM's r7), and tests it with one branch. x86-64 compares
// the stack pointer with memory, and keeps the offset and the floor.
#if defined(TANDEM_STACK_CHECK)
inline bool runs_below(const void* frame, const std::uintptr_t* floor) noexcept {
  std::uintptr_t ok;
  std::uintptr_t offset;
  asm(TANDEM_STACK_CHECK : "=&r"(ok), "=&r"(offset) : "r"(frame), "r"(floor) : "cc");
  return ok != 0;
}
#undef TANDEM_STACK_CHECK
#else
#if defined(TANDEM_LOAD_WORD)
inline std::uintptr_t invariant_word(const std::uintptr_t* p) noexcept {
  std::uintptr_t word;
  asm(TANDEM_LOAD_WORD : "=r"(word) : "r"(p));
  return word;
}
#undef TANDEM_LOAD_WORD
#else
inline std::uintptr_t invariant_word(const std::uintptr_t* p) noexcept { return *p; }
#endif
inline bool runs_below(const void* frame, const std::uintptr_t* floor) noexcept {
  return stack_offset(frame) > invariant_word(floor);
}
#endif

}  // namespace tandem::detail
