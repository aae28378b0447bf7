// A stream's socket: see transport.hpp.
#include "transport.hpp"

#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>
#include <utility>

#include "loop_state.hpp"
#include "string_receive.hpp"
#include "tandem/streams.hpp"
#include "task_switch.hpp"

namespace tandem::detail {
namespace {
// Both directions, edge-triggered; EPOLLRDHUP tells a short read that the
// end of stream is already there (it comes with no new edge).
constexpr std::uint32_t stream_events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
constexpr std::uint32_t hang_up_events = EPOLLRDHUP | EPOLLHUP | EPOLLERR;
}  // namespace

std::shared_ptr<transport> transport::open(event_loop& loop, int fd, const socket_address& peer,
                                           std::size_t limit, bool client_of) {
  std::shared_ptr<transport> t;
  try {
    t = std::make_shared<transport>(loop, fd, peer, limit, client_of);
  } catch (...) {
    ::close(fd);
    throw;
  }
  auto& state = loop_access::of(loop);
  try {
    state.io.add_source(fd, stream_events, t.get());
  } catch (...) {
    ::close(fd);
    t->fd_ = -1;
    t->closed_ = true;
    throw;
  }
  state.sockets.add(t);
  return t;
}

transport::transport(event_loop& loop, int fd, const socket_address& peer, std::size_t limit,
                     bool client_of) noexcept
    : loop_(&loop), fd_(fd), peer_(peer), limit_(limit), client_of_(client_of) {}

// ---- waiting ---------------------------------------------------------------

// Suspends the current task in `slot` until an event (or close()) wakes it.
// Whatever ends the wait (a wake-up, a cancellation) empties the slot.
// Inline, as the switch in it is: its callers' frames then hold what lives
// across the switch, with no call of its own to set up and return from.
[[gnu::always_inline]] inline void transport::wait_in(waiter_slot& slot) {
  task_core& me = running();
  suspension s;
  s.undo = slot;  // empties it
  slot.task = &me;
  task_core::suspend_running(me, s);  // `slot` may alias running_task: no second look-up
}

// The slot holds a task only while it waits there (see wait_in): no stale
// wake-up can reach a later wait.
inline void transport::wake(waiter_slot& slot) noexcept {
  if (slot.task != nullptr) slot.task->schedule_step();
}

// A read event, or a hang-up or error (which the next receive reports):
// the socket may have bytes, and the reader, if one waits, is woken. Both
// paths below take it; inline, so that the fast one still needs no frame.
[[gnu::always_inline]] inline void transport::take_read_events(std::uint32_t events) noexcept {
  if ((events & (EPOLLIN | hang_up_events)) != 0) {
    readable_ = true;
    if ((events & hang_up_events) != 0) hung_up_ = true;
    wake(reader_);
  }
}

// Every event of a busy connection comes here, and almost always finds the
// socket readable, and writable with nothing to send and no task draining:
// then waking the reader is all there is, and the last thing done, so
// that this needs no frame. Anything more takes the full path.
void transport::on_events(std::uint32_t events) {
  const bool writable_event = (events & (EPOLLOUT | EPOLLHUP | EPOLLERR)) != 0;
  if (closing_ || (writable_event && (unsent() > 0 || drainer_.task != nullptr))) [[unlikely]]
    return on_events_in_full(events);
  if (writable_event) writable_ = true;
  take_read_events(events);
}

void transport::on_events_in_full(std::uint32_t events) {
  take_read_events(events);
  if ((events & (EPOLLOUT | EPOLLHUP | EPOLLERR)) != 0) {
    writable_ = true;
    if (unsent() > 0) flush();
    if (unsent() <= low_water || write_error_ != 0) wake(drainer_);
  }
  if (closing_ && (unsent() == 0 || write_error_ != 0)) {
    closing_ = false;
    release_fd();
    loop_access::of(*loop_).sockets.remove(*this);  // last: may destroy this
  }
}

// ---- checks ----------------------------------------------------------------

void transport::throw_misuse(const char* operation, const char* why) {
  throw std::logic_error(std::string("tandem::stream::") + operation + ": " + why);
}

void transport::throw_error(int error, const char* operation) const {
  throw_socket_error(error, std::string("tandem::stream::") + operation + ", peer", peer());
}

// ---- reading ---------------------------------------------------------------

void transport::consume(std::size_t n) noexcept {
  rpos_ += n;
  if (rpos_ == rbuf_.size()) {
    rbuf_.clear();
    rpos_ = 0;
  }
}

std::string transport::take(std::size_t n) {
  std::string out(rbuf_, rpos_, n);
  consume(out.size());
  return out;
}

inline bool transport::wait_readable(const char* operation) {
  if (read_error_ != 0) throw_error(read_error_, operation);
  if (eof_) return false;
  // Only a receive sets read_error_ and eof_, and while this task waits
  // here no other can receive (it would find reader_ set): they need no
  // second look after a wait.
  while (!readable_) {
    wait_in(reader_);
    check_open(operation);  // closed by another task meanwhile
  }
  return true;
}

inline bool transport::received(ssize_t n, std::size_t requested) noexcept {
  if (n > 0) {
    // A short read emptied the socket: more data will come as a new edge.
    // Not so the end of stream, when it came with this data.
    if (static_cast<std::size_t>(n) < requested && !hung_up_) readable_ = false;
    last_receive_ = static_cast<std::size_t>(n);
    return true;
  }
  if (n == 0) {
    eof_ = true;
  } else if (n == -EAGAIN || n == -EWOULDBLOCK) {
    readable_ = false;
  } else if (n != -EINTR) {
    read_error_ = static_cast<int>(-n);
  }
  return false;
}

inline std::size_t transport::receive_into(const char* operation, char* data, std::size_t size) {
  while (wait_readable(operation)) {
    ssize_t n = ::recv(fd_, data, size, 0);
    if (n < 0) n = -errno;
    if (received(n, size)) return static_cast<std::size_t>(n);
  }
  return 0;
}

bool transport::receive_fresh(const char* operation, std::string_view& fresh) {
  char* const scratch = loop_access::of(*loop_).sockets.scratch();
  const std::size_t n = receive_into(operation, scratch, loop_sockets::scratch_size);
  fresh = std::string_view(scratch, n);
  return n > 0;
}

std::string transport::receive_string(std::size_t n) {
  // At most twice the last receive: a string holds at most twice the
  // memory its bytes need while messages keep their size.
  const std::size_t capacity = std::min({n, loop_sockets::scratch_size, 2 * last_receive_});
  std::string out;
  while (wait_readable("read")) {
    if (received(receive_into_string(fd_, capacity, out), capacity)) {
      if (out.size() < capacity / 4) out.shrink_to_fit();  // the messages shrank
      return out;
    }
  }
  return {};
}

bool transport::receive(const char* operation) {
  std::string_view fresh;
  if (!receive_fresh(operation, fresh)) return false;
  if (rpos_ > 0 && rpos_ >= rbuf_.size() / 2) {  // keep the buffer compact
    rbuf_.erase(0, rpos_);
    rpos_ = 0;
  }
  rbuf_.append(fresh);
  return true;
}

std::string transport::read(std::size_t n) {
  check_can_read_bytes("read");
  if (n == 0) return {};
  if (buffered() > 0) return take(std::min(n, buffered()));
  // Large messages are received straight into the string returned, small
  // ones into the loop's buffer first (a string of the right size costs
  // less than one of the largest size).
  if (last_receive_ >= direct_receive_min) return receive_string(n);
  std::string_view fresh;
  if (!receive_fresh("read", fresh)) return {};
  std::string out(fresh.substr(0, n));  // straight from the receive buffer
  if (fresh.size() > n) rbuf_.append(fresh.substr(n));
  return out;
}

std::size_t transport::read_into(char* data, std::size_t size) {
  check_can_read_bytes("read_into");
  if (size == 0) return 0;
  if (buffered() > 0) {  // what an earlier read took beyond what it returned
    const std::size_t n = std::min(size, buffered());
    std::memcpy(data, rbuf_.data() + rpos_, n);
    consume(n);
    return n;
  }
  return receive_into("read_into", data, size);  // straight into the caller's buffer
}

std::string transport::read_all() {
  check_can_read_bytes("read_all");
  while (receive("read_all")) {
  }
  return take(buffered());
}

std::string transport::readexactly(std::size_t n) {
  check_can_read_bytes("readexactly");
  while (buffered() < n) {
    if (!receive("readexactly")) throw incomplete_read_error(take(buffered()), n);
  }
  return take(n);
}

std::string transport::readuntil(std::string_view separator) {
  check_can_read_bytes("readuntil");
  if (separator.empty())
    throw std::invalid_argument("tandem::stream::readuntil: the separator is empty");
  return until(separator, "readuntil", false);
}

std::string transport::readline() {
  check_can_read("readline");
  if (discarding_ > 0) {  // a cancelled readline was discarding an overlong line
    const std::size_t at = std::string_view(rbuf_.data() + rpos_, buffered()).find('\n');
    if (at == std::string_view::npos) discard_line_and_throw("readline");
    discarding_ += at + 1;
    consume(at + 1);
    throw limit_overrun_error(
        "tandem::stream::readline: a line longer than the limit was discarded",
        std::exchange(discarding_, 0));
  }
  return until("\n", "readline", true);
}

// Reads through the separator. `searched`: how much of the buffer is known
// to hold no start of a separator, so that each byte is scanned once.
std::string transport::until(std::string_view separator, const char* operation, bool line) {
  std::size_t searched = 0;
  for (;;) {
    const std::string_view data(rbuf_.data() + rpos_, buffered());
    const std::size_t at = data.find(separator, searched);
    if (at != std::string_view::npos) {
      const std::size_t through = at + separator.size();
      if (at <= limit_) return take(through);
      if (line) {
        take(through);
        throw limit_overrun_error(
            "tandem::stream::readline: a line longer than the limit was discarded", through);
      }
      throw limit_overrun_error(
          "tandem::stream::readuntil: the separator was found, but past the limit", through);
    }
    if (data.size() + 1 > separator.size()) searched = data.size() + 1 - separator.size();
    if (searched > limit_) {
      if (line) discard_line_and_throw(operation);
      throw limit_overrun_error(
          "tandem::stream::readuntil: the separator was not found within the limit", searched);
    }
    if (!receive(operation)) {
      if (line) return take(buffered());  // the partial last line; "" at the end
      throw incomplete_read_error(take(buffered()), std::nullopt);
    }
  }
}

// readline past the limit: drops the line through its '\n' (reading on
// for it, a buffer at a time, so memory stays bounded), then throws.
void transport::discard_line_and_throw(const char* operation) {
  // A cancellation while reading on leaves the stream inside the line: the
  // next readline goes on discarding it (discarding_ counts what went).
  discarding_ += buffered();
  rbuf_.clear();
  rpos_ = 0;
  std::string_view fresh;
  while (receive_fresh(operation, fresh)) {
    const std::size_t at = fresh.find('\n');
    if (at != std::string_view::npos) {
      discarding_ += at + 1;
      rbuf_.append(fresh.substr(at + 1));
      break;
    }
    discarding_ += fresh.size();
  }
  const std::size_t discarded = std::exchange(discarding_, 0);
  throw limit_overrun_error("tandem::stream::readline: a line longer than the limit was discarded",
                            discarded);
}

// ---- writing ---------------------------------------------------------------

void transport::write(std::string_view data) {
  check_can_write("write");
  if (eof_written_) throw_misuse("write", "the sending side was shut down (write_eof)");
  if (write_error_ != 0) throw_error(write_error_, "write");
  if (data.empty()) return;
  if (unsent() > 0 || !writable_) return buffer_unsent(data);  // behind the rest, or for EPOLLOUT
  const ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
  if (n >= 0 && static_cast<std::size_t>(n) == data.size()) return;  // all taken: the common case
  send_rest(data, n);
}

void transport::send_rest(std::string_view data, ssize_t sent) {
  for (;; sent = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL)) {
    if (sent >= 0) {
      if (static_cast<std::size_t>(sent) == data.size()) return;
      data.remove_prefix(static_cast<std::size_t>(sent));
      writable_ = false;  // the socket's buffer is full: EPOLLOUT comes as an edge
      break;
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      writable_ = false;
      break;
    }
    if (errno != EINTR) {
      write_error_ = errno;
      throw_error(write_error_, "write");
    }
  }
  buffer_unsent(data);
}

