// The differential test's generator body shapes over tandem::coroutine:
// twins of the CPython generators in shapes.py, one for one.
#pragma once

#include <exception>
#include <optional>
#include <string>

#include "tandem/coroutine.hpp"

namespace differential {

using generator = tandem::coroutine<long, long>;
// The delegation family's bodies return a value (shapes.py's
// DELEGATION_SHAPES).
using valued_generator = tandem::coroutine<long, long, long>;

// Thrown into bodies by raise(): the twin of shapes.py's CodedError(code).
class coded_error : public std::exception {
 public:
  explicit coded_error(long code) : code_(code) {}
  long code() const noexcept { return code_; }
  const char* what() const noexcept override { return "coded_error"; }

 private:
  long code_;
};

// What bodies leave behind besides their outcomes; compared after the
// operations and again after teardown.
struct effects {
  long finally_runs = 0;
  long caught = 0;
  long exits_seen = 0;
  long received = 0;
};

// The shape called name, with parameters a and b, updating fx (which must
// outlive it); nullopt if there is no such shape.
std::optional<generator> make_shape(const std::string& name, long a, long b, effects& fx);

// The same for the delegation family: a body that returns a value, or a
// chain "yf<depth>_<leaf>" of yield_from (depth 1 to 3) over a leaf.
std::optional<valued_generator> make_valued_shape(const std::string& name, long a, long b,
                                                  effects& fx);

}  // namespace differential
