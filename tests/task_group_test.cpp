// Task groups (tandem/task_group.hpp; docs/rules.md, section 8), a test per
// rule, with the cases CPython's test_taskgroups.py found hard: a group
// cancelled from outside while a child fails, failures in the order they
// happened, tasks created while the group waits.
#include "tandem/task_group.hpp"

#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <vector>

#include "support/loop_support.hpp"
#include "tandem/loop.hpp"

namespace {

using namespace loop_testing;
using namespace std::chrono_literals;

std::string what_of(const std::exception_ptr& e) {
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& x) {
    return x.what();
  }
}

TEST(TaskGroup, ReturnsOnceTheBodyReturnedAndEveryTaskIsDone) {
  event_loop loop;
  std::vector<int> done;
  run_bounded(loop, [&] {
    tandem::with_task_group([&](tandem::task_group& g) {
      for (int i = 0; i < 3; ++i)
        g.create_task([&, i] {
          tandem::sleep_for(std::chrono::milliseconds(3 - i));
          done.push_back(i);
        });
      EXPECT_TRUE(done.empty()) << "tasks start on a later iteration";
    });
    EXPECT_EQ(done.size(), 3u);
  });
}

TEST(TaskGroup, AFailureCancelsTheOtherTasksAndTheBody) {
  event_loop loop;
  bool sibling_cancelled = false;
  bool body_cancelled = false;
  run_bounded(loop, [&] {
    try {
      tandem::with_task_group([&](tandem::task_group& g) {
        g.create_task([&] {
          try {
            tandem::sleep_for(1h);
          } catch (const tandem::cancelled_error&) {
            sibling_cancelled = true;
            throw;
          }
        });
        g.create_task([] {
          tandem::sleep_for(1ms);
          throw std::runtime_error("child failed");
        });
        try {
          tandem::sleep_for(1h);
        } catch (const tandem::cancelled_error&) {
          body_cancelled = true;
          throw;
        }
      });
      ADD_FAILURE() << "no exception_group";
    } catch (const tandem::exception_group& e) {
      ASSERT_EQ(e.exceptions().size(), 1u);
      EXPECT_EQ(what_of(e.exceptions()[0]), "child failed");
    }
    tandem::sleep_for(0s);  // the group's own cancellation of this task is withdrawn
  });
  EXPECT_TRUE(sibling_cancelled);
  EXPECT_TRUE(body_cancelled);
}

TEST(TaskGroup, ExceptionsComeInTheOrderTheTasksFailedThenTheBodys) {
  event_loop loop;
  run_bounded(loop, [&] {
    try {
      tandem::with_task_group([&](tandem::task_group& g) {
        // The later-created task fails first; the other, and the body, fail
        // when the group cancels them.
        g.create_task([] {
          try {
            tandem::sleep_for(1h);
          } catch (const tandem::cancelled_error&) {
          }
          throw std::runtime_error("second");
        });
        g.create_task([] { throw std::runtime_error("first"); });
        try {
          tandem::sleep_for(1h);
        } catch (const tandem::cancelled_error&) {  // the group's, after "first"
          throw std::logic_error("body");
        }
      });
      ADD_FAILURE() << "no exception_group";
    } catch (const tandem::exception_group& e) {
      ASSERT_EQ(e.exceptions().size(), 3u);
      EXPECT_EQ(what_of(e.exceptions()[0]), "first");
      EXPECT_EQ(what_of(e.exceptions()[1]), "second");
      EXPECT_EQ(what_of(e.exceptions()[2]), "body");
    }
  });
}

TEST(TaskGroup, ABodyThatThrowsCancelsTheTasks) {
  event_loop loop;
  std::optional<tandem::task<void>> child;
  run_bounded(loop, [&] {
    EXPECT_THROW(tandem::with_task_group([&](tandem::task_group& g) {
                   child = g.create_task([] { tandem::sleep_for(1h); });
                   tandem::sleep_for(0s);
                   throw std::runtime_error("body failed");
                 }),
                 tandem::exception_group);
  });
  EXPECT_TRUE(child->cancelled());
}

TEST(TaskGroup, CancelledFromOutsideCancelsItsTasksThenPropagates) {
  event_loop loop;
  int children_cancelled = 0;
  run_bounded(loop, [&] {
    auto outer = tandem::current_loop().create_task([&] {
      tandem::with_task_group([&](tandem::task_group& g) {
        for (int i = 0; i < 2; ++i)
          g.create_task([&] {
            try {
              tandem::sleep_for(1h);
            } catch (const tandem::cancelled_error&) {
              ++children_cancelled;
              throw;
            }
          });
      });  // the body returned: the group waits for its tasks
    });
    tandem::sleep_for(0s);
    tandem::sleep_for(0s);
    outer.cancel();
    EXPECT_THROW(tandem::await(outer), tandem::cancelled_error);
    EXPECT_TRUE(outer.cancelled());
  });
  EXPECT_EQ(children_cancelled, 2);
}

// CPython's test_taskgroups: cancelled from outside while a child fails.
// exception_group wins, and the outside cancellation stays pending.
TEST(TaskGroup, CancelledFromOutsideWhileAChildFailsThrowsTheGroupAndKeepsTheCancellation) {
  event_loop loop;
  bool group_thrown = false;
  run_bounded(loop, [&] {
    auto outer = tandem::current_loop().create_task([&] {
      try {
        tandem::with_task_group([&](tandem::task_group& g) {
          g.create_task([] {
            try {
              tandem::sleep_for(1h);
            } catch (const tandem::cancelled_error&) {
              throw std::runtime_error("failed while cancelled");
            }
          });
          tandem::sleep_for(1h);
        });
      } catch (const tandem::exception_group& e) {
        group_thrown = e.exceptions().size() == 1;
      }
      tandem::sleep_for(0s);  // the outside cancellation is still pending
      ADD_FAILURE() << "the outside cancellation was lost";
    });
    tandem::sleep_for(0s);
    tandem::sleep_for(0s);
    outer.cancel();
    EXPECT_THROW(tandem::await(outer), tandem::cancelled_error);
  });
  EXPECT_TRUE(group_thrown);
}

