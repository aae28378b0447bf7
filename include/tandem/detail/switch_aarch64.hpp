// The coroutine hot path's stack switch on AArch64 (AAPCS64); the design is
// that of switch_x86_64.hpp: an asm statement whose clobbers the compiler
// sees, so only live values are saved, and those once per function.
//
// Each side leaves {sp, resume address, x29, x22} in its slots and branches
// to the other side's resume address, label 1 of a switch asm statement in
// the other side's code. Both sides' slots lie in one frame, at offsets
// fixed at compile time, so one register, x19, carries the frame both ways
// (the lander finds it there), the value travels in x20, and the frame's
// status word in x21: registers the ABI calls callee-saved, where a
// compiler keeps what lives across calls, so none is moved around the
// switch. x22 is kept across it for the compiler: it pairs with x29, whose
// store and load it shares (stp/ldp), so it costs no instruction, and a
// value the compiler keeps there (a resumer's exception-state pointer, a
// loop of yields' stack check) is neither spilled nor reloaded.
// Notes:
//  - Where the library is compiled to sign return addresses
//    (-mbranch-protection=pac-ret or standard), the resume address is
//    signed with PAC too (modifier: the suspended stack pointer) and
//    authenticated before the branch, so a forged slot faults. The PAC
//    instructions are hints: NOPs on cores without PAC. Elsewhere the
//    compiled code's return addresses are plain ones, and a signed slot
//    would guard nothing that they leave open: it is left plain, four
//    instructions less a send. (The C API's tandem_jump, in asm/, signs
//    its own return address either way.) Every translation unit of a program
//    (the library's, the user's) reads and writes the same slots, so all
//    follow the library's choice, whatever flags each is compiled with:
//    its build hands TANDEM_AARCH64_SIGN_RESUME_ADDRESSES to its users
//    (the CMake target, tandem.pc). Code compiled without it follows its
//    own flags (__ARM_FEATURE_PAC_DEFAULT), and if that is not the
//    library's choice, the program fails to link, naming the choice (see
//    the end of this file), where it would fault at its first switch.
//  - The branch is `br x17`, so the landing label is a BTI landing pad
//    where the including code is compiled for BTI (-mbranch-protection=bti
//    or standard, which define __ARM_FEATURE_BTI_DEFAULT). The landing lies
//    in that code: the loader guards its pages only when every object of
//    the module is marked for BTI, and the compiler marks this one only
//    then, so elsewhere a pad would cost an instruction a switch for
//    nothing, as GCC leaves out its own pads there.
//  - x29 is saved by hand: it cannot be declared clobbered when it is the
//    frame pointer.
//  - FPCR is the thread's, as across a call: the switch leaves it alone.
//    For a coroutine with stack_options::own_fp_control the resumer
//    exchanges it on each side of the switch (switch_fp_control).
#pragma once

#include <cstddef>
#include <cstdint>

#ifndef TANDEM_AARCH64_SIGN_RESUME_ADDRESSES
#ifdef __ARM_FEATURE_PAC_DEFAULT
#define TANDEM_AARCH64_SIGN_RESUME_ADDRESSES 1
#else
#define TANDEM_AARCH64_SIGN_RESUME_ADDRESSES 0
#endif
#endif

// pacia1716 (sign x17, modifier x16) and autia1716 (authenticate it), where
// resume addresses are signed; nothing elsewhere.
#if TANDEM_AARCH64_SIGN_RESUME_ADDRESSES
#define TANDEM_SWITCH_SIGN "hint    #8\n\t"
#define TANDEM_SWITCH_AUTHENTICATE "hint    #12\n\t"
#else
#define TANDEM_SWITCH_SIGN
#define TANDEM_SWITCH_AUTHENTICATE
#endif

