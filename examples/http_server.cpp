// A small HTTP/1.1 server on tandem's streams: persistent connections,
// request bodies by Content-Length, and 400 Bad Request for anything it
// cannot parse. One task per connection, each answering its requests in
// turn:
//
//   GET / (or HEAD /)   200 OK, "hello\n" (a query, "/?q=1", is ignored)
//   another method on / 405 Method Not Allowed
//   another path        404 Not Found
//   Transfer-Encoding   501 Not Implemented (bodies by Content-Length only)
//   a body over 1 MiB   413 Content Too Large
//   malformed request   400 Bad Request: the request line is not
//                       "METHOD TARGET HTTP/1.x", a header has no colon or
//                       a bad name, Content-Length is not a number or
//                       differs between copies, an HTTP/1.1 request has no
//                       Host or two, the head (request line and headers)
//                       is over 16 KiB (answered as soon as a line passes
//                       that, not at its end), or has more than 100
//                       headers. The connection closes after a 4xx/5xx.
//
// A response to HEAD, an error's included, has no body. An empty line
// before a request line is skipped (RFC 9112, 2.2). HTTP/1.1 connections
// stay open unless the client's Connection header lists "close"; HTTP/1.0
// ones close unless it lists "keep-alive", and then the response says
// "Connection: keep-alive" (a 1.0 client assumes a close without it).
// Pipelined requests are answered in order. A connection gets TIMEOUT
// seconds to start a request (its request line), then as long again for
// the rest of it (headers and body), however it trickles in; past either
// it closes, after a 408 Request Timeout if the request had begun. A
// response that cannot be sent within TIMEOUT (a client that does not read)
// closes the connection too. Before
// closing, the server shuts its sending side down and reads on (up to
// 1 MiB, for up to 5 s) until the client closes: closing with unread bytes
// would send a reset, which can destroy the response before the client
// has read it.
//
// Usage: http_server [PORT [HOST [TIMEOUT]]]
//   PORT     default 8080; 0 asks the kernel for a free port.
//   HOST     a name or an address to bind, default 0.0.0.0.
//   TIMEOUT  seconds, over 0 and up to a day, default 5 (uvicorn's
//            keep-alive timeout).
// Prints "listening on HOST port PORT" once it accepts connections, and
// exits 0 on SIGINT or SIGTERM (serve_until_signalled.hpp).
#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>

#include "serve_until_signalled.hpp"
#include "tandem/loop.hpp"
#include "tandem/streams.hpp"

namespace {

constexpr std::size_t max_headers = 100;
constexpr std::size_t max_head = 16 * 1024;  // request line and headers
constexpr std::size_t max_body = 1 << 20;
constexpr std::size_t max_linger = 1 << 20;
// Without it a client that sends nothing, or half a request, would hold
// its connection and task forever. Set once, from the command line.
tandem::clock::duration request_timeout = std::chrono::seconds(5);

struct request {
  std::string method;
  std::string target;
  bool http11 = true;
  std::optional<std::size_t> content_length;
  std::optional<bool> connection_close;  // from a Connection header
  bool chunked = false;
  int hosts = 0;  // Host headers
};

// An error response: the request cannot be answered normally, and the
// connection closes after it.
struct http_error {
  int status;
  const char* reason;
};

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// A line without its "\r\n" (or bare "\n"); a line cut short by the end of
// the stream is malformed.
std::string_view strip_eol(std::string_view line) {
  if (line.empty() || line.back() != '\n') throw http_error{400, "Bad Request"};
  line.remove_suffix(1);
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  return line;
}

bool is_token(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](unsigned char c) {
    return std::isalnum(c) || std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
  });
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

