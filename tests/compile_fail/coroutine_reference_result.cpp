// Must not compile: a reference R is refused by coroutine's static_assert,
// whose message names the rule (docs/rules.md, section 3).
#include "tandem/coroutine.hpp"

int main() {
  static int kept = 0;
  tandem::coroutine<int, int&, int&> co([](tandem::yielder<int, int&>& y) -> int& {
    y.yield(1);
    return kept;
  });
  (void)co.next();
}
