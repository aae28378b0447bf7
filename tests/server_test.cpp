// Servers (docs/rules.md, section 10): binding, a task per connection,
// closing, Unix socket files, running out of descriptors, and ten thousand
// connections at once.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <new>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "support/loop_support.hpp"
#include "support/stream_support.hpp"
#include "support/valgrind.hpp"
#include "tandem/detail/sanitizer.hpp"
#include "tandem/io.hpp"
#include "tandem/streams.hpp"
#include "tandem/wait.hpp"

// Allocation failure on demand, for the paths no other fault reaches:
// while armed, the first allocation of exactly `size` bytes (any_size: of
// any size) on the arming thread throws std::bad_alloc. (This binary's
// operator new.)
namespace allocation_fault {
constexpr std::size_t any_size = static_cast<std::size_t>(-1);
std::atomic<std::size_t> size{0};
std::thread::id thread;
std::atomic<int> injected{0};
}  // namespace allocation_fault

// The CPU time this thread has used.
std::chrono::nanoseconds thread_cpu_time() {
  timespec t{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return std::chrono::seconds(t.tv_sec) + std::chrono::nanoseconds(t.tv_nsec);
}

// Out of line, so that no optimizer pairs the malloc and free inside them
// with the new and delete expressions they serve (-Wmismatched-new-delete).
[[gnu::noinline]] void* operator new(std::size_t n) {
  const std::size_t armed = allocation_fault::size.load(std::memory_order_relaxed);
  if (armed != 0 && (n == armed || armed == allocation_fault::any_size) &&
      std::this_thread::get_id() == allocation_fault::thread) {
    allocation_fault::size = 0;
    ++allocation_fault::injected;
    throw std::bad_alloc();
  }
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
[[gnu::noinline]] void operator delete(void* p) noexcept { std::free(p); }
[[gnu::noinline]] void operator delete(void* p, std::size_t) noexcept { std::free(p); }

namespace {

using namespace loop_testing;
using namespace stream_testing;
using tandem::stream;

// Echoes line by line until the end of stream.
void echo_lines(stream s) {
  while (true) {
    std::string line = s.readline();
    if (line.empty()) return;
    s.write(line);
  }
}

bool names(const std::system_error& e, const std::string& text) {
  return std::string(e.what()).find(text) != std::string::npos;
}

TEST(Server, EachConnectionRunsTheHandlerInItsOwnTask) {
  event_loop loop;
  run_bounded(loop, [] {
    int inside = 0, most_inside = 0;
    auto srv = tandem::start_server(
        [&](stream s) {
          most_inside = std::max(most_inside, ++inside);
          echo_lines(std::move(s));
          --inside;
        },
        "127.0.0.1", 0);
    std::vector<stream> clients;
    for (int i = 0; i < 3; ++i) clients.push_back(tandem::open_connection("127.0.0.1", srv.port()));
    for (int i = 0; i < 3; ++i) clients[i].write(std::to_string(i) + "\n");
    for (int i = 0; i < 3; ++i) EXPECT_EQ(clients[i].readline(), std::to_string(i) + "\n");
    EXPECT_EQ(most_inside, 3);  // all three handlers were suspended at once
    clients.clear();
    srv.close();
    srv.wait_closed();
    EXPECT_EQ(inside, 0);
  });
}

TEST(Server, PortZeroGivesThePortTheKernelChose) {
  event_loop loop;
  run_bounded(loop, [] {
    auto srv = tandem::start_server(echo_lines, "127.0.0.1", 0);
    ASSERT_NE(srv.port(), 0);
    stream s = tandem::open_connection("127.0.0.1", srv.port());
    s.write("x\n");
    EXPECT_EQ(s.readline(), "x\n");
  });
}

bool ipv6_loopback_available() {
  const int fd = ::socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in6 address{};
  address.sin6_family = AF_INET6;
  address.sin6_addr = in6addr_loopback;
  const bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
  ::close(fd);
  return ok;
}

// "": every interface, IPv4 and (where the machine has it) IPv6, on one port.
TEST(Server, EveryAddressOfTheHostIsBoundOnOnePort) {
  event_loop loop;
  run_bounded(loop, [] {
    auto srv = tandem::start_server(echo_lines, "", 0);
    stream v4 = tandem::open_connection("127.0.0.1", srv.port());
    v4.write("4\n");
    EXPECT_EQ(v4.readline(), "4\n");
    if (ipv6_loopback_available()) {
      stream v6 = tandem::open_connection("::1", srv.port());
      v6.write("6\n");
      EXPECT_EQ(v6.readline(), "6\n");
    } else {
      EXPECT_THROW(tandem::open_connection("::1", srv.port()), std::system_error);
    }
  });
}

TEST(Server, ReuseAddressLetsAServerRestartOnItsPort) {
  event_loop loop;
  run_bounded(loop, [] {
    std::uint16_t port = 0;
    {
      // The server closes first: its side of the connection waits in
      // TIME_WAIT, which blocks a bind without SO_REUSEADDR.
      auto srv = tandem::start_server([](stream s) { s.write("bye\n"); }, "127.0.0.1", 0);
      port = srv.port();
      stream s = tandem::open_connection("127.0.0.1", port);
      EXPECT_EQ(s.read_all(), "bye\n");
      srv.close();
      srv.wait_closed();
    }
    auto again = tandem::start_server(echo_lines, "127.0.0.1", port);
    EXPECT_EQ(again.port(), port);
  });
}

TEST(Server, BindFailureIsSystemErrorNamingTheAddress) {
  event_loop loop;
  run_bounded(loop, [] {
    auto srv = tandem::start_server(echo_lines, "127.0.0.1", 0);
    try {
      auto second = tandem::start_server(echo_lines, "127.0.0.1", srv.port());
      FAIL() << "two servers listened on one port";
    } catch (const std::system_error& e) {
      EXPECT_EQ(e.code().value(), EADDRINUSE);
      EXPECT_TRUE(names(e, "127.0.0.1:" + std::to_string(srv.port()))) << e.what();
    }
  });
}

TEST(Server, HandlerExceptionIsReportedAndClosesOnlyItsConnection) {
  testing::internal::CaptureStderr();
  {
    event_loop loop;
    run_bounded(loop, [] {
      auto srv = tandem::start_server(
          [](stream s) {
            while (true) {
              std::string line = s.readline();
              if (line == "boom\n") throw std::runtime_error("handler failed");
              if (line.empty()) return;
              s.write(line);
            }
          },
          "127.0.0.1", 0);
      stream good = tandem::open_connection("127.0.0.1", srv.port());
      stream bad = tandem::open_connection("127.0.0.1", srv.port());
      bad.write("boom\n");
      EXPECT_EQ(bad.read(10), "");  // its connection closed
      good.write("still here\n");
      EXPECT_EQ(good.readline(), "still here\n");
    });
  }
  const std::string err = testing::internal::GetCapturedStderr();
  EXPECT_NE(err.find("never retrieved"), std::string::npos) << err;
  EXPECT_NE(err.find("handler failed"), std::string::npos) << err;
}

TEST(Server, CloseStopsAcceptingWhileRunningHandlersGoOn) {
  event_loop loop;
  run_bounded(loop, [&loop] {
    auto srv = tandem::start_server(echo_lines, "127.0.0.1", 0);
    const std::uint16_t port = srv.port();
    stream s = tandem::open_connection("127.0.0.1", port);
    s.write("before\n");
    EXPECT_EQ(s.readline(), "before\n");
    srv.close();
    EXPECT_FALSE(srv.is_serving());
    EXPECT_THROW(tandem::open_connection("127.0.0.1", port), std::system_error);
    auto closing = loop.create_task([&srv] { srv.wait_closed(); });
    s.write("after\n");
    EXPECT_EQ(s.readline(), "after\n");  // the handler goes on
    EXPECT_FALSE(closing.done());        // and wait_closed waits for it
    s.close();
    tandem::await(closing);
  });
}

TEST(Server, WaitClosedWaitsUntilTheServerIsClosed) {
  event_loop loop;
  run_bounded(loop, [&loop] {
    auto srv = tandem::start_server(echo_lines, "127.0.0.1", 0);
    auto closing = loop.create_task([&srv] { srv.wait_closed(); });
    tandem::sleep_for(5ms);
    EXPECT_FALSE(closing.done());
    srv.close();
    srv.close();  // may be repeated
    tandem::await(closing);
  });
}

std::string socket_path(const char* name) {
  return "/tmp/tandem-" + std::to_string(::getpid()) + "-" + name + ".sock";
}

bool exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

TEST(Server, UnixServerReplacesAStaleSocketFileAndUnlinksItOnClose) {
  const std::string path = socket_path("stale");
  {
    // A server that is gone left its socket file behind.
    const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::strcpy(address.sun_path, path.c_str());
    ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
    ::close(fd);
    ASSERT_TRUE(exists(path));
  }
  event_loop loop;
  run_bounded(loop, [&path] {
    auto srv = tandem::start_unix_server(echo_lines, path);
    stream s = tandem::open_unix_connection(path);
    s.write("unix\n");
    EXPECT_EQ(s.readline(), "unix\n");
    srv.close();
    EXPECT_FALSE(exists(path));
  });
}

TEST(Server, UnixServerLeavesAFileThatIsNotASocket) {
  const std::string path = socket_path("regular");
  std::ofstream(path) << "data";
  event_loop loop;
  run_bounded(loop, [&path] {
    EXPECT_THROW(auto srv = tandem::start_unix_server(echo_lines, path), std::system_error);
  });
  EXPECT_TRUE(exists(path));
  ::unlink(path.c_str());
}

// A path with a '\0' inside is refused before anything is done with it:
// cut at the '\0', it named another server's socket, which was unlinked
// as stale and taken over.
TEST(Server, UnixServerOnAPathWithANulInsideIsInvalidArgumentAndLeavesTheCutPath) {
  const std::string path = socket_path("nul-inside");
  event_loop loop;
  run_bounded(loop, [&path] {
    auto first = tandem::start_unix_server(echo_lines, path);
    EXPECT_THROW(auto second =
                     tandem::start_unix_server([](stream) {}, path + std::string(1, '\0') + "tail"),
                 std::invalid_argument);
    ASSERT_TRUE(exists(path));
    stream s = tandem::open_unix_connection(path);  // still the first server's socket
    s.write("first\n");
    EXPECT_EQ(s.readline(), "first\n");
  });
  EXPECT_FALSE(exists(path));
}

using testing_support::running_on_valgrind;

// EMFILE in the accept loop: the server backs off and goes on; the
// connections it has are unharmed. The kernel keeps the connection it
// could not hand over in the backlog; Valgrind, which enforces the limit
// itself, closes it instead, so there only later connections are checked.
TEST(Server, RunningOutOfDescriptorsPausesAcceptingAndKeepsServing) {
  event_loop loop;
  rlimit saved{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &saved), 0);
  run_bounded(loop, [&saved] {
    int accepted = 0;
    auto srv = tandem::start_server(
        [&accepted](stream s) {
          ++accepted;
          echo_lines(std::move(s));
        },
        "127.0.0.1", 0);
    stream first = tandem::open_connection("127.0.0.1", srv.port());
    first.write("1\n");
    ASSERT_EQ(first.readline(), "1\n");
    // Room for exactly one more descriptor: the next client's socket. The
    // server's accept() of it then fails with EMFILE.
    const int lowest_free = ::dup(first.native_handle());
    ASSERT_GE(lowest_free, 0);
    ::close(lowest_free);
    rlimit low = saved;
    low.rlim_cur = static_cast<rlim_t>(lowest_free) + 1;
    ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &low), 0);
    stream second;
    try {
      second = tandem::open_connection("127.0.0.1", srv.port());  // the backlog takes it
      second.write("2\n");
      // The server tries to accept meanwhile, and backs off. A loop that
      // took the listener's event again at once would spin: this thread's
      // CPU time would rise with the clock.
      const auto cpu_before = thread_cpu_time();
      const auto wall_before = steady::now();
      tandem::sleep_for(250ms);
      const auto cpu = thread_cpu_time() - cpu_before;
      const auto wall = steady::now() - wall_before;
      if (!running_on_valgrind()) {
        EXPECT_LT(cpu, wall / 2) << "the accept loop spins";
      }
      EXPECT_EQ(accepted, 1);
      EXPECT_TRUE(srv.is_serving());
      first.write("3\n");
      EXPECT_EQ(first.readline(), "3\n");  // unharmed
    } catch (...) {
      ::setrlimit(RLIMIT_NOFILE, &saved);
      throw;
    }
    ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &saved), 0);
    if (!running_on_valgrind()) {
      EXPECT_EQ(second.readline(), "2\n");  // accepted once descriptors are free
      EXPECT_EQ(accepted, 2);
    }
    stream third = tandem::open_connection("127.0.0.1", srv.port());
    third.write("4\n");
    EXPECT_EQ(third.readline(), "4\n");  // the server kept serving
  });
}

