// tandem/streams.hpp: the stream handle, its errors, and connecting.
#include "tandem/streams.hpp"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <optional>
#include <utility>

#include "loop_state.hpp"
#include "resolver.hpp"
#include "task_switch.hpp"
#include "transport.hpp"

namespace tandem {

// ---- errors ------------------------------------------------------------------

incomplete_read_error::incomplete_read_error(std::string partial,
                                             std::optional<std::size_t> expected)
    : std::runtime_error(
          expected ? std::to_string(partial.size()) + " bytes read of " +
                         std::to_string(*expected) + " expected before the end of the stream"
                   : std::to_string(partial.size()) +
                         " bytes read before the end of the stream, without the separator"),
      partial_(std::move(partial)),
      expected_(expected) {}

limit_overrun_error::limit_overrun_error(const std::string& what, std::size_t consumed)
    : std::runtime_error(what), consumed_(consumed) {}

// ---- stream ----------------------------------------------------------------------

stream::stream() noexcept = default;
stream::stream(std::shared_ptr<detail::transport> t) noexcept : transport_(std::move(t)) {}
stream::stream(stream&& other) noexcept = default;
stream& stream::operator=(stream&& other) noexcept {
  if (this != &other) {
    close();
    transport_ = std::move(other.transport_);
  }
  return *this;
}
stream::~stream() { close(); }

// Inline, the throw kept out of line: a stream's every operation starts
// here, and the echo of one message takes three of them.
inline detail::transport& stream::open_transport(const char* operation) const {
  if (!transport_) [[unlikely]]  // a closed transport's own checks say so
    detail::transport::throw_misuse(operation, "the stream is closed");
  return *transport_;
}

std::string stream::read(std::size_t n) { return open_transport("read").read(n); }
std::size_t stream::read_into(std::span<char> buffer) {
  return open_transport("read_into").read_into(buffer.data(), buffer.size());
}
std::string stream::read_all() { return open_transport("read_all").read_all(); }
std::string stream::readexactly(std::size_t n) {
  return open_transport("readexactly").readexactly(n);
}
std::string stream::readline() { return open_transport("readline").readline(); }
std::string stream::readuntil(std::string_view separator) {
  return open_transport("readuntil").readuntil(separator);
}
void stream::write(std::string_view data) { open_transport("write").write(data); }
void stream::drain() { open_transport("drain").drain(); }
void stream::write_eof() { open_transport("write_eof").write_eof(); }
void stream::close() {
  if (transport_) transport_->close();
}
bool stream::at_eof() const { return !transport_ || transport_->at_eof(); }
int stream::native_handle() const { return transport_ ? transport_->fd() : -1; }
std::size_t stream::write_buffer_size() const noexcept {
  return transport_ ? transport_->write_buffer_size() : 0;
}

// ---- connecting ------------------------------------------------------------------

namespace {

// One attempt: a stream connected to `address`, or std::system_error.
stream connect_to(event_loop& loop, const detail::socket_address& address, std::size_t limit,
                  const char* operation) {
  const int fd = ::socket(address.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  const std::string what = std::string(operation) + ": connecting to";
  if (fd < 0) detail::throw_socket_error(errno, what, address.describe());
  if (address.family() != AF_UNIX) detail::set_no_delay(fd);
  int rc;
  do {
    rc = ::connect(fd, address.get(), address.length);
  } while (rc != 0 && errno == EINTR);
  // TCP connects in the background. A Unix socket connects at once or not
  // at all (EAGAIN: the server's backlog is full).
  if (rc != 0 && !(errno == EINPROGRESS && address.family() != AF_UNIX)) {
    const int error = errno;
    ::close(fd);
    detail::throw_socket_error(error, what, address.describe());
  }
  // Registered only now: an unconnected socket reports itself writable.
  auto t = detail::transport::open(loop, fd, address, limit);
  stream connection(t);  // closes the socket however this ends
  if (rc != 0) {
    if (const int error = t->wait_connected(); error != 0)
      detail::throw_socket_error(error, what, address.describe());
  }
  return connection;
}

event_loop& loop_of_running_task() { return detail::running().loop(); }

}  // namespace

stream open_connection(std::string_view host, std::uint16_t port, std::size_t limit) {
  event_loop& loop = loop_of_running_task();
  const auto addresses = detail::resolve(host, port, false, "tandem::open_connection");
  std::optional<std::system_error> first_failure;
  for (const auto& address : addresses) {
    try {
      return connect_to(loop, address, limit, "tandem::open_connection");
    } catch (const std::system_error& e) {
      if (!first_failure) first_failure = e;
    }
  }
  throw *first_failure;
}

stream open_unix_connection(std::string_view path, std::size_t limit) {
  event_loop& loop = loop_of_running_task();
  return connect_to(loop, detail::unix_address(path, "tandem::open_unix_connection"), limit,
                    "tandem::open_unix_connection");
}

}  // namespace tandem
