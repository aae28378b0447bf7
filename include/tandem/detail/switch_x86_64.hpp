// The coroutine hot path's stack switch on x86-64 (System V).
//
// tandem_jump (asm/) follows the C calling convention, so it must save and
// restore all six callee-saved registers on every switch. This switch is an
// asm statement instead: it declares every register it does not carry as
// clobbered, so the compiler keeps only what is live across it, and saves
// the callee-saved registers once in the enclosing function's prologue
// rather than on every switch of a loop.
//
// Each side leaves {rsp, resume address, rbp} in its slots and jumps to the
// other side's resume address, which is label 1 of a switch asm statement
// in the other side's code. Both sides' slots lie in one frame (a
// coroutine's: the body's and its resumer's), at offsets fixed at compile
// time, so one register, r12, carries the frame both ways: the sender
// addresses both slots from it, and the lander finds its frame there
// instead of reloading a pointer it spilled. The value travels in rbx.
// Both are registers the ABI calls callee-saved, where a compiler keeps
// what lives across calls, as the frame and the value usually do (the
// slow paths call out): so neither is moved around the switch. Notes:
//  - rbp is saved by hand: it cannot be declared clobbered when it is the
//    frame pointer.
//  - Nothing is pushed, so the red zone below rsp is never touched.
//  - The FP control state (MXCSR and x87 control word) is the thread's, as
//    across a call, so the switch neither reads nor writes it. For a
//    coroutine with stack_options::own_fp_control the resumer exchanges it
//    on each side of the switch (switch_fp_control).
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

// What a switch brings back: the value handed over, and the lander's frame
// (the block of memory its slots lie in).
struct landing {
  std::uintptr_t value;
  void* frame;
  // The status word is not carried here: 0, except after a body's yield
  // that landed at its injection landing (below): 1.
  std::uintptr_t status;
};

// The frame's status word does not travel with a switch: each side reads
// it from the frame, where a compare takes it as a memory operand at no
// cost, while a register for it would cost a load and a store more on the
// body's side (frame.hpp's landed_status).
inline constexpr bool switch_carries_status = false;

// A body's yield has two landings: the switch's own, where a resume that
// only sends a value lands, and just before it the injection landing, for
// a resume that has an exception for the yield to throw (raise, close).
// The resumer, which knows which it is, redirects the body's resume
// address to the injection landing (land_at_injection), so the yield
// tests nothing on landing: the send's hot path loses a compare with
// memory and a branch on each send (2.63 -> 2.5 ns a send on AMD Zen).
#define TANDEM_SWITCH_LANDS_INJECTIONS_APART 1
inline constexpr bool switch_lands_injections_apart = true;
#if defined(__CET__) && (__CET__ & 1)
inline constexpr std::size_t injection_landing_offset = 14;  // endbr64, movq, jmp
#else
inline constexpr std::size_t injection_landing_offset = 10;  // movq (5 bytes), jmp (5)
#endif

// A suspended body's resume address, moved from its yield's landing to the
// injection landing before it.
inline void land_at_injection(switch_slots& body) noexcept {
  body.ip = static_cast<char*>(body.ip) - injection_landing_offset;
}

// The asm statements' slot offsets, by name: [f*] those at From, [t*] those
// at To, both from the frame in r12.
#define TANDEM_SWITCH_OFFSETS(From, To)                                                           \
  [fsp] "i"((From) + offsetof(switch_slots, sp)), [fip] "i"((From) + offsetof(switch_slots, ip)), \
      [ffp] "i"((From) + offsetof(switch_slots, fp)),                                             \
      [tsp] "i"((To) + offsetof(switch_slots, sp)), [tip] "i"((To) + offsetof(switch_slots, ip))

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

