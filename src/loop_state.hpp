// What an event_loop holds (tandem/loop.hpp keeps it behind a pointer), and
// the per-thread record of what runs: shared by the loop's source files.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <unordered_map>

#include "loop_sockets.hpp"
#include "poller.hpp"
#include "posted_callbacks.hpp"
#include "ready_queue.hpp"
#include "signal_handlers.hpp"
#include "tandem/loop.hpp"
#include "thread_pool.hpp"
#include "timer_queue.hpp"

namespace tandem {

struct event_loop::impl {
  detail::ready_queue ready;
  detail::timer_queue timers;
  detail::poller io;
  detail::posted_callbacks posted;               // from other threads
  std::unique_ptr<detail::thread_pool> workers;  // to_thread's, made on first use
  detail::signal_handlers signals;
  detail::loop_sockets sockets;  // streams and servers
  std::unordered_map<detail::task_core*, std::shared_ptr<detail::task_core>> unfinished;
  std::uint64_t next_task_serial = 0;
  std::size_t items_since_poll = 0;  // ready items run since the last poll
  bool running = false;
  bool stopping = false;
  bool closed = false;
  bool unwinding = false;  // close() unwinds the unfinished tasks by force

  void run_once();  // src/loop.cpp

 private:
  int poll_timeout_ms() const;
};

namespace detail {

// The library's way into a loop's state (from a task's, or the running one).
struct loop_access {
  using state = event_loop::impl;
  static state& of(event_loop& loop) noexcept { return *loop.impl_; }
  static void check_open(const event_loop& loop, const char* operation) {
    loop.check_open(operation);
  }
};

// What runs on this thread: the loop (inside run_*), and the task whose
// step is in progress. Initial-exec: one load, also in a shared library.
extern constinit thread_local event_loop* running_loop __attribute__((tls_model("initial-exec")));
extern constinit thread_local task_core* running_task __attribute__((tls_model("initial-exec")));

}  // namespace detail
}  // namespace tandem
