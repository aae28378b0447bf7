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
//   LINES default 100, CONNECTIONS default 1, HOST (a name or an address)
//   default 127.0.0.1.
// Exits 0 if every line came back, 1 otherwise, and gives up after 20
// seconds in all, so that a server that stops answering cannot hang a test.
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <stdexcept>
#include <string>
#include <vector>

#include "tandem/loop.hpp"
#include "tandem/streams.hpp"

namespace {

using namespace std::chrono_literals;

constexpr auto time_limit = 20s;

// One connection: sends a line, waits for its echo, compares; LINES times.
// Returns the number of lines echoed; throws on anything else. The stream
// closes however the task ends, cancellation by wait_for() included.
long talk(const std::string& host, std::uint16_t port, long id, long lines) {
  tandem::stream server = tandem::open_connection(host, port);
  for (long i = 0; i < lines; ++i) {
    const std::string line =
        "connection " + std::to_string(id) + " line " + std::to_string(i) + "\n";
    server.write(line);
    server.drain();
    const std::string echoed = server.readline();
    if (echoed.empty())
      throw std::runtime_error("connection " + std::to_string(id) +
                               ": the server closed the connection after " + std::to_string(i) +
                               " line(s)");
    if (echoed != line)
      throw std::runtime_error("connection " + std::to_string(id) + ": sent \"" +
                               line.substr(0, line.size() - 1) + "\", got back \"" + echoed + "\"");
  }
  // Half-close: the server sees end of stream, echoes nothing more and
  // closes its side, which this end must then see.
  server.write_eof();
  if (const std::string rest = server.read_all(); !rest.empty())
    throw std::runtime_error("connection " + std::to_string(id) + ": " +
                             std::to_string(rest.size()) + " unexpected byte(s) at the end");
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
  const std::string host = argc > 4 ? argv[4] : "127.0.0.1";
  if (argc < 2 || argc > 5 || !parse(argv[1], 1, 65535, port) ||
      (argc > 2 && !parse(argv[2], 0, 1'000'000'000, lines)) ||
      (argc > 3 && !parse(argv[3], 1, 10'000, connections))) {
    std::fprintf(stderr, "usage: %s PORT [LINES [CONNECTIONS [HOST]]]\n", argv[0]);
    return 2;
  }

  long failures = 0;
  long echoed = 0;
  tandem::event_loop loop;
  loop.run_until_complete([&] {
    std::vector<tandem::task<long>> tasks;
    for (long id = 0; id < connections; ++id)
      tasks.push_back(loop.create_task([&host, port, id, lines] {
        return talk(host, static_cast<std::uint16_t>(port), id, lines);
      }));
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
