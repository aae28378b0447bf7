// What the fuzz harness's parts share: the input reader, the exceptions it
// injects, and observe(), which turns whatever an operation did into an
// outcome that can be compared with what the harness's model expects.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <new>
#include <stdexcept>
#include <type_traits>

#include "tandem/coroutine.hpp"
#include "tandem/loop.hpp"

// A violated invariant must reach the fuzzer as a crash, in every build
// type: assert() would vanish under NDEBUG.
#define FUZZ_CHECK(cond) ((cond) ? (void)0 : ::fuzz::fail(#cond, __FILE__, __LINE__))

namespace fuzz {

[[noreturn]] inline void fail(const char* what, const char* file, int line) {
  std::fprintf(stderr, "%s:%d: invariant violated: %s\n", file, line, what);
  std::abort();
}

// The input, read front to back. Past its end every byte reads as zero, so
// a truncated input still decodes into complete operations. Operations
// are counted: an input of any length does a bounded amount of work.
class reader {
 public:
  static constexpr int max_operations = 200;

  reader(const std::uint8_t* data, std::size_t size) : data_(data), size_(size) {}

  std::uint8_t byte() { return pos_ < size_ ? data_[pos_++] : 0; }
  int pick(int count) { return byte() % count; }
  int signed_byte() { return static_cast<std::int8_t>(byte()); }

  // Whether another operation may start (input left, budget left).
  bool take_operation() {
    if (pos_ >= size_ || used_ >= max_operations) return false;
    ++used_;
    return true;
  }

 private:
  const std::uint8_t* data_;
  std::size_t size_;
  std::size_t pos_ = 0;
  int used_ = 0;
};

// What the harness throws into bodies and tasks: one std::exception, and
// one that is not (so that catch (const std::exception&) is not enough).
class injected_error : public std::exception {
 public:
  explicit injected_error(int code) : code_(code) {}
  const char* what() const noexcept override { return "fuzz::injected_error"; }
  int code() const noexcept { return code_; }

 private:
  int code_;
};

struct foreign_error {
  int code;
};

enum class kind : std::uint8_t {
  value,              // returned a value (or returned, for void)
  stop,               // tandem::stop_iteration
  injected,           // injected_error; `value` is its code
  foreign,            // foreign_error; `value` is its code
  exit,               // tandem::coroutine_exit
  pep479,             // runtime_error "coroutine raised stop_iteration", nesting it
  ignored_exit,       // runtime_error "coroutine ignored coroutine_exit"
  already_executing,  // logic_error "coroutine already executing"
  misuse,             // any other std::logic_error
  invalid_argument,   // std::invalid_argument
  bad_alloc,          // std::bad_alloc
  cancelled,          // tandem::cancelled_error
  timeout,            // tandem::timeout_error
  invalid_state,      // tandem::invalid_state_error
};

struct outcome {
  kind what = kind::value;
  int value = 0;
  friend bool operator==(const outcome&, const outcome&) = default;
};

inline outcome returned(int v = 0) { return {kind::value, v}; }

// Exceptions that must travel on instead of being observed: coroutine_exit
// inside a task being unwound by loop.close(), cancelled_error inside a
// task, so that the task ends the way asyncio's would.
enum rethrow : unsigned { rethrow_none = 0, rethrow_exit = 1, rethrow_cancelled = 2 };

// Runs op and reports how it ended. An exception of a type the rules do
// not allow here is a failure on the spot.
template <class Op>
outcome observe(Op&& op, unsigned pass_on = rethrow_none) {
  try {
    if constexpr (std::is_void_v<std::invoke_result_t<Op&>>) {
      op();
      return returned();
    } else {
      return returned(op());
    }
  } catch (const tandem::stop_iteration&) {
    return {kind::stop, 0};
  } catch (const injected_error& e) {
    return {kind::injected, e.code()};
  } catch (const foreign_error& e) {
    return {kind::foreign, e.code};
  } catch (const tandem::coroutine_exit&) {
    if (pass_on & rethrow_exit) throw;
    return {kind::exit, 0};
  } catch (const tandem::cancelled_error&) {
    if (pass_on & rethrow_cancelled) throw;
    return {kind::cancelled, 0};
  } catch (const tandem::timeout_error&) {
    return {kind::timeout, 0};
  } catch (const tandem::invalid_state_error&) {
    return {kind::invalid_state, 0};
  } catch (const std::invalid_argument&) {
    return {kind::invalid_argument, 0};
  } catch (const std::logic_error& e) {
    return {std::strstr(e.what(), "already executing") ? kind::already_executing : kind::misuse, 0};
  } catch (const std::runtime_error& e) {
    if (std::strcmp(e.what(), "coroutine ignored coroutine_exit") == 0)
      return {kind::ignored_exit, 0};
    FUZZ_CHECK(std::strcmp(e.what(), "coroutine raised stop_iteration") == 0);
    bool nests_stop = false;  // PEP 479: the original rides along
    try {
      std::rethrow_if_nested(e);
    } catch (const tandem::stop_iteration&) {
      nests_stop = true;
    } catch (...) {
    }
    FUZZ_CHECK(nests_stop);
    return {kind::pep479, 0};
  } catch (const std::bad_alloc&) {
    return {kind::bad_alloc, 0};
  } catch (...) {
    fail("an exception of an unexpected type", __FILE__, __LINE__);
  }
}

}  // namespace fuzz
