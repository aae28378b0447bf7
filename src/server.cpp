// tandem/streams.hpp: servers (asyncio's Server): listening sockets that
// accept connections and run a handler task for each.
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <memory>
#include <new>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "loop_state.hpp"
#include "resolver.hpp"
#include "tandem/streams.hpp"
#include "tandem/sync.hpp"
#include "task_switch.hpp"
#include "transport.hpp"

namespace tandem {
namespace detail {

// How long a server stops accepting when accept() runs out of file
// descriptors or memory (asyncio waits 1 s; a tenth keeps latency low
// once descriptors are free again, at ten wake-ups a second meanwhile).
constexpr auto accept_retry_delay = std::chrono::milliseconds(100);
// Connections taken per readiness event of a listening socket: the rest
// wait for the next iteration, so that a flood of connections cannot
// starve the loop's other work.
constexpr int accepts_per_event = 128;

struct server_state final : loop_socket, std::enable_shared_from_this<server_state> {
  // A listening socket, registered level-triggered for as long as it
  // listens (paused: registered for nothing).
  struct listener final : io_source {
    listener(server_state& s, int f) noexcept : owner(&s), fd(f) {}
    void on_events(std::uint32_t) override { owner->accept_from(*this); }
    server_state* owner;
    int fd;
  };

  server_state(event_loop& l, std::function<void(stream)> h, std::size_t lim)
      : loop(&l), handler(std::move(h)), limit(lim) {}
  ~server_state() override { close_listeners(); }

  void listen_on(int fd);  // takes fd: a bound socket
  void start();
  void close() noexcept;
  void close_with_loop() noexcept override {
    closed_by_loop = true;
    close();
  }
  void accept_from(listener& l);
  void set_accepting(bool on) noexcept;
  void handler_finished() noexcept;
  void close_listeners() noexcept;

  event_loop* loop;
  std::function<void(stream)> handler;
  std::size_t limit;
  std::vector<std::unique_ptr<listener>> listeners;
  socket_address unix_address;  // a Unix server's socket: what its unnamed clients are named after
  std::string unix_path;        // unlinked on close() if still this server's socket
  dev_t unix_device = 0;
  ino_t unix_inode = 0;
  std::uint16_t port = 0;
  bool serving = false;
  bool closed_by_loop = false;
  std::size_t running_handlers = 0;
  wait_list closed_waiters;
  timer_handle retry;
};

namespace {

// A handler task's function: runs the handler on its connection, and tells
// the server when it is gone (finished, or never started), so that
// wait_closed can count the handlers.
class handler_call {
 public:
  handler_call(std::shared_ptr<server_state> s, stream connection) noexcept
      : server_(std::move(s)), connection_(std::move(connection)) {}
  handler_call(handler_call&&) noexcept = default;
  handler_call& operator=(handler_call&&) = delete;
  ~handler_call() {
    if (server_) server_->handler_finished();
  }
  void operator()() { server_->handler(std::move(connection_)); }

