// Last words of the context-switch assembly: it calls these where going on
// would corrupt the process. Each says what went wrong, then aborts.
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

TANDEM_FATAL tandem_detail_shadow_stack_unsupported() {
  std::fputs(
      "tandem: this process runs with x86 shadow stacks (CET SHSTK) enabled, "
      "and tandem does not switch shadow stacks yet; run without them "
      "(GLIBC_TUNABLES=glibc.cpu.x86_shstk=off)\n",
      stderr);
  std::abort();
}
