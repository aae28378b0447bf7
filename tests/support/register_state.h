/* Callee-saved state that the register-preservation test loads before a
   tandem_jump and reads back after it (see register_probe_*.S). */
#ifndef TANDEM_TEST_REGISTER_STATE_H
#define TANDEM_TEST_REGISTER_STATE_H

#include <stdint.h>

#include "tandem/context.h"

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__x86_64__)
typedef struct register_state {
  uint64_t rbx, rbp, r12, r13, r14, r15; /* offsets 0x00-0x28 */
  uint32_t mxcsr;                        /* 0x30 */
  uint16_t x87_cw;                       /* 0x34 */
  uint16_t padding;
} register_state;
#elif defined(__aarch64__)
typedef struct register_state {
  uint64_t x[11]; /* x19-x29, 0x00-0x50 */
  uint64_t d[8];  /* d8-d15, 0x58-0x90 */
  uint64_t fpcr;  /* 0x98 */
} register_state;
#elif defined(__arm__)
#include "arm_aapcs_frame.h" /* TANDEM_FPSCR_CONTROL: the bits a jump keeps */

typedef struct register_state {
  uint32_t r[8];    /* r4-r11, 0x00-0x1c */
  uint32_t fpscr;   /* 0x20 */
  uint32_t padding; /* 0x24 */
  uint64_t d[8];    /* d8-d15, 0x28-0x60 */
} register_state;
#elif defined(__riscv) && __riscv_xlen == 64
typedef struct register_state {
  uint64_t s[12];  /* s0-s11, 0x00-0x58 */
  uint64_t fs[12]; /* fs0-fs11, 0x60-0xb8 */
  uint64_t frm;    /* 0xc0 */
} register_state;
#endif

/* Loads *load into every callee-saved register (and the FP control state),
   calls tandem_jump(to, data), and stores what those registers hold when it
   returns into *seen. Restores its own caller's registers before returning,
   like any function. */
tandem_transfer register_probe_jump(tandem_context to, void* data, const register_state* load,
                                    register_state* seen);

#ifdef __cplusplus
}
#endif

#endif
