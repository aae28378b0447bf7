/*
 * The frame that tandem_jump leaves on a suspended x86-64 System V stack;
 * a tandem_context points at its lowest byte. Included by the assembly and
 * by src/context_frame.hpp, whose static_asserts hold the C++ view of the
 * frame to these numbers.
 *
 * The layout follows the push order of tandem_jump (rbp first, so highest),
 * which is why the return address sits on top where `call` put it.
 */
#ifndef TANDEM_X86_64_SYSV_FRAME_H
#define TANDEM_X86_64_SYSV_FRAME_H

#define TANDEM_FRAME_MXCSR 0x00 /* 4 bytes */
#define TANDEM_FRAME_X87CW 0x04 /* 2 bytes, then 2 bytes of padding */
#define TANDEM_FRAME_R12 0x08
#define TANDEM_FRAME_R13 0x10
#define TANDEM_FRAME_R14 0x18
#define TANDEM_FRAME_R15 0x20
#define TANDEM_FRAME_RBX 0x28
#define TANDEM_FRAME_RBP 0x30
#define TANDEM_FRAME_RIP 0x38
#define TANDEM_FRAME_SIZE 0x40

/* A fresh context keeps this much free above its frame: after the first
   jump pops the frame, the trampoline's stack pointer is 16-byte aligned
   and its `call` leaves the entry on an ABI-aligned stack. */
#define TANDEM_FRAME_TOP_PAD 0x10

/* In a fresh frame, the rbx slot carries the entry function. */
#define TANDEM_FRAME_ENTRY TANDEM_FRAME_RBX

#endif
