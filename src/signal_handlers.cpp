// The loop's signal handlers: see signal_handlers.hpp.
#include "signal_handlers.hpp"

#include <fcntl.h>
#include <sched.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <mutex>
#include <stdexcept>
#include <string>
#include <system_error>
#include <type_traits>
#include <utility>

#include "errno_error.hpp"

namespace tandem::detail {
namespace {

// Which pipe each signal is written to, as its descriptor + 1 (0: none),
// read by the handler; which loop's handlers own it, under the lock.
constinit std::atomic<int> pipe_of_signal[NSIG] = {};
std::mutex owners_mutex;
std::array<const signal_handlers*, NSIG> owner_of_signal{};

// Handlers between reading a pipe's descriptor and writing to it, on any
// thread. The pipe is closed only once none is (wait_for_handlers_in_flight):
// a handler that read the descriptor just before it was taken away would
// otherwise write into whatever file took its number next.
constinit std::atomic<int> handlers_in_flight{0};

extern "C" void write_signal_number(int signum) {
  const int saved_errno = errno;
  // Counted before the descriptor is read (both sequentially consistent):
  // a closer that took the descriptor away and then sees no handler in
  // flight knows that none read it before.
  handlers_in_flight.fetch_add(1);
  const int fd = pipe_of_signal[signum].load() - 1;
  if (fd >= 0) {
    const auto byte = static_cast<unsigned char>(signum);
    [[maybe_unused]] auto r = ::write(fd, &byte, 1);  // a full pipe drops it: one is pending
  }
  handlers_in_flight.fetch_sub(1);
  errno = saved_errno;
}

// Called after every pipe_of_signal entry naming the pipe was cleared. A
// handler interrupting this thread runs to its end first, so this never
// waits on its own thread; one on another thread is a write away.
void wait_for_handlers_in_flight() noexcept {
  while (handlers_in_flight.load() != 0) sched_yield();
}

}  // namespace

void signal_handlers::open_pipe(poller& io) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0)
    throw_errno("tandem::event_loop::add_signal_handler: pipe2");
  read_fd_ = fds[0];
  write_fd_ = fds[1];
  try {
    io.watch_always(read_fd_, [this] { drain(); });
  } catch (...) {
    ::close(read_fd_);
    ::close(write_fd_);
    read_fd_ = write_fd_ = -1;
    throw;
  }
}

// Inside the poll: counts each signal that arrived to its handler, and
// queues the handler's call unless it is queued already. Allocates nothing.
void signal_handlers::drain() noexcept {
  unsigned char numbers[64];
  ssize_t n;
  while ((n = ::read(read_fd_, numbers, sizeof numbers)) > 0) {
    for (ssize_t i = 0; i < n; ++i) {
      auto it = handlers_.find(numbers[i]);
      if (it == handlers_.end()) continue;  // removed since it arrived
      handler_state& state = *it->second.state;
      ++state.arrivals;
      if (!state.queued) queue_call(state);
    }
  }
}

// Into the room the handler holds. libstdc++ keeps a callable inside the
// std::function, without allocating, when it is trivially copyable and no
// bigger than two pointers; libc++ has room for three.
void signal_handlers::queue_call(handler_state& state) noexcept {
  static_assert(sizeof(call) <= 2 * sizeof(void*) && std::is_trivially_copyable_v<call>);
  state.queued = true;
  state.ready->push_reserved_callback(call{this, &state});
}

// A call runs: it answers one arrival and takes its room back (the pop
// freed it), queued again while arrivals remain; a handler no longer
// current gives the room up with its last call, and its state goes once
// the callback has returned (or thrown).
void signal_handlers::call::operator()() const {
  handler_state& s = *state;
  s.ready->reserve_popped_callback();
  s.queued = false;
  if (--s.arrivals > 0)
    owner->queue_call(s);
  else if (!s.current)
    s.ready->release_callback();
  struct running_scope {
    signal_handlers* owner;
    handler_state& s;
    ~running_scope() {
      s.running = false;
      owner->forget_if_done(s);
    }
  } scope{owner, s};
  s.running = true;
  s.callback();
}

// A handler removed or replaced: its room goes now, or with its last call.
void signal_handlers::retire(handler_state& state) noexcept {
  state.current = false;
  if (!state.queued) state.ready->release_callback();
  forget_if_done(state);
}

