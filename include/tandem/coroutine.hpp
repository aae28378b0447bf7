// tandem/coroutine.hpp: generator coroutines with CPython's semantics.
//
//     tandem::coroutine<long, long> adder([](tandem::yielder<long, long>& y) {
//       long value = 0;
//       for (;;) value = y.yield(value) + 1;   // value = (yield value) + 1
//     });
//     adder.next();             // runs to the first yield: 0
//     adder.send(41);           // 42
//
// coroutine<Out, In> runs its body on a stack of its own. The body yields
// values of type Out and receives values of type In; either may be void or
// any move-constructible type (move-only types included). The operations
// and their rules are CPython's generator methods (PEP 342, PEP 479); the rules
// are numbered in docs/rules.md (section 3), and tests name them:
//
//   next()      resume; the pending yield returns In{} (first call: start).
//   send(v)     resume; the pending yield returns v. Before the first
//               next(): std::logic_error, and nothing changes.
//   raise(e)    resume by throwing e from the pending yield (Python's
//               throw()). Not started: the body never runs, e propagates.
//               Finished: e is thrown.
//   close()     throw coroutine_exit at the pending yield; the body must
//               let it escape or return. If it yields instead: runtime_error
//               "coroutine ignored coroutine_exit", and it stays suspended.
//
// Each resuming call returns the next yielded value, or throws
// stop_iteration when the body returns (and on every later next/send), or
// propagates what escaped the body (the coroutine is then finished). A
// stop_iteration escaping the body becomes std::runtime_error "coroutine
// raised stop_iteration", with the original nested (PEP 479). Resuming a
// running coroutine (from its own body, or from one it resumed) throws
// std::logic_error "coroutine already executing" and changes nothing.
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
// state (generator rule 12) follows the coroutine. What a body must not do across a
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

#include <cxxabi.h>

#include <array>
#include <bit>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <exception>
#include <iterator>
#include <memory>
#include <new>
#include <optional>
#include <stdexcept>
#include <type_traits>
#include <utility>

#include "tandem/detail/sanitizer.hpp"
#include "tandem/detail/switch.hpp"
#include "tandem/stack.hpp"

namespace tandem {

// The body has finished (Python's StopIteration).
class stop_iteration : public std::exception {
 public:
  const char* what() const noexcept override { return "stop_iteration"; }
};

// Thrown at the pending yield by close() (Python's GeneratorExit). Not a
// std::exception, so that catch (const std::exception&) does not swallow it.
class coroutine_exit {
 public:
  const char* what() const noexcept { return "coroutine_exit"; }
};

template <class Out, class In = void>
class coroutine;
template <class Out, class In = void>
class yielder;

namespace detail {

// A coroutine's place in its life. moved_from is only ever the state of
// the sentinel a moved-from handle points at (see frame_head).
enum class co_state : unsigned char { created, suspended, running, done, moved_from };

// Rare conditions, each of which sends a switch to the slow half of the
// hot path. They sit in the byte after the state, so that one 16-bit load
// and compare tells a switch whether it may take the fast half.
enum co_flag : unsigned char {
  body_eh_saved = 1,     // body_eh holds the body's exception state
  resumer_eh_saved = 2,  // resumer_eh holds the resumer's
  inject_pending = 4,    // `inject` is thrown at the pending yield
  own_fp_control = 8,    // stack_options::own_fp_control
  ended_unstarted = 16,  // (sentinel) the body never ran: started() false
  exit_pending = 32,     // close(): coroutine_exit is thrown at the pending yield
};

// What a frame runs: a plain coroutine, or an event loop's task.
enum class co_kind : unsigned char { coroutine, task };

// The longest name kept; a longer stack_options::name is cut there.
inline constexpr std::size_t max_name_length = 47;

// What the body's end left behind.
enum class co_end : unsigned char { none, returned, exited, failed };

// The C++ runtime's per-thread exception-handling state (the Itanium C++
// ABI's __cxa_eh_globals, as libstdc++ and libc++abi lay it out).
struct eh_state {
  void* caught_exceptions = nullptr;
  unsigned int uncaught_exceptions = 0;
};

inline bool holds_exceptions(const eh_state* s) noexcept {
  return (reinterpret_cast<std::uintptr_t>(s->caught_exceptions) | s->uncaught_exceptions) != 0;
}

// This thread's eh_state (initial-exec TLS: one load). Until a thread's
// first resume finds the real one, it points at unknown_eh, which "holds
// exceptions", so that first check takes the slow path, which finds it.
extern constinit eh_state unknown_eh;
extern constinit thread_local eh_state* thread_eh_cache __attribute__((tls_model("initial-exec")));
inline eh_state* thread_eh() noexcept { return thread_eh_cache; }

// The part of a frame that every switch reads. A coroutine handle always
// points at one: its frame's, or, once finished or moved from, one of the
// constant sentinels below, so that a single check of the status word
// covers moved-from, finished, not started and running.
struct frame_head {
  switch_slots body;     // where the body stopped, while suspended
  switch_slots resumer;  // where the resumer waits, while the body runs
  // Aligned as the word they form, so that status() is one load where
  // unaligned loads are not (RISC-V: byte loads and a store through the
  // stack otherwise).
  alignas(std::uint16_t) co_state state = co_state::created;
  unsigned char flags = 0;  // co_flag bits

