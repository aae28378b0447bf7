// The frame layer under generators (tandem/coroutine.hpp) and the event
// loop's tasks (tandem/task.hpp): a body running on a stack of its own,
// resumed and suspended through the inline switch (detail/switch.hpp), with
// its own C++ exception-handling state, and a record of how the body ended.
// Neither user of it is known here: a frame runs whatever run_body runs.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <exception>
#include <new>
#include <stdexcept>
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

namespace detail {

// A coroutine's place in its life. moved_from is only ever the state of
// the sentinel a moved-from handle points at (see frame_head). suspended
// is zero: a resume's two checks of it then compare with zero, and a yield
// marks itself suspended by clearing the state's byte of the status word.
enum class co_state : unsigned char { suspended, created, running, done, moved_from };

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
  // Delegation (yield_from, generator rule 16) in place: resuming this
  // frame switches straight into the innermost frame of its chain.
  delegating = 64,
  installed = 128,  // this frame is the sub that its `delegator` delegates to
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
#if UINTPTR_MAX > 0xffffffffu
  // The padding after the count, which the runtime never writes: zero in
  // the thread's state (zeroed when tandem first finds it) and in every
  // copy, so that the count and it read as one word.
  unsigned int padding = 0;
#endif
};
static_assert(sizeof(eh_state) == 2 * sizeof(void*));

// s's two words or-ed together: zero when s holds no exception. One pair
// load where the processor has one (AArch64, 32-bit ARM).
inline std::uintptr_t exception_words(const eh_state* s) noexcept {
  std::uintptr_t words[2];
  std::memcpy(words, __builtin_assume_aligned(s, alignof(eh_state)), sizeof words);
  return words[0] | words[1];
}
inline bool holds_exceptions(const eh_state* s) noexcept { return exception_words(s) != 0; }

// This thread's eh_state (initial-exec TLS). Until a thread's first resume
// finds the real one, it points at unknown_eh, which "holds exceptions",
// so that first check takes the slow path, which finds it.
extern constinit eh_state unknown_eh;
extern constinit thread_local eh_state* thread_eh_cache __attribute__((tls_model("initial-exec")));

// thread_eh() is called on both sides of a switch, in code that may run on
// one thread before the switch and on another after it: a coroutine's body
// that resumes another coroutine, and is itself resumed on other threads.
// A compiler takes a thread_local's address for a constant within a
// function, and keeps it across a switch as across a call: the body would
// then read and swap the exception state of the thread it ran on before.
// So the thread's part of the address is read afresh each time.
#if defined(__x86_64__)
// x86-64 loads a thread_local through %fs, the running thread's: one load,
// with nothing of the thread kept in a register.
inline eh_state* thread_eh() noexcept { return thread_eh_cache; }
inline constexpr bool thread_eh_is_one_load = true;
#elif TANDEM_INLINE_SWITCH && defined(__has_builtin) && __has_builtin(__builtin_thread_pointer)
// The variable's offset from the thread pointer is the same in every
// thread (initial-exec: the static TLS block), so the compiler may compute
// it once and keep it; only the thread pointer is read afresh.
inline eh_state* thread_eh() noexcept {
  const std::uintptr_t offset = reinterpret_cast<std::uintptr_t>(&thread_eh_cache) -
                                reinterpret_cast<std::uintptr_t>(__builtin_thread_pointer());
  // NOLINTNEXTLINE(performance-no-int-to-ptr): the thread_local's address
  return *reinterpret_cast<eh_state* const*>(thread_address(offset));
}
inline constexpr bool thread_eh_is_one_load = false;
#else
// Out of line: a call the compiler cannot see into reads it afresh.
#define TANDEM_THREAD_EH_OUT_OF_LINE 1
eh_state* thread_eh() noexcept;
inline constexpr bool thread_eh_is_one_load = false;
#endif

// Where the frame keeps thread_eh_cache's offset for resume (AArch64: a
// load less a send, frame_head::eh_offset). Elsewhere the offset costs
// nothing (x86-64), or no pair load takes it with the status word
// (RISC-V), or no target of ours counts its instructions (32-bit ARM).
#if defined(__aarch64__) && TANDEM_INLINE_SWITCH
#define TANDEM_EH_OFFSET_IN_FRAME 1
#else
#define TANDEM_EH_OFFSET_IN_FRAME 0
#endif

// The part of a frame that every switch reads. A coroutine handle always
// points at one: its frame's, or, once finished or moved from, one of the
// constant sentinels below, so that a single check of the status word
// covers moved-from, finished, not started and running.
struct frame_head {
  using status_u16 __attribute__((may_alias)) = std::uint16_t;
  using status_u32 __attribute__((may_alias)) = std::uint32_t;

