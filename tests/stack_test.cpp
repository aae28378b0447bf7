// Guard-paged pooled stacks. ctest runs this suite twice: with the guard
// mechanism the kernel offers, and with TANDEM_STACK_GUARD=mprotect.
#include "tandem/stack.hpp"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <set>
#include <stdexcept>
#include <vector>

#include "support/iterations.hpp"
#include "support/runaway_recursion.hpp"
#include "tandem/context.h"
#include "tandem/coroutine.hpp"
#include "tandem/detail/sanitizer.hpp"

#if __has_include(<valgrind/memcheck.h>)
#include <valgrind/memcheck.h>
#define TANDEM_TEST_HAVE_MEMCHECK 1
#endif

namespace {

std::size_t page_size() { return static_cast<std::size_t>(::sysconf(_SC_PAGESIZE)); }

TEST(Stack, DefaultSize) {
  tandem::stack s;
  EXPECT_EQ(s.size(), tandem::default_stack_size);
  EXPECT_EQ(static_cast<char*>(s.top()) - static_cast<char*>(s.bottom()),
            static_cast<std::ptrdiff_t>(s.size()));
  EXPECT_TRUE(s.guarded());
}

TEST(Stack, WholeStackIsWritable) {
  tandem::stack s({.size = 64 * 1024});
  std::memset(s.bottom(), 0xab, s.size());
  EXPECT_EQ(static_cast<unsigned char*>(s.bottom())[0], 0xab);
  EXPECT_EQ(static_cast<unsigned char*>(s.top())[-1], 0xab);
}

TEST(Stack, SizeRoundsUpToPages) {
  tandem::stack s({.size = tandem::min_stack_size + 1});
  EXPECT_EQ(s.size() % page_size(), 0u);
  EXPECT_GE(s.size(), tandem::min_stack_size + 1);
  EXPECT_LT(s.size(), tandem::min_stack_size + 1 + page_size());
}

TEST(Stack, TooSmallThrowsInvalidArgument) {
  try {
    tandem::stack s({.size = 1000});
    FAIL() << "no exception";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("1000 bytes"), std::string::npos) << e.what();
  }
}

TEST(Stack, AbsurdlyLargeThrowsBadAlloc) {
  try {
    tandem::stack s({.size = tandem::max_stack_size + 1});
    FAIL() << "no exception";
  } catch (const std::bad_alloc& e) {
    EXPECT_NE(std::string(e.what()).find("tandem::max_stack_size"), std::string::npos) << e.what();
  }
}

TEST(Stack, MovedFromHoldsNothing) {
  tandem::stack a;
  void* top = a.top();
  tandem::stack b(std::move(a));
  // Inspecting the moved-from stack is the point of this test.
  EXPECT_FALSE(a);              // NOLINT(clang-analyzer-cplusplus.Move)
  EXPECT_EQ(a.top(), nullptr);  // NOLINT(clang-analyzer-cplusplus.Move)
  EXPECT_EQ(b.top(), top);
  tandem::stack c({.size = tandem::min_stack_size});
  c = std::move(b);
  EXPECT_EQ(c.top(), top);
  EXPECT_EQ(c.size(), tandem::default_stack_size);
}

TEST(Stack, ReleasedStackIsReusedMostRecentFirst) {
  void* first = nullptr;
  {
    tandem::stack s;
    first = s.top();
  }
  tandem::stack again;
  EXPECT_EQ(again.top(), first);
}

// A coroutine destroyed while suspended never returns from its frames, so
// their ASan redzones stay poisoned; the next owner of the pooled stack
// must not inherit them (a C ABI user would get false reports).
TEST(Stack, ReusedStackCarriesNoSanitizerPoison) {
  void* used = nullptr;
  {
    tandem::coroutine<int> co([](tandem::yielder<int>& y) {
      volatile char buffer[512];  // redzones around it under ASan
      buffer[0] = 1;
      y.yield(buffer[0]);
    });
    EXPECT_EQ(co.next(), 1);
    used = tandem::detail::frame_access::of(co)->stack.bottom();
  }
  tandem::stack again;
  ASSERT_EQ(again.bottom(), used);  // most recently released first
#ifdef TANDEM_ASAN
  EXPECT_EQ(__asan_region_is_poisoned(again.bottom(), again.size()), nullptr);
#endif
  std::memset(again.bottom(), 0x5a, again.size());  // ASan would report a poisoned byte
}

