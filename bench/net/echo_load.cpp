// echo_load: the one load client for every echo server in bench/net (tandem's
// and its peers'), so that all of them are measured by the same code.
//
//   echo_load --host H --port P --clients C --size S --seconds T
//             [--warmup W] [--server-pid PID]
//
// Opens C connections (TCP_NODELAY) to H:P. Each connection sends an S-byte
// message, waits until all S bytes have come back, checks them, records the
// round trip's latency and sends the next one: C round trips are in flight
// at any time. The first W seconds (default 1) are a warm-up whose round
// trips are not counted; the next T seconds are the measured window.
//
// With --server-pid, the server's CPU time (the scheduler's run time of all
// its threads, from /proc/PID/task/*/schedstat: nanoseconds, where
// /proc/PID/stat's utime + stime counts 10 ms ticks) is read at the very
// start and end of the measured window, so that it covers exactly the
// round trips counted.
//
// Prints one JSON object on stdout, e.g.
//   {"clients": 10, "size": 64, "seconds": 3.000, "round_trips": 123456,
//    "round_trips_per_s": 41152.0, "p50_us": 230.1, "p99_us": 410.7,
//    "client_cpu_s": 2.95, "server_cpu_s": 2.99,
//    "server_cpu_us_per_round_trip": 24.2}
// (the server fields only with --server-pid). A wrong echo, a connection
// the server closes or resets, or bad arguments end it with a message on
// stderr and exit status 1 (2 for usage).
//
// Plain C++ and epoll, one thread: nothing of tandem, so that the client
// is the same for every server. Each message is a different slice of a
// fixed pattern (the offset moves with every round), so an echo of a stale
// or misplaced message is caught, not just a short one.
#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <sstream>
#include <stdexcept>
#include <string>
#include <system_error>
#include <vector>

