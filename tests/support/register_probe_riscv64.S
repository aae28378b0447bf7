/* register_probe_jump for RV64GC LP64D (contract in register_state.h).
   a0 = to, a1 = data, a2 = load, a3 = seen; a0:a1 come back from
   tandem_jump untouched. */

/* Our frame: ra, s0-s11, fs0-fs11, frm, seen (216 bytes, rounded to 224). */
#define RA 0
#define S(n) (8 + 8 * (n))
#define FS(n) (104 + 8 * (n))
#define FRM 200
#define SEEN 208
#define SIZE 224

/* The probe state (register_state.h). */
#define STATE_S(n) (8 * (n))
#define STATE_FS(n) (0x60 + 8 * (n))
#define STATE_FRM 0xc0

/* Moves s<n> and fs<n> between a frame (base register b) and themselves. */
#define STORE_PAIR(n, b, s_at, fs_at) sd s##n, s_at(n)(b); fsd fs##n, fs_at(n)(b)
#define LOAD_PAIR(n, b, s_at, fs_at) ld s##n, s_at(n)(b); fld fs##n, fs_at(n)(b)
#define ALL(op, b, s_at, fs_at) \
    op(0, b, s_at, fs_at); op(1, b, s_at, fs_at); op(2, b, s_at, fs_at); \
    op(3, b, s_at, fs_at); op(4, b, s_at, fs_at); op(5, b, s_at, fs_at); \
    op(6, b, s_at, fs_at); op(7, b, s_at, fs_at); op(8, b, s_at, fs_at); \
    op(9, b, s_at, fs_at); op(10, b, s_at, fs_at); op(11, b, s_at, fs_at)

    .text
    .globl  register_probe_jump
    .type   register_probe_jump, %function
    .p2align 2
register_probe_jump:
    .cfi_startproc
    /* Keep our caller's callee-saved registers, frm and `seen`. (The CFI
       names ra and s0 only: enough for a backtrace through the probe.) */
    addi    sp, sp, -SIZE
    .cfi_def_cfa_offset SIZE
    sd      ra, RA(sp)
    .cfi_offset ra, RA - SIZE
    ALL(STORE_PAIR, sp, S, FS)
    .cfi_offset s0, S(0) - SIZE
    frrm    t0
    sd      t0, FRM(sp)
    sd      a3, SEEN(sp)

    /* Load the probe values. */
    ALL(LOAD_PAIR, a2, STATE_S, STATE_FS)
    ld      t0, STATE_FRM(a2)
    fsrm    t0

    call    tandem_jump

    /* Record what survived. */
    ld      t0, SEEN(sp)
    ALL(STORE_PAIR, t0, STATE_S, STATE_FS)
    frrm    t1
    sd      t1, STATE_FRM(t0)

    /* Give our caller back its state. */
    ld      t0, FRM(sp)
    fsrm    t0
    ALL(LOAD_PAIR, sp, S, FS)
    ld      ra, RA(sp)
    addi    sp, sp, SIZE
    .cfi_def_cfa_offset 0
    .cfi_restore ra
    .cfi_restore s0
    ret
    .cfi_endproc
    .size   register_probe_jump, .-register_probe_jump

    .section .note.GNU-stack, "", %progbits
