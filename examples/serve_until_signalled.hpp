// What the example servers share: their command line, `NAME [PORT [HOST]]`,
// and their life: start a server on the loop, say where it listens, serve
// until SIGINT or SIGTERM, then close the loop, which cancels the
// connections' tasks (their streams close as they unwind) and puts the
// signals' dispositions back. In asyncio:
//
//     server = await asyncio.start_server(handle, host, port)
//     print("listening on", host, "port", server.sockets[0].getsockname()[1])
//     stop = asyncio.Event()
//     for sig in (signal.SIGINT, signal.SIGTERM):
//         asyncio.get_running_loop().add_signal_handler(sig, stop.set)
//     await stop.wait()
//     server.close()
#pragma once

#include <csignal>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <functional>
#include <string>

#include "tandem/loop.hpp"
#include "tandem/streams.hpp"

namespace examples {

// Prints "listening on HOST port PORT" once it accepts connections (flushed,
// for a script reading a pipe), and "shutting down (SIGTERM)" at the end.
// Returns the exit status: 0 after a signal, 1 if the server could not
// start, 2 for a bad command line.
inline int serve_until_signalled(int argc, char** argv, long default_port,
                                 std::function<void(tandem::stream)> handler,
                                 std::size_t limit = tandem::default_stream_limit) {
  long port = default_port;
  if (argc > 1) {
    char* end = nullptr;
    port = std::strtol(argv[1], &end, 10);
    if (argc > 3 || end == argv[1] || *end != '\0' || port < 0 || port > 65535) {
      std::fprintf(stderr, "usage: %s [PORT (0-65535, 0 = any) [HOST]]\n", argv[0]);
      return 2;
    }
  }
  const std::string host = argc > 2 ? argv[2] : "0.0.0.0";
  tandem::event_loop loop;
  try {
    loop.run_until_complete([&] {
      tandem::event stop;
      const char* signal_name = "";
      for (const int s : {SIGINT, SIGTERM})
        loop.add_signal_handler(s, [&stop, &signal_name, s] {
          signal_name = s == SIGINT ? "SIGINT" : "SIGTERM";
          stop.set();
        });
      tandem::server server =
          tandem::start_server(handler, host, static_cast<std::uint16_t>(port), limit);
      std::printf("listening on %s port %u\n", host.c_str(), unsigned{server.port()});
      std::fflush(stdout);
      stop.wait();
      std::printf("shutting down (%s)\n", signal_name);
      std::fflush(stdout);
    });
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: %s\n", argv[0], e.what());
    return 1;
  }
  loop.close();
  return 0;
}

}  // namespace examples
