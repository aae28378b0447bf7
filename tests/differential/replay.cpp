// Replays the scenarios that generate.py wrote (see its docstring for the
// file's format) over tandem::coroutine and compares each trace, line by
// line, with the one CPython produced.
//
//     replay SCENARIO_FILE
//
// Prints the first mismatching scenario in full, then "N passed, M failed";
// exits 1 on any mismatch, 2 if the file is unreadable or malformed.
#include <algorithm>
#include <exception>
#include <fstream>
#include <iostream>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include "shapes.hpp"

namespace {

using differential::coded_error;
using differential::effects;
using differential::generator;
using differential::valued_generator;

constexpr int max_teardown_closes = 8;  // generate.py's MAX_TEARDOWN_CLOSES

struct operation {
  std::string kind;  // next, send, throw, close
  long arg = 0;
};

struct scenario {
  std::string header;  // "scenario <id> <shape> <a> <b> <teardown>"
  std::string shape;
  long a = 0;
  long b = 0;
  bool close_loop = false;  // otherwise the teardown drops the coroutine
  std::vector<operation> operations;
  std::vector<std::string> expected;  // every line between header and end
};

[[noreturn]] void malformed(const std::string& line) {
  throw std::runtime_error("malformed scenario line: \"" + line + "\"");
}

scenario parse_header(const std::string& line) {
  scenario s;
  s.header = line;
  std::istringstream in(line);
  std::string word, id, teardown;
  if (!(in >> word >> id >> s.shape >> s.a >> s.b >> teardown)) malformed(line);
  if (teardown != "drop" && teardown != "close_loop") malformed(line);
  s.close_loop = teardown == "close_loop";
  return s;
}

// An operation line is "<kind> <arg> => <outcome>".
void add_expected_line(scenario& s, const std::string& line) {
  s.expected.push_back(line);
  std::istringstream in(line);
  operation op;
  std::string arrow;
  in >> op.kind;
  if (op.kind == "effects" || op.kind == "after" || op.kind == "teardown") return;
  if (op.kind != "next" && op.kind != "send" && op.kind != "throw" && op.kind != "close")
    malformed(line);
  if (!(in >> op.arg >> arrow) || arrow != "=>") malformed(line);
  s.operations.push_back(op);
}

std::vector<scenario> read_scenarios(std::istream& in) {
  std::vector<scenario> all;
  std::optional<scenario> open;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    if (line.rfind("scenario ", 0) == 0) {
      if (open) malformed(line);
      open = parse_header(line);
    } else if (line == "end") {
      if (!open) malformed(line);
      all.push_back(std::move(*open));
      open.reset();
    } else {
      if (!open) malformed(line);
      add_expected_line(*open, line);
    }
  }
  if (open) throw std::runtime_error("the file ends inside: " + open->header);
  return all;
}

// What generate.py writes for a StopIteration: "stop V" when it carries
// the value the body returned (the call that finished a valued body), else
// "stop".
template <class Gen>
std::string stop_outcome(Gen& co, bool was_done) {
  if constexpr (std::is_same_v<Gen, valued_generator>) {
    if (!was_done && co.done()) return "stop " + std::to_string(co.result());
  }
  return "stop";
}

// Normalizes what an operation returned or threw as generate.py does.
template <class Call, class Stop>
std::string outcome_of(Call call, bool is_send, Stop stop) {
  try {
    if constexpr (std::is_void_v<decltype(call())>) {
      call();
      return "ok";
    } else {
      return "yield " + std::to_string(call());
    }
  } catch (const tandem::stop_iteration&) {
    return stop();
  } catch (const coded_error& e) {
    return "error " + std::to_string(e.code());
  } catch (const tandem::coroutine_exit&) {
    return "exit";
  } catch (const std::logic_error& e) {
    if (is_send) return "send_unstarted";
    return std::string("logic_error: ") + e.what();
  } catch (const std::runtime_error& e) {
    const std::string what = e.what();
    if (what == "coroutine ignored coroutine_exit") return "ignored";
    if (what == "coroutine raised stop_iteration") {
      try {
        std::rethrow_if_nested(e);
      } catch (const tandem::stop_iteration&) {
        return "stop_leaked";  // with its cause kept, as PEP 479's __cause__
      } catch (...) {
      }
      return "stop_leaked without a nested stop_iteration";
    }
    return "runtime_error: " + what;
  } catch (const std::exception& e) {
    return std::string("unexpected exception: ") + e.what();
  } catch (...) {
    return "unexpected non-std exception";
  }
}

