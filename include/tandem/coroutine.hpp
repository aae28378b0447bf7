// tandem/coroutine.hpp: generator coroutines with CPython's semantics.
//
//     tandem::coroutine<long, long> adder([](tandem::yielder<long, long>& y) {
//       long value = 0;
//       for (;;) value = y.yield(value) + 1;   // value = (yield value) + 1
//     });
//     adder.next();             // runs to the first yield: 0
//     adder.send(41);           // 42
//
// coroutine<Out, In, R> runs its body on a stack of its own. The body yields
// values of type Out, receives values of type In, and returns an R (In and
// R default to void); each may be void or any move-constructible type
// (move-only types included) that is not a reference (yield a pointer or
// a std::reference_wrapper instead) nor a C array (std::array). The
// operations and their rules are CPython's generator methods (PEP 342,
// PEP 380, PEP 479); the rules are numbered in docs/rules.md (section 3),
// and tests name them:
//
//   next()      resume; the pending yield returns In{} (first call: start).
//   send(v)     resume; the pending yield returns v. Before the first
//               next(): std::logic_error, and nothing changes.
//   raise(e)    resume by throwing e from the pending yield (Python's
//               throw()). Not started: the body never runs, e propagates
//               (a stop_iteration as runtime_error, PEP 479).
//               Finished: e is thrown.
//   close()     throw coroutine_exit at the pending yield; the body must
//               let it escape or return. If it yields instead: runtime_error
//               "coroutine ignored coroutine_exit", and it stays suspended.
//   result()    what the body returned (R != void; rule 15), kept in the
//               handle. std::logic_error before that, or when the body
//               ended by an exception (coroutine_exit included).
//
// Inside the body, y.yield_from(sub) is Python's `yield from` (rule 16): see
// yielder::yield_from. With a non-void Out a coroutine is a move-only
// std::ranges::input_range and view, as std::generator (rule 17): an rvalue
// pipes into std::views adaptors, an lvalue through std::ranges::ref_view,
// and reaching the end throws nothing. An In without a default constructor
// makes it no range: iterating resumes with next().
//
// Each resuming call returns the next yielded value, or throws
// stop_iteration when the body returns (and on every later next/send), or
// propagates what escaped the body (the coroutine is then finished). A
// stop_iteration escaping the body becomes std::runtime_error "coroutine
// raised stop_iteration", with the original nested (PEP 479). Resuming a
// running coroutine (from its own body, or from one it resumed) throws
// std::logic_error "coroutine already executing" and changes nothing.
// A yielded value is moved out of the suspended body's frame into the
// resumer (next()'s return value, the iterator's current value); if that
// move throws, the exception propagates from the resuming call, the value
// is lost, and the body stays suspended at that yield, to go on from it at
// the next resume. A sent value is moved into the body the same way: if
// that throws, the exception comes out of the pending yield, in the body.
//
// Exceptions: each coroutine has its own C++ exception-handling state, as
// each CPython generator has its own: a catch block suspended at a yield is
// not disturbed by what the resumer throws and catches meanwhile; `throw;`,
// std::current_exception() and std::uncaught_exceptions() inside the body
// see the coroutine's own.
//
// Lifetime: the destructor of a suspended coroutine closes it, so the
// destructors of its locals run. If the body yields after coroutine_exit
// the destructor calls std::terminate. Any other exception escaping that
// close is reported on stderr and dropped (CPython: "Exception ignored").
// Move-assigning over a suspended coroutine closes it first, the same way.
// A finished coroutine gives its stack back to the pool at once.
//
// A moved-from coroutine: started() and running() false, done() true;
// every operation throws std::logic_error.
//
// Threads: a suspended coroutine may be resumed on another thread; the
// hand-over must be synchronised (a mutex, a queue: anything that orders
// the last switch on one thread before the next on the other), and two
// threads must never resume the same coroutine at once. The exception
// state (generator rule 12) follows the coroutine, also where a body that
// moves between threads resumes coroutines of its own: tandem finds the
// running thread's state afresh at each resume, never from an address a
// compiler kept from before a yield. What a body must not do across a
// yield, since it may wake up on another thread:
//  - keep the address of a thread_local (`auto& x = tls;`, a pointer to it,
//    or a reference a library returns to its per-thread state); read the
//    variable afresh after each yield. Compilers may also keep a computed
//    thread_local address in a register across a call: in bodies that
//    migrate, touch thread_locals only through a function that is not
//    inlined into the yielding one.
//  - hold a lock whose unlock must happen on the locking thread
//    (std::mutex), or expect errno or std::this_thread::get_id() to follow
//    the thread: glibc declares __errno_location and pthread_self `const`,
//    so the compiler may reuse what they returned before the yield.
// Floating point: the FP control state (rounding mode, exception masks)
// is the thread's, shared with the resumer as across a function call,
// unless stack_options::own_fp_control gives the coroutine its own (see
// include/tandem/stack.hpp for the rule and its reason).
// Names: stack_options::name names a coroutine for debuggers (gdb's `info
// tandem`, tools/gdb/tandem.py) and for the stack overflow report.
#pragma once

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <iterator>
#include <optional>
#include <ranges>
#include <stdexcept>
#include <type_traits>
#include <utility>

