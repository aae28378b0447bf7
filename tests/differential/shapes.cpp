// Each function here mirrors the shapes.py function of the same name;
// Python's try/finally becomes a guard object where the finally block does
// not yield, and catch (...) { ...; throw; } plus the normal path where it
// does (a destructor cannot yield).
#include "shapes.hpp"

#include <map>

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

generator ignore_close(long a, long, effects& fx) {
  return generator([a, &fx](yielder& y) {
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

generator close_returns(long a, long, effects& fx) {
  return generator([a, &fx](yielder& y) {
    try {
      for (;;) fx.received += y.yield(a);
    } catch (const coroutine_exit&) {
      ++fx.exits_seen;
      return;
    }
  });
}

generator close_raises(long a, long, effects& fx) {
  return generator([a, &fx](yielder& y) {
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
      {"ignore_close", ignore_close},
      {"return_after", return_after},
      {"raise_after", raise_after},
      {"nested_finally", nested_finally},
      {"catch_even", catch_even},
      {"echo", echo},
      {"close_returns", close_returns},
      {"close_raises", close_raises},
      {"yield_in_finally", yield_in_finally},
      {"leak_stop", leak_stop},
  };
  const auto found = shapes.find(name);
  if (found == shapes.end()) return std::nullopt;
  return found->second(a, b, fx);
}

}  // namespace differential
