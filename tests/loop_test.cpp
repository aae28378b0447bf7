// tandem/loop.hpp, the loop itself (docs/rules.md, section 4): running it
// (run_until_complete, run_forever, stop), the order of a loop iteration,
// current_loop, call_soon_threadsafe, close() and the destructor, and the
// closed loop's refusals (section 5). Tasks are in task_test.cpp, sleep,
// gather and wait_for in wait_test.cpp, queue and event in sync_test.cpp,
// file descriptors in io_test.cpp, timers in timer_test.cpp, the
// large-scale cases in loop_stress_test.cpp.
//
// No test may hang on a broken loop: whatever waits on the loop runs under a
// watchdog (a timer that stops the loop, or, where the loop may sleep in
// epoll with no timer at all, a thread that aborts the process).
#include "tandem/loop.hpp"

#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <filesystem>
#include <functional>
#include <memory>
#include <new>
#include <optional>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "loop_state.hpp"  // the ready queue's reserved room (src/)
#include "support/failing_new.hpp"
#include "support/loop_support.hpp"
#include "support/valgrind.hpp"

namespace {

using namespace loop_testing;

// ---------------------------------------------------------------------------
// run_until_complete, run_forever, stop.

TEST(Loop, RunUntilCompleteReturnsTheValue) {
  event_loop loop;
  EXPECT_EQ(run_bounded(loop,
                        [] {
                          tandem::sleep_for(1ms);
                          return 42;
                        }),
            42);
  auto t = loop.create_task([] { return std::string("from a task handle"); });
  EXPECT_EQ(run_bounded(loop, t), "from a task handle");
  bool ran = false;
  run_bounded(loop, [&] { ran = true; });
  EXPECT_TRUE(ran);
}

// asyncio stops run_until_complete from the task's done-callback, one
// iteration after the task ends: that iteration runs what the task's last
// step scheduled (a callback, a new task's first step), and no more.
TEST(Loop, RunUntilCompleteRunsTheIterationAfterTheTaskEnds) {
  event_loop loop;
  std::vector<std::string> ran;
  loop.run_until_complete([&] {
    loop.call_soon([&] { ran.emplace_back("callback"); });
    (void)loop.create_task([&] {
      ran.emplace_back("child started");
      loop.call_soon([&] { ran.emplace_back("two iterations on"); });
    });
  });
  EXPECT_EQ(ran, (std::vector<std::string>{"callback", "child started"}));
}

TEST(Loop, RunUntilCompleteRethrowsTheException) {
  event_loop loop;
  try {
    run_bounded(loop, []() -> int {
      tandem::sleep_for(0s);
      throw std::out_of_range("seven");
    });
    ADD_FAILURE() << "no exception";
  } catch (const std::out_of_range& e) {
    EXPECT_STREQ(e.what(), "seven");
  }
  auto cancelled = loop.create_task([] { return 1; });
  cancelled.cancel();
  EXPECT_THROW(run_bounded(loop, cancelled), tandem::cancelled_error);
  // The loop is still usable.
  EXPECT_EQ(run_bounded(loop, [] { return 3; }), 3);
}

TEST(Loop, RunUntilCompleteWhileRunningThrows) {
  event_loop loop;
  run_bounded(loop, [&] {
    EXPECT_TRUE(loop.is_running());
    auto other = loop.create_task([] { return 1; });
    EXPECT_THROW(loop.run_until_complete(other), std::logic_error);
    EXPECT_THROW(loop.run_until_complete([] { return 2; }), std::logic_error);
    EXPECT_THROW(loop.run_forever(), std::logic_error);
    EXPECT_TRUE(loop.is_running());
    EXPECT_EQ(tandem::await(other), 1);  // unaffected
  });
  // From a callback the loop runs, too.
  bool checked = false;
  loop.call_soon([&] {
    EXPECT_THROW(loop.run_until_complete([] { return 2; }), std::logic_error);
    checked = true;
  });
  run_bounded(loop, [] { tandem::sleep_for(0s); });
  EXPECT_TRUE(checked);
  EXPECT_FALSE(loop.is_running());
}

// asyncio refuses to run a loop while another runs on the thread ("Cannot
// run the event loop while another loop is running"). Regression: a loop
// run inside a task of another ran its callbacks with that task still the
// thread's running task, so current_loop() there named the outer loop, and
// a sleep_for in such a callback suspended the outer task with the inner
// loop on its stack, which the outer loop then ran as its own.
TEST(Loop, RunningALoopWhileAnotherRunsOnTheThreadThrows) {
  event_loop inner;
  bool callback_saw_inner = false;
  bool callback_could_suspend = true;
  auto sleeper = inner.create_task([&] {
    try {
      tandem::sleep_for(1h);
    } catch (const tandem::cancelled_error&) {
      inner.call_soon([&] {
        callback_saw_inner = &tandem::current_loop() == &inner;
        try {
          tandem::sleep_for(1ms);
        } catch (const std::logic_error&) {
          callback_could_suspend = false;
        }
      });
      tandem::sleep_for(0s);  // unfinished while the callback runs
      throw;
    }
  });
  run_for(inner, 1ms);  // the sleeper starts
  event_loop outer;
  run_bounded(outer, [&] {
    auto refused = [&](auto&& run) {
      try {
        run();
        ADD_FAILURE() << "ran inside another loop";
      } catch (const std::logic_error& e) {
        EXPECT_NE(std::string(e.what()).find("another event loop"), std::string::npos) << e.what();
      }
    };
    refused([&] { inner.run_until_complete([] { return 1; }); });
    // Should it run after all, a timer stops it.
    auto stop = inner.call_later(10ms, [&] { inner.stop(); });
    refused([&] { inner.run_forever(); });
    stop.cancel();
    EXPECT_FALSE(inner.is_running());
    // close() runs the inner loop's cleanup where it is called: its
    // callbacks see their own loop, and no task they could suspend.
    inner.close();
    EXPECT_TRUE(sleeper.cancelled());
    EXPECT_TRUE(callback_saw_inner);
    EXPECT_FALSE(callback_could_suspend);
    EXPECT_EQ(&tandem::current_loop(), &outer);
  });
}

TEST(Loop, RunUntilCompleteOnAClosedLoopThrows) {
  event_loop loop;
  auto made_before = loop.create_task([] { return 1; });
  loop.close();
  EXPECT_THROW(loop.run_until_complete([] { return 1; }), std::logic_error);
  EXPECT_THROW(loop.run_until_complete(made_before), std::logic_error);
}

TEST(Loop, RunForeverRunsUntilStopAndCanRunAgain) {
  event_loop loop;
  int ticks = 0;
  bool running_inside = false;
  std::function<void()> tick = [&] {
    running_inside = loop.is_running();
    if (++ticks % 5 == 0) {
      loop.stop();
    } else {
      loop.call_soon(tick);
    }
  };
  loop.call_soon(tick);
  run_forever_bounded(loop);
  EXPECT_EQ(ticks, 5);
  EXPECT_TRUE(running_inside);
  EXPECT_FALSE(loop.is_running());
  // stop() ended that run only: the loop runs again.
  loop.call_soon(tick);
  run_forever_bounded(loop);
  EXPECT_EQ(ticks, 10);
}

TEST(Loop, StopFromATaskEndsRunForever) {
  event_loop loop;
  bool after = false;
  loop.create_task([&] {
    tandem::sleep_for(5ms);
    tandem::current_loop().stop();
    after = true;  // stop() does not suspend the task
  });
  run_forever_bounded(loop);
  EXPECT_TRUE(after);
}

// asyncio: stop() before run_forever() runs one iteration, then returns.
// Regression: run_forever() after a stop() returned before running anything.
TEST(Loop, StopBeforeRunForeverRunsOneIteration) {
  event_loop loop;
  int ran = 0;
  loop.call_soon([&] { ++ran; });
  loop.call_soon([&] { loop.call_soon([&] { ran += 10; }); });  // the next iteration's
  loop.stop();
  loop.run_forever();
  EXPECT_EQ(ran, 1);
  loop.call_soon([&] { loop.stop(); });
  loop.run_forever();  // the stop() above was used up: this one runs again
  EXPECT_EQ(ran, 11);
}

// A run that ends in an exception leaves no stop() behind: asyncio clears
// its stopping flag however run_forever ends. Regression: run_until_complete
// left the flag set when a callback called stop() and then threw, so the
// next run_forever returned after one iteration (run_until_complete and
// run_forever had their own copies of the enter/leave code).
TEST(Loop, RunForeverAfterARunThatRaisedAfterStopRunsUntilTheNextStop) {
  event_loop loop;
  loop.call_soon([&] {
    loop.stop();
    throw std::runtime_error("raised after stop");
  });
  try {
    run_bounded(loop, [] {});
    ADD_FAILURE() << "no exception";
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(), "raised after stop");
  }
  EXPECT_FALSE(loop.is_running());
  int iterations = 0;
  std::function<void()> tick = [&] {
    if (++iterations == 3) {
      loop.stop();
    } else {
      loop.call_soon(tick);
    }
  };
  loop.call_soon(tick);
  run_forever_bounded(loop);
  EXPECT_EQ(iterations, 3) << "run_forever returned before the stop() of its third iteration";
}

