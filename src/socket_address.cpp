// Socket addresses in error messages: see socket_address.hpp.
#include "socket_address.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/un.h>

#include <cstring>
#include <system_error>

namespace tandem::detail {

std::string socket_address::describe() const {
  char text[INET6_ADDRSTRLEN] = {};
  switch (family()) {
    case AF_INET: {
      const auto* in = reinterpret_cast<const sockaddr_in*>(&storage);
      ::inet_ntop(AF_INET, &in->sin_addr, text, sizeof text);
      std::string out(text);
      out += ':';
      out += std::to_string(ntohs(in->sin_port));
      return out;
    }
    case AF_INET6: {
      const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&storage);
      ::inet_ntop(AF_INET6, &in6->sin6_addr, text, sizeof text);
      std::string out("[");
      out += text;
      out += "]:";
      out += std::to_string(ntohs(in6->sin6_port));
      return out;
    }
    case AF_UNIX: {
      const auto* un = reinterpret_cast<const sockaddr_un*>(&storage);
      const std::size_t room =
          length > offsetof(sockaddr_un, sun_path) ? length - offsetof(sockaddr_un, sun_path) : 0;
      const std::size_t n = ::strnlen(un->sun_path, std::min(room, sizeof un->sun_path));
      return n == 0 ? std::string("an unnamed Unix socket") : std::string(un->sun_path, n);
    }
    default:
      return {};
  }
}

void set_no_delay(int fd) noexcept {
  const int on = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
}

void throw_socket_error(int error, std::string_view operation, const std::string& peer) {
  std::string what(operation);
  if (!peer.empty()) what += " " + peer;
  throw std::system_error(error, std::system_category(), what);
}

}  // namespace tandem::detail
