// What the stream and server tests share: a connected pair of streams over
// loopback TCP, and a free port that nothing listens on.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <system_error>
#include <utility>

#include "tandem/streams.hpp"
#include "tandem/sync.hpp"

namespace stream_testing {

// Both ends of one connection, and the server that accepted it. Inside a
// task.
struct stream_pair {
  tandem::server listener;
  tandem::stream client;
  tandem::stream served;  // the server's end
};

inline stream_pair connect_pair(std::size_t limit = tandem::default_stream_limit) {
  auto accepted = std::make_shared<tandem::queue<tandem::stream>>();
  stream_pair pair;
  pair.listener = tandem::start_server(
      [accepted](tandem::stream s) { accepted->put(std::move(s)); }, "127.0.0.1", 0, limit);
  pair.client = tandem::open_connection("127.0.0.1", pair.listener.port(), limit);
  pair.served = accepted->get();
  return pair;
}

// A loopback port with no listener: bound (so that nothing else takes it
// meanwhile) but not listening, so connecting to it is refused.
class refusing_port {
 public:
  refusing_port() : fd_(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) {
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof address;
    if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &length) != 0)
      throw std::system_error(errno, std::generic_category(), "refusing_port");
    port_ = ntohs(address.sin_port);
  }
  refusing_port(const refusing_port&) = delete;
  refusing_port& operator=(const refusing_port&) = delete;
  ~refusing_port() { ::close(fd_); }
  std::uint16_t port() const { return port_; }

 private:
  int fd_;
  std::uint16_t port_ = 0;
};

}  // namespace stream_testing
