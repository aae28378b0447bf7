// Must not compile: a C array Out is refused by coroutine's static_assert,
// whose message names the rule (docs/rules.md, section 3) and std::array.
#include "tandem/coroutine.hpp"

int main() {
  using triple = int[3];
  tandem::coroutine<triple> co([](tandem::yielder<triple>&) {});
}
