// The generator side of a frame (tandem/coroutine.hpp): the frame type that
// runs a body with a yielder and keeps its return value, and delegation
// (yield_from, generator rule 16) in place.
#pragma once

#include <cxxabi.h>

#include <cstdint>
#include <optional>
#include <type_traits>
#include <utility>

#include "tandem/detail/frame.hpp"

namespace tandem {

template <class Out, class In = void, class R = void>
class coroutine;
template <class Out, class In = void>
class yielder;

namespace detail {

// What a delegating coroutine passes on to its suspended sub: the value
// sent to it, or nothing.
template <class In>
inline constexpr resume_kind delegated_resume_kind =
    std::is_void_v<In> ? resume_kind::next : resume_kind::send;

// yield_from's yield of what its sub yielded: installs the delegation
// (unless either side keeps its own FP control state, which a switch
// straight past the delegator would not restore: then every step goes
// through the delegator's yield_from) and suspends. Whatever wakes the
// delegator up has taken the delegation apart again.
__attribute__((always_inline)) inline void suspend_delegating(frame_base* me, frame_head* sub_head,
                                                              std::uintptr_t& value) {
  auto* sub = static_cast<frame_base*>(sub_head);
  if (((me->flags | sub->flags) & own_fp_control) == 0) {
    me->flags = static_cast<unsigned char>(me->flags | delegating);
    me->sub = sub;
    me->innermost = sub;
    sub->flags = static_cast<unsigned char>(sub->flags | installed);
    sub->delegator = me;
  }
  suspend(me, value, /*stack_checked=*/true);
}

// After yield_from woke up to find its sub finished: when the sub ended as
// an installed delegate (it switched straight here), takes over its
// resumer's place for the sanitizers, then gives the sub's frame back and
// rethrows what escaped it, as finish() does. Nothing for a sub finished
// elsewhere.
void finish_delegate(frame_base* me, frame_head*& sub);

// A yield_from's hold on the handle of its sub (generator rule 16): the
// handle lists those that hold it, so that its destructor can tell each
// one that it is gone (coroutine::borrow). Linked both ways: a yield_from
// that returns takes itself out at once.
struct borrow_link {
  borrow_link* next = nullptr;
  borrow_link** prev = nullptr;  // what points here; null once unlinked
};

// Marks the private constructor of a handle that stands in for a destroyed
// one (coroutine::borrow).
struct stand_in_t {};

// Whether a coroutine runs: its own body, or, while it delegates, the body
// of its innermost delegate.
bool chain_running(const frame_head* h) noexcept;

// Moving a running coroutine terminates; moving an installed delegate
// takes it out of the delegation (its delegator goes on step by step).
void prepare_move_slow(frame_head* h) noexcept;
inline void prepare_move(frame_head* h) noexcept {
  if (h->state == co_state::running || (h->flags & (delegating | installed)) != 0) [[unlikely]]
    prepare_move_slow(h);
}

// A generator's frame, whose yielder is part of it: the empty yielder base
// lies at the frame's address, so that a body's yield finds its frame in
// the yielder's `this` without a load (and, since the switch back keeps the
// frame in its register, without a spill either).
template <class Out, class In>
struct yielding_frame : frame_base, yielder<Out, In> {
  explicit yielding_frame(tandem::stack&& memory) noexcept : frame_base(std::move(memory)) {}
};

template <class F, class Out, class In, class R>
struct frame final : yielding_frame<Out, In> {
  F body_fn;
  frame(tandem::stack&& memory, F&& b)
      : yielding_frame<Out, In>(std::move(memory)), body_fn(std::move(b)) {}
  frame(tandem::stack&& memory, const F& b)
      : yielding_frame<Out, In>(std::move(memory)), body_fn(b) {}

  // Runs the body and records how it ended. The handlers sit here, in the
  // frame the body is inlined into, so that close()'s coroutine_exit (and
  // whatever else escapes) unwinds no frame beyond the body's own: the
  // unwinder's cost grows with every frame it crosses.
  static void run(frame_base* base) {
    auto* self = static_cast<frame*>(base);
    try {
      yielder<Out, In>& y = *self;
      if constexpr (std::is_void_v<R>) {
        self->body_fn(y);
      } else {
        // The destination is read only once the body has returned: the
        // handle may have moved meanwhile.
        auto&& value = self->body_fn(y);
        static_cast<std::optional<R>*>(base->result_dest)
            ->emplace(std::forward<decltype(value)>(value));
      }
      base->end = co_end::returned;
    } catch (abi::__forced_unwind&) {
      throw;  // thread cancellation cannot cross into the resumer: terminate
    } catch (const coroutine_exit&) {
      record_exit(base);
    } catch (const stop_iteration&) {
      record_stop_iteration(base);
    } catch (...) {
      record_failure(base);
    }
  }
};

// Where a coroutine<Out, In, R> keeps what its body returned: nothing for
// R = void.
template <class R>
struct result_storage {
  std::optional<R> value;
};
template <>
struct result_storage<void> {};
// Rejected by coroutine's static_assert; empty so that its message comes
// alone, not among std::optional's errors.
template <class R>
struct result_storage<R&> {};
template <class R>
struct result_storage<R&&> {};

// Gives `to` the value of `from` (or none) by destroying `to`'s and
// move-constructing anew, never by assignment: T need only be
// move-constructible (a const member leaves it no assignment). `from` keeps
// its moved-from value. Shared by reconstructing_optional and the handle's
// move of a kept result (coroutine::take_result_of).
template <class T>
void reconstruct_from(std::optional<T>& to,
                      std::optional<T>& from) noexcept(std::is_nothrow_move_constructible_v<T>) {
  if (&to == &from) return;
  to.reset();
  if (from) to.emplace(std::move(*from));
}

// An optional whose move-assignment destroys its value and constructs the
// other's afresh. The coroutine iterator keeps the current value in one
// when Out has no assignment (a const member): std::optional's assignment
// is deleted then, which would leave the iterator unmovable, so not a
// std::input_iterator (generator rule 17).
template <class T>
struct reconstructing_optional : std::optional<T> {
  reconstructing_optional() = default;
  reconstructing_optional(const reconstructing_optional&) = default;
  reconstructing_optional(reconstructing_optional&&) noexcept(
      std::is_nothrow_move_constructible_v<T>) = default;
  reconstructing_optional& operator=(reconstructing_optional&& other) noexcept(
      std::is_nothrow_move_constructible_v<T>) {
    reconstruct_from<T>(*this, other);
    return *this;
  }
  ~reconstructing_optional() = default;
};

// The iterator's current value: std::optional for a V that has assignment,
// so that nothing changes for those.
template <class V>
using current_value =
    std::conditional_t<std::is_move_assignable_v<V>, std::optional<V>, reconstructing_optional<V>>;

[[noreturn]] void throw_no_result();
[[noreturn]] void throw_next_needs_default_in();
// yield_from(sub): throws for a moved-from or running sub.
void refuse_delegation_to(const frame_head* sub);
// raise() on a frame of a delegation: throws if the chain runs, else takes
// the delegation apart around h.
void prepare_raise(frame_head* h);

// Tests reach a coroutine's frame (its stack, its name) through this.
struct frame_access {
  template <class C>
  static frame_base* of(C& co) noexcept {
    return static_cast<frame_base*>(co.frame_);
  }
};

}  // namespace detail
}  // namespace tandem
