/*
 * tandem context switch: ARMv7-A, AAPCS with the VFP variant (hard float),
 * ELF, GNU assembler. The C contract is in include/tandem/context.h; the
 * frame layout in arm_aapcs_frame.h.
 *
 * Instruction set. This file is ARM code; compilers for armhf emit Thumb-2
 * by default. Both directions interwork: callers reach these functions
 * with `blx` (the linker turns a Thumb `bl` into one), and every return or
 * resumption goes through `bx` on a saved lr, whose bit 0 sends the
 * processor back to Thumb where the caller was Thumb. Entries are called
 * with `blx` on a register for the same reason.
 *
 * FPU. Only VFPv3-D16 registers are used (d0-d15), so the same object runs
 * on every armhf core, including those without NEON or d16-d31.
 *
 * Unwind info, twice: DWARF CFI for debuggers (in .debug_frame: on ARM,
 * C++ exceptions do not read .eh_frame) and ARM EHABI tables (.fnstart,
 * .save, .cantunwind) for the C++ runtime's unwinder. Both contexts'
 * frames have one shape, so the unwind info of tandem_jump stays true while
 * sp moves from one stack to the other.
 */
#include "tandem/context.h"
#include "arm_aapcs_frame.h"

#if !defined(__ARM_PCS_VFP)
#error "asm/arm_aapcs_elf_gas.S is for the hard-float ABI (armhf, -mfloat-abi=hard)"
#endif

    .syntax unified
    .arch   armv7-a
    .fpu    vfpv3-d16
    .arm
    .cfi_sections .debug_frame
    .text

/*
 * tandem_context tandem_make_context(void *stack_top, size_t size,
 *                                    tandem_entry entry)
 * r0 = stack_top, r1 = size, r2 = entry. Writes a frame that the first
 * tandem_jump "returns" through into tandem_context_start.
 */
    .globl  tandem_make_context
    .type   tandem_make_context, %function
    .p2align 2
