// Whether the test runs under Valgrind, for the few checks that Valgrind's
// emulation changes (its own descriptor limit, its own MXCSR handling).
#pragma once

#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#endif

namespace testing_support {

[[maybe_unused]] inline bool running_on_valgrind() {
#ifdef RUNNING_ON_VALGRIND
  return RUNNING_ON_VALGRIND != 0;
#else
  return false;
#endif
}

}  // namespace testing_support
