// Python's repr() for the values the asyncio twins print, so that their
// output matches Python's byte for byte.
#pragma once

#include <cstdio>
#include <string>
#include <string_view>
#include <utility>

namespace examples {

// Python's repr() of a str, for the strings a program like this returns:
// single quotes unless only double quotes avoid escaping, backslash escapes
// for the quote, the backslash and control characters. Bytes of multibyte
// UTF-8 characters pass through, as Python prints printable non-ASCII
// characters as they are.
inline std::string repr(std::string_view s) {
  const bool double_quoted =
      s.find('\'') != std::string_view::npos && s.find('"') == std::string_view::npos;
  const char quote = double_quoted ? '"' : '\'';
  std::string out(1, quote);
  for (const char c : s) {
    const auto byte = static_cast<unsigned char>(c);
    if (c == quote || c == '\\') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else if (byte < 0x20 || byte == 0x7f) {
      char escape[5];
      std::snprintf(escape, sizeof escape, "\\x%02x", byte);
      out += escape;
    } else {
      out += c;
    }
  }
  out += quote;
  return out;
}

// Python's repr() of a 2-tuple of str. Appends rather than chaining
// operator+, which trips a false -Wrestrict in GCC 12 at -O3.
inline std::string repr(const std::pair<std::string, std::string>& t) {
  std::string out = "(";
  out += repr(t.first);
  out += ", ";
  out += repr(t.second);
  out += ")";
  return out;
}

}  // namespace examples
