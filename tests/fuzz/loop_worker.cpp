// The workers of the fuzz harness's event-loop scripts: their programs,
// decoded when they are spawned, and the checks of each instruction.
#include <array>
#include <chrono>
#include <cstdint>
#include <tuple>

#include "loop_script_state.hpp"

namespace fuzz::script {
namespace {

using namespace std::chrono_literals;

}  // namespace

// Targets of await, gather and wait_for are earlier workers (or itself,
// which must be refused): a cycle of awaits cannot form.
instruction loop_script::decode(int self) {
  instruction ins;
  ins.op = static_cast<instr>(in_.pick(static_cast<int>(instr::count)));
  switch (ins.op) {
    case instr::sleep0:
    case instr::event_set:
      ins.b = in_.byte() & 1;
      break;
    case instr::sleep_us:
      ins.a = timed(in_.pick(101));
      ins.b = in_.byte() & 1;
      break;
    case instr::await_task: {
      const int a = in_.byte();
      ins.a = self == 0 || (a & 1) ? self : (a >> 1) % self;
      break;
    }
    case instr::gather_tasks: {
      const int a = in_.byte();
      const int b = in_.byte();
      if (self == 0) {
        ins.op = instr::sleep0;
      } else {
        ins.a = a % self;
        ins.b = b % self;
      }
      break;
    }
    case instr::wait_for_task: {
      const int a = in_.byte();
      const int how = in_.pick(4);
      ins.a = a % (self + 1);
      ins.b = how == 0 ? 0 : how == 1 ? -5 : timed(in_.pick(101));
      break;
    }
    case instr::cancel_task:
    case instr::generator_misuse:
      ins.a = in_.byte();
      ins.b = in_.byte();
      break;
    case instr::pool_op:
      for (auto& byte : ins.pool_bytes) byte = in_.byte();
      break;
    case instr::timeout_sleep:
      ins.a = in_.pick(101);
      ins.b = timed(in_.pick(101));
      break;
    default:
      decode_toolkit(ins, self);
      break;
  }
  return ins;
}

// The toolkit's newer operations; their bytes are laid out in README.md.
void loop_script::decode_toolkit(instruction& ins, int self) {
  switch (ins.op) {
    case instr::task_group:
      ins.b = in_.pick(max_children + 1);
      ins.a = in_.byte();  // how the body behaves
      for (int c = 0; c < ins.b; ++c) ins.pool_bytes[c] = in_.byte();
      break;
    case instr::wait_tasks:
    case instr::gather_vector: {
      ins.c = in_.pick(max_targets + 1);
      for (int t = 0; t < ins.c; ++t) ins.pool_bytes[t] = in_.byte();
      if (self == 0) ins.c = 0;  // no earlier worker: the empty list
      for (int t = 0; t < ins.c; ++t) ins.pool_bytes[t] %= self;
      if (ins.op == instr::gather_vector) break;
      ins.a = in_.pick(3);  // return_when
      const int how = in_.pick(3);
      ins.b = how == 0 ? -1 : how == 1 ? 0 : timed(in_.pick(101));  // -1: no timeout
      break;
    }
    case instr::thread_call:
      ins.a = in_.pick(3);
      ins.b = in_.byte();
      if (thread_calls_left_ == 0) {
        ins.op = instr::sleep0;
        ins.b = 0;
      } else {
        --thread_calls_left_;
      }
      break;
    case instr::semaphore_op:
      ins.a = in_.byte() & 1;
      ins.b = in_.pick(3);
      break;
    case instr::condition_op:
      ins.a = in_.pick(5);
      ins.b = in_.byte();
      break;
    case instr::signal_op:
      ins.a = in_.pick(4);
      ins.b = in_.byte();
      break;
    default:
      break;
  }
}

int loop_script::work(int i) {
  worker& w = workers_[i];
  FUZZ_CHECK(!w.cancelled_before_start);  // section 4: it never runs
  FUZZ_CHECK(&tandem::current_loop() == &loop_);
  w.started = true;
  // Task functions whose stack is alive: close() must bring it to 0.
  count_scope alive(live_tasks_);
  try {
    for (int n = 0; n < w.length; ++n) execute(i, w.program[n]);
  } catch (const tandem::cancelled_error&) {
    if (!w.shield) {
      w.end = ending::cancelled;
      throw;
    }
    // Caught: the task completes normally, unless a request it has not
    // seen is pending (the cancelled_error caught may be another task's,
    // from await, while a task group kept this one's pending).
    w.cancel_pending = w.handle.cancelling() > 0;
    w.end = ending::returned;
    w.end_value = alt_value_of(i);
    return w.end_value;
  }
  if (w.fails) {
    w.end = ending::threw;
    throw injected_error(w.code);
  }
  // A cancellation requested and not withdrawn (from outside a task group
  // that won with exception_group, or forwarded back by a task this one
  // cancelled while it awaited this one) ends it cancelled all the same.
  w.cancel_pending = w.handle.cancelling() > 0;
  w.end = ending::returned;
  w.end_value = value_of(i);
  return w.end_value;
}

void loop_script::execute(int i, const instruction& ins) {
  worker& w = workers_[i];
  ++steps_;
  switch (ins.op) {
    case instr::sleep0:
    case instr::sleep_us: {
      const outcome got = observe(
          [&] {
            if (ins.b != 0) {
              tandem::sleep_until(loop_.time() + std::chrono::microseconds(ins.a));
            } else {
              tandem::sleep_for(std::chrono::microseconds(ins.a));
            }
          },
          rethrow_exit);
      pass_on_cancellation(got);
      FUZZ_CHECK(got == returned());
      break;
    }
    case instr::await_task: {
      tandem::task<int>& h = workers_[ins.a].handle;
      if (ins.a == i) {  // a task awaiting itself
        FUZZ_CHECK(observe([&] { return tandem::await(h); }).what == kind::misuse);
        break;
      }
      const bool was_done = h.done();
      const outcome before = was_done ? final_outcome(ins.a) : outcome{};
      const outcome got = observe([&] { return tandem::await(h); }, rethrow_exit);
      if (was_done) {
        FUZZ_CHECK(got == before);
      } else {
        check_ended_as(ins.a, got);
      }
      pass_on_cancellation(got);
      break;
    }
    case instr::gather_tasks: {
      tandem::task<int>& h1 = workers_[ins.a].handle;
      tandem::task<int>& h2 = workers_[ins.b].handle;
      const bool both_done = h1.done() && h2.done();
      outcome want{};
      if (both_done) {  // then the first failure in argument order wins
        const outcome o1 = final_outcome(ins.a);
        const outcome o2 = final_outcome(ins.b);
        want = o1.what != kind::value ? o1 : o2.what != kind::value ? o2 : o1;
      }
      int second = 0;
      const outcome got = observe(
          [&] {
            const auto [v1, v2] = tandem::gather(h1, h2);
            second = v2;
            return v1;
          },
          rethrow_exit);
      if (both_done) FUZZ_CHECK(got == want);
      if (got.what == kind::value) {
        check_ended_as(ins.a, got);
        check_ended_as(ins.b, returned(second));
      } else if (got.what == kind::injected) {
        const outcome o1{kind::injected, workers_[ins.a].code};
        const outcome o2{kind::injected, workers_[ins.b].code};
        FUZZ_CHECK((h1.done() && final_outcome(ins.a) == o1 && got == o1) ||
                   (h2.done() && final_outcome(ins.b) == o2 && got == o2));
      } else {
        FUZZ_CHECK(got.what == kind::cancelled);
      }
      pass_on_cancellation(got);
      break;
    }
    case instr::wait_for_task: {
      tandem::task<int>& h = workers_[ins.a].handle;
      const auto timeout = std::chrono::microseconds(ins.b);
      if (ins.a == i) {
        FUZZ_CHECK(observe([&] { return tandem::wait_for(h, timeout); }).what == kind::misuse);
        break;
      }
      worker& target = workers_[ins.a];
      const bool was_done = h.done();
      const bool was_pending = !was_done && !target.started;
      const outcome before = was_done ? final_outcome(ins.a) : outcome{};
      // No time at all times out a task not done: one not started never runs.
      const bool must_time_out = was_pending && ins.b <= 0;
      if (must_time_out) target.cancelled_before_start = true;
      const outcome got = observe([&] { return tandem::wait_for(h, timeout); }, rethrow_exit);
      if (was_done) {
        FUZZ_CHECK(got == before);
      } else if (got.what == kind::timeout) {
        FUZZ_CHECK(h.done() && h.cancelled());
      } else {
        // Cancelled itself while it waited for the timed-out task to end.
        FUZZ_CHECK(!must_time_out || got.what == kind::cancelled);
        check_ended_as(ins.a, got);
      }
      pass_on_cancellation(got);
      break;
    }
    case instr::mutex_section: {
      take_mutex(w);
      mutex_release guard{*this};
      const outcome inside = observe([] { tandem::sleep_for(0s); }, rethrow_exit);
      FUZZ_CHECK(mutex_held_ && mutex_.locked());
      pass_on_cancellation(inside);
      FUZZ_CHECK(inside == returned());
      break;
    }
    case instr::timeout_sleep: {
      const outcome got = observe(
          [&] {
            return tandem::timeout(std::chrono::microseconds(ins.a), [&] {
              tandem::sleep_for(std::chrono::microseconds(ins.b));
              return 1;
            });
          },
          rethrow_exit);
      // In time; past the deadline; or cancelled from outside, which a
      // timeout never turns into timeout_error.
      FUZZ_CHECK(got == returned(1) || got.what == kind::timeout || got.what == kind::cancelled);
      pass_on_cancellation(got);
      break;
    }
    case instr::get: {
      outcome got;
      {
        flag_scope waiting(w.in_get);
        got = observe([&] { return queue_.get(); }, rethrow_exit);
      }
      pass_on_cancellation(got);
      FUZZ_CHECK(got.what == kind::value);
      take_item(got.value);
      break;
    }
    case instr::put: {
      if (next_item_ == max_items) break;
      const int item = next_item_++;
      outcome got;
      {
        flag_scope waiting(w.in_put);
        got = observe([&] { queue_.put(item); }, rethrow_exit);
      }
      pass_on_cancellation(got);  // cancelled while full: nothing was put
      FUZZ_CHECK(got == returned());
      mirror_.push_back(item);
      check_queue();
      break;
    }
    case instr::event_wait: {
      const bool was_set = event_.is_set();
      const int sets = event_sets_;
      outcome got;
      {
        flag_scope waiting(w.in_wait);
        got = observe([&] { event_.wait(); }, rethrow_exit);
      }
      pass_on_cancellation(got);
      FUZZ_CHECK(got == returned() && (was_set || event_sets_ > sets));
      break;
    }
    case instr::event_set:
      if (ins.b != 0) {
        event_.clear();
      } else {
        ++event_sets_;
        event_.set();
      }
      break;
    case instr::cancel_task: {
      const int j = ins.a % worker_count_;
      if (j == i) w.cancelled_itself = true;  // its next suspension throws
      cancel_worker(j);
      break;
    }
    case instr::generator_misuse:
      generator_misuse(ins);
      break;
    case instr::pool_op: {
      reader bytes(ins.pool_bytes.data(), ins.pool_bytes.size());
      pool_.run_frozen(bytes);
      break;
    }
    case instr::task_group:
      run_task_group(ins);
      break;
    case instr::wait_tasks:
      wait_tasks(ins);
      break;
    case instr::gather_vector:
      gather_vector(ins);
      break;
    case instr::thread_call:
      thread_call(i, ins);
      break;
    case instr::semaphore_op:
      semaphore_op(i, ins);
      break;
    case instr::condition_op:
      condition_op(i, ins);
      break;
    case instr::signal_op:
      signal_op(ins);
      break;
    case instr::count:
      break;
  }
}

void loop_script::take_mutex(worker& w) {
  outcome got;
  {
    flag_scope waiting(w.in_lock);
    got = observe([&] { mutex_.lock(); }, rethrow_exit);
  }
  pass_on_cancellation(got);  // cancelled while waiting: never took it
  FUZZ_CHECK(got == returned());
  FUZZ_CHECK(!mutex_held_);  // one holder at a time
  mutex_held_ = true;
}

loop_script::mutex_release::~mutex_release() {
  script.mutex_held_ = false;
  script.mutex_.unlock();
}

// A suspending call inside a generator coroutine running in a task is
// refused with logic_error (section 4); a call that would not suspend
// (its task is done, the queue has an item, the event is set) just works.
void loop_script::generator_misuse(const instruction& ins) {
  const int j = ins.b % worker_count_;
  tandem::task<int>& h = workers_[j].handle;
  outcome want{kind::misuse, 0};
  const int how = ins.a % 6;
  switch (how) {
    case 1:  // await
    case 2:  // wait_for: a positive timeout (a zero one cancels the task before the refusal)
    case 3:  // gather
      if (h.done()) want = final_outcome(j);
      break;
    case 4:
      if (!queue_.empty()) want = returned(mirror_.front());
      break;
    case 5:
      if (event_.is_set()) want = returned();
      break;
    default:
      break;
  }
  outcome inside{};
  tandem::coroutine<void, void> gen([&](tandem::yielder<void, void>&) {
    FUZZ_CHECK(&tandem::current_loop() == &loop_);
    inside = observe([&] {
      switch (how) {
        case 1:
          return tandem::await(h);
        case 2:
          return tandem::wait_for(h, 100us);
        case 3:
          return std::get<0>(tandem::gather(h));
        case 4:
          return queue_.get();
        case 5:
          event_.wait();
          return 0;
        default:
          tandem::sleep_for(0s);
          return 0;
      }
    });
  });
  FUZZ_CHECK(observe([&] { gen.next(); }).what == kind::stop);
  FUZZ_CHECK(inside == want);
  if (how == 4 && want.what == kind::value) take_item(inside.value);
  pass_on_cancellation(inside);
}

}  // namespace fuzz::script
