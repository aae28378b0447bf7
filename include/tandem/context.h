/*
 * tandem/context.h: the context switch, as a plain C ABI.
 *
 * A context is a suspended flow of control with its own stack. You make one
 * on a stack you own, then move between contexts with tandem_jump: it
 * suspends the caller, resumes another context and hands it a pointer.
 *
 *     static void entry(tandem_transfer t) {
 *         for (;;) t = tandem_jump(t.from, t.data);   // echo back forever
 *     }
 *     tandem_context c = tandem_make_context(top, size, entry);
 *     tandem_transfer t = tandem_jump(c, &value);     // t.data == &value
 *
 * Each jump preserves exactly what the platform ABI makes callee-saved:
 *   x86-64 System V: rbx, rbp, r12-r15, rsp, the MXCSR and the x87 control
 *                    word (the MXCSR status flags travel with the control
 *                    bits; the ABI makes them caller-saved, so that is allowed).
 *   AArch64 AAPCS64: x19-x29, x30 (the return address), sp, d8-d15 and FPCR
 *                    (FPCR is rewritten only when the two contexts differ).
 *   ARMv7 AAPCS-VFP (armhf): r4-r11, sp, lr (the return address), d8-d15
 *                    and the FPSCR's control bits: trap enables, rounding
 *                    mode, flush-to-zero, default NaN, alternative half
 *                    precision (rewritten only when the contexts differ).
 *   RV64 LP64D:      s0-s11, sp, ra (the return address), fs0-fs11 and frm,
 *                    the rounding mode (rewritten only when they differ).
 * Everything else is scratch across a jump, as across any function call.
 *
 * Floating-point control state where the ABI calls it thread state. The
 * x86-64 ABI makes the MXCSR control bits and the x87 control word
 * callee-saved, so tandem_jump preserves them like any register. AAPCS64,
 * AAPCS and the RISC-V psABI instead call FPCR, the FPSCR's control bits
 * and frm state of the thread: only functions whose purpose is to change
 * them (fesetround, fesetenv) may, and every other function leaves them
 * as it found them. To the code that runs in it, a context is such a
 * thread of control: a fesetround in one context must not change the
 * rounding of another that merely jumped in between, just as it would not
 * in another thread. So tandem_jump keeps this state per context on all
 * four targets: each context runs with the state it last set itself (a new
 * context starts with its creator's), and the contract is the same
 * everywhere. What the ABIs leave unpreserved across calls stays as the
 * running code left it: the FPSCR's condition and sticky exception flags,
 * fcsr's exception flags (fflags), the MXCSR's status flags.
 *
 * The assembly carries complete unwind info: debuggers and C++ exceptions
 * see a clean stack that ends at the context's entry. On AArch64 the saved
 * return addresses are signed with PAC and every indirect-branch target is
 * a BTI landing pad; on x86-64 built with -fcf-protection every entry point
 * starts with endbr64 and the object is marked IBT-ready. It is not marked
 * shadow-stack-ready (SHSTK): tandem does not switch shadow stacks yet, and
 * if a process runs with them anyway, tandem_make_context says so on stderr
 * and aborts rather than crash later.
 *
 * Threads: a context may be resumed on any thread, but only by one at a
 * time, and only while it is suspended. Code that runs in a context must
 * not keep the address of a thread_local across a jump that may land it on
 * another thread: compilers cache such addresses within a function.
 */
#ifndef TANDEM_CONTEXT_H
#define TANDEM_CONTEXT_H

/* The smallest stack tandem_make_context accepts: room for the initial
   frame and nothing more. A useful entry needs far more (the C++ layer
   insists on at least tandem::min_stack_size). */
#define TANDEM_CONTEXT_MIN_SIZE 256

/* Internal: the size of the stack on which the assembly reports a fatal
   misuse (see tandem_entry and tandem_jump). */
#define TANDEM_DETAIL_EMERGENCY_STACK_SIZE 0x4000

#ifndef __ASSEMBLER__ /* the assembly includes this file for the constant */

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* A suspended context: the stack pointer of its saved frame. Each handle is
   good for exactly one resumption; a jump returns the new handle to use. */
typedef void* tandem_context;

/* What a jump delivers: the context that jumped here (resume it with this
   handle next time) and the pointer it passed. */
typedef struct tandem_transfer {
  tandem_context from;
  void* data;
} tandem_transfer;

/* The function a new context starts in. It must never return: leave it by
   jumping away. If it returns anyway, the process prints a message on
   stderr and aborts (on a stack of its own: the context's may be too small
   for the report). */
typedef void (*tandem_entry)(tandem_transfer);

/* Makes a context that will run entry on the stack of `size` bytes that ends
   at `stack_top` (the highest address, exclusive). An unaligned stack_top is
   aligned down as the ABI requires. Nothing runs until the first
   tandem_jump to the result, which calls entry({caller, data}).
   Returns NULL if stack_top or entry is NULL, if size is below
   TANDEM_CONTEXT_MIN_SIZE, or if stack_top is not above size: such a stack
   would start at or below address 0, as `base + size` does for a NULL
   base from a failed malloc (the frame would be written near address 0). */
tandem_context tandem_make_context(void* stack_top, size_t size, tandem_entry entry);

/* Suspends the calling context, resumes `to` and hands it `data`. Returns
   when some context jumps back here: .from is that context, .data what it
   passed. `to` must be a handle from tandem_make_context or from a
   transfer's .from that has not been resumed yet.
   A NULL `to` (a failed tandem_make_context, say) cannot be resumed: the
   process prints "tandem_jump: the context to resume is NULL" on stderr and
   aborts, even from a context on a stack of TANDEM_CONTEXT_MIN_SIZE bytes
   (the report runs on a stack of its own). Any other handle is trusted:
   checking it would cost every jump more than this one compare. */
tandem_transfer tandem_jump(tandem_context to, void* data);

#ifdef __cplusplus
}
#endif

#endif /* __ASSEMBLER__ */

#endif /* TANDEM_CONTEXT_H */
