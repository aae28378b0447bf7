// The seed's ping-pong (examples/pingpong.cpp) on every switch we compare
// against: two generators that answer each sent value with value + 1,
// driven by `ret = c1.send(ret); ret = c2.send(ret);`.
//
// One send resumes a generator with a value and gets its next yielded value
// back: a round trip. Each loop pass makes two, and KeepRunningBatch(2)
// makes the reported time per send (items_per_second: sends per second).
#include <benchmark/benchmark.h>
#include <ucontext.h>

#include <boost/context/detail/fcontext.hpp>
#include <boost/context/fiber.hpp>
#include <boost/context/fixedsize_stack.hpp>
#include <cerrno>
#include <cstdint>
#include <memory>
#include <system_error>
#include <utility>

#include "stackless_generator.hpp"
#include "tandem/context.h"
#include "tandem/coroutine.hpp"
#include "tandem/stack.hpp"

namespace {

namespace ctx = boost::context;
namespace fc = boost::context::detail;

// Builds two generators with make(), runs each to its first yield, then
// ping-pongs. Checks the result, so that a broken generator cannot pass
// for a fast one.
template <class Make>
void BM_pingpong_send(benchmark::State& state, Make make) {
  auto c1 = make();
  auto c2 = make();
  c1.next();
  c2.next();
  long ret = 0;
  while (state.KeepRunningBatch(2)) {
    ret = c1.send(ret);
    ret = c2.send(ret);
  }
  benchmark::DoNotOptimize(ret);
  if (ret != static_cast<long>(state.iterations())) state.SkipWithError("wrong ping-pong result");
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}

// 1. tandem's C++ API, as a user would write the seed.
tandem::coroutine<long, long> make_tandem_coroutine() {
  return tandem::coroutine<long, long>([](tandem::yielder<long, long>& y) {
    long return_value = 0;
    for (;;) {
      const long input_value = y.yield(return_value);
      return_value = input_value + 1;
    }
  });
}
BENCHMARK_CAPTURE(BM_pingpong_send, tandem_coroutine, &make_tandem_coroutine);

// 1b. The same with stack_options::own_fp_control: each coroutine keeps its
// own FP control state, which every switch stores and compares.
tandem::coroutine<long, long> make_tandem_coroutine_own_fp() {
  tandem::stack_options options;
  options.own_fp_control = true;
  return tandem::coroutine<long, long>(
      [](tandem::yielder<long, long>& y) {
        long return_value = 0;
        for (;;) {
          const long input_value = y.yield(return_value);
          return_value = input_value + 1;
        }
      },
      options);
}
BENCHMARK_CAPTURE(BM_pingpong_send, tandem_coroutine_own_fp, &make_tandem_coroutine_own_fp);

// 2. tandem's C ABI: the value travels as the jump's data pointer, and
// the body lives on a bare stack with nothing else (no state checks, no
// exception bookkeeping): the floor the C++ layer is built on.
void jump_adder(tandem_transfer t) {
  long return_value = 0;
  for (;;) {
    t = tandem_jump(t.from, &return_value);
    return_value = *static_cast<long*>(t.data) + 1;
  }
}

struct jump_generator {
  tandem::stack stack;
  tandem_context context = tandem_make_context(stack.top(), stack.size(), jump_adder);

  long next() { return send(0); }
  long send(long value) {
    const tandem_transfer t = tandem_jump(context, &value);
    context = t.from;
    return *static_cast<long*>(t.data);
  }
};
jump_generator make_tandem_jump() { return jump_generator(); }
BENCHMARK_CAPTURE(BM_pingpong_send, tandem_jump, &make_tandem_jump);

// 3. Boost.Context's fcontext, the same shape as 2 on the same stacks.
void fcontext_adder(fc::transfer_t t) {
  long return_value = 0;
  for (;;) {
    t = fc::jump_fcontext(t.fctx, &return_value);
    return_value = *static_cast<long*>(t.data) + 1;
  }
}

struct fcontext_generator {
  tandem::stack stack;
  fc::fcontext_t context = fc::make_fcontext(stack.top(), stack.size(), fcontext_adder);

