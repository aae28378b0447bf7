// A TCP echo server on tandem's event loop: one task per client, each
// reading what its client sends and writing it straight back. In asyncio:
//
//     async def handle(reader, writer):
//         while data := await reader.read(16384):
//             writer.write(data)
//             await writer.drain()
//         writer.close()
//
//     async def main(host, port):
//         server = await asyncio.start_server(handle, host, port)
//         print("listening on", host, "port", server.sockets[0].getsockname()[1])
//         stop = asyncio.Event()
//         for sig in (signal.SIGINT, signal.SIGTERM):
//             asyncio.get_running_loop().add_signal_handler(sig, stop.set)
//         await stop.wait()
//         server.close()
//
// Usage: echo_server [PORT [HOST]]
//   PORT  default 8888; 0 asks the kernel for a free port.
//   HOST  an IPv4 address to bind, default 0.0.0.0 (every interface).
// Once it accepts connections it prints "listening on HOST port PORT" on
// stdout (flushed, so that a script reading a pipe sees it at once). On
// SIGINT or SIGTERM it prints "shutting down (...)", stops accepting,
// cancels the client tasks (which closes their sockets), closes the loop
// and exits 0.
//
// Signals reach the loop through a self-pipe: the handler only write()s the
// signal number to a non-blocking pipe, which is async-signal-safe, and a
// task waiting for the pipe to become readable does the real work on the
// loop's thread. (call_soon_threadsafe() is not async-signal-safe: it may
// lock and allocate.)
//
// Linux (accept4, pipe2, SOCK_NONBLOCK, MSG_NOSIGNAL), like the loop's epoll
// back end.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <stdexcept>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "tandem/loop.hpp"

namespace {

using namespace std::chrono_literals;

[[noreturn]] void throw_errno(const char* what) {
  throw std::system_error(errno, std::generic_category(), what);
}

// Owns a file descriptor. Closing in the destructor is what guarantees that
// a socket goes away however its task ends: normally, by an exception, by
// cancellation, or unwound by the loop's close().
class unique_fd {
 public:
  explicit unique_fd(int fd = -1) noexcept : fd_(fd) {}
  unique_fd(unique_fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  unique_fd& operator=(unique_fd&& other) noexcept {
    if (this != &other) {
      reset();
      fd_ = std::exchange(other.fd_, -1);
    }
    return *this;
  }
  ~unique_fd() { reset(); }
  int get() const noexcept { return fd_; }
  void reset() noexcept {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_;
};

// Sends all of [data, data + size), waiting whenever the socket buffer is
// full. False if the peer has gone away.
bool send_all(int fd, const char* data, std::size_t size) {
  while (size > 0) {
    // MSG_NOSIGNAL: a peer that vanished must give EPIPE, not kill the
    // server with SIGPIPE.
    const ssize_t n = ::send(fd, data, size, MSG_NOSIGNAL);
    if (n >= 0) {
      data += n;
      size -= static_cast<std::size_t>(n);
    } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
      tandem::wait_writable(fd);
    } else if (errno == EPIPE || errno == ECONNRESET) {
      return false;
    } else if (errno != EINTR) {
      throw_errno("send");
    }
  }
  return true;
}

// Echoes one client until it closes its side. Reads first and waits only on
// EAGAIN, so data that is already there costs no trip through the loop.
void echo(int fd) {
  char buffer[16 * 1024];  // on the task's stack, 256 KiB by default
  for (;;) {
    const ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
    if (n > 0) {
      if (!send_all(fd, buffer, static_cast<std::size_t>(n))) return;
    } else if (n == 0) {
      return;  // the client is done
    } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
      tandem::wait_readable(fd);
    } else if (errno == ECONNRESET) {
      return;
    } else if (errno != EINTR) {
      throw_errno("recv");
    }
  }
}

// The client task's body. The task owns the socket (it is moved into the
// task's function), so the socket is closed here when the client is done,
// or with the function if the task is cancelled before it ever starts.
void serve_client(unique_fd& socket) {
  try {
    echo(socket.get());
  } catch (const std::exception& e) {
    // One client's failure must not take the server down; cancellation
    // (tandem::cancelled_error, not a std::exception) passes through.
    std::fprintf(stderr, "echo_server: client: %s\n", e.what());
  }
  socket.reset();
}

// Accepts clients until cancelled, one task each. Finished tasks are
// dropped from `clients` as new ones arrive, so the list holds about as many
// handles as there are connections.
void accept_clients(int listener, std::vector<tandem::task<void>>& clients, std::size_t& accepted) {
  auto& loop = tandem::current_loop();
  for (;;) {
    const int fd = ::accept4(listener, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        tandem::wait_readable(listener);
      } else if (errno == EINTR || errno == ECONNABORTED || errno == EPROTO) {
        // The connection died while queued, or a signal arrived: try again.
      } else if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
        // Out of descriptors or memory: the pending connection stays
        // queued and the listener stays readable, so retrying at once
        // would spin. Back off and let clients finish.
        std::fprintf(stderr, "echo_server: accept: %s; retrying in 100 ms\n",
                     std::system_category().message(errno).c_str());
        tandem::sleep_for(100ms);
      } else {
        throw_errno("accept");
      }
      continue;
    }
    std::erase_if(clients, [](const tandem::task<void>& t) { return t.done(); });
    clients.push_back(
        loop.create_task([socket = unique_fd(fd)]() mutable { serve_client(socket); }));
    ++accepted;
  }
}

// The self-pipe's write end, for the signal handler. A plain int: the
// handler may read nothing more elaborate.
int signal_pipe_write = -1;