  // state and flags as one word (state in the low byte).
  std::uint16_t status() const noexcept {
    std::uint16_t s;
    std::memcpy(&s, __builtin_assume_aligned(&state, alignof(std::uint16_t)), sizeof s);
    return s;
  }
  bool has(co_flag flag) const noexcept { return (flags & flag) != 0; }
};
static_assert(offsetof(frame_head, flags) == offsetof(frame_head, state) + 1);
static_assert(std::endian::native == std::endian::little, "frame_head::status() reads state low");

constexpr std::uint16_t status_word(co_state s, unsigned char flags = 0) noexcept {
  return static_cast<std::uint16_t>(static_cast<unsigned>(s) | (unsigned{flags} << 8));
}

// Where finished and moved-from handles point. Never written.
extern constinit const frame_head ended_frame;            // the body ran and ended
extern constinit const frame_head ended_unstarted_frame;  // ended before it ran
extern constinit const frame_head moved_from_frame;
inline frame_head* sentinel(const frame_head& s) noexcept { return const_cast<frame_head*>(&s); }

struct frame_registry;

// The rest of a coroutine's frame, which does not depend on its types. It
// lives at the top of the coroutine's own stack, above the frames of the
// body. The body's switch slots come first: the body's entry finds the
// frame by them.
struct frame_base : frame_head {
  explicit frame_base(tandem::stack&& memory) noexcept : stack(std::move(memory)) {}

