// Must not compile: a reference Out is refused by coroutine's static_assert,
// whose message names the rule (docs/rules.md, section 3).
#include <string>

#include "tandem/coroutine.hpp"

int main() {
  tandem::coroutine<const std::string&> co([](tandem::yielder<const std::string&>& y) {
    std::string s = "local";
    y.yield(s);
  });
  for (const std::string& s : co) (void)s;
}