// Everything but the two operands and rbp/rsp: the other side may change it.
#define TANDEM_SWITCH_CLOBBERS                                                                  \
  "rax", "rcx", "rdx", "rsi", "rdi", "r8", "r9", "r10", "r11", "r13", "r14", "r15", "xmm0",     \
      "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11", \
      "xmm12", "xmm13", "xmm14", "xmm15", TANDEM_SWITCH_CLOBBERS_AVX512 "st", "st(1)", "st(2)", \
      "st(3)", "st(4)", "st(5)", "st(6)", "st(7)", "mm0", "mm1", "mm2", "mm3", "mm4", "mm5",    \
      "mm6", "mm7", "memory", "cc"

// Resume the slots at To; the lander restores its frame pointer from its
// own slots (its From).
#define TANDEM_SWITCH_RESUME          \
  "movq    %c[tsp](%%r12), %%rsp\n\t" \
  "jmpq    *%c[tip](%%r12)\n"

// Suspend into the slots at From (resume at 1:), resume those at To.
#define TANDEM_SWITCH_JUMP                                                                    \
  "leaq    1f(%%rip), %%rax\n\t"                                                              \
  "movq    %%rsp, %c[fsp](%%r12)\n\t"                                                         \
  "movq    %%rax, %c[fip](%%r12)\n\t"                                                         \
  "movq    %%rbp, %c[ffp](%%r12)\n\t" TANDEM_SWITCH_RESUME "1:\n\t" TANDEM_SWITCH_LANDING_PAD \
  "movq    %c[ffp](%%r12), %%rbp\n\t"

// A body's yield: the switch above, with the injection landing before its
// own (label 2: it restores the frame pointer and jumps to `injected`).
// The jump is encoded by hand, with a 32-bit displacement, so that the
// landing's size is fixed. `.org` puts the yield's own landing (label 1)
// exactly injection_landing_offset bytes after label 2, whichever
// assembler (GNU as, or clang's, which cannot test a difference of labels
// with `.if`): a landing that outgrew the offset stops the build ("attempt
// to move .org backwards"); a shorter one is padded after its jump.
#define TANDEM_SWITCH_YIELD                                                                   \
  "leaq    1f(%%rip), %%rax\n\t"                                                              \
  "movq    %%rsp, %c[fsp](%%r12)\n\t"                                                         \
  "movq    %%rax, %c[fip](%%r12)\n\t"                                                         \
  "movq    %%rbp, %c[ffp](%%r12)\n\t" TANDEM_SWITCH_RESUME "2:\n\t" TANDEM_SWITCH_LANDING_PAD \
  "movq    %c[ffp](%%r12), %%rbp\n\t"                                                         \
  ".byte   0xe9\n\t"                                                                          \
  ".long   %l[injected] - . - 4\n\t"                                                          \
  ".org    2b + %c[injection_offset]\n"                                                       \
  "1:\n\t" TANDEM_SWITCH_LANDING_PAD "movq    %c[ffp](%%r12), %%rbp\n\t"

// Suspends the caller into the slots at frame + From and resumes those at
// frame + To, handing over `value`; returns what the next switch back hands
// over, with the frame, which travels in r12 both ways. StatusAt and the
// status word are the carrying switches' (switch_carries_status): unused
// here, where the caller stores the word. SameFrame: the
// caller always lands back with `frame` (a body's yield: it is resumed
// through its own frame), so r12 is an input only, and the compiler keeps
// the frame there across the switch instead of taking it as a new value.
template <std::size_t From, std::size_t To, std::size_t /*StatusAt*/, bool SameFrame = false>
__attribute__((always_inline)) inline landing switch_within(void* frame, std::uintptr_t value,
                                                            std::uintptr_t /*status*/) {
  register void* r12 asm("r12") = frame;
  register std::uintptr_t rbx asm("rbx") = value;
  if constexpr (SameFrame) {
    // A body's yield. Its two landings return two ways: after inlining,
    // the caller's test of `status` folds into each.
    asm goto(TANDEM_SWITCH_YIELD
             : "+r"(rbx)
             : "r"(r12),
               TANDEM_SWITCH_OFFSETS(From, To), [injection_offset] "i"(injection_landing_offset)
             : TANDEM_SWITCH_CLOBBERS
             : injected);
    return {rbx, r12, 0};
  injected:
    return {0, r12, 1};
  } else
    asm volatile(TANDEM_SWITCH_JUMP
                 : "+r"(r12), "+r"(rbx)
                 : TANDEM_SWITCH_OFFSETS(From, To)
                 : TANDEM_SWITCH_CLOBBERS);
  return {rbx, r12, 0};
}

