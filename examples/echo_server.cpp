// A TCP echo server on tandem's streams: one task per client, each reading
// what its client sends and writing it straight back. In asyncio:
//
//     async def handle(reader, writer):
//         while data := await reader.read(65536):
//             writer.write(data)
//             await writer.drain()
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
//   HOST  a name or an address to bind (IPv4 or IPv6), default 0.0.0.0.
// Once it accepts connections it prints "listening on HOST port PORT" on
// stdout (flushed, so that a script reading a pipe sees it at once). On
// SIGINT or SIGTERM it prints "shutting down (...)", stops accepting, and
// closes the loop, which cancels the client tasks (their streams close as
// they unwind); it exits 0. Accepted sockets get TCP_NODELAY, as asyncio's.
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>

#include "tandem/loop.hpp"
#include "tandem/streams.hpp"

namespace {

void echo(tandem::stream client) {
  try {
    while (true) {
      std::string data = client.read(65536);
      if (data.empty()) return;  // the client is done
      client.write(data);
      client.drain();
    }
  } catch (const std::exception& e) {  // a reset: that client only
    std::fprintf(stderr, "echo_server: client: %s\n", e.what());
  }
}

const char* signal_name(int signo) { return signo == SIGINT ? "SIGINT" : "SIGTERM"; }

}  // namespace

int main(int argc, char** argv) {
  long port = 8888;
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
      int signo = 0;
      for (const int s : {SIGINT, SIGTERM})
        loop.add_signal_handler(s, [&stop, &signo, s] {
          signo = s;
          stop.set();
        });
      tandem::server server = tandem::start_server(echo, host, static_cast<std::uint16_t>(port));
      std::printf("listening on %s port %u\n", host.c_str(), unsigned{server.port()});
      std::fflush(stdout);
      stop.wait();
      std::printf("shutting down (%s)\n", signal_name(signo));
      std::fflush(stdout);
    });
  } catch (const std::exception& e) {
    std::fprintf(stderr, "echo_server: %s\n", e.what());
    return 1;
  }
  loop.close();  // cancels the clients' tasks; puts the signals' dispositions back
  return 0;
}
