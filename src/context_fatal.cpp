// Last words of the context-switch assembly: it calls these where going on
// would corrupt the process. Each says what went wrong, then aborts.
// tandem_detail_entry_returned and tandem_detail_jump_to_null are called on
// the assembly's emergency stack, not on the context's, which may be as
// small as TANDEM_CONTEXT_MIN_SIZE: their first calls into libc (lazy PLT
// binding included) need more than that.
#include <cstdio>
#include <cstdlib>

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
