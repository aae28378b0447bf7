// File descriptors (docs/rules.md, loop rule 8: one waiter per fd and
// direction; bad input rule 4: a bad fd is a std::system_error):
// wait_readable / wait_writable, and a TCP echo server on 127.0.0.1 with 50
// concurrent clients.
//
// Every test that waits on the loop runs under a watchdog timer that stops
// the loop, so a lost readiness event fails the test instead of hanging it.
// All descriptors are non-blocking: a task must never block the loop's
// thread in a system call.
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <system_error>
#include <type_traits>
#include <utility>
#include <vector>

#include "loop_state.hpp"  // the poller's entry count (src/)
#include "support/loop_support.hpp"
#include "tandem/coroutine.hpp"
#include "tandem/loop.hpp"

namespace {

using namespace loop_testing;

[[noreturn]] void throw_errno(const char* what) {
  throw std::system_error(errno, std::generic_category(), what);
}

// An owned file descriptor. Declared before the loop in each test, so that
// it outlives the loop (loop rule 10: objects that tasks use must).
class unique_fd {
 public:
  unique_fd() = default;
  explicit unique_fd(int fd) : fd_(fd) {}
  unique_fd(unique_fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  unique_fd& operator=(unique_fd&& other) noexcept {
    reset(std::exchange(other.fd_, -1));
    return *this;
  }
  ~unique_fd() { reset(); }
  int get() const { return fd_; }
  void reset(int fd = -1) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }

 private:
  int fd_ = -1;
};

struct pipe_fds {
  unique_fd read, write;
};
pipe_fds make_pipe() {
  int fds[2];
  if (::pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0) throw_errno("pipe2");
  return {unique_fd(fds[0]), unique_fd(fds[1])};
}

// Writes until the pipe is full, so that its write end is not writable.
void fill(int fd) {
  static const std::string chunk(65536, 'f');
  for (;;) {
    if (::write(fd, chunk.data(), chunk.size()) < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) return;
      throw_errno("write");
    }
  }
}

std::size_t drain(int fd) {
  char buffer[65536];
  std::size_t total = 0;
  for (;;) {
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n > 0) {
      total += static_cast<std::size_t>(n);
    } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      return total;
    } else {
      throw_errno("read");
    }
  }
}

void write_byte(int fd, char c) {
  if (::write(fd, &c, 1) != 1) throw_errno("write");
}

char read_byte(int fd) {
  char c = 0;
  if (::read(fd, &c, 1) != 1) throw_errno("read");
  return c;
}

// ---------------------------------------------------------------------------
// Readiness.

TEST(Io, WaitReadableWakesWhenDataArrives) {
  auto p = make_pipe();
  event_loop loop;
  run_bounded(loop, [&] {
    auto reader = tandem::current_loop().create_task([&] {
      tandem::wait_readable(p.read.get());
      return read_byte(p.read.get());
    });
    tandem::sleep_for(5ms);
    EXPECT_FALSE(reader.done());  // nothing to read yet
    write_byte(p.write.get(), 'r');
    EXPECT_EQ(tandem::await(reader), 'r');
    // Data already there: wait_readable returns without waiting for more.
    write_byte(p.write.get(), 's');
    tandem::wait_readable(p.read.get());
    EXPECT_EQ(read_byte(p.read.get()), 's');
  });
}

TEST(Io, WaitWritableWakesWhenThereIsRoom) {
  auto p = make_pipe();
  event_loop loop;
  run_bounded(loop, [&] {
    tandem::wait_writable(p.write.get());  // empty pipe: writable at once
    fill(p.write.get());
    auto writer = tandem::current_loop().create_task([&] {
      tandem::wait_writable(p.write.get());
      write_byte(p.write.get(), 'w');
    });
    tandem::sleep_for(5ms);
    EXPECT_FALSE(writer.done());  // full
    EXPECT_GT(drain(p.read.get()), 0u);
    tandem::await(writer);
    EXPECT_EQ(read_byte(p.read.get()), 'w');
  });
}

