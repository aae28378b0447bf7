// A send through a yield_from chain (generator rule 16) against a send to a
// coroutine that delegates to nobody, in the same run:
//
//   BM_delegated_send/0    coroutine<long, long, long> answering v + 1
//   BM_delegated_send/1    the same body one yield_from below the resumed one
//   BM_delegated_send/64   64 yield_froms below
//
// tandem's resumer switches straight into the innermost body, so the three
// should cost about the same; CPython walks the chain on every send
// (bench/delegation_cost.py measures its ratio for the same chain).
#include <benchmark/benchmark.h>

#include <cstdint>

#include "tandem/coroutine.hpp"

namespace {

using chain = tandem::coroutine<long, long, long>;
using chain_yielder = tandem::yielder<long, long>;

// The ping-pong's adder, `depth` yield_froms down.
chain adder_below(int depth) {
  if (depth == 0)
    return chain([](chain_yielder& y) -> long {
      long value = 0;
      for (;;) value = y.yield(value) + 1;
    });
  return chain([depth](chain_yielder& y) { return y.yield_from(adder_below(depth - 1)); });
}

void BM_delegated_send(benchmark::State& state) {
  chain co = adder_below(static_cast<int>(state.range(0)));
  co.next();
  long ret = 0;
  for (auto _ : state) ret = co.send(ret);
  benchmark::DoNotOptimize(ret);
  if (ret != static_cast<long>(state.iterations())) state.SkipWithError("wrong result");
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}
BENCHMARK(BM_delegated_send)->Arg(0)->Arg(1)->Arg(64);

}  // namespace
