// The loop's live sockets: the streams' transports and the servers. The
// loop holds a reference to each until its socket is closed, so that a
// stream closed with data still unsent goes on sending after its owner is
// gone, and so that the loop's close() reaches every one.
#pragma once

#include <cstddef>
#include <list>
#include <memory>

namespace tandem::detail {

class loop_socket {
 public:
  loop_socket() = default;
  loop_socket(const loop_socket&) = delete;
  loop_socket& operator=(const loop_socket&) = delete;
  virtual ~loop_socket() = default;

  // The loop closes: close the socket now, without waiting for anything.
  // Later operations on it throw std::logic_error.
  virtual void close_with_loop() noexcept = 0;

 private:
  friend class loop_sockets;
  std::list<std::shared_ptr<loop_socket>>::iterator where_;
  bool listed_ = false;
};

class loop_sockets {
 public:
  // Size of the buffer every stream of the loop receives into first.
  static constexpr std::size_t scratch_size = std::size_t{64} * 1024;

  void add(const std::shared_ptr<loop_socket>& s) {
    s->where_ = live_.insert(live_.end(), s);
    s->listed_ = true;
  }
  // Drops the loop's reference: may destroy s.
  void remove(loop_socket& s) noexcept {
    if (!s.listed_) return;
    s.listed_ = false;
    live_.erase(s.where_);
  }
  void close_all() noexcept {
    std::list<std::shared_ptr<loop_socket>> all;
    all.swap(live_);
    for (auto& s : all) {
      s->listed_ = false;
      s->close_with_loop();
    }
  }
  // One buffer per loop, not one per stream: ten thousand idle streams
  // hold no receive buffers.
  char* scratch() {
    if (!scratch_) scratch_ = std::make_unique<char[]>(scratch_size);
    return scratch_.get();
  }

 private:
  std::list<std::shared_ptr<loop_socket>> live_;
  std::unique_ptr<char[]> scratch_;
};

}  // namespace tandem::detail
