// The type-independent half of tandem::coroutine (include/tandem/coroutine.hpp).
#include "tandem/coroutine.hpp"

#include <cxxabi.h>

#include <cstddef>
#include <cstdio>
#include <cstring>
#include <exception>
#include <stdexcept>

#include "frame_registry.hpp"
#include "overflow_report.hpp"

namespace tandem::detail {

constinit eh_state unknown_eh{nullptr, 1};
constinit thread_local eh_state* thread_eh_cache __attribute__((tls_model("initial-exec"))) =
    &unknown_eh;

#ifdef TANDEM_THREAD_EH_OUT_OF_LINE
eh_state* thread_eh() noexcept { return thread_eh_cache; }
#endif

constinit const frame_head ended_frame{{}, {}, co_state::done, 0};
constinit const frame_head ended_unstarted_frame{{}, {}, co_state::done, ended_unstarted};
constinit const frame_head moved_from_frame{{}, {}, co_state::moved_from, 0};

namespace {

// The C++ runtime keeps the caught-exception chain and the uncaught count
// per thread; each coroutine needs its own, so they are swapped when either
// side of a switch holds any (rarely: inside a catch block, or unwinding).
// Returns the thread's eh_state.
eh_state* swap_eh_in(frame_base* f, eh_state* g) noexcept {
  if (g == &unknown_eh) {  // this thread's first resume: find its state
    g = reinterpret_cast<eh_state*>(abi::__cxa_get_globals());
#if UINTPTR_MAX > 0xffffffffu
    g->padding = 0;  // read with the count by holds_exceptions
#endif
    thread_eh_cache = g;
  }
  if (!holds_exceptions(g) && !f->has(body_eh_saved)) return g;
  f->resumer_eh = *g;
  *g = f->body_eh;
  f->body_eh = {};
  f->flags = static_cast<unsigned char>((f->flags & ~body_eh_saved) | resumer_eh_saved);
  return g;
}

[[noreturn]] void throw_already_executing() {
  throw std::logic_error("coroutine already executing");
}

[[noreturn]] void throw_send_before_start() {
  throw std::logic_error(
      "tandem::coroutine::send: can't send a value to a just-started coroutine; call next() "
      "first");
}

bool is_running(const frame_head* h) noexcept {
  return h->state == co_state::running || (h->has(delegating) && chain_running(h));
}

// Throws for a coroutine that no operation may resume now.
void refuse_moved_or_running(const frame_head* h) {
  if (h->state == co_state::moved_from) throw_moved_from();
  if (is_running(h)) throw_already_executing();
}

// Takes the installed sub x out of its delegator's chain: the delegator's
// yield_from, when next woken, goes on step by step. Every frame above
// that pointed into x's part of the chain points at the delegator now.
void detach_from_delegator(frame_base* x) noexcept {
  frame_base* d = x->delegator;
  x->delegator = nullptr;
  x->flags = static_cast<unsigned char>(x->flags & ~installed);
  d->flags = static_cast<unsigned char>(d->flags & ~delegating);
  d->sub = nullptr;
  d->innermost = nullptr;
  for (frame_base* above = d->delegator; above != nullptr; above = above->delegator)
    above->innermost = d;
}

// h is used directly (raised into, closed, moved): it leaves the chain it
// is installed in, and the delegation below it is taken apart.
void detach_around(frame_head* h) noexcept {
  auto* f = static_cast<frame_base*>(h);
  if (f->has(installed)) detach_from_delegator(f);
  if (f->has(delegating)) detach_from_delegator(f->sub);
}

}  // namespace

frame_base* find_innermost(frame_base* f) noexcept {
  frame_base* t = f->innermost;
  while (t->has(delegating)) t = t->innermost;
  f->innermost = t;  // the next send goes there at once
  return t;
}

bool chain_running(const frame_head* h) noexcept {
  if (!h->has(delegating)) return h->state == co_state::running;
  const frame_base* t = static_cast<const frame_base*>(h)->innermost;
  while (t->has(delegating)) t = t->innermost;
  return t->state == co_state::running;
}

void swap_eh_out(frame_base* f, eh_state* g) noexcept {
  f->body_eh = *g;
  const bool body_holds = holds_exceptions(g);
  *g = f->has(resumer_eh_saved) ? f->resumer_eh : eh_state{};
  f->resumer_eh = {};
  f->flags = static_cast<unsigned char>((f->flags & ~(resumer_eh_saved | body_eh_saved)) |
                                        (body_holds ? body_eh_saved : 0));
}

frame_base* prepare_resume(frame_head* h, eh_state* g, resume_kind how) {
  refuse_moved_or_running(h);
  auto* f = static_cast<frame_base*>(h);
  // Resumed by its own handle, an installed sub leaves its delegator's
  // chain: when it ends, it returns here, not into the delegator.
  if (f->has(installed)) detach_from_delegator(f);
  if (how != resume_kind::raise && f->has(delegating)) f = find_innermost(f);
  switch (f->state) {
    case co_state::done:
      throw_stop_iteration();
    case co_state::created:
      if (how == resume_kind::send) throw_send_before_start();
      // Its own FP control state starts as its first resumer's.
      if (f->has(own_fp_control)) store_fp_control(&f->body);
      break;
    default:  // suspended
      break;
  }
  swap_eh_in(f, g);
  return f;
}

void prepare_raise(frame_head* h) {
  refuse_moved_or_running(h);
  detach_around(h);
}

void finish_delegate(frame_base* me, frame_head*& sub) {
  if (sub->state != co_state::done || sub == sentinel(ended_frame) ||
      sub == sentinel(ended_unstarted_frame))
    return;  // finished elsewhere
  after_collapse(me->sanitizer, static_cast<frame_base*>(sub)->sanitizer);
  finish(sub);
}

void after_suspend_slow(frame_base* f) {
  if (!f->has(inject_pending)) return;
  f->flags = static_cast<unsigned char>(f->flags & ~inject_pending);
  std::exception_ptr e = std::move(f->inject);
  f->inject = nullptr;
  std::rethrow_exception(e);
}

void record_exit(frame_base* f) noexcept {
  f->end = co_end::exited;
  f->failure = std::current_exception();  // raise(coroutine_exit{}) propagates it
}

void record_stop_iteration(frame_base* f) noexcept {
  // PEP 479: a stop_iteration leaking out of the body would end the
  // resumer's loop as if the body had returned. Make it an error.
  f->end = co_end::failed;
  try {
    std::throw_with_nested(std::runtime_error("coroutine raised stop_iteration"));
  } catch (...) {
    f->failure = std::current_exception();
  }
}

void record_failure(frame_base* f) noexcept {
  f->end = co_end::failed;
  f->failure = std::current_exception();
}

namespace {

// Called first on a body's stack: ASan learns where it came from. It must
// precede any call to a [[noreturn]] function, before which the compiler
// has ASan check the stack it believes is current.
void arrive(frame_base* f) noexcept { arrive_in_body(f->sanitizer); }

// An installed sub ended: its delegator's yield_from takes over, with the
// sub's resumer as its own (generator rule 16). The sub's frame stays until
// that yield_from has taken its result (finish_delegate).
[[noreturn]] void hand_over_to_delegator(frame_base* f) {
  frame_base* d = f->delegator;
  detach_from_delegator(f);
  // The resumer's exception state passes from f to d, as a resume of d
  // would take it (no switch to the resumer comes between).
  eh_state* g = thread_eh();
  if (holds_exceptions(g) || f->has(resumer_eh_saved)) swap_eh_out(f, g);
  d->resumer = f->resumer;
  swap_eh_in(d, g);
  d->state = co_state::running;
  const auto* bottom = static_cast<const char*>(d->stack.bottom());
  before_collapse(f->sanitizer, d->sanitizer, bottom,
                  static_cast<std::size_t>(reinterpret_cast<const char*>(d) - bottom));
  // Installed frames share the FP state; d's yield_from lands as from a
  // resume of d, which it suspended into.
  leave_for<body_slots, resumer_slots>(d, 0, d->status());
}

// Runs the body, records how it ended, and leaves for good.
[[noreturn]] void run_to_end(frame_base* f) {
  f->run_body(f);  // records how the body ended
  f->state = co_state::done;
  if (f->has(installed)) hand_over_to_delegator(f);
  before_final_suspend(f->sanitizer);
  // Nobody resumes a finished body. The resumer takes back its FP control
  // and exception state when it lands, as after a yield.
  leave_for<resumer_slots, body_slots>(f, 0, f->status());
}

#if !TANDEM_INLINE_SWITCH
// The first switch into a body arrives here through tandem_jump; the
// message's sender is the frame's resumer slot. The body starts with its
// first resumer's FP environment, shared or its own (generator rule 14), not with the
// one its context was made with.
[[noreturn]] void portable_entry(tandem_transfer t) {
  auto* message = static_cast<switch_message*>(t.data);
  message->sender->sp = t.from;
  adopt_fp_environment(message->fp);
  auto* f = static_cast<frame_base*>(static_cast<frame_head*>(message->frame));
  arrive(f);
  run_to_end(f);
}
#endif

}  // namespace

}  // namespace tandem::detail

