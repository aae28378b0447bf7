// A connected socket under a tandem::stream (asyncio's transport and
// StreamReader together): its buffers, its readiness, the tasks that wait
// on it, and the sending that goes on in the background.
//
// The socket is registered with epoll once, edge-triggered, for both
// directions: an event only marks a direction ready and wakes its waiter
// (or sends buffered data), with no epoll_ctl per wait. A direction is
// ready until a system call says otherwise: EAGAIN, or a short read or
// write, after which the kernel reports the next change as a new edge.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "loop_sockets.hpp"
#include "poller.hpp"
#include "socket_address.hpp"
#include "tandem/loop.hpp"

namespace tandem::detail {

class transport final : public loop_socket, public io_source {
 public:
  // std::logic_error "tandem::stream::OPERATION: WHY" (a stream's misuse,
  // or an operation on a closed stream).
  [[noreturn, gnu::cold]] static void throw_misuse(const char* operation, const char* why);

  // asyncio's defaults: drain() waits above the high-water mark, until
  // the buffer is down to the low one.
  static constexpr std::size_t high_water = std::size_t{64} * 1024;
  static constexpr std::size_t low_water = std::size_t{16} * 1024;

  // Takes fd (non-blocking) and registers it with the loop; closes it and
  // throws if epoll refuses it. peer: the address its errors name. A Unix
  // client that bound no name has none, so a server names its connection
  // after its own socket instead, as client_of: "a client of /path".
  static std::shared_ptr<transport> open(event_loop& loop, int fd, const socket_address& peer,
                                         std::size_t limit, bool client_of = false);
  transport(event_loop& loop, int fd, const socket_address& peer, std::size_t limit,
            bool client_of = false) noexcept;

  std::string read(std::size_t n);
  std::size_t read_into(char* data, std::size_t size);
  std::string read_all();
  std::string readexactly(std::size_t n);
  std::string readline();
  std::string readuntil(std::string_view separator);
  void write(std::string_view data);
  // Inline, so that stream::drain is one function: an echo's every
  // message drains, and almost never waits.
  void drain() {
    check_can_write("drain");
    if (write_error_ != 0 || unsent() > high_water) [[unlikely]]
      wait_drained();
  }
  void write_eof();
  void close() noexcept;

  bool closed() const noexcept { return closed_; }
  bool at_eof() const noexcept { return closed_ || (eof_ && buffered() == 0); }
  int fd() const noexcept { return closed_ ? -1 : fd_; }
  std::size_t write_buffer_size() const noexcept { return closed_ ? 0 : unsent(); }
  std::string peer() const {
    return client_of_ ? "a client of " + peer_.describe() : peer_.describe();
  }

  // open_connection: waits until a non-blocking connect() has finished;
  // returns its error (0: connected).
  int wait_connected();

  void on_events(std::uint32_t events) override;
  void close_with_loop() noexcept override;