// Where asyncio hands a callback's exception to the loop's exception
// handler and goes on, tandem ends the run with it (docs/rules.md 4.13):
// nothing is lost, since the callbacks ready after it stay queued, in
// order, and run when the loop runs again.
TEST(Loop, ACallbackThatThrowsEndsTheRunAndTheCallbacksAfterItRunNextTime) {
  event_loop loop;
  std::vector<int> order;
  loop.call_soon([&] { order.push_back(1); });
  loop.call_soon([&]() -> void {
    order.push_back(2);
    throw std::runtime_error("callback failed");
  });
  loop.call_soon([&] { order.push_back(3); });
  loop.call_soon([&] { order.push_back(4); });
  auto watchdog = loop.call_later(2s, [&] { loop.stop(); });  // in case nothing throws
  try {
    loop.run_forever();
    ADD_FAILURE() << "no exception";
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(), "callback failed");
  }
  EXPECT_EQ(order, (std::vector<int>{1, 2}));
  EXPECT_FALSE(loop.is_running());
  watchdog.cancel();
  run_for(loop, 1ms);
  EXPECT_EQ(order, (std::vector<int>{1, 2, 3, 4}));
}

// ---------------------------------------------------------------------------
// The order of a loop iteration.

// Tasks, call_soon callbacks and timers with equal deadlines run in the
// order they were scheduled (FIFO).
TEST(Loop, TasksAndCallbacksRunInTheOrderScheduled) {
  event_loop loop;
  std::vector<int> order;
  std::vector<int> expected;
  for (int i = 0; i < 40; i += 2) {
    loop.create_task([&order, i] { order.push_back(i); });
    loop.call_soon([&order, i] { order.push_back(i + 1); });
    expected.push_back(i);
    expected.push_back(i + 1);
  }
  loop.call_soon([&] { loop.stop(); });
  run_forever_bounded(loop);
  EXPECT_EQ(order, expected);

  // The same, scheduled from inside a running task.
  order.clear();
  run_bounded(loop, [&] {
    auto& l = tandem::current_loop();
    for (int i = 0; i < 40; i += 2) {
      l.call_soon([&order, i] { order.push_back(i); });
      l.create_task([&order, i] { order.push_back(i + 1); });
    }
    tandem::sleep_for(0s);  // queued after all of them
    EXPECT_EQ(order, expected);
  });
}

