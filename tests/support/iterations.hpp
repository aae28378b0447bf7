// Iteration counts that slow runs can trim. Under Valgrind a test runs 20
// to 50 times slower than natively, so the valgrind stage sets
// TANDEM_TEST_SHRINK=N and every count written as iterations(n) becomes
// n / N (at least `floor`): the same code paths, fewer repetitions, and no
// test skipped.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstdlib>

namespace testing_support {

inline std::uint64_t shrink_factor() {
  static const std::uint64_t factor = [] {
    const char* text = std::getenv("TANDEM_TEST_SHRINK");
    if (text == nullptr) return std::uint64_t{1};
    char* end = nullptr;
    const unsigned long long value = std::strtoull(text, &end, 10);
    return (end != text && *end == '\0' && value > 0) ? std::uint64_t{value} : std::uint64_t{1};
  }();
  return factor;
}

// n, divided by TANDEM_TEST_SHRINK when set, and never below `floor`.
inline std::uint64_t iterations(std::uint64_t n, std::uint64_t floor = 1) {
  return std::max(n / shrink_factor(), std::min(n, floor));
}

}  // namespace testing_support
