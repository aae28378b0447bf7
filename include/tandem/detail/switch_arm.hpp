// The coroutine hot path's stack switch on 32-bit ARM (ARMv7-A, AAPCS-VFP:
// armhf); the design is that of switch_x86_64.hpp: an asm statement whose
// clobbers the compiler sees, so only live values are saved, and those
// once per function.
//
// Each side leaves {sp, resume address, frame pointer} in its slots and
// loads the other side's resume address into pc, which lands at label 1 of
// a switch asm statement in the other side's code. Both sides' slots lie in
// one frame, at offsets fixed at compile time, so one register, r4,
// carries the frame both ways (the lander finds it there), the value
// travels in r5, and the frame's status word in r6: registers the ABI
// calls callee-saved, where a compiler keeps what lives across calls, so
// none is moved around the switch. Notes:
//  - Thumb-2 and ARM code interwork: in Thumb code the resume address
//    carries bit 0 (`adr` to the label plus one), and `ldr pc` switches to
//    the state that bit says, so either side may be compiled either way.
//  - The frame pointer is saved by hand, since it cannot be declared
//    clobbered where it is one: r7 in Thumb code, r11 in ARM code. The
//    other one is clobbered like the rest.
//  - FP control (the FPSCR's control bits: trap enables, rounding mode,
//    flush-to-zero, default NaN, half-precision format) is the thread's,
//    as across a call (AAPCS: only functions whose purpose is to change
//    it do), so the switch leaves it alone. For a coroutine with
//    stack_options::own_fp_control the resumer exchanges the control bits
//    on each side of the switch (switch_fp_control); the status bits
//    (condition flags, sticky exceptions) stay as the running code left
//    them.
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
// ip and fp are stored as a pair (strd).
static_assert(offsetof(switch_slots, fp) == offsetof(switch_slots, ip) + 4);

// What a switch brings back: the value handed over, the lander's frame
// (the block of memory its slots lie in), and the frame's status word as
// the sender left it; after a body's yield, which landing it took instead
// (0: its own, 1: the injection landing).
struct landing {
  std::uintptr_t value;
  void* frame;
  std::uintptr_t status;
};

// The sender hands over the status word it has just stored in the frame,
// in a register (r6): the lander's check of it is then one compare of
// a register, where it would take a load and a compare (frame.hpp's
// landed_status).
inline constexpr bool switch_carries_status = true;

// The FPSCR bits a coroutine with own_fp_control keeps: those tandem_jump
// keeps per context (src/coroutine.cpp asserts they agree).
inline constexpr std::uint32_t fpscr_control_bits = 0x07c09f00;

// A body's yield has two landings, as on x86-64 (see switch_x86_64.hpp):
// the switch's own, where a resume that only sends a value lands, and just
// before it the injection landing, for a resume that has an exception for
// the yield to throw (raise, close), to which the resumer redirects the
// body's resume address (land_at_injection). The yield then tests nothing
// on landing: a compare and a branch less on each send.
#define TANDEM_SWITCH_LANDS_INJECTIONS_APART 1
inline constexpr bool switch_lands_injections_apart = true;
// ldr.w and b.w: 4 bytes each in Thumb code, as every instruction in ARM
// code.
inline constexpr std::size_t injection_landing_offset = 8;

// A suspended body's resume address, moved from its yield's landing to the
// injection landing before it (bit 0, the Thumb state, stays).
inline void land_at_injection(switch_slots& body) noexcept {
  body.ip = static_cast<char*>(body.ip) - injection_landing_offset;
}

// The asm statements' slot offsets, by name: [f*] those at From, [t*] those
// at To, both from the frame in r4.
#define TANDEM_SWITCH_OFFSETS(From, To)                                                           \
  [fsp] "i"((From) + offsetof(switch_slots, sp)), [fip] "i"((From) + offsetof(switch_slots, ip)), \
      [ffp] "i"((From) + offsetof(switch_slots, fp)),                                             \
      [tsp] "i"((To) + offsetof(switch_slots, sp)), [tip] "i"((To) + offsetof(switch_slots, ip))

