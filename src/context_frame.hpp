// The C++ view of the frame that tandem_jump leaves on a suspended stack.
// The assembly and this struct share one header of offsets per target;
// the static_asserts below fail the build if the two ever disagree.
#pragma once

#include <cstddef>
#include <cstdint>

#if defined(__x86_64__)
#include "x86_64_sysv_frame.h"

namespace tandem::detail {
struct context_frame {
  std::uint32_t mxcsr;
  std::uint16_t x87_cw;
  std::uint16_t padding;
  std::uint64_t r12, r13, r14, r15, rbx, rbp;
  std::uint64_t return_address;
};
static_assert(offsetof(context_frame, mxcsr) == TANDEM_FRAME_MXCSR);
static_assert(offsetof(context_frame, x87_cw) == TANDEM_FRAME_X87CW);
static_assert(offsetof(context_frame, r12) == TANDEM_FRAME_R12);
static_assert(offsetof(context_frame, r13) == TANDEM_FRAME_R13);
static_assert(offsetof(context_frame, r14) == TANDEM_FRAME_R14);
static_assert(offsetof(context_frame, r15) == TANDEM_FRAME_R15);
static_assert(offsetof(context_frame, rbx) == TANDEM_FRAME_RBX);
static_assert(offsetof(context_frame, rbp) == TANDEM_FRAME_RBP);
static_assert(offsetof(context_frame, return_address) == TANDEM_FRAME_RIP);
static_assert(sizeof(context_frame) == TANDEM_FRAME_SIZE);
static_assert(TANDEM_FRAME_SIZE % 16 == 0 && TANDEM_FRAME_TOP_PAD % 16 == 0);
}  // namespace tandem::detail

#elif defined(__aarch64__)
#include "aarch64_aapcs_frame.h"

namespace tandem::detail {
struct context_frame {
  std::uint64_t d8_d15[8];
  std::uint64_t x19_x28[10];
  std::uint64_t x29;
  std::uint64_t x30;  // PAC-signed where the core has PAC
  std::uint64_t fpcr;
  std::uint64_t padding;
};
static_assert(offsetof(context_frame, d8_d15) == TANDEM_FRAME_D8);
static_assert(offsetof(context_frame, d8_d15) + 2 * 8 == TANDEM_FRAME_D10);
static_assert(offsetof(context_frame, d8_d15) + 4 * 8 == TANDEM_FRAME_D12);
static_assert(offsetof(context_frame, d8_d15) + 6 * 8 == TANDEM_FRAME_D14);
static_assert(offsetof(context_frame, x19_x28) == TANDEM_FRAME_X19);
static_assert(offsetof(context_frame, x19_x28) + 2 * 8 == TANDEM_FRAME_X21);
static_assert(offsetof(context_frame, x19_x28) + 4 * 8 == TANDEM_FRAME_X23);
static_assert(offsetof(context_frame, x19_x28) + 6 * 8 == TANDEM_FRAME_X25);
static_assert(offsetof(context_frame, x19_x28) + 8 * 8 == TANDEM_FRAME_X27);
static_assert(offsetof(context_frame, x29) == TANDEM_FRAME_X29);
static_assert(offsetof(context_frame, x30) == TANDEM_FRAME_X30);
static_assert(offsetof(context_frame, fpcr) == TANDEM_FRAME_FPCR);
static_assert(sizeof(context_frame) == TANDEM_FRAME_SIZE);
static_assert(TANDEM_FRAME_SIZE % 16 == 0 && TANDEM_FRAME_TOP_PAD % 16 == 0);
}  // namespace tandem::detail

#elif defined(__arm__)
#include "arm_aapcs_frame.h"

namespace tandem::detail {
struct context_frame {
  std::uint64_t d8_d15[8];
  std::uint32_t result;  // where the suspended tandem_jump's result goes
  std::uint32_t r4_r11[8];
  std::uint32_t fpscr;
  std::uint32_t lr;  // bit 0 set: resume in Thumb state
  std::uint32_t padding;
};
static_assert(offsetof(context_frame, d8_d15) == TANDEM_FRAME_D8);
static_assert(offsetof(context_frame, result) == TANDEM_FRAME_RESULT);
static_assert(offsetof(context_frame, r4_r11) == TANDEM_FRAME_R4);
static_assert(offsetof(context_frame, r4_r11) + 3 * 4 == TANDEM_FRAME_R7);
static_assert(offsetof(context_frame, r4_r11) + 7 * 4 == TANDEM_FRAME_R11);
static_assert(offsetof(context_frame, fpscr) == TANDEM_FRAME_FPSCR);
static_assert(offsetof(context_frame, lr) == TANDEM_FRAME_LR);
static_assert(sizeof(context_frame) == TANDEM_FRAME_SIZE);
static_assert(TANDEM_FRAME_SIZE % 16 == 0 && TANDEM_FRAME_TOP_PAD % 16 == 0);
}  // namespace tandem::detail

#elif defined(__riscv) && __riscv_xlen == 64
#include "riscv64_sysv_frame.h"

namespace tandem::detail {
struct context_frame {
  std::uint64_t ra;
  std::uint64_t s0_s11[12];  // s0 is the frame pointer
  std::uint64_t fs0_fs11[12];
  std::uint64_t frm;
};
static_assert(offsetof(context_frame, ra) == TANDEM_FRAME_RA);
static_assert(offsetof(context_frame, s0_s11) == TANDEM_FRAME_S0);
static_assert(offsetof(context_frame, s0_s11) + 11 * 8 == TANDEM_FRAME_S(11));
static_assert(offsetof(context_frame, fs0_fs11) == TANDEM_FRAME_FS0);
static_assert(offsetof(context_frame, fs0_fs11) + 11 * 8 == TANDEM_FRAME_FS(11));
static_assert(offsetof(context_frame, frm) == TANDEM_FRAME_FRM);
static_assert(sizeof(context_frame) == TANDEM_FRAME_SIZE);
static_assert(TANDEM_FRAME_SIZE % 16 == 0 && TANDEM_FRAME_TOP_PAD % 16 == 0);
}  // namespace tandem::detail

#else
#error "tandem: no context switch for this target yet (see asm/)"
#endif