namespace {

using steady = std::chrono::steady_clock;

[[noreturn]] void throw_errno(const std::string& what) {
  throw std::system_error(errno, std::generic_category(), what);
}

struct options {
  std::string host = "127.0.0.1";
  int port = -1;
  int clients = 1;
  std::size_t size = 64;
  double seconds = 3.0;
  double warmup = 1.0;
  long server_pid = 0;  // 0: do not measure the server
};

[[noreturn]] void usage(const std::string& problem) {
  std::fprintf(stderr,
               "echo_load: %s\n"
               "usage: echo_load --host H --port P --clients C --size S --seconds T\n"
               "                 [--warmup W] [--server-pid PID]\n",
               problem.c_str());
  std::exit(2);
}

// The whole of `text` as a number within [low, high], or a usage error.
double number(const std::string& flag, const std::string& text, double low, double high) {
  char* end = nullptr;
  errno = 0;
  const double value = std::strtod(text.c_str(), &end);
  if (text.empty() || *end != '\0' || errno != 0 || !(value >= low && value <= high)) {
    char range[64];
    std::snprintf(range, sizeof range, "[%g, %g]", low, high);
    usage(flag + " wants a number in " + range + ", not '" + text + "'");
  }
  return value;
}

long integer(const std::string& flag, const std::string& text, long low, long high) {
  const double value = number(flag, text, static_cast<double>(low), static_cast<double>(high));
  if (value != static_cast<double>(static_cast<long>(value)))
    usage(flag + " wants a whole number, not '" + text + "'");
  return static_cast<long>(value);
}

options parse(int argc, char** argv) {
  options o;
  for (int i = 1; i < argc; i += 2) {
    const std::string flag = argv[i];
    if (i + 1 >= argc) usage(flag + " needs a value");
    const std::string value = argv[i + 1];
    if (flag == "--host")
      o.host = value;
    else if (flag == "--port")
      o.port = static_cast<int>(integer(flag, value, 1, 65535));
    else if (flag == "--clients")
      o.clients = static_cast<int>(integer(flag, value, 1, 100000));
    else if (flag == "--size")
      o.size = static_cast<std::size_t>(integer(flag, value, 1, 64L << 20));
    else if (flag == "--seconds")
      o.seconds = number(flag, value, 0.001, 86400);
    else if (flag == "--warmup")
      o.warmup = number(flag, value, 0, 86400);
    else if (flag == "--server-pid")
      o.server_pid = integer(flag, value, 1, 1L << 30);
    else
      usage("unknown option " + flag);
  }
  if (o.port < 0) usage("--port is required");
  return o;
}

// utime + stime of a process, in seconds: fields 14 and 15 of
// /proc/PID/stat, counted after the command name, which may hold spaces.
// Whole clock ticks (10 ms): the fallback where schedstat is missing.
double process_cpu_seconds_from_stat(long pid) {
  const std::string path = "/proc/" + std::to_string(pid) + "/stat";
  std::ifstream file(path);
  const std::string stat{std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>()};
  const auto name_end = stat.rfind(')');
  if (!file || name_end == std::string::npos)
    throw std::runtime_error("cannot read " + path + " (has the server exited?)");
  std::istringstream fields(stat.substr(name_end + 2));  // from field 3, the state
  std::string skipped;
  for (int field = 3; field <= 13; ++field) fields >> skipped;
  unsigned long long utime = 0, stime = 0;
  if (!(fields >> utime >> stime)) throw std::runtime_error("cannot parse " + path);
  return static_cast<double>(utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

// A process's CPU time in seconds: the scheduler's run time of each of its
// threads (the first field of /proc/PID/task/TID/schedstat, nanoseconds),
// summed. /proc/PID/stat counts whole 10 ms ticks, 1% of a 1-second
// window at half a core; schedstat is exact. Falls back to stat where the
// kernel has no schedstat (CONFIG_SCHED_INFO off).
double process_cpu_seconds(long pid) {
  const std::string tasks = "/proc/" + std::to_string(pid) + "/task";
  DIR* dir = ::opendir(tasks.c_str());
  if (dir == nullptr)
    throw std::runtime_error("cannot read " + tasks + " (has the server exited?)");
  unsigned long long nanoseconds = 0;
  bool every_thread = true;
  while (const dirent* entry = ::readdir(dir)) {
    if (entry->d_name[0] == '.') continue;
    std::ifstream file(tasks + "/" + entry->d_name + "/schedstat");
    unsigned long long on_cpu = 0;
    if (file >> on_cpu) {
      nanoseconds += on_cpu;
    } else {
      every_thread = false;  // no schedstat, or the thread just exited
    }
  }
  ::closedir(dir);
  if (!every_thread) return process_cpu_seconds_from_stat(pid);
  return static_cast<double>(nanoseconds) / 1e9;
}

double own_cpu_seconds() {
  rusage usage{};
  ::getrusage(RUSAGE_SELF, &usage);
  auto seconds = [](const timeval& t) { return static_cast<double>(t.tv_sec) + t.tv_usec / 1e6; };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

// One connection and its message in flight.
struct connection {
  int fd = -1;
  std::size_t offset = 0;    // where in the pattern this round's message starts
  std::size_t sent = 0;      // bytes of the message written so far
  std::size_t received = 0;  // bytes of its echo read and checked so far
  steady::time_point started;
  bool wants_writable = false;  // EPOLLOUT registered: the socket buffer was full
};

// The messages' source: round r of a connection sends pattern[offset, offset
// + size), with an offset that moves every round. 251 is prime, so the
// slices repeat only every 251 rounds and never line up with a power of two.
constexpr std::size_t pattern_period = 251;

std::vector<char> make_pattern(std::size_t size) {
  std::vector<char> pattern(size + pattern_period);
  for (std::size_t i = 0; i < pattern.size(); ++i)
    pattern[i] = static_cast<char>('!' + (i * 7 + i / 97) % 94);  // printable
  return pattern;
}

int connect_to(const std::string& host, int port) {
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<std::uint16_t>(port));
  if (::inet_pton(AF_INET, host.c_str(), &address.sin_addr) != 1)
    usage("--host wants an IPv4 address, not '" + host + "'");
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw_errno("socket");
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0)
    throw_errno("connect to " + host + " port " + std::to_string(port));
  const int on = 1;
  if (::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on) != 0)
    throw_errno("setsockopt(TCP_NODELAY)");
  if (::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK) != 0) throw_errno("fcntl");
  return fd;
}

