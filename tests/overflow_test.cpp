// The stack overflow report (tandem::install_overflow_handler and the check
// of stacks without a guard page): one line naming the coroutine or task,
// its stack range and size, then death by SIGSEGV.
#include <gtest/gtest.h>
#include <signal.h>

#include <csignal>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <ostream>
#include <regex>
#include <string>
#include <utility>

#include "support/runaway_recursion.hpp"
#include "tandem/coroutine.hpp"
#include "tandem/loop.hpp"
#include "tandem/stack.hpp"

namespace {

// Each death test runs in a forked child (gtest's default style; the
// re-executing style cannot work under qemu-user, which has no binfmt
// here). The parent never touches the stack pool before these tests, so a
// child still reads TANDEM_STACK_GUARD afresh.
class OverflowReportDeathTest : public testing::Test {};

using testing_support::recurse;

// Recurses until a frame lies below `limit`, then returns: an overflow
// that touches the page below the stack and comes back.
__attribute__((noinline)) int descend_below(std::uintptr_t limit) {
  volatile char frame[256];
  frame[0] = 1;
  if (reinterpret_cast<std::uintptr_t>(&frame[0]) > limit) return descend_below(limit) + frame[0];
  return frame[0];
}

// The child states the range the report must name; the regular expression
// then requires the report to repeat it (\1).
void announce(const tandem::detail::frame_base* f) {
  std::fprintf(stderr, "expected [%p, %p) of %zu bytes\n", f->stack.bottom(), f->stack.top(),
               f->stack.size());
}

// gtest's POSIX regular expressions cannot refer back to a group; this
// matcher searches with ECMAScript ones, which can.
class ecmascript_search : public testing::MatcherInterface<const std::string&> {
 public:
  explicit ecmascript_search(std::string pattern) : pattern_(std::move(pattern)) {}
  bool MatchAndExplain(const std::string& text, testing::MatchResultListener*) const override {
    return std::regex_search(text, std::regex(pattern_));
  }
  void DescribeTo(std::ostream* os) const override { *os << "contains " << pattern_; }

