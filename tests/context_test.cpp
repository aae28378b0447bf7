// The C ABI context switch: tandem_make_context and tandem_jump.
#include "tandem/context.h"

#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <csignal>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>

#include "context_frame.hpp"
#include "support/iterations.hpp"
#include "support/register_state.h"
#include "support/valgrind.hpp"
#include "tandem/stack.hpp"

namespace {

using testing_support::running_on_valgrind;

tandem_context make(tandem::stack& s, tandem_entry entry) {
  tandem_context c = tandem_make_context(s.top(), s.size(), entry);
  if (c == nullptr) throw std::runtime_error("tandem_make_context failed");
  return c;
}

// Adds one to every number it is sent and sends it back.
void increment_forever(tandem_transfer t) {
  for (;;) {
    auto* n = static_cast<std::uint64_t*>(t.data);
    ++*n;
    t = tandem_jump(t.from, n);
  }
}

TEST(Context, DataPassesBothWays) {
  tandem::stack s;
  static int seen_first = 0;
  auto entry = [](tandem_transfer t) {
    seen_first = *static_cast<int*>(t.data);
    int reply = seen_first * 2;
    t = tandem_jump(t.from, &reply);
    int second = *static_cast<int*>(t.data);
    reply = second + 1;
    t = tandem_jump(t.from, &reply);
    std::abort();  // never resumed again
  };
  int v = 21;
  tandem_transfer t = tandem_jump(make(s, entry), &v);
  EXPECT_EQ(seen_first, 21);
  EXPECT_EQ(*static_cast<int*>(t.data), 42);
  int w = 99;
  t = tandem_jump(t.from, &w);
  EXPECT_EQ(*static_cast<int*>(t.data), 100);
}

TEST(Context, TransferFromIsTheContextToResume) {
  tandem::stack s;
  auto entry = [](tandem_transfer t) {
    // Each resumption hands back the handle of the context that jumped
    // here; it differs from the one we started from after every jump.
    for (std::uintptr_t i = 0;; ++i) t = tandem_jump(t.from, reinterpret_cast<void*>(i));
  };
  tandem_context c = make(s, entry);
  for (std::uintptr_t i = 0; i < 100; ++i) {
    tandem_transfer t = tandem_jump(c, nullptr);
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(t.data), i);
    ASSERT_NE(t.from, nullptr);
    // The handle points into the context's own stack.
    EXPECT_GT(t.from, s.bottom());
    EXPECT_LT(t.from, s.top());
    c = t.from;
  }
}

TEST(Context, TenMillionSwitches) {
  tandem::stack s;
  tandem_context c = make(s, increment_forever);
  std::uint64_t n = 0;
  const std::uint64_t round_trips = testing_support::iterations(5'000'000);  // two switches each
  for (std::uint64_t i = 0; i < round_trips; ++i) c = tandem_jump(c, &n).from;
  EXPECT_EQ(n, round_trips);
}

// Each level makes the next context on a stack of its own, jumps into it,
// and checks the answer that comes back up.
struct nest_state {
  int depth;
  int max_depth;
};

void nest_entry(tandem_transfer t) {
  auto* st = static_cast<nest_state*>(t.data);
  int result = st->depth;
  if (st->depth < st->max_depth) {
    tandem::stack inner;
    nest_state next{st->depth + 1, st->max_depth};
    tandem_transfer back = tandem_jump(make(inner, nest_entry), &next);
    result = *static_cast<int*>(back.data) + 1;
  }
  tandem_jump(t.from, &result);
  std::abort();
}

TEST(Context, NestedContexts) {
  tandem::stack s;
  nest_state st{0, 100};
  tandem_transfer t = tandem_jump(make(s, nest_entry), &st);
  // The deepest level answers 100; each of the 100 levels above adds one.
  EXPECT_EQ(*static_cast<int*>(t.data), 200);
}

TEST(Context, ExceptionThrownAndCaughtInsideAContext) {
  tandem::stack s;
  auto entry = [](tandem_transfer t) {
    {
      std::string caught;
      try {
        throw std::runtime_error("inside the context");
      } catch (const std::exception& e) {
        caught = e.what();
      }
      t = tandem_jump(t.from, &caught);
    }  // a context is never unwound: its locals must end before it parks
    tandem_jump(t.from, nullptr);
    std::abort();
  };
  tandem_transfer t = tandem_jump(make(s, entry), nullptr);
  EXPECT_EQ(*static_cast<std::string*>(t.data), "inside the context");
  EXPECT_EQ(tandem_jump(t.from, nullptr).data, nullptr);  // found by Valgrind: it leaked
}

