// Coroutine bodies for stackless_generator, in a translation unit of their
// own so that the benchmark loop cannot inline them (see the header).
#include "stackless_generator.hpp"

namespace bench {

stackless_generator stackless_adder() {
  long return_value = 0;
  for (;;) {
    const long input_value = co_yield return_value;
    return_value = input_value + 1;
  }
}

stackless_generator stackless_three() {
  for (long i = 1; i <= 3; ++i) co_yield i;
}

}  // namespace bench
