// An echo server on Boost.Asio's C++20 coroutines: the C++ peer of tandem's
// echo server (examples/echo_server.cpp) in bench/net/compare.py.
//
//   asio_echo_server [PORT [HOST]]
//
// PORT defaults to 8888 (0: any free port), HOST (IPv4) to 0.0.0.0. One
// coroutine per client (co_spawn, use_awaitable) reads what is there, up to
// 64 KiB, and writes it all back, until the client closes; TCP_NODELAY on
// every accepted socket. A single-threaded io_context, as tandem's loop
// is. Prints "listening on HOST port PORT" once it accepts connections,
// and on SIGINT or SIGTERM "shutting down (SIGNAL)", then stops the
// context (which destroys the coroutines and closes their sockets) and
// exits 0.
//
// Header-only Asio (Debian: libboost-dev); nothing of tandem.

// clang-format off
#include <utility>  // before Asio: Boost 1.74's awaitable.hpp needs its std::exchange
#include <boost/asio.hpp>
// clang-format on
#include <cstddef>
#include <cstdio>

#include "asio_server_main.hpp"

namespace {

namespace asio = boost::asio;
using asio::ip::tcp;

asio::awaitable<void> echo(tcp::socket socket) {
  char buffer[64 * 1024];  // in the coroutine's frame
  try {
    for (;;) {
      const std::size_t n =
          co_await socket.async_read_some(asio::buffer(buffer), asio::use_awaitable);
      co_await asio::async_write(socket, asio::buffer(buffer, n), asio::use_awaitable);
    }
  } catch (const boost::system::system_error& e) {
    // eof: the client is done; a reset or broken pipe: it went away.
    if (e.code() != asio::error::eof && e.code() != asio::error::connection_reset &&
        e.code() != asio::error::broken_pipe)
      std::fprintf(stderr, "asio_echo_server: client: %s\n", e.what());
  }
}

}  // namespace

int main(int argc, char** argv) {
  return bench_net::run_asio_server("asio_echo_server", argc, argv,
                                    [](tcp::socket socket) { return echo(std::move(socket)); });
}