// Where asm/'s tandem_coroutine_start hands over a starting body.
extern "C" [[noreturn]] __attribute__((visibility("hidden"))) void tandem_detail_coroutine_main(
    tandem::detail::frame_base* f) {
  tandem::detail::arrive(f);
  tandem::detail::run_to_end(f);
}

#if TANDEM_INLINE_SWITCH
extern "C" void tandem_coroutine_start();  // asm/: calls tandem_detail_coroutine_main
#endif

#if TANDEM_INLINE_SWITCH && defined(__arm__)
#include "arm_aapcs_frame.h"
// own_fp_control keeps the same FPSCR bits per coroutine as tandem_jump per context.
static_assert(tandem::detail::fpscr_control_bits == TANDEM_FPSCR_CONTROL);
#endif

#if TANDEM_INLINE_SWITCH && defined(__aarch64__)
// The switch's choice of signed or plain resume addresses, as this library
// made it (detail/switch_aarch64.hpp): code built with the other one does
// not link against it.
extern "C" constinit const char TANDEM_SWITCH_ABI_SYMBOL = 0;
#endif

#if TANDEM_INLINE_SWITCH && defined(__riscv)
#include "riscv64_sysv_frame.h"
// tandem_coroutine_start stores the resumer's resume address itself.
static_assert(tandem::detail::resumer_slots + offsetof(tandem::detail::switch_slots, ip) ==
              TANDEM_SWITCH_RESUMER_IP);
