// The seed's sum_coroutine: raise() (Python's throw()) ends the summing
// loop, and the coroutine answers it with the total. Python:
//
//     def sum_coroutine():
//         try:
//             total = 0
//             while True:
//                 x = (yield)
//                 total += x
//         except RuntimeError as e:
//             print(e)
//             yield total
//
//     co = sum_coroutine()
//     next(co)
//     for i in range(20):
//         co.send(i)
//     print(co.throw(RuntimeError, '예외로 코루틴 끝내기'))
#include <cstdio>
#include <optional>
#include <stdexcept>

#include "tandem/coroutine.hpp"

namespace {

// The bare yields hand out None and the last one the total; one Out type
// must hold both, so it is optional<long>, with nullopt for None.
using summer = tandem::coroutine<std::optional<long>, long>;

void sum_coroutine(summer::yielder_type& y) {
  long total = 0;  // outside the try only so the catch block can see it
  try {
    for (;;) total += y.yield(std::nullopt);
  } catch (const std::runtime_error& e) {
    std::printf("%s\n", e.what());
    y.yield(total);  // suspends inside the handler, as the Python does
  }
}

// Python's print() of an int-or-None.
void print(const std::optional<long>& value) {
  if (value)
    std::printf("%ld\n", *value);
  else
    std::printf("None\n");
}

}  // namespace

int main() {
  summer co(sum_coroutine);
  co.next();
  for (long i = 0; i < 20; ++i) co.send(i);
  print(co.raise(std::runtime_error("예외로 코루틴 끝내기")));
}
