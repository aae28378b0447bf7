/*
 * The frame that tandem_jump leaves on a suspended AArch64 (AAPCS64) stack;
 * a tandem_context points at its lowest byte. Included by the assembly and
 * by src/context_frame.hpp, whose static_asserts hold the C++ view of the
 * frame to these numbers.
 *
 * Pairs are adjacent so that one stp/ldp moves two registers. The x30 slot
 * holds the return address signed with PAC (modifier: the stack pointer
 * just above this frame), or the plain address on cores without PAC.
 */
#ifndef TANDEM_AARCH64_AAPCS_FRAME_H
#define TANDEM_AARCH64_AAPCS_FRAME_H

#define TANDEM_FRAME_D8 0x00
#define TANDEM_FRAME_D10 0x10
#define TANDEM_FRAME_D12 0x20
#define TANDEM_FRAME_D14 0x30
#define TANDEM_FRAME_X19 0x40
#define TANDEM_FRAME_X21 0x50
#define TANDEM_FRAME_X23 0x60
#define TANDEM_FRAME_X25 0x70
#define TANDEM_FRAME_X27 0x80
#define TANDEM_FRAME_X29 0x90 /* x29, then x30 at +8 */
#define TANDEM_FRAME_X30 0x98
#define TANDEM_FRAME_FPCR 0xa0 /* 8 bytes, then 8 bytes of padding */
#define TANDEM_FRAME_SIZE 0xb0

/* A fresh context keeps a zeroed frame record above its frame, so that
   frame-pointer walkers stop at the entry. */
#define TANDEM_FRAME_TOP_PAD 0x10

/* In a fresh frame, the x19 slot carries the entry function. */
#define TANDEM_FRAME_ENTRY TANDEM_FRAME_X19

#endif
