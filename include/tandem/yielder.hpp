// tandem/yielder.hpp: the body's side of a generator coroutine
// (tandem/coroutine.hpp has the rules).
#pragma once

#include <cxxabi.h>

#include <cstdint>
#include <exception>
#include <type_traits>
#include <utility>

#include "tandem/detail/generator_frame.hpp"
#include "tandem/detail/word.hpp"

namespace tandem {

// The body's handle: yield() suspends the coroutine and hands a value out.
// It is part of the coroutine's frame (detail::yielding_frame) and lives as
// long as the body runs.
template <class Out, class In>
class yielder {
 public:
  // Out == void: In yield(); In == void: void yield(Out).
  template <class... V>
  requires(sizeof...(V) == (std::is_void_v<Out> ? 0 : 1)) In yield(V&&... value) {
    std::uintptr_t word = 0;
    if constexpr (std::is_reference_v<Out> || std::is_reference_v<In>) {
      // coroutine's static_assert rejects references; compiling nothing
      // here keeps its message from drowning in this body's errors.
      static_assert(!std::is_reference_v<Out> && !std::is_reference_v<In>,
                    "yielder<Out, In>: neither may be a reference (docs/rules.md, section 3)");
    } else if constexpr (std::is_void_v<Out>) {
      detail::suspend(frame(), word);
    } else {
      Out out(std::forward<V>(value)...);  // lives until the resumer took it
      word = detail::to_word(out);
      detail::suspend(frame(), word);
    }
    if constexpr (!std::is_void_v<In>) return detail::from_word<In>(word);
  }

  // Python's `yield from sub` (PEP 380, generator rule 16): runs sub as part
  // of this coroutine. Every value sub yields is yielded by this coroutine;
  // while it delegates, next()/send(v) on this coroutine resume sub the
  // same way and raise(e) becomes sub.raise(e); close() (or a raise of a
  // coroutine_exit) closes sub first, then throws coroutine_exit here.
  // Returns sub's result once sub returns (moved out of an rvalue sub;
  // copied from an lvalue when R is copyable); what escapes sub propagates.
  // A finished sub returns at once (its result, else R{}); a running one
  // throws std::logic_error.
  // An lvalue sub is borrowed: it may be used directly meanwhile (as in
  // Python), and if it is moved away, the next resume of this coroutine
  // throws std::logic_error. Destroyed while this coroutine is suspended
  // in the yield_from (its owner, a container that moves its elements),
  // it is closed, as every destroyed coroutine is, and the yield_from then
  // goes on as with a sub closed directly: it returns R{} (CPython's
  // `yield from` gets StopIteration from a closed sub and returns None),
  // or the result the sub had returned if it finished before; the handle
  // moved from before it went, the next resume throws std::logic_error.
  template <class R>
  R yield_from(coroutine<Out, In, R>& sub) {
    return delegate(sub, false);
  }
  // An rvalue sub is handed over: it is moved into this coroutine's frame
  // and lives until the yield_from returns, as CPython's `yield from` holds
  // a strong reference to its sub-iterator. The delegation referred to the
  // object it was given, which its owner could destroy (or move) while the
  // delegation was suspended: the sub was closed, and the delegation went
  // on into freed memory. The object given is left moved from.
  template <class R>
  R yield_from(coroutine<Out, In, R>&& sub) {
    // What delegate() refuses is refused before the move, which would
    // terminate on a running sub.
    if (!detail::on_own_stack(frame())) detail::throw_yield_outside();
    detail::refuse_delegation_to(sub.frame_);
    coroutine<Out, In, R> own(std::move(sub));
    return delegate(own, true);
  }

  // Whether the caller may yield here: it runs on this coroutine's own
  // stack, not inside another coroutine that this body resumed.
  bool on_own_stack() noexcept { return detail::on_own_stack(frame()); }

  yielder(const yielder&) = delete;
  yielder& operator=(const yielder&) = delete;

 private:
  friend struct detail::yielding_frame<Out, In>;
  yielder() = default;

  // The frame this yielder is part of: a cast, no load.
  detail::frame_base* frame() noexcept {
    return static_cast<detail::yielding_frame<Out, In>*>(this);
  }

  template <class R>
  R delegate(coroutine<Out, In, R>& given, bool move_result) {
    detail::frame_base* const me = frame();
    if (!detail::on_own_stack(me)) detail::throw_yield_outside();
    detail::refuse_delegation_to(given.frame_);
    // The handle is used through `held.sub`, read afresh after every
    // suspension: a borrowed handle destroyed meanwhile has pointed it at
    // a stand-in (coroutine::borrow). Only while this body is suspended
    // can it go: destroying a running sub terminates.
    typename coroutine<Out, In, R>::borrow held(given);
    std::uintptr_t word = 0;
    // PEP 380 starts with next(sub), whether or not sub has started.
    bool yielded = !held.sub->done() && held.sub->first_step_of_delegation(word);
    while (yielded) {
      std::exception_ptr thrown;
      try {
        detail::suspend_delegating(me, held.sub->frame_, word);
      } catch (abi::__forced_unwind&) {
        throw;
      } catch (const coroutine_exit&) {
        held.sub->close();  // what that throws propagates from here instead
        throw;
      } catch (...) {
        thrown = std::current_exception();  // sub.raise, outside this handler
      }
      coroutine<Out, In, R>& sub = *held.sub;
      if (sub.frame_->state == detail::co_state::moved_from) detail::throw_moved_from();
      if (thrown) {
        try {
          yielded = sub.raise_step(std::move(thrown), word);
        } catch (const stop_iteration&) {  // sub.throw() raised StopIteration: it "returned"
          if (!sub.done()) throw;
          yielded = false;
        }
      } else if (sub.done()) {  // it ended and switched here, or was finished elsewhere
        detail::finish_delegate(me, sub.frame_);
        break;
      } else {  // the delegation was taken apart: one step by hand
        yielded = sub.template resume_step<detail::delegated_resume_kind<In>>(word);
      }
    }
    return held.sub->take_result(move_result);
  }
};

}  // namespace tandem
