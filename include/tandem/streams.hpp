// tandem/streams.hpp: TCP and Unix-socket connections as streams, and
// servers (asyncio's streams.py: open_connection, start_server).
//
//     tandem::stream s = tandem::open_connection("example.org", 80);
//     s.write("GET / HTTP/1.0\r\n\r\n");
//     std::string status = s.readline();
//
//     tandem::server srv = tandem::start_server(
//         [](tandem::stream s) {
//           while (true) {
//             std::string data = s.read(65536);
//             if (data.empty()) break;  // end of stream
//             s.write(data);
//             s.drain();
//           }
//         },
//         "127.0.0.1", 8888);
//     srv.wait_closed();
//
// Rules (docs/rules.md, section 10):
//  - Sending and closing. write() hands data to the socket at once, as far
//    as it takes it; the loop sends the rest in the background, with no
//    drain() needed. drain() suspends while more than the high-water mark
//    (64 KiB) is unsent, until at most the low-water mark (16 KiB) is
//    (asyncio's defaults). close() and the destructor never suspend: they
//    send what is buffered in the background, then close. Sockets never
//    raise SIGPIPE; a send failure is thrown by the next write, drain or
//    write_eof.
//  - Reading. A stream reads only when a read asks for bytes (nothing is
//    read ahead in the background), so its buffer holds at most what the
//    last read took beyond what it returned. At end of stream, read,
//    read_all and readline return what is left (finally ""); readexactly
//    and readuntil throw incomplete_read_error, whose partial() holds the
//    bytes consumed (read_into, reading into the caller's buffer, returns
//    0 there). at_eof() does no I/O: true once the end was seen and
//    nothing is buffered. Up to `limit` bytes before a separator are
//    accepted; past that, readuntil keeps the buffer and throws
//    limit_overrun_error, and readline discards through the next '\n'
//    (reading on for it if need be) and throws it. A second task reading
//    while one reads, or writing or draining while one drains:
//    std::logic_error.
//  - Errors. Socket errors (refused, reset, broken pipe) are
//    std::system_error naming the peer (a Unix server's connection from a
//    client that bound no name: "a client of PATH", its server's socket);
//    a name that does not resolve is a std::system_error in
//    resolver_category(), naming the host. After
//    close(), every operation but close(), at_eof() (true) and
//    native_handle() (-1) throws std::logic_error; so does a write after
//    write_eof(). A task cancelled inside any stream operation leaves the
//    stream usable, with no byte lost or duplicated.
//  - Servers. start_server binds every address `host` resolves to ("":
//    every interface), on one port, with SO_REUSEADDR, and sets
//    TCP_NODELAY on what it accepts, as asyncio does (open_connection too).
//    Each connection runs `handler` in its own task, which owns the
//    stream: the connection closes when it is destroyed. An exception
//    escaping a handler is reported as an unretrieved task exception and
//    closes that connection only. When accept() runs out of file
//    descriptors (EMFILE, ENFILE) or memory, the server stops accepting for
//    100 ms and tries again; established connections go on. The Unix
//    server removes a stale socket file before binding, and unlinks it on
//    close(). The loop's close() closes every live stream and server.
// Suspending calls (reads, drain, the open_* and start_* functions,
// wait_closed): outside a task, or inside a generator coroutine running in
// a task, std::logic_error. Deliberate differences from asyncio: one
// stream holds both directions (a C++ object owns its socket once); misuse
// throws (asyncio logs it); wait_closed also waits for the handler tasks.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>

namespace tandem {

inline constexpr std::size_t default_stream_limit = 65536;

namespace detail {
class transport;
struct server_state;
}  // namespace detail

// One connection, both directions (asyncio's StreamReader and StreamWriter
// together). Move-only; owns its socket. A default-constructed or
// moved-from stream is closed.
class stream {
 public:
  stream() noexcept;
  stream(stream&& other) noexcept;
  stream& operator=(stream&& other) noexcept;  // closes what this held
  stream(const stream&) = delete;
  stream& operator=(const stream&) = delete;
  ~stream();  // close()