TEST(TaskGroup, CreateTaskWhenShuttingDownOrFinishedThrowsLogicError) {
  event_loop loop;
  run_bounded(loop, [&] {
    std::optional<tandem::task_group> kept;
    EXPECT_THROW(tandem::with_task_group([&](tandem::task_group& g) {
                   kept = g;
                   g.create_task([] { throw std::runtime_error("fails"); });
                   try {
                     tandem::sleep_for(1h);
                   } catch (const tandem::cancelled_error&) {
                     EXPECT_THROW(g.create_task([] {}), std::logic_error) << "shutting down";
                     throw;
                   }
                 }),
                 tandem::exception_group);
    EXPECT_THROW(kept->create_task([] {}), std::logic_error) << "finished";
  });
}

// A task of the group may add tasks while the group waits for its tasks.
TEST(TaskGroup, ATaskMayCreateMoreTasksWhileTheGroupWaits) {
  event_loop loop;
  int ran = 0;
  run_bounded(loop, [&] {
    tandem::with_task_group([&](tandem::task_group& g) {
      g.create_task([&ran, g]() mutable {
        tandem::sleep_for(1ms);
        g.create_task([&ran] {
          tandem::sleep_for(1ms);
          ++ran;
        });
        ++ran;
      });
    });
  });
  EXPECT_EQ(ran, 2);
}

TEST(TaskGroup, CollectedExceptionsCountAsRetrieved) {
  testing::internal::CaptureStderr();
  {
    event_loop loop;
    run_bounded(loop, [&] {
      EXPECT_THROW(tandem::with_task_group([](tandem::task_group& g) {
                     g.create_task([] { throw std::runtime_error("collected"); });
                   }),
                   tandem::exception_group);
    });
  }
  EXPECT_EQ(testing::internal::GetCapturedStderr().find("never retrieved"), std::string::npos);
}

// The loop closes while a group's body waits in a cleanup that outlives
// the cancellation: the loop then unwinds the body by force, and the group
// lets that unwinding pass (it must not wait for its tasks again, nor turn
// it into an exception_group).
TEST(TaskGroup, LoopCloseUnwindsABodyThatWaitsAfterItsCancellation) {
  int unwound = 0;
  bool group_caught_it = false;
  {
    event_loop loop;
    loop.create_task([&] {
      counted body_frame(unwound);
      try {
        tandem::with_task_group([&](tandem::task_group& g) {
          g.create_task([&] {
            counted child_frame(unwound);
            tandem::sleep_for(1h);
          });
          try {
            tandem::sleep_for(1h);
          } catch (const tandem::cancelled_error&) {
            tandem::sleep_for(1h);  // a cleanup that waits: unwound by force
          }
        });
      } catch (const tandem::exception_group&) {
        group_caught_it = true;
      }
    });
    run_for(loop, 5ms);
    loop.close();
  }
  EXPECT_EQ(unwound, 2);
  EXPECT_FALSE(group_caught_it);
}

// what() names the first exception by its own what(), also for tandem's
// exceptions that are not std::exceptions, and says when there is none.
TEST(TaskGroup, ExceptionGroupWhatNamesTheFirstExceptionAndTheCount) {
  const tandem::exception_group one({std::make_exception_ptr(std::runtime_error("disk full"))});
  EXPECT_STREQ(one.what(), "tandem::exception_group: 1 exception (disk full)");
  const tandem::exception_group cancelled(
      {std::make_exception_ptr(tandem::cancelled_error{}), std::make_exception_ptr(42)});
  EXPECT_STREQ(cancelled.what(), "tandem::exception_group: 2 exceptions (first: cancelled_error)");
  const tandem::exception_group foreign({std::make_exception_ptr(42)});
  EXPECT_STREQ(foreign.what(),
               "tandem::exception_group: 1 exception (an exception not derived from "
               "std::exception)");
  const tandem::exception_group none({});
  EXPECT_STREQ(none.what(), "tandem::exception_group: no exceptions");
}

TEST(TaskGroup, OutsideATaskThrowsLogicError) {
  EXPECT_THROW(tandem::with_task_group([](tandem::task_group&) {}), std::logic_error);
}

// asyncio's TaskGroup forgets a task once it is done: a long-lived group
// holds only the unfinished ones. Each child's value counts itself alive.
TEST(TaskGroup, AFinishedTaskLeavesTheGroupWithItsValue) {
  struct counted {
    int* alive;
    explicit counted(int* a) : alive(a) { ++*alive; }
    counted(const counted& o) : alive(o.alive) { ++*alive; }
    counted& operator=(const counted&) = delete;
    ~counted() { --*alive; }
  };
  event_loop loop;
  int alive = 0;
  run_bounded(loop, [&] {
    tandem::with_task_group([&](tandem::task_group& g) {
      int finished = 0;
      for (int i = 0; i < 100; ++i)
        (void)g.create_task([&alive, &finished] {
          ++finished;
          return counted(&alive);
        });
      auto slow = g.create_task([&alive] {
        tandem::sleep_for(1h);
        return counted(&alive);
      });
      // The children run, then their done-callbacks: a few iterations.
      while (finished < 100) tandem::sleep_for(0s);
      for (int i = 0; i < 10 && alive != 0; ++i) tandem::sleep_for(0s);
      EXPECT_EQ(alive, 0) << "the group kept finished tasks' values";
      slow.cancel();
    });
  });
}

}  // namespace