// ---------------------------------------------------------------------------
// current_loop.

TEST(Loop, CurrentLoopInsideTasksAndCallbacks) {
  event_loop loop;
  event_loop* in_task = nullptr;
  event_loop* in_callback = nullptr;
  event_loop* in_timer = nullptr;
  loop.call_soon([&] { in_callback = &tandem::current_loop(); });
  loop.call_later(1ms, [&] { in_timer = &tandem::current_loop(); });
  run_bounded(loop, [&] {
    in_task = &tandem::current_loop();
    tandem::sleep_for(5ms);
  });
  EXPECT_EQ(in_task, &loop);
  EXPECT_EQ(in_callback, &loop);
  EXPECT_EQ(in_timer, &loop);
  EXPECT_THROW(tandem::current_loop(), std::logic_error);  // no loop runs now
}

// ---------------------------------------------------------------------------
// call_soon_threadsafe.

TEST(Loop, CallSoonThreadsafeWakesASleepingLoop) {
  event_loop loop;
  // Nothing is scheduled: the loop sleeps in epoll with no timeout, so only
  // the wake-up can end this test; the watchdog turns a hang into a failure.
  abort_watchdog dog(20s, "call_soon_threadsafe did not wake the loop");
  std::atomic<bool> ran{false};
  const auto start = steady::now();
  std::thread poster([&] {
    std::this_thread::sleep_for(100ms);  // let the loop fall asleep first
    loop.call_soon_threadsafe([&] {
      ran = true;
      EXPECT_EQ(&tandem::current_loop(), &loop);
      loop.stop();
    });
  });
  loop.run_forever();
  poster.join();
  EXPECT_TRUE(ran);
  EXPECT_GE(steady::now() - start, 100ms);
}

TEST(Loop, CallSoonThreadsafeKeepsEachThreadsOrder) {
  event_loop loop;
  abort_watchdog dog(20s, "call_soon_threadsafe callbacks were lost");
  constexpr int kThreads = 3;
  constexpr int kPerThread = 2'000;
  std::vector<std::vector<int>> seen(kThreads);  // touched on the loop thread only
  int total = 0;
  std::vector<std::thread> posters;
  for (int t = 0; t < kThreads; ++t) {
    posters.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        loop.call_soon_threadsafe([&, t, i] {
          seen[t].push_back(i);
          if (++total == kThreads * kPerThread) loop.stop();
        });
      }
    });
  }
  loop.run_forever();
  for (auto& p : posters) p.join();
  EXPECT_EQ(total, kThreads * kPerThread);
  for (int t = 0; t < kThreads; ++t) {
    ASSERT_EQ(seen[t].size(), static_cast<std::size_t>(kPerThread));
    for (int i = 0; i < kPerThread; ++i) ASSERT_EQ(seen[t][i], i) << "thread " << t;
  }
}

// Regression: call_soon_threadsafe and close() did not share a lock and raced.
// asyncio's call_soon_threadsafe is call_soon plus a wake-up: from the
// loop's own thread it keeps its place among call_soon's callbacks.
TEST(Loop, CallSoonThreadsafeFromTheLoopsThreadKeepsItsPlace) {
  event_loop loop;
  std::vector<int> order;
  run_bounded(loop, [&] {
    loop.call_soon_threadsafe([&] { order.push_back(1); });
    loop.call_soon([&] { order.push_back(2); });
    loop.call_soon_threadsafe([&] { order.push_back(3); });
    while (order.size() < 3) tandem::sleep_for(0s);
  });
  EXPECT_EQ(order, (std::vector<int>{1, 2, 3}));
}

// Callbacks posted from other threads are taken in all at once or not at
// all: room for them all is made first. Each used to move into the ready
// queue in turn, and a std::bad_alloc as the queue grew lost the callback
// it was moving and left the ones moved before as empty functions, posted
// still: the next run threw std::bad_function_call. Here the bad_alloc
// leaves the run (the room was needed), and the next run runs each posted
// callback once, in order. The queue is filled to each count in turn, so
// that some count leaves it exactly full as they are taken in.
TEST(Loop, ABadAllocTakingInPostedCallbacksLosesNone) {
  if (testing_support::running_on_valgrind())
    GTEST_SKIP() << "Valgrind's operator new replaces the one that fails on demand";
  int failures = 0;
  for (int fill = 1; fill <= 300; ++fill) {
    event_loop loop;
    std::vector<int> ran;
    try {
      run_bounded(loop, [&] {
        auto& l = tandem::current_loop();
        tandem::event done;
        l.call_soon([&] {
          std::thread([&] {
            l.call_soon_threadsafe([&] {
              allocations_until_failure = -1;
              ran.push_back(1);
            });
            l.call_soon_threadsafe([&] {
              ran.push_back(2);
              done.set();
            });
          }).join();
          for (int i = 0; i < fill; ++i) l.call_soon([] {});
          allocations_until_failure = 0;  // the next iteration takes them in
        });
        done.wait();
      });
    } catch (const std::bad_alloc&) {
      allocations_until_failure = -1;
      ++failures;
      run_bounded(loop, [&] {
        for (int i = 0; i < 10 && ran.size() < 2; ++i) tandem::sleep_for(0s);
      });
    }
    ASSERT_EQ(ran, (std::vector<int>{1, 2})) << "with " << fill << " callbacks queued";
  }
  EXPECT_GT(failures, 0) << "no count left the ready queue full: the test tests nothing";
}

