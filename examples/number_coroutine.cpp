// The seed's first number_coroutine: prints each value sent to it. Python:
//
//     def number_coroutine():
//         while True:
//             x = (yield)
//             print(x)
//
//     co = number_coroutine()
//     next(co)
//     co.send(1)
//     co.send(2)
//     co.send(3)
#include <cstdio>

#include "tandem/coroutine.hpp"

namespace {

// A bare (yield) hands nothing out, so Out is void; the sent ints come back.
void number_coroutine(tandem::yielder<void, int>& y) {
  for (;;) {
    const int x = y.yield();
    std::printf("%d\n", x);
  }
}

}  // namespace

int main() {
  tandem::coroutine<void, int> co(number_coroutine);
  co.next();
  co.send(1);
  co.send(2);
  co.send(3);
  // co's destructor closes it, as CPython does when the last reference goes.
}
