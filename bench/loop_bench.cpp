// The event loop's costs (tandem/loop.hpp), in the four workloads that
// bench/asyncio/workloads.py runs on Python's asyncio; bench/asyncio/compare.py
// puts the two side by side.
//
//  - BM_loop_sleep0_switch: two tasks take turns through sleep_for(0s).
//    Time per switch (one task yielding to the other).
//  - BM_loop_queue_pingpong: two tasks bounce a number through two
//    queue<int>s, each adding one. Time per message (one put + get).
//  - BM_loop_timers: 1,000,000 call_later callbacks at random (fixed-seed)
//    delays below 5 ms, run until all have fired. Time per timer.
//  - BM_loop_echo/clients:N: N client tasks each send a 64-byte request
//    over loopback TCP and read the echo back, against an echo server on
//    the same loop. Time per round trip (items_per_second: round trips
//    per second).
//
// Every workload checks what it computed, so that a broken loop cannot pass
// for a fast one. Times are wall-clock (UseRealTime): the loop may block in
// epoll_wait, which CPU time would not count.
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "tandem/loop.hpp"

namespace {

using namespace std::chrono_literals;

// 1. Two tasks alternating with sleep_for(0s). The benchmark's own task
// counts its turns and yields; the partner checks, on each of its turns,
// that it saw exactly one turn of the other in between. One pass of the
// loop below is two switches: there and back.
void BM_loop_sleep0_switch(benchmark::State& state) {
  tandem::event_loop loop;
  long mine = 0;
  long theirs = 0;
  bool stop = false;
  bool out_of_turn = false;
  loop.run_until_complete([&] {
    auto partner = tandem::current_loop().create_task([&] {
      while (!stop) {
        if (++theirs != mine) out_of_turn = true;
        tandem::sleep_for(0s);
      }
    });
    tandem::sleep_for(0s);  // let the partner start: from here on, strict turns
    theirs = mine = 0;
    out_of_turn = false;
    while (state.KeepRunningBatch(2)) {
      ++mine;
      tandem::sleep_for(0s);
    }
    stop = true;
    tandem::await(partner);
  });
  benchmark::DoNotOptimize(theirs);
  if (out_of_turn || mine != theirs || 2 * mine != static_cast<long>(state.iterations()))
    state.SkipWithError("the tasks did not take strict turns");
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}
BENCHMARK(BM_loop_sleep0_switch)->UseRealTime();

// 2. A queue ping-pong: the benchmark's task puts i on `there`, the partner
// answers i + 1 on `back`. One pass is two messages. A negative number
// tells the partner to stop.
void BM_loop_queue_pingpong(benchmark::State& state) {
  tandem::event_loop loop;
  tandem::queue<int> there;
  tandem::queue<int> back;
  bool wrong = false;
  int sent = 0;
  loop.run_until_complete([&] {
    auto partner = tandem::current_loop().create_task([&] {
      for (;;) {
        const int v = there.get();
        if (v < 0) return;
        back.put(v + 1);
      }
    });
    while (state.KeepRunningBatch(2)) {
      there.put(sent);
      if (back.get() != sent + 1) wrong = true;
      sent = (sent + 1) & 0x3fffffff;  // stays non-negative
    }
    there.put(-1);
    tandem::await(partner);
  });
  if (wrong || !there.empty() || !back.empty()) state.SkipWithError("wrong queue answer");
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}
BENCHMARK(BM_loop_queue_pingpong)->UseRealTime();

// 3. One million timers. The delays are drawn once, before timing, with a
// fixed seed; a batch schedules them all with call_later and runs the loop
// until the last has fired. Each callback counts itself and adds its index,
// so a lost or doubled timer shows; the batch must also have lasted at least
// the longest delay.
constexpr int timer_count = 1'000'000;
constexpr auto longest_delay = 5ms;

void BM_loop_timers(benchmark::State& state) {
  std::vector<tandem::clock::duration> delays(timer_count);
  std::mt19937_64 random(20240601);
  std::uniform_int_distribution<std::int64_t> pick(
      0, std::chrono::duration_cast<tandem::clock::duration>(longest_delay).count());
  for (auto& d : delays) d = tandem::clock::duration(pick(random));
  constexpr std::int64_t index_sum = std::int64_t{timer_count} * (timer_count - 1) / 2;

  tandem::event_loop loop;
  bool wrong = false;
  while (state.KeepRunningBatch(timer_count)) {
    int fired = 0;
    std::int64_t sum = 0;
    tandem::event all_fired;
    const auto start = tandem::clock::now();
    loop.run_until_complete([&] {
      auto& l = tandem::current_loop();
      for (int i = 0; i < timer_count; ++i)
        l.call_later(delays[i], [&fired, &sum, &all_fired, i] {
          sum += i;
          if (++fired == timer_count) all_fired.set();
        });
      all_fired.wait();
    });
    if (fired != timer_count || sum != index_sum || tandem::clock::now() - start < longest_delay)
      wrong = true;
  }
  if (wrong) state.SkipWithError("timers lost, doubled or early");
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
  state.counters["timers"] = timer_count;
}
// Two batches of a million: the run stays short, and the first batch's
// allocations warm the heap for the second.
BENCHMARK(BM_loop_timers)->Iterations(2 * timer_count)->UseRealTime()->Unit(benchmark::kNanosecond);

// 4. Echo over loopback TCP.

// An owned file descriptor.
class fd_owner {
 public:
  explicit fd_owner(int fd = -1) noexcept : fd_(fd) {}
  fd_owner(fd_owner&& o) noexcept : fd_(o.release()) {}
  fd_owner& operator=(fd_owner&& o) noexcept {
    if (this != &o) {
      reset();
      fd_ = o.release();
    }
    return *this;
  }
  ~fd_owner() { reset(); }
  int get() const noexcept { return fd_; }
  int release() noexcept { return std::exchange(fd_, -1); }
  void reset() noexcept {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_;
};

[[noreturn]] void fail(const char* what) {
  throw std::system_error(errno, std::generic_category(), what);
}

fd_owner tcp_socket() {
  fd_owner s(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (s.get() < 0) fail("socket");
  return s;
}

void no_delay(int fd) {
  const int one = 1;
  if (::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0) fail("TCP_NODELAY");
}

// Reads what is there, waiting until something is; 0 at end of stream.
std::size_t read_some(int fd, char* buf, std::size_t n) {
  for (;;) {
    const ssize_t r = ::recv(fd, buf, n, 0);
    if (r >= 0) return static_cast<std::size_t>(r);
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      tandem::wait_readable(fd);
    } else if (errno != EINTR) {
      fail("recv");
    }
  }
}

void write_all(int fd, const char* buf, std::size_t n) {
  while (n > 0) {
    const ssize_t r = ::send(fd, buf, n, MSG_NOSIGNAL);
    if (r >= 0) {
      buf += r;
      n -= static_cast<std::size_t>(r);
    } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
      tandem::wait_writable(fd);
    } else if (errno != EINTR) {
      fail("send");
    }
  }
}

// The server's side of one connection: echoes until the client closes.
void echo_connection(fd_owner conn) {
  std::array<char, 4096> buf;
  for (;;) {
    const std::size_t n = read_some(conn.get(), buf.data(), buf.size());
    if (n == 0) return;
    write_all(conn.get(), buf.data(), n);
  }
}

// Accepts connections until cancelled, one task per connection.
void accept_loop(int listener, std::vector<tandem::task<void>>& connections) {
  for (;;) {
    const int fd = ::accept4(listener, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd >= 0) {
      no_delay(fd);
      connections.push_back(tandem::current_loop().create_task(
          [conn = fd_owner(fd)]() mutable { echo_connection(std::move(conn)); }));
    } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
      tandem::wait_readable(listener);
    } else if (errno != EINTR && errno != ECONNABORTED) {
      fail("accept4");
    }
  }
}

