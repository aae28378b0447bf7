// Each function here mirrors the shapes.py function of the same name;
// Python's try/finally becomes a guard object where the finally block does
// not yield, and catch (...) { ...; throw; } plus the normal path where it
// does (a destructor cannot yield).
#include "shapes.hpp"

#include <map>
#include <type_traits>

namespace differential {
namespace {

using tandem::coroutine_exit;
using yielder = tandem::yielder<long, long>;

// A finally block that adds amount to counter.
struct add_on_exit {
  long& counter;
  long amount;
  ~add_on_exit() { counter += amount; }
};

generator running_sum(long a, long b, effects& fx) {
  return generator([a, b, &fx](yielder& y) {
    long total = a;
    for (;;) {
      const long value = y.yield(total);
      fx.received += value;
      total += value;
      if (total > b) return;
    }
  });
}

generator catch_mark(long a, long, effects& fx) {
  return generator([a, &fx](yielder& y) {
    long count = 0;
    for (;;) {
      try {
        fx.received += y.yield(count);
        ++count;
      } catch (const coded_error& e) {
        ++fx.caught;
        y.yield(a + e.code());
      }
    }
  });
}

// Also a leaf of the delegation family (valued_generator): it never
// returns normally, so the body's return type is just the coroutine's.
template <class G = generator>
G ignore_close(long a, long, effects& fx) {
  return G([a, &fx](yielder& y) -> typename G::result_type {
    long i = 0;
    long ignored = 0;
    for (;;) {
      try {
        y.yield(i);
        ++i;
      } catch (const coroutine_exit&) {
        ++fx.exits_seen;
        if (ignored >= a) throw;
        ++ignored;
        y.yield(-1);
      }
    }
  });
}

generator return_after(long a, long, effects& fx) {
  return generator([a, &fx](yielder& y) {
    for (long i = 0; i < a; ++i) fx.received += y.yield(i * 10);
  });
}

generator raise_after(long a, long b, effects& fx) {
  return generator([a, b, &fx](yielder& y) {
    for (long i = 0; i < a; ++i) fx.received += y.yield(i);
    throw coded_error(b);
  });
}

generator nested_finally(long a, long, effects& fx) {
  return generator([a, &fx](yielder& y) {
    add_on_exit outer{fx.finally_runs, 10};
    {
      add_on_exit inner{fx.finally_runs, 1};
      for (long i = 0; i < a; ++i) fx.received += y.yield(i);
    }
    y.yield(100);
  });
}

generator catch_even(long a, long, effects& fx) {
  return generator([a, &fx](yielder& y) {
    long i = a;
    try {
      for (;;) {
        fx.received += y.yield(i);
        ++i;
      }
    } catch (const coded_error& e) {
      if (e.code() % 2 != 0) throw;
      ++fx.caught;
    }
  });
}

generator echo(long a, long, effects& fx) {
  return generator([a, &fx](yielder& y) {
    long value = a;
    for (;;) {
      value = y.yield(value);
      fx.received += value;
    }
  });
}

// Also the delegation family's ret_close and a leaf (valued_generator),
// which return a.
template <class G = generator>
G close_returns(long a, long, effects& fx) {
  using result = typename G::result_type;
  return G([a, &fx](yielder& y) -> result {
    try {
      for (;;) fx.received += y.yield(a);
    } catch (const coroutine_exit&) {
      ++fx.exits_seen;
      if constexpr (!std::is_void_v<result>) return a;
    }
  });
}

template <class G = generator>  // also a leaf of the delegation family
G close_raises(long a, long, effects& fx) {
  return G([a, &fx](yielder& y) -> typename G::result_type {
    try {
      for (;;) fx.received += y.yield(a);
    } catch (const coroutine_exit&) {
      ++fx.exits_seen;
      throw coded_error(a);
    }
  });
}

generator yield_in_finally(long a, long, effects& fx) {
  return generator([a, &fx](yielder& y) {
    try {
      for (long i = 0; i < a; ++i) fx.received += y.yield(i);
    } catch (...) {  // the finally block, on the way out of an exception
      ++fx.finally_runs;
      y.yield(999);
      throw;
    }
    ++fx.finally_runs;  // the finally block, on the normal path
    y.yield(999);
  });
}

generator leak_stop(long a, long, effects& fx) {
  return generator([a, &fx](yielder& y) {
    for (long i = 0; i < a; ++i) fx.received += y.yield(i);
    throw tandem::stop_iteration();
  });
}

}  // namespace

std::optional<generator> make_shape(const std::string& name, long a, long b, effects& fx) {
  using factory = generator (*)(long, long, effects&);
  static const std::map<std::string, factory> shapes = {
      {"running_sum", running_sum},
      {"catch_mark", catch_mark},
      {"ignore_close", ignore_close<>},
      {"return_after", return_after},
      {"raise_after", raise_after},
      {"nested_finally", nested_finally},
      {"catch_even", catch_even},
      {"echo", echo},
      {"close_returns", close_returns<>},
      {"close_raises", close_raises<>},
      {"yield_in_finally", yield_in_finally},
      {"leak_stop", leak_stop},
  };
  const auto found = shapes.find(name);
  if (found == shapes.end()) return std::nullopt;
  return found->second(a, b, fx);
}

}  // namespace differential

