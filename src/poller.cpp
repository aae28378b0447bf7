// The loop's poller: see poller.hpp.
#include "poller.hpp"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <iterator>
#include <stdexcept>
#include <string>
#include <system_error>
#include <utility>

#include "errno_error.hpp"

namespace tandem::detail {
namespace {
// epoll_event's data: a source's address with the top bit set, or else a
// file descriptor (the top bits zero).
constexpr std::uint64_t source_tag = std::uint64_t{1} << 63;

epoll_event source_event(std::uint32_t events, io_source* source) {
  epoll_event ev{};
  ev.events = events;
  ev.data.u64 = static_cast<std::uint64_t>(reinterpret_cast<std::uintptr_t>(source)) | source_tag;
  return ev;
}
}  // namespace

poller::poller() {
  epoll_fd_ = ::epoll_create1(EPOLL_CLOEXEC);
  if (epoll_fd_ < 0) throw_errno("tandem::event_loop: epoll_create1");
  wake_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake_fd_ < 0) {
    ::close(epoll_fd_);
    throw_errno("tandem::event_loop: eventfd");
  }
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = wake_fd_;
  ::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd_, &ev);
}

poller::~poller() {
  close_wake_fd();
  close();
}

void poller::close_wake_fd() noexcept {
  if (wake_fd_ >= 0) ::close(wake_fd_);
  wake_fd_ = -1;
}

void poller::close() noexcept {
  if (epoll_fd_ >= 0) ::close(epoll_fd_);
  epoll_fd_ = -1;
}

void poller::wake() noexcept {
  const std::uint64_t one = 1;
  [[maybe_unused]] auto r = ::write(wake_fd_, &one, sizeof one);
}

// Arms epoll for exactly the directions somebody waits for.
void poller::rearm(int fd, fd_watch& w, const char* operation) {
  const std::uint32_t want = (w.reader ? EPOLLIN : 0u) | (w.writer ? EPOLLOUT : 0u);
  if (want == w.armed) return;
  epoll_event ev{};
  ev.events = want | EPOLLONESHOT;
  ev.data.fd = fd;
  // MOD fails with ENOENT when the fd was closed (and its number perhaps
  // reused) since it was added: add it afresh.
  int rc = w.added ? ::epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, fd, &ev) : -1;
  if (!w.added || (rc != 0 && errno == ENOENT)) rc = ::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev);
  if (rc != 0) {
    if (want == 0 && (errno == EBADF || errno == ENOENT)) {  // closed: nothing to disarm
      w.armed = 0;
      return;
    }
    throw_errno(std::string(operation) + ": epoll_ctl on file descriptor " + std::to_string(fd));
  }
  w.added = true;
  w.armed = want;
}

void poller::watch(int fd, bool writable, std::function<void()> waker) {
  const char* const operation = writable ? "tandem::wait_writable" : "tandem::wait_readable";
  const auto [it, made] = fds_.try_emplace(fd);
  fd_watch& w = it->second;
  auto& slot = writable ? w.writer : w.reader;
  if (slot)
    throw std::logic_error(std::string(operation) +
                           ": another task already waits on file descriptor " + std::to_string(fd));
  slot = std::move(waker);
  try {
    rearm(fd, w, operation);
  } catch (...) {
    // Refused (a bad descriptor: EBADF, EPERM): the table is left as it
    // was, so an entry made for this wait goes, or every bad descriptor a
    // loop is handed would keep one for ever.
    slot = nullptr;
    if (made) fds_.erase(it);
    throw;
  }
}

// If the waiter leaves without an event (cancelled), its direction is
// still armed: disarm it now, since the fd may be closed and its number
// reused before anybody waits on it again.
void poller::unwatch(int fd, bool writable) noexcept {
  auto it = fds_.find(fd);
  if (it == fds_.end()) return;
  fd_watch& w = it->second;
  (writable ? w.writer : w.reader) = nullptr;
  if ((w.armed & (writable ? EPOLLOUT : EPOLLIN)) == 0) return;
  try {
    rearm(fd, w);
  } catch (const std::system_error&) {
    w.armed = 0;  // the fd is gone; epoll forgot it with it
  }
}