// EMFILE in the accept loop when the back-off's timer cannot be allocated:
// the server keeps listening, and accepts once descriptors are free. It
// used to stop listening first, then throw the std::bad_alloc out of the
// loop's poll: the server never listened again. A blocking client takes
// the last descriptor; the next allocation, the server's, fails.
TEST(Server, AnAcceptBackOffWithoutMemoryForItsTimerKeepsListening) {
  if (running_on_valgrind())
    GTEST_SKIP() << "Valgrind puts its own operator new in place of this binary's";
  event_loop loop;
  rlimit saved{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &saved), 0);
  run_bounded(loop, [&saved] {
    auto srv = tandem::start_server(echo_lines, "127.0.0.1", 0);
    // A connection served first: UBSan's first check of a listener's or a
    // connection's type opens a pipe, which the low limit below refuses.
    stream first = tandem::open_connection("127.0.0.1", srv.port());
    first.write("1\n");
    ASSERT_EQ(first.readline(), "1\n");
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(srv.port());
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    const int lowest_free = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    ASSERT_GE(lowest_free, 0);
    ::close(lowest_free);
    rlimit low = saved;
    low.rlim_cur = static_cast<rlim_t>(lowest_free) + 1;
    ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &low), 0);
    struct restore_limit {
      const rlimit& saved;
      ~restore_limit() { ::setrlimit(RLIMIT_NOFILE, &saved); }
    } restore{saved};
    const int client = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    const bool connected =
        client >= 0 &&
        ::connect(client, reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0;
    // Queued before the task sleeps, run in the next iteration, which does
    // not poll: the poll after it finds the listener ready.
    allocation_fault::thread = std::this_thread::get_id();
    allocation_fault::injected = 0;
    tandem::current_loop().call_soon([] { allocation_fault::size = allocation_fault::any_size; });
    tandem::sleep_for(50ms);
    allocation_fault::size = 0;
    const bool failed_an_allocation = allocation_fault::injected.exchange(0) == 1;
    ::setrlimit(RLIMIT_NOFILE, &saved);  // the descriptors free now
    ASSERT_TRUE(connected);
    EXPECT_TRUE(failed_an_allocation);
    EXPECT_TRUE(srv.is_serving());
    ASSERT_EQ(::write(client, "x\n", 2), 2);
    tandem::wait_readable(client);
    char reply[2] = {};
    EXPECT_EQ(::read(client, reply, sizeof reply), 2);
    EXPECT_EQ(std::string(reply, 2), "x\n");  // accepted once descriptors were free
    ::close(client);
  });
}

