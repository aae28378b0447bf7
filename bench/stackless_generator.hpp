// A C++20 stackless generator with a two-way send, as the baseline the
// stackful switches are measured against: the cheapest suspension a
// standard compiler offers, one indirect call into a heap frame and back.
//
// The bodies live in stackless_bodies.cpp, out of sight of the benchmark
// loop: with the body inlined, GCC could fold the whole ping-pong into
// arithmetic and measure nothing. The driver side (send) is here, inline,
// as a stackful coroutine's resume is inline in its own header.
#pragma once

#include <coroutine>
#include <exception>
#include <stdexcept>
#include <utility>

namespace bench {

// Yields long and receives long: `long in = co_yield out;`.
class stackless_generator {
 public:
  struct promise_type {
    long out = 0;
    long in = 0;
    std::exception_ptr failure;

    stackless_generator get_return_object() noexcept {
      return stackless_generator(std::coroutine_handle<promise_type>::from_promise(*this));
    }
    // Lazy start, like a Python generator: nothing runs until next().
    std::suspend_always initial_suspend() noexcept { return {}; }
    // Suspending at the end keeps the frame alive for the owner to destroy;
    // falling off would free it behind the owner's back.
    std::suspend_always final_suspend() noexcept { return {}; }
    void return_void() noexcept {}
    // Stored rather than rethrown here, so the frame is left in a state the
    // owner can still destroy, and the caller of send() sees the exception.
    void unhandled_exception() noexcept { failure = std::current_exception(); }

    struct yield_awaiter {
      promise_type* promise;
      bool await_ready() const noexcept { return false; }
      void await_suspend(std::coroutine_handle<>) const noexcept {}
      // clang-analyzer never models the promise's construction (its
      // default member initializers) and calls `in` garbage:
      // llvm/llvm-project#208531.
      long await_resume() const noexcept {
        return promise->in;  // NOLINT(clang-analyzer-core.uninitialized.UndefReturn)
      }
    };
    yield_awaiter yield_value(long value) noexcept {
      out = value;
      return yield_awaiter{this};
    }
  };

  stackless_generator(stackless_generator&& other) noexcept
      : handle_(std::exchange(other.handle_, nullptr)) {}
  stackless_generator& operator=(stackless_generator&& other) noexcept {
    if (this != &other) {
      if (handle_) handle_.destroy();
      handle_ = std::exchange(other.handle_, nullptr);
    }
    return *this;
  }
  stackless_generator(const stackless_generator&) = delete;
  stackless_generator& operator=(const stackless_generator&) = delete;
  ~stackless_generator() {
    if (handle_) handle_.destroy();
  }

  // Runs the body to its first yield (or, later, resumes it with 0).
  long next() { return send(0); }

  // The pending co_yield returns value; returns the next yielded value.
  long send(long value) {
    // Resuming a coroutine suspended at its final point is undefined.
    if (!handle_ || handle_.done()) throw std::logic_error("stackless_generator: finished");
    handle_.promise().in = value;
    handle_.resume();
    if (handle_.done()) {
      if (handle_.promise().failure) std::rethrow_exception(handle_.promise().failure);
      throw std::logic_error("stackless_generator: the body returned");
    }
    return handle_.promise().out;
  }

  // For iterating to the end without exceptions, as a range-for does:
  // resumes the body; true if it yielded (value() is what), false if it
  // returned.
  bool advance() {
    handle_.resume();
    if (handle_.done() && handle_.promise().failure)
      std::rethrow_exception(handle_.promise().failure);
    return !handle_.done();
  }
  long value() const noexcept { return handle_.promise().out; }

 private:
  explicit stackless_generator(std::coroutine_handle<promise_type> handle) noexcept
      : handle_(handle) {}
  std::coroutine_handle<promise_type> handle_;
};

// The seed's coroutine_1 / coroutine_2: yields return_value, then answers
// each sent input_value with input_value + 1. Defined in stackless_bodies.cpp.
stackless_generator stackless_adder();

// Yields 1, 2, 3 and returns: a short generator's whole life.
stackless_generator stackless_three();

}  // namespace bench
