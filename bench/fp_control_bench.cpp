// What keeping a coroutine's own FP control state costs a send, measured
// beside the ping-pongs of pingpong_bench.cpp.
//
// With stack_options::own_fp_control, each switch of tandem::coroutine
// stores its side's MXCSR and x87 control word (AArch64: FPCR) and compares
// them with the other side's, writing them only when they differ (never,
// here). A send is two switches. This loop does exactly that work twice per
// iteration and nothing else, with the instructions of
// include/tandem/detail/switch_*.hpp, so its time per iteration is what
// own_fp_control adds to every send (the default switch does none of it).
#include <benchmark/benchmark.h>

#include <cstdint>

namespace {

struct fp_slots {
  std::uint32_t mxcsr = 0;  // AArch64: the low half of FPCR
  std::uint16_t x87_cw = 0;
  std::uint16_t padding = 0;
};

// One switch's FP work: store ours, compare with theirs (equal: no write).
inline void store_and_compare(fp_slots* mine, const fp_slots* theirs) {
#if defined(__x86_64__)
  asm volatile(
      "stmxcsr (%0)\n\t"
      "fnstcw  4(%0)\n\t"
      "movl    (%0), %%eax\n\t"
      "cmpl    (%1), %%eax\n\t"
      "jne     1f\n\t"
      "movzwl  4(%0), %%eax\n\t"
      "cmpw    4(%1), %%ax\n"
      "1:\n\t"
      :
      : "r"(mine), "r"(theirs)
      : "rax", "memory", "cc");
#elif defined(__aarch64__)
  asm volatile(
      "mrs     x9, fpcr\n\t"
      "str     w9, [%0]\n\t"
      "ldr     w10, [%1]\n\t"
      "cmp     w9, w10\n\t"
      :
      : "r"(mine), "r"(theirs)
      : "x9", "x10", "memory", "cc");
#else
  benchmark::DoNotOptimize(mine);
  benchmark::DoNotOptimize(theirs);
#endif
}

void BM_fp_control_per_send(benchmark::State& state) {
  fp_slots a;
  fp_slots b;
  store_and_compare(&a, &b);  // both hold this thread's values from here on
  store_and_compare(&b, &a);
  for (auto _ : state) {
    store_and_compare(&a, &b);  // into the coroutine
    store_and_compare(&b, &a);  // and back
  }
  if (a.mxcsr != b.mxcsr || a.x87_cw != b.x87_cw) state.SkipWithError("FP control changed");
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}
BENCHMARK(BM_fp_control_per_send);

}  // namespace