// The delegation family (shapes.py's DELEGATION_SHAPES), each a twin of the
// Python function of the same name.
namespace differential {
namespace {

using tandem::coroutine_exit;
using valued_yielder = tandem::yielder<long, long>;

// shapes.py's finally_digit, as a finally block that does not yield.
struct finally_digit {
  long& finally_runs;
  long level;
  ~finally_digit() { finally_runs = finally_runs * 10 + level; }
};

valued_generator ret_sum(long a, long b, effects& fx) {
  return valued_generator([a, b, &fx](valued_yielder& y) -> long {
    long total = a;
    for (;;) {
      const long value = y.yield(total);
      fx.received += value;
      total += value;
      if (total > b) return total;
    }
  });
}

valued_generator ret_catch(long a, long, effects& fx) {
  return valued_generator([a, &fx](valued_yielder& y) -> long {
    long i = 0;
    try {
      for (;;) {
        fx.received += y.yield(i);
        ++i;
      }
    } catch (const coded_error& e) {
      ++fx.caught;
      return a * 10 + e.code();
    }
  });
}

valued_generator ret_count(long a, long, effects& fx) {
  return valued_generator([a, &fx](valued_yielder& y) -> long {
    long got = 0;
    for (long i = 0; i < a; ++i) got += y.yield(i);
    fx.received += got;
    return 100 + got;
  });
}

valued_generator leaf_return(long level, long a, long b, effects& fx) {
  return valued_generator([level, a, b, &fx](valued_yielder& y) -> long {
    finally_digit on_exit{fx.finally_runs, level};
    long total = a;
    for (long i = 0; i < b; ++i) {
      const long value = y.yield(total);
      fx.received += value;
      total += value;
    }
    return total;
  });
}

valued_generator leaf_catch(long level, long, long b, effects& fx) {
  return valued_generator([level, b, &fx](valued_yielder& y) -> long {
    finally_digit on_exit{fx.finally_runs, level};
    long count = 0;
    while (count < b) {
      try {
        fx.received += y.yield(count);
        ++count;
      } catch (const coded_error& e) {
        ++fx.caught;
        fx.received += y.yield(100 + e.code());
      }
    }
    return count;
  });
}

valued_generator leaf_ignore_exit(long, long a, long b, effects& fx) {
  return ignore_close<valued_generator>(a, b, fx);
}

valued_generator leaf_honour_exit(long level, long a, long, effects& fx) {
  return valued_generator([level, a, &fx](valued_yielder& y) -> long {
    finally_digit on_exit{fx.finally_runs, level};
    try {
      for (;;) fx.received += y.yield(a);
    } catch (const coroutine_exit&) {
      ++fx.exits_seen;
      throw;
    }
  });
}

valued_generator leaf_close_returns(long, long a, long b, effects& fx) {
  return close_returns<valued_generator>(a, b, fx);
}

valued_generator leaf_close_raises(long, long a, long b, effects& fx) {
  return close_raises<valued_generator>(a, b, fx);
}

valued_generator leaf_raise(long level, long a, long b, effects& fx) {
  return valued_generator([level, a, b, &fx](valued_yielder& y) -> long {
    finally_digit on_exit{fx.finally_runs, level};
    for (long i = 0; i < b; ++i) fx.received += y.yield(i);
    throw coded_error(a);
  });
}

valued_generator leaf_leak_stop(long, long, long b, effects& fx) {
  return valued_generator([b, &fx](valued_yielder& y) -> long {
    for (long i = 0; i < b; ++i) fx.received += y.yield(i);
    throw tandem::stop_iteration();
  });
}

valued_generator middle(long level, long a, effects& fx, valued_generator inner) {
  return valued_generator(
      [level, a, &fx, inner = std::move(inner)](valued_yielder& y) mutable -> long {
        finally_digit on_exit{fx.finally_runs, level};
        fx.received += y.yield(10 * level + a);
        const long r = y.yield_from(inner);
        fx.received += y.yield(r);
        return r + level;
      });
}

valued_generator outer(effects& fx, valued_generator inner) {
  return valued_generator([&fx, inner = std::move(inner)](valued_yielder& y) mutable -> long {
    finally_digit on_exit{fx.finally_runs, 1};
    long r = 0;
    try {
      r = y.yield_from(inner);
    } catch (const coded_error& e) {
      if (e.code() % 2 != 0) throw;
      ++fx.caught;
      r = -e.code();
    }
    fx.received += y.yield(r);
    return 2 * r;
  });
}

using leaf_factory = valued_generator (*)(long, long, long, effects&);

const std::map<std::string, leaf_factory>& leaves() {
  static const std::map<std::string, leaf_factory> all = {
      {"return", leaf_return},
      {"catch", leaf_catch},
      {"ignore_exit", leaf_ignore_exit},
      {"honour_exit", leaf_honour_exit},
      {"close_returns", leaf_close_returns},
      {"close_raises", leaf_close_raises},
      {"raise", leaf_raise},
      {"leak_stop", leaf_leak_stop},
  };
  return all;
}

// shapes.py's chain(depth, leaf).
std::optional<valued_generator> make_chain(const std::string& name, long a, long b, effects& fx) {
  // "yf<depth>_<leaf>"
  if (name.size() < 5 || name.compare(0, 2, "yf") != 0 || name[3] != '_') return std::nullopt;
  const long depth = name[2] - '0';
  if (depth < 1 || depth > 3) return std::nullopt;
  const auto leaf = leaves().find(name.substr(4));
  if (leaf == leaves().end()) return std::nullopt;
  valued_generator inner = leaf->second(depth + 1, a, b, fx);
  for (long level = depth; level > 1; --level) inner = middle(level, a, fx, std::move(inner));
  return outer(fx, std::move(inner));
}

}  // namespace

std::optional<valued_generator> make_valued_shape(const std::string& name, long a, long b,
                                                  effects& fx) {
  using factory = valued_generator (*)(long, long, effects&);
  static const std::map<std::string, factory> shapes = {
      {"ret_sum", ret_sum},
      {"ret_catch", ret_catch},
      {"ret_close", close_returns<valued_generator>},
      {"ret_count", ret_count},
  };
  const auto found = shapes.find(name);
  if (found != shapes.end()) return found->second(a, b, fx);
  return make_chain(name, a, b, fx);
}

}  // namespace differential