 private:
  std::shared_ptr<server_state> server_;
  stream connection_;
};

bool is_out_of_resources(int error) {
  return error == EMFILE || error == ENFILE || error == ENOBUFS || error == ENOMEM;
}

}  // namespace

void server_state::listen_on(int fd) {
  try {
    listeners.push_back(std::make_unique<listener>(*this, fd));
  } catch (...) {
    ::close(fd);
    throw;
  }
}

void server_state::start() {
  auto& state = loop_access::of(*loop);
  for (auto& l : listeners) state.io.add_source(l->fd, EPOLLIN, l.get());
  serving = true;
  state.sockets.add(shared_from_this());
}

void server_state::accept_from(listener& l) {
  for (int i = 0; i < accepts_per_event && serving; ++i) {
    socket_address peer;
    peer.length = sizeof peer.storage;
    const int fd = ::accept4(l.fd, peer.get(), &peer.length, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) return;
      if (is_out_of_resources(errno)) {
        // The connection stays in the backlog; level-triggered epoll would
        // report it again at once. Stop listening for a while instead.
        // Without memory for the timer that would turn listening back on,
        // keep listening: the next poll tries again, where stopping would
        // have stopped the server for good and the bad_alloc, thrown out
        // of the poll, would have lost that poll's other events.
        std::weak_ptr<server_state> weak = weak_from_this();
        try {
          retry = loop->call_later(accept_retry_delay, [weak] {
            if (auto s = weak.lock(); s && s->serving) s->set_accepting(true);
          });
        } catch (const std::bad_alloc&) {
          return;
        }
        set_accepting(false);
        return;
      }
      continue;  // ECONNABORTED, EPROTO, EPERM...: that connection only
    }
    if (peer.family() != AF_UNIX) set_no_delay(fd);
    // A Unix client that bound no name (the usual case) is named as a
    // client of this server's socket: the one name its errors can give.
    const bool client_of = peer.unnamed_unix() && unix_address.length != 0;
    try {
      stream connection(
          transport::open(*loop, fd, client_of ? unix_address : peer, limit, client_of));
      ++running_handlers;  // handler_call's destructor counts it off, however this ends
      loop->create_task(handler_call(shared_from_this(), std::move(connection)));
    } catch (const std::exception&) {
      // No memory or epoll refused the socket: that connection is closed.
    }
  }
}

void server_state::set_accepting(bool on) noexcept {
  auto& io = loop_access::of(*loop).io;
  for (auto& l : listeners) {
    try {
      io.modify_source(l->fd, on ? std::uint32_t{EPOLLIN} : 0u, l.get());
    } catch (const std::system_error&) {
      // Cannot happen for a registered socket; it would only stay as it was.
    }
  }
}

void server_state::handler_finished() noexcept {
  --running_handlers;
  if (!serving && running_handlers == 0) closed_waiters.wake_all();
}

void server_state::close_listeners() noexcept {
  for (auto& l : listeners) {
    loop_access::of(*loop).io.remove_source(l->fd);
    ::close(l->fd);
  }
  listeners.clear();
  if (!unix_path.empty()) {
    struct stat st {};
    if (::stat(unix_path.c_str(), &st) == 0 && st.st_dev == unix_device && st.st_ino == unix_inode)
      ::unlink(unix_path.c_str());
    unix_path.clear();
  }
}

void server_state::close() noexcept {
  if (!serving) {
    close_listeners();  // a server that never started (it failed to bind)
    return;
  }
  serving = false;
  if (!closed_by_loop) {
    try {
      retry.cancel();
    } catch (const std::logic_error&) {  // no retry was scheduled
    }
  }
  close_listeners();
  closed_waiters.wake_all();
  loop_access::of(*loop).sockets.remove(*this);  // last: may destroy this
}

}  // namespace detail

// ---- server ----------------------------------------------------------------------

server::server() noexcept = default;
server::server(std::shared_ptr<detail::server_state> state) noexcept : state_(std::move(state)) {}
server::server(server&& other) noexcept = default;
server& server::operator=(server&& other) noexcept {
  if (this != &other) {
    close();
    state_ = std::move(other.state_);
  }
  return *this;
}
server::~server() { close(); }

std::uint16_t server::port() const {
  if (!state_ || state_->closed_by_loop)
    throw std::logic_error("tandem::server::port: the server is closed with its loop, or empty");
  return state_->port;
}

void server::close() {
  if (state_) state_->close();
}

bool server::is_serving() const noexcept { return state_ && state_->serving; }

void server::wait_closed() {
  if (!state_ || state_->closed_by_loop)
    throw std::logic_error(
        "tandem::server::wait_closed: the server is closed with its loop, or empty");
  auto keep = state_;  // a handler might move the server handle away
  while (keep->serving || keep->running_handlers > 0) keep->closed_waiters.wait();
}

// ---- starting ----------------------------------------------------------------------