template <class Gen>
std::string apply(Gen& co, const operation& op) {
  const bool was_done = co.done();
  const auto stop = [&] { return stop_outcome(co, was_done); };
  if (op.kind == "next") return outcome_of([&] { return co.next(); }, false, stop);
  if (op.kind == "send") return outcome_of([&] { return co.send(op.arg); }, true, stop);
  if (op.kind == "throw")
    return outcome_of([&] { return co.raise(coded_error(op.arg)); }, false, stop);
  return outcome_of([&] { co.close(); }, false, stop);
}

std::string effects_line(const char* label, const effects& fx) {
  return std::string(label) + " " + std::to_string(fx.finally_runs) + " " +
         std::to_string(fx.caught) + " " + std::to_string(fx.exits_seen) + " " +
         std::to_string(fx.received);
}

template <class Gen>
std::vector<std::string> replay_over(const scenario& s, effects& fx, std::optional<Gen>& co) {
  std::vector<std::string> trace;
  for (const operation& op : s.operations)
    trace.push_back(op.kind + " " + std::to_string(op.arg) + " => " + apply(*co, op));
  trace.push_back(effects_line("effects", fx));
  if (s.close_loop) {
    for (int i = 0; i < max_teardown_closes; ++i) {
      const std::string result = apply(*co, {"close", 0});
      trace.push_back("teardown => " + result);
      if (result == "ok") break;
    }
  }
  co.reset();  // the destructor closes a suspended coroutine
  trace.push_back(effects_line("after", fx));
  return trace;
}

std::vector<std::string> replay(const scenario& s) {
  effects fx;  // outlives the coroutine, whose destructor may update it
  if (std::optional<generator> co = differential::make_shape(s.shape, s.a, s.b, fx))
    return replay_over(s, fx, co);
  if (std::optional<valued_generator> co = differential::make_valued_shape(s.shape, s.a, s.b, fx))
    return replay_over(s, fx, co);
  return {"no such shape: " + s.shape};
}

void print_mismatch(const scenario& s, const std::vector<std::string>& got) {
  std::cout << "MISMATCH in " << s.header << "\n"
            << "  (shape " << s.shape << ", a=" << s.a << ", b=" << s.b
            << "; lines marked ! differ: CPython's first, then tandem's)\n";
  const std::size_t n = std::max(s.expected.size(), got.size());
  for (std::size_t i = 0; i < n; ++i) {
    const std::string want = i < s.expected.size() ? s.expected[i] : "(nothing)";
    const std::string have = i < got.size() ? got[i] : "(nothing)";
    if (want == have) {
      std::cout << "    " << want << "\n";
    } else {
      std::cout << "  ! " << want << "    [CPython]\n"
                << "  ! " << have << "    [tandem]\n";
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: " << argv[0] << " SCENARIO_FILE\n";
    return 2;
  }
  std::ifstream file(argv[1]);
  if (!file) {
    std::cerr << "cannot open " << argv[1] << "\n";
    return 2;
  }
  std::vector<scenario> scenarios;
  try {
    scenarios = read_scenarios(file);
  } catch (const std::exception& e) {
    std::cerr << argv[1] << ": " << e.what() << "\n";
    return 2;
  }
  if (scenarios.empty()) {
    std::cerr << argv[1] << ": no scenarios\n";
    return 2;
  }
  std::size_t passed = 0, failed = 0;
  for (const scenario& s : scenarios) {
    const std::vector<std::string> got = replay(s);
    if (got == s.expected) {
      ++passed;
      continue;
    }
    if (failed == 0) print_mismatch(s, got);
    ++failed;
  }
  std::cout << passed << " passed, " << failed << " failed\n";
  return failed == 0 ? 0 : 1;
}