class load {
 public:
  explicit load(const options& o)
      : options_(o), pattern_(make_pattern(o.size)), buffer_(std::max<std::size_t>(o.size, 65536)) {
    epoll_ = ::epoll_create1(EPOLL_CLOEXEC);
    if (epoll_ < 0) throw_errno("epoll_create1");
    connections_.resize(static_cast<std::size_t>(o.clients));
    for (std::size_t i = 0; i < connections_.size(); ++i) {
      connection& c = connections_[i];
      c.fd = connect_to(o.host, o.port);
      c.offset = (i * 31) % pattern_period;
      epoll_event event{};
      event.events = EPOLLIN;
      event.data.u64 = i;
      if (::epoll_ctl(epoll_, EPOLL_CTL_ADD, c.fd, &event) != 0) throw_errno("epoll_ctl");
    }
  }
  load(const load&) = delete;
  load& operator=(const load&) = delete;
  ~load() {
    for (const connection& c : connections_)
      if (c.fd >= 0) ::close(c.fd);
    ::close(epoll_);
  }

  void run() {
    for (std::size_t i = 0; i < connections_.size(); ++i) start_round(i);
    const auto warm = steady::now() + to_duration(options_.warmup);
    serve_until(warm);

    counting_ = true;
    latencies_ns_.reserve(1 << 20);
    if (options_.server_pid) server_cpu_ = -process_cpu_seconds(options_.server_pid);
    client_cpu_ = -own_cpu_seconds();
    window_start_ = steady::now();
    serve_until(window_start_ + to_duration(options_.seconds));
    window_ = std::chrono::duration<double>(steady::now() - window_start_).count();
    client_cpu_ += own_cpu_seconds();
    if (options_.server_pid) server_cpu_ += process_cpu_seconds(options_.server_pid);
  }

  void report() {
    const double count = static_cast<double>(latencies_ns_.size());
    std::printf(
        "{\"clients\": %d, \"size\": %zu, \"seconds\": %.3f, \"round_trips\": %zu, "
        "\"round_trips_per_s\": %.1f, \"p50_us\": %.1f, \"p99_us\": %.1f, \"client_cpu_s\": %.3f",
        options_.clients, options_.size, window_, latencies_ns_.size(), count / window_,
        percentile_us(0.50), percentile_us(0.99), client_cpu_);
    if (options_.server_pid)
      std::printf(", \"server_cpu_s\": %.3f, \"server_cpu_us_per_round_trip\": %.3f", server_cpu_,
                  count > 0 ? server_cpu_ * 1e6 / count : 0.0);
    std::printf("}\n");
  }

 private:
  static steady::duration to_duration(double seconds) {
    return std::chrono::duration_cast<steady::duration>(std::chrono::duration<double>(seconds));
  }

  // The latency below which a fraction q of the round trips fall (nearest
  // rank), in microseconds.
  double percentile_us(double q) {
    if (latencies_ns_.empty()) return 0;
    const auto rank = static_cast<std::size_t>(q * static_cast<double>(latencies_ns_.size() - 1));
    std::nth_element(latencies_ns_.begin(), latencies_ns_.begin() + static_cast<long>(rank),
                     latencies_ns_.end());
    return static_cast<double>(latencies_ns_[rank]) / 1e3;
  }