#include "tandem/detail/frame.hpp"
#include "tandem/detail/generator_frame.hpp"
#include "tandem/detail/word.hpp"
#include "tandem/stack.hpp"
#include "tandem/yielder.hpp"

namespace tandem {

template <class Out, class In, class R>
class coroutine {
  // Values cross a switch as objects of their own: a reference Out would
  // need a different hand-over (and the iterator, a different store), and
  // a reference R could name nothing of the finished body's stack.
  static_assert(!std::is_reference_v<Out>,
                "coroutine<Out, In, R>: Out must not be a reference (docs/rules.md, section 3); "
                "yield a pointer or a std::reference_wrapper");
  static_assert(!std::is_reference_v<In>,
                "coroutine<Out, In, R>: In must not be a reference (docs/rules.md, section 3); "
                "send a pointer or a std::reference_wrapper");
  static_assert(!std::is_reference_v<R>,
                "coroutine<Out, In, R>: R must not be a reference (docs/rules.md, section 3); "
                "return a pointer or a std::reference_wrapper");
  // A C array is not move-constructible either, but the general message
  // below would not say what to use instead.
  static_assert(!std::is_array_v<Out> && !std::is_array_v<In> && !std::is_array_v<R>,
                "coroutine<Out, In, R>: none may be a C array (docs/rules.md, section 3); "
                "use std::array");
  static_assert(std::is_void_v<Out> || std::is_move_constructible_v<Out>,
                "coroutine<Out, In, R>: Out must be void or move-constructible");
  static_assert(std::is_void_v<In> || std::is_move_constructible_v<In>,
                "coroutine<Out, In, R>: In must be void or move-constructible");
  static_assert(std::is_void_v<R> || std::is_move_constructible_v<R>,
                "coroutine<Out, In, R>: R must be void or move-constructible");

  static constexpr bool result_moves_nothrow =
      std::is_void_v<R> || std::is_nothrow_move_constructible_v<R>;

  template <class F>
  static constexpr bool returns_result = [] {
    if constexpr (std::is_void_v<R>)
      return true;  // whatever it returns is dropped
    else
      return std::is_convertible_v<std::invoke_result_t<F&, yielder<Out, In>&>, R>;
  }();

 public:
  using yielder_type = yielder<Out, In>;
  using result_type = R;

  // R body(yielder<Out, In>&). The body is stored at the top of the
  // coroutine's stack; nothing runs until the first next().
  // The constraint excludes coroutine itself, which clang-tidy misses:
  // NOLINTBEGIN(bugprone-forwarding-reference-overload)
  template <class F>
  requires(!std::is_same_v<std::remove_cvref_t<F>, coroutine> &&
           std::is_invocable_v<std::decay_t<F>&, yielder_type&> &&
           returns_result<std::decay_t<F>>) explicit coroutine(F&& body,
                                                               stack_options options = {}) {
    // NOLINTEND(bugprone-forwarding-reference-overload)
    using frame_type = detail::frame<std::decay_t<F>, Out, In, R>;
    auto* f = detail::make_frame<frame_type>(options, std::forward<F>(body));
    if constexpr (!std::is_void_v<R>) f->result_dest = &result_.value;
    detail::prepare(f, options);
    frame_ = f;
  }