 private:
  std::string pattern_;
};

// Requires the report (`report`, which says \1 where the range goes) to
// name the very range the child announced.
testing::Matcher<const std::string&> reports_announced_range(const std::string& report) {
  return testing::MakeMatcher(new ecmascript_search(
      R"(expected (\[0x[0-9a-f]+, 0x[0-9a-f]+\) of [0-9]+ bytes)[\s\S]*)" + report));
}

TEST_F(OverflowReportDeathTest, GuardPageHitNamesTheCoroutineAndItsStack) {
  auto overflow = [] {
    tandem::install_overflow_handler();
    tandem::coroutine<void> co([](tandem::yielder<void>&) { recurse(0); },
                               {.size = tandem::min_stack_size, .name = "deep-recursion"});
    announce(tandem::detail::frame_access::of(co));
    co.next();
  };
  EXPECT_EXIT(overflow(), testing::KilledBySignal(SIGSEGV),
              reports_announced_range(
                  R"(tandem: stack overflow in coroutine [0-9]+ "deep-recursion": stack \1, )"
                  R"(fault at 0x[0-9a-f]+ in its guard page)"));
}

// A name is the user's text: its control characters, quotes and
// backslashes are written escaped (\n, \t, \", \\, \xHH), so that the
// report stays one line and the quoted name ends where it seems to. The
// name went out raw: a newline in it split the report in two.
TEST_F(OverflowReportDeathTest, ControlCharactersInTheNameAreEscapedSoTheReportStaysOneLine) {
  auto overflow = [] {
    tandem::install_overflow_handler();
    tandem::coroutine<void> co(
        [](tandem::yielder<void>&) { recurse(0); },
        {.size = tandem::min_stack_size, .name = "two\nlines\t\x1b[2J\"quoted\" \\ \x7f\r"});
    announce(tandem::detail::frame_access::of(co));
    co.next();
  };
  EXPECT_EXIT(
      overflow(), testing::KilledBySignal(SIGSEGV),
      reports_announced_range(R"(tandem: stack overflow in coroutine [0-9]+ )"
                              R"("two\\nlines\\t\\x1b\[2J\\"quoted\\" \\\\ \\x7f\\r": stack \1, )"
                              R"(fault at 0x[0-9a-f]+ in its guard page\n)"));
}

TEST_F(OverflowReportDeathTest, GuardPageHitInATaskNamesTheTask) {
  auto overflow = [] {
    tandem::install_overflow_handler();
    tandem::event_loop loop;
    loop.run_until_complete(loop.create_task([] { recurse(0); }, {.name = "runaway-task"}));
  };
  EXPECT_EXIT(overflow(), testing::KilledBySignal(SIGSEGV),
              R"(tandem: stack overflow in task [0-9]+ "runaway-task": stack \[0x[0-9a-f]+, )"
              R"(0x[0-9a-f]+\) of 262144 bytes, fault at 0x[0-9a-f]+ in its guard page)");
}

TEST_F(OverflowReportDeathTest, WithoutTheHandlerAnOverflowStillKillsWithSigsegv) {
  auto overflow = [] {
    tandem::coroutine<void> co([](tandem::yielder<void>&) { recurse(0); },
                               {.size = tandem::min_stack_size});
    co.next();
  };
#if defined(TANDEM_ASAN) || defined(TANDEM_TSAN)
  // The sanitizers take SIGSEGV over and report the fault themselves.
  EXPECT_DEATH(overflow(), "(Address|Thread)Sanitizer: stack-overflow");
#else
  EXPECT_EXIT(overflow(), testing::KilledBySignal(SIGSEGV), "");
#endif
}

// Past the guard budget (forced here with TANDEM_STACK_GUARD=none) a stack
// has no guard page; its overflow is found when the coroutine ends, and
// reported the same way, with the same death.
TEST_F(OverflowReportDeathTest, OverflowPastTheGuardBudgetIsReportedAtRelease) {
  ::setenv("TANDEM_STACK_GUARD", "none", 1);
  auto overflow = [] {
    const tandem::detail::frame_base* f = nullptr;
    tandem::coroutine<void> co(
        [&f](tandem::yielder<void>&) {
          descend_below(reinterpret_cast<std::uintptr_t>(f->stack.bottom()) - 512);
        },
        {.size = tandem::min_stack_size, .name = "unguarded"});
    f = tandem::detail::frame_access::of(co);
    if (f->stack.guarded()) {
      std::fputs("the stack has a guard page despite TANDEM_STACK_GUARD=none\n", stderr);
      std::exit(3);
    }
    announce(f);
    try {
      co.next();  // the body overflows a little, returns, and the coroutine ends
    } catch (const tandem::stop_iteration&) {
    }
    std::fputs("the overflow went unreported\n", stderr);
    std::exit(4);
  };
  EXPECT_EXIT(overflow(), testing::KilledBySignal(SIGSEGV),
              reports_announced_range(
                  R"(tandem: stack overflow in coroutine [0-9]+ "unguarded": stack \1, found )"
                  R"(when the stack was released: it had no guard page)"));
  ::unsetenv("TANDEM_STACK_GUARD");
}

// A fault that is no guard-page hit is not an overflow: it goes on to the
// handler that was installed before.
// It dies of SIGUSR1, which tells it apart from the default action (and
// survives Valgrind, which would turn an exit status into its own).
void earlier_handler(int) {
  std::signal(SIGUSR1, SIG_DFL);
  std::raise(SIGUSR1);
}

TEST_F(OverflowReportDeathTest, OtherFaultsGoToTheEarlierHandler) {
  auto fault = [] {
    std::signal(SIGSEGV, earlier_handler);
    tandem::install_overflow_handler();
    tandem::coroutine<void> co([](tandem::yielder<void>&) {
      volatile std::uintptr_t unmapped = 16;  // hidden from the optimiser
      *reinterpret_cast<volatile int*>(unmapped) = 1;
    });
    co.next();
  };
  EXPECT_EXIT(fault(), testing::KilledBySignal(SIGUSR1), "");
}

// A thread's own alternate signal stack (a crash reporter's, a language
// runtime's) is kept, and the report runs on it: install_overflow_handler
// and the first coroutine of the thread used to replace it with tandem's,
// so that its owner's handlers ran elsewhere and its memory sat unused.
TEST_F(OverflowReportDeathTest, AThreadsOwnAlternateSignalStackIsKept) {
  auto overflow = [] {
    static std::byte own[64 * 1024];
    stack_t mine{};
    mine.ss_sp = own;
    mine.ss_size = sizeof own;
    if (::sigaltstack(&mine, nullptr) != 0) std::_Exit(2);
    tandem::install_overflow_handler();
    tandem::coroutine<void> co([](tandem::yielder<void>&) { recurse(0); },
                               {.size = tandem::min_stack_size, .name = "on-its-own-altstack"});
    stack_t now{};
    ::sigaltstack(nullptr, &now);
    std::fputs(now.ss_sp == own ? "kept\n" : "replaced\n", stderr);
    co.next();
  };
  EXPECT_EXIT(overflow(), testing::KilledBySignal(SIGSEGV),
              "kept\n.*stack overflow in coroutine [0-9]+ \"on-its-own-altstack\"");
}

// A SIGSEGV that was sent (raise, kill: no fault to re-execute) with no
// earlier handler still kills, as it would have without the handler: it
// used to be swallowed once, since returning re-executes nothing, and the
// process went on.
TEST_F(OverflowReportDeathTest, ASentSigsegvStillKillsByDefault) {
  auto sent = [] {
    tandem::install_overflow_handler();
    std::raise(SIGSEGV);
    std::fputs("survived a SIGSEGV sent by raise()\n", stderr);
    std::exit(0);
  };
#if defined(TANDEM_ASAN) || defined(TANDEM_TSAN)
  // The earlier handler is the sanitizer's, which reports it and exits.
  EXPECT_DEATH(sent(), "");
#else
  EXPECT_EXIT(sent(), testing::KilledBySignal(SIGSEGV), "");
#endif
}

// With SIG_IGN before it, a sent SIGSEGV stays ignored, and the handler
// stays installed: a later overflow is still reported.
TEST_F(OverflowReportDeathTest, ASentSigsegvStaysIgnoredWhereItWasIgnored) {
  auto sent_then_overflow = [] {
    std::signal(SIGSEGV, SIG_IGN);
    tandem::install_overflow_handler();
    std::raise(SIGSEGV);
    tandem::coroutine<void> co([](tandem::yielder<void>&) { recurse(0); },
                               {.size = tandem::min_stack_size, .name = "after-ignored"});
    co.next();
  };
  EXPECT_EXIT(sent_then_overflow(), testing::KilledBySignal(SIGSEGV),
              "stack overflow in coroutine [0-9]+ \"after-ignored\"");
}

// Names are copied, and cut to tandem::detail::max_name_length.
TEST(OverflowReport, NamesAreCopiedAndCut) {
  std::string name(60, 'n');
  tandem::coroutine<void> co([](tandem::yielder<void>& y) { y.yield(); }, {.name = name.c_str()});
  name.assign(60, 'x');  // the coroutine kept its own copy
  EXPECT_EQ(std::string(tandem::detail::frame_access::of(co)->name),
            std::string(tandem::detail::max_name_length, 'n'));
}

}  // namespace
