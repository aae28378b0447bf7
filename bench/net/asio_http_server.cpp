// A small HTTP/1.1 server on Boost.Asio's C++20 coroutines: the peer of
// tandem's HTTP example in bench/net/http_compare.py, with the same
// behaviour:
//
//   GET / (any query)        200 OK, Content-Type: text/plain, body "hello\n"
//   HEAD /                   the same head, no body
//   another method on /      405 Method Not Allowed (Allow: GET, HEAD)
//   any other path           404 Not Found, body "not found\n"
//   a malformed request      400 Bad Request, body "bad request\n", then close
//     line or field, or a head over 16 KiB
//   Transfer-Encoding        501 Not Implemented, then close (bodies are
//                            read by Content-Length only)
//
// Connections are kept alive (HTTP/1.1; HTTP/1.0 with "Connection:
// keep-alive") until the client closes or sends "Connection: close", which
// the response repeats. Closing, the server shuts down its sending side and
// reads and drops up to 1 MiB more until the client closes, so that no
// reset destroys the response before the client has read it. A request's
// Content-Length body is read and thrown away. Pipelined requests are
// answered in order, their responses written together. No Date field.
//
//   asio_http_server [PORT [HOST]]
//
// PORT defaults to 8888 (0: any free port), HOST (IPv4) to 0.0.0.0; one
// coroutine per client on a single-threaded io_context, TCP_NODELAY on;
// "listening on HOST port PORT" once it accepts connections, clean exit on
// SIGINT or SIGTERM (see asio_server_main.hpp).

// clang-format off
#include <utility>  // before Asio: Boost 1.74's awaitable.hpp needs its std::exchange
#include <boost/asio.hpp>
// clang-format on
#include <algorithm>
#include <cstddef>
#include <string>
#include <string_view>

#include "asio_server_main.hpp"
#include "http_request.hpp"

namespace {

namespace asio = boost::asio;
using asio::ip::tcp;
using bench_net::http_request;
using bench_net::parse_status;

constexpr std::size_t longest_head = 16 * 1024;
constexpr std::size_t longest_linger = 1024 * 1024;
constexpr std::size_t chunk_size = 16 * 1024;

// Appends one response to `out`.
void respond(std::string& out, std::string_view status, std::string_view body, bool keep_alive,
             int minor_version, bool head_only = false, std::string_view extra_fields = {}) {
  out += "HTTP/1.1 ";
  out += status;
  out += "\r\nContent-Type: text/plain\r\nContent-Length: ";
  out += std::to_string(body.size());
  out += "\r\n";
  out += extra_fields;
  if (!keep_alive)
    out += "Connection: close\r\n";
  else if (minor_version == 0)
    out += "Connection: keep-alive\r\n";
  out += "\r\n";
  if (!head_only) out += body;
}

// Appends the response to a well-formed request.
void answer(std::string& out, const http_request& request) {
  const std::string_view path = request.target.substr(0, request.target.find('?'));
  if (path != "/") {
    respond(out, "404 Not Found", "not found\n", request.keep_alive, request.minor_version);
  } else if (request.method == "GET" || request.method == "HEAD") {
    respond(out, "200 OK", "hello\n", request.keep_alive, request.minor_version,
            request.method == "HEAD");
  } else {
    respond(out, "405 Method Not Allowed", "method not allowed\n", request.keep_alive,
            request.minor_version, false, "Allow: GET, HEAD\r\n");
  }
}

// Closes after a last response: the sending side first, then what the
// client still sends is read and dropped (up to a limit) until it closes.
// Closing with unread bytes would send a reset, and the client could lose
// the response it has not read yet.
asio::awaitable<void> linger(tcp::socket& socket, char (&chunk)[chunk_size]) {
  boost::system::error_code error;
  socket.shutdown(tcp::socket::shutdown_send, error);
  for (std::size_t dropped = 0; !error && dropped < longest_linger;)
    dropped += co_await socket.async_read_some(asio::buffer(chunk),
                                               asio::redirect_error(asio::use_awaitable, error));
}

asio::awaitable<void> serve(tcp::socket socket) {
  std::string in;        // bytes read and not yet parsed
  std::string out;       // responses not yet written
  std::size_t skip = 0;  // body bytes still to throw away
  char chunk[chunk_size];
  try {
    for (;;) {
      bool close = false;
      std::size_t start = 0;  // of the next request in `in`
      while (!close) {        // every complete request in `in`
        const std::size_t skipped = std::min(skip, in.size() - start);
        start += skipped;
        skip -= skipped;
        if (skip > 0 || start == in.size()) break;
        http_request request;
        const parse_status status =
            bench_net::parse_http_request(std::string_view(in).substr(start), request);
        if (status == parse_status::incomplete && in.size() - start <= longest_head) break;
        if (status != parse_status::complete || request.head_length > longest_head) {
          respond(out, "400 Bad Request", "bad request\n", false, 1);
          close = true;
        } else if (request.transfer_encoding) {
          respond(out, "501 Not Implemented", "not implemented\n", false, 1);
          close = true;
        } else {
          answer(out, request);
          close = !request.keep_alive;
          start += request.head_length;
          skip = request.content_length;
        }
      }
      in.erase(0, start);
      if (!out.empty()) {
        co_await asio::async_write(socket, asio::buffer(out), asio::use_awaitable);
        out.clear();
      }
      if (close) {
        co_await linger(socket, chunk);
        co_return;
      }
      const std::size_t n =
          co_await socket.async_read_some(asio::buffer(chunk), asio::use_awaitable);
      in.append(chunk, n);
    }
  } catch (const boost::system::system_error&) {
    // eof, reset, broken pipe: the client is gone, and so is this coroutine.
  }
}

}  // namespace

int main(int argc, char** argv) {
  return bench_net::run_asio_server("asio_http_server", argc, argv,
                                    [](tcp::socket socket) { return serve(std::move(socket)); });
}
