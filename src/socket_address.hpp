// Socket addresses as the streams name them in errors ("127.0.0.1:80",
// "[::1]:80", "[fe80::1%eth0]:80", the path of a Unix socket, "@name" for
// one in Linux's abstract namespace), the system_error they throw, and
// the option every TCP stream gets.
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
  // A Unix socket with no name: what accept() gives for a client that
  // bound none (the usual case), as the kernel autobinds no name.
  bool unnamed_unix() const noexcept;

  // The same address: the same bytes, as the kernel takes them.
  friend bool operator==(const socket_address& a, const socket_address& b) noexcept;
};

// TCP_NODELAY, as asyncio sets it on every TCP stream (best effort).
void set_no_delay(int fd) noexcept;

// std::system_error(error, system category) saying "<operation> <peer>".
[[noreturn]] void throw_socket_error(int error, std::string_view operation,
                                     const std::string& peer);

}  // namespace tandem::detail