void transport::buffer_unsent(std::string_view data) {
  if (wpos_ > 0 && wpos_ >= wbuf_.size() / 2) {  // drop what was sent: the buffer stays bounded
    wbuf_.erase(0, wpos_);
    wpos_ = 0;
  }
  wbuf_.append(data);
}

void transport::flush() noexcept {
  while (unsent() > 0) {
    const ssize_t n = ::send(fd_, wbuf_.data() + wpos_, unsent(), MSG_NOSIGNAL);
    if (n > 0) {
      wpos_ += static_cast<std::size_t>(n);
      if (unsent() > 0) {
        writable_ = false;  // short: the socket's buffer is full
        break;
      }
    } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      writable_ = false;
      break;
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else {
      write_error_ = n < 0 ? errno : EPIPE;
      wpos_ = wbuf_.size();  // what cannot be sent is dropped; the error says so
    }
  }
  if (unsent() > 0) return;
  // All sent: let go of a large buffer, and shut down if write_eof asked.
  if (wbuf_.capacity() > high_water) {
    std::string().swap(wbuf_);
  } else {
    wbuf_.clear();
  }
  wpos_ = 0;
  if (eof_written_ && write_error_ == 0) shut_down_sending();
}

void transport::wait_drained() {
  if (write_error_ != 0) throw_error(write_error_, "drain");
  while (unsent() > low_water && write_error_ == 0) {
    wait_in(drainer_);
    check_open("drain");
  }
  if (write_error_ != 0) throw_error(write_error_, "drain");
}

