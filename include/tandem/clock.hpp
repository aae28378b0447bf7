// tandem/clock.hpp: the event loop's clock, and deadlines on it.
#pragma once

#include <chrono>
#include <ratio>
#include <type_traits>
#include <utility>

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

// A duration in any integral unit as the clock's, saturating at its range.
// The waiting calls take any unit, as std::this_thread::sleep_for does,
// and convert through this: the implicit conversion to the clock's
// nanoseconds at the call would overflow for a "forever" such as
// hours::max() (undefined behaviour; in practice it wraps, often into the
// past, so the wait ends at once).
template <class Rep, class Period>
requires std::is_integral_v<Rep>
constexpr clock::duration to_clock_duration(std::chrono::duration<Rep, Period> d) noexcept {
  using ticks_per_unit = std::ratio_divide<Period, clock::period>;
  // The conversion multiplies by the numerator first: past this, that overflows.
  constexpr auto limit = clock::duration::max().count() / ticks_per_unit::num;
  if (std::cmp_greater(d.count(), limit)) return clock::duration::max();
  if (std::cmp_less(d.count(), -limit)) return clock::duration::min();
  return std::chrono::duration_cast<clock::duration>(d);
}

}  // namespace detail
}  // namespace tandem
