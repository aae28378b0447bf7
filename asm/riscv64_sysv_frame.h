/*
 * The frame that tandem_jump leaves on a suspended RV64GC (LP64D) stack; a
 * tandem_context points at its lowest byte. Included by the assembly and by
 * src/context_frame.hpp, whose static_asserts hold the C++ view of the
 * frame to these numbers.
 */
#ifndef TANDEM_RISCV64_SYSV_FRAME_H
#define TANDEM_RISCV64_SYSV_FRAME_H

#define TANDEM_FRAME_RA 0x00  /* the resume address */
#define TANDEM_FRAME_S0 0x08  /* s0-s11, 8 bytes each; s0 is the frame pointer */
#define TANDEM_FRAME_FS0 0x68 /* fs0-fs11, 8 bytes each */
#define TANDEM_FRAME_FRM 0xc8 /* the rounding mode, 8 bytes */
#define TANDEM_FRAME_SIZE 0xd0

/* The slot of s<n> and fs<n>. */
#define TANDEM_FRAME_S(n) (TANDEM_FRAME_S0 + 8 * (n))
#define TANDEM_FRAME_FS(n) (TANDEM_FRAME_FS0 + 8 * (n))

/* A fresh context keeps a zeroed frame record (return address, frame
   pointer) above its frame, so that frame-pointer walkers stop there. */
#define TANDEM_FRAME_TOP_PAD 0x10

/* In a fresh frame, the s1 slot carries the entry function. */
#define TANDEM_FRAME_ENTRY TANDEM_FRAME_S(1)

/* Where a coroutine's resumer keeps its resume address: in the frame, at
   its switch slots' ip (include/tandem/detail/frame.hpp and
   switch_riscv64.hpp; src/coroutine.cpp asserts it). */
#define TANDEM_SWITCH_RESUMER_IP 40

#endif