  std::string read(std::size_t n);  // 1..n bytes; "" at end of stream; read(0): "" at once
  // read(buffer.size()) into the caller's buffer: returns how many bytes
  // it holds now (1..size), 0 at end of stream, 0 at once for an empty
  // buffer. asyncio has no such call (its read makes a new bytes each
  // time); C++ programs reuse buffers, as with Asio's read_some or
  // Python's socket.recv_into, and a read then allocates nothing.
  std::size_t read_into(std::span<char> buffer);
  std::string read_all();  // until end of stream (asyncio's read(-1))
  std::string readexactly(std::size_t n);
  std::string readline();  // through '\n'; the partial last line at end; "" at end
  std::string readuntil(std::string_view separator);  // through separator; "": invalid_argument
  void write(std::string_view data);                  // never suspends
  void drain();
  void write_eof();  // shuts the sending side down once the buffer is sent
  void close();      // never suspends; may be repeated
  bool at_eof() const;
  int native_handle() const;  // -1 once closed
  // Bytes written and not yet taken by the socket (asyncio's
  // transport.get_write_buffer_size()); 0 once closed.
  std::size_t write_buffer_size() const noexcept;

  explicit stream(std::shared_ptr<detail::transport> t) noexcept;  // the library's

 private:
  detail::transport& open_transport(const char* operation) const;
  std::shared_ptr<detail::transport> transport_;
};

// readexactly or readuntil met the end of the stream first.
class incomplete_read_error : public std::runtime_error {
 public:
  incomplete_read_error(std::string partial, std::optional<std::size_t> expected);
  const std::string& partial() const noexcept { return partial_; }
  std::optional<std::size_t> expected() const noexcept { return expected_; }  // empty: readuntil

 private:
  std::string partial_;
  std::optional<std::size_t> expected_;
};

// More than the stream's limit came before the separator.
class limit_overrun_error : public std::runtime_error {
 public:
  limit_overrun_error(const std::string& what, std::size_t consumed);
  // readuntil: the bytes to skip to get past the separator when it was
  // found, else the buffered bytes that cannot be part of it. readline: the
  // bytes it discarded.
  std::size_t consumed() const noexcept { return consumed_; }

 private:
  std::size_t consumed_;
};

// getaddrinfo's error codes (EAI_NONAME, ...) as std::error_code values.
const std::error_category& resolver_category() noexcept;

// Connects to host (a name, or an IPv4 or IPv6 literal) and port; names
// are resolved on the loop's worker threads (to_thread). Every address is
// tried in order; when all fail, the first failure is thrown.
stream open_connection(std::string_view host, std::uint16_t port,
                       std::size_t limit = default_stream_limit);
// A Unix socket path; one that starts with '\0' is a name in Linux's
// abstract namespace (no file), all of whose bytes count, as Python's.
// Empty, too long for sun_path, or (a path) with a '\0' inside:
// std::invalid_argument (as for start_unix_server).
stream open_unix_connection(std::string_view path, std::size_t limit = default_stream_limit);

// A listening server (asyncio's Server). Move-only; destroying it closes it.
class server {
 public:
  server() noexcept;
  server(server&& other) noexcept;
  server& operator=(server&& other) noexcept;  // closes what this held
  server(const server&) = delete;
  server& operator=(const server&) = delete;
  ~server();

  std::uint16_t port() const;  // the bound port (0 asked: the kernel's choice); Unix: 0
  void close();                // stops accepting; running handlers go on; may be repeated
  void wait_closed();          // until closed and every handler task has finished
  bool is_serving() const noexcept;

  explicit server(std::shared_ptr<detail::server_state> state) noexcept;  // the library's

 private:
  std::shared_ptr<detail::server_state> state_;
};

[[nodiscard]] server start_server(std::function<void(stream)> handler, std::string_view host,
                                  std::uint16_t port, std::size_t limit = default_stream_limit);
[[nodiscard]] server start_unix_server(std::function<void(stream)> handler, std::string_view path,
                                       std::size_t limit = default_stream_limit);

}  // namespace tandem