// Under Valgrind a released stack is inaccessible to Memcheck, so a use of
// it after its release is reported; its next owner gets it back.
TEST(Stack, ReleasedStackIsInaccessibleUnderValgrind) {
#ifdef TANDEM_TEST_HAVE_MEMCHECK
  if (RUNNING_ON_VALGRIND == 0) GTEST_SKIP() << "for the valgrind stage";
  constexpr unsigned not_addressable = 3, addressable = 1;  // VALGRIND_GET_VBITS's answers
  [[maybe_unused]] unsigned char vbits = 0;                 // unused where Valgrind has no port
  std::byte* bottom = nullptr;
  {
    tandem::stack s;
    bottom = static_cast<std::byte*>(s.bottom());
    bottom[0] = std::byte{1};
    EXPECT_EQ(VALGRIND_GET_VBITS(bottom, &vbits, 1), addressable);
  }
  EXPECT_EQ(VALGRIND_GET_VBITS(bottom, &vbits, 1), not_addressable);
  tandem::stack again;
  ASSERT_EQ(again.bottom(), bottom);  // most recently released first
  EXPECT_EQ(VALGRIND_GET_VBITS(bottom, &vbits, 1), addressable);
#else
  GTEST_SKIP() << "built without <valgrind/memcheck.h>";
#endif
}

// A body whose copy throws as the coroutine is made: the stack goes back to
// the pool only once the frame placed in it is gone. It used to be released
// by the frame's own destructor, whose stack member and later members were
// then read and written in a released stack: Memcheck reported each access.
struct body_whose_copy_throws {
  body_whose_copy_throws() = default;
  body_whose_copy_throws(const body_whose_copy_throws&) { throw std::runtime_error("copy"); }
  void operator()(tandem::yielder<int>& y) const { y.yield(1); }
};

TEST(Stack, AFrameWhoseBodyCopyThrowsIsGoneBeforeItsStackIsReleased) {
#ifdef TANDEM_TEST_HAVE_MEMCHECK
  if (RUNNING_ON_VALGRIND == 0) GTEST_SKIP() << "for the valgrind stage";
  const body_whose_copy_throws body;
  const unsigned errors_before = VALGRIND_COUNT_ERRORS;
  EXPECT_THROW(tandem::coroutine<int> co(body), std::runtime_error);
  EXPECT_EQ(VALGRIND_COUNT_ERRORS, errors_before);
  tandem::coroutine<int> after([](tandem::yielder<int>& y) { y.yield(2); });
  EXPECT_EQ(after.next(), 2);  // the stack went back whole
#else
  GTEST_SKIP() << "built without <valgrind/memcheck.h>";
#endif
}

// Whether any page of s's usable range is resident.
bool any_page_resident(void* bottom, std::size_t size) {
  std::vector<unsigned char> pages(size / page_size());
  EXPECT_EQ(::mincore(bottom, size, pages.data()), 0);
  for (unsigned char p : pages)
    if ((p & 1) != 0) return true;
  return false;
}

// Past the releasing thread's cache (64 stacks of a size), released stacks'
// pages go back to the kernel, in batches of 64: of 256 stacks whose every
// page was written, at most 64 + 63 keep theirs.
TEST(Stack, StacksReleasedPastTheCacheGiveTheirPagesBack) {
  const tandem::stack_options options{.size = tandem::min_stack_size + 3 * page_size()};
  std::vector<std::pair<void*, std::size_t>> ranges;
  {
    std::vector<tandem::stack> stacks;
    stacks.reserve(256);
    for (int i = 0; i < 256; ++i) {
      auto& s = stacks.emplace_back(options);
      std::memset(s.bottom(), 0x5a, s.size());
      ranges.emplace_back(s.bottom(), s.size());
    }
    for (const auto& [bottom, size] : ranges) ASSERT_TRUE(any_page_resident(bottom, size));
  }
  std::size_t resident = 0;
  for (const auto& [bottom, size] : ranges) resident += any_page_resident(bottom, size) ? 1 : 0;
  EXPECT_LE(resident, 64U + 63U);
}

// The process's address space, from /proc/self/statm (its first field, in
// pages).
std::size_t address_space_bytes() {
  std::FILE* f = std::fopen("/proc/self/statm", "r");
  if (f == nullptr) return 0;
  unsigned long pages = 0;
  const int read = std::fscanf(f, "%lu", &pages);
  std::fclose(f);
  return read == 1 ? pages * page_size() : 0;
}

