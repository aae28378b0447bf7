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
// The acceptor and the client tasks form a task group, so shutting down is
// leaving the group: every task of it is cancelled and awaited. Signals
// come as loop callbacks (event_loop::add_signal_handler), as in asyncio.
//
// Linux (accept4, SOCK_NONBLOCK, MSG_NOSIGNAL), like the loop's epoll back
// end.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

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

// Accepts clients until cancelled, one task each, in the server's group.
void accept_clients(int listener, tandem::task_group clients, std::size_t& accepted) {
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
    clients.create_task([socket = unique_fd(fd)]() mutable { serve_client(socket); });
    ++accepted;
  }
}

// Thrown to leave the server's task group: asyncio's way to end a group.
struct shutting_down {};

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
  std::printf("listening on %s port %u\n", host.c_str(), unsigned{bound_port(listener.get())});
  std::fflush(stdout);

  std::size_t accepted = 0;  // before the loop: tasks use it
  int status = 0;
  tandem::event_loop loop;
  loop.run_until_complete([&] {
    tandem::event stop;
    int signo = 0;
    for (const int s : {SIGINT, SIGTERM})
      loop.add_signal_handler(s, [&stop, &signo, s] {
        signo = s;
        stop.set();
      });
    try {
      tandem::with_task_group([&](tandem::task_group& server) {
        server.create_task([&, server] { accept_clients(listener.get(), server, accepted); });
        stop.wait();  // cancelled instead if accepting fails for good
        std::printf("shutting down (%s)\n", signal_name(signo));
        std::fflush(stdout);
        throw shutting_down{};  // the group cancels and awaits every task
      });
    } catch (const tandem::exception_group& e) {
      for (const auto& failure : e.exceptions()) {
        try {
          std::rethrow_exception(failure);
        } catch (const shutting_down&) {
        } catch (const std::exception& x) {
          std::fprintf(stderr, "echo_server: %s\n", x.what());
          status = 1;
        }
      }
    }
  });
  loop.close();  // also puts the signals' dispositions back

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