TEST(Context, ExceptionsOnBothSidesDoNotMix) {
  tandem::stack s;
  auto entry = [](tandem_transfer t) {
    for (int i = 0;; ++i) {
      try {
        throw i;
      } catch (int caught) {
        t = tandem_jump(t.from, reinterpret_cast<void*>(static_cast<std::intptr_t>(caught)));
      }
    }
  };
  tandem_context c = make(s, entry);
  for (int i = 0; i < 10; ++i) {
    try {
      throw std::string("caller");
    } catch (const std::string&) {
      tandem_transfer t = tandem_jump(c, nullptr);
      EXPECT_EQ(reinterpret_cast<std::intptr_t>(t.data), i);
      c = t.from;
    }
  }
}

TEST(Context, EntryReturningAborts) {
  tandem::stack s;
  auto entry = [](tandem_transfer) {};
  EXPECT_DEATH(tandem_jump(make(s, entry), nullptr), "tandem: a context's entry function returned");
}

// A stack of `size` bytes (at most a page) with 64 KiB of inaccessible
// pages right below it: code that needs more stack than that faults at
// once, as on a guarded stack, instead of writing over the memory below.
// tandem::stack cannot be this small.
class small_guarded_stack {
 public:
  explicit small_guarded_stack(std::size_t size) : size_(size) {
    const auto page = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
    mapping_size_ = 64 * 1024 + page;
    void* p = mmap(nullptr, mapping_size_, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) throw std::runtime_error("mmap failed");
    base_ = static_cast<char*>(p);
    char* usable = base_ + mapping_size_ - page;
    if (mprotect(usable, page, PROT_READ | PROT_WRITE) != 0)
      throw std::runtime_error("mprotect failed");
    top_ = usable + size;
  }
  small_guarded_stack(const small_guarded_stack&) = delete;
  small_guarded_stack& operator=(const small_guarded_stack&) = delete;
  ~small_guarded_stack() { munmap(base_, mapping_size_); }

  void* top() const { return top_; }
  std::size_t size() const { return size_; }

 private:
  char* base_ = nullptr;
  char* top_ = nullptr;
  std::size_t size_ = 0;
  std::size_t mapping_size_ = 0;
};

// The report of an entry that returned runs on a stack of its own: on a
// context stack of the smallest size accepted, its first calls into libc
// (lazy PLT binding, then fputs and abort) ran off the end and died of
// SIGSEGV, unreported.
TEST(Context, EntryReturningOnASmallStackAborts) {
  small_guarded_stack s(TANDEM_CONTEXT_MIN_SIZE);
  auto entry = [](tandem_transfer) {};
  EXPECT_EXIT(tandem_jump(tandem_make_context(s.top(), s.size(), entry), nullptr),
              testing::KilledBySignal(SIGABRT), "tandem: a context's entry function returned");
}

// A null context is reported by name, not dereferenced (which was a bare
// SIGSEGV).
TEST(Context, JumpToNullAborts) {
  EXPECT_EXIT(tandem_jump(nullptr, nullptr), testing::KilledBySignal(SIGABRT),
              "tandem_jump: the context to resume is NULL");
}

// ... also from a context on a small stack, where the report runs on a
// stack of its own as above.
TEST(Context, JumpToNullFromASmallStackAborts) {
  small_guarded_stack s(TANDEM_CONTEXT_MIN_SIZE);
  auto entry = [](tandem_transfer) { tandem_jump(nullptr, nullptr); };
  EXPECT_EXIT(tandem_jump(tandem_make_context(s.top(), s.size(), entry), nullptr),
              testing::KilledBySignal(SIGABRT), "tandem_jump: the context to resume is NULL");
}

TEST(Context, MakeContextRejectsBadInput) {
  tandem::stack s;
  EXPECT_EQ(tandem_make_context(nullptr, s.size(), increment_forever), nullptr);
  EXPECT_EQ(tandem_make_context(s.top(), s.size(), nullptr), nullptr);
  EXPECT_EQ(tandem_make_context(s.top(), TANDEM_CONTEXT_MIN_SIZE - 1, increment_forever), nullptr);
  EXPECT_NE(tandem_make_context(s.top(), TANDEM_CONTEXT_MIN_SIZE, increment_forever), nullptr);
}

