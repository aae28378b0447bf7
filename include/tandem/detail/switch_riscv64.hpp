// The coroutine hot path's stack switch on RISC-V 64 (RV64GC, LP64D); the
// design is that of switch_x86_64.hpp: an asm statement whose clobbers the
// compiler sees, so only live values are saved, and those once per
// function.
//
// Each side leaves {sp, resume address, s0} in its slots and jumps to the
// other side's resume address, label 1 of a switch asm statement in the
// other side's code. Both sides' slots lie in one frame, at offsets fixed
// at compile time, so one register, s1, carries the frame both ways (the
// lander finds it there), the value travels in s2, and the frame's status
// word in s3: registers the ABI calls callee-saved, where a compiler keeps
// what lives across calls, so none is moved around the switch. Notes:
//  - The jump is `jalr t1`: it leaves the sender's resume address (the
//    label just after it) in t1, and the lander stores it into the
//    sender's slots (its own To: the sender suspended there). That saves forming the address (auipc
//    + addi) and one store. t1 and t2 are not link registers, so the jump neither pushes onto nor
//    pops the return-address stack that cores predict returns by.
//  - s0 is saved by hand: it cannot be declared clobbered when it is the
//    frame pointer. gp and tp are the program's and the thread's, the same
//    on both sides.
//  - FP control (frm, the rounding mode) is the thread's, as across a call
//    (the psABI: only functions whose purpose is to change it do), so the
//    switch leaves it alone. For a coroutine with
//    stack_options::own_fp_control the resumer exchanges it on each side
//    of the switch (switch_fp_control). The exception flags (fflags) are
//    sticky status, not control: they stay as the running code left them,
//    as they do across tandem_jump.
#pragma once

#include <cstddef>
#include <cstdint>

