// What the Asio peers in bench/net share (asio_echo_server.cpp,
// asio_http_server.cpp): the command line `NAME [PORT [HOST]]`, a listener
// with an acceptor coroutine that hands each client, TCP_NODELAY set, to a
// coroutine of its own, and a clean exit on SIGINT or SIGTERM. All on one
// single-threaded io_context.
#ifndef TANDEM_BENCH_NET_ASIO_SERVER_MAIN_HPP
#define TANDEM_BENCH_NET_ASIO_SERVER_MAIN_HPP

// clang-format off
#include <utility>  // before Asio: Boost 1.74's awaitable.hpp needs its std::exchange
#include <boost/asio.hpp>
// clang-format on
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>

namespace bench_net {

// serve(socket) makes the client's coroutine: asio::awaitable<void>.
template <class Serve>
boost::asio::awaitable<void> accept_clients(boost::asio::ip::tcp::acceptor& acceptor, Serve serve) {
  namespace asio = boost::asio;
  for (;;) {
    boost::system::error_code error;
    asio::ip::tcp::socket socket =
        co_await acceptor.async_accept(asio::redirect_error(asio::use_awaitable, error));
    if (error == asio::error::operation_aborted) co_return;  // the listener closed
    if (error) {
      // A connection that died while queued, or out of descriptors:
      // serving the others matters more than this one.
      std::fprintf(stderr, "accept: %s\n", error.message().c_str());
      continue;
    }
    socket.set_option(asio::ip::tcp::no_delay(true), error);
    asio::co_spawn(acceptor.get_executor(), serve(std::move(socket)), asio::detached);
  }
}

// The whole program: parses `[PORT [HOST]]`, serves until SIGINT/SIGTERM.
// Returns main's exit status.
template <class Serve>
int run_asio_server(const char* name, int argc, char** argv, Serve serve) {
  namespace asio = boost::asio;
  long port = 8888;
  if (argc > 1) {
    char* end = nullptr;
    port = std::strtol(argv[1], &end, 10);
    if (end == argv[1] || *end != '\0' || port < 0 || port > 65535) {
      std::fprintf(stderr, "usage: %s [PORT (0-65535, 0 = any) [IPv4 HOST]]\n", name);
      return 2;
    }
  }
  const std::string host = argc > 2 ? argv[2] : "0.0.0.0";
  try {
    asio::io_context context(1);  // one thread: no locking inside Asio
    const asio::ip::tcp::endpoint endpoint(asio::ip::make_address_v4(host),
                                           static_cast<unsigned short>(port));
    asio::ip::tcp::acceptor acceptor(context, endpoint);  // SO_REUSEADDR on
    std::printf("listening on %s port %u\n", host.c_str(),
                unsigned{acceptor.local_endpoint().port()});
    std::fflush(stdout);

    asio::signal_set signals(context, SIGINT, SIGTERM);
    signals.async_wait([&](const boost::system::error_code& error, int signo) {
      if (error) return;
      std::printf("shutting down (%s)\n", signo == SIGINT ? "SIGINT" : "SIGTERM");
      std::fflush(stdout);
      acceptor.close();
      context.stop();  // the client coroutines die with the context
    });
    asio::co_spawn(context, accept_clients(acceptor, std::move(serve)), asio::detached);
    context.run();
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: %s\n", name, e.what());
    return 1;
  }
}

}  // namespace bench_net

#endif  // TANDEM_BENCH_NET_ASIO_SERVER_MAIN_HPP
