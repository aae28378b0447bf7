/*
 * tandem context switch: RV64GC, LP64D (the RISC-V ELF psABI with hardware
 * double-precision floating point), ELF, GNU assembler. The C contract is
 * in include/tandem/context.h; the frame layout in riscv64_sysv_frame.h.
 *
 * Unwind info: both contexts' frames have one shape, so the CFI of
 * tandem_jump stays true while sp moves from one stack to the other.
 */
#include "tandem/context.h"
#include "riscv64_sysv_frame.h"

#if __riscv_xlen != 64 || !defined(__riscv_float_abi_double)
#error "asm/riscv64_sysv_elf_gas.S is for RV64 with the LP64D ABI"
#endif

/* Stores and loads of one integer / FP register in the frame at sp, with
   its CFI rule. */
#define SAVE_S(n)  sd s##n, TANDEM_FRAME_S(n)(sp); \
                   .cfi_offset s##n, TANDEM_FRAME_S(n) - TANDEM_FRAME_SIZE
#define SAVE_FS(n) fsd fs##n, TANDEM_FRAME_FS(n)(sp); \
                   .cfi_offset fs##n, TANDEM_FRAME_FS(n) - TANDEM_FRAME_SIZE
#define LOAD_S(n)  ld s##n, TANDEM_FRAME_S(n)(sp)
#define LOAD_FS(n) fld fs##n, TANDEM_FRAME_FS(n)(sp)

    .text

/*
 * tandem_context tandem_make_context(void *stack_top, size_t size,
 *                                    tandem_entry entry)
 * a0 = stack_top, a1 = size, a2 = entry. Writes a frame that the first
 * tandem_jump "returns" through into tandem_context_start.
 */
    .globl  tandem_make_context
    .type   tandem_make_context, %function
    .p2align 2
tandem_make_context:
    .cfi_startproc

    /* Bad input gets NULL: no stack, no entry, too small a stack, or one
       that would start at or below address 0 (top <= size: a NULL base
       plus its size, from a failed malloc, or a size that wraps), whose
       frame would be written near address 0. */
    beqz    a0, 1f
    beqz    a2, 2f
    li      t0, TANDEM_CONTEXT_MIN_SIZE
    bltu    a1, t0, 2f
    bgeu    a1, a0, 2f

    /* Align the top down to 16 and place the frame below the top pad,
       which holds a zero frame record (ra = fp = 0) to end fp walks. */
    andi    a0, a0, -16
    addi    a0, a0, -(TANDEM_FRAME_SIZE + TANDEM_FRAME_TOP_PAD)
    sd      zero, TANDEM_FRAME_SIZE(a0)
    sd      zero, TANDEM_FRAME_SIZE + 8(a0)

    /* The trampoline finds the entry in s1; s0 (the frame pointer) starts
       at zero; the new context starts with its creator's rounding mode. */
    sd      a2, TANDEM_FRAME_ENTRY(a0)
    sd      zero, TANDEM_FRAME_S(0)(a0)
    frrm    t0
    sd      t0, TANDEM_FRAME_FRM(a0)

    /* The first jump "returns" into the trampoline. */
    lla     t0, .Lcontext_entry
    sd      t0, TANDEM_FRAME_RA(a0)
1:
    ret
2:
    li      a0, 0
    ret
    .cfi_endproc
    .size   tandem_make_context, .-tandem_make_context

/*
 * tandem_transfer tandem_jump(tandem_context to, void *data)
 * a0 = to, a1 = data. Returns {from, data} in a0:a1 (a1 passes through).
 */
    .globl  tandem_jump
    .type   tandem_jump, %function
    .p2align 2
tandem_jump:
    .cfi_startproc

    /* A NULL `to` would load the stack pointer from address 0: report it
       out of line instead (one beqz, predicted not taken). */
    beqz    a0, tandem_jump_to_null

    /* Save ra, s0-s11, fs0-fs11 and the rounding mode. */
    addi    sp, sp, -TANDEM_FRAME_SIZE
    .cfi_def_cfa_offset TANDEM_FRAME_SIZE
    sd      ra, TANDEM_FRAME_RA(sp)
    .cfi_offset ra, TANDEM_FRAME_RA - TANDEM_FRAME_SIZE
    SAVE_S(0)
    SAVE_S(1)
    SAVE_S(2)
    SAVE_S(3)
    SAVE_S(4)
    SAVE_S(5)
    SAVE_S(6)
    SAVE_S(7)
    SAVE_S(8)
    SAVE_S(9)
    SAVE_S(10)
    SAVE_S(11)
    SAVE_FS(0)
    SAVE_FS(1)
    SAVE_FS(2)
    SAVE_FS(3)
    SAVE_FS(4)
    SAVE_FS(5)
    SAVE_FS(6)
    SAVE_FS(7)
    SAVE_FS(8)
    SAVE_FS(9)
    SAVE_FS(10)
    SAVE_FS(11)
    frrm    t0
    sd      t0, TANDEM_FRAME_FRM(sp)

    /* Switch stacks: our frame becomes the `from` handle. */
    mv      t1, sp
    mv      sp, a0

    /* Restore the other context's registers. */
    LOAD_FS(0)
    LOAD_FS(1)
    LOAD_FS(2)
    LOAD_FS(3)
    LOAD_FS(4)
    LOAD_FS(5)
    LOAD_FS(6)
    LOAD_FS(7)
    LOAD_FS(8)
    LOAD_FS(9)
    LOAD_FS(10)
    LOAD_FS(11)
    LOAD_S(0)
    LOAD_S(1)
    LOAD_S(2)
    LOAD_S(3)
    LOAD_S(4)
    LOAD_S(5)
    LOAD_S(6)
    LOAD_S(7)
    LOAD_S(8)
    LOAD_S(9)
    LOAD_S(10)
    LOAD_S(11)
    ld      ra, TANDEM_FRAME_RA(sp)

    /* Writing frm can drain the FP pipeline on real cores, and the two
       contexts almost always agree: write it only when they differ. */
    ld      t2, TANDEM_FRAME_FRM(sp)
    beq     t0, t2, 1f
    fsrm    t2
