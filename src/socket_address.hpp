// Socket addresses as the streams name them in errors ("127.0.0.1:80",
// "[::1]:80", the path of a Unix socket), and the system_error they throw.
#pragma once

#include <sys/socket.h>

#include <string>
#include <string_view>

namespace tandem::detail {

struct socket_address {
  sockaddr_storage storage{};
  socklen_t length = 0;

  const sockaddr* get() const noexcept { return reinterpret_cast<const sockaddr*>(&storage); }
  sockaddr* get() noexcept { return reinterpret_cast<sockaddr*>(&storage); }
  int family() const noexcept { return storage.ss_family; }
  std::string describe() const;  // "" when empty
};

// std::system_error(error, system category) saying "<operation> <peer>".
[[noreturn]] void throw_socket_error(int error, std::string_view operation,
                                     const std::string& peer);

}  // namespace tandem::detail