// close() drops what was posted and not yet run. A dropped callback's
// captures may post again from their destructors: refused, since the loop
// is closed, and close() does not deadlock on its own lock.
TEST(Loop, CloseDropsPostedCallbacksWhoseCapturesPostAgain) {
  struct posts_when_destroyed {
    event_loop* loop;
    bool* refused;
    posts_when_destroyed(event_loop* l, bool* r) : loop(l), refused(r) {}
    posts_when_destroyed(const posts_when_destroyed&) = delete;
    posts_when_destroyed& operator=(const posts_when_destroyed&) = delete;
    ~posts_when_destroyed() {
      try {
        loop->call_soon_threadsafe([] {});
      } catch (const std::logic_error&) {
        *refused = true;
      }
    }
  };
  event_loop loop;
  bool refused = false;
  auto captured = std::make_shared<posts_when_destroyed>(&loop, &refused);
  loop.call_soon_threadsafe([captured] {});
  captured.reset();
  loop.close();
  EXPECT_TRUE(refused);
}

TEST(Loop, CallSoonThreadsafeRacingCloseRunsOrThrowsLogicError) {
  for (int round = 0; round < 20; ++round) {
    event_loop loop;
    std::atomic<bool> go{true};
    std::thread poster([&] {
      while (go) {
        try {
          loop.call_soon_threadsafe([] {});
        } catch (const std::logic_error&) {
          return;  // closed: the only allowed outcome besides success
        }
      }
    });
    std::this_thread::sleep_for(1ms);
    loop.close();
    go = false;
    poster.join();
  }
}

// ---------------------------------------------------------------------------
// close() and the destructor.

TEST(Loop, CloseCancelsAndUnwinds) {
  int destroyed = 0;
  auto token = std::make_shared<int>(0);  // captured by every body
  tandem::queue<int> q;                   // outlives the loop
  tandem::event e;
  std::vector<tandem::task<void>> tasks;
  bool unstarted_ran = false;
  {
    event_loop loop;
    std::vector<std::function<void()>> suspensions = {
        [] { tandem::sleep_for(1h); },
        [] { tandem::sleep_until(steady::now() + 1h); },
        [&] { q.get(); },
        [&] { e.wait(); },
        [] {
          auto t = tandem::current_loop().create_task([] { tandem::sleep_for(1h); });
          tandem::await(t);
        },
    };
    for (auto& s : suspensions) {
      tasks.push_back(loop.create_task([&destroyed, token, s] {
        counted c(destroyed);
        s();
        ADD_FAILURE() << "a task resumed normally at close";
      }));
    }
    run_bounded(loop, [] { tandem::sleep_for(0s); });
    EXPECT_EQ(destroyed, 0);
    tasks.push_back(loop.create_task([&unstarted_ran, token] { unstarted_ran = true; }));
    loop.close();
    EXPECT_TRUE(loop.is_closed());
    EXPECT_FALSE(loop.is_running());
    EXPECT_EQ(destroyed, static_cast<int>(suspensions.size()));
  }
  EXPECT_FALSE(unstarted_ran);
  for (auto& t : tasks) {
    EXPECT_TRUE(t.done());
    EXPECT_TRUE(t.cancelled());
  }
  tasks.clear();
  EXPECT_EQ(token.use_count(), 1);  // every body was released
}

// asyncio.run cancels what is left before it closes the loop: a task's
// cancellation handler runs at close, as on any other cancellation.
// Regression: close() unwound tasks with coroutine_exit alone, so their
// `catch (const cancelled_error&)` cleanup never ran at shutdown.
TEST(Loop, CloseCancelsUnfinishedTasksSoTheirCancellationHandlersRun) {
  std::vector<std::string> cleanup;
  std::optional<tandem::task<void>> t;
  {
    event_loop loop;
    t = loop.create_task([&] {
      try {
        tandem::sleep_for(1h);
      } catch (const tandem::cancelled_error&) {
        cleanup.push_back("cancelled");
        throw;
      }
    });
    run_bounded(loop, [] { tandem::sleep_for(0s); });
    loop.close();
    EXPECT_EQ(cleanup, (std::vector<std::string>{"cancelled"}));
  }
  EXPECT_TRUE(t->cancelled());
}

// The cleanup may suspend while it has work ready (here: it awaits another
// task and yields), and a task that catches its cancellation and returns
// completes normally, as in asyncio.
TEST(Loop, CloseLetsCancelledTasksFinishCleanupThatHasWorkReady) {
  std::optional<tandem::task<int>> t;
  {
    event_loop loop;
    t = loop.create_task([] {
      try {
        tandem::sleep_for(1h);
      } catch (const tandem::cancelled_error&) {
        auto& l = tandem::current_loop();
        auto flush = l.create_task([] {
          tandem::sleep_for(0s);
          return 41;
        });
        tandem::sleep_for(0s);
        return tandem::await(flush) + 1;
      }
      return 0;
    });
    run_bounded(loop, [] { tandem::sleep_for(0s); });
    loop.close();
  }
  ASSERT_TRUE(t->done());
  EXPECT_FALSE(t->cancelled());
  EXPECT_EQ(t->result(), 42);
}

