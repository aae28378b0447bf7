// tandem::install_overflow_handler and the overflow report; see
// include/tandem/overflow.hpp and src/overflow_report.hpp.
#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <system_error>

#include "frame_registry.hpp"
#include "overflow_report.hpp"
#include "tandem/detail/frame.hpp"
#include "tandem/overflow.hpp"
#include "tandem/stack.hpp"

namespace tandem {
namespace detail {
namespace {

// A fixed buffer filled without malloc or stdio: a signal handler may only
// call async-signal-safe functions.
class line {
 public:
  line& text(const char* s) noexcept {
    while (*s != '\0' && used_ < sizeof(buffer_)) buffer_[used_++] = *s++;
    return *this;
  }
  // The user's text (a coroutine's name) between quotes, with control
  // characters, the quote and the backslash escaped as C writes them (\n,
  // \t, \r, \", \\, else \xHH), so that a name can neither break the
  // report's one line nor end its quotes early. Bytes from 0x80 up pass as
  // they are (UTF-8). An escape that does not fit whole is left out, with
  // all that follows.
  line& quoted(const char* s) noexcept {
    put('"');
    for (; *s != '\0'; ++s) {
      const auto c = static_cast<unsigned char>(*s);
      bool fits = true;
      if (c == '\n') {
        fits = put('\\', 'n');
      } else if (c == '\t') {
        fits = put('\\', 't');
      } else if (c == '\r') {
        fits = put('\\', 'r');
      } else if (c == '"' || c == '\\') {
        fits = put('\\', static_cast<char>(c));
      } else if (c < 0x20 || c == 0x7f) {
        fits = put('\\', 'x', "0123456789abcdef"[c >> 4], "0123456789abcdef"[c & 15]);
      } else {
        fits = put(static_cast<char>(c));
      }
      if (!fits) break;
    }
    put('"');
    return *this;
  }
  line& decimal(std::uint64_t v) noexcept {
    char digits[20];
    int n = 0;
    do digits[n++] = static_cast<char>('0' + v % 10);
    while ((v /= 10) != 0);
    while (n > 0 && used_ < sizeof(buffer_)) buffer_[used_++] = digits[--n];
    return *this;
  }
  line& address(const void* p) noexcept {
    auto v = reinterpret_cast<std::uintptr_t>(p);
    char digits[16];
    int n = 0;
    do digits[n++] = "0123456789abcdef"[v & 15];
    while ((v >>= 4) != 0);
    text("0x");
    while (n > 0 && used_ < sizeof(buffer_)) buffer_[used_++] = digits[--n];
    return *this;
  }
  // Appends the characters if they all fit, else nothing.
  template <class... C>
  bool put(C... c) noexcept {
    if (sizeof...(c) > sizeof(buffer_) - used_) return false;
    ((buffer_[used_++] = c), ...);
    return true;
  }
  void write_to(int fd) const noexcept {
    std::size_t done = 0;
    while (done < used_) {
      const ssize_t n = ::write(fd, buffer_ + done, used_ - done);
      if (n <= 0) return;
      done += static_cast<std::size_t>(n);
    }
  }