TEST(Io, ReaderAndWriterOnTheSameFdAtOnce) {
  int pair[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, pair), 0);
  unique_fd a(pair[0]), b(pair[1]);
  event_loop loop;
  run_bounded(loop, [&] {
    auto reader = tandem::current_loop().create_task([&] {
      tandem::wait_readable(a.get());
      return read_byte(a.get());
    });
    tandem::sleep_for(0s);
    // One reader and one writer on one fd: allowed.
    tandem::wait_writable(a.get());
    write_byte(a.get(), 'x');  // to b
    EXPECT_EQ(read_byte(b.get()), 'x');
    EXPECT_FALSE(reader.done());
    write_byte(b.get(), 'y');  // to a
    EXPECT_EQ(tandem::await(reader), 'y');
  });
}

// At most one task waits for readability of a fd; a second gets
// logic_error, and the first keeps its place.
TEST(Io, SecondReaderOnSameFdThrows) {
  auto p = make_pipe();
  event_loop loop;
  run_bounded(loop, [&] {
    auto& l = tandem::current_loop();
    auto first = l.create_task([&] {
      tandem::wait_readable(p.read.get());
      return read_byte(p.read.get());
    });
    tandem::sleep_for(0s);
    EXPECT_THROW(tandem::wait_readable(p.read.get()), std::logic_error);
    auto second =
        l.create_task([&] { EXPECT_THROW(tandem::wait_readable(p.read.get()), std::logic_error); });
    tandem::await(second);
    EXPECT_FALSE(first.done());
    write_byte(p.write.get(), '1');
    EXPECT_EQ(tandem::await(first), '1');
    // The first waiter is gone: the slot is free again.
    write_byte(p.write.get(), '2');
    tandem::wait_readable(p.read.get());
    EXPECT_EQ(read_byte(p.read.get()), '2');
  });
}

TEST(Io, SecondWriterOnSameFdThrows) {
  auto p = make_pipe();
  fill(p.write.get());
  event_loop loop;
  run_bounded(loop, [&] {
    auto first = tandem::current_loop().create_task([&] {
      tandem::wait_writable(p.write.get());
      write_byte(p.write.get(), 'w');
    });
    tandem::sleep_for(0s);
    EXPECT_THROW(tandem::wait_writable(p.write.get()), std::logic_error);
    EXPECT_FALSE(first.done());
    drain(p.read.get());
    tandem::await(first);
    EXPECT_EQ(read_byte(p.read.get()), 'w');
    tandem::wait_writable(p.write.get());  // free again
  });
}

TEST(Io, FdWaiterSlotIsFreedAfterEachWake) {
  auto p = make_pipe();
  event_loop loop;
  int received = 0;
  run_bounded(loop, [&] {
    auto reader = tandem::current_loop().create_task([&] {
      for (int i = 0; i < 200; ++i) {
        tandem::wait_readable(p.read.get());
        if (read_byte(p.read.get()) == static_cast<char>(i)) ++received;
      }
    });
    for (int i = 0; i < 200; ++i) {
      write_byte(p.write.get(), static_cast<char>(i));
      tandem::sleep_for(0s);
      tandem::sleep_for(0s);  // the reader takes it and waits again
    }
    tandem::await(reader);
  });
  EXPECT_EQ(received, 200);
}

TEST(Io, CancelFdWaitThrowsAtSuspensionAndFreesTheSlot) {
  auto p = make_pipe();
  auto full = make_pipe();
  fill(full.write.get());
  event_loop loop;
  run_bounded(loop, [&] {
    auto& l = tandem::current_loop();
    bool reader_went_on = false;
    bool writer_went_on = false;
    auto reader = l.create_task([&] {
      tandem::wait_readable(p.read.get());
      reader_went_on = true;
    });
    auto writer = l.create_task([&] {
      tandem::wait_writable(full.write.get());
      writer_went_on = true;
    });
    tandem::sleep_for(0s);
    EXPECT_TRUE(reader.cancel());
    EXPECT_TRUE(writer.cancel());
    EXPECT_THROW(tandem::await(reader), tandem::cancelled_error);
    EXPECT_THROW(tandem::await(writer), tandem::cancelled_error);
    EXPECT_FALSE(reader_went_on);
    EXPECT_FALSE(writer_went_on);
    // The cancelled waiters no longer hold their fds.
    write_byte(p.write.get(), 'c');
    tandem::wait_readable(p.read.get());
    EXPECT_EQ(read_byte(p.read.get()), 'c');
    drain(full.read.get());
    tandem::wait_writable(full.write.get());
  });
}

