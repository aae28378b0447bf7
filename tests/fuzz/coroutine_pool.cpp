// The generator half of the fuzz harness. Every call on a slot is first
// predicted from the model (the generator rules of docs/rules.md applied to the body's
// shape), then made, and the two must agree exactly: value, exception type
// and code, done(), started(), running(), and whether the body's locals
// were destroyed.
#include "coroutine_pool.hpp"

#include <memory>
#include <utility>

namespace fuzz {
namespace {

using phase = body_model::phase;
using yielder = tandem::yielder<int, int>;

outcome yielded(int v) { return returned(v); }

// What propagates when e is thrown without entering the body (a body not
// started, or finished: rules 4 and 6).
outcome as_thrown(const resumption& r) {
  if (r.thrown == kind::stop || r.thrown == kind::exit) return {r.thrown, 0};
  return {r.thrown, r.code};
}

// An exception escapes the body: the coroutine is done, and a
// stop_iteration turns into PEP 479's runtime_error (rule 5).
outcome escape(body_model& m, kind k, int code) {
  m.at = phase::done;
  if (k == kind::stop) return {kind::pep479, 0};
  if (k == kind::exit) return {kind::exit, 0};
  return {k, code};
}
outcome escape(body_model& m, const resumption& r) { return escape(m, r.thrown, r.code); }

// The body ran off its end (or threw there, as throw_after does).
outcome finish(body_model& m) {
  switch (m.form) {
    case shape::throw_after:
      if (m.variant == 0) return escape(m, kind::injected, m.code);
      if (m.variant == 1) return escape(m, kind::stop, 0);
      return escape(m, kind::foreign, m.code);
    case shape::nested:
      m.at = phase::done;
      return {m.depth > 0 && m.variant != 0 ? kind::pep479 : kind::stop, 0};
    default:
      m.at = phase::done;
      return {kind::stop, 0};
  }
}

// The counting shapes: the i-th yield hands out i + offset, k of them.
outcome advance(body_model& m, int offset) {
  if (m.count == m.k) return finish(m);
  return yielded(m.count++ + offset);
}

// The first next() (rule 1).
outcome start(body_model& m) {
  m.started = true;
  m.at = phase::suspended;
  switch (m.form) {
    case shape::return_after:
    case shape::throw_after:
      return advance(m, m.sum);
    case shape::nested:
      return advance(m, 100 * m.depth);
    case shape::resume_other:
      m.count = 1;
      return yielded(0);
    default:
      return yielded(0);
  }
}

// Resuming a suspended body (rules 3, 5 and 6).
outcome step(body_model& m, const resumption& r) {
  switch (m.form) {
    case shape::running_sum:
      if (r.throws) return escape(m, r);
      m.count += r.sent;
      return yielded(m.count);
    case shape::catch_and_yield:
      if (r.throws) {
        if (m.in_handler || r.thrown != kind::injected) return escape(m, r);
        m.in_handler = true;
        return yielded(-r.code);
      }
      m.in_handler = false;
      m.count = r.sent;
      return yielded(m.count);
    case shape::ignore_exit:
      if (r.throws) {
        if (m.in_handler || r.thrown != kind::exit) return escape(m, r);
        if (m.ignores_left == 0)
          return m.variant != 0 ? escape(m, kind::injected, m.code) : escape(m, r);
        --m.ignores_left;
        m.in_handler = true;
        return yielded(-1);
      }
      if (m.in_handler) {
        m.in_handler = false;
      } else {
        ++m.count;
      }
      return yielded(m.count);
    case shape::return_after:
    case shape::throw_after:
      if (r.throws) return escape(m, r);
      m.sum += r.sent;
      return advance(m, m.sum);
    case shape::nested:
      if (r.throws) return escape(m, r);
      return advance(m, 100 * m.depth);
    case shape::resume_other:
      if (r.throws) return escape(m, r);
      return yielded(m.count++);
    case shape::count:
      break;
  }
  fail("unknown shape", __FILE__, __LINE__);
}

// close() on a suspended body (rule 7).
outcome close_suspended(body_model& m) {
  resumption exit;
  exit.throws = true;
  exit.thrown = kind::exit;
  const outcome o = step(m, exit);
  if (o.what == kind::value) return {kind::ignored_exit, 0};  // it yielded: still suspended
  if (o.what == kind::exit || o.what == kind::stop) return returned();
  return o;
}

// The model's side of one call on a coroutine that is not running: what it
// must do, with the model moved to the state after it.
outcome predict(body_model& m, call c, const resumption& r) {
  if (c == call::raise_null) return {kind::invalid_argument, 0};  // rule 13: nothing changes
  switch (m.at) {
    case phase::created:
      switch (c) {
        case call::next:
          return start(m);
        case call::send:
          return {kind::misuse, 0};  // rule 2: nothing changes
        case call::raise:  // rule 6: the body never runs; PEP 479 holds (rule 5)
          m.at = phase::done;
          if (r.thrown == kind::stop) return {kind::pep479, 0};
          return as_thrown(r);
        default:
          m.at = phase::done;
          return returned();
      }
    case phase::done:
      if (c == call::next || c == call::send) return {kind::stop, 0};
      if (c == call::raise) return as_thrown(r);
      return returned();
    case phase::suspended:
      if (c == call::close) return close_suspended(m);
      return step(m, r);
  }
  fail("unknown phase", __FILE__, __LINE__);
}

template <class E>
int raise_as(tandem::coroutine<int, int>& co, E error, bool as_pointer) {
  // Both overloads: raise(E&&) and raise(std::exception_ptr).
  return as_pointer ? co.raise(std::make_exception_ptr(std::move(error)))
                    : co.raise(std::move(error));
}

// The real side of one call.
outcome invoke(tandem::coroutine<int, int>& co, call c, const resumption& r) {
  return observe([&]() -> int {
    switch (c) {
      case call::next:
        return co.next();
      case call::send:
        return co.send(r.sent);
      case call::raise_null:
        return co.raise(std::exception_ptr{});
      case call::close:
        co.close();
        return 0;
      case call::raise:
        break;
    }
    const bool as_pointer = (r.code & 1) != 0;
    switch (r.thrown) {
      case kind::injected:
        return raise_as(co, injected_error(r.code), as_pointer);
      case kind::foreign:
        return raise_as(co, foreign_error{r.code}, as_pointer);
      case kind::exit:
        return raise_as(co, tandem::coroutine_exit{}, as_pointer);
      default:
        return raise_as(co, tandem::stop_iteration{}, as_pointer);
    }
  });
}

// The rules' ways to end a resumption by an exception, as raise() picks them.
constexpr kind raised_kinds[] = {kind::injected, kind::foreign, kind::exit, kind::stop};

// A yielder belongs to its own coroutine's stack: a body it resumed cannot
// yield through it.
void expect_foreign_yield_refused(yielder& y) {
  FUZZ_CHECK(y.on_own_stack());
  tandem::coroutine<void, void> probe([&y](tandem::yielder<void, void>&) {
    FUZZ_CHECK(!y.on_own_stack());
    y.yield(0);
  });
  FUZZ_CHECK(observe([&] { probe.next(); }).what == kind::misuse);
  FUZZ_CHECK(probe.done());
}

}  // namespace

// Counts the body in and out: a body that was entered must be unwound by
// the time its coroutine is done or destroyed (rule 9). Inside a body that
// unwinds, std::uncaught_exceptions() counts that body's own exception
// only (rule 12), even when a resumer is unwinding too.
struct coroutine_pool::body_guard {
  coroutine_pool& pool;
  int serial;
  body_guard(coroutine_pool& p, int s) : pool(p), serial(s) {
    ++pool.live_bodies_;
    if (serial >= 0) ++pool.traces_[static_cast<std::size_t>(serial)].entered;
  }
  body_guard(const body_guard&) = delete;
  body_guard& operator=(const body_guard&) = delete;
  ~body_guard() {
    FUZZ_CHECK(std::uncaught_exceptions() <= 1);
    --pool.live_bodies_;
    if (serial >= 0) ++pool.traces_[static_cast<std::size_t>(serial)].unwound;
  }
};

coroutine_pool::coroutine_pool(reader& input) : input_(input) {}

coroutine_pool::~coroutine_pool() {
  for (slot& s : slots_) destroy(s);
  check_all();
  FUZZ_CHECK(live_bodies_ == 0);
}

coroutine_pool::coroutine coroutine_pool::make_level(int serial, int depth, int k, bool escape,
                                                     tandem::stack_options options) {
  if (depth == 0) {
    return coroutine(
        [this, serial, k](yielder& y) {
          body_guard guard(*this, serial);
          if (serial >= 0) expect_foreign_yield_refused(y);
          // Move-only values cross the switch by address, not in a register.
          tandem::coroutine<std::unique_ptr<int>> source(
              [k](tandem::yielder<std::unique_ptr<int>>& out) {
                for (int i = 0; i < k; ++i) out.yield(std::make_unique<int>(i));
              });
          for (auto& value : source) y.yield(*value);
        },
        options);
  }
  return coroutine(
      [this, serial, depth, k, escape](yielder& y) {
        body_guard guard(*this, serial);
        if (serial >= 0) expect_foreign_yield_refused(y);
        coroutine inner = make_level(-1, depth - 1, k, escape, {});
        for (;;) {
          int value;
          try {
            value = inner.next();
          } catch (const tandem::stop_iteration&) {
            if (escape) throw;  // PEP 479 turns it into runtime_error
            return;
          }
          y.yield(value + 100);
        }
      },
      options);
}

coroutine_pool::coroutine coroutine_pool::make_body(int serial, const body_model& m,
                                                    tandem::stack_options options) {
  switch (m.form) {
    case shape::running_sum:
      return coroutine(
          [this, serial](yielder& y) {
            body_guard guard(*this, serial);
            int total = 0;
            for (;;) total += y.yield(total);
          },
          options);
    case shape::catch_and_yield:
      return coroutine(
          [this, serial](yielder& y) {
            body_guard guard(*this, serial);
            int last = 0;
            for (;;) {
              try {
                last = y.yield(last);
              } catch (const injected_error& e) {
                last = y.yield(-e.code());
                // Rule 12: back inside the handler, the body's own exception
                // is still the one being handled, whatever the resumer threw
                // and caught meanwhile.
                FUZZ_CHECK(std::uncaught_exceptions() == 0);
                const std::exception_ptr current = std::current_exception();
                FUZZ_CHECK(current != nullptr);
                const injected_error* seen = nullptr;
                try {
                  std::rethrow_exception(current);
                } catch (const injected_error& again) {
                  seen = &again;
                } catch (...) {
                }
                FUZZ_CHECK(seen == &e);
              }
            }
          },
          options);
    case shape::ignore_exit:
      return coroutine(
          [this, serial, ignores = m.k, convert = m.variant != 0, code = m.code](yielder& y) {
            body_guard guard(*this, serial);
            int i = 0;
            int left = ignores;
            for (;;) {
              try {
                y.yield(i);
                ++i;
              } catch (const tandem::coroutine_exit&) {
                if (left == 0) {
                  if (convert) throw injected_error(code);
                  throw;
                }
                --left;
                y.yield(-1);
              }
            }
          },
          options);
    case shape::return_after:
    case shape::throw_after:
      return coroutine(
          [this, serial, k = m.k, form = m.form, variant = m.variant, code = m.code](yielder& y) {
            body_guard guard(*this, serial);
            int sum = 0;
            for (int i = 0; i < k; ++i) sum += y.yield(i + sum);
            if (form == shape::return_after) return;
            if (variant == 0) throw injected_error(code);
            if (variant == 1) throw tandem::stop_iteration();
            throw foreign_error{code};
          },
          options);
    case shape::nested:
      return make_level(serial, m.depth, m.k, m.variant != 0, options);
    case shape::resume_other:
      return coroutine(
          [this, serial](yielder& y) {
            body_guard guard(*this, serial);
            for (int n = 0;; ++n) {
              from_body();
              y.yield(n);
            }
          },
          options);
    case shape::count:
      break;
  }
  fail("unknown shape", __FILE__, __LINE__);
}

void coroutine_pool::from_body() {
  if (frozen_ || !input_.take_operation()) return;
  run_one(input_);
}

void coroutine_pool::run_frozen(reader& in) {
  const bool was = frozen_;
  frozen_ = true;
  run_one(in);
  frozen_ = was;
}

void coroutine_pool::run(int op, reader& in) {
  slot& s = slots_[static_cast<std::size_t>(in.pick(slot_count))];
  resumption r;
  switch (op) {
    case op_create:
      create(s, in);
      break;
    case op_next:
      resume(s, call::next, r);
      break;
    case op_send:
      r.sent = in.signed_byte();
      resume(s, call::send, r);
      break;
    case op_raise: {
      const int how = in.pick(5);
      r.code = in.byte();
      if (how == 4) {
        resume(s, call::raise_null, r);
      } else {
        r.throws = true;
        r.thrown = raised_kinds[how];
        resume(s, call::raise, r);
      }
      break;
    }
    case op_close:
      resume(s, call::close, r);
      break;
    case op_destroy:
      destroy(s);
      break;
    case op_move:
      move(s, slots_[static_cast<std::size_t>(in.pick(slot_count))]);
      break;
    case op_iterate:
      iterate(s, 1 + in.pick(8));
      break;
    default:
      break;
  }
}

bool coroutine_pool::running(int serial) const {
  for (int r : running_)
    if (r == serial) return true;
  return false;
}

// Whether s holds a coroutine that a call on it would find running: then it
// may not be destroyed, replaced or moved (its destructor would terminate).
bool coroutine_pool::busy(const slot& s) const {
  if (!s.co || s.moved_from || !running(s.serial)) return false;
  FUZZ_CHECK(s.co->running());
  return true;
}

void coroutine_pool::create(slot& s, reader& in) {
  body_model m;
  m.form = static_cast<shape>(in.pick(static_cast<int>(shape::count)));
  const int a = in.byte();
  const int b = in.byte();
  const int size_choice = in.pick(6);
  switch (m.form) {
    case shape::ignore_exit:
      m.k = a % 3;
      m.ignores_left = m.k;
      m.variant = b & 1;
      m.code = b >> 1;
      break;
    case shape::return_after:
      m.k = a % 8;
      break;
    case shape::throw_after:
      m.k = a % 8;
      m.variant = b % 3;
      m.code = b >> 2;
      break;
    case shape::nested:
      m.depth = a % 4;
      m.k = (a >> 2) % 5;
      m.variant = b & 1;
      break;
    default:
      break;
  }
  if (busy(s)) return;

  // Sizes the rules accept, and two it refuses (section 5). Only bodies
  // with small frames get the smallest stack: the harness's own frames,
  // under the sanitizers, are not small.
  tandem::stack_options options;
  kind refusal = kind::value;
  const bool small_frames =
      m.form == shape::running_sum || m.form == shape::return_after || m.form == shape::throw_after;
  switch (size_choice) {
    case 1:
      options.size = 64 * 1024;
      break;
    case 2:
      options.size = 128 * 1024;
      break;
    case 3:
      options.size = small_frames ? tandem::min_stack_size : 0;
      break;
    case 4:
      options.size = tandem::min_stack_size / 4;
      refusal = kind::invalid_argument;
      break;
    case 5:
      options.size = tandem::max_stack_size + 1;
      refusal = kind::bad_alloc;
      break;
    default:
      break;
  }

  const int serial = static_cast<int>(models_.size());
  std::optional<coroutine> made;
  const outcome got = observe([&] { made.emplace(make_body(serial, m, options)); });
  if (refusal != kind::value) {
    FUZZ_CHECK(got.what == refusal && !made);
    return;
  }
  FUZZ_CHECK(got == returned() && made);
  models_.push_back(m);
  traces_.emplace_back();

  const int old = retire(s);
  if (s.co) {
    *s.co = std::move(*made);  // closes the old one first (rule 13)
  } else {
    s.co.emplace(std::move(*made));
  }
  s.moved_from = false;
  s.serial = serial;
  check_slot(s);
  if (old >= 0) check_trace(old);
}

void coroutine_pool::resume(slot& s, call c, const resumption& r) {
  if (!s.co) return;
  coroutine& co = *s.co;
  if (s.moved_from) {  // section 5: every operation is refused
    FUZZ_CHECK(invoke(co, c, r).what == kind::misuse);
    check_slot(s);
    return;
  }
  const int serial = s.serial;
  const bool was_running = running(serial);
  FUZZ_CHECK(co.running() == was_running);
  outcome want;
  if (!was_running) {
    want = predict(models_[static_cast<std::size_t>(serial)], c, r);
    running_.push_back(serial);
  } else {
    // Rule 8, after rule 13's check of the argument.
    want = {c == call::raise_null ? kind::invalid_argument : kind::already_executing, 0};
  }
  const outcome got = invoke(co, c, r);
  if (!was_running) running_.pop_back();
  FUZZ_CHECK(got == want);
  check_slot(s);
  check_trace(serial);
}

// Rule 11: a range-for sees what next() returns, ends when the body
// returns, and break leaves the coroutine suspended.
void coroutine_pool::iterate(slot& s, int limit) {
  if (!s.co) return;
  coroutine& co = *s.co;
  if (s.moved_from) {
    FUZZ_CHECK(observe([&] {
                 for (int v : co) (void)v;
               }).what == kind::misuse);
    return;
  }
  const int serial = s.serial;
  body_model& m = models_[static_cast<std::size_t>(serial)];
  const bool was_running = running(serial);
  if (!was_running) running_.push_back(serial);
  int taken = 0;
  const outcome got = observe([&] {
    for (int v : co) {
      FUZZ_CHECK(predict(m, call::next, {}) == yielded(v));
      if (++taken == limit) break;
    }
  });
  if (!was_running) running_.pop_back();
  if (was_running) {
    FUZZ_CHECK(got.what == kind::already_executing && taken == 0);
  } else if (got == returned()) {
    // It stopped early: only because the body returned (or had ended).
    if (taken < limit && m.at != phase::done)
      FUZZ_CHECK(predict(m, call::next, {}).what == kind::stop);
  } else {
    FUZZ_CHECK(got == predict(m, call::next, {}));
  }
  check_slot(s);
  check_trace(serial);
}

// Closes explicitly what the destructor could not close cleanly: a body
// that would yield after coroutine_exit (the destructor would terminate,
// rule 9) or turn it into another exception (it would be reported on
// stderr and dropped).
void coroutine_pool::settle_for_destruction(slot& s) {
  for (;;) {
    const body_model& m = models_[static_cast<std::size_t>(s.serial)];
    if (m.at != phase::suspended || m.form != shape::ignore_exit || m.in_handler) return;
    if (m.ignores_left == 0 && m.variant == 0) return;
    resume(s, call::close, {});
  }
}

// Prepares the model for the destruction of s's coroutine (by its
// destructor or by a move-assignment over it); returns the body's serial.
int coroutine_pool::retire(slot& s) {
  if (!s.co || s.moved_from) return -1;
  settle_for_destruction(s);
  FUZZ_CHECK(predict(models_[static_cast<std::size_t>(s.serial)], call::close, {}) == returned());
  return s.serial;
}

void coroutine_pool::destroy(slot& s) {
  if (busy(s)) return;
  const int old = retire(s);
  s.co.reset();
  s.moved_from = false;
  s.serial = -1;
  if (old >= 0) check_trace(old);
}

void coroutine_pool::move(slot& to, slot& from) {
  if (!from.co || busy(from) || busy(to)) return;
  if (&to == &from) {  // self-move-assignment changes nothing
    coroutine& target = *to.co;
    coroutine& source = *from.co;
    target = std::move(source);
    check_slot(to);
    return;
  }
  const int old = retire(to);
  if (to.co) {
    *to.co = std::move(*from.co);
  } else {
    to.co.emplace(std::move(*from.co));
  }
  to.moved_from = from.moved_from;
  to.serial = from.serial;
  from.moved_from = true;
  from.serial = -1;
  check_slot(to);
  check_slot(from);
  if (old >= 0) check_trace(old);
}

void coroutine_pool::check_slot(const slot& s) const {
  if (!s.co) return;
  const coroutine& co = *s.co;
  if (s.moved_from) {  // section 5
    FUZZ_CHECK(co.done() && !co.started() && !co.running());
    return;
  }
  FUZZ_CHECK(co.running() == running(s.serial));
  if (co.running()) return;  // its model already holds the state after the call
  const body_model& m = models_[static_cast<std::size_t>(s.serial)];
  FUZZ_CHECK(co.done() == (m.at == phase::done));
  FUZZ_CHECK(co.started() == m.started);
}

void coroutine_pool::check_trace(int serial) const {
  if (running(serial)) return;
  const body_model& m = models_[static_cast<std::size_t>(serial)];
  const body_trace& t = traces_[static_cast<std::size_t>(serial)];
  FUZZ_CHECK(t.entered == (m.started ? 1 : 0));
  FUZZ_CHECK(t.unwound == (m.started && m.at == phase::done ? 1 : 0));
}

void coroutine_pool::check_all() const {
  FUZZ_CHECK(running_.empty());
  for (const slot& s : slots_) check_slot(s);
  for (std::size_t i = 0; i < models_.size(); ++i) check_trace(static_cast<int>(i));
}

}  // namespace fuzz
