/*
 * The frame that tandem_jump leaves on a suspended ARMv7-A hard-float
 * (AAPCS-VFP) stack; a tandem_context points at its lowest byte. Included
 * by the assembly and by src/context_frame.hpp, whose static_asserts hold
 * the C++ view of the frame to these numbers.
 *
 * The layout follows tandem_jump's pushes: one word of padding first (so
 * highest), then r0, r4-r11, the FPSCR and lr in one push (register order:
 * lowest register at the lowest address), then d8-d15.
 *
 * The r0 slot: AAPCS returns a tandem_transfer (8 bytes) through memory, so
 * every tandem_jump receives in r0 the address where its result goes. A
 * suspended jump keeps that address here; the jump that resumes it writes
 * {from, data} there.
 */
#ifndef TANDEM_ARM_AAPCS_FRAME_H
#define TANDEM_ARM_AAPCS_FRAME_H

#define TANDEM_FRAME_D8 0x00 /* d8-d15, 8 bytes each */
#define TANDEM_FRAME_RESULT 0x40
#define TANDEM_FRAME_R4 0x44  /* r4-r11, 4 bytes each */
#define TANDEM_FRAME_R7 0x50  /* the Thumb frame pointer */
#define TANDEM_FRAME_R11 0x60 /* the ARM frame pointer */
#define TANDEM_FRAME_FPSCR 0x64
#define TANDEM_FRAME_LR 0x68   /* the resume address (bit 0 set: Thumb) */
#define TANDEM_FRAME_SIZE 0x70 /* 4 bytes of padding at 0x6c */

/* A fresh context keeps 16 bytes above its frame: the tandem_transfer of
   its first resumption lands there (its r0 slot points at them), and the
   zeros after it end frame-pointer walks. */
#define TANDEM_FRAME_TOP_PAD 0x10

/* In a fresh frame, the r4 slot carries the entry function. */
#define TANDEM_FRAME_ENTRY TANDEM_FRAME_R4

/* The FPSCR bits that tandem_jump keeps per context: the exception trap
   enables (8-12, 15), the rounding mode (22-23), flush-to-zero (24),
   default NaN (25) and alternative half-precision (26). The rest are
   condition flags and sticky exception flags, which AAPCS does not
   preserve across calls: they stay as the running code left them. */
#define TANDEM_FPSCR_CONTROL 0x07c09f00

#endif