// Resumes the slots at frame + To with `value` for good: the caller's
// context is never resumed, so nothing of it is kept. The lander finds
// `frame` in r12 as its own (the status word: unused here). Back: the
// slots the lander takes for those of whoever resumes it (its own To;
// RISC-V's lander writes there).
template <std::size_t To, std::size_t Back>
[[noreturn]] __attribute__((always_inline)) inline void leave_for(void* frame, std::uintptr_t value,
                                                                  std::uintptr_t /*status*/) {
  register void* r12 asm("r12") = frame;
  register std::uintptr_t rbx asm("rbx") = value;
  asm volatile(TANDEM_SWITCH_RESUME
               :
               : "r"(r12), "r"(rbx), TANDEM_SWITCH_OFFSETS(Back, To)
               : "memory");
  __builtin_unreachable();
}

#undef TANDEM_SWITCH_JUMP
#undef TANDEM_SWITCH_YIELD
#undef TANDEM_SWITCH_RESUME
#undef TANDEM_SWITCH_CLOBBERS
#undef TANDEM_SWITCH_CLOBBERS_AVX512
#undef TANDEM_SWITCH_LANDING_PAD
#undef TANDEM_SWITCH_OFFSETS

// Reads this thread's FP control state into `slots` (a coroutine's
// starting state, with stack_options::own_fp_control).
inline void store_fp_control(switch_slots* slots) noexcept {
  asm volatile("stmxcsr %0\n\tfnstcw %1" : "=m"(slots->mxcsr), "=m"(slots->x87_cw));
}

// own_fp_control, on one side of a switch: stores this thread's FP control
// state into `save`, and makes `load`'s the thread's. The MXCSR is written
// every time: reading back what stmxcsr stored, to compare it, costs more
// than the write, and leaves the same state (AMD Zen: stmxcsr, a read back
// and a compare 6.2 ns, stmxcsr and ldmxcsr 4.1 ns; an own_fp_control send
// 13.6 -> 9.8 ns). The x87 control word is written only where it differs:
// fnstcw and a compare cost 0.6 ns, and fldcw stalls the x87 unit on some
// cores. In asm, so that the control word is compared at its own width.
inline void switch_fp_control(switch_slots* save, const switch_slots* load) noexcept {
  asm volatile(
      "stmxcsr %[save_mxcsr]\n\t"
      "fnstcw  %[save_x87]\n\t"
      "ldmxcsr %[load_mxcsr]\n\t"
      "movzwl  %[save_x87], %%eax\n\t"
      "cmpw    %[load_x87], %%ax\n\t"
      "je      2f\n\t"
      "fldcw   %[load_x87]\n"
      "2:"
      : [save_mxcsr] "+m"(save->mxcsr), [save_x87] "+m"(save->x87_cw)
      : [load_mxcsr] "m"(load->mxcsr), [load_x87] "m"(load->x87_cw)
      : "rax", "cc", "memory");
}

// Loads a word, for switch.hpp's invariant_word.
#define TANDEM_LOAD_WORD "movq (%1), %0"

// The caller's stack pointer less `frame`, modulo 2^N (a yield's check
// that it runs on its own coroutine's stack, below its frame: see
// on_own_stack). Not volatile: see switch.hpp's.
inline std::uintptr_t stack_offset(const void* frame) noexcept {
  std::uintptr_t offset;
  asm("movq %%rsp, %0\n\tsubq %1, %0" : "=&r"(offset) : "r"(frame));
  return offset;
}

// A fresh body's first resume address, as the switch jumps to it (see
// set_first_resume in switch.hpp): as it is.
inline void* first_resume_address(void* start, void*) noexcept { return start; }

}  // namespace tandem::detail