#endif

namespace tandem::detail {

namespace {

// Destroys the body and gives back the stack the frame lived in.
void destroy_frame(frame_base* f) noexcept {
  tandem::stack memory = std::move(f->stack);  // outlives the frame that lived in it
  f->destroy(f);
}

}  // namespace

void prepare(frame_base* f, const stack_options& options) {
  if (options.name != nullptr)
    std::strncpy(f->name, options.name, max_name_length);  // [47] stays 0
  try {
    list_frame(f);  // the only step that can fail: the registry grows by a chunk
  } catch (...) {
    // Unlisted, the frame cannot go through release(): the caller, which
    // has no handle on it yet, would keep its stack from the pool for good.
    destroy_frame(f);
    throw;
  }
  fiber_created(f->sanitizer, f->name);
  prepare_thread_for_overflow_reports();
  if (options.own_fp_control) f->flags = own_fp_control;
#if TANDEM_EH_OFFSET_IN_FRAME
  f->eh_offset = thread_eh_offset();
#endif
  f->stack_floor =
      reinterpret_cast<std::uintptr_t>(f->stack.bottom()) - reinterpret_cast<std::uintptr_t>(f);
#if TANDEM_INLINE_SWITCH
  set_first_resume(f->body, reinterpret_cast<std::uintptr_t>(f), &tandem_coroutine_start);
#else
  auto* top = reinterpret_cast<char*>(f);
  auto* bottom = static_cast<char*>(f->stack.bottom());
  f->body.sp = tandem_make_context(top, static_cast<std::size_t>(top - bottom), portable_entry);
#endif
}

void throw_yield_outside() {
  throw std::logic_error("tandem::yielder::yield called outside its own coroutine's body");
}

void release(frame_base* f) noexcept {
  // Without a guard page an overflow is found only now; report it while
  // the frame still says whose stack it was.
  if (ran_off_unguarded(f->stack)) {
    write_overflow_report(subject_of(*f), nullptr);
    die_of_overflow();
  }
  unlist_frame(f);
  fiber_destroyed(f->sanitizer);
  destroy_frame(f);
}

namespace {

[[noreturn]] void rethrow_failure(frame_base* f) {
  std::exception_ptr e = std::move(f->failure);
  release(f);
  std::rethrow_exception(e);
}

}  // namespace

void finish(frame_head*& h) {
  auto* f = static_cast<frame_base*>(h);
  h = sentinel(ended_frame);
  if (f->end != co_end::returned) rethrow_failure(f);
  release(f);
}

void raise_unsuspended(frame_head*& h, const std::exception_ptr& e) {
  if (h->state == co_state::moved_from) throw_moved_from();
  if (!e) throw_null_exception();
  switch (h->state) {
    case co_state::running:
      throw_already_executing();
    case co_state::created:  // the body never runs
      release(static_cast<frame_base*>(std::exchange(h, sentinel(ended_unstarted_frame))));
      try {
        std::rethrow_exception(e);
      } catch (const stop_iteration&) {  // PEP 479, as if raised at the body's start
        std::throw_with_nested(std::runtime_error("coroutine raised stop_iteration"));
      }
    default:  // finished
      break;
  }
  std::rethrow_exception(e);
}

void close(frame_head*& h) {
  refuse_moved_or_running(h);
  if (h->state == co_state::done) return;
  if (h->state == co_state::created) {
    release(static_cast<frame_base*>(std::exchange(h, sentinel(ended_unstarted_frame))));
    return;
  }
  auto* f = static_cast<frame_base*>(h);
  detach_around(h);  // close walks a delegation chain: the yield_from closes its sub
  f->flags |= exit_pending;
  std::uintptr_t word = 0;
  if (resume<resume_kind::raise>(h, word).frame->state == co_state::done) {
    h = sentinel(ended_frame);
    if (f->end == co_end::failed) rethrow_failure(f);
    release(f);  // returned, or let coroutine_exit escape
    return;
  }
  throw_ignored_exit();  // it yielded: still suspended
}

void prepare_move_slow(frame_head* h) noexcept {
  if (is_running(h)) {
    std::fputs("tandem: a running coroutine was moved (from inside its own body?)\n", stderr);
    std::terminate();
  }
  auto* f = static_cast<frame_base*>(h);
  if (f->has(installed)) detach_from_delegator(f);
}

void close_for_destruction(frame_head*& h) noexcept {
  const auto finished = [&h] {
    return h->state == co_state::done || h->state == co_state::moved_from;
  };
  if (finished()) return;
  if (is_running(h)) {
    std::fputs("tandem: a running coroutine was destroyed (from inside its own body?)\n", stderr);
    std::terminate();
  }
  try {
    close(h);
    return;
  } catch (const std::exception& e) {
    if (finished()) std::fprintf(stderr, "tandem: exception ignored in ~coroutine: %s\n", e.what());
  } catch (...) {
    if (finished()) std::fputs("tandem: exception ignored in ~coroutine\n", stderr);
  }
  if (!finished()) {  // the body yielded after coroutine_exit
    std::fputs("tandem: a coroutine being destroyed ignored coroutine_exit and yielded\n", stderr);
    std::terminate();
  }
}

void throw_stop_iteration() { throw stop_iteration(); }
void throw_moved_from() {
  throw std::logic_error("tandem::coroutine: use of a moved-from coroutine");
}
void throw_null_exception() {
  throw std::invalid_argument("tandem::coroutine::raise: the exception_ptr is null");
}
void throw_ignored_exit() { throw std::runtime_error("coroutine ignored coroutine_exit"); }
void throw_no_result() {
  throw std::logic_error(
      "tandem::coroutine::result: the body has not returned a value (not finished, or it ended "
      "by an exception)");
}
void throw_next_needs_default_in() {
  throw std::logic_error(
      "tandem::yielder::yield_from: the sub has started and its In is not default-constructible, "
      "so it cannot be resumed with next()");
}
void refuse_delegation_to(const frame_head* sub) { refuse_moved_or_running(sub); }

}  // namespace tandem::detail

// gdb support (tools/gdb/tandem.py: info tandem, tandem bt). The script
// itself is embedded in the .debug_gdb_scripts section, which gdb reads to
// run it when the program (or libtandem.so) is loaded, provided its path is
// in gdb's auto-load safe-path (README.md, "Debugging with gdb"). Inlined
// rather than named by path, so that installed and copied binaries keep it.
// This file is linked whenever coroutines are used, so static links get the
// section too. The section is not loaded at run time, and strip -g drops it.
// Entry format: a byte 4 (an inlined Python script), a first line that
// names it, the text, a NUL. "MS" makes identical entries merge at link.
#if defined(TANDEM_GDB_SCRIPT) && defined(__ELF__)
asm(".pushsection .debug_gdb_scripts, \"MS\", %progbits, 1\n"
    ".byte 4\n"
    ".ascii \"tandem.py\\n\"\n"
    ".incbin \"" TANDEM_GDB_SCRIPT
    "\"\n"
    ".byte 0\n"
    ".popsection\n");
#endif
