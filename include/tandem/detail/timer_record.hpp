// A timer of event_loop::call_at / call_later, shared by the loop's timer
// queue (src/timer_queue.hpp) and the user's timer_handle (tandem/loop.hpp).
#pragma once

#include <cstddef>
#include <cstdint>
#include <new>
#include <type_traits>
#include <utility>

namespace tandem::detail {

// Its references are counted without atomics (the loop and its handles
// belong to one thread): the loop holds one while the timer is scheduled,
// each timer_handle one more. The callback lives in the record when it
// fits, so that a timer costs one allocation.
struct timer_record {
  timer_record() = default;
  timer_record(const timer_record&) = delete;
  timer_record& operator=(const timer_record&) = delete;
  ~timer_record() { drop_callback(); }

  template <class F>
  void set_callback(F&& f) {
    using D = std::decay_t<F>;
    if constexpr (sizeof(D) <= sizeof(storage) && alignof(D) <= alignof(std::max_align_t)) {
      ::new (static_cast<void*>(storage)) D(std::forward<F>(f));
      invoke = [](timer_record& r) { (*std::launder(reinterpret_cast<D*>(r.storage)))(); };
      destroy = [](timer_record& r) noexcept {
        std::launder(reinterpret_cast<D*>(r.storage))->~D();
      };
    } else {
      ::new (static_cast<void*>(storage)) D*(new D(std::forward<F>(f)));
      invoke = [](timer_record& r) { (**std::launder(reinterpret_cast<D**>(r.storage)))(); };
      destroy = [](timer_record& r) noexcept {
        delete *std::launder(reinterpret_cast<D**>(r.storage));
      };
    }
  }
  // Lets go of the callback and what it holds (once it ran, or cancelled).
  void drop_callback() noexcept {
    if (auto* d = std::exchange(destroy, nullptr)) d(*this);
  }

  alignas(std::max_align_t) unsigned char storage[48];
  void (*invoke)(timer_record&) = nullptr;
  void (*destroy)(timer_record&) noexcept = nullptr;  // null: no callback
  std::uint64_t seq = 0;                              // scheduling order, for equal deadlines
  // The loop's count of cancelled timers still in its queue, while this one
  // is in it (the loop sweeps them out when they are half of the queue).
  std::size_t* cancelled_in_heap = nullptr;
  std::uint32_t refs = 1;
  bool cancelled = false;
  bool firing = false;  // the callback runs: cancel() leaves it be
};

void cancel_timer(timer_record& r) noexcept;
void delete_timer(timer_record* r) noexcept;  // out of line: the rare case
inline void release_timer(timer_record* r) noexcept {
  if (r != nullptr && --r->refs == 0) delete_timer(r);
}

}  // namespace tandem::detail