void poller::watch_always(int fd, std::function<void()> on_ready) {
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = fd;
  if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) != 0)
    throw_errno("tandem: epoll_ctl on file descriptor " + std::to_string(fd));
  always_[fd] = std::move(on_ready);
}

void poller::unwatch_always(int fd) noexcept {
  if (always_.erase(fd) > 0) ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
}

void poller::add_source(int fd, std::uint32_t events, io_source* source) {
  epoll_event ev = source_event(events, source);
  if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) != 0)
    throw_errno("tandem: epoll_ctl on file descriptor " + std::to_string(fd));
}

void poller::modify_source(int fd, std::uint32_t events, io_source* source) {
  epoll_event ev = source_event(events, source);
  if (::epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, fd, &ev) != 0)
    throw_errno("tandem: epoll_ctl on file descriptor " + std::to_string(fd));
}

// Removed explicitly before the fd closes: closing alone leaves the
// registration in place while a duplicate of the fd (fork, dup) lives.
void poller::remove_source(int fd) noexcept {
  if (epoll_fd_ >= 0) ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
}

void poller::poll(int timeout_ms) {
  // As many as libuv takes at once: with 64, a loop serving 100 busy
  // connections made 1.6 epoll_wait calls where one would do.
  epoll_event events[1024];
  const int n = ::epoll_wait(epoll_fd_, events, static_cast<int>(std::size(events)), timeout_ms);
  if (n < 0 && errno != EINTR) throw_errno("tandem: epoll_wait");
  for (int i = 0; i < n; ++i) {
    if ((events[i].data.u64 & source_tag) != 0) {
      // NOLINTNEXTLINE(performance-no-int-to-ptr): the pointer add_source tagged
      reinterpret_cast<io_source*>(static_cast<std::uintptr_t>(events[i].data.u64 & ~source_tag))
          ->on_events(events[i].events);
      continue;
    }
    const int fd = events[i].data.fd;
    if (fd == wake_fd_) {
      std::uint64_t count;
      [[maybe_unused]] auto r = ::read(wake_fd_, &count, sizeof count);
      continue;
    }
    if (auto it = always_.find(fd); it != always_.end()) {
      it->second();
      continue;
    }
    take_event(fd, events[i].events);
  }
}

void poller::take_event(int fd, std::uint32_t events) {
  auto it = fds_.find(fd);
  if (it == fds_.end()) return;
  fd_watch& w = it->second;
  w.armed = 0;  // one-shot: the kernel disarmed it
  const bool trouble = (events & (EPOLLERR | EPOLLHUP)) != 0;
  const bool readable = w.reader && ((events & EPOLLIN) || trouble);
  const bool writable = w.writer && ((events & EPOLLOUT) || trouble);
  // The wakers run now, not from a queued callback: queuing one could
  // fail to allocate, and the event, taken from epoll, would be lost. A
  // waker queues its task's step in room reserved for the task (it cannot
  // fail), and the waiter is still there: it leaves only in its own step,
  // and none runs during poll.
  if (readable) w.reader();
  if (writable) w.writer();
  if ((!w.reader || readable) && (!w.writer || writable)) return;
  // The other direction still waits: arm it alone.
  std::function<void()> woken_reader = readable ? std::move(w.reader) : nullptr;
  std::function<void()> woken_writer = writable ? std::move(w.writer) : nullptr;
  bool rearmed = true;
  try {
    rearm(fd, w);
  } catch (const std::system_error&) {
    rearmed = false;  // e.g. the fd was closed under its waiters
  }
  if (readable) w.reader = std::move(woken_reader);
  if (writable) w.writer = std::move(woken_writer);
  if (!rearmed) {
    // Wake whoever still waits: its next read or write reports the error.
    // The rest of this batch is handled as usual.
    w.armed = 0;
    if (!readable && w.reader) w.reader();
    if (!writable && w.writer) w.writer();
  }
}

}  // namespace tandem::detail