  switch_slots body;     // where the body stopped, while suspended
  switch_slots resumer;  // where the resumer waits, while the body runs
  // Aligned as the word they form, so that status() is one load where
  // unaligned loads are not (RISC-V: byte loads and a store through the
  // stack otherwise).
  alignas(std::uint32_t) co_state state = co_state::created;
  unsigned char flags = 0;  // co_flag bits
  // Always zero. With state and flags it makes a 32-bit word, which a
  // resume writes as one store of a constant (set_running): on x86-64 a
  // 16-bit store of a constant takes two instructions, or one whose
  // length-changing prefix stalls Intel's decoders.
  std::uint16_t zero = 0;
#if TANDEM_EH_OFFSET_IN_FRAME
  // thread_eh_cache's offset from the thread pointer, the same in every
  // thread (initial-exec). Kept beside the status word so that a resume
  // loads both with one pair load (resume_status, resume_thread_eh): held
  // anywhere else, the compiler keeps it in a stack slot across the switch
  // and loads it on its own. Zero in the sentinels, whose status word sends
  // a resume down the slow path before it is used.
  std::uint32_t eh_offset = 0;
#endif

  // state and flags as one word (state in the low byte). The hot path
  // writes them as one word too, as it reads them: a load wider than the
  // store before it cannot take its value from the store buffer (store
  // forwarding) and waits for the store to reach the cache, which cost
  // more than the rest of a send (x86-64, AMD Zen: 8.2 ns against 5.2).
  // Through may_alias word types: aligned as words (RISC-V would otherwise
  // load and store them a byte at a time), and addressed from the frame
  // with an offset (a pointer computed once would be spilled across the
  // switch).
  std::uint16_t status() const noexcept { return *reinterpret_cast<const status_u16*>(&state); }
  void set_status(std::uint16_t s) noexcept { *reinterpret_cast<status_u16*>(&state) = s; }
  // Running, no flags (the caller has checked that there were none).
  void set_running() noexcept {
    *reinterpret_cast<status_u32*>(&state) = static_cast<unsigned>(co_state::running);
  }
  bool has(co_flag flag) const noexcept { return (flags & flag) != 0; }
  // The same from the status word: the hot paths' slow branches test their
  // flags this way, since a byte load from inside the word another side
  // just stored, at another address than the store's, can miss store
  // forwarding (AMD Zen).
  bool has_in_status(co_flag flag) const noexcept {
    return (status() & (unsigned{flag} << 8)) != 0;
  }
};
static_assert(offsetof(frame_head, zero) == offsetof(frame_head, state) + 2);
static_assert(offsetof(frame_head, flags) == offsetof(frame_head, state) + 1);
#if TANDEM_EH_OFFSET_IN_FRAME
static_assert(offsetof(frame_head, eh_offset) == offsetof(frame_head, state) + 4,
              "one pair load reads the status word and the offset");
#endif
static_assert(std::endian::native == std::endian::little, "frame_head::status() reads state low");