1:
    /* Pop the frame, hand over `from` and resume. */
    addi    sp, sp, TANDEM_FRAME_SIZE
    .cfi_def_cfa_offset 0
    .cfi_restore ra
    .cfi_restore s0
    .cfi_restore s1
    .cfi_restore s2
    .cfi_restore s3
    .cfi_restore s4
    .cfi_restore s5
    .cfi_restore s6
    .cfi_restore s7
    .cfi_restore s8
    .cfi_restore s9
    .cfi_restore s10
    .cfi_restore s11
    .cfi_restore fs0
    .cfi_restore fs1
    .cfi_restore fs2
    .cfi_restore fs3
    .cfi_restore fs4
    .cfi_restore fs5
    .cfi_restore fs6
    .cfi_restore fs7
    .cfi_restore fs8
    .cfi_restore fs9
    .cfi_restore fs10
    .cfi_restore fs11
    mv      a0, t1
    ret
    .cfi_endproc
    .size   tandem_jump, .-tandem_jump

/*
 * tandem_jump's report of a NULL `to`. Reached by a branch from its first
 * instruction, so sp and ra are as tandem_jump's caller left them, and
 * unwinding goes straight to that caller. The caller may run on a context
 * stack too small for the report (see src/context_fatal.cpp), so the
 * report runs on the emergency stack. A frame record on the caller's stack
 * keeps the chain to the caller, and s0, which the reporter preserves, the
 * CFA.
 */
    .type   tandem_jump_to_null, %function
    .p2align 2
tandem_jump_to_null:
    .cfi_startproc
    addi    sp, sp, -16
    .cfi_def_cfa_offset 16
    sd      ra, 8(sp)
    sd      s0, 0(sp)
    .cfi_offset ra, -8
    .cfi_offset s0, -16
    addi    s0, sp, 16
    .cfi_def_cfa s0, 0
    lla     t0, tandem_emergency_stack + TANDEM_DETAIL_EMERGENCY_STACK_SIZE
    mv      sp, t0
    call    tandem_detail_jump_to_null  /* noreturn */
    unimp
    .cfi_endproc
    .size   tandem_jump_to_null, .-tandem_jump_to_null

/*
 * Where a new context starts: tandem_jump's first resumption returns to
 * .Lcontext_entry with a0:a1 = {from, data}, the entry in s1 and s0 = 0.
 * The return address is marked undefined, so unwinders and debuggers stop
 * here: this is the bottom of the context's stack.
 *
 * The nop matters: an unwinder looks up the code at (return address - 1),
 * and while a fresh frame is being switched to, its return address is
 * .Lcontext_entry; the instruction before it must lie inside this FDE.
 */
    .type   tandem_context_start, %function
    .p2align 2
tandem_context_start:
    .cfi_startproc
    .cfi_undefined ra
    nop
.Lcontext_entry:

    /* entry(tandem_transfer{from, data}): the struct is already in a0:a1. */
    jalr    s1

    /* The entry returned, which it must never do. Report it on the
       emergency stack: the context's may be too small for the report. s1
       (the entry, no longer needed) keeps the stack pointer from which the
       CFA is reckoned; s0 is still 0, which ends frame-pointer walks. */
    mv      s1, sp
    .cfi_def_cfa_register s1
    lla     t0, tandem_emergency_stack + TANDEM_DETAIL_EMERGENCY_STACK_SIZE
    mv      sp, t0
    call    tandem_detail_entry_returned  /* noreturn */
    unimp
    .cfi_endproc
    .size   tandem_context_start, .-tandem_context_start

/*
 * Where a tandem::coroutine body starts (include/tandem/detail/
 * switch_riscv64.hpp). The first switch into a coroutine jumps here with
 * `jalr t1`: s1 points at the frame, t1 holds where the resumer resumes
 * (which the switch's lander stores into the resumer's slots: done here
 * instead), on a 16-byte aligned stack. s0 starts at zero to end frame-pointer walks, and the
 * return address is marked undefined, so unwinders stop here.
 * tandem_detail_coroutine_main never returns: the body's last act is a
 * switch away for good.
 */
    .globl  tandem_coroutine_start
    .hidden tandem_coroutine_start
    .type   tandem_coroutine_start, %function
    .p2align 2
tandem_coroutine_start:
    .cfi_startproc
    .cfi_undefined ra
    sd      t1, TANDEM_SWITCH_RESUMER_IP(s1)
    li      s0, 0
    mv      a0, s1
    call    tandem_detail_coroutine_main
    unimp
    .cfi_endproc
    .size   tandem_coroutine_start, .-tandem_coroutine_start

/* A non-executable stack. */
    .section .note.GNU-stack, "", %progbits