void parse_request_line(std::string_view line, request& r) {
  const std::size_t first = line.find(' ');
  const std::size_t second = first == std::string_view::npos ? first : line.find(' ', first + 1);
  if (second == std::string_view::npos || line.find(' ', second + 1) != std::string_view::npos)
    throw http_error{400, "Bad Request"};
  r.method = line.substr(0, first);
  r.target = line.substr(first + 1, second - first - 1);
  // HTTP/1.x: a later minor version is answered as 1.1 (RFC 9110, 6.2).
  const std::string_view version = line.substr(second + 1);
  if (!is_token(r.method) || r.target.empty() || version.size() != 8 ||
      !version.starts_with("HTTP/1.") || version[7] < '0' || version[7] > '9')
    throw http_error{400, "Bad Request"};
  r.http11 = version != "HTTP/1.0";
}

// Whether a Connection header's value lists `option` (a comma-separated
// list of tokens, in any case).
bool lists(std::string_view value, std::string_view option) {
  for (;;) {
    const std::size_t comma = value.find(',');
    if (iequals(trim(value.substr(0, comma)), option)) return true;
    if (comma == std::string_view::npos) return false;
    value.remove_prefix(comma + 1);
  }
}

void parse_header(std::string_view line, request& r) {
  const std::size_t colon = line.find(':');
  if (colon == std::string_view::npos || !is_token(line.substr(0, colon)))
    throw http_error{400, "Bad Request"};
  const std::string_view name = line.substr(0, colon);
  const std::string_view value = trim(line.substr(colon + 1));
  if (iequals(name, "Content-Length")) {
    if (value.empty() ||
        !std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; }))
      throw http_error{400, "Bad Request"};
    std::string_view digits = value.substr(std::min(value.find_first_not_of('0'), value.size()));
    if (digits.size() > 18) throw http_error{413, "Content Too Large"};  // over max_body anyway
    if (digits.empty()) digits = "0";
    const std::size_t length = std::stoull(std::string(digits));
    if (r.content_length && *r.content_length != length) throw http_error{400, "Bad Request"};
    r.content_length = length;
  } else if (iequals(name, "Connection")) {
    if (lists(value, "close")) {
      r.connection_close = true;
    } else if (lists(value, "keep-alive") && !r.connection_close.value_or(false)) {
      r.connection_close = false;
    }
  } else if (iequals(name, "Host")) {
    ++r.hosts;
  } else if (iequals(name, "Transfer-Encoding")) {
    r.chunked = true;
  }
}

// `connection`: the Connection header's value, "" for none.
void respond(tandem::stream& s, int status, const char* reason, std::string_view body,
             std::string_view connection, bool head = false) {
  std::string response =
      "HTTP/1.1 " + std::to_string(status) + " " + reason +
      "\r\nContent-Type: text/plain\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
  if (status == 405) response += "Allow: GET, HEAD\r\n";
  if (!connection.empty()) response += "Connection: " + std::string(connection) + "\r\n";
  response += "\r\n";
  if (!head) response += body;
  s.write(response);
  // A client that sends requests and never reads the answers stops the
  // drain once the buffers are full: it gets the same time as a request,
  // then timeout_error closes the connection.
  tandem::timeout(request_timeout, [&s] { s.drain(); });
}

// A line through its '\n'; "" at the end of the stream. readuntil, not
// readline: a line over the stream's limit (max_head) throws
// limit_overrun_error as soon as that much came, where readline would read
// on to its end, however long the client keeps sending.
std::string read_line(tandem::stream& s) {
  try {
    return s.readuntil("\n");
  } catch (const tandem::incomplete_read_error& e) {
    return e.partial();  // cut short by the end: strip_eol answers 400
  }
}

