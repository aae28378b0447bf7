// The loop's signal handlers (event_loop::add_signal_handler): a process-
// wide sigaction handler writes the signal's number to the handling loop's
// pipe (async-signal-safe), and the loop's poller, watching that pipe,
// queues the callback. The signal may arrive on any thread.
#pragma once

#include <signal.h>

#include <functional>
#include <map>

#include "poller.hpp"
#include "ready_queue.hpp"

namespace tandem::detail {

class signal_handlers {
 public:
  signal_handlers() = default;
  ~signal_handlers() { remove_all(); }
  signal_handlers(const signal_handlers&) = delete;
  signal_handlers& operator=(const signal_handlers&) = delete;

  // std::invalid_argument for SIGKILL, SIGSTOP or a number out of range;
  // std::logic_error when another loop handles signum.
  void add(int signum, std::function<void()> cb, poller& io, ready_queue& ready);
  bool remove(int signum, poller& io) noexcept;
  // Restores every disposition and closes the pipe (the loop closes).
  void remove_all(poller* io = nullptr) noexcept;

 private:
  struct handler {
    std::function<void()> callback;
    struct sigaction before;  // restored when the last handler goes
  };
  void open_pipe(poller& io, ready_queue& ready);
  void drain(ready_queue& ready);

  std::map<int, handler> handlers_;
  int read_fd_ = -1;
  int write_fd_ = -1;
};

}  // namespace tandem::detail
