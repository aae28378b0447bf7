// The coroutine hot path's stack switch on 32-bit ARM (ARMv7-A, AAPCS-VFP:
// armhf); the design is that of switch_x86_64.hpp: an asm statement whose
// clobbers the compiler sees, so only live values are saved, and those
// once per function.
//
// Each side leaves {sp, resume address, frame pointer} in its slots and
// loads the other side's resume address into pc, which lands at label 1 of
// a switch asm statement in the other side's code; r1 then points at the
// lander's own slots, and r0 at the sender's. The value travels in r2 both
// ways. Notes:
//  - Thumb-2 and ARM code interwork: in Thumb code the resume address
//    carries bit 0 (`adr` to the label plus one), and `ldr pc` switches to
//    the state that bit says, so either side may be compiled either way.
//  - The frame pointer is saved by hand, since it cannot be declared
//    clobbered where it is one: r7 in Thumb code, r11 in ARM code. The
//    other one is clobbered like the rest.
//  - FP control (the FPSCR's control bits: trap enables, rounding mode,
//    flush-to-zero, default NaN, half-precision format) is the thread's,
//    as across a call (AAPCS: only functions whose purpose is to change
//    it do), so the plain switch leaves it alone. The switch for a
//    coroutine with stack_options::own_fp_control stores its own side's
//    FPSCR and writes the other side's control bits only when they differ
//    (vmsr fpscr serialises the FPU). The status bits (condition flags,
//    sticky exceptions) stay as the running code left them.
#pragma once

#include <cstddef>
#include <cstdint>

