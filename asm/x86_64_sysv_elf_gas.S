/*
 * tandem context switch: x86-64, System V ABI, ELF, GNU assembler.
 * The C contract is in include/tandem/context.h; the frame layout in
 * x86_64_sysv_frame.h.
 *
 * Every instruction carries unwind info. tandem_jump builds its frame with
 * pushes and tears it down with pops, and both contexts' frames have the same
 * shape, so one set of CFI rules stays true while rsp moves from one stack to
 * the other: at each instruction it describes whichever frame rsp points at.
 */
#include "tandem/context.h"
#include "x86_64_sysv_frame.h"

/* -fcf-protection defines __CET__: bit 0 for IBT, bit 1 for shadow stacks. */
#if defined(__CET__) && (__CET__ & 1)
#define LANDING_PAD endbr64
#else
#define LANDING_PAD
#endif

    .text

/*
 * tandem_context tandem_make_context(void *stack_top, size_t size,
 *                                    tandem_entry entry)
 * rdi = stack_top, rsi = size, rdx = entry. Writes a frame that the first
 * tandem_jump "returns" through into tandem_context_start.
 */
    .globl  tandem_make_context
    .type   tandem_make_context, @function
    .p2align 4
tandem_make_context:
    .cfi_startproc
    LANDING_PAD

    /* Bad input gets NULL: no stack, no entry, too small a stack, or one
       that would start at or below address 0 (top <= size: a NULL base
       plus its size, from a failed malloc, or a size that wraps), whose
       frame would be written near address 0. */
    xorl    %eax, %eax
    testq   %rdi, %rdi
    jz      1f
    testq   %rdx, %rdx
    jz      1f
    cmpq    $TANDEM_CONTEXT_MIN_SIZE, %rsi
    jb      1f
    cmpq    %rsi, %rdi
    jbe     1f

#if defined(__CET__) && (__CET__ & 2)
    /* Shadow stacks on (rdssp reads non-zero): tandem does not switch them
       yet, and a switch without that would die later in a #CP fault. Stop
       now with a message instead. rdssp is a no-op on older CPUs. */
    xorl    %ecx, %ecx
    rdsspq  %rcx
    testq   %rcx, %rcx
    jnz     2f
#endif

    /* Align the top down to 16 and place the frame below the top pad. */
    movq    %rdi, %rax
    andq    $-16, %rax
    subq    $(TANDEM_FRAME_SIZE + TANDEM_FRAME_TOP_PAD), %rax

    /* The new context starts with its creator's FP control state. */
    stmxcsr TANDEM_FRAME_MXCSR(%rax)
    fnstcw  TANDEM_FRAME_X87CW(%rax)

    /* The trampoline finds the entry in rbx; rbp = 0 ends frame-pointer
       walks; the first jump returns into the trampoline. */
    movq    %rdx, TANDEM_FRAME_ENTRY(%rax)
    movq    $0, TANDEM_FRAME_RBP(%rax)
    leaq    .Lcontext_entry(%rip), %rcx
    movq    %rcx, TANDEM_FRAME_RIP(%rax)
1:
    ret
#if defined(__CET__) && (__CET__ & 2)
2:
    jmp     tandem_detail_shadow_stack_unsupported@PLT  /* noreturn: a tail call */
#endif
    .cfi_endproc
    .size   tandem_make_context, .-tandem_make_context

/*
 * tandem_transfer tandem_jump(tandem_context to, void *data)
 * rdi = to, rsi = data. Returns {from, data} in rax:rdx.
 */
    .globl  tandem_jump
    .type   tandem_jump, @function
    .p2align 4
tandem_jump:
    .cfi_startproc
    LANDING_PAD

    /* A NULL `to` would load the stack pointer from address 0: report it
       out of line instead. Predicted not taken, the test and branch fuse
       into one cheap uop. */
    testq   %rdi, %rdi
    jz      tandem_jump_to_null

    /* Save the callee-saved GPRs (the layout of x86_64_sysv_frame.h). */
    pushq   %rbp
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset %rbp, 0
    pushq   %rbx
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset %rbx, 0
    pushq   %r15
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset %r15, 0
    pushq   %r14
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset %r14, 0
    pushq   %r13
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset %r13, 0
    pushq   %r12
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset %r12, 0

    /* Save the MXCSR and the x87 control word. */
    leaq    -8(%rsp), %rsp
    .cfi_adjust_cfa_offset 8
    stmxcsr TANDEM_FRAME_MXCSR(%rsp)
    fnstcw  TANDEM_FRAME_X87CW(%rsp)

    /* Switch stacks: our frame becomes the `from` handle. */
    movq    %rsp, %rax
    movq    %rdi, %rsp

    /* Restore the other context's FP control state. */
    ldmxcsr TANDEM_FRAME_MXCSR(%rsp)
    fldcw   TANDEM_FRAME_X87CW(%rsp)
    leaq    8(%rsp), %rsp
    .cfi_adjust_cfa_offset -8

    /* Restore its callee-saved GPRs. */
    popq    %r12
    .cfi_adjust_cfa_offset -8
    .cfi_restore %r12
    popq    %r13
    .cfi_adjust_cfa_offset -8
    .cfi_restore %r13
    popq    %r14
    .cfi_adjust_cfa_offset -8
    .cfi_restore %r14
    popq    %r15
    .cfi_adjust_cfa_offset -8
    .cfi_restore %r15
    popq    %rbx
    .cfi_adjust_cfa_offset -8
    .cfi_restore %rbx
    popq    %rbp
    .cfi_adjust_cfa_offset -8
    .cfi_restore %rbp

    /* Hand over data and resume at the other context's return address.
       A `ret` here would always be mispredicted: the return-stack
       predictor expects our own caller, not the other context's. An
       indirect jmp is predicted from branch history, which learns a
       ping-pong, and measures about twice as fast. Under IBT, though, a
       jmp may only land on endbr64, and return addresses do not start
       with one, so IBT builds take the `ret`. */
    movq    %rsi, %rdx