  // Moving a running coroutine (from inside its own body, or from one it
  // resumed) would leave the resume in progress holding the wrong handle:
  // like destroying it, that calls std::terminate with a message.
  // A move is noexcept unless moving R may throw: the handle keeps the
  // body's result (rule 15) and moves it along. If that move throws, the
  // exception propagates and `other` is left as it was (a move-assignment
  // has closed its target by then, leaving it without a result).
  // frame_ is set last, not in the initializer list: result_ is built
  // after it, and a store before would stay (prepare_move is out of line).
  coroutine(coroutine&& other) noexcept(result_moves_nothrow) {
    take_result_of(other);  // first, so that a throw leaves other whole
    detail::prepare_move(other.frame_);
    frame_ = std::exchange(other.frame_, detail::sentinel(detail::moved_from_frame));
    adopt_result_destination();
  }

  coroutine& operator=(coroutine&& other) noexcept(result_moves_nothrow) {
    if (this != &other) {
      detail::prepare_move(other.frame_);
      detail::close_for_destruction(frame_);
      take_result_of(other);
      frame_ = std::exchange(other.frame_, detail::sentinel(detail::moved_from_frame));
      adopt_result_destination();
    }
    return *this;
  }

  coroutine(const coroutine&) = delete;
  coroutine& operator=(const coroutine&) = delete;

  // A yield_from that borrows this handle (an lvalue sub, rule 16) is
  // told that it is gone: it goes on with what the handle leaves behind.
  ~coroutine() {
    detail::close_for_destruction(frame_);
    if (borrowers_ != nullptr) [[unlikely]]
      leave_borrowers();
  }

  // Runs the body to its next yield; the pending yield returns In{}.
  Out next() requires(std::is_void_v<In> || std::default_initializable<In>) {
    std::uintptr_t word = 0;
    if constexpr (!std::is_void_v<In>) {
      In v{};
      word = detail::to_word(v);
      return resume_or_throw<detail::resume_kind::next>(word);
    } else {
      return resume_or_throw<detail::resume_kind::next>(word);
    }
  }

  // The first next() of a coroutine whose In has no default: sends nothing.
  Out next() requires(!std::is_void_v<In> && !std::default_initializable<In>) {
    if (frame_->state == detail::co_state::suspended && !running())
      throw std::logic_error(
          "tandem::coroutine::next: In is not default-constructible; use send() after the "
          "first next()");
    std::uintptr_t word = 0;  // the first resume reaches no yield: nothing is read
    return resume_or_throw<detail::resume_kind::next>(word);
  }

  // The pending yield returns value.
  template <class V = In>
  requires(!std::is_void_v<In> && std::is_convertible_v<V&&, In>) Out send(V&& value) {
    In v(std::forward<V>(value));
    std::uintptr_t word = detail::to_word(v);
    return resume_or_throw<detail::resume_kind::send>(word);
  }

  // Throws e from the pending yield (Python's throw()).
  Out raise(std::exception_ptr e) {
    std::uintptr_t word = 0;
    if (!raise_step(std::move(e), word)) [[unlikely]]
      detail::throw_stop_iteration();
    if constexpr (!std::is_void_v<Out>) return detail::from_word<Out>(word);
  }

  template <class E>
  requires(!std::is_same_v<std::remove_cvref_t<E>, std::exception_ptr>) Out raise(E&& e) {
    return raise(std::make_exception_ptr(std::forward<E>(e)));
  }

  // Throws coroutine_exit at the pending yield; see the rules above.
  void close() { detail::close(frame_); }

  // True from the moment the first resume begins, also once finished;
  // false for a coroutine that ended before it ran, and when moved from.
  bool started() const noexcept {
    return frame_->state != detail::co_state::created &&
           frame_->state != detail::co_state::moved_from && !frame_->has(detail::ended_unstarted);
  }
  bool done() const noexcept {
    return frame_->state == detail::co_state::done || frame_->state == detail::co_state::moved_from;
  }
  bool running() const noexcept {
    return frame_->state == detail::co_state::running ||
           (frame_->has(detail::delegating) && detail::chain_running(frame_));
  }

  // What the body returned (generator rule 15). std::logic_error before it
  // returned, when it ended by an exception (coroutine_exit included), and
  // when moved from.
  template <class T = R>
  requires(!std::is_void_v<T>) T& result() {
    if (frame_->state == detail::co_state::moved_from) detail::throw_moved_from();
    if (!result_.value) detail::throw_no_result();
    return *result_.value;
  }