// Reads and answers one request; false when the connection is to close.
// `head_request`: the request is a HEAD (its error response has no body).
bool serve_one(tandem::stream& s, bool& head_request) {
  head_request = false;
  request r;
  bool begun = false;  // the request line came
  // Reads the request; false when the client closed between requests.
  const auto read_request = [&](tandem::timeout_scope& deadline) {
    std::string first = read_line(s);
    if (first == "\r\n" || first == "\n") first = read_line(s);  // RFC 9112, 2.2
    if (first.empty()) return false;
    // A fresh deadline for the rest, fixed: one moved by each line would
    // let a client trickling a line at a time hold the connection forever.
    // One that expired as the line came stays so (reschedule would be a
    // logic_error): the task is cancelled already, at its next wait.
    begun = true;
    if (!deadline.expired()) deadline.reschedule(tandem::clock::now() + request_timeout);
    std::size_t head = first.size();
    parse_request_line(strip_eol(first), r);
    head_request = r.method == "HEAD";
    for (std::size_t headers = 0;; ++headers) {
      const std::string line = read_line(s);
      if ((head += line.size()) > max_head) throw http_error{400, "Bad Request"};
      const std::string_view header = strip_eol(line);
      if (header.empty()) break;
      if (headers == max_headers) throw http_error{400, "Bad Request"};
      parse_header(header, r);
    }
    // RFC 9112, 3.2: one Host (HTTP/1.0 may have none).
    if (r.http11 ? r.hosts != 1 : r.hosts > 1) throw http_error{400, "Bad Request"};
    if (r.chunked) throw http_error{501, "Not Implemented"};
    if (r.content_length.value_or(0) > max_body) throw http_error{413, "Content Too Large"};
    if (r.content_length) s.readexactly(*r.content_length);  // read, and not used
    return true;
  };
  try {
    if (!tandem::timeout(request_timeout, read_request)) return false;
  } catch (const tandem::timeout_error&) {
    if (!begun) throw;  // idle: nothing to answer, serve_connection closes
    throw http_error{408, "Request Timeout"};
  }
  const bool close = r.connection_close.value_or(!r.http11);
  // Persistence is HTTP/1.1's default only: a kept 1.0 connection says so.
  const char* connection = close ? "close" : r.http11 ? "" : "keep-alive";
  const std::string_view path = std::string_view(r.target).substr(0, r.target.find('?'));
  if (path != "/") {
    respond(s, 404, "Not Found", "not found\n", connection, head_request);
  } else if (r.method == "GET" || head_request) {
    respond(s, 200, "OK", "hello\n", connection, head_request);
  } else {
    respond(s, 405, "Method Not Allowed", "method not allowed\n", connection);
  }
  return !close;
}

// The response that closes the connection has been written: see the
// comment at the top.
void linger_and_close(tandem::stream& s) {
  s.write_eof();
  tandem::timeout(std::chrono::seconds(5), [&s] {
    for (std::size_t dropped = 0; dropped < max_linger;) {
      const std::string data = s.read(65536);
      if (data.empty()) return;
      dropped += data.size();
    }
  });
}

void serve_connection(tandem::stream s) {
  bool head_request = false;
  try {
    try {
      while (serve_one(s, head_request)) {
      }
      if (!s.at_eof()) linger_and_close(s);
    } catch (const http_error& e) {
      respond(s, e.status, e.reason, std::string(e.reason) + "\n", "close", head_request);
      linger_and_close(s);
    } catch (const tandem::limit_overrun_error&) {  // a line over the limit
      respond(s, 400, "Bad Request", "Bad Request\n", "close", head_request);
      linger_and_close(s);
    }
  } catch (const tandem::incomplete_read_error&) {
    // The client went away in the middle of a request.
  } catch (const tandem::timeout_error&) {
    // It sent no request in time, read no response in time, or did not
    // close within the lingering time.
  } catch (const std::system_error& e) {  // a reset: this connection only
    std::fprintf(stderr, "http_server: %s\n", e.what());
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 3) {  // TIMEOUT; serve_until_signalled reads the rest
    char* end = nullptr;
    const double seconds = std::strtod(argv[3], &end);
    // The bounds keep the conversion below from overflowing (NaN fails both).
    if (argc > 4 || end == argv[3] || *end != '\0' || !(seconds > 0 && seconds <= 86400)) {
      std::fprintf(stderr, "usage: %s [PORT [HOST [TIMEOUT (seconds, over 0, up to 86400)]]]\n",
                   argv[0]);
      return 2;
    }
    request_timeout =
        std::chrono::duration_cast<tandem::clock::duration>(std::chrono::duration<double>(seconds));
    argc = 3;
  }
  return examples::serve_until_signalled(argc, argv, 8080, serve_connection, max_head);
}
