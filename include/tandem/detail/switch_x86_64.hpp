// The coroutine hot path's stack switch on x86-64 (System V).
//
// tandem_jump (asm/) follows the C calling convention, so it must save and
// restore all six callee-saved registers on every switch. This switch is an
// asm statement instead: it declares every register it does not carry as
// clobbered, so the compiler keeps only what is live across it, and saves
// the callee-saved registers once in the enclosing function's prologue
// rather than on every switch of a loop. The value travels in rsi both ways.
//
// Each side leaves {rsp, resume address, rbp} in its slots and jumps to the
// other side's resume address, which is label 1 of a switch asm statement
// in the other side's code; rdx then points at the lander's own slots, and
// rdi at the sender's, so the lander finds its frame in a register instead
// of reloading a pointer it spilled. Notes:
//  - rbp is saved by hand: it cannot be declared clobbered when it is the
//    frame pointer.
//  - Nothing is pushed, so the red zone below rsp is never touched.
//  - The FP control state (MXCSR and x87 control word) is the thread's, as
//    across a call, so the plain switch neither reads nor writes it. The
//    switch for a coroutine with stack_options::own_fp_control stores its
//    own side's and writes the other side's only when they differ (stmxcsr
//    is slow on some cores, ldmxcsr slower, the difference rare). Stored
//    and compared at their own widths, since one wide load of two narrow
//    stores stalls store forwarding.
#pragma once

#include <cstddef>
#include <cstdint>

namespace tandem::detail {

struct switch_slots {
  void* sp = nullptr;
  void* ip = nullptr;
  void* fp = nullptr;
  std::uint32_t mxcsr = 0;  // own_fp_control only
  std::uint16_t x87_cw = 0;
  std::uint16_t padding = 0;
};
static_assert(sizeof(switch_slots) == 32);

// What a switch brings back: the value handed over, and the lander's own
// slots (the `other` the sender switched to).
struct landing {
  std::uintptr_t value;
  switch_slots* own;
};

// The asm statement's slot offsets, by name.
#define TANDEM_SWITCH_OFFSETS                                                           \
  [sp] "i"(offsetof(switch_slots, sp)), [ip] "i"(offsetof(switch_slots, ip)),           \
      [fp] "i"(offsetof(switch_slots, fp)), [mxcsr] "i"(offsetof(switch_slots, mxcsr)), \
      [x87] "i"(offsetof(switch_slots, x87_cw))

#if defined(__CET__) && (__CET__ & 1)
#define TANDEM_SWITCH_LANDING_PAD "endbr64\n\t"  // the other side arrives by an indirect jmp
#else
#define TANDEM_SWITCH_LANDING_PAD ""
#endif

#ifdef __AVX512F__
#define TANDEM_SWITCH_CLOBBERS_AVX512                                                           \
  "xmm16", "xmm17", "xmm18", "xmm19", "xmm20", "xmm21", "xmm22", "xmm23", "xmm24", "xmm25",     \
      "xmm26", "xmm27", "xmm28", "xmm29", "xmm30", "xmm31", "k1", "k2", "k3", "k4", "k5", "k6", \
      "k7",
#else
#define TANDEM_SWITCH_CLOBBERS_AVX512
#endif

// Everything but the three operands and rbp/rsp: the other side may change it.
#define TANDEM_SWITCH_CLOBBERS                                                                    \
  "rax", "rbx", "rcx", "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15", "xmm0", "xmm1",      \
      "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11", "xmm12",  \
      "xmm13", "xmm14", "xmm15", TANDEM_SWITCH_CLOBBERS_AVX512 "st", "st(1)", "st(2)", "st(3)",   \
      "st(4)", "st(5)", "st(6)", "st(7)", "mm0", "mm1", "mm2", "mm3", "mm4", "mm5", "mm6", "mm7", \
      "memory", "cc"

// Suspend here (resume at 1:), resume there.
#define TANDEM_SWITCH_JUMP           \
  "leaq    1f(%%rip), %%rax\n\t"     \
  "movq    %%rsp, %c[sp](%%rdi)\n\t" \
  "movq    %%rax, %c[ip](%%rdi)\n\t" \
  "movq    %%rbp, %c[fp](%%rdi)\n\t" \
  "movq    %c[sp](%%rdx), %%rsp\n\t" \
  "jmpq    *%c[ip](%%rdx)\n"         \
  "1:\n\t" TANDEM_SWITCH_LANDING_PAD "movq    %c[fp](%%rdx), %%rbp\n\t"

// Suspends the caller into `self`, resumes `other` with `value`; returns
// what the next switch back to `self` hands over. OwnFp: the FP control
// state is restored on each side (stack_options::own_fp_control).
template <bool OwnFp>
__attribute__((always_inline)) inline landing switch_to(switch_slots* self, switch_slots* other,
                                                        std::uintptr_t value) {
  if constexpr (OwnFp) {
    asm volatile(
        // Ours into our slots; the other's in only if different.
        "stmxcsr %c[mxcsr](%%rdi)\n\t"
        "fnstcw  %c[x87](%%rdi)\n\t"
        "movl    %c[mxcsr](%%rdi), %%eax\n\t"
        "cmpl    %c[mxcsr](%%rdx), %%eax\n\t"
        "jne     3f\n\t"
        "movzwl  %c[x87](%%rdi), %%eax\n\t"
        "cmpw    %c[x87](%%rdx), %%ax\n\t"
        "je      2f\n"
        "3:\n\t"
        "ldmxcsr %c[mxcsr](%%rdx)\n\t"
        "fldcw   %c[x87](%%rdx)\n"
        "2:\n\t" TANDEM_SWITCH_JUMP
        : "+D"(self), "+d"(other), "+S"(value)
        : TANDEM_SWITCH_OFFSETS
        : TANDEM_SWITCH_CLOBBERS);
  } else {
    asm volatile(TANDEM_SWITCH_JUMP
                 : "+D"(self), "+d"(other), "+S"(value)
                 : TANDEM_SWITCH_OFFSETS
                 : TANDEM_SWITCH_CLOBBERS);
  }
  return {value, other};
}

#undef TANDEM_SWITCH_JUMP
#undef TANDEM_SWITCH_CLOBBERS
#undef TANDEM_SWITCH_CLOBBERS_AVX512
#undef TANDEM_SWITCH_LANDING_PAD
#undef TANDEM_SWITCH_OFFSETS

// Reads this thread's FP control state into `slots`, as the own_fp_control
// switch stores it (a coroutine's starting state).
inline void store_fp_control(switch_slots* slots) noexcept {
  asm volatile("stmxcsr %0\n\tfnstcw %1" : "=m"(slots->mxcsr), "=m"(slots->x87_cw));
}

// The stack pointer where the caller runs (a yield's check that it is on
// its own coroutine's stack).
inline std::uintptr_t stack_pointer() noexcept {
  std::uintptr_t sp;
  asm("movq %%rsp, %0" : "=r"(sp));
  return sp;
}

// A fresh body's first resume address, as switch_to jumps to it (see
// set_first_resume in switch.hpp): as it is.
inline void* first_resume_address(void* start, void*) noexcept { return start; }

}  // namespace tandem::detail
