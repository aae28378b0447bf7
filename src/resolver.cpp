// Name resolution: see resolver.hpp.
#include "resolver.hpp"

#include <netdb.h>
#include <sys/un.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>
#include <system_error>

#include "tandem/streams.hpp"
#include "tandem/threads.hpp"

namespace tandem {
namespace {
class resolver_error_category final : public std::error_category {
 public:
  const char* name() const noexcept override { return "getaddrinfo"; }
  std::string message(int code) const override { return ::gai_strerror(code); }
};
}  // namespace

const std::error_category& resolver_category() noexcept {
  static const resolver_error_category category;
  return category;
}

namespace detail {
namespace {
struct addrinfo_deleter {
  void operator()(addrinfo* list) const noexcept { ::freeaddrinfo(list); }
};
using addrinfo_list = std::unique_ptr<addrinfo, addrinfo_deleter>;

struct lookup {
  int status = 0;
  int error = 0;  // errno, for EAI_SYSTEM
  addrinfo_list list;
};

lookup look_up(const std::string& host, std::uint16_t port, int flags) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_protocol = IPPROTO_TCP;
  hints.ai_flags = flags | AI_NUMERICSERV;
  const std::string service = std::to_string(port);
  addrinfo* list = nullptr;
  lookup result;
  result.status =
      ::getaddrinfo(host.empty() ? nullptr : host.c_str(), service.c_str(), &hints, &list);
  result.error = errno;
  result.list.reset(list);
  return result;
}
}  // namespace

std::vector<socket_address> resolve(std::string_view host_view, std::uint16_t port, bool passive,
                                    const char* operation) {
  const std::string host(host_view);
  if (host.empty() && !passive)
    throw std::invalid_argument(std::string(operation) + ": the host is empty");
  const int flags = passive ? AI_PASSIVE : 0;
  // A literal address (or every interface) needs no look-up: the loop's
  // thread does it. A name goes to a worker: getaddrinfo blocks. The worker
  // gets copies: a cancelled task does not wait for it.
  lookup found = look_up(host, port, flags | AI_NUMERICHOST);
  if (found.status == EAI_NONAME && !host.empty())
    found = to_thread([host, port, flags] { return look_up(host, port, flags); });
  if (found.status == EAI_SYSTEM)
    throw std::system_error(found.error, std::system_category(),
                            std::string(operation) + ": resolving \"" + host + "\"");
  if (found.status != 0)
    throw std::system_error(found.status, resolver_category(),
                            std::string(operation) + ": resolving \"" + host + "\"");
  std::vector<socket_address> addresses = addresses_of(found.list.get());
  if (addresses.empty())
    throw std::system_error(EAI_NONAME, resolver_category(),
                            std::string(operation) + ": resolving \"" + host + "\"");
  return addresses;
}

std::vector<socket_address> addresses_of(const addrinfo* list) {
  std::vector<socket_address> addresses;
  for (const addrinfo* a = list; a != nullptr; a = a->ai_next) {
    if (a->ai_addrlen > sizeof(sockaddr_storage)) continue;
    socket_address address;
    std::memcpy(&address.storage, a->ai_addr, a->ai_addrlen);
    address.length = a->ai_addrlen;
    // getaddrinfo lists an address as often as the name has it (a name on
    // two lines of /etc/hosts): once is enough, and a server's second bind
    // of it would fail with EADDRINUSE (asyncio keeps each once too).
    if (std::find(addresses.begin(), addresses.end(), address) == addresses.end())
      addresses.push_back(address);
  }
  return addresses;
}

namespace {
// A path as the messages quote it: a '\0' written "\0", not cutting what().
std::string quoted(std::string_view path) {
  std::string out("\"");
  for (const char c : path) {
    if (c == '\0') {
      out += "\\0";
    } else {
      out += c;
    }
  }
  return out + '"';
}
}  // namespace

socket_address unix_address(std::string_view path, const char* operation) {
  socket_address address;
  auto* un = reinterpret_cast<sockaddr_un*>(&address.storage);
  if (path.empty()) throw std::invalid_argument(std::string(operation) + ": the path is empty");
  // A name in Linux's abstract namespace starts with '\0' and is all of
  // its bytes, with no '\0' after them (as Python and socat address it); a
  // path is a C string, its '\0' inside sun_path.
  const bool abstract = path.front() == '\0';
  // The kernel, stat and unlink would all cut a path at a '\0' inside it,
  // and reach another file without a word (a server would unlink and take
  // over another server's socket there).
  if (!abstract) {
    if (const auto at = path.find('\0'); at != std::string_view::npos)
      throw std::invalid_argument(std::string(operation) + ": the path " + quoted(path) +
                                  " has a '\\0' at byte " + std::to_string(at) +
                                  " (only a name in the abstract namespace, which starts with "
                                  "'\\0', may hold one)");
  }
  const std::size_t room = abstract ? sizeof un->sun_path : sizeof un->sun_path - 1;
  if (path.size() > room)
    throw std::invalid_argument(std::string(operation) + ": the path " + quoted(path) +
                                " is longer than a Unix socket's " + std::to_string(room) +
                                " bytes");
  un->sun_family = AF_UNIX;
  std::memcpy(un->sun_path, path.data(), path.size());
  address.length =
      static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size() + (abstract ? 0 : 1));
  return address;
}

}  // namespace detail
}  // namespace tandem