  long next() { return send(0); }
  long send(long value) {
    const fc::transfer_t t = fc::jump_fcontext(context, &value);
    context = t.fctx;
    return *static_cast<long*>(t.data);
  }
};
fcontext_generator make_boost_jump_fcontext() { return fcontext_generator(); }
BENCHMARK_CAPTURE(BM_pingpong_send, boost_jump_fcontext, &make_boost_jump_fcontext);

// 4. boost::context::fiber. A fiber's resume carries no data, so the value
// goes through a slot both sides can see. The body captures `this`, so the
// generator stays where it was built.
class fiber_generator {
 public:
  fiber_generator()
      : fiber_(std::allocator_arg, ctx::fixedsize_stack(tandem::default_stack_size),
               [this](ctx::fiber&& caller) { return body(std::move(caller)); }) {}
  fiber_generator(const fiber_generator&) = delete;
  fiber_generator& operator=(const fiber_generator&) = delete;
  // The fiber's destructor unwinds the suspended body (forced_unwind).
  ~fiber_generator() = default;

  long next() { return send(0); }
  long send(long value) {
    slot_ = value;
    fiber_ = std::move(fiber_).resume();
    return slot_;
  }

 private:
  ctx::fiber body(ctx::fiber&& caller) {
    long return_value = 0;
    for (;;) {
      slot_ = return_value;
      caller = std::move(caller).resume();
      return_value = slot_ + 1;
    }
  }

  long slot_ = 0;  // declared first: the fiber's body may use it
  ctx::fiber fiber_;
};
fiber_generator make_boost_fiber() { return fiber_generator(); }
BENCHMARK_CAPTURE(BM_pingpong_send, boost_fiber, &make_boost_fiber);

// 5. glibc's swapcontext, which also saves and restores the signal mask:
// a system call per switch. The value goes through a slot, as in 4.
// Neither copyable nor movable: glibc points a ucontext_t into itself.
class ucontext_generator {
 public:
  ucontext_generator() {
    if (getcontext(&self_) != 0) throw std::system_error(errno, std::generic_category());
    self_.uc_stack.ss_sp = stack_.bottom();
    self_.uc_stack.ss_size = stack_.size();
    self_.uc_link = nullptr;
    // makecontext passes only int arguments: the pointer goes in two halves.
    const auto address = reinterpret_cast<std::uintptr_t>(this);
    makecontext(&self_, reinterpret_cast<void (*)()>(&entry), 2,
                static_cast<unsigned>(static_cast<std::uint64_t>(address) >> 32),
                static_cast<unsigned>(address));
  }
  ucontext_generator(const ucontext_generator&) = delete;
  ucontext_generator& operator=(const ucontext_generator&) = delete;
  // The body holds nothing that needs destroying: dropping its stack is enough.
  ~ucontext_generator() = default;

  long next() { return send(0); }
  long send(long value) {
    slot_ = value;
    swapcontext(&caller_, &self_);
    return slot_;
  }

 private:
  static void entry(unsigned high, unsigned low) {
    const std::uint64_t address = (std::uint64_t{high} << 32) | low;
    reinterpret_cast<ucontext_generator*>(static_cast<std::uintptr_t>(address))->body();
  }

  void body() {
    long return_value = 0;
    for (;;) {
      slot_ = return_value;
      swapcontext(&self_, &caller_);
      return_value = slot_ + 1;
    }
  }

  tandem::stack stack_;
  ucontext_t self_{};
  ucontext_t caller_{};
  long slot_ = 0;
};
ucontext_generator make_ucontext_swapcontext() { return ucontext_generator(); }
BENCHMARK_CAPTURE(BM_pingpong_send, ucontext_swapcontext, &make_ucontext_swapcontext);

// 6. A C++20 stackless coroutine, bodies compiled apart (stackless_bodies.cpp).
BENCHMARK_CAPTURE(BM_pingpong_send, stackless_cpp20, &bench::stackless_adder);

}  // namespace
