// Exits 0 if a context made through the installed or embedded library runs.
#include <tandem/context.h>
#include <tandem/stack.hpp>

int main() {
  tandem::stack s;
  auto echo = [](tandem_transfer t) {
    for (;;) t = tandem_jump(t.from, t.data);
  };
  int value = 42;
  tandem_context c = tandem_make_context(s.top(), s.size(), echo);
  return tandem_jump(c, &value).data == &value ? 0 : 1;
}
