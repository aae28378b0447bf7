// The coroutine hot path's stack switch on AArch64 (AAPCS64); the design is
// that of switch_x86_64.hpp: an asm statement whose clobbers the compiler
// sees, so only live values are saved, and those once per function.
//
// Each side leaves {sp, resume address, x29} in its slots and branches to
// the other side's resume address, label 1 of a switch asm statement in the
// other side's code; x1 then points at the lander's own slots, and x0 at
// the sender's. The value travels in x2 both ways. Notes:
//  - The resume address is signed with PAC (modifier: the suspended stack
//    pointer) and authenticated before the branch, so a forged slot faults.
//    The PAC instructions are hints: NOPs on cores without PAC.
//  - The branch is `br x17`, so the landing label is a BTI landing pad.
//  - x29 is saved by hand: it cannot be declared clobbered when it is the
//    frame pointer.
//  - FPCR is the thread's, as across a call: the plain switch leaves it
//    alone. The switch for a coroutine with stack_options::own_fp_control
//    stores its own side's and writes the other's only when they differ
//    (the write can stall the pipeline).
#pragma once

#include <cstddef>
#include <cstdint>

namespace tandem::detail {

struct switch_slots {
  void* sp = nullptr;
  void* ip = nullptr;  // PAC-signed with sp as the modifier
  void* fp = nullptr;
  std::uint64_t fpcr = 0;  // own_fp_control only
};
static_assert(sizeof(switch_slots) == 32);
// sp and ip move as a pair (stp/ldp).
static_assert(offsetof(switch_slots, ip) == offsetof(switch_slots, sp) + 8);

// What a switch brings back: the value handed over, and the lander's own
// slots (the `other` the sender switched to).
struct landing {
  std::uintptr_t value;
  switch_slots* own;
};

#define TANDEM_SWITCH_OFFSETS                                                 \
  [sp] "i"(offsetof(switch_slots, sp)), [fp] "i"(offsetof(switch_slots, fp)), \
      [fpcr] "i"(offsetof(switch_slots, fpcr))

#ifdef __ARM_FEATURE_SVE
#define TANDEM_SWITCH_CLOBBERS_SVE                                                               \
  "p0", "p1", "p2", "p3", "p4", "p5", "p6", "p7", "p8", "p9", "p10", "p11", "p12", "p13", "p14", \
      "p15",
#else
#define TANDEM_SWITCH_CLOBBERS_SVE
#endif

// Everything but the three operands, x29 and sp: the other side may change it.
#define TANDEM_SWITCH_CLOBBERS                                                                   \
  "x3", "x4", "x5", "x6", "x7", "x8", "x9", "x10", "x11", "x12", "x13", "x14", "x15", "x16",     \
      "x17", "x18", "x19", "x20", "x21", "x22", "x23", "x24", "x25", "x26", "x27", "x28", "x30", \
      "v0", "v1", "v2", "v3", "v4", "v5", "v6", "v7", "v8", "v9", "v10", "v11", "v12", "v13",    \
      "v14", "v15", "v16", "v17", "v18", "v19", "v20", "v21", "v22", "v23", "v24", "v25", "v26", \
      "v27", "v28", "v29", "v30", "v31", TANDEM_SWITCH_CLOBBERS_SVE "memory", "cc"

// Suspend here (resume at 1:, signed), resume there (authenticated).
#define TANDEM_SWITCH_JUMP                                     \
  "adr     x17, 1f\n\t"                                        \
  "mov     x16, sp\n\t"                                        \
  "hint    #8\n\t" /* pacia1716: sign x17 with x16 */          \
  "stp     x16, x17, [x0, #%[sp]]\n\t"                         \
  "str     x29, [x0, #%[fp]]\n\t"                              \
  "ldp     x16, x17, [x1, #%[sp]]\n\t"                         \
  "mov     sp, x16\n\t"                                        \
  "hint    #12\n\t" /* autia1716: authenticate x17 with x16 */ \
  "br      x17\n"                                              \
  "1:\n\t"                                                     \
  "hint    #36\n\t" /* bti j: the other side arrives by br */  \
  "ldr     x29, [x1, #%[fp]]\n\t"

// Suspends the caller into `self`, resumes `other` with `value`; returns
// what the next switch back to `self` hands over. OwnFp: the FP control
// state is restored on each side (stack_options::own_fp_control).
template <bool OwnFp>
__attribute__((always_inline)) inline landing switch_to(switch_slots* self, switch_slots* other,
                                                        std::uintptr_t value) {
  register switch_slots* x0 asm("x0") = self;
  register switch_slots* x1 asm("x1") = other;
  register std::uintptr_t x2 asm("x2") = value;
  if constexpr (OwnFp) {
    asm volatile(
        // Ours into our slots; the other's in only if different.
        "mrs     x9, fpcr\n\t"
        "str     x9, [x0, #%[fpcr]]\n\t"
        "ldr     x10, [x1, #%[fpcr]]\n\t"
        "cmp     x9, x10\n\t"
        "b.eq    2f\n\t"
        "msr     fpcr, x10\n"
        "2:\n\t" TANDEM_SWITCH_JUMP
        : "+r"(x0), "+r"(x1), "+r"(x2)
        : TANDEM_SWITCH_OFFSETS
        : TANDEM_SWITCH_CLOBBERS);
  } else {
    asm volatile(TANDEM_SWITCH_JUMP
                 : "+r"(x0), "+r"(x1), "+r"(x2)
                 : TANDEM_SWITCH_OFFSETS
                 : TANDEM_SWITCH_CLOBBERS);
  }
  return {x2, x1};
}

#undef TANDEM_SWITCH_JUMP
#undef TANDEM_SWITCH_CLOBBERS
#undef TANDEM_SWITCH_CLOBBERS_SVE
#undef TANDEM_SWITCH_OFFSETS

// Reads this thread's FP control state into `slots`, as the own_fp_control
// switch stores it (a coroutine's starting state).
inline void store_fp_control(switch_slots* slots) noexcept {
  asm volatile("mrs %0, fpcr" : "=r"(slots->fpcr));
}

// Signs a fresh body's first resume address as switch_to expects it.
inline void* sign_resume_address(void* ip, void* sp) noexcept {
  register void* x17 asm("x17") = ip;
  register void* x16 asm("x16") = sp;
  asm("hint #8" : "+r"(x17) : "r"(x16));  // pacia1716
  return x17;
}

// The stack pointer where the caller runs (a yield's check that it is on
// its own coroutine's stack).
inline std::uintptr_t stack_pointer() noexcept {
  std::uintptr_t sp;
  asm("mov %0, sp" : "=r"(sp));
  return sp;
}

// A fresh body's first resume address, as switch_to jumps to it (see
// set_first_resume in switch.hpp): signed with the body's stack pointer.
inline void* first_resume_address(void* start, void* sp) noexcept {
  return sign_resume_address(start, sp);
}

}  // namespace tandem::detail
