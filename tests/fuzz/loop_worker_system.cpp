// Workers' instructions that reach outside the loop's thread: to_thread
// (docs/rules.md, section 9) and signal handlers (loop rule 12).
//
// Thread timing decides nothing the checks look at: a fn's value or
// exception comes back through the loop, and a fn meant to be running
// when its task is cancelled signals that it started, and waits for the
// cancellation, before it ends.
#include <signal.h>

#include <array>
#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <thread>

#include "loop_script_state.hpp"

namespace fuzz::script {
namespace {

using namespace std::chrono_literals;

enum thread_how { thread_value, thread_throws, thread_cancelled };
enum signal_how { signal_add, signal_remove, signal_raise, signal_refused };

constexpr std::array<int, signal_count> signal_numbers{SIGUSR1, SIGUSR2};

// The disposition the harness installs before a loop's handlers (what
// close() and remove_signal_handler must put back); it is never raised.
extern "C" void stray_signal(int) {}

bool stray_handler_in_place(int signum) {
  struct sigaction now {};
  FUZZ_CHECK(::sigaction(signum, nullptr, &now) == 0);
  return (now.sa_flags & SA_SIGINFO) == 0 && now.sa_handler == stray_signal;
}

void wait_until(const std::atomic<bool>& flag) {
  while (!flag.load(std::memory_order_acquire)) std::this_thread::yield();
}

}  // namespace

void loop_script::thread_call(int i, const instruction& ins) {
  worker& w = workers_[i];
  const int v = ins.b;
  auto call = std::make_shared<thread_call_state>();
  if (ins.a == thread_cancelled) {
    loop_.call_soon([this, i, call] { cancel_once_running(i, call); });
  } else {
    call->released.store(true);
  }
  outcome got;
  {
    flag_scope waiting(w.in_thread);
    struct release {  // however the wait ends, the fn may end too
      thread_call_state& call;
      ~release() { call.released.store(true, std::memory_order_release); }
    } guard{*call};
    got = observe(
        [&] {
          return tandem::to_thread([this, v, how = ins.a, call] {
            ++thread_fns_started_;
            call->started.store(true, std::memory_order_release);
            wait_until(call->released);
            ++thread_fns_finished_;
            if (how == thread_throws) throw injected_error(v);
            return 7 * v;
          });
        },
        rethrow_exit);
  }
  switch (ins.a) {
    case thread_value:  // or cancelled by another task
      FUZZ_CHECK(got == returned(7 * v) || got.what == kind::cancelled);
      break;
    case thread_throws:
      FUZZ_CHECK(got == (outcome{kind::injected, v}) || got.what == kind::cancelled);
      break;
    default:
      FUZZ_CHECK(got.what == kind::cancelled);
      break;
  }
  pass_on_cancellation(got);
}

// A callback on the loop, run each iteration until the fn of worker i's
// to_thread runs; then it cancels the worker: to_thread throws at once,
// and the fn's value is dropped. If the worker left that to_thread first
// (cancelled by something else, its fn perhaps never started), there is
// nothing to do.
void loop_script::cancel_once_running(int i, const std::shared_ptr<thread_call_state>& call) {
  if (call->released.load(std::memory_order_acquire)) return;
  if (!call->started.load(std::memory_order_acquire)) {
    loop_.call_soon([this, i, call] { cancel_once_running(i, call); });
    return;
  }
  cancel_worker(i);
}

void loop_script::install_stray_handlers() {
  for (int k = 0; k < signal_count; ++k) {
    struct sigaction action {};
    action.sa_handler = stray_signal;
    sigemptyset(&action.sa_mask);
    FUZZ_CHECK(::sigaction(signal_numbers[k], &action, &disposition_before_[k]) == 0);
  }
}

// After close(): the loop put back what was there before its handlers.
void loop_script::check_and_restore_dispositions() {
  for (int k = 0; k < signal_count; ++k) {
    FUZZ_CHECK(stray_handler_in_place(signal_numbers[k]));
    FUZZ_CHECK(::sigaction(signal_numbers[k], &disposition_before_[k], nullptr) == 0);
  }
}

// A handler's callback: on the loop's thread, as a callback of this loop.
void loop_script::on_signal(int k) {
  FUZZ_CHECK(std::this_thread::get_id() == loop_thread_);
  FUZZ_CHECK(&tandem::current_loop() == &loop_);
  ++signal_runs_[k];
  signal_seen_[k].set();
}

void loop_script::signal_op(const instruction& ins) {
  const int k = ins.b & 1;
  const int signum = signal_numbers[k];
  switch (ins.a) {
    case signal_add:  // a second one replaces the first
      FUZZ_CHECK(observe([&] { loop_.add_signal_handler(signum, [this, k] { on_signal(k); }); }) ==
                 returned());
      handler_installed_[k] = true;
      break;
    case signal_remove: {
      const bool removed = loop_.remove_signal_handler(signum);
      FUZZ_CHECK(removed == handler_installed_[k]);
      if (removed) {
        handler_installed_[k] = false;
        ++handler_removals_[k];
        signal_seen_[k].set();  // a raise waiting for the callback gives up
      }
      break;
    }
    case signal_raise: {
      if (!handler_installed_[k]) break;
      const int runs = signal_runs_[k];
      const int removals = handler_removals_[k];
      FUZZ_CHECK(::raise(signum) == 0);
      FUZZ_CHECK(signal_runs_[k] == runs);  // not in signal context: a callback, later
      // The callback runs on a later iteration, unless the handler is
      // removed first. Bounded, so that a lost signal shows as a failure.
      const outcome got = observe(
          [&] {
            return tandem::timeout(10s, [&] {
              while (signal_runs_[k] == runs && handler_removals_[k] == removals) {
                signal_seen_[k].clear();
                signal_seen_[k].wait();
              }
              return 0;
            });
          },
          rethrow_exit);
      FUZZ_CHECK(got == returned() || got.what == kind::cancelled);
      pass_on_cancellation(got);
      break;
    }
    default: {  // numbers no handler may take, and an empty callback
      constexpr std::array<int, 6> refused{SIGKILL, SIGSTOP, 0, 1000, -1, NSIG};
      const int which = (ins.b >> 1) % 7;
      if (which < 6) {
        FUZZ_CHECK(observe([&] { loop_.add_signal_handler(refused[which], [] {}); }).what ==
                   kind::invalid_argument);
        const outcome removed =
            observe([&] { return loop_.remove_signal_handler(refused[which]) ? 1 : 0; });
        if (which < 2) {
          FUZZ_CHECK(removed == returned(0));  // SIGKILL, SIGSTOP: signals, with no handler
        } else {
          FUZZ_CHECK(removed.what == kind::invalid_argument);  // no signal at all
        }
      } else {
        FUZZ_CHECK(observe([&] {
                     loop_.add_signal_handler(signum, std::function<void()>{});
                   }).what == kind::invalid_argument);
      }
      break;
    }
  }
  // The disposition from before is in place exactly while no handler is.
  FUZZ_CHECK(stray_handler_in_place(signum) == !handler_installed_[k]);
}

}  // namespace fuzz::script