  void serve_until(steady::time_point end) {
    epoll_event events[256];
    for (;;) {
      const auto left = std::chrono::ceil<std::chrono::milliseconds>(end - steady::now()).count();
      if (left <= 0) return;
      const int n =
          ::epoll_wait(epoll_, events, static_cast<int>(std::size(events)), static_cast<int>(left));
      if (n < 0) {
        if (errno == EINTR) continue;
        throw_errno("epoll_wait");
      }
      for (int k = 0; k < n; ++k) {
        const std::size_t i = events[k].data.u64;
        if (events[k].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) read_echo(i);
        if (events[k].events & EPOLLOUT) write_message(i);
      }
    }
  }

  void start_round(std::size_t i) {
    connection& c = connections_[i];
    c.offset = (c.offset + 1) % pattern_period;
    c.sent = 0;
    c.received = 0;
    c.started = steady::now();
    write_message(i);
  }

  // Writes what the socket takes of the rest of the message; asks for
  // EPOLLOUT while some is left, and stops asking once all is out.
  void write_message(std::size_t i) {
    connection& c = connections_[i];
    while (c.sent < options_.size) {
      const ssize_t n =
          ::send(c.fd, pattern_.data() + c.offset + c.sent, options_.size - c.sent, MSG_NOSIGNAL);
      if (n > 0) {
        c.sent += static_cast<std::size_t>(n);
      } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
        break;
      } else if (errno != EINTR) {
        throw_errno("send on connection " + std::to_string(i));
      }
    }
    const bool wants = c.sent < options_.size;
    if (wants != c.wants_writable) {
      epoll_event event{};
      event.events = EPOLLIN | (wants ? EPOLLOUT : 0u);
      event.data.u64 = i;
      if (::epoll_ctl(epoll_, EPOLL_CTL_MOD, c.fd, &event) != 0) throw_errno("epoll_ctl");
      c.wants_writable = wants;
    }
  }

  // Reads and checks what has come back; a complete echo ends the round
  // and starts the next.
  void read_echo(std::size_t i) {
    connection& c = connections_[i];
    for (;;) {
      const std::size_t wanted = options_.size - c.received;
      if (wanted == 0) break;
      const ssize_t n = ::recv(c.fd, buffer_.data(), std::min(wanted, buffer_.size()), 0);
      if (n > 0) {
        const char* expected = pattern_.data() + c.offset + c.received;
        if (std::memcmp(buffer_.data(), expected, static_cast<std::size_t>(n)) != 0)
          throw std::runtime_error("connection " + std::to_string(i) +
                                   ": the echo differs from the message, at or after byte " +
                                   std::to_string(c.received));
        c.received += static_cast<std::size_t>(n);
        if (c.received > c.sent)  // the server made up bytes that match
          throw std::runtime_error("connection " + std::to_string(i) + ": more echoed than sent");
      } else if (n == 0) {
        throw std::runtime_error("connection " + std::to_string(i) +
                                 ": the server closed it after " + std::to_string(c.received) +
                                 " of " + std::to_string(options_.size) + " bytes of an echo");
      } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
        return;
      } else if (errno != EINTR) {
        throw_errno("recv on connection " + std::to_string(i));
      }
    }
    if (counting_)
      latencies_ns_.push_back(
          static_cast<std::uint64_t>(std::chrono::nanoseconds(steady::now() - c.started).count()));
    start_round(i);
  }

  const options options_;
  const std::vector<char> pattern_;
  std::vector<char> buffer_;
  std::vector<connection> connections_;
  int epoll_ = -1;
  bool counting_ = false;
  std::vector<std::uint64_t> latencies_ns_;
  steady::time_point window_start_;
  double window_ = 0;
  double client_cpu_ = 0;
  double server_cpu_ = 0;
};

}  // namespace

int main(int argc, char** argv) {
  const options o = parse(argc, argv);
  try {
    load l(o);
    l.run();
    l.report();
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "echo_load: %s\n", e.what());
    return 1;
  }
}
