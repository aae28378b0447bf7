// The raw context switch: tandem_jump against Boost.Context's
// jump_fcontext, one-way and round trip, in the same run.
#include <benchmark/benchmark.h>

#include <boost/context/detail/fcontext.hpp>

#include "tandem/context.h"
#include "tandem/stack.hpp"

namespace {

namespace fc = boost::context::detail;

void tandem_echo(tandem_transfer t) {
  for (;;) t = tandem_jump(t.from, t.data);
}

void boost_echo(fc::transfer_t t) {
  for (;;) t = fc::jump_fcontext(t.fctx, t.data);
}

// Each loop pass is a round trip, two jumps; KeepRunningBatch(2) makes the
// reported time per jump.
void BM_tandem_jump_one_way(benchmark::State& state) {
  tandem::stack s;
  tandem_context c = tandem_make_context(s.top(), s.size(), tandem_echo);
  while (state.KeepRunningBatch(2)) c = tandem_jump(c, nullptr).from;
}
BENCHMARK(BM_tandem_jump_one_way);

void BM_boost_jump_fcontext_one_way(benchmark::State& state) {
  tandem::stack s;
  fc::fcontext_t c = fc::make_fcontext(s.top(), s.size(), boost_echo);
  while (state.KeepRunningBatch(2)) c = fc::jump_fcontext(c, nullptr).fctx;
}
BENCHMARK(BM_boost_jump_fcontext_one_way);

void BM_tandem_jump_round_trip(benchmark::State& state) {
  tandem::stack s;
  tandem_context c = tandem_make_context(s.top(), s.size(), tandem_echo);
  while (state.KeepRunningBatch(1)) c = tandem_jump(c, nullptr).from;
}
BENCHMARK(BM_tandem_jump_round_trip);

void BM_boost_jump_fcontext_round_trip(benchmark::State& state) {
  tandem::stack s;
  fc::fcontext_t c = fc::make_fcontext(s.top(), s.size(), boost_echo);
  while (state.KeepRunningBatch(1)) c = fc::jump_fcontext(c, nullptr).fctx;
}
BENCHMARK(BM_boost_jump_fcontext_round_trip);

}  // namespace
