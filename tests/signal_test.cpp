// Signals delivered in the middle of switches. A SIGALRM timer fires every
// 100 µs while coroutines (and raw tandem_jump contexts) switch back and
// forth 10^8 times; its handler runs on whatever stack is current and
// scribbles a few KiB of it. Both sides of every switch keep values in
// locals, callee-saved registers, the frame pointer and a stack array
// across it, and check them after every switch.
//
// Why this catches a switch that uses memory below the stack pointer:
// without SA_ONSTACK the kernel builds the signal frame directly below the
// interrupted sp (on x86-64 below the 128-byte red zone), the handler
// writes over the parts of that frame the kernel left unwritten (see
// scribble_unused_frame), and its own frame writes 2.5 KiB more below. So
// nearly every byte from the red zone (x86-64) or from sp (AArch64) down to
// 4-8 KiB below is overwritten by each tick. A switch that parked anything
// there while its stack was current (a register stored below sp, a resume
// address read from below the new sp after loading it, a stack pointer
// restored a little too high so that live spills of its frame look free)
// loses it whenever a tick lands between the store and the load. At 10,000
// ticks per second and a window of a few instructions per switch, that
// happens hundreds of times per run, and shows up as a wrong local, a wrong
// register or a crash. Tried on copies of the inline switch that keep the
// frame pointer below sp instead of in its slot: on x86-64, 136, 200, 256,
// 1024 or 2048 bytes below rsp all pass with the timer off and crash within
// 0.05 s with it on; on AArch64 under qemu, 8 or 256 bytes below sp the
// same. 64 bytes below rsp on x86-64 passes: the kernel spares the red
// zone, so a switch may use it as far as signals go. The danger there is
// the compiler's own red-zone data under an asm statement that pushes,
// which the inline switch avoids by pushing nothing (switch_x86_64.hpp).
// The handler asserts nothing by itself; it proves it ran, and on which
// stack, so that the test cannot pass vacuously.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/time.h>
#include <time.h>
#include <ucontext.h>

#if defined(__x86_64__)
#include <cpuid.h>
#endif

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <system_error>

#include "support/iterations.hpp"
#include "support/register_state.h"
#include "tandem/context.h"
#include "tandem/coroutine.hpp"
#include "tandem/stack.hpp"

namespace {

using testing_support::iterations;

// ---------------------------------------------------------------------------
// The handler and its timer.

static_assert(std::atomic<std::uint64_t>::is_always_lock_free &&
                  std::atomic<std::uintptr_t>::is_always_lock_free,
              "the handler may only touch lock-free atomics");

std::atomic<std::uint64_t> deliveries{0};
std::atomic<std::uint64_t> handler_mismatches{0};

// A stack range the handler looks out for, and how often it ran inside it.
struct watched_range {
  std::atomic<std::uintptr_t> low{0};
  std::atomic<std::uintptr_t> high{0};
  std::atomic<std::uint64_t> hits{0};

