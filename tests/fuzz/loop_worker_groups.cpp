// Workers' instructions that wait on several tasks at once: a task group
// (with_task_group), wait(vector) and gather(vector) (docs/rules.md,
// sections 7 and 8).
#include <chrono>
#include <cstddef>
#include <exception>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "loop_script_state.hpp"

namespace fuzz::script {
namespace {

using namespace std::chrono_literals;

enum child_kind { child_returns, child_throws, child_cancelled };
constexpr int body_code = 200;
int child_code(int c) { return 100 + c; }
int child_value(int c) { return 500 + c; }

outcome outcome_of(const std::exception_ptr& e) {
  return observe([&] {
    std::rethrow_exception(e);
    return 0;
  });
}

outcome result_of(tandem::task<int>& t) {
  return observe([&] { return t.result(); });
}

}  // namespace

// The body creates the children, yields a few times, cancels the children
// meant to be cancelled, may create one more (refused once a child has
// failed), and may throw. The children hold the run's record, which says
// in which order they threw: the exception_group must list exactly those
// failures in that order, then the body's.
void loop_script::run_task_group(const instruction& ins) {
  const int body = ins.a;
  const bool body_throws = (body & 1) != 0;
  const int body_sleeps = (body >> 1) & 3;
  const bool late_child = (body & 8) != 0;
  auto run = std::make_shared<group_run>();
  std::vector<tandem::task<int>> children;
  std::vector<int> kinds;
  std::vector<int> values;
  std::optional<tandem::task_group> kept;
  std::vector<std::exception_ptr> errors;
  bool grouped = false;
  const outcome got = observe(
      [&] {
        try {
          tandem::with_task_group([&](tandem::task_group& g) {
            kept.emplace(g);
            for (int c = 0; c < ins.b; ++c) {
              const int shape = ins.pool_bytes[c] % 3;
              const int sleeps = ins.pool_bytes[c] / 3 % 3 + (shape == child_cancelled ? 3 : 0);
              kinds.push_back(shape);
              values.push_back(child_value(c));
              children.push_back(g.create_task([run, c, shape, sleeps] {
                for (int n = 0; n < sleeps; ++n) tandem::sleep_for(0s);
                if (shape == child_throws) {
                  run->fail_order.push_back(c);
                  throw injected_error(child_code(c));
                }
                return child_value(c);
              }));
            }
            for (int n = 0; n < body_sleeps; ++n) tandem::sleep_for(0s);
            for (std::size_t c = 0; c < children.size(); ++c)
              if (kinds[c] == child_cancelled) children[c].cancel();
            if (late_child) {
              // Refused once the group is shutting down, which only a
              // child's failure starts (recorded as it throws; the group
              // hears of it from a done callback, an iteration later).
              const bool failed = !run->fail_order.empty();
              const outcome made = observe([&] {
                children.push_back(g.create_task([] { return child_value(max_children); }));
                return 0;
              });
              FUZZ_CHECK(made == returned() || (failed && made.what == kind::misuse));
              if (made == returned()) {
                kinds.push_back(child_returns);
                values.push_back(child_value(max_children));
              }
            }
            if (body_throws) {
              run->body_threw = true;
              throw injected_error(body_code);
            }
          });
        } catch (const tandem::exception_group& g) {
          errors = g.exceptions();
          grouped = true;
        }
        return 0;
      },
      rethrow_exit);

  // with_task_group returns or throws once every child is done.
  for (auto& child : children) FUZZ_CHECK(child.done());
  std::vector<outcome> want;
  for (const int c : run->fail_order) want.push_back({kind::injected, child_code(c)});
  if (run->body_threw) want.push_back({kind::injected, body_code});
  if (grouped) {
    FUZZ_CHECK(got == returned() && errors.size() == want.size());
    for (std::size_t n = 0; n < want.size(); ++n) FUZZ_CHECK(outcome_of(errors[n]) == want[n]);
  } else {
    // No failure: it returns, or it was cancelled from outside.
    FUZZ_CHECK(want.empty());
    FUZZ_CHECK(got == returned() || got.what == kind::cancelled);
  }
  const bool undisturbed = !grouped && got == returned() && !closing_;
  for (std::size_t c = 0; c < children.size(); ++c) {
    const outcome end = result_of(children[c]);
    bool threw = false;
    for (const int f : run->fail_order) threw = threw || f == static_cast<int>(c);
    if (kinds[c] == child_throws) {
      FUZZ_CHECK(end == (threw ? outcome{kind::injected, child_code(static_cast<int>(c))}
                               : outcome{kind::cancelled, 0}));
    } else {
      FUZZ_CHECK(!threw);
      FUZZ_CHECK(end == returned(values[c]) || end.what == kind::cancelled);
      // Nothing cancels a child the body left alone, but a failure, an
      // outside cancellation or the loop's close().
      if (undisturbed && kinds[c] == child_returns) FUZZ_CHECK(end == returned(values[c]));
    }
  }
  // A finished group takes no more tasks.
  if (kept)
    FUZZ_CHECK(observe([&] { return kept->create_task([] { return 0; }).done() ? 1 : 0; }).what ==
               kind::misuse);
  pass_on_cancellation(got);
}

std::vector<tandem::task<int>> loop_script::targets(const instruction& ins) {
  std::vector<tandem::task<int>> list;
  for (int t = 0; t < ins.c; ++t) list.push_back(workers_[ins.pool_bytes[t]].handle);
  return list;
}

// wait() never cancels and returns (done, pending): the list split in two,
// each in the list's order, as things stand when it returns.
void loop_script::wait_tasks(const instruction& ins) {
  std::vector<tandem::task<int>> list = targets(ins);
  const auto when = static_cast<tandem::return_when>(ins.a);
  std::optional<tandem::clock::duration> timeout;
  if (ins.b >= 0) timeout = std::chrono::microseconds(ins.b);
  std::vector<bool> done_before;
  for (auto& t : list) done_before.push_back(t.done());
  const int steps = steps_;
  std::pair<std::vector<tandem::task<int>>, std::vector<tandem::task<int>>> split;
  const outcome got = observe(
      [&] {
        split = tandem::wait(std::move(list), when, timeout);
        return 0;
      },
      rethrow_exit);
  if (ins.c == 0) {  // refused before it could suspend
    FUZZ_CHECK(got.what == kind::invalid_argument && steps_ == steps);
    return;
  }
  pass_on_cancellation(got);
  FUZZ_CHECK(got == returned());
  auto& [done, pending] = split;
  FUZZ_CHECK(done.size() + pending.size() == static_cast<std::size_t>(ins.c));
  std::size_t d = 0;
  std::size_t p = 0;
  bool failed = false;
  for (int t = 0; t < ins.c; ++t) {
    const int j = ins.pool_bytes[t];
    if (workers_[j].handle.done()) {
      FUZZ_CHECK(d < done.size() && done[d].done() && result_of(done[d]) == final_outcome(j));
      ++d;
      failed = failed || final_outcome(j).what == kind::injected;  // cancelled does not count
    } else {
      FUZZ_CHECK(!done_before[t] && p < pending.size() && !pending[p].done());
      ++p;
    }
  }
  if (timeout) return;  // it may have returned what was done so far
  switch (when) {
    case tandem::return_when::first_completed:
      FUZZ_CHECK(!done.empty());
      break;
    case tandem::return_when::first_exception:
      FUZZ_CHECK(pending.empty() || failed);
      break;
    case tandem::return_when::all_completed:
      FUZZ_CHECK(pending.empty());
      break;
  }
}

// gather(vector): the values in list order, or the first failure; an empty
// list returns at once.
void loop_script::gather_vector(const instruction& ins) {
  std::vector<tandem::task<int>> list = targets(ins);
  bool all_done = true;
  outcome want = returned();
  for (int t = 0; t < ins.c; ++t) {
    const int j = ins.pool_bytes[t];
    all_done = all_done && workers_[j].handle.done();
    if (all_done && want == returned() && final_outcome(j).what != kind::value)
      want = final_outcome(j);
  }
  std::vector<int> values;
  const int steps = steps_;
  const outcome got = observe(
      [&] {
        values = tandem::gather(std::move(list));
        return 0;
      },
      rethrow_exit);
  if (ins.c == 0) {
    FUZZ_CHECK(got == returned() && values.empty() && steps_ == steps);
    return;
  }
  if (all_done) FUZZ_CHECK(got == want);
  if (got.what == kind::value) {
    FUZZ_CHECK(values.size() == static_cast<std::size_t>(ins.c));
    for (int t = 0; t < ins.c; ++t) check_ended_as(ins.pool_bytes[t], returned(values[t]));
  } else if (got.what == kind::injected) {
    bool found = false;
    for (int t = 0; t < ins.c; ++t) {
      const int j = ins.pool_bytes[t];
      found = found || (workers_[j].handle.done() && final_outcome(j) == got);
    }
    FUZZ_CHECK(found);
  } else {
    FUZZ_CHECK(got.what == kind::cancelled);
  }
  pass_on_cancellation(got);
}

}  // namespace fuzz::script
