// Last words of the context-switch assembly: it calls these where going on
// would corrupt the process. Each says what went wrong, then aborts.
// tandem_detail_entry_returned and tandem_detail_jump_to_null are called on
// the assembly's emergency stack, not on the context's, which may be as
// small as TANDEM_CONTEXT_MIN_SIZE: their first calls into libc (lazy PLT
// binding included) need more than that.
#include <cstdio>
#include <cstdlib>

#include "tandem/context.h"

// The emergency stack, on which the reports of an entry that returned and
// of a jump to NULL run: the assembly of each target switches to its top.
// Their first calls into libc go through lazy PLT binding, where ld.so
// saves registers on the stack, then fputs and abort. A context's stack may
// be as small as TANDEM_CONTEXT_MIN_SIZE, most of it taken by the initial
// frame, and running off it would end the process with a bare SIGSEGV
// instead of the report.
// One for the process, shared by all threads: two threads reporting at the
// same moment would write over each other's frames. That is acceptable,
// since a report ends in abort() and the process is going down either way;
// a stack per thread would need TLS, whose first access from a shared
// library may itself call into ld.so on the small stack.
// gdb stops a backtrace from a report at the frame that switched here when
// the reporting stack lies below this buffer ("previous frame inner to
// this frame"), a check that assumes one stack; the unwind info is right,
// and libgcc's unwinder walks on to the caller.
// Hidden: the assembly addresses it relative to the pc, as a symbol of its
// own module.
extern "C" {
__attribute__((
    visibility("hidden"),
    aligned(16))) unsigned char tandem_emergency_stack[TANDEM_DETAIL_EMERGENCY_STACK_SIZE];
}

#define TANDEM_FATAL extern "C" [[noreturn]] __attribute__((visibility("hidden"))) void

TANDEM_FATAL tandem_detail_entry_returned() {
  std::fputs(
      "tandem: a context's entry function returned; an entry must leave by "
      "tandem_jump and never return (see tandem/context.h)\n",
      stderr);
  std::abort();
}

TANDEM_FATAL tandem_detail_jump_to_null() {
  std::fputs(
      "tandem_jump: the context to resume is NULL (tandem_make_context "
      "returns NULL for a bad stack, size or entry); pass a handle from "
      "tandem_make_context or a transfer's .from (see tandem/context.h)\n",
      stderr);
  std::abort();
}

TANDEM_FATAL tandem_detail_shadow_stack_unsupported() {
  std::fputs(
      "tandem: this process runs with x86 shadow stacks (CET SHSTK) enabled, "
      "and tandem does not switch shadow stacks yet; run without them "
      "(GLIBC_TUNABLES=glibc.cpu.x86_shstk=off)\n",
      stderr);
  std::abort();
}