  void set(std::uintptr_t l, std::uintptr_t h) {
    low = l;
    high = h;
  }
  void count(std::uintptr_t address) {
    const std::uintptr_t l = low.load(std::memory_order_relaxed);
    if (address - l < high.load(std::memory_order_relaxed) - l)
      hits.fetch_add(1, std::memory_order_relaxed);
  }
};
watched_range watched;    // the stack under test: a coroutine's or a context's
watched_range alternate;  // the alternate signal stack, when there is one

constexpr std::size_t handler_words = 320;  // 2.5 KiB of the interrupted stack

// The handler also writes over the parts of its own signal frame that the
// kernel reserved but left unwritten, between the interrupted sp and the
// registers it saved, as a kernel with more state to save would fill them.
// Without that, data parked in those gaps (a few hundred bytes just past
// the red zone on x86-64, a few KiB just below the 16-byte frame record on
// AArch64) would survive every signal here and the test could not see it.
// No ASan checks in there: the frame is below the interrupted sp, where
// ASan's shadow may still hold the poison of frames long gone.
#define SIGNAL_FRAME_CODE __attribute__((no_sanitize("address")))

// A little-endian load that neither ASan's memcpy interceptor nor strict
// aliasing get in the way of.
template <class T>
SIGNAL_FRAME_CODE inline T load_le(const unsigned char* p) {
  T v = 0;
  for (std::size_t k = sizeof(T); k-- > 0;) v = static_cast<T>(v << 8 | p[k]);
  return v;
}

#if defined(__x86_64__)
// Where each XSAVE state component sits in the standard format that signal
// frames use (CPUID leaf 0xd), learnt before the timer starts.
struct xsave_component {
  std::uint32_t offset = 0;
  std::uint32_t size = 0;
};
xsave_component xsave_layout[64];

void learn_xsave_layout() {
  if (__get_cpuid_max(0, nullptr) < 0xd) return;
  for (unsigned i = 2; i < 64; ++i) {
    unsigned size = 0, offset = 0, ecx = 0, edx = 0;
    __cpuid_count(0xd, i, size, offset, ecx, edx);
    xsave_layout[i] = {offset, size};
  }
}

// The frame's XSAVE area holds only the components in use (XSTATE_BV);
// sigreturn initialises the others without reading their bytes. Below the
// red zone, the area is aligned down to 64 bytes: up to 63 bytes of gap.
SIGNAL_FRAME_CODE void scribble_unused_frame(void* context, std::uint64_t salt) {
  const auto* uc = static_cast<const ucontext_t*>(context);
  auto* fp = reinterpret_cast<unsigned char*>(uc->uc_mcontext.fpregs);
  constexpr std::uint32_t xstate_magic1 = 0x46505853;  // FP_XSTATE_MAGIC1
  if (fp == nullptr || load_le<std::uint32_t>(fp + 464) != xstate_magic1) return;
  const std::uint32_t extended_size = load_le<std::uint32_t>(fp + 468);  // up to MAGIC2's end
  const auto features = load_le<std::uint64_t>(fp + 472);
  const auto in_use = load_le<std::uint64_t>(fp + 512);
  for (unsigned i = 2; i < 64; ++i) {
    const xsave_component c = xsave_layout[i];
    if ((features >> i & 1) == 0 || (in_use >> i & 1) != 0 || c.offset < 576 ||
        c.offset + c.size + 4 > extended_size)
      continue;
    for (std::uint32_t k = 0; k < c.size; ++k)
      fp[c.offset + k] = static_cast<unsigned char>(salt + k);
  }
  const auto red_zone = static_cast<std::uintptr_t>(uc->uc_mcontext.gregs[REG_RSP]) - 128;
  auto end = reinterpret_cast<std::uintptr_t>(fp) + extended_size;
  if (end <= red_zone && red_zone - end < 64)  // else not on the interrupted stack
    for (; end < red_zone; ++end) *reinterpret_cast<unsigned char*>(end) = 0xa5;
}
#elif defined(__aarch64__)
void learn_xsave_layout() {}

// Linux (and qemu-user, which copies its layout) reserves 4 KiB for
// register records (FP/SIMD, SVE, ...) at the top of the frame. With only
// FP/SIMD to save most of it stays unwritten; sigreturn reads the records
// only up to their terminator.
SIGNAL_FRAME_CODE void scribble_unused_frame(void* context, std::uint64_t salt) {
  auto* reserve = static_cast<ucontext_t*>(context)->uc_mcontext.__reserved;
  constexpr std::size_t size = sizeof static_cast<ucontext_t*>(context)->uc_mcontext.__reserved;
  std::size_t offset = 0;
  for (;;) {  // struct _aarch64_ctx { u32 magic, size; } heads each record
    if (offset + 8 > size) return;
    const auto magic = load_le<std::uint32_t>(reserve + offset);
    const auto length = load_le<std::uint32_t>(reserve + offset + 4);
    if (magic == 0) {
      offset += 8;
      break;
    }
    if (length < 8) return;  // not a layout this code knows: leave it alone
    offset += length;
  }
  for (; offset < size; ++offset) reserve[offset] = static_cast<unsigned char>(salt + offset);
}
#else
void learn_xsave_layout() {}
void scribble_unused_frame(void*, std::uint64_t) {}
#endif

void on_alarm(int, siginfo_t*, void* context) {
  const int saved_errno = errno;
  // volatile: every store really reaches the stack, below the signal frame.
  volatile std::uint64_t scratch[handler_words];
  const std::uint64_t salt = deliveries.load(std::memory_order_relaxed) * 0x9e3779b97f4a7c15u;
  for (std::size_t i = 0; i < handler_words; ++i) scratch[i] = salt ^ i;
  std::uint64_t sum = 0;
  for (std::size_t i = 0; i < handler_words; ++i) sum += scratch[i] ^ salt;
  if (sum != handler_words * (handler_words - 1) / 2)
    handler_mismatches.fetch_add(1, std::memory_order_relaxed);
  // Some FP work too: the interrupted code's vector registers and FP control
  // are the kernel's to save and restore around this.
  volatile double x = static_cast<double>(sum);
  for (int i = 0; i < 8; ++i) x = x * 1.0000001 + 0.5;

  scribble_unused_frame(context, salt);

  const auto here = reinterpret_cast<std::uintptr_t>(__builtin_frame_address(0));
  watched.count(here);
  alternate.count(here);
  deliveries.fetch_add(1, std::memory_order_relaxed);
  errno = saved_errno;
}

void check(int result, const char* what) {
  if (result != 0) throw std::system_error(errno, std::generic_category(), what);
}

// SIGALRM every `period` microseconds, with on_alarm, while it lives. On the
// interrupted stack by default; on an alternate stack of its own if asked.
// Puts back the previous action, timer, mask and alternate stack, and eats a
// tick that was still pending, so that no SIGALRM outlives it.
class alarm_storm {
 public:
  enum class stack_choice { interrupted, alternate };

