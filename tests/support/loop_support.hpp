// What the event-loop tests share: the names they all use, watchdogs so
// that a lost wake-up fails a test instead of hanging the suite, and a
// destruction counter that shows a task's stack was unwound.
//
// A test file takes them with `using namespace loop_testing;` inside its
// anonymous namespace.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <thread>
#include <type_traits>
#include <utility>

#include "tandem/loop.hpp"

namespace loop_testing {

using namespace std::chrono_literals;
using tandem::event_loop;
using steady = tandem::clock;

// Generous: the suites also run under AddressSanitizer and qemu, ~10x slower.
inline constexpr steady::duration default_watchdog = std::chrono::seconds(60);
inline constexpr steady::duration kWatchdog = default_watchdog;

template <class T>
struct is_task : std::false_type {};
template <class T>
struct is_task<tandem::task<T>> : std::true_type {};

// Runs a function (as a new task) or a task until it completes; a timer
// stops the loop after `limit` and the test fails.
template <class F>
auto run_bounded(event_loop& loop, F&& fn_or_task, steady::duration limit = default_watchdog) {
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

// run_forever() until something calls stop(), under the same watchdog.
inline void run_forever_bounded(event_loop& loop, steady::duration limit = default_watchdog) {
  bool fired = false;
  tandem::timer_handle watchdog = loop.call_later(limit, [&] {
    fired = true;
    loop.stop();
  });
  loop.run_forever();
  watchdog.cancel();
  EXPECT_FALSE(fired) << "the watchdog stopped the loop: nothing else did";
}

// Runs the loop until `stop_after` from now (a timer stops it: no watchdog
// needed).
inline void run_for(event_loop& loop, steady::duration stop_after) {
  loop.call_later(stop_after, [&loop] { loop.stop(); });
  loop.run_forever();
}

// For tests in which the loop may sleep in epoll with no timer at all (so a
// watchdog timer would change what is tested): if the test is still running
// after `limit`, say why and abort, so a missing wake-up fails the test.
class abort_watchdog {
 public:
  abort_watchdog(steady::duration limit, const char* what)
      : thread_([this, limit, what] {
          std::unique_lock lock(mutex_);
          if (!cv_.wait_for(lock, limit, [this] { return done_; })) {
            std::fprintf(stderr, "watchdog: %s\n", what);
            std::abort();
          }
        }) {}
  abort_watchdog(const abort_watchdog&) = delete;
  abort_watchdog& operator=(const abort_watchdog&) = delete;
  ~abort_watchdog() {
    {
      std::lock_guard lock(mutex_);
      done_ = true;
    }
    cv_.notify_one();
    thread_.join();
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  bool done_ = false;
  std::thread thread_;  // last: it uses the members above
};

// Counts its destructions: shows that a task's stack was unwound.
struct counted {
  explicit counted(int& destroyed) : destroyed_(&destroyed) {}
  counted(const counted&) = delete;
  counted& operator=(const counted&) = delete;
  ~counted() { ++*destroyed_; }
  int* destroyed_;
};

}  // namespace loop_testing