void signal_handlers::forget_if_done(handler_state& state) noexcept {
  if (!state.current && !state.queued && !state.running) forget(state);
}

// The list is short (a handler per signal, and those retired with a call
// still to run).
void signal_handlers::forget(handler_state& state) noexcept {
  states_.remove_if([&state](const handler_state& s) { return &s == &state; });
}

void signal_handlers::add(int signum, std::function<void()> cb, poller& io, ready_queue& ready) {
  if (signum <= 0 || signum >= NSIG || signum == SIGKILL || signum == SIGSTOP)
    throw std::invalid_argument("tandem::event_loop::add_signal_handler: signal " +
                                std::to_string(signum) + " cannot be handled");
  if (!cb)
    throw std::invalid_argument("tandem::event_loop::add_signal_handler: the callback is empty");
  // The new state and its room come before anything changes (a
  // std::bad_alloc leaves the handlers as they were).
  states_.push_front(handler_state{std::move(cb), &ready});
  handler_state& state = states_.front();
  try {
    ready.reserve_callback();
  } catch (...) {
    forget(state);
    throw;
  }
  if (auto it = handlers_.find(signum); it != handlers_.end()) {
    // Replaces the first (a call it queued still runs), retired last: its
    // callback may go with it, and what that destroys may call in here.
    handler_state& replaced = *it->second.state;
    it->second.state = &state;
    retire(replaced);
    return;
  }
  {
    std::lock_guard lock(owners_mutex);
    if (owner_of_signal[static_cast<std::size_t>(signum)] != nullptr) {
      ready.release_callback();
      forget(state);
      throw std::logic_error(
          "tandem::event_loop::add_signal_handler: another loop handles signal " +
          std::to_string(signum));
    }
    owner_of_signal[static_cast<std::size_t>(signum)] = this;
  }
  // Listed before the disposition changes: once it has, nothing may fail.
  auto placed = handlers_.end();
  try {
    if (read_fd_ < 0) open_pipe(io);
    placed = handlers_.emplace(signum, handler{&state, {}}).first;
    struct sigaction action {};
    action.sa_handler = write_signal_number;
    sigemptyset(&action.sa_mask);
    action.sa_flags = SA_RESTART;
    pipe_of_signal[signum].store(write_fd_ + 1);
    if (::sigaction(signum, &action, &placed->second.before) != 0)
      throw_errno("tandem::event_loop::add_signal_handler: sigaction");
  } catch (...) {
    if (placed != handlers_.end()) handlers_.erase(placed);
    ready.release_callback();
    pipe_of_signal[signum].store(0);
    {
      std::lock_guard lock(owners_mutex);
      owner_of_signal[static_cast<std::size_t>(signum)] = nullptr;
    }
    if (handlers_.empty()) remove_all(&io);  // the pipe opened for this one
    forget(state);                           // last: its callback's captures go
    throw;
  }
}

bool signal_handlers::remove(int signum, poller& io) noexcept {
  auto it = handlers_.find(signum);
  if (it == handlers_.end()) return false;
  ::sigaction(signum, &it->second.before, nullptr);
  pipe_of_signal[signum].store(0);
  {
    std::lock_guard lock(owners_mutex);
    owner_of_signal[static_cast<std::size_t>(signum)] = nullptr;
  }
  // Unlisted first, retired after: its callback may go with it, and what
  // that destroys may call in here.
  handler_state& removed = *it->second.state;
  handlers_.erase(it);
  if (handlers_.empty()) remove_all(&io);
  retire(removed);  // a call it queued still runs
  return true;
}

void signal_handlers::remove_all(poller* io) noexcept {
  while (!handlers_.empty()) {
    const int signum = handlers_.begin()->first;
    ::sigaction(signum, &handlers_.begin()->second.before, nullptr);
    pipe_of_signal[signum].store(0);
    std::lock_guard lock(owners_mutex);
    owner_of_signal[static_cast<std::size_t>(signum)] = nullptr;
    handlers_.erase(handlers_.begin());
  }
  if (read_fd_ >= 0) {
    if (io != nullptr) io->unwatch_always(read_fd_);
    wait_for_handlers_in_flight();
    ::close(read_fd_);
    ::close(write_fd_);
    read_fd_ = write_fd_ = -1;
  }
}

}  // namespace tandem::detail
