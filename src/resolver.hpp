// Names to socket addresses for open_connection and start_server:
// getaddrinfo, on the loop's worker threads unless the host is a literal.
#pragma once

#include <netdb.h>

#include <cstdint>
#include <string_view>
#include <vector>

#include "socket_address.hpp"

namespace tandem::detail {

// Every address of host (TCP), each once, in getaddrinfo's order. passive: for
// binding, where "" means every interface. Suspends while a name is looked
// up; a name that does not resolve: std::system_error in
// resolver_category(), saying `operation` and the host.
std::vector<socket_address> resolve(std::string_view host, std::uint16_t port, bool passive,
                                    const char* operation);

// The addresses of a getaddrinfo list, each once, in its order.
std::vector<socket_address> addresses_of(const addrinfo* list);

// A Unix socket's address; a path that is empty, too long, or (not an
// abstract name) has a '\0' inside: std::invalid_argument saying `operation`.
socket_address unix_address(std::string_view path, const char* operation);

}  // namespace tandem::detail