// Cleanup that waits on a timer (or I/O) is not waited for: the loop
// unwinds it by force (coroutine_exit at that suspension).
TEST(Loop, CloseUnwindsByForceCleanupThatWaitsOnATimer) {
  int destroyed = 0;
  bool slept_through = false;
  std::optional<tandem::task<void>> t;
  {
    event_loop loop;
    t = loop.create_task([&] {
      counted c(destroyed);
      try {
        tandem::sleep_for(1h);
      } catch (const tandem::cancelled_error&) {
        tandem::sleep_for(1h);
        slept_through = true;
      }
    });
    run_bounded(loop, [] { tandem::sleep_for(0s); });
    loop.close();
    EXPECT_EQ(destroyed, 1);
  }
  EXPECT_FALSE(slept_through);
  EXPECT_TRUE(t->cancelled());
}

// Has `loop` run a task that close() cancels, that catches the
// cancellation and suspends again, to be unwound by force: `on_unwinding`
// runs from a destructor on its stack as that happens. Then closes it.
void close_unwinding_a_task_by_force(event_loop& loop, std::function<void()> on_unwinding) {
  struct runs_when_destroyed {
    std::function<void()>& fn;
    ~runs_when_destroyed() { fn(); }
  };
  loop.create_task([fn = std::move(on_unwinding)]() mutable {
    try {
      tandem::sleep_for(1h);
    } catch (const tandem::cancelled_error&) {
      runs_when_destroyed r{fn};
      tandem::sleep_for(1h);  // unwound by force here
    }
  });
  run_bounded(loop, [] { tandem::sleep_for(0s); });
  loop.close();
}

// A task created while close() unwinds the unfinished tasks by force (here
// from a destructor on a stack being unwound) is refused with logic_error,
// as on a closed loop (asyncio: "Event loop is closed"): the loop runs
// nothing more. It used to be accepted and dropped: it never ran, and its
// handle stayed pending after close() for good.
TEST(Loop, CreatingATaskWhileCloseUnwindsByForceThrowsLogicError) {
  bool refused = false;
  bool ran = false;
  std::optional<tandem::task<void>> late;
  {
    event_loop loop;
    close_unwinding_a_task_by_force(loop, [&] {
      try {
        late = loop.create_task([&ran] { ran = true; });
      } catch (const std::logic_error&) {
        refused = true;
      }
    });
    EXPECT_TRUE(refused);
    EXPECT_FALSE(late.has_value() && !late->done()) << "accepted, and left pending by close()";
  }
  EXPECT_FALSE(ran);
}

// A callback or timer scheduled while close() unwinds by force (from a
// destructor, which must not throw) is accepted and dropped, as asyncio's
// close() drops pending callbacks: it never runs, and the timer's handle
// still answers.
TEST(Loop, CallbacksScheduledWhileCloseUnwindsByForceAreDropped) {
  bool accepted = false;
  bool ran = false;
  std::optional<tandem::timer_handle> timer;
  {
    event_loop loop;
    close_unwinding_a_task_by_force(loop, [&] {
      loop.call_soon([&ran] { ran = true; });
      timer = loop.call_later(0s, [&ran] { ran = true; });
      accepted = true;
    });
    EXPECT_TRUE(accepted);
    ASSERT_TRUE(timer.has_value());
    EXPECT_FALSE(timer->cancelled());
    EXPECT_NO_THROW(timer->cancel());
  }
  EXPECT_FALSE(ran);
}

// A task that catches its cancellation and yields forever cannot keep
// close() from returning: after a bounded number of iterations it is
// unwound by force.
TEST(Loop, CloseUnwindsByForceATaskThatKeepsYieldingAfterItsCancellation) {
  int destroyed = 0;
  {
    event_loop loop;
    loop.create_task([&] {
      counted c(destroyed);
      try {
        tandem::sleep_for(1h);
      } catch (const tandem::cancelled_error&) {
        for (;;) tandem::sleep_for(0s);
      }
    });
    run_bounded(loop, [] { tandem::sleep_for(0s); });
  }  // the destructor closes
  EXPECT_EQ(destroyed, 1);
}

// Regression: close() unwound a stack that held a queue another task still waited
// in (a use-after-free under ASan).
TEST(Loop, CloseUnregistersEveryWaiterBeforeUnwindingAnyStack) {
  // The queue lives on the owner's stack; the consumer waits in it. Closing
  // must unregister the consumer before any stack unwinds (ASan catches a
  // use-after-free otherwise), whatever order the tasks are kept in.
  for (int round = 0; round < 20; ++round) {
    event_loop loop;
    tandem::queue<int>* shared = nullptr;
    loop.create_task([&] {
      tandem::queue<int> q;
      shared = &q;
      tandem::sleep_for(1h);
    });
    loop.create_task([&] {
      tandem::sleep_for(0s);
      shared->get();
    });
    run_for(loop, 5ms);
    loop.close();
  }
}

TEST(Loop, CloseWhileRunningThrows) {
  event_loop loop;
  run_bounded(loop, [&] { EXPECT_THROW(loop.close(), std::logic_error); });
  EXPECT_FALSE(loop.is_closed());
  EXPECT_EQ(run_bounded(loop, [] { return 1; }), 1);  // still open
}

TEST(Loop, SecondCloseDoesNothing) {
  event_loop loop;
  auto t = loop.create_task([] { return 1; });
  run_bounded(loop, t);
  loop.close();
  EXPECT_NO_THROW(loop.close());
  EXPECT_TRUE(loop.is_closed());
  EXPECT_EQ(t.result(), 1);
}  // and the destructor after two closes does nothing either