  explicit alarm_storm(long period_us, stack_choice where = stack_choice::interrupted) {
    learn_xsave_layout();
    deliveries = 0;
    handler_mismatches = 0;
    watched.set(0, 0);
    watched.hits = 0;
    alternate.set(0, 0);
    alternate.hits = 0;
    struct sigaction action {};
    action.sa_sigaction = on_alarm;
    action.sa_flags = SA_SIGINFO | SA_RESTART;
    sigemptyset(&action.sa_mask);
    if (where == stack_choice::alternate) {
      alternate_ = std::make_unique<char[]>(alternate_size);
      stack_t ss{};
      ss.ss_sp = alternate_.get();
      ss.ss_size = alternate_size;
      check(sigaltstack(&ss, &old_alternate_), "sigaltstack");
      const auto low = reinterpret_cast<std::uintptr_t>(alternate_.get());
      alternate.set(low, low + alternate_size);
      action.sa_flags |= SA_ONSTACK;
    }
    check(sigaction(SIGALRM, &action, &old_action_), "sigaction");
    itimerval timer{};
    timer.it_interval.tv_usec = period_us;
    timer.it_value.tv_usec = period_us;
    check(setitimer(ITIMER_REAL, &timer, &old_timer_), "setitimer");
    armed_ = true;
  }

  ~alarm_storm() { stop(); }

  void stop() noexcept {
    if (!armed_) return;
    armed_ = false;
    const itimerval off{};
    setitimer(ITIMER_REAL, &off, nullptr);
    sigset_t alarm, old_mask;
    sigemptyset(&alarm);
    sigaddset(&alarm, SIGALRM);
    pthread_sigmask(SIG_BLOCK, &alarm, &old_mask);
    const timespec no_wait{};
    while (sigtimedwait(&alarm, nullptr, &no_wait) == SIGALRM) {
    }
    sigaction(SIGALRM, &old_action_, nullptr);
    if (alternate_) sigaltstack(&old_alternate_, nullptr);
    pthread_sigmask(SIG_SETMASK, &old_mask, nullptr);
    setitimer(ITIMER_REAL, &old_timer_, nullptr);
  }

  alarm_storm(const alarm_storm&) = delete;
  alarm_storm& operator=(const alarm_storm&) = delete;

