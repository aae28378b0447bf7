// The seed's asyncio exercise: two async counters, each counting to
// 50,000,000, awaited one after the other by main(). Python:
//
//     async def coroutine_1(num):             # coroutine_2 is the same
//         result_value = 0
//         while result_value < num:
//             result_value += 1
//         return result_value
//
//     async def main():
//         one = await coroutine_1(50000000)
//         two = await coroutine_2(50000000)
//         print("ret_value=", end="")
//         print(one+two)
//         print("end of main")
//
//     loop = asyncio.get_event_loop()
//     loop.run_until_complete(main())
//     loop.close()
//
// Usage: asyncio_counters [N]  (default 50,000,000). Prints what Python
// prints on stdout, and the time on stderr.
//
// Python's "await coroutine_1(n)" would be a plain call in tandem (see
// asyncio_coroutine_chain.cpp). The exercise is about registering
// coroutines with the event loop, so each counter here is a task of its
// own that main awaits; the output is the same either way, because
// neither counter ever suspends. (An optimising compiler may fold the
// counting loop into "return num"; the Python does the work, this program
// need not.)
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "tandem/loop.hpp"

namespace {

long coroutine_1(long num) {
  long result_value = 0;
  while (result_value < num) result_value += 1;
  return result_value;
}

long coroutine_2(long num) {
  long result_value = 0;
  while (result_value < num) result_value += 1;
  return result_value;
}

void async_main(long num) {
  auto& loop = tandem::current_loop();
  const long one = tandem::await(loop.create_task([num] { return coroutine_1(num); }));
  const long two = tandem::await(loop.create_task([num] { return coroutine_2(num); }));
  std::printf("ret_value=");
  std::printf("%ld\n", one + two);
  std::printf("end of main\n");
}

}  // namespace

int main(int argc, char** argv) {
  long num = 50'000'000;
  if (argc > 1) {
    char* end = nullptr;
    errno = 0;
    num = std::strtol(argv[1], &end, 10);
    if (end == argv[1] || *end != '\0' || errno != 0 || num < 0) {
      std::fprintf(stderr, "usage: %s [N >= 0]\n", argv[0]);
      return 2;
    }
  }

  const auto start = std::chrono::steady_clock::now();
  tandem::event_loop loop;
  loop.run_until_complete([num] { async_main(num); });
  loop.close();
  const std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start;
  std::fprintf(stderr, "%.3f s\n", elapsed.count());
}