// A stack from a failed allocation, `tandem_make_context(base + size, size,
// entry)` with base NULL, has a top that is not NULL: the frame would be
// written just below `size`, near address 0, and make_context would die of
// SIGSEGV. A stack_top no greater than size describes a stack that starts
// at or below address 0, which no real one does: NULL, as for a NULL top.
TEST(Context, MakeContextRejectsAStackThatWouldStartAtOrBelowAddressZero) {
  constexpr std::size_t size = 64 * 1024;
  const auto address = [](std::uintptr_t a) { return reinterpret_cast<void*>(a); };
  const std::byte* failed_malloc = nullptr;
  EXPECT_EQ(tandem_make_context(address(reinterpret_cast<std::uintptr_t>(failed_malloc) + size),
                                size, increment_forever),
            nullptr);
  EXPECT_EQ(tandem_make_context(address(4096), size, increment_forever), nullptr);
  EXPECT_EQ(tandem_make_context(address(TANDEM_CONTEXT_MIN_SIZE), TANDEM_CONTEXT_MIN_SIZE,
                                increment_forever),
            nullptr);
  // A size larger than the top address wraps below zero: no stack is that.
  tandem::stack s;
  EXPECT_EQ(tandem_make_context(s.top(), SIZE_MAX, increment_forever), nullptr);
  EXPECT_NE(tandem_make_context(s.top(), s.size(), increment_forever), nullptr);
}

// Misaligned stacks show up as a misaligned frame address in the entry.
std::uintptr_t entry_frame_address = 0;

#if defined(__arm__)
// AAPCS asks for 8 bytes. ARM frame pointers point into the frame record,
// not at an aligned base, so look at an 8-aligned local instead: the
// compiler places it assuming that the incoming sp was aligned.
constexpr std::uintptr_t stack_alignment = 8;

__attribute__((noinline)) void record_frame_address() {
  alignas(8) volatile char local = 0;
  entry_frame_address = reinterpret_cast<std::uintptr_t>(&local);
}
#else
constexpr std::uintptr_t stack_alignment = 16;

__attribute__((noinline)) void record_frame_address() {
  entry_frame_address = reinterpret_cast<std::uintptr_t>(__builtin_frame_address(0));
}
#endif

TEST(Context, UnalignedTopIsAlignedDown) {
  tandem::stack s;
  auto entry = [](tandem_transfer t) {
    record_frame_address();
    tandem_jump(t.from, nullptr);
    std::abort();
  };
  for (std::uintptr_t misalign = 1; misalign < 16; ++misalign) {
    auto* top = static_cast<char*>(s.top()) - misalign;
    entry_frame_address = 1;
    tandem_jump(tandem_make_context(top, s.size() - misalign, entry), nullptr);
    EXPECT_EQ(entry_frame_address % stack_alignment, 0u) << "top misaligned by " << misalign;
    EXPECT_LT(entry_frame_address, reinterpret_cast<std::uintptr_t>(top));
  }
}

TEST(Context, FreshFrameLayout) {
  tandem::stack s;
  auto* c = static_cast<tandem::detail::context_frame*>(
      tandem_make_context(s.top(), s.size(), increment_forever));
  // The frame sits below the top pad, 16-byte aligned.
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(c) % 16, 0u);
  EXPECT_EQ(reinterpret_cast<char*>(c) + TANDEM_FRAME_SIZE + TANDEM_FRAME_TOP_PAD,
            static_cast<char*>(s.top()));
#if defined(__x86_64__)
  std::uint32_t mxcsr = 0;
  std::uint16_t x87_cw = 0;
  asm volatile("stmxcsr %0\n\tfnstcw %1" : "=m"(mxcsr), "=m"(x87_cw));
  EXPECT_EQ(c->mxcsr, mxcsr);
  EXPECT_EQ(c->x87_cw, x87_cw);
  EXPECT_EQ(c->rbx, reinterpret_cast<std::uint64_t>(&increment_forever));
  EXPECT_EQ(c->rbp, 0u);