namespace {

void check_handler(const std::function<void(stream)>& handler, const char* operation) {
  if (!handler) throw std::invalid_argument(std::string(operation) + ": the handler is empty");
}

void set_port(detail::socket_address& address, std::uint16_t port) {
  if (address.family() == AF_INET)
    reinterpret_cast<sockaddr_in*>(&address.storage)->sin_port = htons(port);
  else if (address.family() == AF_INET6)
    reinterpret_cast<sockaddr_in6*>(&address.storage)->sin6_port = htons(port);
}

std::uint16_t bound_port(int fd) {
  detail::socket_address address;
  address.length = sizeof address.storage;
  if (::getsockname(fd, address.get(), &address.length) != 0) return 0;
  if (address.family() == AF_INET)
    return ntohs(reinterpret_cast<sockaddr_in*>(&address.storage)->sin_port);
  if (address.family() == AF_INET6)
    return ntohs(reinterpret_cast<sockaddr_in6*>(&address.storage)->sin6_port);
  return 0;
}

// A bound, listening socket, or std::system_error naming the address.
// EAFNOSUPPORT (no IPv6 here): -1, that address is skipped, as asyncio does.
int listening_socket(const detail::socket_address& address, const char* operation) {
  const int fd = ::socket(address.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0 && errno == EAFNOSUPPORT && address.family() == AF_INET6) return -1;
  const std::string what = std::string(operation) + ": listening on";
  if (fd < 0) detail::throw_socket_error(errno, what, address.describe());
  const int on = 1;
  if (address.family() != AF_UNIX) ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
  // Both families may bind the same port: each socket takes its own.
  if (address.family() == AF_INET6) ::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof on);
  if (::bind(fd, address.get(), address.length) != 0 || ::listen(fd, SOMAXCONN) != 0) {
    const int error = errno;
    ::close(fd);
    detail::throw_socket_error(error, what, address.describe());
  }
  return fd;
}

}  // namespace

server start_server(std::function<void(stream)> handler, std::string_view host, std::uint16_t port,
                    std::size_t limit) {
  constexpr const char* operation = "tandem::start_server";
  check_handler(handler, operation);
  event_loop& loop = detail::running().loop();
  auto addresses = detail::resolve(host, port, true, operation);
  auto state = std::make_shared<detail::server_state>(loop, std::move(handler), limit);
  // Port 0: the kernel picks one for the first address; the others take
  // the same, so that the server has one port.
  std::uint16_t chosen = port;
  for (auto& address : addresses) {
    if (chosen != 0) set_port(address, chosen);
    const int fd = listening_socket(address, operation);
    if (fd < 0) continue;
    state->listen_on(fd);
    if (chosen == 0) chosen = bound_port(fd);
  }
  if (state->listeners.empty())
    detail::throw_socket_error(EAFNOSUPPORT, std::string(operation) + ": listening on",
                               std::string(host));
  state->port = chosen;
  state->start();
  return server(std::move(state));
}

server start_unix_server(std::function<void(stream)> handler, std::string_view path,
                         std::size_t limit) {
  constexpr const char* operation = "tandem::start_unix_server";
  check_handler(handler, operation);
  event_loop& loop = detail::running().loop();
  const auto address = detail::unix_address(path, operation);
  const std::string file(path);
  const bool in_filesystem = file.front() != '\0';  // else an abstract name: no file
  // A socket file left by a server that is gone: remove it. Any other
  // kind of file stays, and bind reports EADDRINUSE.
  struct stat st {};
  if (in_filesystem && ::stat(file.c_str(), &st) == 0 && S_ISSOCK(st.st_mode))
    ::unlink(file.c_str());
  auto state = std::make_shared<detail::server_state>(loop, std::move(handler), limit);
  state->unix_address = address;
  state->listen_on(listening_socket(address, operation));
  if (in_filesystem && ::stat(file.c_str(), &st) == 0) {
    state->unix_path = file;
    state->unix_device = st.st_dev;
    state->unix_inode = st.st_ino;
  }
  state->start();
  return server(std::move(state));
}

}  // namespace tandem