// A task cancelled in the iteration that also finds its fd ready is
// stepped first, finishes, and (its handle dropped) is freed; the readiness
// callback queued behind it must then find no waiter rather than call into
// the freed task. The loop polls I/O only every so many iterations while
// work is ready, so the race is tried at many phases. (Under AddressSanitizer
// a use-after-free here fails the asan stage.)
TEST(Io, CancelledFdWaiterFreedBeforeItsReadinessRuns) {
  event_loop loop;
  run_bounded(loop, [&] {
    for (int phase = 0; phase < 200; ++phase) {
      auto p = make_pipe();
      bool went_on = false;
      {
        auto t = tandem::current_loop().create_task([&] {
          tandem::wait_readable(p.read.get());
          went_on = true;
        });
        tandem::sleep_for(0s);  // t now waits for the pipe
        for (int i = 0; i < phase % 70; ++i) tandem::sleep_for(0s);
        write_byte(p.write.get(), 'r');
        t.cancel();
      }
      for (int i = 0; i < 70; ++i) tandem::sleep_for(0s);  // past the next poll
      EXPECT_FALSE(went_on) << "phase " << phase;
    }
  });
}

// Regression: epoll_ctl failing under a closed fd stalled the waiters of the other
// fds ready in the same batch.
TEST(Io, FdClosedUnderItsWaitersDoesNotStallOtherFds) {
  int s[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, s), 0);
  int p[2];
  ASSERT_EQ(::pipe(p), 0);
  event_loop loop;
  bool pipe_reader_woke = false;
  try {
    run_bounded(loop, [&] {
      auto& l = tandem::current_loop();
      auto reader = l.create_task([&] { tandem::wait_readable(s[0]); });
      // Fill the socket so that the writer waits too.
      auto writer = l.create_task([&] {
        char buf[4096] = {};
        while (::write(s[0], buf, sizeof buf) > 0) {
        }
        tandem::wait_writable(s[0]);
      });
      auto pipe_reader = l.create_task([&] {
        tandem::wait_readable(p[0]);
        pipe_reader_woke = true;
      });
      tandem::sleep_for(5ms);
      const int keep = ::dup(s[0]);  // the socket lives on, its fd number does not
      ASSERT_EQ(::write(s[1], "x", 1), 1);
      ASSERT_EQ(::write(p[1], "y", 1), 1);
      ::close(s[0]);
      tandem::sleep_for(50ms);
      ::close(keep);
      reader.cancel();
      writer.cancel();
    });
  } catch (const std::system_error&) {
    // Closing an fd under its waiters is the user's error; an error is fine.
  }
  EXPECT_TRUE(pipe_reader_woke) << "an unrelated fd's waiter stalled";
  ::close(s[1]);
  ::close(p[0]);
  ::close(p[1]);
}

// ---------------------------------------------------------------------------
// Misuse.

