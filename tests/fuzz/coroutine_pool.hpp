// The fuzz harness's generator half: a pool of tandem::coroutine<int, int>
// slots that input bytes create, resume, raise into, close, destroy and
// move, each call checked against a model of what the generator rules (docs/rules.md) say the
// body's shape must do.
#pragma once

#include <array>
#include <cstdint>
#include <deque>
#include <optional>
#include <vector>

#include "fuzz_support.hpp"

namespace fuzz {

// The bodies the input chooses from. Each one's reaction to every way of
// resuming it is modelled in coroutine_pool.cpp.
enum class shape : std::uint8_t {
  running_sum,      // yields the sum of what it was sent
  catch_and_yield,  // catches injected_error and yields from inside the handler
  ignore_exit,      // yields again after coroutine_exit, a few times
  return_after,     // returns after k yields
  throw_after,      // throws (injected, stop_iteration or foreign) after k yields
  nested,           // drives a chain of inner coroutines (a range-for at the bottom)
  resume_other,     // runs one more decoded operation, on any slot, from its body
  count
};

// What the harness expects of one body, kept apart from the body's own state.
struct body_model {
  enum class phase : std::uint8_t { created, suspended, done };
  shape form = shape::running_sum;
  int k = 0;        // yields before the end (return_after, throw_after, nested)
  int code = 0;     // the error code the body throws
  int variant = 0;  // how throw_after ends; whether ignore_exit converts; nested's escape
  int depth = 0;    // nested: levels of inner coroutines
  phase at = phase::created;
  bool started = false;
  bool in_handler = false;  // suspended at the yield inside a catch block
  int ignores_left = 0;
  int count = 0;  // yields so far, or the running total, or the last value sent
  int sum = 0;    // return_after / throw_after: what it was sent
};

// How a suspended body is resumed: its pending yield returns `sent`, or
// throws an exception of kind `thrown` (injected, foreign, exit, stop).
struct resumption {
  bool throws = false;
  kind thrown = kind::value;
  int code = 0;
  int sent = 0;
};

// The calls a slot's coroutine gets.
enum class call : std::uint8_t { next, send, raise, raise_null, close };

class coroutine_pool {
 public:
  using coroutine = tandem::coroutine<int, int>;
  enum operation : std::uint8_t {
    op_create,
    op_next,
    op_send,
    op_raise,
    op_close,
    op_destroy,
    op_move,
    op_iterate,
    op_count
  };
  static constexpr int slot_count = 8;

  explicit coroutine_pool(reader& input);
  coroutine_pool(const coroutine_pool&) = delete;
  coroutine_pool& operator=(const coroutine_pool&) = delete;
  // Destroys every coroutine and checks that every body was unwound.
  ~coroutine_pool();

  // Runs operation op, its arguments read from in.
  void run(int op, reader& in);
  // Reads an operation from in and runs it.
  void run_one(reader& in) { run(in.pick(op_count), in); }
  // The same from inside a task: bodies that run operations of their own
  // skip them, so that the input is read in an order timing cannot change.
  void run_frozen(reader& in);
  // Checks every slot and every body ever made against the model.
  void check_all() const;

 private:
  struct slot {
    std::optional<coroutine> co;
    bool moved_from = false;
    int serial = -1;  // index of the body's model and trace
  };
  // What the bodies record themselves: whether they ran, whether they were
  // unwound (a body's locals are destroyed however it ends: rule 9).
  struct body_trace {
    int entered = 0;
    int unwound = 0;
  };
  struct body_guard;

  coroutine make_body(int serial, const body_model& m, tandem::stack_options options);
  coroutine make_level(int serial, int depth, int k, bool escape, tandem::stack_options options);
  void from_body();  // resume_other's operation

  void create(slot& s, reader& in);
  void resume(slot& s, call c, const resumption& r);
  void destroy(slot& s);
  void move(slot& to, slot& from);
  void iterate(slot& s, int limit);

  bool running(int serial) const;
  bool busy(const slot& s) const;
  void settle_for_destruction(slot& s);
  int retire(slot& s);
  void check_slot(const slot& s) const;
  void check_trace(int serial) const;

  reader& input_;
  bool frozen_ = false;
  std::array<slot, slot_count> slots_;
  // Indexed by serial; a deque, since bodies and the calls that run them
  // hold references while new coroutines are made.
  std::deque<body_model> models_;
  std::deque<body_trace> traces_;
  std::vector<int> running_;  // serials of the bodies now running, outermost first
  int live_bodies_ = 0;       // bodies (inner ones too) whose locals are alive
};

}  // namespace fuzz