#if defined(__CET__) && (__CET__ & 1)
    ret
#else
    popq    %r8
    .cfi_adjust_cfa_offset -8
    .cfi_register %rip, %r8
    jmpq    *%r8
#endif
    .cfi_endproc
    .size   tandem_jump, .-tandem_jump

/*
 * tandem_jump's report of a NULL `to`. Reached by a direct branch (no
 * endbr64 needed) from its first instructions, so the stack is as
 * tandem_jump's caller left it, with the return address on top, and
 * unwinding goes straight to that caller. The caller may run on a context
 * stack too small for the report (see src/context_fatal.cpp), so the
 * report runs on the emergency stack. rbx, saved on the caller's stack
 * first and preserved by the reporter, keeps the stack pointer from which
 * the CFA is reckoned.
 */
    .type   tandem_jump_to_null, @function
    .p2align 4
tandem_jump_to_null:
    .cfi_startproc
    pushq   %rbx
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset %rbx, 0
    movq    %rsp, %rbx
    .cfi_def_cfa_register %rbx
    leaq    tandem_emergency_stack+TANDEM_DETAIL_EMERGENCY_STACK_SIZE(%rip), %rsp
    call    tandem_detail_jump_to_null@PLT  /* noreturn */
    ud2
    .cfi_endproc
    .size   tandem_jump_to_null, .-tandem_jump_to_null

/*
 * Where a new context starts: tandem_jump's first resumption lands on
 * .Lcontext_entry with rax:rdx = {from, data} and the entry in rbx. The
 * return address is marked undefined, so unwinders and debuggers stop
 * here: this is the bottom of the context's stack.
 *
 * The nop matters: an unwinder looks up the code at (return address - 1),
 * and while a fresh frame is being switched to, its return address is
 * .Lcontext_entry; the byte before it must lie inside this FDE.
 */
    .type   tandem_context_start, @function
    .p2align 4
tandem_context_start:
    .cfi_startproc
    .cfi_undefined %rip
    nop
.Lcontext_entry:

    /* entry(tandem_transfer{from, data}): the struct travels in rdi:rsi. */
    movq    %rax, %rdi
    movq    %rdx, %rsi
    call    *%rbx

    /* The entry returned, which it must never do. Report it on the
       emergency stack: the context's may be too small for the report. rbx
       (the entry, no longer needed) keeps the stack pointer from which the
       CFA is reckoned. */
    movq    %rsp, %rbx
    .cfi_def_cfa_register %rbx
    leaq    tandem_emergency_stack+TANDEM_DETAIL_EMERGENCY_STACK_SIZE(%rip), %rsp
    call    tandem_detail_entry_returned@PLT  /* noreturn */
    ud2
    .cfi_endproc
    .size   tandem_context_start, .-tandem_context_start

/*
 * Where a tandem::coroutine body starts (include/tandem/detail/
 * switch_x86_64.hpp). The first switch into a coroutine jumps here with r12
 * pointing at the frame, on a 16-byte aligned stack. tandem_detail_coroutine_main never returns: the body's last act is
 * a switch away for good.
 */
    .globl  tandem_coroutine_start
    .hidden tandem_coroutine_start
    .type   tandem_coroutine_start, @function
    .p2align 4
tandem_coroutine_start:
    .cfi_startproc
    .cfi_undefined %rip
    LANDING_PAD
    movq    %r12, %rdi
    call    tandem_detail_coroutine_main@PLT
    ud2
    .cfi_endproc
    .size   tandem_coroutine_start, .-tandem_coroutine_start

/* A non-executable stack, and, under -fcf-protection, the GNU property
   note that marks this object as IBT-ready.
   It does not claim SHSTK: with shadow stacks on, each context needs a
   shadow stack of its own and the switch must move between them, which
   tandem does not do yet. glibc turns shadow stacks on at start-up when
   every object of a program claims SHSTK, so a false claim here would make
   such programs abort at their first context instead of running. */
    .section .note.GNU-stack, "", @progbits

#if defined(__CET__) && (__CET__ & 1)
    .section .note.gnu.property, "a"
    .p2align 3
    .long   4                 /* name size: "GNU\0" */
    .long   16                /* descriptor size */
    .long   5                 /* NT_GNU_PROPERTY_TYPE_0 */
    .asciz  "GNU"
    .long   0xc0000002        /* GNU_PROPERTY_X86_FEATURE_1_AND */
    .long   4                 /* data size */
    .long   1                 /* GNU_PROPERTY_X86_FEATURE_1_IBT */
    .p2align 3
#endif