// The resume address (in r3) and the frame pointer are stored together:
// Thumb-2's strd takes any two registers, ARM's only an even-odd pair.
#ifdef __thumb__
#define TANDEM_SWITCH_OTHER_FP "r11"
#define TANDEM_SWITCH_ADR "adr     r3, 1f + 1\n\t" /* bit 0: resume in Thumb state */
#define TANDEM_SWITCH_SAVE_IP_FP "strd    r3, r7, [r4, #%c[fip]]\n\t"
#define TANDEM_SWITCH_LOAD_FP "ldr     r7, [r4, #%c[ffp]]\n\t"
#define TANDEM_SWITCH_LOAD_FP_WIDE "ldr.w   r7, [r4, #%c[ffp]]\n\t"
#define TANDEM_SWITCH_BRANCH_WIDE "b.w     %l[injected]\n\t"
#else
#define TANDEM_SWITCH_OTHER_FP "r7"
#define TANDEM_SWITCH_ADR "adr     r3, 1f\n\t"
#define TANDEM_SWITCH_SAVE_IP_FP   \
  "str     r3, [r4, #%c[fip]]\n\t" \
  "str     r11, [r4, #%c[ffp]]\n\t"
#define TANDEM_SWITCH_LOAD_FP "ldr     r11, [r4, #%c[ffp]]\n\t"
#define TANDEM_SWITCH_LOAD_FP_WIDE TANDEM_SWITCH_LOAD_FP
#define TANDEM_SWITCH_BRANCH_WIDE "b       %l[injected]\n\t"
#endif

// d16-d31 exist only with NEON or VFP-D32. Compilers accept them as
// clobbers for any FPU (and where there are none, use none of them).
#define TANDEM_SWITCH_CLOBBERS_D32                                                           \
  "d16", "d17", "d18", "d19", "d20", "d21", "d22", "d23", "d24", "d25", "d26", "d27", "d28", \
      "d29", "d30", "d31",

// Everything but the three operands, the frame pointer and sp: the other
// side may change it.
#define TANDEM_SWITCH_CLOBBERS                                                                  \
  "r0", "r1", "r2", "r3", "r8", "r9", "r10", TANDEM_SWITCH_OTHER_FP, "r12", "lr", "d0", "d1",   \
      "d2", "d3", "d4", "d5", "d6", "d7", "d8", "d9", "d10", "d11", "d12", "d13", "d14", "d15", \
      TANDEM_SWITCH_CLOBBERS_D32 "memory", "cc"

// Resume the slots at To.
#define TANDEM_SWITCH_RESUME       \
  "ldr     sp, [r4, #%c[tsp]]\n\t" \
  "ldr     pc, [r4, #%c[tip]]\n" /* interworks, as bit 0 says */

// Suspend into the slots at From (resume at 1:), resume those at To.
#define TANDEM_SWITCH_SUSPEND \
  TANDEM_SWITCH_ADR           \
  "str     sp, [r4, #%c[fsp]]\n\t" TANDEM_SWITCH_SAVE_IP_FP TANDEM_SWITCH_RESUME

#define TANDEM_SWITCH_JUMP TANDEM_SWITCH_SUSPEND "1:\n\t" TANDEM_SWITCH_LOAD_FP

// A body's yield: the switch above, with the injection landing before its
// own (label 2: it restores the frame pointer and branches to `injected`),
// in wide encodings, so that its size is fixed. `.org` puts the yield's
// own landing (label 1) exactly injection_landing_offset bytes after it
// (see switch_x86_64.hpp): a landing that outgrew the offset stops the
// build.
#define TANDEM_SWITCH_YIELD                                                           \
  TANDEM_SWITCH_SUSPEND "2:\n\t" TANDEM_SWITCH_LOAD_FP_WIDE TANDEM_SWITCH_BRANCH_WIDE \
                        ".org    2b + %c[injection_offset]\n"                         \
                        "1:\n\t" TANDEM_SWITCH_LOAD_FP

// Store the status word (32 bits: its upper half is always zero) at
// StatusAt from the frame, where the other side's next checks read it.
#define TANDEM_SWITCH_STORE_STATUS "str     r6, [r4, #%c[sat]]\n\t"