TEST(Io, BadFdThrowsSystemError) {
  auto p = make_pipe();
  event_loop loop;
  run_bounded(loop, [&] {
    // One good wait first: whatever descriptors the loop needs are open now.
    write_byte(p.write.get(), 'j');
    tandem::wait_readable(p.read.get());
    EXPECT_EQ(read_byte(p.read.get()), 'j');
    // A descriptor that was just closed (nothing runs between the close and
    // the wait that could open another under the same number).
    int closed[2];
    ASSERT_EQ(::pipe2(closed, O_CLOEXEC), 0);
    ::close(closed[0]);
    ::close(closed[1]);
    EXPECT_THROW(tandem::wait_readable(closed[0]), std::system_error);
    EXPECT_THROW(tandem::wait_writable(closed[1]), std::system_error);
    try {
      tandem::wait_readable(-1);
      ADD_FAILURE() << "wait_readable(-1) returned";
    } catch (const std::system_error& e) {
      EXPECT_EQ(e.code(), std::errc::bad_file_descriptor) << e.what();
    }
    EXPECT_THROW(tandem::wait_writable(-1), std::system_error);
    EXPECT_THROW(tandem::wait_readable(1 << 28), std::system_error);  // never open
    // The refused waits left no registration behind.
    write_byte(p.write.get(), 'k');
    tandem::wait_readable(p.read.get());
    EXPECT_EQ(read_byte(p.read.get()), 'k');
  });
}

// A refused wait leaves no trace: the poller keeps no entry for the
// descriptor it refused (a loop handed bad descriptors would grow its
// table for ever), and the same number, once a pipe's, waits and wakes as
// any other. Regression: each refused descriptor left an empty entry in
// the poller's table.
TEST(Io, RefusedWaitsLeaveNoEntryInThePoller) {
  auto p = make_pipe();
  unique_fd no_poll(::open("/dev/null", O_RDONLY | O_CLOEXEC));  // epoll refuses: EPERM
  ASSERT_GE(no_poll.get(), 0);
  event_loop loop;
  const auto& io = tandem::detail::loop_access::of(loop).io;
  run_bounded(loop, [&] {
    write_byte(p.write.get(), 'j');
    tandem::wait_readable(p.read.get());  // whatever the loop opens, it has opened now
    EXPECT_EQ(read_byte(p.read.get()), 'j');
    const std::size_t entries = io.watched_fd_count();
    int closed[2];
    ASSERT_EQ(::pipe2(closed, O_CLOEXEC), 0);
    ::close(closed[0]);
    ::close(closed[1]);
    EXPECT_THROW(tandem::wait_readable(closed[0]), std::system_error);
    EXPECT_THROW(tandem::wait_writable(closed[1]), std::system_error);
    EXPECT_THROW(tandem::wait_readable(-1), std::system_error);
    EXPECT_THROW(tandem::wait_writable(1 << 28), std::system_error);
    EXPECT_THROW(tandem::wait_readable(no_poll.get()), std::system_error);
    EXPECT_EQ(io.watched_fd_count(), entries) << "a refused wait left an entry behind";
    auto reopened = make_pipe();  // the lowest free numbers: those just refused
    EXPECT_EQ(reopened.read.get(), closed[0]);
    auto reader = tandem::current_loop().create_task([&] {
      tandem::wait_readable(reopened.read.get());
      return read_byte(reopened.read.get());
    });
    tandem::sleep_for(0s);  // it waits
    write_byte(reopened.write.get(), 'r');
    EXPECT_EQ(tandem::await(reader), 'r');
  });
}

// The refusal of a bad descriptor says which call refused which
// descriptor, and keeps epoll's reason (EBADF, EPERM). Regression: it
// read "tandem: epoll_ctl on file descriptor N", naming neither call.
TEST(Io, RefusedWaitsNameTheCallAndTheFd) {
  unique_fd no_poll(::open("/dev/null", O_RDONLY | O_CLOEXEC));  // epoll refuses: EPERM
  ASSERT_GE(no_poll.get(), 0);
  event_loop loop;
  run_bounded(loop, [&] {
    int closed[2];
    ASSERT_EQ(::pipe2(closed, O_CLOEXEC), 0);
    ::close(closed[0]);
    ::close(closed[1]);
    const auto expect_refusal = [](auto wait, int fd, const char* call, std::errc why) {
      try {
        wait(fd);
        ADD_FAILURE() << call << "(" << fd << ") returned";
      } catch (const std::system_error& e) {
        const std::string what = e.what();
        EXPECT_EQ(e.code(), why) << what;
        EXPECT_NE(what.find(call), std::string::npos) << what;
        EXPECT_NE(what.find("file descriptor " + std::to_string(fd)), std::string::npos) << what;
      }
    };
    expect_refusal(tandem::wait_readable, closed[0], "tandem::wait_readable",
                   std::errc::bad_file_descriptor);
    expect_refusal(tandem::wait_writable, no_poll.get(), "tandem::wait_writable",
                   std::errc::operation_not_permitted);
  });
}

