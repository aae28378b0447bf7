// tandem/overflow.hpp: the report of a coroutine's stack overflow.
#pragma once

namespace tandem {

// Opt-in: turns a coroutine's stack overflow into one line on stderr,
//   tandem: stack overflow in coroutine 7 "parser": stack [0x7f.., 0x7f..)
//   of 262144 bytes, fault at 0x7f.. in its guard page
// and then lets the process die of the original SIGSEGV, as it would have
// without the handler. It installs a SIGSEGV handler that runs on an
// alternate signal stack (the overflowed stack has no room left); faults
// that are not guard-page hits, and a SIGSEGV sent by kill or raise, go to
// the handler that was there before, or get the default action (or stay
// ignored, if they were). Call it once, early, from the main thread; it
// also gives an alternate signal stack to every thread that later creates
// a coroutine. A thread that only resumes coroutines made elsewhere should
// call it too (later calls only set up the calling thread). A thread that
// has an alternate signal stack of its own keeps it: the handler runs there
// (it needs a few KiB; a sanitizer it passes a fault on to, more). Replacing the
// SIGSEGV disposition afterwards, or its sigaltstack, disables it.
// A stack past the mprotect guard budget (tandem/stack.hpp) has no guard page to
// hit: its overflow is reported the same way, with the same death, when the
// coroutine is destroyed, with or without this handler.
// Throws std::system_error if the alternate stack or handler cannot be set.
// The name's control characters, quotes and backslashes are written as C
// escapes ("a\nb", "\x1b"), so that the report stays one line.
void install_overflow_handler();

}  // namespace tandem
