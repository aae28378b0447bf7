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
// they unwind); it exits 0 (serve_until_signalled.hpp). Accepted sockets
// get TCP_NODELAY, as asyncio's. Each task reads into a buffer of its own
// (read_into), which it reuses for every message: read() would return a
// new string each time, as asyncio's returns a new bytes.
#include <cstddef>
#include <cstdio>
#include <exception>
#include <string_view>

#include "serve_until_signalled.hpp"
#include "tandem/streams.hpp"

namespace {

void echo(tandem::stream client) {
  try {
    char buffer[65536];                                       // on the task's stack (256 KiB)
    while (const std::size_t n = client.read_into(buffer)) {  // 0: the client is done
      client.write(std::string_view(buffer, n));
      client.drain();
    }
  } catch (const std::exception& e) {  // a reset: that client only
    std::fprintf(stderr, "echo_server: client: %s\n", e.what());
  }
}

}  // namespace

int main(int argc, char** argv) { return examples::serve_until_signalled(argc, argv, 8888, echo); }