// Suspends the caller into the slots at frame + From and resumes those at
// frame + To, handing over `value`; returns what the next switch back hands
// over, with the frame, which travels in r4 both ways. It stores `status`,
// the frame's status word as the other side is to find it, at frame +
// StatusAt, and hands it over as well (landing::status). SameFrame: the
// caller always lands back with `frame` (a body's yield: it is resumed
// through its own frame), so r4 is an input only, and the compiler keeps
// the frame there across the switch instead of taking it as a new value.
template <std::size_t From, std::size_t To, std::size_t StatusAt, bool SameFrame = false>
__attribute__((always_inline)) inline landing switch_within(void* frame, std::uintptr_t value,
                                                            std::uintptr_t status) {
  register void* r4 asm("r4") = frame;
  register std::uintptr_t r5 asm("r5") = value;
  register std::uintptr_t r6 asm("r6") = status;
  if constexpr (SameFrame) {
    // A body's yield. Its two landings return two ways: after inlining,
    // the caller's test of the status folds into each. The status the
    // resumer hands over is not read: where the body lands says it.
    // Its length as GCC is to count it (see switch.hpp): at most 12
    // instructions, with the status store.
    TANDEM_ASM_GOTO_LENGTH(TANDEM_EIGHT_LINES "\n\n\n\n");
    asm goto(TANDEM_SWITCH_STORE_STATUS TANDEM_SWITCH_YIELD
             : "+r"(r5), "+r"(r6)
             : "r"(r4), TANDEM_SWITCH_OFFSETS(From, To), [sat] "i"(StatusAt),
               [injection_offset] "i"(injection_landing_offset)
             : TANDEM_SWITCH_CLOBBERS
             : injected);
    return {r5, r4, 0};
  injected:
    return {0, r4, 1};
  } else
    asm volatile(TANDEM_SWITCH_STORE_STATUS TANDEM_SWITCH_JUMP
                 : "+r"(r4), "+r"(r5), "+r"(r6)
                 : TANDEM_SWITCH_OFFSETS(From, To), [sat] "i"(StatusAt)
                 : TANDEM_SWITCH_CLOBBERS);
  return {r5, r4, r6};
}

// Resumes the slots at frame + To with `value` for good: the caller's
// context is never resumed, so nothing of it is kept. The lander finds
// `frame` in r4 as its own, and `status` (the frame's status word, which
// the caller has stored) as handed over. Back: the slots the lander takes
// for those of whoever resumes it (its own To; RISC-V's lander writes
// there).
template <std::size_t To, std::size_t Back>
[[noreturn]] __attribute__((always_inline)) inline void leave_for(void* frame, std::uintptr_t value,
                                                                  std::uintptr_t status) {
  register void* r4 asm("r4") = frame;
  register std::uintptr_t r5 asm("r5") = value;
  register std::uintptr_t r6 asm("r6") = status;
  asm volatile(TANDEM_SWITCH_RESUME
               :
               : "r"(r4), "r"(r5), "r"(r6), TANDEM_SWITCH_OFFSETS(Back, To)
               : "memory");
  __builtin_unreachable();
}

#undef TANDEM_SWITCH_JUMP
#undef TANDEM_SWITCH_YIELD
#undef TANDEM_SWITCH_SUSPEND
#undef TANDEM_SWITCH_LOAD_FP_WIDE
#undef TANDEM_SWITCH_BRANCH_WIDE
#undef TANDEM_SWITCH_STORE_STATUS
#undef TANDEM_SWITCH_RESUME
#undef TANDEM_SWITCH_CLOBBERS
#undef TANDEM_SWITCH_CLOBBERS_D32
#undef TANDEM_SWITCH_LOAD_FP
#undef TANDEM_SWITCH_SAVE_IP_FP
#undef TANDEM_SWITCH_ADR
#undef TANDEM_SWITCH_OTHER_FP
#undef TANDEM_SWITCH_OFFSETS

// Reads this thread's FP control state into `slots` (a coroutine's
// starting state, with stack_options::own_fp_control).
inline void store_fp_control(switch_slots* slots) noexcept {
  asm volatile("vmrs %0, fpscr" : "=r"(slots->fpscr));
}

// own_fp_control, on one side of a switch: stores this thread's FPSCR into
// `save`, and writes `load`'s control bits over the current status bits
// where they differ (vmsr fpscr serialises the FPU).
inline void switch_fp_control(switch_slots* save, const switch_slots* load) noexcept {
  store_fp_control(save);
  if (((save->fpscr ^ load->fpscr) & fpscr_control_bits) != 0) {
    const std::uint32_t fpscr =
        (save->fpscr & ~fpscr_control_bits) | (load->fpscr & fpscr_control_bits);
    asm volatile("vmsr fpscr, %0" : : "r"(fpscr) : "memory");
  }
}

// Reads the thread pointer, for switch.hpp's thread_address.
#define TANDEM_READ_THREAD_POINTER "mrc p15, 0, %0, c13, c0, 3"
// A yield's stack check, for switch.hpp's runs_below: %0 the floor, %1
// the stack pointer less the frame; floor - offset borrows when the offset
// is above the floor (unsigned), and sbc then makes %0 all ones, else zero.
#define TANDEM_STACK_CHECK "ldr %0, [%3]\n\tsub %1, sp, %2\n\tsubs %1, %0, %1\n\tsbc %0, %0, %0"

// A fresh body's first resume address, as the switch jumps to it (see
// set_first_resume in switch.hpp): as it is.
inline void* first_resume_address(void* start, void*) noexcept { return start; }

}  // namespace tandem::detail
