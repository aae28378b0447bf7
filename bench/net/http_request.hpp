// The request head parser of bench/net/asio_http_server.cpp: just enough
// HTTP/1.1 (RFC 9112) for a benchmark server that must still answer
// malformed requests with 400 rather than guess.
//
// Accepted: optional empty lines before the request line; lines ending in
// CRLF or a bare LF; a request line of exactly METHOD SP TARGET SP
// HTTP/1.0 or HTTP/1.1; header fields `name: value` (name a token, no
// space before the colon, no control characters in the value). Bad: any
// other request line, a field line with no colon or a bad name, an
// obsolete folded line (starting with SP or HT), a Content-Length that is
// not digits or that disagrees with another one.
#ifndef TANDEM_BENCH_NET_HTTP_REQUEST_HPP
#define TANDEM_BENCH_NET_HTTP_REQUEST_HPP

#include <cstddef>
#include <string_view>

namespace bench_net {

struct http_request {
  std::string_view method;
  std::string_view target;
  int minor_version = 1;        // HTTP/1.<minor_version>
  std::size_t head_length = 0;  // request line and fields, the empty line included
  std::size_t content_length = 0;
  bool keep_alive = true;  // HTTP/1.1 unless "Connection: close"; 1.0 only if asked
  bool transfer_encoding = false;
};

enum class parse_status { incomplete, bad, complete };

namespace http_detail {

inline bool is_token_char(char c) {
  if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

inline bool is_token(std::string_view s) {
  if (s.empty()) return false;
  for (const char c : s)
    if (!is_token_char(c)) return false;
  return true;
}

inline bool is_control(char c) {
  const auto u = static_cast<unsigned char>(c);
  return (u < 0x20 && c != '\t') || u == 0x7f;
}

inline bool equals_ignoring_case(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; };
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

inline std::string_view trim_whitespace(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// The line that starts at `pos`, without its LF or CRLF; moves `pos` past
// it. False if the line has no LF yet.
inline bool next_line(std::string_view in, std::size_t& pos, std::string_view& line) {
  const std::size_t end = in.find('\n', pos);
  if (end == std::string_view::npos) return false;
  line = in.substr(pos, end - pos);
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  pos = end + 1;
  return true;
}

inline bool parse_request_line(std::string_view line, http_request& request) {
  const std::size_t first = line.find(' ');
  if (first == std::string_view::npos) return false;
  const std::size_t second = line.find(' ', first + 1);
  if (second == std::string_view::npos) return false;
  request.method = line.substr(0, first);
  request.target = line.substr(first + 1, second - first - 1);
  const std::string_view version = line.substr(second + 1);
  if (!is_token(request.method) || request.target.empty()) return false;
  for (const char c : request.target)
    if (c == ' ' || is_control(c)) return false;
  if (version == "HTTP/1.1")
    request.minor_version = 1;
  else if (version == "HTTP/1.0")
    request.minor_version = 0;
  else
    return false;
  return true;
}

inline bool parse_content_length(std::string_view value, std::size_t& length) {
  if (value.empty() || value.size() > 15) return false;  // digits only, below 10^15
  std::size_t n = 0;
  for (const char c : value) {
    if (c < '0' || c > '9') return false;
    n = n * 10 + static_cast<std::size_t>(c - '0');
  }
  length = n;
  return true;
}

// Reads the comma-separated options of a Connection field.
inline void parse_connection(std::string_view value, bool& close, bool& keep_alive) {
  while (!value.empty()) {
    const std::size_t comma = value.find(',');
    const std::string_view option = trim_whitespace(value.substr(0, comma));
    if (equals_ignoring_case(option, "close")) close = true;
    if (equals_ignoring_case(option, "keep-alive")) keep_alive = true;
    if (comma == std::string_view::npos) break;
    value.remove_prefix(comma + 1);
  }
}

}  // namespace http_detail

// Parses the request head at the start of `in`. `complete` fills `request`
// (its views point into `in`); `incomplete` asks for more bytes; `bad`
// means answer 400 and close.
inline parse_status parse_http_request(std::string_view in, http_request& request) {
  using namespace http_detail;
  std::size_t pos = 0;
  std::string_view line;
  do {  // empty lines before the request line are allowed (RFC 9112, 2.2)
    if (!next_line(in, pos, line)) return parse_status::incomplete;
  } while (line.empty());
  request = http_request{};
  if (!parse_request_line(line, request)) return parse_status::bad;

  bool close = false, keep_alive = false, has_length = false;
  for (;;) {
    if (!next_line(in, pos, line)) return parse_status::incomplete;
    if (line.empty()) break;
    if (line.front() == ' ' || line.front() == '\t') return parse_status::bad;  // obs-fold
    const std::size_t colon = line.find(':');
    if (colon == std::string_view::npos || !is_token(line.substr(0, colon)))
      return parse_status::bad;
    const std::string_view name = line.substr(0, colon);
    const std::string_view value = trim_whitespace(line.substr(colon + 1));
    for (const char c : value)
      if (is_control(c)) return parse_status::bad;
    if (equals_ignoring_case(name, "content-length")) {
      std::size_t length = 0;
      if (!parse_content_length(value, length)) return parse_status::bad;
      if (has_length && length != request.content_length) return parse_status::bad;
      request.content_length = length;
      has_length = true;
    } else if (equals_ignoring_case(name, "transfer-encoding")) {
      request.transfer_encoding = true;
    } else if (equals_ignoring_case(name, "connection")) {
      parse_connection(value, close, keep_alive);
    }
  }
  request.head_length = pos;
  request.keep_alive = !close && (request.minor_version == 1 || keep_alive);
  return parse_status::complete;
}

}  // namespace bench_net

#endif  // TANDEM_BENCH_NET_HTTP_REQUEST_HPP
