// Helpers shared by the event-loop tests: a watchdog, so that a lost
// wake-up fails a test instead of hanging the suite, and a destruction
// counter that shows a task's stack was unwound.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <type_traits>
#include <utility>

#include "tandem/loop.hpp"

namespace loop_testing {

// Generous: the suites also run under AddressSanitizer and qemu, ~10x slower.
inline constexpr tandem::clock::duration default_watchdog = std::chrono::seconds(60);

template <class T>
struct is_task : std::false_type {};
template <class T>
struct is_task<tandem::task<T>> : std::true_type {};

// Runs a function (as a new task) or a task until it completes; a timer
// stops the loop after `limit` and the test fails.
template <class F>
auto run_bounded(tandem::event_loop& loop, F&& fn_or_task,
                 tandem::clock::duration limit = default_watchdog) {
  bool fired = false;
  tandem::timer_handle watchdog = loop.call_later(limit, [&] {
    fired = true;
    loop.stop();
  });
  struct disarm {
    tandem::timer_handle& handle;
    bool& fired;
    ~disarm() {
      handle.cancel();
      EXPECT_FALSE(fired) << "the watchdog stopped the loop: the task never finished";
    }
  } guard{watchdog, fired};
  if constexpr (is_task<std::remove_cvref_t<F>>::value) {
    return loop.run_until_complete(std::remove_cvref_t<F>(fn_or_task));
  } else {
    return loop.run_until_complete(std::forward<F>(fn_or_task));
  }
}

// Counts its destructions: shows that a task's stack was unwound.
struct counted {
  explicit counted(int& destroyed) : destroyed_(&destroyed) {}
  counted(const counted&) = delete;
  counted& operator=(const counted&) = delete;
  ~counted() { ++*destroyed_; }
  int* destroyed_;
};

}  // namespace loop_testing
