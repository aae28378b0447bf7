// to_thread when the pool cannot start a worker (docs/rules.md, section 9):
// std::thread throws std::system_error, to_thread throws it, and the fn it
// was given never runs (asyncio's executor leaves it queued: a later
// worker runs it although the caller was told it failed, and a fn holding
// references to the caller's locals reads them after they are gone).
// This binary defines pthread_create itself, to refuse a thread on demand
// as the kernel does (EAGAIN) when a process reaches its thread limit,
// which RLIMIT_NPROC cannot force for root. Every other call goes to the
// C library's.
#include <dlfcn.h>
#include <gtest/gtest.h>
#include <pthread.h>

#include <atomic>
#include <cerrno>
#include <system_error>
#include <thread>

#include "support/loop_support.hpp"
#include "tandem/threads.hpp"

namespace {
// How many of the next thread creations fail with EAGAIN.
std::atomic<int> refuse_threads{0};
}  // namespace

extern "C" int pthread_create(pthread_t* thread, const pthread_attr_t* attr, void* (*start)(void*),
                              void* arg) {
  using create_fn = int (*)(pthread_t*, const pthread_attr_t*, void* (*)(void*), void*);
  static const auto next = reinterpret_cast<create_fn>(::dlsym(RTLD_NEXT, "pthread_create"));
  for (int n = refuse_threads.load(); n > 0;) {
    if (refuse_threads.compare_exchange_weak(n, n - 1)) return EAGAIN;
  }
  return next(thread, attr, start, arg);
}

namespace {

using namespace loop_testing;

// Namespace-scope, not the test's locals: before the fix a refused fn ran
// after its caller had gone on.
std::atomic<bool> refused_fn_ran{false};
std::atomic<bool> release{false};

void wait_for_release() {
  const auto give_up = steady::now() + default_watchdog;
  while (!release.load() && steady::now() < give_up) std::this_thread::sleep_for(100us);
}

// The loop's first to_thread: no worker yet, and none can start. The next
// to_thread makes the pool's first worker, which must find nothing of the
// refused one's.
TEST(ThreadsSpawn, RefusedFirstWorkerThrowsAndItsFnNeverRuns) {
  refused_fn_ran = false;
  event_loop loop;
  run_bounded(loop, [] {
    refuse_threads = 1;
    try {
      tandem::to_thread([] { refused_fn_ran = true; });
      ADD_FAILURE() << "to_thread returned without a worker to run its fn";
    } catch (const std::system_error& e) {
      EXPECT_EQ(e.code().value(), EAGAIN) << e.what();
    }
    EXPECT_EQ(tandem::to_thread([] { return 7; }), 7);  // the pool works on
  });
  loop.close();  // waits for every fn that started
  EXPECT_FALSE(refused_fn_ran) << "a fn ran although to_thread had thrown";
}

// Every worker is busy, and the pool cannot grow: the same. The busy
// worker, once free, takes the fns queued after the refused one.
TEST(ThreadsSpawn, RefusedExtraWorkerThrowsAndItsFnNeverRuns) {
  refused_fn_ran = false;
  release = false;
  event_loop loop;
  run_bounded(loop, [&loop] {
    std::atomic<bool> busy{false};
    auto blocker = loop.create_task([&busy] {
      tandem::to_thread([&busy] {
        busy = true;
        wait_for_release();
      });
    });
    while (!busy) tandem::sleep_for(100us);
    refuse_threads = 1;
    EXPECT_THROW(tandem::to_thread([] { refused_fn_ran = true; }), std::system_error);
    release = true;
    tandem::await(blocker);
    EXPECT_EQ(tandem::to_thread([] { return 7; }), 7);  // after the refused one in a queue
  });
  loop.close();
  EXPECT_FALSE(refused_fn_ran) << "a fn ran although to_thread had thrown";
}

}  // namespace
