/* register_probe_jump for ARMv7-A AAPCS-VFP (contract in register_state.h).
   The tandem_transfer comes back through memory: r0 = where it goes,
   r1 = to, r2 = data, r3 = load, [sp] = seen. r0-r2 go on to tandem_jump
   unchanged, so its result lands straight in our caller's. ARM code;
   callers in Thumb reach it with blx and return through `pop {..., pc}`. */
    .syntax unified
    .arch   armv7-a
    .fpu    vfpv3-d16
    .arm
    .cfi_sections .debug_frame
    .text
    .globl  register_probe_jump
    .type   register_probe_jump, %function
    .p2align 2
register_probe_jump:
    .fnstart
    .cfi_startproc
    /* Keep our caller's callee-saved registers, FPSCR and `seen`: 36 bytes
       of registers, 12 for FPSCR, `seen` and padding, 64 of d8-d15. */
    .save   {r4-r11, lr}
    push    {r4-r11, lr}
    .cfi_def_cfa_offset 36
    .cfi_offset r4, -36
    .cfi_offset r5, -32
    .cfi_offset r6, -28
    .cfi_offset r7, -24
    .cfi_offset r8, -20
    .cfi_offset r9, -16
    .cfi_offset r10, -12
    .cfi_offset r11, -8
    .cfi_offset lr, -4
    .pad    #12
    sub     sp, sp, #12
    .cfi_def_cfa_offset 48
    .vsave  {d8-d15}
    vpush   {d8-d15}
    .cfi_def_cfa_offset 112
    .cfi_offset d8, -112
    .cfi_offset d9, -104
    .cfi_offset d10, -96
    .cfi_offset d11, -88
    .cfi_offset d12, -80
    .cfi_offset d13, -72
    .cfi_offset d14, -64
    .cfi_offset d15, -56
    vmrs    r12, fpscr
    str     r12, [sp, #64]
    ldr     r12, [sp, #112]
    str     r12, [sp, #68]

    /* Load the probe values. */
    ldm     r3, {r4-r11}
    add     r12, r3, #0x28
    vldm    r12, {d8-d15}
    ldr     r12, [r3, #0x20]
    vmsr    fpscr, r12

    bl      tandem_jump

    /* Record what survived. */
    ldr     r3, [sp, #68]
    stm     r3, {r4-r11}
    add     r12, r3, #0x28
    vstm    r12, {d8-d15}
    vmrs    r12, fpscr
    str     r12, [r3, #0x20]

    /* Give our caller back its state. */
    ldr     r12, [sp, #64]
    vmsr    fpscr, r12
    vpop    {d8-d15}
    add     sp, sp, #12
    pop     {r4-r11, pc}
    .cfi_endproc
    .fnend
    .size   register_probe_jump, .-register_probe_jump

    .section .note.GNU-stack, "", %progbits
