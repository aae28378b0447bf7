// tandem/clock.hpp: the event loop's clock, and deadlines on it.
#pragma once

#include <chrono>

namespace tandem {

// Monotonic: deadlines do not move when the wall clock is set.
using clock = std::chrono::steady_clock;

namespace detail {

// `now + d`, where a negative d counts as zero and a deadline past the
// clock's range saturates at time_point::max(), which never comes. Plain
// `now + duration::max()` would wrap into the past, so a "wait forever"
// timeout would expire at once (bad-input rule 5 in docs/rules.md).
inline clock::time_point deadline_after(clock::time_point now, clock::duration d) noexcept {
  if (d <= clock::duration::zero()) return now;
  return d >= clock::time_point::max() - now ? clock::time_point::max() : now + d;
}

}  // namespace detail
}  // namespace tandem
