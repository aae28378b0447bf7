// The seed's ping-pong on a C++20 stackless generator, as examples/pingpong
// runs it on tandem::coroutine: the same loop and output, so that
// bench/count_send_instructions.py counts both by the same method (natively
// and, built with a cross compiler, under qemu).
//
// Usage: stackless_pingpong [N]  (default 100,000,000). Needs only a C++20
// compiler: no tandem, no benchmark library. For a cross count, e.g.:
//   aarch64-linux-gnu-g++ -std=c++20 -O3 -o stackless_pingpong
//       bench/stackless_pingpong.cpp bench/stackless_bodies.cpp
#include <chrono>
#include <cstdio>
#include <string>

#include "stackless_generator.hpp"

int main(int argc, char** argv) {
  const long limit = argc > 1 ? std::stol(argv[1]) : 100'000'000;

  long ret_value = 0;
  bench::stackless_generator c1 = bench::stackless_adder();
  bench::stackless_generator c2 = bench::stackless_adder();
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