extern "C" void on_signal(int signo) {
  const int saved_errno = errno;  // write() may change it under the code
                                  // that the signal interrupted
  const auto byte = static_cast<unsigned char>(signo);
  // A full pipe means a signal is already pending; dropping this one is
  // fine, and the pipe is non-blocking, so the handler never waits.
  [[maybe_unused]] const ssize_t n = ::write(signal_pipe_write, &byte, 1);
  errno = saved_errno;
}

// Waits, on the loop, for SIGINT or SIGTERM to arrive through the pipe.
int wait_for_signal(int pipe_read) {
  for (;;) {
    unsigned char byte = 0;
    const ssize_t n = ::read(pipe_read, &byte, 1);
    if (n == 1) return byte;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      tandem::wait_readable(pipe_read);
    } else if (n < 0 && errno != EINTR) {
      throw_errno("read (signal pipe)");
    }
  }
}

// Installs on_signal for SIGINT and SIGTERM, and puts the old handlers back
// on destruction, before the pipe it writes to is closed.
class signal_handlers {
 public:
  explicit signal_handlers(int pipe_write) {
    signal_pipe_write = pipe_write;
    struct sigaction action {};
    action.sa_handler = on_signal;
    sigemptyset(&action.sa_mask);
    action.sa_flags = SA_RESTART;
    if (::sigaction(SIGINT, &action, &old_int_) != 0) throw_errno("sigaction");
    if (::sigaction(SIGTERM, &action, &old_term_) != 0) {
      ::sigaction(SIGINT, &old_int_, nullptr);
      throw_errno("sigaction");
    }
  }
  signal_handlers(const signal_handlers&) = delete;
  signal_handlers& operator=(const signal_handlers&) = delete;
  ~signal_handlers() {
    ::sigaction(SIGTERM, &old_term_, nullptr);
    ::sigaction(SIGINT, &old_int_, nullptr);
    signal_pipe_write = -1;
  }

 private:
  struct sigaction old_int_ {};
  struct sigaction old_term_ {};
};

unique_fd listen_on(const std::string& host, unsigned short port) {
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  if (::inet_pton(AF_INET, host.c_str(), &address.sin_addr) != 1)
    throw std::invalid_argument("not an IPv4 address: " + host);

  unique_fd listener(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (listener.get() < 0) throw_errno("socket");
  // A restarted server can take its port back while connections of the
  // previous one linger in TIME_WAIT.
  const int on = 1;
  if (::setsockopt(listener.get(), SOL_SOCKET, SO_REUSEADDR, &on, sizeof on) != 0)
    throw_errno("setsockopt(SO_REUSEADDR)");
  if (::bind(listener.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0)
    throw_errno("bind");
  if (::listen(listener.get(), SOMAXCONN) != 0) throw_errno("listen");
  return listener;
}

unsigned short bound_port(int fd) {
  sockaddr_in address{};
  socklen_t length = sizeof address;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0)
    throw_errno("getsockname");
  return ntohs(address.sin_port);
}

const char* signal_name(int signo) {
  return signo == SIGINT ? "SIGINT" : signo == SIGTERM ? "SIGTERM" : "signal";
}

int serve(unsigned short port, const std::string& host) {
  const unique_fd listener = listen_on(host, port);

  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_NONBLOCK | O_CLOEXEC) != 0) throw_errno("pipe2");
  const unique_fd pipe_read(pipe_fds[0]);
  const unique_fd pipe_write(pipe_fds[1]);
  // Declared after the pipe, so destroyed (handlers restored) before it.
  const signal_handlers handlers(pipe_write.get());

  std::printf("listening on %s port %u\n", host.c_str(), unsigned{bound_port(listener.get())});
  std::fflush(stdout);

  // Declared before the loop: tasks use them, so they must outlive it.
  std::vector<tandem::task<void>> clients;
  std::size_t accepted = 0;
  int status = 0;

  tandem::event_loop loop;
  loop.run_until_complete([&] {
    auto acceptor = loop.create_task([&] { accept_clients(listener.get(), clients, accepted); });
    // A task of its own rather than main's body, so that main can await
    // the acceptor and notice if accepting fails for good.
    auto watcher = loop.create_task([&] {
      const int signo = wait_for_signal(pipe_read.get());
      std::printf("shutting down (%s)\n", signal_name(signo));
      std::fflush(stdout);
      acceptor.cancel();
    });

    try {
      tandem::await(acceptor);
    } catch (const tandem::cancelled_error&) {
      // The watcher stopped it: the normal way out.
    } catch (const std::exception& e) {
      std::fprintf(stderr, "echo_server: %s\n", e.what());
      status = 1;
    }
    watcher.cancel();

    // Cancel the clients and wait until they have unwound, so that every
    // socket is closed by the time the loop is. (close() would cancel and
    // unwind them too; doing it here keeps the order visible.)
    for (auto& client : clients) client.cancel();
    for (auto& client : clients) {
      try {
        tandem::await(client);
      } catch (const tandem::cancelled_error&) {
      }
    }
    try {
      tandem::await(watcher);
    } catch (const tandem::cancelled_error&) {
    }
  });
  loop.close();

  std::fprintf(stderr, "echo_server: %zu connection(s) served\n", accepted);
  return status;
}

}  // namespace

int main(int argc, char** argv) {
  long port = 8888;
  if (argc > 1) {
    char* end = nullptr;
    port = std::strtol(argv[1], &end, 10);
    if (end == argv[1] || *end != '\0' || port < 0 || port > 65535) {
      std::fprintf(stderr, "usage: %s [PORT (0-65535, 0 = any) [IPv4 HOST]]\n", argv[0]);
      return 2;
    }
  }
  const std::string host = argc > 2 ? argv[2] : "0.0.0.0";
  try {
    return serve(static_cast<unsigned short>(port), host);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "echo_server: %s\n", e.what());
    return 1;
  }
}