namespace tandem::detail {

struct switch_slots {
  void* sp = nullptr;
  void* ip = nullptr;  // bit 0 set: resume in Thumb state
  void* fp = nullptr;
  std::uint32_t fpscr = 0;  // own_fp_control only
};
static_assert(sizeof(switch_slots) == 16);

// What a switch brings back: the value handed over, and the lander's own
// slots (the `other` the sender switched to).
struct landing {
  std::uintptr_t value;
  switch_slots* own;
};

// The FPSCR bits a coroutine with own_fp_control keeps: those tandem_jump
// keeps per context (src/coroutine.cpp asserts they agree).
inline constexpr std::uint32_t fpscr_control_bits = 0x07c09f00;

#define TANDEM_SWITCH_OFFSETS                                                 \
  [sp] "i"(offsetof(switch_slots, sp)), [ip] "i"(offsetof(switch_slots, ip)), \
      [fp] "i"(offsetof(switch_slots, fp)), [fpscr] "i"(offsetof(switch_slots, fpscr))

#ifdef __thumb__
#define TANDEM_SWITCH_OTHER_FP "r11"
#define TANDEM_SWITCH_ADR "adr     r3, 1f + 1\n\t" /* bit 0: resume in Thumb state */
#define TANDEM_SWITCH_SAVE_FP "str     r7, [r0, #%c[fp]]\n\t"
#define TANDEM_SWITCH_LOAD_FP "ldr     r7, [r1, #%c[fp]]\n\t"
#else
#define TANDEM_SWITCH_OTHER_FP "r7"
#define TANDEM_SWITCH_ADR "adr     r3, 1f\n\t"
#define TANDEM_SWITCH_SAVE_FP "str     r11, [r0, #%c[fp]]\n\t"
#define TANDEM_SWITCH_LOAD_FP "ldr     r11, [r1, #%c[fp]]\n\t"
#endif

// d16-d31 exist only with NEON or VFP-D32. Compilers accept them as
// clobbers for any FPU (and where there are none, use none of them).
#define TANDEM_SWITCH_CLOBBERS_D32                                                           \
  "d16", "d17", "d18", "d19", "d20", "d21", "d22", "d23", "d24", "d25", "d26", "d27", "d28", \
      "d29", "d30", "d31",

// Everything but the three operands, the frame pointer and sp: the other
// side may change it.
#define TANDEM_SWITCH_CLOBBERS                                                                  \
  "r3", "r4", "r5", "r6", "r8", "r9", "r10", TANDEM_SWITCH_OTHER_FP, "r12", "lr", "d0", "d1",   \
      "d2", "d3", "d4", "d5", "d6", "d7", "d8", "d9", "d10", "d11", "d12", "d13", "d14", "d15", \
      TANDEM_SWITCH_CLOBBERS_D32 "memory", "cc"

// Suspend here (resume at 1:), resume there.
#define TANDEM_SWITCH_JUMP                                      \
  TANDEM_SWITCH_ADR                                             \
  "str     sp, [r0, #%c[sp]]\n\t"                               \
  "str     r3, [r0, #%c[ip]]\n\t" TANDEM_SWITCH_SAVE_FP         \
  "ldr     sp, [r1, #%c[sp]]\n\t"                               \
  "ldr     pc, [r1, #%c[ip]]\n" /* interworks, as bit 0 says */ \
  "1:\n\t" TANDEM_SWITCH_LOAD_FP

// Suspends the caller into `self`, resumes `other` with `value`; returns
// what the next switch back to `self` hands over. OwnFp: the FP control
// state is restored on each side (stack_options::own_fp_control).
template <bool OwnFp>
__attribute__((always_inline)) inline landing switch_to(switch_slots* self, switch_slots* other,
                                                        std::uintptr_t value) {
  register switch_slots* r0 asm("r0") = self;
  register switch_slots* r1 asm("r1") = other;
  register std::uintptr_t r2 asm("r2") = value;
  if constexpr (OwnFp) {
    asm volatile(
        // Ours into our slots; the other's control bits in only if they
        // differ, over our status bits.
        "vmrs    r3, fpscr\n\t"
        "str     r3, [r0, #%c[fpscr]]\n\t"
        "ldr     r12, [r1, #%c[fpscr]]\n\t"
        "movw    r4, #%c[lo]\n\t"
        "movt    r4, #%c[hi]\n\t"
        "eor     r5, r3, r12\n\t"
        "tst     r5, r4\n\t"
        "beq     2f\n\t"
        "bic     r3, r3, r4\n\t"
        "and     r12, r12, r4\n\t"
        "orr     r3, r3, r12\n\t"
        "vmsr    fpscr, r3\n"
        "2:\n\t" TANDEM_SWITCH_JUMP
        : "+r"(r0), "+r"(r1), "+r"(r2)
        : TANDEM_SWITCH_OFFSETS, [lo] "i"(fpscr_control_bits & 0xffff),
          [hi] "i"(fpscr_control_bits >> 16)
        : TANDEM_SWITCH_CLOBBERS);
  } else {
    asm volatile(TANDEM_SWITCH_JUMP
                 : "+r"(r0), "+r"(r1), "+r"(r2)
                 : TANDEM_SWITCH_OFFSETS
                 : TANDEM_SWITCH_CLOBBERS);
  }
  return {r2, r1};
}

#undef TANDEM_SWITCH_JUMP
#undef TANDEM_SWITCH_CLOBBERS
#undef TANDEM_SWITCH_CLOBBERS_D32
#undef TANDEM_SWITCH_LOAD_FP
#undef TANDEM_SWITCH_SAVE_FP
#undef TANDEM_SWITCH_ADR
#undef TANDEM_SWITCH_OTHER_FP
#undef TANDEM_SWITCH_OFFSETS

// Reads this thread's FP control state into `slots`, as the own_fp_control
// switch stores it (a coroutine's starting state).
inline void store_fp_control(switch_slots* slots) noexcept {
  asm volatile("vmrs %0, fpscr" : "=r"(slots->fpscr));
}

// The stack pointer where the caller runs (a yield's check that it is on
// its own coroutine's stack).
inline std::uintptr_t stack_pointer() noexcept {
  std::uintptr_t sp;
  asm("mov %0, sp" : "=r"(sp));
  return sp;
}

// A fresh body's first resume address, as switch_to jumps to it (see
// set_first_resume in switch.hpp): as it is.
inline void* first_resume_address(void* start, void*) noexcept { return start; }

}  // namespace tandem::detail
