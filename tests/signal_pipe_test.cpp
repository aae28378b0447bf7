// The signal pipe's life against a handler running on another thread.
// This binary defines write(2) itself, so that the library's signal
// handler, which writes the signal's number to the loop's pipe, can be
// held between reading the pipe's descriptor and writing to it, as a
// preempted thread would be. Every other write is forwarded to the kernel
// at once with syscall(2).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <pthread.h>
#include <signal.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <thread>

#include "tandem/loop.hpp"

namespace {
// An int, not a bool: a one-byte atomic exchange is a libatomic call on
// RISC-V, which this binary does not link.
std::atomic<int> hold_next_handler_write{0};
std::atomic<bool> handler_write_held{false};
thread_local bool on_signal_thread = false;
}  // namespace

extern "C" ssize_t write(int fd, const void* data, size_t size) {
  if (on_signal_thread && hold_next_handler_write.exchange(0) != 0) {
    handler_write_held.store(true);
    const timespec held{0, 200'000'000};  // 200 ms: the closer runs meanwhile
    nanosleep(&held, nullptr);
  }
  return ::syscall(SYS_write, fd, data, size);
}

namespace {

// remove_signal_handler, taking the last handler, closes the loop's signal
// pipe. A handler on another thread that had already read the pipe's write
// descriptor must not write into a file that took that number after the
// close: here a new pipe, which must stay empty.
TEST(SignalPipe, ALastHandlerRemovedWhileAHandlerWritesLeavesRecycledDescriptorsAlone) {
  tandem::event_loop loop;
  loop.add_signal_handler(SIGUSR1, [] {});
  std::atomic<bool> ready{false};
  std::atomic<bool> done{false};
  std::thread signalled([&ready, &done] {
    on_signal_thread = true;
    ready.store(true);
    while (!done.load()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  });
  while (!ready.load()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  hold_next_handler_write.store(1);
  ASSERT_EQ(pthread_kill(signalled.native_handle(), SIGUSR1), 0);
  for (int ms = 0; ms < 10'000 && !handler_write_held.load(); ++ms)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  if (!handler_write_held.load()) {
    done.store(true);
    signalled.join();
    FAIL() << "the handler never wrote";
  }

  EXPECT_TRUE(loop.remove_signal_handler(SIGUSR1));  // the pipe is closed
  int fresh[2];
  ASSERT_EQ(::pipe2(fresh, O_CLOEXEC | O_NONBLOCK), 0);  // may take its numbers
  done.store(true);
  signalled.join();  // the held write is done

  char byte;
  EXPECT_EQ(::read(fresh[0], &byte, 1), -1) << "a signal number landed in an unrelated pipe";
  EXPECT_EQ(errno, EAGAIN);
  ::close(fresh[0]);
  ::close(fresh[1]);
}

}  // namespace
