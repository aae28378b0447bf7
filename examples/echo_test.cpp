// The ctest for echo_server and echo_client, without a shell: starts the
// server on port 0, reads the port it prints, runs the client against it,
// then stops the server with a signal and checks that it exits 0. Once with
// SIGTERM and once with SIGINT, each time with an idle client still
// connected, so that shutdown has an open client socket to deal with.
//
// Usage: echo_test SERVER CLIENT [LINES [CONNECTIONS]]
//
// Every wait is bounded, and a failure kills what it started, so the test
// cannot hang or leave a server behind.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

extern char** environ;

namespace {

using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

[[noreturn]] void throw_errno(const std::string& what) {
  throw std::system_error(errno, std::generic_category(), what);
}

class unique_fd {
 public:
  explicit unique_fd(int fd = -1) noexcept : fd_(fd) {}
  unique_fd(const unique_fd&) = delete;
  unique_fd& operator=(const unique_fd&) = delete;
  ~unique_fd() { reset(); }
  int get() const noexcept { return fd_; }
  void reset() noexcept {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_;
};

// A child process, killed and reaped on destruction if it is still there:
// a test that fails half-way must not leave a server running.
class child {
 public:
  // Runs argv, with stdout going to stdout_fd if that is not -1.
  child(const std::vector<std::string>& args, int stdout_fd) {
    std::vector<char*> argv;
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);

    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    if (stdout_fd >= 0) posix_spawn_file_actions_adddup2(&actions, stdout_fd, STDOUT_FILENO);
    // The child must get SIGINT and SIGTERM whatever this process inherited:
    // blocked or ignored (as in a background job of a non-interactive shell)
    // they would never stop the server.
    posix_spawnattr_t attributes;
    posix_spawnattr_init(&attributes);
    sigset_t none;
    sigemptyset(&none);
    posix_spawnattr_setsigmask(&attributes, &none);
    sigset_t defaults;
    sigemptyset(&defaults);
    sigaddset(&defaults, SIGINT);
    sigaddset(&defaults, SIGTERM);
    posix_spawnattr_setsigdefault(&attributes, &defaults);
    posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);

    const int error = ::posix_spawn(&pid_, argv[0], &actions, &attributes, argv.data(), environ);
    posix_spawnattr_destroy(&attributes);
    posix_spawn_file_actions_destroy(&actions);
    if (error != 0) throw std::system_error(error, std::generic_category(), "spawn " + args[0]);
  }
  child(const child&) = delete;
  child& operator=(const child&) = delete;
  ~child() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }

  void signal(int signo) { ::kill(pid_, signo); }

  // Waits up to `limit` for the child to exit; returns its exit code.
  // Throws (and the destructor kills it) if it does not exit in time or
  // dies of a signal.
  int wait(std::chrono::milliseconds limit, const char* name) {
    const auto deadline = steady::now() + limit;
    for (;;) {
      int status = 0;
      const pid_t r = ::waitpid(pid_, &status, WNOHANG);
      if (r == pid_) {
        pid_ = -1;
        if (WIFSIGNALED(status))
          throw std::runtime_error(std::string(name) + " died of signal " +
                                   std::to_string(WTERMSIG(status)));
        return WEXITSTATUS(status);
      }
      if (r < 0 && errno != EINTR) throw_errno("waitpid");
      if (steady::now() >= deadline)
        throw std::runtime_error(std::string(name) + " did not exit within " +
                                 std::to_string(limit.count()) + " ms");
      std::this_thread::sleep_for(10ms);
    }
  }

 private:
  pid_t pid_ = -1;
};

// Reads a line from fd, waiting at most until deadline; false at end of
// file. Reads a byte at a time: the line is short, and nothing after it
// may be swallowed.
bool read_line(int fd, std::string& line, steady::time_point deadline) {
  line.clear();
  for (;;) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - steady::now());
    if (left <= 0ms) throw std::runtime_error("timed out reading the server's output");
    pollfd p{fd, POLLIN, 0};
    const int ready = ::poll(&p, 1, static_cast<int>(left.count()));
    if (ready < 0 && errno != EINTR) throw_errno("poll");
    if (ready <= 0) continue;
    char c = 0;
    const ssize_t n = ::read(fd, &c, 1);
    if (n < 0 && errno != EINTR) throw_errno("read");
    if (n == 0) return !line.empty();
    if (n == 1) {
      if (c == '\n') return true;
      line += c;
    }
  }
}