TEST(Loop, DestructorCancelsAndUnwinds) {
  int destroyed = 0;
  std::vector<tandem::task<int>> tasks;
  {
    event_loop loop;
    for (int i = 0; i < 10; ++i) {
      tasks.push_back(loop.create_task([&destroyed] {
        counted c(destroyed);
        tandem::sleep_for(1h);
        return 1;
      }));
    }
    run_bounded(loop, [] { tandem::sleep_for(0s); });
    EXPECT_EQ(destroyed, 0);
  }
  EXPECT_EQ(destroyed, 10);
  // The handles outlive the loop.
  for (auto& t : tasks) {
    EXPECT_TRUE(t.done());
    EXPECT_TRUE(t.cancelled());
    EXPECT_THROW(t.result(), tandem::cancelled_error);
  }
}

TEST(Loop, HandleOfTaskUnfinishedAtCloseReportsCancelled) {
  std::optional<tandem::task<int>> suspended, unstarted, finished, failed;
  {
    event_loop loop;
    suspended = loop.create_task([] {
      tandem::sleep_for(1h);
      return 1;
    });
    finished = loop.create_task([] { return 2; });
    failed = loop.create_task([]() -> int { throw std::runtime_error("kept"); });
    run_bounded(loop, [] { tandem::sleep_for(0s); });
    unstarted = loop.create_task([] { return 3; });
    EXPECT_FALSE(suspended->done());
    EXPECT_FALSE(unstarted->done());
    loop.close();
    EXPECT_TRUE(suspended->done());
    EXPECT_TRUE(suspended->cancelled());
    EXPECT_TRUE(unstarted->done());
    EXPECT_TRUE(unstarted->cancelled());
  }
  EXPECT_THROW(suspended->result(), tandem::cancelled_error);
  EXPECT_THROW(unstarted->result(), tandem::cancelled_error);
  EXPECT_THROW(unstarted->exception(), tandem::cancelled_error);
  // A finished task keeps its result.
  EXPECT_FALSE(finished->cancelled());
  EXPECT_EQ(finished->result(), 2);
  EXPECT_FALSE(failed->cancelled());
  EXPECT_THROW(failed->result(), std::runtime_error);
}

// ---------------------------------------------------------------------------
// docs/rules.md section 5: bad input.

TEST(Loop, ClosedLoopOperationsThrow) {
  event_loop loop;
  const auto now = steady::now();
  loop.close();
  EXPECT_THROW(loop.create_task([] {}), std::logic_error);
  EXPECT_THROW(loop.run_until_complete([] { return 1; }), std::logic_error);
  EXPECT_THROW(loop.run_forever(), std::logic_error);
  EXPECT_THROW(loop.call_soon([] {}), std::logic_error);
  EXPECT_THROW(loop.call_soon_threadsafe([] {}), std::logic_error);
  EXPECT_THROW(loop.call_later(1ms, [] {}), std::logic_error);
  EXPECT_THROW(loop.call_at(now, [] {}), std::logic_error);
  EXPECT_TRUE(loop.is_closed());
  EXPECT_FALSE(loop.is_running());
}

// ---------------------------------------------------------------------------
// Signal handlers (asyncio's loop.add_signal_handler).

TEST(Loop, SignalHandlerRunsAsACallbackOnTheLoopsThread) {
  event_loop loop;
  std::thread::id ran_on;
  int runs = 0;
  loop.add_signal_handler(SIGUSR1, [&] {
    ran_on = std::this_thread::get_id();
    ++runs;
  });
  run_bounded(loop, [&] {
    ::raise(SIGUSR1);
    EXPECT_EQ(runs, 0) << "not in signal context: as a callback, later";
    while (runs == 0) tandem::sleep_for(100us);
  });
  EXPECT_EQ(runs, 1);
  EXPECT_EQ(ran_on, std::this_thread::get_id());
  EXPECT_TRUE(loop.remove_signal_handler(SIGUSR1));
}

// CPython's test_unix_events: a signal that arrives while the loop sleeps
// in epoll (nothing ready, no timer due) wakes it.
TEST(Loop, SignalArrivingWhileTheLoopSleepsInEpollWakesIt) {
  event_loop loop;
  tandem::event got_it;
  loop.add_signal_handler(SIGUSR2, [&] { got_it.set(); });
  std::thread sender([] {
    std::this_thread::sleep_for(20ms);
    ::kill(::getpid(), SIGUSR2);  // to the process: any thread may take it
  });
  run_bounded(loop, [&] { got_it.wait(); });
  sender.join();
  EXPECT_TRUE(got_it.is_set());
  loop.remove_signal_handler(SIGUSR2);
}

TEST(Loop, SecondSignalHandlerReplacesTheFirst) {
  event_loop loop;
  std::vector<int> ran;
  loop.add_signal_handler(SIGUSR1, [&] { ran.push_back(1); });
  loop.add_signal_handler(SIGUSR1, [&] { ran.push_back(2); });
  run_bounded(loop, [&] {
    ::raise(SIGUSR1);
    while (ran.empty()) tandem::sleep_for(100us);
  });
  EXPECT_EQ(ran, (std::vector<int>{2}));
  loop.remove_signal_handler(SIGUSR1);
}

// Each arrival of a signal makes one call, as each of asyncio's queues one
// handle, however many arrive before the loop takes them in.
TEST(Loop, EachArrivalOfASignalMakesOneCall) {
  event_loop loop;
  std::vector<int> ran;
  loop.add_signal_handler(SIGUSR1, [&] { ran.push_back(1); });
  loop.add_signal_handler(SIGUSR2, [&] { ran.push_back(2); });
  run_bounded(loop, [&] {
    for (const int signum : {SIGUSR1, SIGUSR2, SIGUSR1, SIGUSR1}) ::raise(signum);
    while (ran.size() < 4) tandem::sleep_for(100us);
    for (int i = 0; i < 10; ++i) tandem::sleep_for(0s);  // none more comes
  });
  std::sort(ran.begin(), ran.end());
  EXPECT_EQ(ran, (std::vector<int>{1, 1, 1, 2}));
  loop.remove_signal_handler(SIGUSR1);
  loop.remove_signal_handler(SIGUSR2);
}