// A resume's first two reads, of the frame h that a handle points at
// (a sentinel included): its status word, and this thread's eh_state.
// Where the frame holds the offset, both come from one pair load, the
// status word read as the 32-bit word the switch stores; the eh_state is
// then meaningful only when the status is that of a suspended frame (a
// sentinel's offset is zero: the read stays inside this thread's TCB).
#if TANDEM_EH_OFFSET_IN_FRAME
inline std::uint32_t resume_status(const frame_head* h) noexcept {
  return *reinterpret_cast<const frame_head::status_u32*>(&h->state);
}
inline eh_state* resume_thread_eh(const frame_head* h) noexcept {
  // NOLINTNEXTLINE(performance-no-int-to-ptr): the thread_local's address
  return *reinterpret_cast<eh_state* const*>(thread_address(h->eh_offset));
}
// Where prepare() finds the offset to keep.
inline std::uint32_t thread_eh_offset() noexcept {
  return static_cast<std::uint32_t>(reinterpret_cast<std::uintptr_t>(&thread_eh_cache) -
                                    thread_address(0));
}
#else
inline std::uint16_t resume_status(const frame_head* h) noexcept { return h->status(); }
inline eh_state* resume_thread_eh(const frame_head*) noexcept { return thread_eh(); }
#endif

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
  // make_frame builds it around an empty (moved-from) stack, and moves the
  // one it lives in into it once it is whole: moving a moved-from stack
  // moves nothing, as intended.
  // NOLINTNEXTLINE(clang-analyzer-cplusplus.Move): see above
  explicit frame_base(tandem::stack&& memory) noexcept : stack(std::move(memory)) {}

  co_end end = co_end::none;
  // The stack's bottom less this frame's address, modulo 2^N: a stack
  // pointer between the two, less the frame, is above it (on_own_stack).
  std::uintptr_t stack_floor = 0;
  eh_state body_eh;            // the body's exception state, while not running
  eh_state resumer_eh;         // the resumer's, while the body runs
  std::exception_ptr inject;   // thrown at the pending yield on resume
  std::exception_ptr failure;  // what escaped the body
  tandem::stack stack;         // the memory this frame lives in
  sanitizer_state sanitizer;
  void (*run_body)(frame_base*) = nullptr;
  void (*destroy)(frame_base*) = nullptr;
  // R != void: the std::optional<R> in the coroutine handle that the body's
  // return value goes to (the handle updates it when it moves), so that the
  // value outlives the stack, which goes back to the pool at once.
  void* result_dest = nullptr;
  // Delegation in place (generator rule 16). A yield_from whose sub yields
  // installs it: the delegator's `sub` is the sub, the sub's `delegator`
  // the delegator, and the delegator's `innermost` some frame of the chain
  // below it, which a resume follows (and shortens) to the one not itself
  // delegating. A resumer then switches straight into that innermost body,
  // which yields straight back: a send costs the same at any depth. When
  // an installed frame ends, it switches into its delegator's yield_from
  // instead of back to the resumer, handing on the resumer. raise, close,
  // ending, and any direct use of a frame of the chain take the delegation
  // apart (detach), and the yield_from goes on step by step until its sub
  // yields again.
  frame_base* innermost = nullptr;
  frame_base* sub = nullptr;
  frame_base* delegator = nullptr;
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

// Where a frame's two sets of switch slots lie in it: a switch addresses
// both from the frame (detail/switch.hpp's switch_within).
inline constexpr std::size_t body_slots = offsetof(frame_head, body);
inline constexpr std::size_t resumer_slots = offsetof(frame_head, resumer);
// Where the status word lies: a switch that carries it stores it there.
inline constexpr std::size_t status_at = offsetof(frame_head, state);

// How a resume was asked for: which errors apply (send before start), and
// whether an exception waits to be thrown at the yield.
enum class resume_kind : unsigned char { next, send, raise };

// The slow halves of the hot path, out of line. prepare_resume throws what
// a resume of h must throw (moved from, already executing, finished, send
// before start), or swaps the exception states, readies a first resume and
// takes apart a delegation that h is part of as a sub; it returns the frame
// to switch into (the innermost delegate when h delegates). swap_eh_out,
// after a switch back, keeps the body's exception state in the frame and
// gives the thread back the resumer's.
frame_base* prepare_resume(frame_head* h, eh_state* g, resume_kind how);
// A delegating frame's innermost delegate, the chain shortened on the way.
frame_base* find_innermost(frame_base* f) noexcept;
void swap_eh_out(frame_base* f, eh_state* g) noexcept;
void after_suspend_slow(frame_base* f);  // throws an injected exception
[[noreturn]] void throw_yield_outside();

// The status word of the frame a switch landed with, as the sender left
// it: carried in a register where the switch carries it (load-store
// processors: no load, and no compare of a loaded value), else read from
// the frame.
__attribute__((always_inline)) inline std::uintptr_t landed_status(const landing& l,
                                                                   const frame_head* f) noexcept {
  if constexpr (switch_carries_status)
    return l.status;
  else
    return f->status();
}

// What a resume comes back with: the frame that switched back, and its
// status word as it left it (suspended, unless it ended or a flag is set).
struct resumed {
  frame_base* frame;
  std::uintptr_t status;
};

// Whether a resume takes the fast path on either side of its switch: the
// status word says suspended with no flag, and the thread's exception state
// (g) is empty. Both are zero: on 32-bit ARM one or and one branch test
// both, a compare and a branch less than two tests; elsewhere two tests
// cost no more, and let each be what the compiler reuses (x86-64: the
// status as a compare with memory).
static_assert(status_word(co_state::suspended) == 0);
__attribute__((always_inline)) inline bool fast_path(std::uintptr_t status,
                                                     const eh_state* g) noexcept {
#if defined(__arm__)
  return (status | exception_words(g)) == 0;
#else
  return status == status_word(co_state::suspended) && !holds_exceptions(g);
#endif
}

