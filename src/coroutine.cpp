// The type-independent half of tandem::coroutine (include/tandem/coroutine.hpp).
#include "tandem/coroutine.hpp"

#include <cxxabi.h>

#include <cstdio>
#include <exception>
#include <stdexcept>

namespace tandem::detail {
namespace {

// The C++ runtime keeps the caught-exception chain and the uncaught count
// per thread; a coroutine needs its own, so they are swapped on every switch.
eh_state& thread_eh() noexcept { return *reinterpret_cast<eh_state*>(abi::__cxa_get_globals()); }

// The frame whose body runs on this thread right now, if any.
thread_local frame_base* current = nullptr;

[[noreturn]] void entry(tandem_transfer t) {
  auto* f = static_cast<frame_base*>(t.data);
  f->resumer = t.from;
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
  f->state = co_state::done;
  tandem_jump(f->resumer, nullptr);  // for good: nobody resumes a finished body
  std::abort();
}

}  // namespace

void prepare(frame_base* f) {
  auto* top = reinterpret_cast<char*>(f);
  auto* bottom = static_cast<char*>(f->stack.bottom());
  f->context = tandem_make_context(top, static_cast<std::size_t>(top - bottom), entry);
}

void resume(frame_base* f) {
  if (f->state == co_state::running) throw std::logic_error("coroutine already executing");
  eh_state& eh = thread_eh();
  const eh_state resumers = eh;
  eh = f->eh;
  frame_base* const outer = current;
  current = f;
  f->state = co_state::running;

  const tandem_transfer t = tandem_jump(f->context, f);

  f->context = t.from;
  current = outer;
  eh_state& here = thread_eh();  // the same thread: the resumer never moved
  f->eh = here;
  here = resumers;
}

void suspend(frame_base* f) {
  if (current != f)
    throw std::logic_error("tandem::yielder::yield called outside its own coroutine's body");
  f->state = co_state::suspended;
  const tandem_transfer t = tandem_jump(f->resumer, nullptr);
  f->resumer = t.from;
  if (f->inject) {
    std::exception_ptr e = std::move(f->inject);
    f->inject = nullptr;
    std::rethrow_exception(e);
  }
}

void release(frame_base* f) noexcept {
  tandem::stack memory = std::move(f->stack);  // outlives the frame that lived in it
  f->destroy(f);
}

void rethrow_failure(frame_base* f) {
  std::exception_ptr e = std::move(f->failure);
  release(f);
  std::rethrow_exception(e);
}

bool close(frame_base*& f) {
  if (f == nullptr) return false;
  if (f->state == co_state::running) throw std::logic_error("coroutine already executing");
  if (f->state == co_state::created) {
    release(f);
    f = nullptr;
    return false;
  }
  f->inject = std::make_exception_ptr(coroutine_exit{});
  f->in = nullptr;
  resume(f);
  if (f->state == co_state::done) {
    frame_base* finished = std::exchange(f, nullptr);
    if (finished->end == co_end::failed) rethrow_failure(finished);
    release(finished);  // returned, or let coroutine_exit escape
    return false;
  }
  throw_ignored_exit();  // it yielded: still suspended
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