// Stacks of a size come from slabs that start small and grow: a program that
// uses many sizes, a few stacks each, does not map 64 MiB for each size.
// Regression: 64 sizes took 4 GiB of address space, on a 32-bit target all
// there is (stack_alloc_error from the 40th size or so).
TEST(Stack, ManySizesOfAFewStacksEachTakeLittleAddressSpace) {
  const std::size_t before = address_space_bytes();
  ASSERT_NE(before, 0U);
  std::vector<tandem::stack> stacks;
  constexpr std::size_t sizes = 64;
  for (std::size_t i = 0; i < sizes; ++i)
    // Sizes no other test uses: each is a fresh one for the pool.
    stacks.emplace_back(
        tandem::stack_options{.size = tandem::min_stack_size + (101 + i) * page_size()});
  const std::size_t grown = address_space_bytes() - before;
  EXPECT_LT(grown, std::size_t{512} << 20)
      << "64 sizes of one stack each took " << (grown >> 20) << " MiB of address space";
}

TEST(Stack, LiveCountFollowsStacks) {
  const auto before = tandem::stack_pool_statistics().live;
  {
    std::vector<tandem::stack> v(10);
    EXPECT_EQ(tandem::stack_pool_statistics().live, before + 10);
  }
  EXPECT_EQ(tandem::stack_pool_statistics().live, before);
}

TEST(Stack, GuardMechanismFollowsTheEnvironment) {
  const char* forced = std::getenv("TANDEM_STACK_GUARD");
  const std::string mechanism = tandem::stack_pool_statistics().guard_mechanism;
  if (forced != nullptr && std::string(forced) == "mprotect") {
    EXPECT_EQ(mechanism, "mprotect");
  }
  EXPECT_TRUE(mechanism == "madvise" || mechanism == "mprotect") << mechanism;
}

// --- Overflow ---------------------------------------------------------------

using testing_support::recurse;

void* guard_low = nullptr;
void* guard_high = nullptr;

void on_segv(int, siginfo_t* info, void*) {
  const bool in_guard = info->si_addr >= guard_low && info->si_addr < guard_high;
  ::_exit(in_guard ? 42 : 43);
}

// The guard below every stack is a band of pages: 8 KiB at least (64 KiB
// on 64-bit targets), so that a frame larger than a page cannot jump it.
constexpr std::size_t smallest_guard_band = 8 * 1024;

// A frame of 22 KiB on a 16 KiB stack, which writes only its lowest byte:
// about 6 KiB below the stack, past a single guard page of 4 KiB, inside
// the band.
__attribute__((noinline)) void one_big_frame() {
  volatile char frame[22 * 1024];
  frame[0] = 1;
  static_cast<void>(frame[0]);
}

void overflow_and_report_where(tandem::stack& s, void (*entry)(tandem_transfer),
                               std::size_t guard = page_size()) {
  // The handler runs on its own stack: the faulting one is used up.
  static std::vector<char> alt(256 * 1024);
  stack_t ss{};
  ss.ss_sp = alt.data();
  ss.ss_size = alt.size();
  sigaltstack(&ss, nullptr);
  struct sigaction sa {};
  sa.sa_sigaction = on_segv;
  sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
  sigaction(SIGSEGV, &sa, nullptr);

  guard_high = s.bottom();
  guard_low = static_cast<char*>(s.bottom()) - guard;
  tandem_jump(tandem_make_context(s.top(), s.size(), entry), nullptr);
}

void recurse_forever(tandem_transfer) { recurse(0); }

TEST(StackDeathTest, OverflowFaultsInTheGuardPage) {
  // Exit code 42: SIGSEGV at an address inside the guard page below the
  // stack. 43 would be a fault elsewhere (corruption got there first).
  auto run = [] {
    static tandem::stack s({.size = tandem::min_stack_size});
    overflow_and_report_where(s, recurse_forever);
  };
  EXPECT_EXIT(run(), testing::ExitedWithCode(42), "");
}