#elif defined(__aarch64__)
  std::uint64_t fpcr = 0;
  asm volatile("mrs %0, fpcr" : "=r"(fpcr));
  EXPECT_EQ(c->fpcr, fpcr);
  EXPECT_EQ(c->x19_x28[0], reinterpret_cast<std::uint64_t>(&increment_forever));
  EXPECT_EQ(c->x29, 0u);
#elif defined(__arm__)
  std::uint32_t fpscr = 0;
  asm volatile("vmrs %0, fpscr" : "=r"(fpscr));
  EXPECT_EQ(c->fpscr & TANDEM_FPSCR_CONTROL, fpscr & TANDEM_FPSCR_CONTROL);
  EXPECT_EQ(c->r4_r11[0], reinterpret_cast<std::uint32_t>(&increment_forever));
  EXPECT_EQ(c->r4_r11[3], 0u);  // r7, the Thumb frame pointer
  EXPECT_EQ(c->r4_r11[7], 0u);  // r11, the ARM frame pointer
  // The first resumption's tandem_transfer lands in the top pad.
  EXPECT_EQ(c->result, reinterpret_cast<std::uint32_t>(c) + TANDEM_FRAME_SIZE);
  EXPECT_EQ(c->lr & 1u, 0u) << "the trampoline is ARM code";
#elif defined(__riscv)
  std::uint64_t frm = 0;
  asm volatile("frrm %0" : "=r"(frm));
  EXPECT_EQ(c->frm, frm);
  EXPECT_EQ(c->s0_s11[1], reinterpret_cast<std::uint64_t>(&increment_forever));
  EXPECT_EQ(c->s0_s11[0], 0u);
#endif
}

// --- Register preservation -------------------------------------------------
// Both sides load distinct values into every callee-saved register and FP
// control word right before they jump, and check them right after they are
// resumed. Removing any single restore from the assembly makes one side see
// the other side's value.

register_state caller_values() {
  register_state r{};
#if defined(__x86_64__)
  r.rbx = 0x1111111111111111;
  r.rbp = 0x2222222222222222;
  r.r12 = 0x3333333333333333;
  r.r13 = 0x4444444444444444;
  r.r14 = 0x5555555555555555;
  r.r15 = 0x6666666666666666;
  r.mxcsr = 0x1f80 | 0x2000;   // all exceptions masked, round down
  r.x87_cw = 0x037f | 0x0400;  // all exceptions masked, round down
#elif defined(__aarch64__)
  for (int i = 0; i < 11; ++i) r.x[i] = 0x1010101010101010ull * static_cast<unsigned>(i + 1);
  for (int i = 0; i < 8; ++i) r.d[i] = 0x0101010101010101ull * static_cast<unsigned>(i + 1);
  r.fpcr = 2ull << 22;  // round towards minus infinity
#elif defined(__arm__)
  for (int i = 0; i < 8; ++i) r.r[i] = 0x10101010u * static_cast<unsigned>(i + 1);
  for (int i = 0; i < 8; ++i) r.d[i] = 0x0101010101010101ull * static_cast<unsigned>(i + 1);
  r.fpscr = 2u << 22;  // round towards minus infinity
#elif defined(__riscv)
  for (int i = 0; i < 12; ++i) r.s[i] = 0x1010101010101010ull * static_cast<unsigned>(i + 1);
  for (int i = 0; i < 12; ++i) r.fs[i] = 0x0101010101010101ull * static_cast<unsigned>(i + 1);
  r.frm = 2;  // round down (RDN)
#endif
  return r;
}