// Ten thousand connections open at once, each with its handler task. The
// clients run in a child process (plain blocking sockets), so that each
// process needs ten thousand descriptors, not twenty: the soft limit is
// raised to that where it is lower.
namespace many {
constexpr int most_connections = 10000;
#if TANDEM_TSAN
constexpr bool under_tsan = true;
#else
constexpr bool under_tsan = false;
#endif
[[noreturn]] void run_clients(int connections, std::uint16_t port, int report_fd, int release_fd) {
  static int fds[most_connections];
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(port);
  char id[12], back[8];
  for (int i = 0; i < connections; ++i) {
    fds[i] = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fds[i] < 0 || ::connect(fds[i], reinterpret_cast<sockaddr*>(&address), sizeof address) != 0)
      ::_exit(10);
    std::snprintf(id, sizeof id, "%08d", i);
    if (::write(fds[i], id, 8) != 8) ::_exit(11);
  }
  for (int i = 0; i < connections; ++i) {
    std::snprintf(id, sizeof id, "%08d", i);
    for (std::size_t got = 0; got < 8;) {
      const ssize_t n = ::read(fds[i], back + got, 8 - got);
      if (n <= 0) ::_exit(12);
      got += static_cast<std::size_t>(n);
    }
    if (std::memcmp(back, id, 8) != 0) ::_exit(13);
  }
  if (::write(report_fd, "k", 1) != 1) ::_exit(14);
  char c;
  [[maybe_unused]] auto r = ::read(release_fd, &c, 1);  // every connection open until then
  ::_exit(0);
}
}  // namespace many

