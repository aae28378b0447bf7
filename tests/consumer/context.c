/* A user's C program built with `gcc context.c $(pkg-config --cflags --libs
   tandem)`: a context made on the program's own stack memory echoes a
   pointer back. Exits 0 when it does. */
#include <stddef.h>
#include <tandem/context.h>

static _Alignas(16) unsigned char stack_memory[64 * 1024];

static void echo(tandem_transfer t) {
  for (;;) t = tandem_jump(t.from, t.data);
}

int main(void) {
  int value = 42;
  tandem_context c =
      tandem_make_context(stack_memory + sizeof stack_memory, sizeof stack_memory, echo);
  return c != NULL && tandem_jump(c, &value).data == &value ? 0 : 1;
}
