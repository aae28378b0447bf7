// The seed's ping-pong between coroutine_1 and coroutine_2, on
// tandem::coroutine<long, long>. Python:
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
#include <string>

#include "tandem/coroutine.hpp"

namespace {

using generator = tandem::coroutine<long, long>;

// coroutine_1 and coroutine_2 have the same body.
void adder(tandem::yielder<long, long>& y) {
  long return_value = 0;
  for (;;) {
    const long input_value = y.yield(return_value);
    return_value = input_value + 1;
  }
}

}  // namespace

int main(int argc, char** argv) {
  const long limit = argc > 1 ? std::stol(argv[1]) : 100'000'000;

  long ret_value = 0;
  generator c1(adder);
  generator c2(adder);
  c1.next();
  c2.next();

  const auto start = std::chrono::steady_clock::now();
  while (ret_value < limit) {
    ret_value = c1.send(ret_value);
    ret_value = c2.send(ret_value);
  }
  const std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start;
  // Each send adds one (an adder returns its input + 1, and the first value
  // is 0), so ret_value is the number of sends: like the seed's, the loop
  // keeps no counter of its own.
  const long sends = ret_value;

  std::printf("ret_value =%ld\n", ret_value);
  std::printf("end of main\n");
  std::fprintf(stderr, "%ld sends in %.3f s: %.2f ns per send\n", sends, elapsed.count(),
               sends > 0 ? elapsed.count() * 1e9 / static_cast<double>(sends) : 0.0);
  return 0;
}
