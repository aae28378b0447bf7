// tandem/threads.hpp: blocking work off the loop's thread (asyncio.to_thread).
//
//     auto addresses = tandem::to_thread([&] { return resolve(host); });
//
// fn runs on a worker thread while the calling task waits; the loop runs
// other tasks meanwhile. Rules (docs/rules.md, section 9):
//  - fn's value is returned (moved), and its exception rethrown, in the task.
//  - Cancelling the task makes to_thread throw cancelled_error at once. A
//    fn already running goes on to its end on its thread, and its result is
//    dropped; a fn not yet started never runs.
//  - The worker pool belongs to the loop: it is made on first use, grows to
//    at least min(32, hardware threads + 4) workers as work arrives, and the
//    loop's close() waits for the fns that are running.
//  - When the pool must grow and no thread starts, to_thread throws that
//    std::system_error (EAGAIN) and fn never runs.
// fn must not touch the loop or its tasks (only call_soon_threadsafe). A
// suspending call: outside a task, or inside a generator coroutine running
// in a task, std::logic_error.
#pragma once

#include <atomic>
#include <cstddef>
#include <exception>
#include <memory>
#include <optional>
#include <type_traits>
#include <utility>

#include "tandem/task.hpp"

namespace tandem {

namespace detail {

// One fn handed to the loop's workers. Its value is written on the worker
// and read by the task after the loop's cross-thread wake-up, which orders
// the two.
class thread_job {
 public:
  enum state : int { queued, running, finished, abandoned };
  thread_job() = default;
  thread_job(const thread_job&) = delete;
  thread_job& operator=(const thread_job&) = delete;
  virtual ~thread_job() = default;

  virtual void run() noexcept = 0;  // on a worker: fn, its value or exception kept
  std::atomic<int> state{queued};
  std::exception_ptr failure;
};

template <class R, class F>
class thread_job_for final : public thread_job {
 public:
  explicit thread_job_for(F fn) : fn_(std::move(fn)) {}
  void run() noexcept override {
    try {
      if constexpr (std::is_void_v<R>) {
        fn_();
      } else {
        value_.emplace(fn_());
      }
    } catch (...) {
      failure = std::current_exception();
    }
  }
  R take() {
    if (failure) std::rethrow_exception(failure);
    if constexpr (!std::is_void_v<R>) return std::move(*value_);
  }

 private:
  F fn_;
  std::optional<std::conditional_t<std::is_void_v<R>, char, R>> value_;
};

// Hands job to the current task's loop's workers and suspends until it is
// finished; cancelled_error at once if the task is cancelled.
void run_on_worker(const std::shared_ptr<thread_job>& job);
// The most workers a loop's pool grows to.
std::size_t max_thread_workers() noexcept;

}  // namespace detail

template <class F>
auto to_thread(F&& fn) -> std::invoke_result_t<std::decay_t<F>&> {
  using R = std::invoke_result_t<std::decay_t<F>&>;
  auto job = std::make_shared<detail::thread_job_for<R, std::decay_t<F>>>(std::forward<F>(fn));
  detail::run_on_worker(job);
  return job->take();
}

}  // namespace tandem