tandem_make_context:
    .fnstart
    .cfi_startproc

    /* Bad input gets NULL: no stack, no entry, too small a stack, or one
       that would start at or below address 0 (top <= size: a NULL base
       plus its size, from a failed malloc, or a size that wraps), whose
       frame would be written near address 0. */
    cmp     r0, #0
    bxeq    lr
    cmp     r2, #0
    beq     1f
    cmp     r1, #TANDEM_CONTEXT_MIN_SIZE
    blo     1f
    cmp     r0, r1
    bls     1f

    /* Align the top down to 16 (AAPCS asks for 8; 16 costs nothing) and
       place the frame below the top pad, whose 16 bytes start zeroed. */
    bic     r0, r0, #15
    sub     r0, r0, #(TANDEM_FRAME_SIZE + TANDEM_FRAME_TOP_PAD)
    mov     r3, #0
    str     r3, [r0, #TANDEM_FRAME_SIZE]
    str     r3, [r0, #TANDEM_FRAME_SIZE + 4]
    str     r3, [r0, #TANDEM_FRAME_SIZE + 8]
    str     r3, [r0, #TANDEM_FRAME_SIZE + 12]

    /* The trampoline finds the entry in r4; both frame pointers (r7 for
       Thumb code, r11 for ARM code) start at zero. */
    str     r2, [r0, #TANDEM_FRAME_ENTRY]
    str     r3, [r0, #TANDEM_FRAME_R7]
    str     r3, [r0, #TANDEM_FRAME_R11]

    /* The first resumption writes its tandem_transfer into the top pad. */
    add     r3, r0, #TANDEM_FRAME_SIZE
    str     r3, [r0, #TANDEM_FRAME_RESULT]

    /* The new context starts with its creator's FPSCR control bits. */
    vmrs    r3, fpscr
    str     r3, [r0, #TANDEM_FRAME_FPSCR]

    /* The first jump "returns" into the trampoline (ARM code: bit 0 clear). */
    adr     r3, .Lcontext_entry
    str     r3, [r0, #TANDEM_FRAME_LR]
    bx      lr
1:
    mov     r0, #0
    bx      lr
    .cfi_endproc
    .fnend
    .size   tandem_make_context, .-tandem_make_context

/*
 * tandem_transfer tandem_jump(tandem_context to, void *data)
 * AAPCS returns the 8-byte struct through memory: r0 = where the result
 * goes, r1 = to, r2 = data.
 */
    .globl  tandem_jump
    .type   tandem_jump, %function
    .p2align 2
tandem_jump:
    .fnstart
    .cfi_startproc

    /* A NULL `to` would load the stack pointer from address 0: report it
       out of line instead (a compare and a branch predicted not taken). */
    cmp     r1, #0
    beq     tandem_jump_to_null

    /* Save the result address, r4-r11, the FPSCR (in r12's place) and lr,
       above one word of padding that keeps the frame a multiple of 16. */
    vmrs    r12, fpscr
    .pad    #4
    sub     sp, sp, #4
    .cfi_def_cfa_offset 4
    .save   {r0, r4-r12, lr}
    push    {r0, r4-r12, lr}
    .cfi_def_cfa_offset 48
    .cfi_offset r4, TANDEM_FRAME_R4 - TANDEM_FRAME_SIZE
    .cfi_offset r5, TANDEM_FRAME_R4 + 4 - TANDEM_FRAME_SIZE
    .cfi_offset r6, TANDEM_FRAME_R4 + 8 - TANDEM_FRAME_SIZE
    .cfi_offset r7, TANDEM_FRAME_R4 + 12 - TANDEM_FRAME_SIZE
    .cfi_offset r8, TANDEM_FRAME_R4 + 16 - TANDEM_FRAME_SIZE
    .cfi_offset r9, TANDEM_FRAME_R4 + 20 - TANDEM_FRAME_SIZE
    .cfi_offset r10, TANDEM_FRAME_R4 + 24 - TANDEM_FRAME_SIZE
    .cfi_offset r11, TANDEM_FRAME_R4 + 28 - TANDEM_FRAME_SIZE
    .cfi_offset lr, TANDEM_FRAME_LR - TANDEM_FRAME_SIZE

    /* Then d8-d15, lowest in the frame. */
    .vsave  {d8-d15}
    vpush   {d8-d15}
    .cfi_def_cfa_offset TANDEM_FRAME_SIZE
    .cfi_offset d8, TANDEM_FRAME_D8 - TANDEM_FRAME_SIZE
    .cfi_offset d9, TANDEM_FRAME_D8 + 8 - TANDEM_FRAME_SIZE
    .cfi_offset d10, TANDEM_FRAME_D8 + 16 - TANDEM_FRAME_SIZE
    .cfi_offset d11, TANDEM_FRAME_D8 + 24 - TANDEM_FRAME_SIZE
    .cfi_offset d12, TANDEM_FRAME_D8 + 32 - TANDEM_FRAME_SIZE
    .cfi_offset d13, TANDEM_FRAME_D8 + 40 - TANDEM_FRAME_SIZE
    .cfi_offset d14, TANDEM_FRAME_D8 + 48 - TANDEM_FRAME_SIZE
    .cfi_offset d15, TANDEM_FRAME_D8 + 56 - TANDEM_FRAME_SIZE

    /* Switch stacks: our frame becomes the `from` handle. */
    mov     r3, sp
    mov     sp, r1

    /* Restore the other context: d8-d15, its result address (r0), r4-r11,
       its FPSCR (into r1) and its resume address. */
    vpop    {d8-d15}
    .cfi_def_cfa_offset 48
    .cfi_restore d8
    .cfi_restore d9
    .cfi_restore d10
    .cfi_restore d11
    .cfi_restore d12
    .cfi_restore d13
    .cfi_restore d14
    .cfi_restore d15
    pop     {r0, r4-r11}
    .cfi_def_cfa_offset 12
    .cfi_restore r4
    .cfi_restore r5
    .cfi_restore r6
    .cfi_restore r7
    .cfi_restore r8
    .cfi_restore r9
    .cfi_restore r10
    .cfi_restore r11
    pop     {r1, lr}
    .cfi_def_cfa_offset 4
    .cfi_restore lr
    add     sp, sp, #4
    .cfi_def_cfa_offset 0

    /* Its tandem_jump returns {from, data}. */
    str     r3, [r0]
    str     r2, [r0, #4]

    /* Its FPSCR control bits, with the status bits as they are now.
       Writing FPSCR serialises the FPU on real cores, and the two contexts
       almost always agree: write it only when the control bits differ. */
    movw    r2, #(TANDEM_FPSCR_CONTROL & 0xffff)
    movt    r2, #(TANDEM_FPSCR_CONTROL >> 16)
    eor     r3, r1, r12
    tst     r3, r2
    beq     1f
    bic     r12, r12, r2
    and     r1, r1, r2
    orr     r12, r12, r1
    vmsr    fpscr, r12
1:
    /* Resume it, in ARM or Thumb state as lr's bit 0 says. */
    bx      lr
    .cfi_endproc
    .fnend
    .size   tandem_jump, .-tandem_jump

/*
 * tandem_jump's report of a NULL `to`. Reached by a branch from its first
 * instructions, so the stack and lr are as tandem_jump's caller left them,
 * and unwinding goes straight to that caller. The caller may run on a
 * context stack too small for the report (see src/context_fatal.cpp),
 * so the report runs on the emergency stack; r4, which the reporter
 * preserves, keeps the caller's stack pointer, from which both the CFA and
 * the EHABI unwinder's vsp are reckoned.
 */
    .type   tandem_jump_to_null, %function
    .p2align 2
tandem_jump_to_null:
    .fnstart
    .cfi_startproc
    .save   {r4, lr}
    push    {r4, lr}
    .cfi_def_cfa_offset 8
    .cfi_offset r4, -8
    .cfi_offset lr, -4
    .setfp  r4, sp
    mov     r4, sp
    .cfi_def_cfa_register r4
    ldr     r1, .Ljump_to_null_stack
.Ljump_to_null_pc:
    add     r1, pc, r1
    mov     sp, r1
    bl      tandem_detail_jump_to_null  /* noreturn */
    udf     #0x3c
    /* The emergency stack's top, relative to the pc that the add reads
       (its address + 8 in ARM state): position-independent. */
.Ljump_to_null_stack:
    .word   tandem_emergency_stack + TANDEM_DETAIL_EMERGENCY_STACK_SIZE - (.Ljump_to_null_pc + 8)
    .cfi_endproc
    .fnend
    .size   tandem_jump_to_null, .-tandem_jump_to_null

/*
 * Where a new context starts: tandem_jump's first resumption returns to
 * .Lcontext_entry with its tandem_transfer written into the top pad (r0
 * points at it), the entry in r4 and both frame pointers zero. The return
 * address is marked undefined, and the EHABI entry says "cannot unwind", so
 * debuggers and the C++ unwinder stop here: this is the bottom of the
 * context's stack.
 *
 * The nop matters: an unwinder looks up the code at (return address - 1),
 * and while a fresh frame is being switched to, its return address is
 * .Lcontext_entry; the instruction before it must lie inside this function.
 */
    .type   tandem_context_start, %function
    .p2align 2
tandem_context_start:
    .fnstart
    .cantunwind
    .cfi_startproc
    .cfi_undefined lr
    nop
.Lcontext_entry:

    /* entry(tandem_transfer{from, data}): the struct travels in r0:r1. */
    ldm     r0, {r0, r1}
    blx     r4

    /* The entry returned, which it must never do. Report it on the
       emergency stack: the context's may be too small for the report. r4
       (the entry, no longer needed) keeps the stack pointer from which the
       CFA is reckoned; r7 and r11 are still 0, which ends frame-pointer
       walks. */
    mov     r4, sp
    .cfi_def_cfa_register r4
    ldr     r1, .Lentry_returned_stack
.Lentry_returned_pc:
    add     r1, pc, r1
    mov     sp, r1
    bl      tandem_detail_entry_returned  /* noreturn */
    udf     #0x3c
    /* The emergency stack's top, relative to the pc that the add reads. */
.Lentry_returned_stack:
    .word   tandem_emergency_stack + TANDEM_DETAIL_EMERGENCY_STACK_SIZE - (.Lentry_returned_pc + 8)
    .cfi_endproc
    .fnend
    .size   tandem_context_start, .-tandem_context_start

/*
 * Where a tandem::coroutine body starts (include/tandem/detail/
 * switch_arm.hpp). The first switch into a coroutine loads this address
 * into pc (ARM state: bit 0 clear) with r4 pointing at the frame, on an
 * 8-byte aligned stack. Both frame pointers
 * start at zero to end frame-pointer walks; the return address is marked
 * undefined and the EHABI entry says "cannot unwind", so debuggers and the
 * C++ unwinder stop here. tandem_detail_coroutine_main never returns: the
 * body's last act is a switch away for good.
 */
    .globl  tandem_coroutine_start
    .hidden tandem_coroutine_start
    .type   tandem_coroutine_start, %function
    .p2align 2
tandem_coroutine_start:
    .fnstart
    .cantunwind
    .cfi_startproc
    .cfi_undefined lr
    mov     r7, #0
    mov     r11, #0
    mov     r0, r4
    bl      tandem_detail_coroutine_main
    udf     #0x3c
    .cfi_endproc
    .fnend
    .size   tandem_coroutine_start, .-tandem_coroutine_start

/* A non-executable stack. */
    .section .note.GNU-stack, "", %progbits