void transport::write_eof() {
  check_can_write("write_eof");
  if (write_error_ != 0) throw_error(write_error_, "write_eof");
  if (eof_written_) return;
  eof_written_ = true;
  if (unsent() == 0) shut_down_sending();
}

void transport::shut_down_sending() noexcept {
  ::shutdown(fd_, SHUT_WR);  // ENOTCONN after a reset: nothing left to shut
}

int transport::wait_connected() {
  writable_ = false;  // set by the event of the connect's end
  while (!writable_) {
    wait_in(drainer_);
    check_open("open_connection");
  }
  int error = 0;
  socklen_t length = sizeof error;
  if (::getsockopt(fd_, SOL_SOCKET, SO_ERROR, &error, &length) != 0) error = errno;
  return error;
}

// ---- closing ---------------------------------------------------------------

void transport::release_fd() noexcept {
  if (fd_ < 0) return;
  loop_access::of(*loop_).io.remove_source(fd_);
  ::close(fd_);
  fd_ = -1;
}

void transport::close() noexcept {
  if (closed_) return;
  closed_ = true;
  wake(reader_);  // a task waiting in another operation finds it closed
  wake(drainer_);
  std::string().swap(rbuf_);
  rpos_ = 0;
  if (fd_ < 0) return;
  if (unsent() > 0 && write_error_ == 0) {
    closing_ = true;  // on_events sends the rest, then closes
    return;
  }
  release_fd();
  loop_access::of(*loop_).sockets.remove(*this);
}

// The loop closes: what the socket takes now is sent, the rest is dropped.
void transport::close_with_loop() noexcept {
  closed_ = true;
  closing_ = false;
  if (fd_ >= 0 && unsent() > 0 && write_error_ == 0) flush();
  release_fd();
  std::string().swap(rbuf_);
  std::string().swap(wbuf_);
  rpos_ = wpos_ = 0;
}

}  // namespace tandem::detail