// Switches into the frame's body until it yields or ends, handing it
// `value`; returns the frame and its status, and leaves what it yielded in
// `value`. The frame's state tells whether the body yielded or ended.
template <resume_kind How>
__attribute__((always_inline)) inline resumed resume(frame_head* h, std::uintptr_t& value) {
  eh_state* g = resume_thread_eh(h);
  auto* f = static_cast<frame_base*>(h);
  // The status word the body finds, stored and handed over with the switch.
  std::uintptr_t sent = status_word(co_state::running);
  if (!fast_path(resume_status(h), g)) [[unlikely]] {
    // Read again, from a frame pointer the compiler cannot relate to the
    // first: the fast path's check is then one compare with memory, and
    // nothing is computed ahead for this branch.
    asm("" : "+r"(h));
    f = static_cast<frame_base*>(h);
    // Read afresh where it came by h's offset: h may be a sentinel
    // (resume_status).
    if constexpr (TANDEM_EH_OFFSET_IN_FRAME) g = thread_eh();
    const std::uint16_t status = h->status();
    if (How != resume_kind::raise && status == status_word(co_state::suspended, delegating)) {
      // A send through a delegation: into the innermost body, which is
      // installed, never has own_fp_control, and yields straight back.
      f = f->innermost;
      if (f->has_in_status(delegating)) [[unlikely]]
        f = find_innermost(static_cast<frame_base*>(h));
      if (f->status() != status_word(co_state::suspended, installed) || holds_exceptions(g))
        f = prepare_resume(h, g, How);
    } else if (status != status_word(co_state::suspended, own_fp_control) ||
               holds_exceptions(g)) {  // own_fp_control alone needs no call
      f = prepare_resume(h, g, How);
    }
    const std::uint16_t flags = f->status() & 0xff00u;
    if ((flags & (unsigned{own_fp_control} << 8)) != 0) switch_fp_control(&f->resumer, &f->body);
    // An exception to throw at the yield: where the yield has a landing of
    // its own for that, the body resumes there (and only then: a resume
    // that does not switch must leave the address as it is).
    if constexpr (switch_lands_injections_apart)
      if ((flags & (unsigned{inject_pending | exit_pending} << 8)) != 0) land_at_injection(f->body);
    sent = flags | status_word(co_state::running);
    if constexpr (!switch_carries_status) f->set_status(static_cast<std::uint16_t>(sent));
    g = thread_eh();  // a thread's first resume has just found its state
  } else if constexpr (!switch_carries_status) {
    f->set_running();  // no flags: checked above
  }
  const auto* bottom = static_cast<const char*>(f->stack.bottom());
  before_resume(f->sanitizer, bottom,
                static_cast<std::size_t>(reinterpret_cast<const char*>(f) - bottom));
  // A switch that carries the status word stores it too.
  const landing l = switch_within<resumer_slots, body_slots, status_at>(f, value, sent);
  f = static_cast<frame_base*>(static_cast<frame_head*>(l.frame));
  after_resume(f->sanitizer);
  // The body's side of the switch is done here: its FP control state, and
  // its exception state when it yielded inside a catch block. g is still
  // this thread's: whatever the body does, it switches back on the thread
  // that resumed it. Where reading it again is one load, that costs less
  // than keeping it across the switch.
  if constexpr (thread_eh_is_one_load) g = thread_eh();
  const std::uintptr_t status = landed_status(l, f);
  if (!fast_path(status, g)) [[unlikely]] {
    asm("" : "+r"(f));  // read again: see above
    if (f->has_in_status(own_fp_control)) switch_fp_control(&f->body, &f->resumer);
    if (holds_exceptions(g) || f->has_in_status(resumer_eh_saved)) swap_eh_out(f, g);
  }
  value = l.value;
  // Read again where it is not carried: the caller's compare of it then
  // folds into the one above, where a copy would be kept in a register.
  return {f, switch_carries_status ? status : f->status()};
}

// A yield belongs on its own coroutine's stack, below the frame (a nested
// coroutine's body runs on another stack). One compare: the frame sits at
// the top of its stack, so the stack pointer is on the stack when it less
// the frame, a "negative" number, is above the bottom less the frame.
__attribute__((always_inline)) inline bool on_own_stack(const frame_base* f) noexcept {
  return runs_below(f, &f->stack_floor);
}