namespace tandem::detail {

struct switch_slots {
  void* sp = nullptr;
  void* ip = nullptr;  // PAC-signed with sp as the modifier, where signed
  void* fp = nullptr;
  void* x22 = nullptr;
  std::uint64_t fpcr = 0;  // own_fp_control only
};
static_assert(sizeof(switch_slots) == 40);
// sp and ip move as a pair (stp/ldp), and so do fp and x22.
static_assert(offsetof(switch_slots, ip) == offsetof(switch_slots, sp) + 8);
static_assert(offsetof(switch_slots, x22) == offsetof(switch_slots, fp) + 8);

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
// in a register (x21): the lander's check of it is then one compare of
// a register, where it would take a load and a compare (frame.hpp's
// landed_status).
inline constexpr bool switch_carries_status = true;

// A body's yield has two landings, as on x86-64 (see switch_x86_64.hpp):
// the switch's own, where a resume that only sends a value lands, and just
// before it the injection landing, for a resume that has an exception for
// the yield to throw (raise, close), to which the resumer redirects the
// body's resume address (land_at_injection). The yield then tests nothing
// on landing: a compare and a branch less on each send.
#define TANDEM_SWITCH_LANDS_INJECTIONS_APART 1
inline constexpr bool switch_lands_injections_apart = true;
// bti j (or padding, see TANDEM_SWITCH_YIELD), ldp x29/x22, b: the same in
// every translation unit, since the resumer that redirects a yield may have
// been compiled with other flags than the yield.
inline constexpr std::size_t injection_landing_offset = 12;

// A suspended body's resume address, moved from its yield's landing to the
// injection landing before it. A signed address (modifier: the body's stack
// pointer) is authenticated, moved, and signed again, so that a forged slot
// still faults at the switch (where the core has FEAT_FPAC, here).
inline void land_at_injection(switch_slots& body) noexcept {
  register void* x17 asm("x17") = body.ip;
  register void* x16 asm("x16") = body.sp;
  asm(TANDEM_SWITCH_AUTHENTICATE "sub     x17, x17, %[offset]\n\t" TANDEM_SWITCH_SIGN
      : "+r"(x17)
      : "r"(x16), [offset] "i"(injection_landing_offset));
  body.ip = x17;
}

// The asm statements' slot offsets, by name: [f*] those at From, [t*] those
// at To, both from the frame in x19.
#define TANDEM_SWITCH_OFFSETS(From, To)                                                           \
  [fsp] "i"((From) + offsetof(switch_slots, sp)), [ffp] "i"((From) + offsetof(switch_slots, fp)), \
      [tsp] "i"((To) + offsetof(switch_slots, sp))

#ifdef __ARM_FEATURE_SVE
#define TANDEM_SWITCH_CLOBBERS_SVE                                                               \
  "p0", "p1", "p2", "p3", "p4", "p5", "p6", "p7", "p8", "p9", "p10", "p11", "p12", "p13", "p14", \
      "p15",
#else
#define TANDEM_SWITCH_CLOBBERS_SVE
#endif

// Everything but the three operands, x22, x29 and sp: the other side may
// change it.
#define TANDEM_SWITCH_CLOBBERS                                                                   \
  "x0", "x1", "x2", "x3", "x4", "x5", "x6", "x7", "x8", "x9", "x10", "x11", "x12", "x13", "x14", \
      "x15", "x16", "x17", "x18", "x23", "x24", "x25", "x26", "x27", "x28", "x30", "v0", "v1",   \
      "v2", "v3", "v4", "v5", "v6", "v7", "v8", "v9", "v10", "v11", "v12", "v13", "v14", "v15",  \
      "v16", "v17", "v18", "v19", "v20", "v21", "v22", "v23", "v24", "v25", "v26", "v27", "v28", \
      "v29", "v30", "v31", TANDEM_SWITCH_CLOBBERS_SVE "memory", "cc"

// Resume the slots at To (authenticated, where signed).
#define TANDEM_SWITCH_RESUME                                               \
  "ldp     x16, x17, [x19, #%[tsp]]\n\t"                                   \
  "mov     sp, x16\n\t" TANDEM_SWITCH_AUTHENTICATE /* x17, modifier x16 */ \
  "br      x17\n"

// Suspend into the slots at From (resume at 1:, signed where resume
// addresses are), resume those at To.
#define TANDEM_SWITCH_SUSPEND                                      \
  "adr     x17, 1f\n\t"                                            \
  "mov     x16, sp\n\t" TANDEM_SWITCH_SIGN /* x17, modifier x16 */ \
  "stp     x16, x17, [x19, #%[fsp]]\n\t"                           \
  "stp     x29, x22, [x19, #%[ffp]]\n\t" TANDEM_SWITCH_RESUME

// A landing: the other side arrives by br; the frame pointer and x22 come
// back.
#ifdef __ARM_FEATURE_BTI_DEFAULT
#define TANDEM_SWITCH_BTI_J "hint    #36\n\t" /* bti j */
#else
#define TANDEM_SWITCH_BTI_J
#endif
#define TANDEM_SWITCH_LANDING TANDEM_SWITCH_BTI_J "ldp     x29, x22, [x19, #%[ffp]]\n\t"

#define TANDEM_SWITCH_JUMP TANDEM_SWITCH_SUSPEND "1:\n\t" TANDEM_SWITCH_LANDING

// A body's yield: the switch above, with the injection landing before its
// own (label 2: it jumps on to `injected`). `.org` puts the yield's own
// landing (label 1) exactly injection_landing_offset bytes after it (see
// switch_x86_64.hpp): a landing that outgrew the offset stops the build,
// and one without its pad is followed by 4 bytes of padding, never run
// (the b before them jumps).
#define TANDEM_SWITCH_YIELD                                   \
  TANDEM_SWITCH_SUSPEND "2:\n\t" TANDEM_SWITCH_LANDING        \
                        "b       %l[injected]\n\t"            \
                        ".org    2b + %c[injection_offset]\n" \
                        "1:\n\t" TANDEM_SWITCH_LANDING

// Store the status word (32 bits: its upper half is always zero) at
// StatusAt from the frame, where the other side's next checks read it.
#define TANDEM_SWITCH_STORE_STATUS "str     w21, [x19, #%[sat]]\n\t"

// Suspends the caller into the slots at frame + From and resumes those at
// frame + To, handing over `value`; returns what the next switch back hands
// over, with the frame, which travels in x19 both ways. It stores `status`,
// the frame's status word as the other side is to find it, at frame +
// StatusAt, and hands it over as well (landing::status). SameFrame: the
// caller always lands back with `frame` (a body's yield: it is resumed
// through its own frame), so x19 is an input only, and the compiler keeps
// the frame there across the switch instead of taking it as a new value.
template <std::size_t From, std::size_t To, std::size_t StatusAt, bool SameFrame = false>
__attribute__((always_inline)) inline landing switch_within(void* frame, std::uintptr_t value,
                                                            std::uintptr_t status) {
  register void* x19 asm("x19") = frame;
  register std::uintptr_t x20 asm("x20") = value;
  register std::uintptr_t x21 asm("x21") = status;
  if constexpr (SameFrame) {
    // A body's yield. Its two landings return two ways: after inlining,
    // the caller's test of the status folds into each. The status the
    // resumer hands over is not read: where the body lands says it.
    // Its length as GCC is to count it (see switch.hpp): 15
    // instructions, with the status store and the padding.
    TANDEM_ASM_GOTO_LENGTH(TANDEM_EIGHT_LINES TANDEM_EIGHT_LINES);
    asm goto(TANDEM_SWITCH_STORE_STATUS TANDEM_SWITCH_YIELD
             : "+r"(x20), "+r"(x21)
             : "r"(x19), TANDEM_SWITCH_OFFSETS(From, To), [sat] "i"(StatusAt),
               [injection_offset] "i"(injection_landing_offset)
             : TANDEM_SWITCH_CLOBBERS
             : injected);
    return {x20, x19, 0};
  injected:
    return {0, x19, 1};
  } else
    asm volatile(TANDEM_SWITCH_STORE_STATUS TANDEM_SWITCH_JUMP
                 : "+r"(x19), "+r"(x20), "+r"(x21)
                 : TANDEM_SWITCH_OFFSETS(From, To), [sat] "i"(StatusAt)
                 : TANDEM_SWITCH_CLOBBERS);
  return {x20, x19, x21};
}

// Resumes the slots at frame + To with `value` for good: the caller's
// context is never resumed, so nothing of it is kept. The lander finds
// `frame` in x19 as its own, and `status` (the frame's status word, which
// the caller has stored) as handed over. Back: the slots the lander takes
// for those of whoever resumes it (its own To; RISC-V's lander writes
// there).
template <std::size_t To, std::size_t Back>
[[noreturn]] __attribute__((always_inline)) inline void leave_for(void* frame, std::uintptr_t value,
                                                                  std::uintptr_t status) {
  register void* x19 asm("x19") = frame;
  register std::uintptr_t x20 asm("x20") = value;
  register std::uintptr_t x21 asm("x21") = status;
  asm volatile(TANDEM_SWITCH_RESUME
               :
               : "r"(x19), "r"(x20), "r"(x21), TANDEM_SWITCH_OFFSETS(Back, To)
               : "x16", "x17", "memory");
  __builtin_unreachable();
}

#undef TANDEM_SWITCH_JUMP
#undef TANDEM_SWITCH_YIELD
#undef TANDEM_SWITCH_LANDING
#undef TANDEM_SWITCH_BTI_J
#undef TANDEM_SWITCH_SUSPEND
#undef TANDEM_SWITCH_STORE_STATUS
#undef TANDEM_SWITCH_RESUME
#undef TANDEM_SWITCH_CLOBBERS
#undef TANDEM_SWITCH_CLOBBERS_SVE
#undef TANDEM_SWITCH_OFFSETS

// Reads this thread's FP control state into `slots` (a coroutine's
// starting state, with stack_options::own_fp_control).
inline void store_fp_control(switch_slots* slots) noexcept {
  asm volatile("mrs %0, fpcr" : "=r"(slots->fpcr));
}

// own_fp_control, on one side of a switch: stores this thread's FPCR into
// `save`, and makes `load`'s the thread's where it differs (the write can
// stall the pipeline).
inline void switch_fp_control(switch_slots* save, const switch_slots* load) noexcept {
  store_fp_control(save);
  if (save->fpcr != load->fpcr) asm volatile("msr fpcr, %0" : : "r"(load->fpcr) : "memory");
}

// Signs a fresh body's first resume address as the switch expects it.
inline void* sign_resume_address(void* ip, void* sp) noexcept {
  register void* x17 asm("x17") = ip;
  register void* x16 asm("x16") = sp;
  asm("" TANDEM_SWITCH_SIGN : "+r"(x17) : "r"(x16));
  return x17;
}

// Reads the thread pointer, for switch.hpp's thread_address.
#define TANDEM_READ_THREAD_POINTER "mrs %0, tpidr_el0"
// A yield's stack check, for switch.hpp's runs_below: %0 the floor, then
// whether the stack pointer less the frame (%1) is above it (unsigned).
#define TANDEM_STACK_CHECK "ldr %0, [%3]\n\tsub %1, sp, %2\n\tcmp %1, %0\n\tcset %0, hi"

// A fresh body's first resume address, as the switch jumps to it (see
// set_first_resume in switch.hpp): signed with the body's stack pointer
// where resume addresses are signed.
inline void* first_resume_address(void* start, void* sp) noexcept {
  return sign_resume_address(start, sp);
}

}  // namespace tandem::detail

// Whether resume addresses are signed is part of the switch's ABI (see the
// notes at the top). Each translation unit that includes this header refers
// to the symbol named for its choice; the library defines the one for its
// own (src/coroutine.cpp). Code that made the other choice fails to link
// with "undefined reference to" its symbol.
#if TANDEM_AARCH64_SIGN_RESUME_ADDRESSES
extern "C" const char tandem_abi_aarch64_resume_addresses_signed;
#define TANDEM_SWITCH_ABI_SYMBOL tandem_abi_aarch64_resume_addresses_signed
#else
extern "C" const char tandem_abi_aarch64_resume_addresses_unsigned;
#define TANDEM_SWITCH_ABI_SYMBOL tandem_abi_aarch64_resume_addresses_unsigned
#endif
namespace tandem::detail {
// Kept in every object file (used), and by a linker that collects unused
// sections too (retain), unread.
#if defined(__has_attribute) && __has_attribute(retain)
[[gnu::used, gnu::retain]]
#else
[[gnu::used]]
#endif
static const char* const switch_abi_check = &TANDEM_SWITCH_ABI_SYMBOL;
}  // namespace tandem::detail

#undef TANDEM_SWITCH_SIGN
#undef TANDEM_SWITCH_AUTHENTICATE
