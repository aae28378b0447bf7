// The coroutine hot path's stack switch on RISC-V 64 (RV64GC, LP64D); the
// design is that of switch_x86_64.hpp: an asm statement whose clobbers the
// compiler sees, so only live values are saved, and those once per
// function.
//
// Each side leaves {sp, resume address, s0} in its slots and jumps to the
// other side's resume address, label 1 of a switch asm statement in the
// other side's code; a1 then points at the lander's own slots, and a0 at
// the sender's. The value travels in a2 both ways. Notes:
//  - The jump is `jalr t1`: it leaves the sender's resume address (the
//    label just after it) in t1, and the lander stores it into the
//    sender's slots. That saves forming the address (auipc + addi) and one
//    store. t1 and t2 are not link registers, so the jump neither pushes
//    onto nor pops the return-address stack that cores predict returns by.
//  - s0 is saved by hand: it cannot be declared clobbered when it is the
//    frame pointer. gp and tp are the program's and the thread's, the same
//    on both sides.
//  - FP control (frm, the rounding mode) is the thread's, as across a call
//    (the psABI: only functions whose purpose is to change it do), so the
//    plain switch leaves it alone. The switch for a coroutine with
//    stack_options::own_fp_control stores its own side's and writes the
//    other's only when they differ (fsrm can drain the FP pipeline). The
//    exception flags (fflags) are sticky status, not control: they stay as
//    the running code left them, as they do across tandem_jump.
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

// What a switch brings back: the value handed over, and the lander's own
// slots (the `other` the sender switched to).
struct landing {
  std::uintptr_t value;
  switch_slots* own;
};

#define TANDEM_SWITCH_OFFSETS                                                 \
  [sp] "i"(offsetof(switch_slots, sp)), [ip] "i"(offsetof(switch_slots, ip)), \
      [fp] "i"(offsetof(switch_slots, fp)), [frm] "i"(offsetof(switch_slots, frm))

// Everything but the three operands, s0, sp, gp and tp: the other side may
// change it.
#define TANDEM_SWITCH_CLOBBERS                                                                     \
  "ra", "t0", "t1", "t2", "t3", "t4", "t5", "t6", "s1", "s2", "s3", "s4", "s5", "s6", "s7", "s8",  \
      "s9", "s10", "s11", "a3", "a4", "a5", "a6", "a7", "ft0", "ft1", "ft2", "ft3", "ft4", "ft5",  \
      "ft6", "ft7", "ft8", "ft9", "ft10", "ft11", "fs0", "fs1", "fs2", "fs3", "fs4", "fs5", "fs6", \
      "fs7", "fs8", "fs9", "fs10", "fs11", "fa0", "fa1", "fa2", "fa3", "fa4", "fa5", "fa6", "fa7", \
      "memory"

// Suspend here (resume at 1:, whose address jalr leaves in t1), resume
// there; the lander records where the sender resumes.
#define TANDEM_SWITCH_JUMP    \
  "ld      t2, %[ip](a1)\n\t" \
  "sd      sp, %[sp](a0)\n\t" \
  "sd      s0, %[fp](a0)\n\t" \
  "ld      sp, %[sp](a1)\n\t" \
  "jalr    t1, t2\n"          \
  "1:\n\t"                    \
  "sd      t1, %[ip](a0)\n\t" \
  "ld      s0, %[fp](a1)\n\t"

// Suspends the caller into `self`, resumes `other` with `value`; returns
// what the next switch back to `self` hands over. OwnFp: the FP control
// state is restored on each side (stack_options::own_fp_control).
template <bool OwnFp>
__attribute__((always_inline)) inline landing switch_to(switch_slots* self, switch_slots* other,
                                                        std::uintptr_t value) {
  register switch_slots* a0 asm("a0") = self;
  register switch_slots* a1 asm("a1") = other;
  register std::uintptr_t a2 asm("a2") = value;
  if constexpr (OwnFp) {
    asm volatile(
        // Ours into our slots; the other's in only if different.
        "frrm    t0\n\t"
        "sd      t0, %[frm](a0)\n\t"
        "ld      t3, %[frm](a1)\n\t"
        "beq     t0, t3, 2f\n\t"
        "fsrm    t3\n"
        "2:\n\t" TANDEM_SWITCH_JUMP
        : "+r"(a0), "+r"(a1), "+r"(a2)
        : TANDEM_SWITCH_OFFSETS
        : TANDEM_SWITCH_CLOBBERS);
  } else {
    asm volatile(TANDEM_SWITCH_JUMP
                 : "+r"(a0), "+r"(a1), "+r"(a2)
                 : TANDEM_SWITCH_OFFSETS
                 : TANDEM_SWITCH_CLOBBERS);
  }
  return {a2, a1};
}

#undef TANDEM_SWITCH_JUMP
#undef TANDEM_SWITCH_CLOBBERS
#undef TANDEM_SWITCH_OFFSETS

// Reads this thread's FP control state into `slots`, as the own_fp_control
// switch stores it (a coroutine's starting state).
inline void store_fp_control(switch_slots* slots) noexcept {
  std::uint64_t frm;
  asm volatile("frrm %0" : "=r"(frm));
  slots->frm = frm;
}

// The stack pointer where the caller runs (a yield's check that it is on
// its own coroutine's stack).
inline std::uintptr_t stack_pointer() noexcept {
  std::uintptr_t sp;
  asm("mv %0, sp" : "=r"(sp));
  return sp;
}

// A fresh body's first resume address, as switch_to jumps to it (see
// set_first_resume in switch.hpp): as it is.
inline void* first_resume_address(void* start, void*) noexcept { return start; }

}  // namespace tandem::detail
