// The loop's poller: which tasks wait for which file descriptors, epoll,
// and the eventfd that wakes the loop from other threads.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <unordered_map>

namespace tandem::detail {

// A file descriptor registered with epoll once, for as long as it is open
// (a stream's socket, a listening socket): poll() hands its events straight
// to on_events, with no look-up and no epoll_ctl per wait. on_events runs
// inside poll(): it may queue work and remove its own registration, not
// another source's (that one's events may be in the same batch).
class io_source {
 public:
  virtual void on_events(std::uint32_t events) = 0;

 protected:
  ~io_source() = default;
};

class poller {
 public:
  poller();  // std::system_error if epoll or the eventfd cannot be made
  ~poller();
  poller(const poller&) = delete;
  poller& operator=(const poller&) = delete;

  // Registers the waker of the one task that waits for fd to be readable
  // (or writable); std::logic_error if another task already waits so,
  // std::system_error naming the wait and fd if epoll refuses fd (the
  // table is then as it was: no entry is kept for a bad descriptor). The
  // waker runs inside poll() and must not throw: a task's local_waker,
  // which queues the task's step in the room reserved for it.
  void watch(int fd, bool writable, std::function<void()> waker);
  // The waiter leaves (woken or not).
  void unwatch(int fd, bool writable) noexcept;

  // Watches fd for reading until unwatch_always (level-triggered); poll()
  // calls on_ready whenever it is readable (the signal pipe).
  void watch_always(int fd, std::function<void()> on_ready);
  void unwatch_always(int fd) noexcept;

  // Registers (or re-registers) a source for `events` (EPOLLIN,
  // EPOLLOUT, EPOLLET, ...); std::system_error if epoll refuses fd.
  void add_source(int fd, std::uint32_t events, io_source* source);
  void modify_source(int fd, std::uint32_t events, io_source* source);
  void remove_source(int fd) noexcept;

  // Waits for readiness, up to timeout_ms (-1: no limit), and wakes each
  // waiter whose fd is ready: its waker runs now, which cannot fail, so
  // that no waiter's event taken from epoll is lost.
  void poll(int timeout_ms);

  // Any thread: makes a poll() in progress, or the next one, return.
  void wake() noexcept;

  // The descriptors the table holds an entry for (tests: a refused wait
  // adds none).
  std::size_t watched_fd_count() const noexcept { return fds_.size(); }

  // The loop closes: forgets every waiter, closes the eventfd (the caller
  // makes sure no wake() runs concurrently) and epoll.
  void forget_waiters() noexcept { fds_.clear(); }
  void close_wake_fd() noexcept;
  void close() noexcept;

 private:
  // Registrations are EPOLLONESHOT: an event disarms the fd, and the next
  // wait re-arms it with one epoll_ctl (no ADD/DEL pair per wait).
  struct fd_watch {
    std::function<void()> reader;
    std::function<void()> writer;
    std::uint32_t armed = 0;  // the events epoll will report for this fd
    bool added = false;       // ever added to epoll (it may have been closed since)
  };

  // std::system_error naming `operation` and fd if epoll refuses fd.
  void rearm(int fd, fd_watch& w, const char* operation = "tandem");
  void take_event(int fd, std::uint32_t events);

  int epoll_fd_ = -1;
  int wake_fd_ = -1;
  std::unordered_map<int, fd_watch> fds_;
  std::unordered_map<int, std::function<void()>> always_;
};

}  // namespace tandem::detail
