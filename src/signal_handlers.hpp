// The loop's signal handlers (event_loop::add_signal_handler): a process-
// wide sigaction handler writes the signal's number to the handling loop's
// pipe (async-signal-safe), and the loop's poller, watching that pipe,
// queues the callback. The signal may arrive on any thread.
//
// Taking a signal in allocates nothing: it happens inside the loop's poll,
// where a std::bad_alloc would leave the loop's run with the numbers read
// from the pipe, and the other events of that poll, lost. Each handler
// reserves room in the ready queue for one queued call as it is added, and
// counts the arrivals its call has yet to answer; the call, two pointers
// that std::function keeps in place (it allocates only for a bigger
// callable, or one that is not trivially copyable), answers one and queues
// itself again while any remain, so that each arrival still makes one
// call, as each of asyncio's does.
#pragma once

#include <signal.h>

#include <cstddef>
#include <functional>
#include <list>
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
  // A handler's callback and what its queued call needs. It outlives the
  // handler's removal or replacement while a call of it is queued or runs:
  // that call still runs (asyncio's queued handle does), and a callback may
  // remove its own handler.
  struct handler_state {
    std::function<void()> callback;
    ready_queue* ready;
    std::size_t arrivals = 0;  // not yet answered by a call
    bool queued = false;       // its call is in the ready queue
    bool running = false;      // its call runs the callback
    bool current = true;       // false once removed or replaced
    // Holds one room in the ready queue (reserved, or its queued call's)
    // while current or queued.
  };
  struct call {
    signal_handlers* owner;
    handler_state* state;
    void operator()() const;
  };
  struct handler {
    handler_state* state;
    struct sigaction before;  // restored when the last handler goes
  };
  void open_pipe(poller& io);
  void drain() noexcept;
  void queue_call(handler_state& state) noexcept;
  void retire(handler_state& state) noexcept;
  void forget_if_done(handler_state& state) noexcept;
  void forget(handler_state& state) noexcept;

  std::map<int, handler> handlers_;
  std::list<handler_state> states_;  // the handlers', and those a call still needs
  int read_fd_ = -1;
  int write_fd_ = -1;
};

}  // namespace tandem::detail
