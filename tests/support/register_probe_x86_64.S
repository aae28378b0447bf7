/* register_probe_jump for x86-64 System V (contract in register_state.h).
   rdi = to, rsi = data, rdx = load, rcx = seen. */
    .text
    .globl  register_probe_jump
    .type   register_probe_jump, @function
    .p2align 4
register_probe_jump:
    .cfi_startproc
#if defined(__CET__) && (__CET__ & 1)
    endbr64
#endif
    /* Keep our caller's callee-saved registers. */
    pushq   %rbp
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset %rbp, 0
    pushq   %rbx
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset %rbx, 0
    pushq   %r12
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset %r12, 0
    pushq   %r13
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset %r13, 0
    pushq   %r14
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset %r14, 0
    pushq   %r15
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset %r15, 0
    /* 0(%rsp): seen; 8: caller's MXCSR; 12: caller's x87 control word.
       24 bytes keep the call below 16-byte aligned. */
    subq    $24, %rsp
    .cfi_adjust_cfa_offset 24
    movq    %rcx, 0(%rsp)
    stmxcsr 8(%rsp)
    fnstcw  12(%rsp)

    /* Load the probe values. */
    movq    0x00(%rdx), %rbx
    movq    0x08(%rdx), %rbp
    movq    0x10(%rdx), %r12
    movq    0x18(%rdx), %r13
    movq    0x20(%rdx), %r14
    movq    0x28(%rdx), %r15
    ldmxcsr 0x30(%rdx)
    fldcw   0x34(%rdx)

    call    tandem_jump

    /* Record what survived (rax:rdx, the transfer, stay untouched). */
    movq    0(%rsp), %rcx
    movq    %rbx, 0x00(%rcx)
    movq    %rbp, 0x08(%rcx)
    movq    %r12, 0x10(%rcx)
    movq    %r13, 0x18(%rcx)
    movq    %r14, 0x20(%rcx)
    movq    %r15, 0x28(%rcx)
    stmxcsr 0x30(%rcx)
    fnstcw  0x34(%rcx)

    /* Give our caller back its state. */
    ldmxcsr 8(%rsp)
    fldcw   12(%rsp)
    addq    $24, %rsp
    .cfi_adjust_cfa_offset -24
    popq    %r15
    .cfi_adjust_cfa_offset -8
    popq    %r14
    .cfi_adjust_cfa_offset -8
    popq    %r13
    .cfi_adjust_cfa_offset -8
    popq    %r12
    .cfi_adjust_cfa_offset -8
    popq    %rbx
    .cfi_adjust_cfa_offset -8
    popq    %rbp
    .cfi_adjust_cfa_offset -8
    ret
    .cfi_endproc
    .size   register_probe_jump, .-register_probe_jump

    .section .note.GNU-stack, "", @progbits

#if defined(__CET__) && (__CET__ & 1)
    /* IBT-safe (endbr64 above), so the test binary keeps its marking. */
    .section .note.gnu.property, "a"
    .p2align 3
    .long   4
    .long   16
    .long   5
    .asciz  "GNU"
    .long   0xc0000002
    .long   4
    .long   1
    .p2align 3
#endif