TEST(Server, TenThousandConcurrentConnections) {
  // 2,000 under Valgrind, whose leak check scans every pooled stack (256
  // KiB each) at exit, more than a minute for ten thousand, and under
  // ThreadSanitizer, which counts every task stack as a thread and dies
  // past 8,128 of them (7,000 took 72 s).
  const int connections = running_on_valgrind() || many::under_tsan ? 2000 : many::most_connections;
  const rlim_t needed = static_cast<rlim_t>(connections) + 256;
  rlimit saved{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &saved), 0);
  rlimit raised = saved;
  if (raised.rlim_cur < needed) {
    raised.rlim_cur = needed;
    if (raised.rlim_max < needed) raised.rlim_max = needed;  // root may
    ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &raised), 0)
        << "cannot raise the descriptor limit to " << needed << " (hard limit " << saved.rlim_max
        << "): " << std::strerror(errno);
  }
  int live_handlers = 0, most_live = 0;
  event_loop loop;
  auto srv = run_bounded(loop, [&] {
    return tandem::start_server(
        [&](stream s) {
          most_live = std::max(most_live, ++live_handlers);
          s.write(s.readexactly(8));
          s.read(1);  // until the client closes
          --live_handlers;
        },
        "127.0.0.1", 0);
  });
  int report[2], release[2];
  ASSERT_EQ(::pipe2(report, O_CLOEXEC | O_NONBLOCK), 0);
  ASSERT_EQ(::pipe2(release, O_CLOEXEC), 0);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::close(report[0]);
    ::close(release[1]);  // else the child would never see the release
    many::run_clients(connections, srv.port(), report[1], release[0]);
  }
  ::close(report[1]);
  ::close(release[0]);
  run_bounded(
      loop,
      [&] {
        tandem::wait_readable(report[0]);  // "k", or the end: the child failed
        char c = 0;
        EXPECT_EQ(::read(report[0], &c, 1), 1) << "the clients failed";
        EXPECT_EQ(most_live, connections);
        ::close(release[1]);  // the child closes its connections and exits
        srv.close();
        srv.wait_closed();
        EXPECT_EQ(live_handlers, 0);
      },
      std::chrono::seconds(280));
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "child status " << status;
  ::close(report[0]);
  ::setrlimit(RLIMIT_NOFILE, &saved);
}