  // An input range over the yielded values: for (auto&& v : co) calls
  // next() until the body returns. break leaves the coroutine suspended.
  // The end is found without an exception: the iterator resumes through
  // the same path as next(), which tells a return apart without throwing.
  class iterator {
   public:
    using iterator_category = std::input_iterator_tag;
    using value_type = std::remove_cvref_t<Out>;
    using difference_type = std::ptrdiff_t;
    using reference = Out&;

    iterator() = default;
    Out& operator*() const { return *current_; }
    iterator& operator++() {
      advance();
      return *this;
    }
    void operator++(int) { advance(); }
    bool operator==(std::default_sentinel_t) const noexcept { return !current_.has_value(); }

   private:
    friend class coroutine;
    explicit iterator(coroutine* co) : co_(co) { advance(); }
    // Inlined where the loop advances: a frame live across the switch
    // costs a mispredicted return, and its callee-saved registers.
    __attribute__((always_inline)) void advance() {
      current_.reset();
      // Finished: the end. Not done(), which a moved-from coroutine says
      // too: resuming that throws std::logic_error, as every use of it.
      if (co_->frame_->state == detail::co_state::done) return;
      std::uintptr_t word = 0;
      if constexpr (!std::is_void_v<In>) {
        In v{};
        word = detail::to_word(v);
        if (co_->resume_step<detail::resume_kind::next>(word))
          current_.emplace(detail::from_word<Out>(word));
      } else {
        if (co_->resume_step<detail::resume_kind::next>(word))
          current_.emplace(detail::from_word<Out>(word));
      }
    }
    coroutine* co_ = nullptr;
    mutable detail::current_value<std::remove_cvref_t<Out>> current_;
  };

  // Only where next() can resume a started body: with an In that has no
  // default constructor it cannot (rule 3), so such a coroutine is no range
  // and range-for over it fails here, at the constraint.
  iterator begin() requires(!std::is_void_v<Out> &&
                            (std::is_void_v<In> || std::default_initializable<In>)) {
    if (frame_->state == detail::co_state::moved_from) detail::throw_moved_from();
    return iterator(this);
  }
  std::default_sentinel_t end() const noexcept { return {}; }

 private:
  // Resumes the body with `word`; true when it yielded (its value is then
  // in `word`), false when it returned (the coroutine is then finished).
  // Throws what the rules say for everything else.
  template <detail::resume_kind How>
  __attribute__((always_inline)) bool resume_step(std::uintptr_t& word) {
    const detail::resumed r = detail::resume<How>(frame_, word);
    // The status word, as resume() has just compared it: the compiler
    // folds this compare into that one.
    if (r.status != detail::status_word(detail::co_state::suspended) &&
        r.frame->state == detail::co_state::done) [[unlikely]] {
      detail::finish(frame_);
      return false;
    }
    return true;
  }

  template <detail::resume_kind How>
  __attribute__((always_inline)) Out resume_or_throw(std::uintptr_t& word) {
    if (!resume_step<How>(word)) [[unlikely]]
      detail::throw_stop_iteration();
    if constexpr (!std::is_void_v<Out>) return detail::from_word<Out>(word);
  }

  // raise(e) as a step: true when the body yielded (its value in `word`).
  bool raise_step(std::exception_ptr e, std::uintptr_t& word) {
    if (frame_->state != detail::co_state::suspended) detail::raise_unsuspended(frame_, e);
    if (!e) detail::throw_null_exception();
    // raise(e) walks a delegation chain: the yield_from raises it in its sub.
    if (frame_->has(detail::delegating) || frame_->has(detail::installed)) [[unlikely]]
      detail::prepare_raise(frame_);
    auto* f = static_cast<detail::frame_base*>(frame_);
    f->inject = std::move(e);
    f->flags |= detail::inject_pending;
    word = 0;
    return resume_step<detail::resume_kind::raise>(word);
  }

  // yield_from's first step (PEP 380: next(sub)): starts sub, or resumes a
  // suspended one as next() does.
  bool first_step_of_delegation(std::uintptr_t& word) {
    if constexpr (!std::is_void_v<In>) {
      if (frame_->state != detail::co_state::created) {
        if constexpr (std::default_initializable<In>) {
          In v{};
          word = detail::to_word(v);
          return resume_step<detail::resume_kind::next>(word);
        } else {
          detail::throw_next_needs_default_in();
        }
      }
    }
    word = 0;  // a first resume reaches no yield: nothing is read
    return resume_step<detail::resume_kind::next>(word);
  }