 private:
  static constexpr std::size_t alternate_size = 256 * 1024;
  struct sigaction old_action_ {};
  itimerval old_timer_{};
  stack_t old_alternate_{};
  std::unique_ptr<char[]> alternate_;
  bool armed_ = false;
};

// The handler counts the deliveries that land on the stack running below
// `frame` (within 64 KiB, far more than the handler and the switch need).
void watch_stack_below(const void* frame) {
  const auto high = reinterpret_cast<std::uintptr_t>(frame);
  watched.set(high - 64 * 1024, high);
}

// 10 kHz. Faster ticks mostly measure the timer: in a VM each one costs
// some 40 µs of wall time, so at 30 µs the run would spend most of its time
// taking interrupts, not switching.
constexpr long tick_us = 100;

// How many times the handler must have run during n switches (and on the
// watched stack a tenth as often): once per `switches_per_tick` switches,
// and at least 10. A timer counts wall time, so a slow or loaded machine
// only raises the real count; a fast one reaches the bound as long as a
// checked switch takes longer than 100 µs / switches_per_tick, several
// times less than a bare switch takes on any current CPU. Where it falls
// short anyway, storm() below runs on until it is reached.
std::uint64_t min_deliveries(std::uint64_t switches, std::uint64_t switches_per_tick) {
  return std::max<std::uint64_t>(switches / switches_per_tick, 10);
}

// ---------------------------------------------------------------------------
// Values that the optimiser cannot see through.

// splitmix64's finaliser: consecutive inputs give unrelated outputs.
constexpr std::uint64_t mix(std::uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9u;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebu;
  return x ^ (x >> 31);
}

// Makes the compiler forget what it knew about v: it must keep v itself (in
// a register or a spill slot) across what follows instead of recomputing it.
inline void opaque(std::uint64_t& v) { asm volatile("" : "+r"(v)); }

// Lets the compiler assume that anything may have read or written *p, so an
// array stays in memory, on the stack, with every store done.
inline void escape(const void* p) { asm volatile("" : : "r"(p) : "memory"); }

// A stack array of each side: filled once, checked every 256 rounds.
constexpr std::size_t ledger_words = 64;

void fill_ledger(std::uint64_t* ledger, std::uint64_t salt) {
  for (std::size_t k = 0; k < ledger_words; ++k) ledger[k] = mix(salt + k);
  escape(ledger);
}

bool ledger_intact(const std::uint64_t* ledger, std::uint64_t salt) {
  escape(ledger);
  for (std::size_t k = 0; k < ledger_words; ++k)
    if (ledger[k] != mix(salt + k)) return false;
  return true;
}

// What one side saw go wrong first; `round` is the round it happened in.
struct verdict {
  const char* what = nullptr;
  std::uint64_t round = 0;
  std::uint64_t rounds_done = 0;
  void fail(const char* w, std::uint64_t r) {
    if (what == nullptr) {
      what = w;
      round = r;
    }
  }
};

// ---------------------------------------------------------------------------
// The coroutine ping-pong. Round i: the resumer sends mix(i), the body
// yields mix(mix(i)) ^ i. Both switches of a round happen inside the
// noinline functions below, so the caller's locals live in callee-saved
// registers across the call: they are only right afterwards if the frame of
// the function that switched saved and restored those registers intact.

using co_type = tandem::coroutine<std::uint64_t, std::uint64_t>;

// The frame pointer register as it is now, not as the compiler remembers
// it. Inlined even at -O0, or it would read the frame pointer of its own.
__attribute__((always_inline)) inline std::uintptr_t frame_pointer_register() {
  std::uintptr_t fp;
#if defined(__x86_64__)
  asm volatile("movq %%rbp, %0" : "=r"(fp));
#elif defined(__aarch64__)
  asm volatile("mov %0, x29" : "=r"(fp));
#else
  fp = reinterpret_cast<std::uintptr_t>(__builtin_frame_address(0));
#endif
  return fp;
}

std::uint64_t frame_pointer_mismatches = 0;

// Each of these sets up a frame pointer (__builtin_frame_address asks for
// one) and checks that the register holds it again after the switch. rbp
// and x29 are the registers the inline switch saves and restores by hand,
// and the only ones whose loss the locals above could miss: a function
// that addresses its frame through sp restores them from its own frame
// record on return, and only a frame-pointer unwinder (perf, gdb, ASan's
// stack traces) would stumble meanwhile.
[[gnu::noinline]] std::uint64_t resume_once(co_type& co, std::uint64_t value) {
  const auto frame = reinterpret_cast<std::uintptr_t>(__builtin_frame_address(0));
  const std::uint64_t got = co.send(value);
  if (frame_pointer_register() != frame) [[unlikely]]
    ++frame_pointer_mismatches;
  return got;
}

[[gnu::noinline]] std::uint64_t yield_once(co_type::yielder_type& y, std::uint64_t value) {
  const auto frame = reinterpret_cast<std::uintptr_t>(__builtin_frame_address(0));
  const std::uint64_t got = y.yield(value);
  if (frame_pointer_register() != frame) [[unlikely]]
    ++frame_pointer_mismatches;
  return got;
}

constexpr std::uint64_t body_salt = 0xb0d1b0d1b0d1b0d1u;
constexpr std::uint64_t resumer_salt = 0x5e5e5e5e5e5e5e5eu;

[[gnu::noinline]] void body_loop(co_type::yielder_type& y, std::uint64_t rounds, verdict& v) {
  watch_stack_below(__builtin_frame_address(0));
  std::uint64_t ledger[ledger_words];
  fill_ledger(ledger, body_salt);
  std::uint64_t in = yield_once(y, 0);  // the answer to next()
  std::uint64_t i = 0;
  for (; i < rounds; ++i) {
    if (in != mix(i)) [[unlikely]] {
      v.fail("body: the value sent", i);
      break;
    }
    std::uint64_t a = i * 0x100000001b3u, b = in ^ body_salt, c = ~in, d = i + in,
                  e = in * 0x9e3779b97f4a7c15u;
    opaque(a), opaque(b), opaque(c), opaque(d), opaque(e);
    const std::uint64_t out = mix(in) ^ i;
    in = yield_once(y, out);
    if (a != i * 0x100000001b3u || b != (mix(i) ^ body_salt) || c != ~mix(i) || d != i + mix(i) ||
        e != mix(i) * 0x9e3779b97f4a7c15u) [[unlikely]] {
      v.fail("body: a local kept across the yield", i);
      break;
    }
    if ((i & 255) == 0 && !ledger_intact(ledger, body_salt)) [[unlikely]] {
      v.fail("body: its stack array", i);
      break;
    }
  }
  if (!ledger_intact(ledger, body_salt)) v.fail("body: its stack array at the end", i);
  v.rounds_done = i;
}

// Runs the ping-pong for `rounds` rounds (2 * rounds switches) and checks
// both sides' verdicts.
void run_pingpong(std::uint64_t rounds) {
  frame_pointer_mismatches = 0;
  verdict body_verdict, resumer_verdict;
  co_type co([&](co_type::yielder_type& y) { body_loop(y, rounds, body_verdict); });
  ASSERT_EQ(co.next(), 0u);
  std::uint64_t ledger[ledger_words];
  fill_ledger(ledger, resumer_salt);
  std::uint64_t i = 0;
  for (; i < rounds; ++i) {
    std::uint64_t sent = mix(i);
    std::uint64_t a = i ^ resumer_salt, b = sent + 7, c = sent * 3, d = i << 7, e = ~i;
    opaque(sent), opaque(a), opaque(b), opaque(c), opaque(d), opaque(e);
    const std::uint64_t got = resume_once(co, sent);
    if (got != (mix(mix(i)) ^ i)) [[unlikely]] {
      resumer_verdict.fail("resumer: the value yielded", i);
      break;
    }
    if (sent != mix(i) || a != (i ^ resumer_salt) || b != mix(i) + 7 || c != mix(i) * 3 ||
        d != i << 7 || e != ~i) [[unlikely]] {
      resumer_verdict.fail("resumer: a local kept across the send", i);
      break;
    }
    if ((i & 255) == 128 && !ledger_intact(ledger, resumer_salt)) [[unlikely]] {
      resumer_verdict.fail("resumer: its stack array", i);
      break;
    }
  }
  EXPECT_EQ(resumer_verdict.what, nullptr)
      << resumer_verdict.what << " went wrong in round " << resumer_verdict.round;
  EXPECT_TRUE(ledger_intact(ledger, resumer_salt)) << "resumer: its stack array at the end";
  EXPECT_EQ(i, rounds);
  EXPECT_EQ(frame_pointer_mismatches, 0u) << "switches that lost the frame pointer";
  if (i == rounds) {
    // The body leaves its loop after `rounds` rounds and returns.
    EXPECT_THROW(co.send(0), tandem::stop_iteration);
    EXPECT_EQ(body_verdict.what, nullptr)
        << body_verdict.what << " went wrong in round " << body_verdict.round;
    EXPECT_EQ(body_verdict.rounds_done, rounds);
  }
}

// Runs `work(switches)` with the timer on, then more rounds of a tenth as
// many while `enough()` is not yet true, for at most a minute more, and
// prints what happened. Where signals arrive seldom (Valgrind delivers them
// only between its blocks of translated code, ~100 per second) the storm
// lasts until it has done its job, instead of failing or passing empty.
template <class Work, class Enough>
void storm(const char* what, std::uint64_t switches, alarm_storm::stack_choice where, Work work,
           Enough enough) {
  const auto start = std::chrono::steady_clock::now();
  std::uint64_t done = 0;
  {
    alarm_storm timer(tick_us, where);
    work(switches);
    done += switches;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(1);
    const std::uint64_t more = std::max<std::uint64_t>(switches / 10, 2);
    while (!enough() && !::testing::Test::HasFailure() &&
           std::chrono::steady_clock::now() < deadline) {
      work(more);
      done += more;
    }
  }
  const double took =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("%llu %s in %.2f s; %llu signals, %llu on the watched stack, %llu on the alternate\n",
              static_cast<unsigned long long>(done), what, took,
              static_cast<unsigned long long>(deliveries.load()),
              static_cast<unsigned long long>(watched.hits.load()),
              static_cast<unsigned long long>(alternate.hits.load()));
}

// 10^8 switches (5 * 10^7 sends) with the handler on whichever stack is
// current: the resumer's, the body's, or halfway through a switch.
TEST(SignalStorm, CoroutinePingPongKeepsValuesRegistersAndStacks) {
  const std::uint64_t switches = iterations(100'000'000, 2'000);
  const std::uint64_t wanted = min_deliveries(switches, 100'000);  // 1 ns per switch
  storm(
      "switches", switches, alarm_storm::stack_choice::interrupted,
      [](std::uint64_t n) { run_pingpong(n / 2); },
      [&] { return deliveries >= wanted && watched.hits >= wanted / 10; });
  EXPECT_GE(deliveries.load(), wanted);
  EXPECT_GE(watched.hits.load(), wanted / 10) << "deliveries on the coroutine's stack";
  EXPECT_EQ(handler_mismatches.load(), 0u);
}

// The same with the handler on an alternate signal stack (SA_ONSTACK): the
// kernel decides where to put the frame from the interrupted sp, which here
// keeps jumping between stacks it knows nothing about.
TEST(SignalStorm, CoroutinePingPongWithHandlerOnAlternateStack) {
  const std::uint64_t switches = iterations(10'000'000, 2'000);
  const std::uint64_t wanted = min_deliveries(switches, 100'000);  // 1 ns per switch
  storm(
      "switches", switches, alarm_storm::stack_choice::alternate,
      [](std::uint64_t n) { run_pingpong(n / 2); }, [&] { return deliveries >= wanted; });
  EXPECT_GE(deliveries.load(), wanted);
  EXPECT_EQ(alternate.hits.load(), deliveries.load()) << "the handler ran off its own stack";
  EXPECT_EQ(watched.hits.load(), 0u) << "the handler ran on the coroutine's stack";
  EXPECT_EQ(handler_mismatches.load(), 0u);
}

// ---------------------------------------------------------------------------
// The C ABI: tandem_jump between two contexts, each loading distinct values
// into every callee-saved register and into the FP control state right
// before each jump and reading them back right after (register_probe_jump),
// while the handler interrupts both of them and the jumps between them.

#if defined(__x86_64__)
register_state probe_values(std::uint64_t side) {
  register_state r{};
  r.rbx = 0x0101010101010101u * (side + 1);
  r.rbp = 0x0202020202020202u * (side + 1);
  r.r12 = 0x0303030303030303u * (side + 1);
  r.r13 = 0x0404040404040404u * (side + 1);
  r.r14 = 0x0505050505050505u * (side + 1);
  r.r15 = 0x0606060606060606u * (side + 1);
  // Rounding only: Valgrind's CPU model drops MXCSR's flush-to-zero bit.
  r.mxcsr = side == 0 ? 0x1f80 | 0x2000 : 0x1f80 | 0x4000;   // round down / up
  r.x87_cw = side == 0 ? 0x037f | 0x0400 : 0x037f | 0x0800;  // round down / up
  return r;
}

bool same_registers(const register_state& want, const register_state& got) {
  // The MXCSR's six status flags are caller-saved; the control bits are not.
  return got.rbx == want.rbx && got.rbp == want.rbp && got.r12 == want.r12 && got.r13 == want.r13 &&
         got.r14 == want.r14 && got.r15 == want.r15 &&
         (got.mxcsr & ~0x3fu) == (want.mxcsr & ~0x3fu) && got.x87_cw == want.x87_cw;
}
#elif defined(__aarch64__)
register_state probe_values(std::uint64_t side) {
  register_state r{};
  for (std::uint64_t i = 0; i < 11; ++i) r.x[i] = 0x1111111111111111u * (i + 1) + side;
  for (std::uint64_t i = 0; i < 8; ++i) r.d[i] = 0x0123456789abcdefu * (i + 3) + side;
  r.fpcr = side == 0 ? 2u << 22 : (1u << 22) | (1u << 24);  // round down / up + flush to zero
  return r;
}

bool same_registers(const register_state& want, const register_state& got) {
  for (int i = 0; i < 11; ++i)
    if (got.x[i] != want.x[i]) return false;
  for (int i = 0; i < 8; ++i)
    if (got.d[i] != want.d[i]) return false;
  return got.fpcr == want.fpcr;
}
#elif defined(__arm__)
register_state probe_values(std::uint64_t side) {
  register_state r{};
  for (std::uint32_t i = 0; i < 8; ++i)
    r.r[i] = 0x11111111u * (i + 1) + static_cast<std::uint32_t>(side);
  for (std::uint64_t i = 0; i < 8; ++i) r.d[i] = 0x0123456789abcdefu * (i + 3) + side;
  r.fpscr = side == 0 ? 2u << 22 : (1u << 22) | (1u << 24);  // round down / up + flush to zero
  return r;
}

bool same_registers(const register_state& want, const register_state& got) {
  for (int i = 0; i < 8; ++i)
    if (got.r[i] != want.r[i] || got.d[i] != want.d[i]) return false;
  return (got.fpscr & TANDEM_FPSCR_CONTROL) == want.fpscr;
}
#elif defined(__riscv)
register_state probe_values(std::uint64_t side) {
  register_state r{};
  for (std::uint64_t i = 0; i < 12; ++i) r.s[i] = 0x1111111111111111u * (i + 1) + side;
  for (std::uint64_t i = 0; i < 12; ++i) r.fs[i] = 0x0123456789abcdefu * (i + 3) + side;
  r.frm = side == 0 ? 2 : 3;  // round down / up
  return r;
}

bool same_registers(const register_state& want, const register_state& got) {
  for (int i = 0; i < 12; ++i)
    if (got.s[i] != want.s[i] || got.fs[i] != want.fs[i]) return false;
  return got.frm == want.frm;
}
#endif

// What the two contexts pass each other: the round, and a value that
// depends on it.
struct jump_message {
  std::uint64_t round;
  std::uint64_t value;
};

struct jump_run {
  std::uint64_t rounds = 0;
  verdict context;
};

[[noreturn]] void jump_entry(tandem_transfer t) {
  auto* run = static_cast<jump_run*>(t.data);
  std::uint64_t ledger[ledger_words];
  fill_ledger(ledger, body_salt);
  const register_state mine = probe_values(1);
  jump_message reply{};
  tandem_context back = t.from;
  void* data = &reply;
  for (std::uint64_t i = 0; i < run->rounds; ++i) {
    register_state seen{};
    const tandem_transfer got = register_probe_jump(back, data, &mine, &seen);
    back = got.from;
    const auto* in = static_cast<const jump_message*>(got.data);
    if (!same_registers(mine, seen)) run->context.fail("context: a callee-saved register", i);
    if (in->round != i || in->value != mix(i)) run->context.fail("context: the message", i);
    if ((i & 255) == 0 && !ledger_intact(ledger, body_salt))
      run->context.fail("context: its stack array", i);
    reply = {i, mix(i) ^ body_salt};
    run->context.rounds_done = i + 1;
  }
  if (!ledger_intact(ledger, body_salt)) run->context.fail("context: its stack array", 0);
  // The last reply, for good: nothing resumes this context again.
  tandem_jump(back, &reply);
  std::abort();
}

// `rounds` round trips (2 * rounds jumps) between this context and a new
// one, each side checking everything after every jump.
void run_jumps(std::uint64_t rounds) {
  tandem::stack s;
  watched.set(reinterpret_cast<std::uintptr_t>(s.bottom()),
              reinterpret_cast<std::uintptr_t>(s.top()));
  jump_run run;
  run.rounds = rounds;
  tandem_context c = tandem_make_context(s.top(), s.size(), jump_entry);
  ASSERT_NE(c, nullptr);
  std::uint64_t ledger[ledger_words];
  fill_ledger(ledger, resumer_salt);
  const register_state mine = probe_values(0);
  verdict caller;
  c = tandem_jump(c, &run).from;  // the context starts and waits for round 0
  for (std::uint64_t i = 0; i < rounds; ++i) {
    jump_message msg{i, mix(i)};
    register_state seen{};
    const tandem_transfer got = register_probe_jump(c, &msg, &mine, &seen);
    c = got.from;
    const auto* reply = static_cast<const jump_message*>(got.data);
    if (!same_registers(mine, seen)) caller.fail("caller: a callee-saved register", i);
    if (reply == nullptr || reply->round != i || reply->value != (mix(i) ^ body_salt)) {
      caller.fail("caller: the reply", i);
      break;
    }
    if ((i & 255) == 128 && !ledger_intact(ledger, resumer_salt))
      caller.fail("caller: its stack array", i);
  }
  EXPECT_EQ(caller.what, nullptr) << caller.what << " went wrong in round " << caller.round;
  EXPECT_EQ(run.context.what, nullptr)
      << run.context.what << " went wrong in round " << run.context.round;
  EXPECT_EQ(run.context.rounds_done, rounds);
  EXPECT_TRUE(ledger_intact(ledger, resumer_salt));
}

TEST(SignalStorm, RawJumpKeepsCalleeSavedRegistersAndStacks) {
  const std::uint64_t switches = iterations(4'000'000, 2'000);
  const std::uint64_t wanted = min_deliveries(switches, 20'000);  // 5 ns per jump and probe
  storm(
      "jumps", switches, alarm_storm::stack_choice::interrupted,
      [](std::uint64_t n) { run_jumps(n / 2); },
      [&] { return deliveries >= wanted && watched.hits >= wanted / 10; });
  EXPECT_GE(deliveries.load(), wanted);
  EXPECT_GE(watched.hits.load(), wanted / 10) << "deliveries on the context's stack";
  EXPECT_EQ(handler_mismatches.load(), 0u);
}

}  // namespace