 private:
  char buffer_[512];
  std::size_t used_ = 0;
};

std::atomic<bool> handler_installed{false};
struct sigaction previous_action;

// Large enough for the handler and for the sanitizers' own handlers that
// it may pass a fault on to.
constexpr std::size_t alt_stack_size = std::size_t{64} * 1024;

// This thread's alternate signal stack; disabled before it is unmapped.
struct alt_stack {
  void* memory = nullptr;
  bool own = false;  // the thread had one of its own, which is kept
  ~alt_stack() {
    if (memory == nullptr) return;
    stack_t off{};
    off.ss_flags = SS_DISABLE;
    ::sigaltstack(&off, nullptr);
    ::munmap(memory, alt_stack_size);
  }
};
thread_local alt_stack thread_alt_stack;

bool set_up_alt_stack() noexcept {
  if (thread_alt_stack.memory != nullptr || thread_alt_stack.own) return true;
  // A thread's own alternate stack (a crash reporter's, a language
  // runtime's) is kept, and the report runs on it too: replaced, it would
  // leave its owner's handlers running elsewhere. Asked once per thread:
  // every coroutine made comes here.
  stack_t current{};
  if (::sigaltstack(nullptr, &current) == 0 && (current.ss_flags & SS_DISABLE) == 0) {
    thread_alt_stack.own = true;
    return true;
  }
  void* memory = ::mmap(nullptr, alt_stack_size, PROT_READ | PROT_WRITE,
                        MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
  if (memory == MAP_FAILED) return false;
  stack_t ss{};
  ss.ss_sp = memory;
  ss.ss_size = alt_stack_size;
  if (::sigaltstack(&ss, nullptr) != 0) {
    ::munmap(memory, alt_stack_size);
    return false;
  }
  thread_alt_stack.memory = memory;
  return true;
}

// The live frame whose guard band holds `fault`. The registries are read
// without locks: the process is about to die, and a frame being listed on
// another thread at this instant is at worst missed.
const frame_base* frame_guarded_at(const void* fault) noexcept {
  const std::uintptr_t guard = stack_guard_size();
  const auto address = reinterpret_cast<std::uintptr_t>(fault);
  const frame_base* found = nullptr;
  any_live_frame([&](const frame_base* f) {
    const auto bottom = reinterpret_cast<std::uintptr_t>(f->stack.bottom());
    if (address < bottom && address >= bottom - guard) found = f;
    return found != nullptr;
  });
  return found;
}

// A SIGSEGV that a process or thread sent (kill, raise, sigqueue) rather
// than the kernel for a fault: si_code SI_USER, SI_QUEUE, SI_TKILL, all at
// most zero. It has no faulting access to re-execute, and its si_addr is
// not an address.
bool was_sent(const siginfo_t* info) noexcept { return info->si_code <= 0; }

void pass_on(int signal, siginfo_t* info, void* context) noexcept {
  if ((previous_action.sa_flags & SA_SIGINFO) != 0 && previous_action.sa_sigaction != nullptr) {
    previous_action.sa_sigaction(signal, info, context);
    return;
  }
  if (previous_action.sa_handler != SIG_DFL && previous_action.sa_handler != SIG_IGN) {
    previous_action.sa_handler(signal);
    return;
  }
  // Ignored before: a sent one is ignored still, and the handler stays. (A
  // fault's SIGSEGV cannot be ignored: the kernel kills, as below.)
  if (previous_action.sa_handler == SIG_IGN && was_sent(info)) return;
  // Returning re-executes the faulting access, which now kills. A sent
  // signal re-executes nothing: sent again, it is delivered with the
  // default action as the handler returns (until then it is blocked).
  ::signal(SIGSEGV, SIG_DFL);
  if (was_sent(info)) ::raise(SIGSEGV);
}

void on_sigsegv(int signal, siginfo_t* info, void* context) {
  const frame_base* f = was_sent(info) ? nullptr : frame_guarded_at(info->si_addr);
  if (f == nullptr) {
    pass_on(signal, info, context);
    return;
  }
  write_overflow_report(subject_of(*f), info->si_addr);
  // Die of the original signal: returning re-executes the faulting access.
  ::signal(SIGSEGV, SIG_DFL);
}

}  // namespace

overflow_subject subject_of(const frame_base& f) noexcept {
  return {f.id, f.kind == co_kind::task, f.name, f.stack.bottom(), f.stack.size()};
}

void write_overflow_report(const overflow_subject& who, const void* fault) noexcept {
  line out;
  out.text("tandem: stack overflow in ");
  if (who.id == 0) {
    out.text("a context");
  } else {
    out.text(who.task ? "task " : "coroutine ").decimal(who.id);
    if (who.name[0] != '\0') out.text(" ").quoted(who.name);
  }
  const auto* top = static_cast<const char*>(who.bottom) + who.size;
  out.text(": stack [").address(who.bottom).text(", ").address(top).text(") of ");
  out.decimal(who.size).text(" bytes");
  if (fault != nullptr) {
    out.text(", fault at ").address(fault).text(" in its guard page\n");
  } else {
    out.text(
        ", found when the stack was released: it had no guard page (the mprotect budget, "
        "a quarter of vm.max_map_count, was spent) and the page below it was touched\n");
  }
  out.write_to(STDERR_FILENO);
}

void die_of_overflow() noexcept {
  ::signal(SIGSEGV, SIG_DFL);
  sigset_t only_segv;
  sigemptyset(&only_segv);
  sigaddset(&only_segv, SIGSEGV);
  ::sigprocmask(SIG_UNBLOCK, &only_segv, nullptr);
  ::raise(SIGSEGV);
  ::_exit(128 + SIGSEGV);  // not reached
}

void prepare_thread_for_overflow_reports() noexcept {
  if (handler_installed.load(std::memory_order_acquire)) set_up_alt_stack();
}

}  // namespace detail

void install_overflow_handler() {
  if (!detail::set_up_alt_stack())
    throw std::system_error(errno, std::generic_category(),
                            "tandem::install_overflow_handler: no alternate signal stack");
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction action {};
    action.sa_sigaction = detail::on_sigsegv;
    action.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&action.sa_mask);
    if (::sigaction(SIGSEGV, &action, &detail::previous_action) != 0)
      throw std::system_error(errno, std::generic_category(),
                              "tandem::install_overflow_handler: sigaction(SIGSEGV)");
    detail::handler_installed.store(true, std::memory_order_release);
  });
}

}  // namespace tandem