// Queues `fill` callbacks (256 first, so that the next iteration polls
// although work is ready), raises signum and makes the next allocation
// fail just before that poll takes the signal in; the first callback to
// run after the poll lets allocations succeed again.
void raise_into_a_full_ready_queue(int signum, int fill) {
  auto& l = tandem::current_loop();
  for (int i = 0; i < 256; ++i) l.call_soon([] {});
  l.call_soon([&l, signum, fill] {
    l.call_soon([] { allocations_until_failure = -1; });  // the first to run after the poll
    for (int i = 1; i < fill; ++i) l.call_soon([] {});
    ::raise(signum);
    allocations_until_failure = 0;
  });
}

// Taking a signal in allocates nothing, however full the ready queue is:
// the handler's room in it is reserved as the handler is added. Each
// arrival used to queue a copy of the callback inside the poll, and a
// std::bad_alloc there (a callback too big for std::function's own
// storage; a full queue) left the loop's run with the signal, read from
// the pipe, lost.
TEST(Loop, TakingASignalInAllocatesNothingHoweverFullTheReadyQueueIs) {
  if (testing_support::running_on_valgrind())
    GTEST_SKIP() << "Valgrind's operator new replaces the one that fails on demand";
  for (int fill = 1; fill <= 300; ++fill) {
    event_loop loop;
    int runs = 0;
    std::array<char, 64> big{};  // too big for std::function's own storage
    loop.add_signal_handler(SIGUSR1, [&runs, big] { runs += 1 + big[0]; });
    try {
      run_bounded(loop, [&] {
        raise_into_a_full_ready_queue(SIGUSR1, fill);
        for (int i = 0; i < 2000 && runs == 0; ++i) tandem::sleep_for(0s);
      });
    } catch (const std::bad_alloc&) {
      allocations_until_failure = -1;
      ADD_FAILURE() << "bad_alloc left the loop's run, with " << fill << " callbacks queued";
    }
    ASSERT_EQ(runs, 1) << "the signal was lost, with " << fill << " callbacks queued";
  }
}

// A handler removed, or replaced, after its signal arrived but before its
// call ran is still called, once (asyncio's queued handle runs); one that
// arrives after the removal is not. The removal, queued before the poll
// that takes the signal in, runs before the call that poll queues.
TEST(Loop, ASignalTakenInBeforeItsHandlerWasRemovedOrReplacedStillCallsIt) {
  for (const bool replace : {false, true}) {
    event_loop loop;
    std::vector<int> ran;
    loop.add_signal_handler(SIGUSR1, [&] { ran.push_back(1); });
    run_bounded(loop, [&] {
      auto& l = tandem::current_loop();
      for (int i = 0; i < 256; ++i) l.call_soon([] {});
      l.call_soon([&] {
        ::raise(SIGUSR1);
        ::raise(SIGUSR1);
        l.call_soon([&] {  // runs after the poll, before the calls it queued
          if (replace)
            l.add_signal_handler(SIGUSR1, [&] { ran.push_back(2); });
          else
            l.remove_signal_handler(SIGUSR1);
        });
      });
      for (int i = 0; i < 2000 && ran.size() < 2; ++i) tandem::sleep_for(0s);
      if (replace) {
        ::raise(SIGUSR1);
        for (int i = 0; i < 2000 && ran.size() < 3; ++i) tandem::sleep_for(0s);
      }
    });
    EXPECT_EQ(ran, replace ? (std::vector<int>{1, 1, 2}) : (std::vector<int>{1, 1}));
    if (replace) loop.remove_signal_handler(SIGUSR1);
  }
}

// A callback that removes its own handler (which held the callback) runs
// to its end.
TEST(Loop, ASignalCallbackMayRemoveItsOwnHandler) {
  event_loop loop;
  std::string seen;
  loop.add_signal_handler(SIGUSR1, [&, text = std::string(100, 'x')] {
    loop.remove_signal_handler(SIGUSR1);
    seen = text;  // the capture, still alive
  });
  run_bounded(loop, [&] {
    ::raise(SIGUSR1);
    while (seen.empty()) tandem::sleep_for(100us);
  });
  EXPECT_EQ(seen, std::string(100, 'x'));
  EXPECT_FALSE(loop.remove_signal_handler(SIGUSR1));
}

// A callback's capture whose destructor removes the signal's handler (an
// RAII guard, say) runs as its handler is removed or replaced: it finds no
// handler left to remove. The handler was retired while still listed, and
// the destructor's removal freed it a second time.
TEST(Loop, ACaptureThatRemovesItsHandlerWhenDestroyedFindsItGone) {
  for (const bool replace : {false, true}) {
    event_loop loop;
    int found = -1;
    struct removes_when_destroyed {
      event_loop& loop;
      int& found;
      ~removes_when_destroyed() { found = loop.remove_signal_handler(SIGUSR1) ? 1 : 0; }
    };
    // Made in place: a temporary would run the destructor too.
    std::shared_ptr<removes_when_destroyed> guard(new removes_when_destroyed{loop, found});
    loop.add_signal_handler(SIGUSR1, [guard] {});
    guard.reset();
    if (replace) {
      loop.add_signal_handler(SIGUSR1, [] {});
      EXPECT_EQ(found, 1) << "the destructor removes the replacement";
    } else {
      EXPECT_TRUE(loop.remove_signal_handler(SIGUSR1));
      EXPECT_EQ(found, 0) << "the handler was removed already";
    }
    EXPECT_FALSE(loop.remove_signal_handler(SIGUSR1));
  }
}