  co_end end = co_end::none;
  std::uintptr_t stack_span = 0;  // from the stack's bottom up to this frame
  eh_state* thread_eh = nullptr;  // the eh_state of the thread running the body
  eh_state body_eh;               // the body's exception state, while not running
  eh_state resumer_eh;            // the resumer's, while the body runs
  std::exception_ptr inject;      // thrown at the pending yield on resume
  std::exception_ptr failure;     // what escaped the body
  tandem::stack stack;            // the memory this frame lives in
  sanitizer_state sanitizer;
  void (*run_body)(frame_base*) = nullptr;
  void (*destroy)(frame_base*) = nullptr;
  // Every frame is listed while it lives, for debuggers (tools/gdb/tandem.py
  // reads these fields by name) and for the stack overflow report, in the
  // registry of the thread that created it (src/frame_registry.hpp).
  frame_registry* registry = nullptr;
  frame_base** registry_slot = nullptr;
  std::uint64_t id = 0;  // 1, 2, ... in creation order on each thread; unique per process
  co_kind kind = co_kind::coroutine;
  char name[max_name_length + 1] = {};  // stack_options::name, truncated
};
static_assert(offsetof(frame_head, body) == 0, "the body's entry finds its frame at its slots");

inline frame_base* frame_of_resumer_slots(switch_slots* s) noexcept {
  return reinterpret_cast<frame_base*>(reinterpret_cast<char*>(s) - offsetof(frame_head, resumer));
}
inline frame_base* frame_of_body_slots(switch_slots* s) noexcept {
  return reinterpret_cast<frame_base*>(s);
}

// How a resume was asked for: which errors apply (send before start), and
// whether an exception waits to be thrown at the yield.
enum class resume_kind : unsigned char { next, send, raise };

// The slow halves of the hot path, out of line. prepare_resume throws what
// a resume of h must throw (moved from, already executing, finished, send
// before start), or swaps the exception states and readies a first resume;
// it returns the thread's eh_state to record.
eh_state* prepare_resume(frame_head* h, eh_state* g, resume_kind how);
void prepare_suspend(frame_base* f, eh_state* g) noexcept;
void after_suspend_slow(frame_base* f);  // throws an injected exception
[[noreturn]] void throw_yield_outside();

// Switches into the frame's body until it yields or ends, handing it
// `value`; returns the frame, and leaves what it yielded in `value`.
// Afterwards f->state tells whether the body yielded or ended.
template <resume_kind How>
__attribute__((always_inline)) inline frame_base* resume(frame_head* h, std::uintptr_t& value) {
  eh_state* g = thread_eh();
  bool own_fp = false;
  const std::uint16_t status = h->status();
  if (status != status_word(co_state::suspended) || holds_exceptions(g)) [[unlikely]] {
    // own_fp_control alone needs no call, only the other switch.
    if (status != status_word(co_state::suspended, own_fp_control) || holds_exceptions(g))
      g = prepare_resume(h, g, How);
    own_fp = h->has(own_fp_control);
  }
  auto* f = static_cast<frame_base*>(h);
  f->thread_eh = g;
  f->state = co_state::running;
  const auto* bottom = static_cast<const char*>(f->stack.bottom());
  before_resume(f->sanitizer, bottom,
                static_cast<std::size_t>(reinterpret_cast<const char*>(f) - bottom));
  const landing l = own_fp ? switch_to<true>(&f->resumer, &f->body, value)
                           : switch_to<false>(&f->resumer, &f->body, value);
  f = frame_of_resumer_slots(l.own);
  after_resume(f->sanitizer);
  value = l.value;
  return f;
}

inline std::uintptr_t stack_pointer() noexcept {
  std::uintptr_t sp;
#if defined(__x86_64__)
  asm("movq %%rsp, %0" : "=r"(sp));
#elif defined(__aarch64__) || defined(__arm__)
  asm("mov %0, sp" : "=r"(sp));
#elif defined(__riscv)
  asm("mv %0, sp" : "=r"(sp));
#else
  sp = reinterpret_cast<std::uintptr_t>(__builtin_frame_address(0));
#endif
  return sp;
}

// A yield belongs on its own coroutine's stack, below the frame (a nested
// coroutine's body runs on another stack). One compare: the frame sits at
// the top of its stack, so an address is on the stack when it lies less
// than stack_span below the frame.
__attribute__((always_inline)) inline bool on_own_stack(const frame_base* f) noexcept {
  return reinterpret_cast<std::uintptr_t>(f) - stack_pointer() < f->stack_span;
}

// From inside the body: switches back to the resumer with `value`; returns
// the frame, with what the next resume sends in `value`, or throws what it
// injected (raise, close). `stack_checked`: the caller has already made
// sure that on_own_stack(f).
__attribute__((always_inline)) inline frame_base* suspend(frame_base* f, std::uintptr_t& value,
                                                          bool stack_checked = false) {
  if (!stack_checked && !on_own_stack(f)) [[unlikely]]
    throw_yield_outside();
  eh_state* g = f->thread_eh;
  bool own_fp = false;
  const std::uint16_t status = f->status();
  if (status != status_word(co_state::running) || holds_exceptions(g)) [[unlikely]] {
    if (status != status_word(co_state::running, own_fp_control) || holds_exceptions(g))
      prepare_suspend(f, g);
    own_fp = f->has(own_fp_control);
  }
  f->state = co_state::suspended;
  before_suspend(f->sanitizer);
  const landing l = own_fp ? switch_to<true>(&f->body, &f->resumer, value)
                           : switch_to<false>(&f->body, &f->resumer, value);
  f = frame_of_body_slots(l.own);
  after_suspend(f->sanitizer);
  // Tested by bits, not by comparing the status with own_fp_control's:
  // the compiler would merge the two compares into a masked one on the
  // fast path.
  if (f->status() != status_word(co_state::running)) [[unlikely]] {
    if (f->has(exit_pending)) {  // thrown here: one frame less to unwind
      f->flags = static_cast<unsigned char>(f->flags & ~exit_pending);
      throw coroutine_exit{};
    }
    if (f->has(inject_pending)) after_suspend_slow(f);
  }
  value = l.value;
  return f;
}

// The event loop marks the frames of its tasks through this.
struct frame_access {
  template <class C>
  static frame_base* of(C& co) noexcept {
    return static_cast<frame_base*>(co.frame_);
  }
};

// Sets up a frame that was just placed at the top of its stack, and lists
// it as live under options.name (may be null).
void prepare(frame_base* f, const stack_options& options);
// After a resume found the body ended: gives back the frame and points h
// at the sentinel for a finished coroutine. Returns normally when the body
// returned; rethrows a failure, mapped as the rules say.
void finish(frame_head*& h);
[[noreturn]] void throw_stop_iteration();
[[noreturn]] void throw_moved_from();
[[noreturn]] void throw_null_exception();
// raise(e) on a coroutine that is not suspended: throws what it must.
[[noreturn]] void raise_unsuspended(frame_head*& h, std::exception_ptr e);
[[noreturn]] void throw_ignored_exit();
// Ends a frame: destroys the body and gives back the stack.
void release(frame_base* f) noexcept;
[[noreturn]] void terminate_moved_running() noexcept;
inline void refuse_move_if_running(const frame_head* h) noexcept {
  if (h->state == co_state::running) [[unlikely]]
    terminate_moved_running();
}
// The destructor's close: never throws, terminates if exit is ignored.
void close_for_destruction(frame_head*& h) noexcept;
// close(); h points at a sentinel once the coroutine is finished.
void close(frame_head*& h);

// Values cross a switch as one machine word: small trivially copyable
// values in it, anything else as a pointer into the suspended sender's
// frame, from which the receiver moves it.
template <class T>
inline constexpr bool word_sized = std::is_trivially_copyable_v<T> &&
                                   sizeof(T) <= sizeof(std::uintptr_t);

// A word-sized value is converted by bit_cast, never through its address:
// an object whose address was taken must sit in memory at the switch (its
// "memory" clobber), which costs a store per send.
template <class T>
std::uintptr_t to_word(T& value) noexcept {
  if constexpr (word_sized<T> && sizeof(T) == sizeof(std::uintptr_t)) {
    return std::bit_cast<std::uintptr_t>(value);
  } else if constexpr (word_sized<T>) {
    const auto bytes = std::bit_cast<std::array<unsigned char, sizeof(T)>>(value);
    std::uintptr_t w = 0;
    std::memcpy(&w, bytes.data(), sizeof(T));
    return w;
  } else {
    return reinterpret_cast<std::uintptr_t>(std::addressof(value));
  }
}

template <class T>
T from_word(std::uintptr_t w) {
  if constexpr (word_sized<T> && sizeof(T) == sizeof(std::uintptr_t)) {
    return std::bit_cast<T>(w);
  } else if constexpr (word_sized<T>) {
    std::array<unsigned char, sizeof(T)> bytes;
    std::memcpy(bytes.data(), &w, sizeof(T));
    return std::bit_cast<T>(bytes);
  } else {
    return std::move(*reinterpret_cast<T*>(w));
  }
}

// How a body ended, from inside the handler that caught what escaped it.
void record_exit(frame_base* f) noexcept;
void record_stop_iteration(frame_base* f) noexcept;
void record_failure(frame_base* f) noexcept;

template <class F, class Out, class In>
struct frame final : frame_base {
  F body_fn;
  frame(tandem::stack&& memory, F&& b) : frame_base(std::move(memory)), body_fn(std::move(b)) {}
  frame(tandem::stack&& memory, const F& b) : frame_base(std::move(memory)), body_fn(b) {}

