// The type-independent half of tandem::coroutine (include/tandem/coroutine.hpp).
#include "tandem/coroutine.hpp"

#include <cxxabi.h>

#include <cstddef>
#include <cstdio>
#include <cstring>
#include <exception>
#include <mutex>
#include <stdexcept>

#include "overflow_report.hpp"

namespace tandem::detail {

constinit eh_state unknown_eh{nullptr, 1};
constinit thread_local eh_state* thread_eh_cache __attribute__((tls_model("initial-exec"))) =
    &unknown_eh;

// The C++ runtime keeps the caught-exception chain and the uncaught count
// per thread; each coroutine needs its own, so they are swapped when either
// side of a switch holds any (rarely: inside a catch block, or unwinding).
void swap_eh_in(frame_base* f, eh_state* g) noexcept {
  if (g == &unknown_eh) {  // this thread's first resume: find its state
    g = reinterpret_cast<eh_state*>(abi::__cxa_get_globals());
    thread_eh_cache = g;
    f->thread_eh = g;
    if (!holds_exceptions(g) && !f->body_eh_saved) return;
  }
  f->resumer_eh = *g;
  f->resumer_eh_saved = true;
  *g = f->body_eh;
  f->body_eh = {};
  f->body_eh_saved = false;
}

void swap_eh_out(frame_base* f, eh_state* g) noexcept {
  f->body_eh = *g;
  f->body_eh_saved = holds_exceptions(g);
  *g = f->resumer_eh_saved ? f->resumer_eh : eh_state{};
  f->resumer_eh = {};
  f->resumer_eh_saved = false;
}

namespace {

// Called first on a body's stack: ASan learns where it came from. It must
// precede any call to a [[noreturn]] function, before which the compiler
// has ASan check the stack it believes is current.
void arrive(frame_base* f) noexcept { arrive_in_body(f->sanitizer); }

// Runs the body, records how it ended, and leaves for good.
[[noreturn]] void run_to_end(frame_base* f) {
  try {
    f->run_body(f);
    f->end = co_end::returned;
  } catch (abi::__forced_unwind&) {
    throw;  // thread cancellation cannot cross into the resumer: terminate
  } catch (const coroutine_exit&) {
    f->end = co_end::exited;
    f->failure = std::current_exception();
  } catch (const stop_iteration&) {
    // PEP 479: a stop_iteration leaking out of the body would end the
    // resumer's loop as if the body had returned. Make it an error.
    f->end = co_end::failed;
    try {
      std::throw_with_nested(std::runtime_error("coroutine raised stop_iteration"));
    } catch (...) {
      f->failure = std::current_exception();
    }
  } catch (...) {
    f->end = co_end::failed;
    f->failure = std::current_exception();
  }
  eh_state* g = f->thread_eh;
  if (holds_exceptions(g) | f->resumer_eh_saved) swap_eh_out(f, g);
  f->state = co_state::done;
  before_final_suspend(f->sanitizer);
  switch_to(&f->body, &f->resumer, 0);  // nobody resumes a finished body
  std::abort();
}

#if !TANDEM_INLINE_SWITCH
// The first switch into a body arrives here through tandem_jump; the
// message's sender is the frame's resumer slot.
[[noreturn]] void portable_entry(tandem_transfer t) {
  auto* message = static_cast<switch_message*>(t.data);
  message->sender->sp = t.from;
  auto* f = reinterpret_cast<frame_base*>(reinterpret_cast<char*>(message->sender) -
                                          offsetof(frame_base, resumer));
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

namespace tandem::detail {

constinit live_frame_list live_frames;

namespace {

void list_live(frame_base* f, const char* name) noexcept {
  if (name != nullptr) std::strncpy(f->name, name, max_name_length);  // name[47] stays 0
  std::lock_guard lock(live_frames.mutex);
  f->id = ++live_frames.last_id;
  f->live_next = live_frames.head;
  if (live_frames.head != nullptr) live_frames.head->live_prev = f;
  live_frames.head = f;
}

void unlist(frame_base* f) noexcept {
  std::lock_guard lock(live_frames.mutex);
  (f->live_prev != nullptr ? f->live_prev->live_next : live_frames.head) = f->live_next;
  if (f->live_next != nullptr) f->live_next->live_prev = f->live_prev;
}

}  // namespace

void prepare(frame_base* f, const char* name) {
  list_live(f, name);
  fiber_created(f->sanitizer, f->name);
  prepare_thread_for_overflow_reports();
#if TANDEM_INLINE_SWITCH
  // The first switch jumps to the trampoline on a 16-byte aligned stack
  // just below the frame, with the creator's FP control state.
  const auto top = reinterpret_cast<std::uintptr_t>(f) & ~std::uintptr_t{15};
  f->body.sp = reinterpret_cast<void*>(top - 16);
  f->body.fp = nullptr;
#if defined(__x86_64__)
  f->body.ip = reinterpret_cast<void*>(&tandem_coroutine_start);
  asm volatile("stmxcsr %0\n\tfnstcw %1" : "=m"(f->body.mxcsr), "=m"(f->body.x87_cw));
#elif defined(__aarch64__)
  f->body.ip = sign_resume_address(reinterpret_cast<void*>(&tandem_coroutine_start), f->body.sp);
  asm volatile("mrs %0, fpcr" : "=r"(f->body.fpcr));
#endif
#else
  auto* top = reinterpret_cast<char*>(f);
  auto* bottom = static_cast<char*>(f->stack.bottom());
  f->body.sp = tandem_make_context(top, static_cast<std::size_t>(top - bottom), portable_entry);
#endif
}

void throw_already_executing() { throw std::logic_error("coroutine already executing"); }

void throw_yield_outside() {
  throw std::logic_error("tandem::yielder::yield called outside its own coroutine's body");
}

void throw_injected(frame_base* f) {
  std::exception_ptr e = std::move(f->inject);
  f->inject = nullptr;
  std::rethrow_exception(e);
}

void release(frame_base* f) noexcept {
  // Without a guard page an overflow is found only now; report it while
  // the frame still says whose stack it was.
  if (ran_off_unguarded(f->stack)) {
    write_overflow_report(subject_of(*f), nullptr);
    die_of_overflow();
  }
  unlist(f);
  fiber_destroyed(f->sanitizer);
  tandem::stack memory = std::move(f->stack);  // outlives the frame that lived in it
  f->destroy(f);
}

void rethrow_failure(frame_base* f) {
  std::exception_ptr e = std::move(f->failure);
  release(f);
  std::rethrow_exception(e);
}

void close(frame_base*& f) {
  if (f == nullptr) return;
  if (f->state == co_state::running) throw_already_executing();
  if (f->state == co_state::created) {
    release(std::exchange(f, nullptr));
    return;
  }
  f->inject = std::make_exception_ptr(coroutine_exit{});
  resume(f, 0);
  if (f->state == co_state::done) {
    frame_base* finished = std::exchange(f, nullptr);
    if (finished->end == co_end::failed) rethrow_failure(finished);
    release(finished);  // returned, or let coroutine_exit escape
    return;
  }
  throw_ignored_exit();  // it yielded: still suspended
}

void terminate_moved_running() noexcept {
  std::fputs("tandem: a running coroutine was moved (from inside its own body?)\n", stderr);
  std::terminate();
}

void close_for_destruction(frame_base*& f) noexcept {
  if (f == nullptr) return;
  if (f->state == co_state::running) {
    std::fputs("tandem: a running coroutine was destroyed (from inside its own body?)\n", stderr);
    std::terminate();
  }
  try {
    close(f);
    return;
  } catch (const std::exception& e) {
    if (f == nullptr)
      std::fprintf(stderr, "tandem: exception ignored in ~coroutine: %s\n", e.what());
  } catch (...) {
    if (f == nullptr) std::fputs("tandem: exception ignored in ~coroutine\n", stderr);
  }
  if (f != nullptr) {  // the body yielded after coroutine_exit
    std::fputs("tandem: a coroutine being destroyed ignored coroutine_exit and yielded\n", stderr);
    std::terminate();
  }
}

void throw_moved_from() {
  throw std::logic_error("tandem::coroutine: use of a moved-from coroutine");
}
void throw_send_before_start() {
  throw std::logic_error(
      "tandem::coroutine::send: can't send a value to a just-started coroutine; call next() "
      "first");
}
void throw_null_exception() {
  throw std::invalid_argument("tandem::coroutine::raise: the exception_ptr is null");
}
void throw_ignored_exit() { throw std::runtime_error("coroutine ignored coroutine_exit"); }

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
