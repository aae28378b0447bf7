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

void signal_handlers::open_pipe(poller& io, ready_queue& ready) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0)
    throw_errno("tandem::event_loop::add_signal_handler: pipe2");
  read_fd_ = fds[0];
  write_fd_ = fds[1];
  try {
    io.watch_always(read_fd_, [this, &ready] { drain(ready); });
  } catch (...) {
    ::close(read_fd_);
    ::close(write_fd_);
    read_fd_ = write_fd_ = -1;
    throw;
  }
}

// Queues the callback of each signal that arrived, as a loop callback.
void signal_handlers::drain(ready_queue& ready) {
  unsigned char numbers[64];
  ssize_t n;
  while ((n = ::read(read_fd_, numbers, sizeof numbers)) > 0) {
    for (ssize_t i = 0; i < n; ++i) {
      auto it = handlers_.find(numbers[i]);
      if (it != handlers_.end()) ready.push_callback(it->second.callback);
    }
  }
}

void signal_handlers::add(int signum, std::function<void()> cb, poller& io, ready_queue& ready) {
  if (signum <= 0 || signum >= NSIG || signum == SIGKILL || signum == SIGSTOP)
    throw std::invalid_argument("tandem::event_loop::add_signal_handler: signal " +
                                std::to_string(signum) + " cannot be handled");
  if (!cb)
    throw std::invalid_argument("tandem::event_loop::add_signal_handler: the callback is empty");
  if (auto it = handlers_.find(signum); it != handlers_.end()) {
    it->second.callback = std::move(cb);  // replaces the first
    return;
  }
  {
    std::lock_guard lock(owners_mutex);
    if (owner_of_signal[static_cast<std::size_t>(signum)] != nullptr)
      throw std::logic_error(
          "tandem::event_loop::add_signal_handler: another loop handles signal " +
          std::to_string(signum));
    owner_of_signal[static_cast<std::size_t>(signum)] = this;
  }
  try {
    if (read_fd_ < 0) open_pipe(io, ready);
    handler h{std::move(cb), {}};
    struct sigaction action {};
    action.sa_handler = write_signal_number;
    sigemptyset(&action.sa_mask);
    action.sa_flags = SA_RESTART;
    pipe_of_signal[signum].store(write_fd_ + 1);
    if (::sigaction(signum, &action, &h.before) != 0)
      throw_errno("tandem::event_loop::add_signal_handler: sigaction");
    handlers_.emplace(signum, std::move(h));
  } catch (...) {
    pipe_of_signal[signum].store(0);
    {
      std::lock_guard lock(owners_mutex);
      owner_of_signal[static_cast<std::size_t>(signum)] = nullptr;
    }
    if (handlers_.empty()) remove_all(&io);  // the pipe opened for this one
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
  handlers_.erase(it);
  if (handlers_.empty()) remove_all(&io);
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