fd_owner connect_to(const sockaddr_in& address) {
  fd_owner s = tcp_socket();
  if (::connect(s.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) {
    if (errno != EINPROGRESS) fail("connect");
    tandem::wait_writable(s.get());
    int error = 0;
    socklen_t len = sizeof error;
    if (::getsockopt(s.get(), SOL_SOCKET, SO_ERROR, &error, &len) != 0) fail("SO_ERROR");
    if (error != 0) {
      errno = error;
      fail("connect");
    }
  }
  no_delay(s.get());
  return s;
}

constexpr std::size_t message_size = 64;

// `rounds` request/response round trips; false if an answer was not the
// request. Each request carries the client's number and the round's.
bool client_rounds(int fd, int client, int rounds) {
  std::array<char, message_size> request;
  std::array<char, message_size> answer;
  request.fill('x');
  for (int r = 0; r < rounds; ++r) {
    std::memcpy(request.data(), &client, sizeof client);
    std::memcpy(request.data() + sizeof client, &r, sizeof r);
    write_all(fd, request.data(), request.size());
    std::size_t got = 0;
    while (got < answer.size()) {
      const std::size_t n = read_some(fd, answer.data() + got, answer.size() - got);
      if (n == 0) return false;
      got += n;
    }
    if (answer != request) return false;
  }
  return true;
}

// N clients, each a task; a batch is 10,000 round trips in all, split
// evenly. The server, the connections and the clients' sockets persist
// across batches; the client tasks are made afresh for each.
void BM_loop_echo(benchmark::State& state) {
  const int clients = static_cast<int>(state.range(0));
  const int rounds = 10'000 / clients;

  tandem::event_loop loop;
  fd_owner listener = tcp_socket();
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  socklen_t len = sizeof address;
  if (::bind(listener.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
      ::listen(listener.get(), SOMAXCONN) != 0 ||
      ::getsockname(listener.get(), reinterpret_cast<sockaddr*>(&address), &len) != 0)
    fail("listen");

  std::vector<tandem::task<void>> connections;
  auto server = loop.create_task([&] { accept_loop(listener.get(), connections); });
  std::vector<fd_owner> sockets(clients);
  loop.run_until_complete([&] {
    std::vector<tandem::task<fd_owner>> connecting;
    for (int c = 0; c < clients; ++c)
      connecting.push_back(tandem::current_loop().create_task([&] { return connect_to(address); }));
    for (int c = 0; c < clients; ++c) sockets[c] = tandem::await(connecting[c]);
  });

  bool wrong = false;
  while (state.KeepRunningBatch(static_cast<benchmark::IterationCount>(clients) * rounds)) {
    loop.run_until_complete([&] {
      std::vector<tandem::task<bool>> running;
      running.reserve(clients);
      for (int c = 0; c < clients; ++c)
        running.push_back(tandem::current_loop().create_task(
            [fd = sockets[c].get(), c, rounds] { return client_rounds(fd, c, rounds); }));
      for (auto& t : running)
        if (!tandem::await(t)) wrong = true;
    });
  }

  // Close the clients; each connection task then sees the end of its
  // stream and returns. The server stops when cancelled.
  sockets.clear();
  loop.run_until_complete([&] {
    for (auto& t : connections) tandem::await(t);
    server.cancel();
    try {
      tandem::await(server);
    } catch (const tandem::cancelled_error&) {
    }
  });
  if (wrong || static_cast<int>(connections.size()) != clients)
    state.SkipWithError("wrong echo, or a client that did not connect");
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}
BENCHMARK(BM_loop_echo)->ArgName("clients")->Arg(1)->Arg(10)->Arg(100)->UseRealTime();

}  // namespace
