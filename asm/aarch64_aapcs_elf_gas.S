/*
 * tandem context switch: AArch64, AAPCS64, ELF, GNU assembler.
 * The C contract is in include/tandem/context.h; the frame layout in
 * aarch64_aapcs_frame.h.
 *
 * Branch protection. Saved return addresses are signed with PAC, using the
 * stack pointer just above the frame as the modifier, and authenticated
 * before `ret`: a forged or misplaced x30 slot faults instead of being
 * jumped to. All PAC instructions used here live in the hint space, so
 * cores without PAC run them as NOPs and the same binary runs everywhere.
 * Every place an indirect branch can land is a BTI landing pad (`bti c`,
 * or `paciasp`, which the architecture also accepts as one).
 *
 * Unwind info: both contexts' frames have one shape, so the CFI of
 * tandem_jump stays true while sp moves from one stack to the other.
 */
#include "tandem/context.h"
#include "aarch64_aapcs_frame.h"

/* Hint-space encodings, accepted by any -march. */
#define BTI_C     hint #34 /* bti c: landing pad for calls */
#define PACIASP   hint #25 /* sign x30, modifier sp */
#define AUTIASP   hint #29 /* authenticate x30, modifier sp */
#define PACIA1716 hint #8  /* sign x17, modifier x16 */

    .text

/*
 * tandem_context tandem_make_context(void *stack_top, size_t size,
 *                                    tandem_entry entry)
 * x0 = stack_top, x1 = size, x2 = entry. Writes a frame that the first
 * tandem_jump "returns" through into tandem_context_start.
 */
    .globl  tandem_make_context
    .type   tandem_make_context, %function
    .p2align 4