// A frame larger than a page moves the stack pointer past a single guard
// page in one step; the band below the stack still catches its write,
// which would otherwise land in the neighbouring stack of the slab.
TEST(StackDeathTest, AFrameLargerThanAPageFaultsInTheGuardBand) {
  auto run = [] {
    // Two neighbours: the one below would take the write.
    static tandem::stack below({.size = tandem::min_stack_size});
    static tandem::stack s({.size = tandem::min_stack_size});
    overflow_and_report_where(
        s, [](tandem_transfer) { one_big_frame(); }, smallest_guard_band);
  };
  EXPECT_EXIT(run(), testing::ExitedWithCode(42), "");
}

// The pages of stacks released past the cache go back to the kernel in
// runs of neighbours, one madvise over their guard pages too: a stack
// taken from such a run must still have its guard.
TEST(StackDeathTest, OverflowOfAStackWhosePagesWentBackFaultsInTheGuardPage) {
  auto run = [] {
    const tandem::stack_options options{.size = tandem::min_stack_size};
    {
      std::vector<tandem::stack> released;
      released.reserve(256);
      for (int i = 0; i < 256; ++i) {
        auto& s = released.emplace_back(options);
        std::memset(s.bottom(), 0x5a, s.size());
      }
    }  // 64 to this thread's cache, 192 back to the kernel in three runs
    static std::vector<tandem::stack> from_the_cache;
    for (int i = 0; i < 64; ++i) from_the_cache.emplace_back(options);
    static tandem::stack s(options);  // from the free list
    overflow_and_report_where(s, recurse_forever);
  };
  EXPECT_EXIT(run(), testing::ExitedWithCode(42), "");
}

TEST(StackDeathTest, OverflowWithoutAHandlerKillsWithSigsegv) {
  auto run = [] {
    static tandem::stack s({.size = tandem::min_stack_size});
    auto entry = [](tandem_transfer) { recurse(0); };
    tandem_jump(tandem_make_context(s.top(), s.size(), entry), nullptr);
  };
#if defined(TANDEM_ASAN) || defined(TANDEM_TSAN)
  // The sanitizers take SIGSEGV over and report the fault themselves.
  EXPECT_DEATH(run(), "(Address|Thread)Sanitizer: stack-overflow");
#else
  EXPECT_EXIT(run(), testing::KilledBySignal(SIGSEGV), "");
#endif
}

// --- A million ----------------------------------------------------------------

// Enters a context once and comes straight back: proves its stack works.
void come_back(tandem_transfer t) {
  for (;;) t = tandem_jump(t.from, t.data);
}

TEST(Stack, OneMillionLiveStacks) {
  // Trimmed (TANDEM_TEST_SHRINK) under ThreadSanitizer and Valgrind, whose
  // shadow memory for a million touched pages would not fit, and to a tenth
  // under AddressSanitizer, whose bookkeeping took about 19 KB per live
  // stack (over 18 GB for a million, measured: more than a 24 GB machine
  // can give while other tests run). Every count is still far past the
  // mprotect guard budget (8,191 by default).
  // On 32-bit targets the limit is the address space: a million of the
  // smallest stacks with their 8 KiB guard bands would take 24 GB of it,
  // six times all a 32-bit process has; 50,000 of them take 1.2 GB.
  constexpr bool narrow = sizeof(void*) < 8;
#ifdef TANDEM_ASAN
  constexpr std::uint64_t full_count = narrow ? 50'000 : 100'000;
#else
  constexpr std::uint64_t full_count = narrow ? 50'000 : 1'000'000;
#endif
  const tandem::stack_options options{.size = narrow ? tandem::min_stack_size : 0};
  const std::size_t count = testing_support::iterations(full_count, 20'000);
  std::vector<tandem::stack> stacks;
  stacks.reserve(count);
  for (std::size_t i = 0; i < count; ++i) {
    auto& s = stacks.emplace_back(options);
    tandem_context c = tandem_make_context(s.top(), s.size(), come_back);
    ASSERT_NE(c, nullptr);
    std::size_t token = i;
    ASSERT_EQ(tandem_jump(c, &token).data, &token);
  }
  const auto stats = tandem::stack_pool_statistics();
  EXPECT_GE(stats.live, count);
  if (std::string(stats.guard_mechanism) == "madvise") {
    for (const auto& s : stacks) ASSERT_TRUE(s.guarded());
  } else {
    // mprotect guards are budgeted; the rest run unguarded but checked.
    EXPECT_LE(stats.guarded, stats.mprotect_budget);
    EXPECT_TRUE(stacks.front().guarded());
  }
}

}  // namespace
