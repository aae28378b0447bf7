// The seed's ping-pong between coroutine_1 and coroutine_2, on tandem's
// C ABI context switch. Python:
//
//     def coroutine_1():                      # coroutine_2 is the same
//         return_value = 0
//         while True:
//             input_value = (yield return_value)
//             return_value = input_value + 1
//
//     ret_value = 0
//     c1 = coroutine_1(); c2 = coroutine_2(); next(c1); next(c2)
//     while ret_value < 100000000:
//         ret_value = c1.send(ret_value)
//         ret_value = c2.send(ret_value)
//     print("ret_value =", end=""), print(ret_value)
//     print("end of main")
//
// Usage: pingpong [N]  (default 100,000,000). Prints what Python prints on
// stdout, and the time and ns per send on stderr.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "tandem/context.h"
#include "tandem/stack.hpp"

namespace {

// The body of coroutine_1 and coroutine_2: yields return_value, receives
// input_value, answers input_value + 1. Values travel as the jump's data.
void adder(tandem_transfer t) {
  long return_value = 0;
  for (;;) {
    t = tandem_jump(t.from, &return_value);                // yield return_value
    const long input_value = *static_cast<long*>(t.data);  // = the sent value
    return_value = input_value + 1;
  }
}

// A resumable context and the handle to resume it by.
struct generator {
  tandem::stack stack;
  tandem_context context = tandem_make_context(stack.top(), stack.size(), adder);

  long send(long value) {
    const tandem_transfer t = tandem_jump(context, &value);
    context = t.from;
    return *static_cast<long*>(t.data);
  }
};

}  // namespace

int main(int argc, char** argv) {
  const long limit = argc > 1 ? std::stol(argv[1]) : 100'000'000;

  generator c1, c2;
  c1.send(0);  // next(c1): runs to the first yield
  c2.send(0);  // next(c2)

  const auto start = std::chrono::steady_clock::now();
  long ret_value = 0;
  long sends = 0;
  while (ret_value < limit) {
    ret_value = c1.send(ret_value);
    ret_value = c2.send(ret_value);
    sends += 2;
  }
  const std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start;

  std::printf("ret_value =%ld\nend of main\n", ret_value);
  std::fprintf(stderr, "%ld sends in %.3f s: %.2f ns per send\n", sends, elapsed.count(),
               sends > 0 ? elapsed.count() * 1e9 / static_cast<double>(sends) : 0.0);
  return 0;
}
