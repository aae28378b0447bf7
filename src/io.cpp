// Waiting for a file descriptor's readiness (tandem/io.hpp): the task's
// side; the poller (poller.hpp) does the rest.
#include "tandem/io.hpp"

#include "loop_state.hpp"
#include "tandem/task.hpp"

namespace tandem {
namespace {

void wait_fd(int fd, bool writable) {
  detail::task_core& me = detail::current_task();
  event_loop& loop = me.loop();
  detail::loop_access::check_open(loop, writable ? "wait_writable" : "wait_readable");
  detail::poller& io = detail::loop_access::of(loop).io;
  detail::suspension s;
  io.watch(fd, writable, me.local_waker(s));
  auto unwatch = [&io, fd, writable] { io.unwatch(fd, writable); };
  s.undo = unwatch;
  detail::suspend(s);
}

}  // namespace

void wait_readable(int fd) { wait_fd(fd, false); }
void wait_writable(int fd) { wait_fd(fd, true); }

}  // namespace tandem