namespace tandem::detail {

struct switch_slots {
  void* sp = nullptr;
  void* ip = nullptr;
  void* fp = nullptr;
  std::uint64_t frm = 0;  // own_fp_control only
};
static_assert(sizeof(switch_slots) == 32);
// asm/riscv64_sysv_elf_gas.S's tandem_coroutine_start stores the resumer's
// resume address into its slots (src/coroutine.cpp asserts the offset).

// What a switch brings back: the value handed over, the lander's frame
// (the block of memory its slots lie in), and the frame's status word as
// the sender left it.
struct landing {
  std::uintptr_t value;
  void* frame;
  std::uintptr_t status;
};

// The sender hands over the status word it has just stored in the frame,
// in a register (s3): the lander's check of it is then one compare of
// a register, where it would take a load and a compare (frame.hpp's
// landed_status).
inline constexpr bool switch_carries_status = true;

// The asm statements' slot offsets, by name: [f*] those at From, [t*] those
// at To, both from the frame in s1.
#define TANDEM_SWITCH_OFFSETS(From, To)                                                           \
  [fsp] "i"((From) + offsetof(switch_slots, sp)), [ffp] "i"((From) + offsetof(switch_slots, fp)), \
      [tsp] "i"((To) + offsetof(switch_slots, sp)), [tip] "i"((To) + offsetof(switch_slots, ip))

// Everything but the three operands, s0, sp, gp and tp: the other side may
// change it.
#define TANDEM_SWITCH_CLOBBERS                                                                     \
  "ra", "t0", "t1", "t2", "t3", "t4", "t5", "t6", "s4", "s5", "s6", "s7", "s8", "s9", "s10",       \
      "s11", "a0", "a1", "a2", "a3", "a4", "a5", "a6", "a7", "ft0", "ft1", "ft2", "ft3", "ft4",    \
      "ft5", "ft6", "ft7", "ft8", "ft9", "ft10", "ft11", "fs0", "fs1", "fs2", "fs3", "fs4", "fs5", \
      "fs6", "fs7", "fs8", "fs9", "fs10", "fs11", "fa0", "fa1", "fa2", "fa3", "fa4", "fa5", "fa6", \
      "fa7", "memory"

// Suspend into the slots at From (resume at 1:, whose address jalr leaves
// in t1), resume those at To; the lander records where the sender resumes.
#define TANDEM_SWITCH_JUMP     \
  "ld      t2, %[tip](s1)\n\t" \
  "sd      sp, %[fsp](s1)\n\t" \
  "sd      s0, %[ffp](s1)\n\t" \
  "ld      sp, %[tsp](s1)\n\t" \
  "jalr    t1, t2\n"           \
  "1:\n\t"                     \
  "sd      t1, %[tip](s1)\n\t" \
  "ld      s0, %[ffp](s1)\n\t"

// Store the status word (32 bits: its upper half is always zero) at
// StatusAt from the frame, where the other side's next checks read it.
#define TANDEM_SWITCH_STORE_STATUS "sw      s3, %[sat](s1)\n\t"

// Suspends the caller into the slots at frame + From and resumes those at
// frame + To, handing over `value`; returns what the next switch back hands
// over, with the frame, which travels in s1 both ways. It stores `status`,
// the frame's status word as the other side is to find it, at frame +
// StatusAt, and hands it over as well (landing::status). SameFrame: the
// caller always lands back with `frame` (a body's yield: it is resumed
// through its own frame), so s1 is an input only, and the compiler keeps
// the frame there across the switch instead of taking it as a new value.
template <std::size_t From, std::size_t To, std::size_t StatusAt, bool SameFrame = false>
__attribute__((always_inline)) inline landing switch_within(void* frame, std::uintptr_t value,
                                                            std::uintptr_t status) {
  register void* s1 asm("s1") = frame;
  register std::uintptr_t s2 asm("s2") = value;
  register std::uintptr_t s3 asm("s3") = status;
  if constexpr (SameFrame)
    asm volatile(TANDEM_SWITCH_STORE_STATUS TANDEM_SWITCH_JUMP
                 : "+r"(s2), "+r"(s3)
                 : "r"(s1), TANDEM_SWITCH_OFFSETS(From, To), [sat] "i"(StatusAt)
                 : TANDEM_SWITCH_CLOBBERS);
  else
    asm volatile(TANDEM_SWITCH_STORE_STATUS TANDEM_SWITCH_JUMP
                 : "+r"(s1), "+r"(s2), "+r"(s3)
                 : TANDEM_SWITCH_OFFSETS(From, To), [sat] "i"(StatusAt)
                 : TANDEM_SWITCH_CLOBBERS);
  return {s2, s1, s3};
}

// Resumes the slots at frame + To with `value` for good: the caller's
// context is never resumed, so nothing of it is kept. The lander finds
// `frame` in s1 as its own, and `status` (the frame's status word, which
// the caller has stored) as handed over, and stores t1 into the slots it
// takes for those of whoever resumes it, Back (its own To): t1 carries
// what is already there.
template <std::size_t To, std::size_t Back>
[[noreturn]] __attribute__((always_inline)) inline void leave_for(void* frame, std::uintptr_t value,
                                                                  std::uintptr_t status) {
  register void* s1 asm("s1") = frame;
  register std::uintptr_t s2 asm("s2") = value;
  register std::uintptr_t s3 asm("s3") = status;
  asm volatile(
      "ld      t2, %[tip](s1)\n\t"
      "ld      t1, %[bip](s1)\n\t"
      "ld      sp, %[tsp](s1)\n\t"
      "jr      t2\n"
      :
      : "r"(s1), "r"(s2), "r"(s3), [tip] "i"(To + offsetof(switch_slots, ip)),
        [tsp] "i"(To + offsetof(switch_slots, sp)), [bip] "i"(Back + offsetof(switch_slots, ip))
      : "t1", "t2", "memory");
  __builtin_unreachable();
}

#undef TANDEM_SWITCH_JUMP
#undef TANDEM_SWITCH_STORE_STATUS
#undef TANDEM_SWITCH_CLOBBERS
#undef TANDEM_SWITCH_OFFSETS

// Reads this thread's FP control state into `slots` (a coroutine's
// starting state, with stack_options::own_fp_control).
inline void store_fp_control(switch_slots* slots) noexcept {
  std::uint64_t frm;
  asm volatile("frrm %0" : "=r"(frm));
  slots->frm = frm;
}

// own_fp_control, on one side of a switch: stores this thread's rounding
// mode into `save`, and makes `load`'s the thread's where it differs (fsrm
// can drain the FP pipeline).
inline void switch_fp_control(switch_slots* save, const switch_slots* load) noexcept {
  store_fp_control(save);
  if (save->frm != load->frm) asm volatile("fsrm %0" : : "r"(load->frm) : "memory");
}

// A yield's stack check, for switch.hpp's runs_below: %0 the floor, then
// whether it is below the stack pointer less the frame (%1), unsigned.
#define TANDEM_STACK_CHECK "ld %0, 0(%3)\n\tsub %1, sp, %2\n\tsltu %0, %0, %1"

// switch.hpp's thread_address, in one instruction: tp is a register, and
// loads take no index register.
inline std::uintptr_t thread_address(std::uintptr_t offset) noexcept {
  std::uintptr_t address;
  asm volatile("add %0, tp, %1" : "=r"(address) : "r"(offset));
  return address;
}

// A fresh body's first resume address, as the switch jumps to it (see
// set_first_resume in switch.hpp): as it is.
inline void* first_resume_address(void* start, void*) noexcept { return start; }

}  // namespace tandem::detail