TEST(Server, LoopCloseClosesLiveServers) {
  tandem::server kept;
  std::uint16_t port = 0;
  {
    event_loop loop;
    run_bounded(loop, [&] {
      kept = tandem::start_server(echo_lines, "127.0.0.1", 0);
      port = kept.port();
    });
    loop.close();
    EXPECT_FALSE(kept.is_serving());
    EXPECT_THROW(kept.port(), std::logic_error);
    EXPECT_THROW(kept.wait_closed(), std::logic_error);
  }
  // Nothing listens there any more.
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(port);
  EXPECT_NE(::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
  EXPECT_EQ(errno, ECONNREFUSED);
  ::close(fd);
}

TEST(Server, EmptyHandlerIsInvalidArgument) {
  event_loop loop;
  run_bounded(loop, [] {
    EXPECT_THROW(auto s = tandem::start_server(nullptr, "127.0.0.1", 0), std::invalid_argument);
    EXPECT_THROW(auto s = tandem::start_unix_server(nullptr, "/tmp/x"), std::invalid_argument);
  });
}

TEST(Server, StartServerOutsideATaskIsLogicError) {
  EXPECT_THROW(auto s = tandem::start_server(echo_lines, "127.0.0.1", 0), std::logic_error);
}

// A connection whose handler task cannot be made (no memory) is closed,
// and the server's count of running handlers stays right: wait_closed()
// still returns once the server is closed (rule 13).
struct handler_call_layout {  // the size of server.cpp's handler_call
  std::shared_ptr<int> server;
  std::shared_ptr<int> connection;
  void operator()() {}
};

TEST(Server, AHandlerTaskThatCannotBeMadeLeavesWaitClosedWorking) {
  if (testing_support::running_on_valgrind())
    GTEST_SKIP() << "Valgrind puts its own operator new in place of this binary's";
  event_loop loop;
  run_bounded(
      loop,
      [] {
        auto srv = tandem::start_server([](stream) {}, "127.0.0.1", 0);
        using impl = tandem::detail::task_impl<void, handler_call_layout>;
        // make_shared's block (libstdc++): the two counts, then the task.
        const std::size_t block =
            sizeof(std::_Sp_counted_ptr_inplace<impl, std::allocator<void>, __gnu_cxx::_S_atomic>);
        const std::uint16_t port = srv.port();
        allocation_fault::thread = std::this_thread::get_id();
        allocation_fault::injected = 0;
        allocation_fault::size = block;  // the handler task of the next connection
        std::thread client([port] {
          const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
          sockaddr_in a{};
          a.sin_family = AF_INET;
          a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
          a.sin_port = htons(port);
          if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) {
            char c;
            (void)::read(fd, &c, 1);  // until the server closes the connection
          }                           // else: no injection, which the test reports
          ::close(fd);
        });
        for (int i = 0; i < 2000 && allocation_fault::injected == 0; ++i) tandem::sleep_for(5ms);
        allocation_fault::size = 0;
        client.join();
        if (allocation_fault::injected.load() == 0)  // riscv64: the task is allocated otherwise
          GTEST_SKIP() << "no allocation of the handler task's size was seen on this target";
        ASSERT_EQ(allocation_fault::injected.load(), 1);
        srv.close();
        srv.wait_closed();  // no handler ever ran: returns at once
      },
      20s);
}

}  // namespace