// A blocking connection with 5 s timeouts, as the idle client.
int connect_blocking(unsigned short port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw_errno("socket");
  const timeval timeout{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) {
    const int saved = errno;
    ::close(fd);
    errno = saved;
    throw_errno("connect");
  }
  return fd;
}

// Reads until `expected` bytes came or the connection ends (SO_RCVTIMEO
// bounds each read).
std::string receive(int fd, std::size_t expected) {
  std::string got;
  char buffer[256];
  while (got.size() < expected) {
    const ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw_errno("recv (idle client)");
    if (n == 0) break;
    got.append(buffer, static_cast<std::size_t>(n));
  }
  return got;
}

void run_once(const std::string& server_path, const std::string& client_path,
              const std::string& lines, const std::string& connections, int stop_signal) {
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) throw_errno("pipe2");
  unique_fd out_read(pipe_fds[0]);
  unique_fd out_write(pipe_fds[1]);

  child server({server_path, "0", "127.0.0.1"}, out_write.get());
  out_write.reset();  // so that the server's exit ends the pipe

  std::string line;
  if (!read_line(out_read.get(), line, steady::now() + 10s))
    throw std::runtime_error("the server exited before saying which port it listens on");
  std::printf("server: %s\n", line.c_str());
  const auto at = line.rfind(" port ");
  const unsigned long port = at == std::string::npos ? 0 : std::stoul(line.substr(at + 6));
  if (port == 0 || port > 65535) throw std::runtime_error("no port in: " + line);

  // The idle client: proves the server echoes, then stays connected
  // through the shutdown.
  unique_fd idle(connect_blocking(static_cast<unsigned short>(port)));
  const std::string hello = "hello\n";
  if (::send(idle.get(), hello.data(), hello.size(), MSG_NOSIGNAL) !=
      static_cast<ssize_t>(hello.size()))
    throw_errno("send (idle client)");
  if (receive(idle.get(), hello.size()) != hello)
    throw std::runtime_error("the idle client's line did not come back");

  std::fflush(stdout);  // before the client writes to the same stdout
  child client({client_path, std::to_string(port), lines, connections}, -1);
  if (const int code = client.wait(60s, "echo_client"); code != 0)
    throw std::runtime_error("echo_client exited with " + std::to_string(code));

  server.signal(stop_signal);
  if (!read_line(out_read.get(), line, steady::now() + 10s))
    throw std::runtime_error("the server said nothing after the signal");
  std::printf("server: %s\n", line.c_str());
  if (const int code = server.wait(10s, "echo_server"); code != 0)
    throw std::runtime_error("echo_server exited with " + std::to_string(code));
  while (read_line(out_read.get(), line, steady::now() + 10s))
    std::printf("server: %s\n", line.c_str());

  // The server closed the idle client's socket on its way out.
  if (!receive(idle.get(), 1).empty())
    throw std::runtime_error("the idle client got data after shutdown");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3 || argc > 5) {
    std::fprintf(stderr, "usage: %s SERVER CLIENT [LINES [CONNECTIONS]]\n", argv[0]);
    return 2;
  }
  const std::string lines = argc > 3 ? argv[3] : "200";
  const std::string connections = argc > 4 ? argv[4] : "8";
  try {
    for (const int signo : {SIGTERM, SIGINT}) {
      std::printf("--- stopping with %s\n", signo == SIGTERM ? "SIGTERM" : "SIGINT");
      run_once(argv[1], argv[2], lines, connections, signo);
    }
  } catch (const std::exception& e) {
    std::fflush(stdout);
    std::fprintf(stderr, "echo_test: FAILED: %s\n", e.what());
    return 1;
  }
  std::printf("echo_test: passed\n");
}