 private:
  std::size_t buffered() const noexcept { return rbuf_.size() - rpos_; }
  std::size_t unsent() const noexcept { return wbuf_.size() - wpos_; }
  std::string take(std::size_t n);
  void consume(std::size_t n) noexcept;  // drops n buffered bytes, which were returned
  // Every operation's first checks: inline, their throws out of line.
  void check_open(const char* operation) const {
    if (closed_) [[unlikely]]
      throw_misuse(operation, "the stream is closed");
  }
  void check_can_read(const char* operation) const {
    check_open(operation);
    if (reader_.task != nullptr) [[unlikely]]
      throw_misuse(operation, "another task is reading from this stream");
  }
  // A read other than readline: the caller takes the stream over from a
  // cancelled readline's discard (the bytes it reads may end that line),
  // so the next readline returns a line instead of discarding one.
  void check_can_read_bytes(const char* operation) {
    check_can_read(operation);
    discarding_ = 0;
  }
  void check_can_write(const char* operation) const {
    check_open(operation);
    if (drainer_.task != nullptr) [[unlikely]]
      throw_misuse(operation, "another task is draining this stream");
  }
  // Receives more bytes into the buffer (suspending while none are
  // there); false at end of stream. receive_fresh leaves them in the
  // loop's receive buffer, in `fresh`, for the caller to take;
  // receive_string returns at most n of them in a string of their own.
  bool receive(const char* operation);
  bool receive_fresh(const char* operation, std::string_view& fresh);
  // One receive of at most size bytes into data (suspending while none
  // are there): their number, 0 at end of stream.
  std::size_t receive_into(const char* operation, char* data, std::size_t size);
  std::string receive_string(std::size_t n);
  // Suspends until the socket may have bytes; false at end of stream.
  bool wait_readable(const char* operation);
  // Takes in the result of a receive of `requested` bytes (-errno on
  // failure): true when it got bytes.
  bool received(ssize_t n, std::size_t requested) noexcept;
  std::string until(std::string_view separator, const char* operation, bool line);
  [[noreturn]] void discard_line_and_throw(const char* operation);
  // Where a task waits for one direction of the socket: it holds the task
  // only while the task waits there. Calling it empties it, so that a
  // wait's undo refers to the slot itself, with no lambda in between.
  struct waiter_slot {
    task_core* task = nullptr;
    void operator()() noexcept { task = nullptr; }
  };
  void wait_in(waiter_slot& slot);
  void wake(waiter_slot& slot) noexcept;
  // on_events' and on_events_in_full's reading side: marks the socket
  // readable (and hung up) and wakes the reader.
  void take_read_events(std::uint32_t events) noexcept;
  // drain() past the high-water mark, or after a send failed: throws the
  // failure, or waits until at most the low-water mark is unsent.
  void wait_drained();
  // write() past its first send, out of line so that the common case (the
  // socket takes everything) saves few registers: `sent` is that send's
  // result (-1: errno says why). Retries an interrupted send, records a
  // failure, and buffers what the socket did not take.
  [[gnu::noinline]] void send_rest(std::string_view data, ssize_t sent);
  // Appends data to what waits for EPOLLOUT.
  [[gnu::noinline]] void buffer_unsent(std::string_view data);
  // on_events with more to do than wake the reader: sends what the socket
  // takes, wakes the tasks that wait, and finishes a close once all is
  // sent (or cannot be).
  [[gnu::noinline]] void on_events_in_full(std::uint32_t events);
  void flush() noexcept;  // sends what the socket takes; the rest waits for EPOLLOUT
  void shut_down_sending() noexcept;
  void release_fd() noexcept;
  [[noreturn]] void throw_error(int error, const char* operation) const;

  event_loop* loop_;
  int fd_;
  socket_address peer_;
  std::size_t limit_;
  std::string rbuf_;  // received, not yet returned: bytes [rpos_, size)
  std::size_t rpos_ = 0;
  // Bytes the last receive got. From direct_receive_min up, read()
  // receives straight into the string it returns, saving a copy.
  static constexpr std::size_t direct_receive_min = 4096;
  std::size_t last_receive_ = 0;
  std::string wbuf_;  // written, not yet sent: bytes [wpos_, size)
  std::size_t wpos_ = 0;
  waiter_slot reader_;          // the task suspended in a read
  waiter_slot drainer_;         // the task suspended in drain (or a connect)
  std::size_t discarding_ = 0;  // readline: bytes of an overlong line discarded so far
  int read_error_ = 0;          // errno of a failed recv: thrown by every later read
  int write_error_ = 0;         // errno of a failed send: thrown by later writes
  bool readable_ = true;
  bool writable_ = true;
  bool hung_up_ = false;      // EPOLLRDHUP, HUP or ERR seen: a short read may end
  bool eof_ = false;          // the peer's end of stream was received
  bool eof_written_ = false;  // write_eof(): shut down once wbuf_ is sent
  bool closed_ = false;       // close(): every operation but close throws
  bool closing_ = false;      // closed, sending wbuf_ in the background
  bool client_of_;            // peer_ is the server's socket, not the peer's (see open)
};

}  // namespace tandem::detail