register_state context_values() {
  register_state r{};
#if defined(__x86_64__)
  r.rbx = 0xa1a1a1a1a1a1a1a1;
  r.rbp = 0xa2a2a2a2a2a2a2a2;
  r.r12 = 0xa3a3a3a3a3a3a3a3;
  r.r13 = 0xa4a4a4a4a4a4a4a4;
  r.r14 = 0xa5a5a5a5a5a5a5a5;
  r.r15 = 0xa6a6a6a6a6a6a6a6;
  r.mxcsr = 0x1f80 | 0x4000 | 0x8000;  // round up, flush to zero
  r.x87_cw = 0x037f | 0x0800;          // round up
  // Valgrind emulates only MXCSR's rounding control: there the bit would
  // be dropped by the CPU model, not by tandem.
  if (running_on_valgrind()) r.mxcsr &= ~0x8000u;
#elif defined(__aarch64__)
  for (int i = 0; i < 11; ++i) r.x[i] = 0xa0a0a0a0a0a0a0a0ull + static_cast<unsigned>(i);
  for (int i = 0; i < 8; ++i) r.d[i] = 0xd0d0d0d0d0d0d0d0ull + static_cast<unsigned>(i);
  r.fpcr = (1ull << 22) | (1ull << 24) | (1ull << 25);  // round up, flush to zero, default NaN
#elif defined(__arm__)
  for (int i = 0; i < 8; ++i) r.r[i] = 0xa0a0a0a0u + static_cast<unsigned>(i);
  for (int i = 0; i < 8; ++i) r.d[i] = 0xd0d0d0d0d0d0d0d0ull + static_cast<unsigned>(i);
  r.fpscr = (1u << 22) | (1u << 24) | (1u << 25);  // round up, flush to zero, default NaN
#elif defined(__riscv)
  for (int i = 0; i < 12; ++i) r.s[i] = 0xa0a0a0a0a0a0a0a0ull + static_cast<unsigned>(i);
  for (int i = 0; i < 12; ++i) r.fs[i] = 0xd0d0d0d0d0d0d0d0ull + static_cast<unsigned>(i);
  r.frm = 3;  // round up (RUP)
#endif
  return r;
}

void expect_same(const register_state& want, const register_state& got, const char* side) {
#if defined(__x86_64__)
  EXPECT_EQ(got.rbx, want.rbx) << side;
  EXPECT_EQ(got.rbp, want.rbp) << side;
  EXPECT_EQ(got.r12, want.r12) << side;
  EXPECT_EQ(got.r13, want.r13) << side;
  EXPECT_EQ(got.r14, want.r14) << side;
  EXPECT_EQ(got.r15, want.r15) << side;
  // The MXCSR's low six bits are sticky status flags, which the ABI makes
  // caller-saved; the control bits must survive.
  EXPECT_EQ(got.mxcsr & ~0x3fu, want.mxcsr & ~0x3fu) << side;
  EXPECT_EQ(got.x87_cw, want.x87_cw) << side;
#elif defined(__aarch64__)
  for (int i = 0; i < 11; ++i) EXPECT_EQ(got.x[i], want.x[i]) << side << ": x" << 19 + i;
  for (int i = 0; i < 8; ++i) EXPECT_EQ(got.d[i], want.d[i]) << side << ": d" << 8 + i;
  EXPECT_EQ(got.fpcr, want.fpcr) << side;
#elif defined(__arm__)
  for (int i = 0; i < 8; ++i) EXPECT_EQ(got.r[i], want.r[i]) << side << ": r" << 4 + i;
  for (int i = 0; i < 8; ++i) EXPECT_EQ(got.d[i], want.d[i]) << side << ": d" << 8 + i;
  // The condition and sticky exception flags are not preserved by AAPCS.
  EXPECT_EQ(got.fpscr & TANDEM_FPSCR_CONTROL, want.fpscr) << side;
#elif defined(__riscv)
  for (int i = 0; i < 12; ++i) EXPECT_EQ(got.s[i], want.s[i]) << side << ": s" << i;
  for (int i = 0; i < 12; ++i) EXPECT_EQ(got.fs[i], want.fs[i]) << side << ": fs" << i;
  EXPECT_EQ(got.frm, want.frm) << side;
#endif
}

struct probe_run {
  register_state context_seen[3];
  int rounds;
};

void probing_entry(tandem_transfer t) {
  auto* run = static_cast<probe_run*>(t.data);
  const register_state mine = context_values();
  for (;;) {
    register_state seen{};
    t = register_probe_jump(t.from, run, &mine, &seen);
    run->context_seen[run->rounds++] = seen;
  }
}

TEST(Context, CalleeSavedRegistersSurviveEveryJump) {
  tandem::stack s;
  probe_run run{};
  tandem_context c = make(s, probing_entry);
  const register_state mine = caller_values();
  for (int i = 0; i < 3; ++i) {
    register_state seen{};
    c = register_probe_jump(c, &run, &mine, &seen).from;
    expect_same(mine, seen, "caller");
  }
  ASSERT_EQ(run.rounds, 2);  // the first resumption entered fresh
  for (int i = 0; i < run.rounds; ++i)
    expect_same(context_values(), run.context_seen[i], "context");
}

}  // namespace
