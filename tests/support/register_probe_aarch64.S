/* register_probe_jump for AArch64 AAPCS64 (contract in register_state.h).
   x0 = to, x1 = data, x2 = load, x3 = seen. */
    .text
    .globl  register_probe_jump
    .type   register_probe_jump, %function
    .p2align 4
register_probe_jump:
    .cfi_startproc
    hint    #34 /* bti c */
    /* Keep our caller's callee-saved registers, FPCR and `seen`. */
    stp     x29, x30, [sp, #-176]!
    .cfi_def_cfa_offset 176
    .cfi_offset x29, -176
    .cfi_offset x30, -168
    stp     x19, x20, [sp, #16]
    stp     x21, x22, [sp, #32]
    stp     x23, x24, [sp, #48]
    stp     x25, x26, [sp, #64]
    stp     x27, x28, [sp, #80]
    stp     d8, d9, [sp, #96]
    stp     d10, d11, [sp, #112]
    stp     d12, d13, [sp, #128]
    stp     d14, d15, [sp, #144]
    .cfi_offset x19, -160
    .cfi_offset x20, -152
    .cfi_offset x21, -144
    .cfi_offset x22, -136
    .cfi_offset x23, -128
    .cfi_offset x24, -120
    .cfi_offset x25, -112
    .cfi_offset x26, -104
    .cfi_offset x27, -96
    .cfi_offset x28, -88
    .cfi_offset d8, -80
    .cfi_offset d9, -72
    .cfi_offset d10, -64
    .cfi_offset d11, -56
    .cfi_offset d12, -48
    .cfi_offset d13, -40
    .cfi_offset d14, -32
    .cfi_offset d15, -24
    mrs     x9, fpcr
    stp     x9, x3, [sp, #160]

    /* Load the probe values. */
    ldp     x19, x20, [x2, #0x00]
    ldp     x21, x22, [x2, #0x10]
    ldp     x23, x24, [x2, #0x20]
    ldp     x25, x26, [x2, #0x30]
    ldp     x27, x28, [x2, #0x40]
    ldr     x29, [x2, #0x50]
    ldp     d8, d9, [x2, #0x58]
    ldp     d10, d11, [x2, #0x68]
    ldp     d12, d13, [x2, #0x78]
    ldp     d14, d15, [x2, #0x88]
    ldr     x9, [x2, #0x98]
    msr     fpcr, x9

    bl      tandem_jump

    /* Record what survived (x0:x1, the transfer, stay untouched). */
    ldr     x3, [sp, #168]
    stp     x19, x20, [x3, #0x00]
    stp     x21, x22, [x3, #0x10]
    stp     x23, x24, [x3, #0x20]
    stp     x25, x26, [x3, #0x30]
    stp     x27, x28, [x3, #0x40]
    str     x29, [x3, #0x50]
    stp     d8, d9, [x3, #0x58]
    stp     d10, d11, [x3, #0x68]
    stp     d12, d13, [x3, #0x78]
    stp     d14, d15, [x3, #0x88]
    mrs     x9, fpcr
    str     x9, [x3, #0x98]

    /* Give our caller back its state. */
    ldr     x9, [sp, #160]
    msr     fpcr, x9
    ldp     d14, d15, [sp, #144]
    ldp     d12, d13, [sp, #128]
    ldp     d10, d11, [sp, #112]
    ldp     d8, d9, [sp, #96]
    ldp     x27, x28, [sp, #80]
    ldp     x25, x26, [sp, #64]
    ldp     x23, x24, [sp, #48]
    ldp     x21, x22, [sp, #32]
    ldp     x19, x20, [sp, #16]
    ldp     x29, x30, [sp], #176
    .cfi_def_cfa_offset 0
    .cfi_restore x29
    .cfi_restore x30
    ret
    .cfi_endproc
    .size   register_probe_jump, .-register_probe_jump

    .section .note.GNU-stack, "", %progbits

    /* BTI-safe (the landing pad above), so the test binary stays marked. */
    .section .note.gnu.property, "a"
    .p2align 3
    .long   4
    .long   16
    .long   5
    .asciz  "GNU"
    .long   0xc0000000
    .long   4
    .long   1
    .long   0