TEST(Io, FdWaitsOutsideATaskThrowLogicError) {
  auto p = make_pipe();
  EXPECT_THROW(tandem::wait_readable(p.read.get()), std::logic_error);
  EXPECT_THROW(tandem::wait_writable(p.write.get()), std::logic_error);
  event_loop loop;
  run_bounded(loop, [&] {
    tandem::coroutine<int> generator([&](tandem::yielder<int>& y) {
      EXPECT_THROW(tandem::wait_readable(p.read.get()), std::logic_error);
      EXPECT_THROW(tandem::wait_writable(p.write.get()), std::logic_error);
      y.yield(1);
    });
    EXPECT_EQ(generator.next(), 1);
    // Refused from the generator: the task itself may wait on the fd.
    write_byte(p.write.get(), 'g');
    tandem::wait_readable(p.read.get());
    EXPECT_EQ(read_byte(p.read.get()), 'g');
  });
}

TEST(Io, CloseCancelsFdWaitersAndUnwinds) {
  auto p = make_pipe();
  auto full = make_pipe();
  fill(full.write.get());
  int destroyed = 0;
  std::vector<tandem::task<void>> waiters;
  {
    event_loop loop;
    waiters.push_back(loop.create_task([&] {
      counted c(destroyed);
      tandem::wait_readable(p.read.get());
      ADD_FAILURE() << "the reader resumed normally at close";
    }));
    waiters.push_back(loop.create_task([&] {
      counted c(destroyed);
      tandem::wait_writable(full.write.get());
      ADD_FAILURE() << "the writer resumed normally at close";
    }));
    run_bounded(loop, [] { tandem::sleep_for(0s); });
    EXPECT_EQ(destroyed, 0);
    loop.close();
    EXPECT_EQ(destroyed, 2);
  }
  for (auto& w : waiters) EXPECT_TRUE(w.cancelled());
  // A new loop may wait on the same fds: the old one let go of them.
  event_loop next;
  run_bounded(next, [&] {
    write_byte(p.write.get(), 'n');
    tandem::wait_readable(p.read.get());
    EXPECT_EQ(read_byte(p.read.get()), 'n');
    drain(full.read.get());
    tandem::wait_writable(full.write.get());
  });
}

// ---------------------------------------------------------------------------
// A TCP echo server on 127.0.0.1 (port chosen by the kernel) and 50 client
// tasks, each sending 100 messages of varied sizes (up to ~3 KB, so reads
// and writes come back partial) and checking every echo byte for byte.

void send_all(int fd, const char* data, std::size_t size) {
  while (size > 0) {
    const ssize_t n = ::send(fd, data, size, MSG_NOSIGNAL);
    if (n > 0) {
      data += n;
      size -= static_cast<std::size_t>(n);
    } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      tandem::wait_writable(fd);
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else {
      throw_errno("send");
    }
  }
}

void receive_exactly(int fd, char* data, std::size_t size) {
  while (size > 0) {
    const ssize_t n = ::recv(fd, data, size, 0);
    if (n > 0) {
      data += n;
      size -= static_cast<std::size_t>(n);
    } else if (n == 0) {
      throw std::runtime_error("the echo server closed the connection early");
    } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
      tandem::wait_readable(fd);
    } else if (errno != EINTR) {
      throw_errno("recv");
    }
  }
}