tandem_make_context:
    .cfi_startproc
    BTI_C

    /* Bad input gets NULL: no stack, no entry, too small a stack, or one
       that would start at or below address 0 (top <= size: a NULL base
       plus its size, from a failed malloc, or a size that wraps), whose
       frame would be written near address 0. */
    cbz     x0, 1f
    cbz     x2, 2f
    cmp     x1, #TANDEM_CONTEXT_MIN_SIZE
    b.lo    2f
    cmp     x0, x1
    b.ls    2f

    /* Align the top down to 16 and place the frame below the top pad,
       which holds a zero frame record (x29 = x30 = 0) to end fp walks. */
    and     x0, x0, #~15
    sub     x0, x0, #(TANDEM_FRAME_SIZE + TANDEM_FRAME_TOP_PAD)
    stp     xzr, xzr, [x0, #TANDEM_FRAME_SIZE]

    /* The trampoline finds the entry in x19; x29 starts at zero; the new
       context starts with its creator's FPCR. */
    str     x2, [x0, #TANDEM_FRAME_ENTRY]
    str     xzr, [x0, #TANDEM_FRAME_X29]
    mrs     x9, fpcr
    str     x9, [x0, #TANDEM_FRAME_FPCR]

    /* The first jump returns into the trampoline: store its address signed
       exactly as tandem_jump's paciasp would have signed it there. */
    adr     x17, .Lcontext_entry
    add     x16, x0, #TANDEM_FRAME_SIZE
    PACIA1716
    str     x17, [x0, #TANDEM_FRAME_X30]
1:
    ret
2:
    mov     x0, #0
    ret
    .cfi_endproc
    .size   tandem_make_context, .-tandem_make_context

/*
 * tandem_transfer tandem_jump(tandem_context to, void *data)
 * x0 = to, x1 = data. Returns {from, data} in x0:x1 (x1 passes through).
 */
    .globl  tandem_jump
    .type   tandem_jump, %function
    .p2align 4
tandem_jump:
    .cfi_startproc
    /* Sign our return address; this is also the BTI landing pad. */
    PACIASP
    .cfi_negate_ra_state

    /* A NULL `to` would load the stack pointer from address 0: report it
       out of line instead (one cbz, predicted not taken). It comes after
       the paciasp, which must stay first as the landing pad. */
    cbz     x0, tandem_jump_to_null

    /* Save the callee-saved GPRs, d8-d15 and FPCR. */
    sub     sp, sp, #TANDEM_FRAME_SIZE
    .cfi_def_cfa_offset TANDEM_FRAME_SIZE
    stp     x19, x20, [sp, #TANDEM_FRAME_X19]
    stp     x21, x22, [sp, #TANDEM_FRAME_X21]
    stp     x23, x24, [sp, #TANDEM_FRAME_X23]
    stp     x25, x26, [sp, #TANDEM_FRAME_X25]
    stp     x27, x28, [sp, #TANDEM_FRAME_X27]
    stp     x29, x30, [sp, #TANDEM_FRAME_X29]
    .cfi_offset x19, TANDEM_FRAME_X19 - TANDEM_FRAME_SIZE
    .cfi_offset x20, TANDEM_FRAME_X19 + 8 - TANDEM_FRAME_SIZE
    .cfi_offset x21, TANDEM_FRAME_X21 - TANDEM_FRAME_SIZE
    .cfi_offset x22, TANDEM_FRAME_X21 + 8 - TANDEM_FRAME_SIZE
    .cfi_offset x23, TANDEM_FRAME_X23 - TANDEM_FRAME_SIZE
    .cfi_offset x24, TANDEM_FRAME_X23 + 8 - TANDEM_FRAME_SIZE
    .cfi_offset x25, TANDEM_FRAME_X25 - TANDEM_FRAME_SIZE
    .cfi_offset x26, TANDEM_FRAME_X25 + 8 - TANDEM_FRAME_SIZE
    .cfi_offset x27, TANDEM_FRAME_X27 - TANDEM_FRAME_SIZE
    .cfi_offset x28, TANDEM_FRAME_X27 + 8 - TANDEM_FRAME_SIZE
    .cfi_offset x29, TANDEM_FRAME_X29 - TANDEM_FRAME_SIZE
    .cfi_offset x30, TANDEM_FRAME_X30 - TANDEM_FRAME_SIZE
    stp     d8, d9, [sp, #TANDEM_FRAME_D8]
    stp     d10, d11, [sp, #TANDEM_FRAME_D10]
    stp     d12, d13, [sp, #TANDEM_FRAME_D12]
    stp     d14, d15, [sp, #TANDEM_FRAME_D14]
    .cfi_offset d8, TANDEM_FRAME_D8 - TANDEM_FRAME_SIZE
    .cfi_offset d9, TANDEM_FRAME_D8 + 8 - TANDEM_FRAME_SIZE
    .cfi_offset d10, TANDEM_FRAME_D10 - TANDEM_FRAME_SIZE
    .cfi_offset d11, TANDEM_FRAME_D10 + 8 - TANDEM_FRAME_SIZE
    .cfi_offset d12, TANDEM_FRAME_D12 - TANDEM_FRAME_SIZE
    .cfi_offset d13, TANDEM_FRAME_D12 + 8 - TANDEM_FRAME_SIZE
    .cfi_offset d14, TANDEM_FRAME_D14 - TANDEM_FRAME_SIZE
    .cfi_offset d15, TANDEM_FRAME_D14 + 8 - TANDEM_FRAME_SIZE
    mrs     x9, fpcr
    str     x9, [sp, #TANDEM_FRAME_FPCR]

    /* Switch stacks: our frame becomes the `from` handle. */
    mov     x10, sp
    mov     sp, x0

    /* Restore the other context's registers. */
    ldp     d8, d9, [sp, #TANDEM_FRAME_D8]
    ldp     d10, d11, [sp, #TANDEM_FRAME_D10]
    ldp     d12, d13, [sp, #TANDEM_FRAME_D12]
    ldp     d14, d15, [sp, #TANDEM_FRAME_D14]
    ldp     x19, x20, [sp, #TANDEM_FRAME_X19]
    ldp     x21, x22, [sp, #TANDEM_FRAME_X21]
    ldp     x23, x24, [sp, #TANDEM_FRAME_X23]
    ldp     x25, x26, [sp, #TANDEM_FRAME_X25]
    ldp     x27, x28, [sp, #TANDEM_FRAME_X27]
    ldp     x29, x30, [sp, #TANDEM_FRAME_X29]

    /* Writing FPCR can stall the pipeline on real cores, and the two
       contexts almost always agree: write it only when they differ. */
    ldr     x11, [sp, #TANDEM_FRAME_FPCR]
    cmp     x9, x11
    b.eq    1f
    msr     fpcr, x11
1:
    /* Pop the frame, hand over `from`, authenticate x30 and resume. */
    add     sp, sp, #TANDEM_FRAME_SIZE
    .cfi_def_cfa_offset 0
    .cfi_restore x19
    .cfi_restore x20
    .cfi_restore x21
    .cfi_restore x22
    .cfi_restore x23
    .cfi_restore x24
    .cfi_restore x25
    .cfi_restore x26
    .cfi_restore x27
    .cfi_restore x28
    .cfi_restore x29
    .cfi_restore x30
    .cfi_restore d8
    .cfi_restore d9
    .cfi_restore d10
    .cfi_restore d11
    .cfi_restore d12
    .cfi_restore d13
    .cfi_restore d14
    .cfi_restore d15
    mov     x0, x10
    AUTIASP
    .cfi_negate_ra_state
    ret
    .cfi_endproc
    .size   tandem_jump, .-tandem_jump

/*
 * tandem_jump's report of a NULL `to`. Reached by a direct branch (no
 * landing pad needed) right after tandem_jump's paciasp, so the stack is as
 * tandem_jump's caller left it and x30, its return address, is signed with
 * that sp as the modifier: the CFA here, as the unwinder expects. The
 * caller may run on a context stack too small for the report (see
 * src/context_fatal.cpp), so the report runs on the emergency stack. A
 * frame record on the caller's stack keeps the chain to the caller, and
 * x29, which the reporter preserves, the CFA.
 */
    .type   tandem_jump_to_null, %function
    .p2align 4
tandem_jump_to_null:
    .cfi_startproc
    .cfi_negate_ra_state
    stp     x29, x30, [sp, #-16]!
    .cfi_def_cfa_offset 16
    .cfi_offset x29, -16
    .cfi_offset x30, -8
    mov     x29, sp
    .cfi_def_cfa x29, 16
    adrp    x9, tandem_emergency_stack + TANDEM_DETAIL_EMERGENCY_STACK_SIZE
    add     x9, x9, :lo12:tandem_emergency_stack + TANDEM_DETAIL_EMERGENCY_STACK_SIZE
    mov     sp, x9
    bl      tandem_detail_jump_to_null  /* noreturn */
    brk     #0x3c
    .cfi_endproc
    .size   tandem_jump_to_null, .-tandem_jump_to_null

/*
 * Where a new context starts: tandem_jump's first resumption returns to
 * .Lcontext_entry with x0:x1 = {from, data}, the entry in x19 and x29 = 0.
 * The return address is marked undefined, so unwinders and debuggers stop
 * here: this is the bottom of the context's stack. (A `ret` needs no
 * landing pad.)
 *
 * The nop matters: an unwinder looks up the code at (return address - 1),
 * and while a fresh frame is being switched to, its return address is
 * .Lcontext_entry; the instruction before it must lie inside this FDE.
 */
    .type   tandem_context_start, %function
    .p2align 4
tandem_context_start:
    .cfi_startproc
    .cfi_undefined x30
    nop
.Lcontext_entry:

    /* entry(tandem_transfer{from, data}): the struct is already in x0:x1. */
    blr     x19

    /* The entry returned, which it must never do. Report it on the
       emergency stack: the context's may be too small for the report. x19
       (the entry, no longer needed) keeps the stack pointer from which the
       CFA is reckoned; x29 is still 0, which ends frame-pointer walks. */
    mov     x19, sp
    .cfi_def_cfa x19, 0
    adrp    x9, tandem_emergency_stack + TANDEM_DETAIL_EMERGENCY_STACK_SIZE
    add     x9, x9, :lo12:tandem_emergency_stack + TANDEM_DETAIL_EMERGENCY_STACK_SIZE
    mov     sp, x9
    bl      tandem_detail_entry_returned  /* noreturn */
    brk     #0x3c
    .cfi_endproc
    .size   tandem_context_start, .-tandem_context_start

/*
 * Where a tandem::coroutine body starts (include/tandem/detail/
 * switch_aarch64.hpp). The first switch into a coroutine branches here
 * (br x17, hence the landing pad) with x19 pointing at the frame.
 * tandem_detail_coroutine_main never returns: the body's last act is a
 * switch away for good.
 */
    .globl  tandem_coroutine_start
    .hidden tandem_coroutine_start
    .type   tandem_coroutine_start, %function
    .p2align 4
tandem_coroutine_start:
    .cfi_startproc
    .cfi_undefined x30
    hint    #38               /* bti jc */
    mov     x29, xzr          /* end frame-pointer walks here */
    mov     x0, x19
    bl      tandem_detail_coroutine_main
    brk     #0x3c
    .cfi_endproc
    .size   tandem_coroutine_start, .-tandem_coroutine_start

/* A non-executable stack, and the GNU property note that marks this object
   as BTI- and PAC-ready. */
    .section .note.GNU-stack, "", %progbits

    .section .note.gnu.property, "a"
    .p2align 3
    .long   4                 /* name size: "GNU\0" */
    .long   16                /* descriptor size */
    .long   5                 /* NT_GNU_PROPERTY_TYPE_0 */
    .asciz  "GNU"
    .long   0xc0000000        /* GNU_PROPERTY_AARCH64_FEATURE_1_AND */
    .long   4                 /* data size */
    .long   3                 /* BTI | PAC */
    .long   0                 /* pad to 8 bytes */