// Closing drops the ready queue's reserved room (nothing runs again). A
// timer's capture removes a signal handler as closing drops the timer,
// after the ready queue went: the removal finds the handler and restores
// the disposition from before, and gives back no room (its release took
// the queue's count below zero).
TEST(Loop, ClosingDropsATimerWhoseCaptureRemovesASignalHandler) {
  struct sigaction before {};
  ASSERT_EQ(::sigaction(SIGUSR2, nullptr, &before), 0);
  std::optional<bool> removed;
  {
    event_loop loop;
    struct removes_when_destroyed {
      event_loop& loop;
      std::optional<bool>& removed;
      ~removes_when_destroyed() { removed = loop.remove_signal_handler(SIGUSR2); }
    };
    loop.add_signal_handler(SIGUSR2, [] {});
    // Made in place: a temporary would run the destructor too.
    std::shared_ptr<removes_when_destroyed> guard(new removes_when_destroyed{loop, removed});
    loop.call_later(1h, [guard] {});
    guard.reset();
    loop.close();
    ASSERT_TRUE(removed.has_value());
    EXPECT_TRUE(*removed);
    EXPECT_EQ(tandem::detail::loop_access::of(loop).ready.reserved_callbacks(), 0u);
  }
  struct sigaction after {};
  ASSERT_EQ(::sigaction(SIGUSR2, nullptr, &after), 0);
  EXPECT_EQ(after.sa_handler, before.sa_handler);
}

TEST(Loop, SignalHandlerForSigkillSigstopOrABadNumberThrowsInvalidArgument) {
  event_loop loop;
  EXPECT_THROW(loop.add_signal_handler(SIGKILL, [] {}), std::invalid_argument);
  EXPECT_THROW(loop.add_signal_handler(SIGSTOP, [] {}), std::invalid_argument);
  EXPECT_THROW(loop.add_signal_handler(0, [] {}), std::invalid_argument);
  EXPECT_THROW(loop.add_signal_handler(NSIG, [] {}), std::invalid_argument);
  EXPECT_THROW(loop.add_signal_handler(SIGUSR1, nullptr), std::invalid_argument);
  EXPECT_FALSE(loop.remove_signal_handler(SIGUSR1));
}

// As asyncio's remove_signal_handler ("invalid signal number"): a number
// that is no signal is refused, where it said false as for a signal with
// no handler, hiding the caller's mistake.
TEST(Loop, RemovingASignalHandlerForABadNumberThrowsInvalidArgument) {
  event_loop loop;
  EXPECT_THROW(loop.remove_signal_handler(0), std::invalid_argument);
  EXPECT_THROW(loop.remove_signal_handler(-1), std::invalid_argument);
  EXPECT_THROW(loop.remove_signal_handler(NSIG), std::invalid_argument);
  EXPECT_FALSE(loop.remove_signal_handler(SIGKILL));  // a signal, with no handler
}

// glibc keeps signals 32 and 33 for itself: sigaction refuses them. The
// pipe opened for the loop's first handler is closed again.
TEST(Loop, AFirstSignalHandlerThatCannotBeInstalledLeavesNoPipeOpen) {
  auto open_descriptors = [] {
    const std::filesystem::directory_iterator fds("/proc/self/fd");
    return std::distance(begin(fds), end(fds));
  };
  event_loop loop;
  const auto before = open_descriptors();
  EXPECT_THROW(loop.add_signal_handler(32, [] {}), std::system_error);
  EXPECT_EQ(open_descriptors(), before);
  EXPECT_FALSE(loop.remove_signal_handler(32));
}

TEST(Loop, SignalHandledByAnotherLiveLoopThrowsLogicError) {
  event_loop first;
  event_loop second;
  first.add_signal_handler(SIGUSR1, [] {});
  EXPECT_THROW(second.add_signal_handler(SIGUSR1, [] {}), std::logic_error);
  first.close();  // gives the signal up
  EXPECT_NO_THROW(second.add_signal_handler(SIGUSR1, [] {}));
  second.remove_signal_handler(SIGUSR1);
}

volatile sig_atomic_t earlier_handler_ran = 0;
extern "C" void earlier_handler(int) { earlier_handler_ran = 1; }

TEST(Loop, RemovingTheLastSignalHandlerOrClosingRestoresTheEarlierDisposition) {
  struct sigaction earlier {
  }, saved{}, now{};
  earlier.sa_handler = earlier_handler;
  sigemptyset(&earlier.sa_mask);
  ASSERT_EQ(::sigaction(SIGUSR1, &earlier, &saved), 0);
  {
    event_loop loop;
    loop.add_signal_handler(SIGUSR1, [] {});
    ::sigaction(SIGUSR1, nullptr, &now);
    EXPECT_NE(now.sa_handler, earlier_handler);
    EXPECT_TRUE(loop.remove_signal_handler(SIGUSR1));
    ::sigaction(SIGUSR1, nullptr, &now);
    EXPECT_EQ(now.sa_handler, earlier_handler);
    loop.add_signal_handler(SIGUSR1, [] {});
    loop.close();
    ::sigaction(SIGUSR1, nullptr, &now);
    EXPECT_EQ(now.sa_handler, earlier_handler);
  }
  earlier_handler_ran = 0;
  ::raise(SIGUSR1);
  EXPECT_EQ(earlier_handler_ran, 1);
  ::sigaction(SIGUSR1, &saved, nullptr);
}

}  // namespace
