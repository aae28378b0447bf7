// A client for echo_server: opens CONNECTIONS connections at once, one task
// each, sends LINES numbered lines on every one, checks that each comes back
// unchanged, and prints a summary. In asyncio:
//
//     async def talk(host, port, id, lines):
//         reader, writer = await asyncio.open_connection(host, port)
//         for i in range(lines):
//             line = f"connection {id} line {i}\n".encode()
//             writer.write(line)
//             await writer.drain()
//             if await reader.readline() != line:
//                 raise RuntimeError(...)
//         writer.write_eof()
//         if await reader.read() != b"": raise RuntimeError(...)
//         writer.close()
//
//     for t in [asyncio.create_task(talk(...)) for id in range(connections)]:
//         await asyncio.wait_for(t, remaining time)
//
// Usage: echo_client PORT [LINES [CONNECTIONS [HOST]]]
//   LINES default 100, CONNECTIONS default 1, HOST (IPv4) default 127.0.0.1.
// Exits 0 if every line came back, 1 otherwise, and gives up after 20
// seconds in all, so that a server that stops answering cannot hang a test.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
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

constexpr auto time_limit = 20s;

[[noreturn]] void throw_errno(const char* what) {
  throw std::system_error(errno, std::generic_category(), what);
}

// Owns a file descriptor, so that a connection is closed however its task
// ends, cancellation by wait_for() included.
class unique_fd {
 public:
  explicit unique_fd(int fd) noexcept : fd_(fd) {}
  unique_fd(unique_fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  unique_fd& operator=(unique_fd&&) = delete;
  ~unique_fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const noexcept { return fd_; }

 private:
  int fd_;
};

unique_fd connect_to(const sockaddr_in& address) {
  unique_fd socket(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (socket.get() < 0) throw_errno("socket");
  if (::connect(socket.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) {
    if (errno != EINPROGRESS) throw_errno("connect");
    // A non-blocking connect reports its outcome by making the socket
    // writable; SO_ERROR then says whether it worked.
    tandem::wait_writable(socket.get());
    int error = 0;
    socklen_t length = sizeof error;
    if (::getsockopt(socket.get(), SOL_SOCKET, SO_ERROR, &error, &length) != 0)
      throw_errno("getsockopt(SO_ERROR)");
    if (error != 0) throw std::system_error(error, std::generic_category(), "connect");
  }
  return socket;
}

void send_all(int fd, const std::string& data) {
  std::size_t sent = 0;
  while (sent < data.size()) {
    // MSG_NOSIGNAL: a server that went away must give EPIPE, not SIGPIPE.
    const ssize_t n = ::send(fd, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
    if (n >= 0) {
      sent += static_cast<std::size_t>(n);
    } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
      tandem::wait_writable(fd);
    } else if (errno != EINTR) {
      throw_errno("send");
    }
  }
}

// Appends what the socket has to `received`, waiting until there is
// something; false at end of stream.
bool receive_some(int fd, std::string& received) {
  char buffer[4096];
  for (;;) {
    const ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
    if (n > 0) {
      received.append(buffer, static_cast<std::size_t>(n));
      return true;
    }
    if (n == 0) return false;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      tandem::wait_readable(fd);
    } else if (errno != EINTR) {
      throw_errno("recv");
    }
  }
}

// One connection: sends a line, waits for its echo, compares; LINES times.
// Returns the number of lines echoed; throws on anything else.
long talk(const sockaddr_in& address, long id, long lines) {
  const unique_fd socket = connect_to(address);
  std::string received;  // bytes read but not yet matched to a line
  for (long i = 0; i < lines; ++i) {
    const std::string line =
        "connection " + std::to_string(id) + " line " + std::to_string(i) + "\n";
    send_all(socket.get(), line);
    std::size_t end;
    while ((end = received.find('\n')) == std::string::npos) {
      if (!receive_some(socket.get(), received))
        throw std::runtime_error("connection " + std::to_string(id) +
                                 ": the server closed the connection after " + std::to_string(i) +
                                 " line(s)");
    }
    const std::string echoed = received.substr(0, end + 1);
    received.erase(0, end + 1);
    if (echoed != line)
      throw std::runtime_error("connection " + std::to_string(id) + ": sent \"" +
                               line.substr(0, line.size() - 1) + "\", got back \"" +
                               echoed.substr(0, echoed.size() - 1) + "\"");
  }
  // Half-close: the server sees end of stream, echoes nothing more and
  // closes its side, which this end must then see.
  if (::shutdown(socket.get(), SHUT_WR) != 0) throw_errno("shutdown");
  while (receive_some(socket.get(), received)) {
  }
  if (!received.empty())
    throw std::runtime_error("connection " + std::to_string(id) + ": " +
                             std::to_string(received.size()) + " unexpected byte(s) at the end");
  return lines;
}

bool parse(const char* text, long low, long high, long& value) {
  char* end = nullptr;
  errno = 0;
  value = std::strtol(text, &end, 10);
  return end != text && *end == '\0' && errno == 0 && value >= low && value <= high;
}

}  // namespace

int main(int argc, char** argv) {
  long port = 0;
  long lines = 100;
  long connections = 1;
  const char* host = argc > 4 ? argv[4] : "127.0.0.1";
  sockaddr_in address{};
  address.sin_family = AF_INET;
  if (argc < 2 || argc > 5 || !parse(argv[1], 1, 65535, port) ||
      (argc > 2 && !parse(argv[2], 0, 1'000'000'000, lines)) ||
      (argc > 3 && !parse(argv[3], 1, 10'000, connections)) ||
      ::inet_pton(AF_INET, host, &address.sin_addr) != 1) {
    std::fprintf(stderr, "usage: %s PORT [LINES [CONNECTIONS [IPv4 HOST]]]\n", argv[0]);
    return 2;
  }
  address.sin_port = htons(static_cast<unsigned short>(port));

  long failures = 0;
  long echoed = 0;
  tandem::event_loop loop;
  loop.run_until_complete([&] {
    std::vector<tandem::task<long>> tasks;
    for (long id = 0; id < connections; ++id)
      tasks.push_back(loop.create_task([&address, id, lines] { return talk(address, id, lines); }));
    // One deadline for all: each wait_for gets what is left of it (zero or
    // less times out at once a task that is not done yet).
    const auto deadline = loop.time() + time_limit;
    for (auto& t : tasks) {
      try {
        echoed += tandem::wait_for(t, deadline - loop.time());
      } catch (const tandem::timeout_error&) {
        std::fprintf(stderr, "echo_client: no answer within %lld s\n",
                     static_cast<long long>(time_limit.count()));
        ++failures;
      } catch (const std::exception& e) {
        std::fprintf(stderr, "echo_client: %s\n", e.what());
        ++failures;
      }
    }
  });
  loop.close();

  std::printf("%ld connection(s), %ld line(s) each: %ld echoed intact, %ld connection(s) failed\n",
              connections, lines, echoed, failures);
  return failures == 0 ? 0 : 1;
}
