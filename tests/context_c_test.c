/* The C ABI from C: tandem/context.h compiles as C, and contexts work.
   Prints "N passed, N failed" and exits non-zero on any failure. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "tandem/context.h"

static int passed, failed;

static void check(int ok, const char* what) {
  if (ok) {
    ++passed;
  } else {
    ++failed;
    fprintf(stderr, "FAILED: %s\n", what);
  }
}

static _Alignas(16) unsigned char stack_memory[64 * 1024];

/* Adds one to the number it is sent, forever. */
static void increment(tandem_transfer t) {
  for (;;) {
    long* n = (long*)t.data;
    ++*n;
    t = tandem_jump(t.from, n);
  }
}

int main(void) {
  tandem_context c =
      tandem_make_context(stack_memory + sizeof stack_memory, sizeof stack_memory, increment);
  check(c != NULL, "tandem_make_context returns a context");

  long n = 0;
  int data_ok = 1;
  for (int i = 0; i < 1000; ++i) {
    tandem_transfer t = tandem_jump(c, &n);
    data_ok &= t.data == &n;
    c = t.from;
  }
  check(data_ok, "each jump hands back the pointer it was given");
  check(n == 1000, "the context ran once per jump");

  check(tandem_make_context(NULL, sizeof stack_memory, increment) == NULL,
        "a null stack is refused");
  check(tandem_make_context(stack_memory + sizeof stack_memory, 16, increment) == NULL,
        "a stack below TANDEM_CONTEXT_MIN_SIZE is refused");
  check(tandem_make_context(stack_memory + sizeof stack_memory, sizeof stack_memory, NULL) == NULL,
        "a null entry is refused");

  /* malloc failed: NULL + size is not NULL, but no stack starts at 0. */
  check(tandem_make_context((void*)(uintptr_t)sizeof stack_memory, sizeof stack_memory,
                            increment) == NULL,
        "a stack that would start at address 0 (a NULL base plus its size) is refused");
  check(tandem_make_context(stack_memory + sizeof stack_memory, SIZE_MAX, increment) == NULL,
        "a size that wraps below address 0 is refused");

  printf("%d passed, %d failed\n", passed, failed);
  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
