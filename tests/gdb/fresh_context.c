/* A program for gdb: it stops in a function called from a fresh context's
   entry, where `bt` must end cleanly at the context's first frame. */
#include <stdio.h>
#include <stdlib.h>

#include "tandem/context.h"

static _Alignas(16) unsigned char stack_memory[64 * 1024];

__attribute__((noinline)) void stop_here(int depth) {
  __asm__ volatile("" ::: "memory");
  printf("stopped at depth %d\n", depth);
}

__attribute__((noinline)) void fresh_entry(tandem_transfer t) {
  stop_here(1);
  tandem_jump(t.from, NULL);
  abort();
}

int main(void) {
  tandem_jump(
      tandem_make_context(stack_memory + sizeof stack_memory, sizeof stack_memory, fresh_entry),
      NULL);
  return 0;
}