  // Runs the body and records how it ended. The handlers sit here, in the
  // frame the body is inlined into, so that close()'s coroutine_exit (and
  // whatever else escapes) unwinds no frame beyond the body's own: the
  // unwinder's cost grows with every frame it crosses.
  static void run(frame_base* base) {
    auto* self = static_cast<frame*>(base);
    try {
      yielder<Out, In> y(self);
      self->body_fn(y);
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
  static void destroy_frame(frame_base* base) { static_cast<frame*>(base)->~frame(); }
};

}  // namespace detail

// The body's handle: yield() suspends the coroutine and hands a value out.
template <class Out, class In>
class yielder {
 public:
  // Out == void: In yield(); In == void: void yield(Out).
  template <class... V>
  requires(sizeof...(V) == (std::is_void_v<Out> ? 0 : 1)) In yield(V&&... value) {
    std::uintptr_t word = 0;
    if constexpr (std::is_void_v<Out>) {
      detail::suspend(frame_, word);
    } else {
      Out out(std::forward<V>(value)...);  // lives until the resumer took it
      word = detail::to_word(out);
      detail::suspend(frame_, word);
    }
    if constexpr (!std::is_void_v<In>) return detail::from_word<In>(word);
  }

  // Whether the caller may yield here: it runs on this coroutine's own
  // stack, not inside another coroutine that this body resumed.
  bool on_own_stack() const noexcept { return detail::on_own_stack(frame_); }

