// What a suspended task waits in (tandem/task.hpp): the record a
// suspending call (sleep, await, queue::get, ...) leaves with its task, so
// that a wake-up or a cancellation finds what to undo.
#pragma once

#include <cstdint>
#include <memory>
#include <type_traits>

namespace tandem::detail {

// A reference to a callable that the referrer does not own: two words,
// nothing to copy or destroy. Only lvalues bind, and the callable must
// outlive every call (a suspension's callables are locals of the function
// that suspends, which outlives the wait).
template <class R>
class callable_ref {
 public:
  callable_ref() = default;
  template <class F>
  requires(!std::is_same_v<std::remove_cvref_t<F>, callable_ref>) callable_ref(F& f)
  noexcept  // NOLINT(google-explicit-constructor): a reference
      : call_([](void* target) -> R { return (*static_cast<F*>(target))(); }),
        target_(const_cast<void*>(static_cast<const void*>(std::addressof(f)))) {}
  explicit operator bool() const noexcept { return call_ != nullptr; }
  R operator()() const { return call_(target_); }

 private:
  R (*call_)(void*) = nullptr;
  void* target_ = nullptr;
};

// `undo` unregisters whatever would wake the task and runs whenever the
// suspension ends; `forward`, if set, is what cancel() does instead of
// waking the task with cancelled_error (await, gather, wait_for pass the
// cancellation on and keep waiting). Both refer to callables of the
// suspending function.
struct suspension {
  callable_ref<void> undo;
  callable_ref<bool> forward;  // true: the cancellation was passed on
  std::uint64_t id = 0;        // tells this wait's wakers from an earlier one's
  bool requeue = false;        // resume on the next iteration (sleep_for(0))
};

}  // namespace tandem::detail
