// The coroutine hot path's stack switch on x86-64 (System V).
//
// tandem_jump (asm/) follows the C calling convention, so it must save and
// restore all six callee-saved registers on every switch. This switch is an
// asm statement instead: it declares every register it does not carry as
// clobbered, so the compiler keeps only what is live across it, and saves
// the callee-saved registers once in the enclosing function's prologue
// rather than on every switch of a loop. The value travels in rsi both ways.
//
// Each side leaves {rsp, resume address, rbp, FP control} in its slots and
// jumps to the other side's resume address, which is label 1 of the same
// asm statement in the other side's code; rdx then points at the lander's
// own slots. Notes:
//  - rbp is saved by hand: it cannot be declared clobbered when it is the
//    frame pointer.
//  - Nothing is pushed, so the red zone below rsp is never touched.
//  - The MXCSR and x87 control word are callee-saved: each side stores its
//    own and writes the other's only when they differ (the write is slow,
//    the difference rare). Stored and compared at their own widths, since
//    one wide load of two narrow stores stalls store forwarding.
#pragma once

#include <cstdint>

namespace tandem::detail {

struct switch_slots {
  void* sp = nullptr;
  void* ip = nullptr;
  void* fp = nullptr;
  std::uint32_t mxcsr = 0;
  std::uint16_t x87_cw = 0;
  std::uint16_t padding = 0;
};
static_assert(sizeof(switch_slots) == 32);

// Suspends the caller into `self`, resumes `other` with `value`; returns the
// value handed over when something switches back to `self`.
__attribute__((always_inline)) inline std::uintptr_t switch_to(switch_slots* self,
                                                               switch_slots* other,
                                                               std::uintptr_t value) {
  asm volatile(
      // FP control: ours into our slots; the other's in only if different.
      "stmxcsr 24(%%rdi)\n\t"
      "fnstcw  28(%%rdi)\n\t"
      "movl    24(%%rdi), %%eax\n\t"
      "cmpl    24(%%rdx), %%eax\n\t"
      "jne     3f\n\t"
      "movzwl  28(%%rdi), %%eax\n\t"
      "cmpw    28(%%rdx), %%ax\n\t"
      "je      2f\n"
      "3:\n\t"
      "ldmxcsr 24(%%rdx)\n\t"
      "fldcw   28(%%rdx)\n"
      "2:\n\t"
      // Suspend here (resume at 1:), resume there.
      "leaq    1f(%%rip), %%rax\n\t"
      "movq    %%rsp, 0(%%rdi)\n\t"
      "movq    %%rax, 8(%%rdi)\n\t"
      "movq    %%rbp, 16(%%rdi)\n\t"
      "movq    0(%%rdx), %%rsp\n\t"
      "jmpq    *8(%%rdx)\n"
      "1:\n\t"
#if defined(__CET__) && (__CET__ & 1)
      "endbr64\n\t"  // the other side arrives by an indirect jmp
#endif
      "movq    16(%%rdx), %%rbp\n\t"
      : "+D"(self), "+d"(other), "+S"(value)
      :
      : "rax", "rbx", "rcx", "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15",  //
        "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7",             //
        "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15",       //
#ifdef __AVX512F__
        "xmm16", "xmm17", "xmm18", "xmm19", "xmm20", "xmm21", "xmm22", "xmm23",  //
        "xmm24", "xmm25", "xmm26", "xmm27", "xmm28", "xmm29", "xmm30", "xmm31",  //
        "k1", "k2", "k3", "k4", "k5", "k6", "k7",                                //
#endif
        "st", "st(1)", "st(2)", "st(3)", "st(4)", "st(5)", "st(6)", "st(7)",  //
        "mm0", "mm1", "mm2", "mm3", "mm4", "mm5", "mm6", "mm7",               //
        "memory", "cc");
  return value;
}

}  // namespace tandem::detail
