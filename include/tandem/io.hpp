// tandem/io.hpp: waiting for a file descriptor's readiness inside a task
// (epoll; asyncio's selector_events.py).
//
//     tandem::wait_readable(fd);   // suspends this task until fd is readable
//
// At most one task may wait for readability, and one for writability, of a
// file descriptor at a time; a second waiter gets std::logic_error (asyncio
// silently replaces the earlier reader, which then waits forever). A bad
// file descriptor (closed, negative, or one epoll refuses, as a regular
// file): std::system_error naming the call and the descriptor, with
// epoll's reason (EBADF, EPERM); the refused wait leaves nothing behind.
// An error or hang-up on the fd counts as readiness, so that the next read
// or write reports it. Suspending calls: outside a task, or inside a
// generator coroutine running in a task, std::logic_error.
#pragma once

namespace tandem {

void wait_readable(int fd);
void wait_writable(int fd);

}  // namespace tandem
