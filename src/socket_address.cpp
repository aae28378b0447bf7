// Socket addresses in error messages: see socket_address.hpp.
#include "socket_address.hpp"

#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/un.h>

#include <algorithm>
#include <cstring>
#include <system_error>

namespace tandem::detail {
namespace {
// The bytes of sun_path that the address's length covers.
std::size_t unix_name_size(const socket_address& address) noexcept {
  constexpr std::size_t start = offsetof(sockaddr_un, sun_path);
  const std::size_t room = address.length > start ? address.length - start : 0;
  return std::min(room, sizeof sockaddr_un::sun_path);
}
}  // namespace

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
      // A link-local address means nothing without its interface: "%eth0"
      // (its number where it has no name any more), as ping and ip write it.
      if (in6->sin6_scope_id != 0) {
        char name[IF_NAMESIZE] = {};
        out += '%';
        out += ::if_indextoname(in6->sin6_scope_id, name) != nullptr
                   ? std::string(name)
                   : std::to_string(in6->sin6_scope_id);
      }
      out += "]:";
      out += std::to_string(ntohs(in6->sin6_port));
      return out;
    }
    case AF_UNIX: {
      const auto* un = reinterpret_cast<const sockaddr_un*>(&storage);
      const std::size_t size = unix_name_size(*this);
      // A name in Linux's abstract namespace: '\0' and all of the bytes
      // after it, written "@name" as ss and netstat write it.
      if (size > 1 && un->sun_path[0] == '\0') {
        std::string name(un->sun_path, size);
        name.front() = '@';
        return name;
      }
      const std::size_t n = ::strnlen(un->sun_path, size);
      return n == 0 ? std::string("an unnamed Unix socket") : std::string(un->sun_path, n);
    }
    default:
      return {};
  }
}

bool socket_address::unnamed_unix() const noexcept {
  if (family() != AF_UNIX) return false;
  const std::size_t size = unix_name_size(*this);
  // Linux gives such an address only sun_family; a lone '\0' is no
  // abstract name either.
  return size == 0 ||
         (size == 1 && reinterpret_cast<const sockaddr_un*>(&storage)->sun_path[0] == '\0');
}

bool operator==(const socket_address& a, const socket_address& b) noexcept {
  return a.length == b.length && std::memcmp(&a.storage, &b.storage, a.length) == 0;
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