  yielder(const yielder&) = delete;
  yielder& operator=(const yielder&) = delete;

 private:
  template <class F, class O, class I>
  friend struct detail::frame;
  explicit yielder(detail::frame_base* f) : frame_(f) {}
  detail::frame_base* frame_;
};

template <class Out, class In>
class coroutine {
  static_assert(std::is_void_v<Out> || std::is_move_constructible_v<Out>,
                "coroutine<Out, In>: Out must be void or move-constructible");
  static_assert(std::is_void_v<In> || std::is_move_constructible_v<In>,
                "coroutine<Out, In>: In must be void or move-constructible");

 public:
  using yielder_type = yielder<Out, In>;

  // body(yielder<Out, In>&). The body is stored at the top of the
  // coroutine's stack; nothing runs until the first next().
  template <class F>
  requires(!std::is_same_v<std::remove_cvref_t<F>, coroutine> &&
           std::is_invocable_v<std::decay_t<F>&,
                               yielder_type&>) explicit coroutine(F&& body,
                                                                  stack_options options = {}) {
    using frame_type = detail::frame<std::decay_t<F>, Out, In>;
    tandem::stack s(options);
    static_assert(alignof(frame_type) <= 64, "body type is over-aligned");
    auto top = reinterpret_cast<std::uintptr_t>(s.top());
    const auto place = (top - sizeof(frame_type)) & ~std::uintptr_t{63};
    if (top - place > s.size() / 2)
      throw std::invalid_argument(
          "tandem::coroutine: the body object takes more than half of the stack");
    // The frame takes the stack it lives in; if the body's constructor
    // throws, the frame_base part gives it back.
    auto* f =
        ::new (reinterpret_cast<void*>(place)) frame_type(std::move(s), std::forward<F>(body));
    f->run_body = &frame_type::run;
    f->destroy = &frame_type::destroy_frame;
    detail::prepare(f, options);
    frame_ = f;
  }

  // Moving a running coroutine (from inside its own body, or from one it
  // resumed) would leave the resume in progress holding the wrong handle:
  // like destroying it, that calls std::terminate with a message.
  coroutine(coroutine&& other) noexcept
      : frame_((detail::refuse_move_if_running(other.frame_),
                std::exchange(other.frame_, detail::sentinel(detail::moved_from_frame)))) {}

  coroutine& operator=(coroutine&& other) noexcept {
    if (this != &other) {
      detail::refuse_move_if_running(other.frame_);
      detail::close_for_destruction(frame_);
      frame_ = std::exchange(other.frame_, detail::sentinel(detail::moved_from_frame));
    }
    return *this;
  }

  coroutine(const coroutine&) = delete;
  coroutine& operator=(const coroutine&) = delete;

  ~coroutine() { detail::close_for_destruction(frame_); }

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
    if (frame_->state != detail::co_state::created && frame_->state != detail::co_state::done &&
        frame_->state != detail::co_state::moved_from)
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
    if (frame_->state != detail::co_state::suspended) detail::raise_unsuspended(frame_, e);
    if (!e) detail::throw_null_exception();
    auto* f = static_cast<detail::frame_base*>(frame_);
    f->inject = std::move(e);
    f->flags |= detail::inject_pending;
    std::uintptr_t word = 0;
    return resume_or_throw<detail::resume_kind::raise>(word);
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
  bool running() const noexcept { return frame_->state == detail::co_state::running; }

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
      if (co_->done()) return;
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
    mutable std::optional<std::remove_cvref_t<Out>> current_;
  };

  iterator begin() requires(!std::is_void_v<Out>) {
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
    detail::frame_base* f = detail::resume<How>(frame_, word);
    if (f->state == detail::co_state::done) [[unlikely]] {
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

  friend struct detail::frame_access;
  // This coroutine's frame, or a sentinel once finished or moved from.
  detail::frame_head* frame_;
};

}  // namespace tandem