// Echoes until the client closes; returns the bytes echoed.
std::size_t echo(unique_fd connection) {
  const int fd = connection.get();
  std::vector<char> buffer(4096);
  std::size_t echoed = 0;
  for (;;) {
    const ssize_t n = ::recv(fd, buffer.data(), buffer.size(), 0);
    if (n > 0) {
      send_all(fd, buffer.data(), static_cast<std::size_t>(n));
      echoed += static_cast<std::size_t>(n);
    } else if (n == 0) {
      return echoed;
    } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
      tandem::wait_readable(fd);
    } else if (errno != EINTR) {
      throw_errno("recv");
    }
  }
}

std::string message(int client, int index) {
  const std::size_t size = 1 + static_cast<std::size_t>(client * 131 + index * 977) % 3000;
  std::string text(size, '\0');
  for (std::size_t k = 0; k < size; ++k)
    text[k] = static_cast<char>((client * 7 + index * 13 + static_cast<int>(k)) % 251);
  return text;
}

TEST(Io, EchoServerFiftyClientsHundredMessagesEach) {
  constexpr int kClients = 50;
  constexpr int kMessages = 100;

  unique_fd listener(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  ASSERT_GE(listener.get(), 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  ASSERT_EQ(::bind(listener.get(), reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
  ASSERT_EQ(::listen(listener.get(), 128), 0);
  socklen_t length = sizeof address;
  ASSERT_EQ(::getsockname(listener.get(), reinterpret_cast<sockaddr*>(&address), &length), 0);

  std::vector<tandem::task<std::size_t>> handlers;
  event_loop loop;
  auto server = loop.create_task([&] {
    for (;;) {
      tandem::wait_readable(listener.get());
      for (;;) {  // every pending connection
        const int fd = ::accept4(listener.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
          if (errno == EAGAIN || errno == EWOULDBLOCK) break;
          if (errno == EINTR || errno == ECONNABORTED) continue;
          throw_errno("accept4");
        }
        handlers.push_back(tandem::current_loop().create_task(
            [connection = std::make_shared<unique_fd>(fd)]() mutable {
              return echo(std::move(*connection));
            }));
      }
    }
  });

  auto client = [&](int id) {
    unique_fd socket(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (socket.get() < 0) throw_errno("socket");
    if (::connect(socket.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) {
      if (errno != EINPROGRESS) throw_errno("connect");
      tandem::wait_writable(socket.get());
      int error = 0;
      socklen_t size = sizeof error;
      if (::getsockopt(socket.get(), SOL_SOCKET, SO_ERROR, &error, &size) != 0)
        throw_errno("getsockopt");
      if (error != 0) throw std::system_error(error, std::generic_category(), "connect");
    }
    int intact = 0;
    std::string echoed;
    for (int i = 0; i < kMessages; ++i) {
      const std::string sent = message(id, i);
      send_all(socket.get(), sent.data(), sent.size());
      echoed.assign(sent.size(), '\0');
      receive_exactly(socket.get(), echoed.data(), echoed.size());
      if (echoed == sent) ++intact;
    }
    return intact;
  };

  std::size_t sent_bytes = 0;
  for (int id = 0; id < kClients; ++id)
    for (int i = 0; i < kMessages; ++i) sent_bytes += message(id, i).size();

  const int intact = run_bounded(loop, [&] {
    std::vector<tandem::task<int>> clients;
    for (int id = 0; id < kClients; ++id)
      clients.push_back(tandem::current_loop().create_task([&client, id] { return client(id); }));
    int total = 0;
    for (auto& c : clients) total += tandem::await(c);
    // Every client has closed its socket: the handlers see end of file.
    std::size_t echoed = 0;
    for (std::size_t i = 0; i < handlers.size(); ++i) echoed += tandem::await(handlers[i]);
    EXPECT_EQ(echoed, sent_bytes);
    EXPECT_TRUE(server.cancel());
    EXPECT_THROW(tandem::await(server), tandem::cancelled_error);
    return total;
  });
  EXPECT_EQ(intact, kClients * kMessages);
  EXPECT_EQ(handlers.size(), static_cast<std::size_t>(kClients));
}

}  // namespace