// From inside the body: switches back to the resumer with `value`; returns
// the frame, with what the next resume sends in `value`, or throws what it
// injected (raise, close). `stack_checked`: the caller has already made
// sure that on_own_stack(f).
__attribute__((always_inline)) inline frame_base* suspend(frame_base* f, std::uintptr_t& value,
                                                          bool stack_checked = false) {
  if (!stack_checked && !on_own_stack(f)) [[unlikely]]
    throw_yield_outside();
  // The resumer does the rest when the switch lands (see resume).
  // Computed as a word: a 16-bit result would be zero-extended again for
  // the register that carries it (RISC-V: two shifts).
  const std::uintptr_t suspended =
      std::uintptr_t{f->status()} & ~std::uintptr_t{0xff};  // flags kept
  if constexpr (!switch_carries_status) f->set_status(static_cast<std::uint16_t>(suspended));
  before_suspend(f->sanitizer);
  const landing l =
      switch_within<body_slots, resumer_slots, status_at, /*SameFrame=*/true>(f, value, suspended);
  f = static_cast<frame_base*>(static_cast<frame_head*>(l.frame));
  after_suspend(f->sanitizer);
  // Compared as the word the resumer stored (running, and the flags), or
  // handed over where the switch carries it, not as the flags byte alone: on AMD Zen a byte load
  // from inside a wider store, at another address than the store's, missed store forwarding (2.6 ns
  // a send against 3.6). Then tested by bits, not by comparing the status with own_fp_control's:
  // the compiler would merge the compares into one masked compare on the fast path. Read again from
  // a pointer the compiler cannot relate to f, as in resume: the check is then one compare with
  // memory.
  // Where the switch lands injections apart (x86-64, AArch64, armv7), only a resume that
  // brings an exception arrives at this branch, and a plain send tests
  // nothing.
  const bool maybe_injected = switch_lands_injections_apart
                                  ? l.status != 0
                                  : landed_status(l, f) != status_word(co_state::running);
  if (maybe_injected) [[unlikely]] {
    asm("" : "+r"(f));
    if (f->has_in_status(exit_pending)) {  // thrown here: one frame less to unwind
      f->flags = static_cast<unsigned char>(f->flags & ~exit_pending);
      throw coroutine_exit{};
    }
    if (f->has_in_status(inject_pending)) after_suspend_slow(f);
  }
  value = l.value;
  return f;
}

// Sets up a frame that was just placed at the top of its stack, and lists
// it as live under options.name (may be null). If listing it fails
// (std::bad_alloc), the frame is destroyed and its stack given back before
// the exception propagates: the caller holds nothing.
void prepare(frame_base* f, const stack_options& options);
// After a resume found the body ended: gives back the frame and points h
// at the sentinel for a finished coroutine. Returns normally when the body
// returned; rethrows a failure, mapped as the rules say.
void finish(frame_head*& h);
[[noreturn]] void throw_stop_iteration();
[[noreturn]] void throw_moved_from();
[[noreturn]] void throw_null_exception();
// raise(e) on a coroutine that is not suspended: throws what it must.
[[noreturn]] void raise_unsuspended(frame_head*& h, const std::exception_ptr& e);
[[noreturn]] void throw_ignored_exit();
// Ends a frame: destroys the body and gives back the stack.
void release(frame_base* f) noexcept;
// The destructor's close: never throws, terminates if exit is ignored.
void close_for_destruction(frame_head*& h) noexcept;
// close(); h points at a sentinel once the coroutine is finished.
void close(frame_head*& h);

// How a body ended, from inside the handler that caught what escaped it.
void record_exit(frame_base* f) noexcept;
void record_stop_iteration(frame_base* f) noexcept;
void record_failure(frame_base* f) noexcept;

// Places a frame of type Frame (a frame_base whose static run(frame_base*)
// runs the body) at the top of a new stack; the caller then calls prepare().
// The body object may take at most half of the stack.
template <class Frame, class... Args>
Frame* make_frame(const stack_options& options, Args&&... args) {
  tandem::stack s(options);
  static_assert(alignof(Frame) <= 64, "body type is over-aligned");
  const auto top = reinterpret_cast<std::uintptr_t>(s.top());
  const auto place = (top - sizeof(Frame)) & ~std::uintptr_t{63};
  if (top - place > s.size() / 2)
    throw std::invalid_argument(
        "tandem::coroutine: the body object takes more than half of the stack");
  // The frame is built around an empty stack and takes the one it lives in
  // only once whole: if the body's constructor throws, the frame is gone
  // before `held` gives the stack back, as in release(). Given back by the
  // frame's own destructor, it would be released while that destructor
  // still read and wrote the frame's members inside it (Memcheck says so).
  tandem::stack held(std::move(s));  // s is empty now
  // NOLINTNEXTLINE(performance-no-int-to-ptr,bugprone-use-after-move): inside the stack; s is empty
  auto* f = ::new (reinterpret_cast<void*>(place)) Frame(std::move(s), std::forward<Args>(args)...);
  f->stack = std::move(held);
  f->run_body = &Frame::run;
  f->destroy = [](frame_base* base) { static_cast<Frame*>(base)->~Frame(); };
  return f;
}

}  // namespace detail
}  // namespace tandem
