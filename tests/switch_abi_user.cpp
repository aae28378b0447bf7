// A user of the library built apart from the test suite, by
// check_switch_abi.cmake: linked once with resume addresses signed and once
// without, of which only the library's own choice may link.
#include "tandem/coroutine.hpp"

int main() {
  tandem::coroutine<int> c([](tandem::yielder<int>& y) { y.yield(1); });
  return c.next() == 1 ? 0 : 1;
}