  // What yield_from returns once this (its sub) is finished.
  R take_result(bool move_out) {
    if constexpr (!std::is_void_v<R>) {
      if (result_.value) {
        if constexpr (std::is_copy_constructible_v<R>) {
          if (!move_out) return *result_.value;
        }
        return std::move(*result_.value);
      }
      if constexpr (std::default_initializable<R>)
        return R{};
      else
        detail::throw_no_result();
    }
  }

  // In a move: this handle takes other's result. Constructed afresh, not
  // assigned: R need only be move-constructible (a const R, or one with a
  // const member, has no assignment).
  void take_result_of(coroutine& other) noexcept(result_moves_nothrow) {
    if constexpr (!std::is_void_v<R>) {
      detail::reconstruct_from(result_.value, other.result_.value);
      other.result_.value.reset();
    }
  }

  // After a move: a live frame returns its value here from now on.
  void adopt_result_destination() noexcept {
    if constexpr (!std::is_void_v<R>) {
      if (frame_->state != detail::co_state::done && frame_->state != detail::co_state::moved_from)
        static_cast<detail::frame_base*>(frame_)->result_dest = &result_.value;
    }
  }

  // A yield_from's hold on its sub's handle, on the delegating body's
  // stack: the handle it uses, until that is destroyed (see below).
  struct borrow;

  // The handle of a sub that was destroyed while yield_froms borrowed it.
  // It takes the place of the destroyed one: finished (the destructor
  // closed the sub) or moved from, as that one was left.
  explicit coroutine(detail::stand_in_t) noexcept : frame_(detail::sentinel(detail::ended_frame)) {}

  // Hands each borrowing yield_from a stand-in for this handle, which is
  // closed (or moved from) by now. The result the body returned goes to
  // the latest yield_from (the first listed), as it would have read it
  // from here; the others find none, as in CPython, where a finished sub
  // returns None to every further `yield from`.
  void leave_borrowers() noexcept {
    bool first = true;
    for (detail::borrow_link* l = std::exchange(borrowers_, nullptr); l != nullptr;) {
      auto* b = static_cast<borrow*>(l);
      l = std::exchange(b->next, nullptr);
      b->prev = nullptr;
      b->stand_in.frame_ = frame_;
      if (std::exchange(first, false)) {
        try {
          b->stand_in.take_result_of(*this);
        } catch (...) {  // R's move threw: that yield_from finds no result
        }
      }
      b->sub = &b->stand_in;
    }
  }

  friend struct detail::frame_access;
  template <class O, class I>
  friend class yielder;
  // This coroutine's frame, or a sentinel once finished or moved from.
  detail::frame_head* frame_;
  [[no_unique_address]] detail::result_storage<R> result_;
  // The yield_froms that hold this handle (borrow): they stay with the
  // object, which they refer to, when its coroutine moves on.
  detail::borrow_link* borrowers_ = nullptr;
};

// A borrowed handle (an lvalue sub) may be destroyed while the yield_from
// is suspended: the yield_from referred to it and read freed memory on its
// next resume. The handle lists its borrows, and its destructor points
// each at a stand-in that holds what it left: a closed (finished) sub, or
// a moved-from one. The yield_from then ends as it would with the handle
// still there.
template <class Out, class In, class R>
struct coroutine<Out, In, R>::borrow : detail::borrow_link {
  explicit borrow(coroutine& given) noexcept : sub(&given) {
    next = given.borrowers_;
    if (next != nullptr) next->prev = &next;
    prev = &given.borrowers_;
    given.borrowers_ = this;
  }
  ~borrow() {
    if (prev == nullptr) return;  // the handle is gone
    *prev = next;
    if (next != nullptr) next->prev = prev;
  }
  borrow(const borrow&) = delete;
  borrow& operator=(const borrow&) = delete;

  coroutine* sub;  // the handle given, or stand_in once that is destroyed
  coroutine stand_in{detail::stand_in_t{}};
};

}  // namespace tandem

// Generator rule 17: with a non-void Out, a coroutine is a move-only view,
// as std::generator is, so an rvalue pipes into std::views adaptors (an
// lvalue through std::ranges::ref_view).
template <class Out, class In, class R>
inline constexpr bool std::ranges::enable_view<tandem::coroutine<Out, In, R>> =
    !std::is_void_v<Out>;
