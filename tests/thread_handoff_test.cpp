// Suspended coroutines resumed on another thread (coroutine.hpp: "a
// suspended coroutine may be resumed on another thread"). Two threads hand
// 1,000 coroutines to each other through locked queues; each thread resumes
// whatever it is handed once and passes it on, so every coroutine runs on
// the two threads in turn, while the other thread resumes other coroutines.
// Each body checks at every resume what it was sent, its own running sum,
// its stack, and that it now runs on the thread that resumed it, which is
// not the one it ran on last time. A quarter of the bodies do all that from
// inside a catch block, whose exception must follow them from thread to
// thread. The queues are the only synchronisation, as in a user's program,
// so ThreadSanitizer sees exactly the happens-before edges a user gives it.
#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <memory>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include "support/iterations.hpp"
#include "tandem/coroutine.hpp"

namespace {

using testing_support::iterations;
using co_type = tandem::coroutine<std::uint64_t, std::uint64_t>;

// glibc declares pthread_self(), which std::this_thread::get_id() calls,
// __attribute__((const)): the compiler may merge two calls in one function,
// even across a yield after which the function runs on another thread. A
// call through a volatile pointer cannot be merged.
std::thread::id (*volatile current_thread_id)() = +[] { return std::this_thread::get_id(); };

// What the resumer sends at resume number r (r >= 1) of coroutine `id`.
constexpr std::uint64_t value_for(std::uint64_t id, std::uint64_t r) {
  return (id << 32) ^ (r * 0x9e3779b97f4a7c15u);
}

struct job {
  std::uint64_t id = 0;
  std::uint64_t resumes = 0;       // resumes made so far (the first is next())
  std::uint64_t expected_sum = 0;  // the body's running sum, as the resumers reckon it
  std::thread::id resumer;         // the thread resuming it right now
  const char* failure = nullptr;   // the first thing that went wrong, if any
  std::uint64_t failure_resume = 0;
  bool finished = false;
  std::unique_ptr<co_type> co;

  void fail(const char* what) {
    if (failure == nullptr) {
      failure = what;
      failure_resume = resumes;
    }
  }
};

// The body: after the first resume (next()), `yields` resumes that each
// get the running sum of what was sent back, then one that makes it return:
// yields + 2 resumes in all.
void body(co_type::yielder_type& y, job& j, std::uint64_t yields) {
  std::uint64_t ledger[32];
  for (std::uint64_t k = 0; k < 32; ++k) ledger[k] = value_for(j.id, k + 1000);
  std::thread::id previous = current_thread_id();
  if (previous != j.resumer) j.fail("body: first run on a thread that did not resume it");
  std::uint64_t sum = 0;
  std::uint64_t in = y.yield(0);
  for (std::uint64_t r = 1; r <= yields; ++r) {
    const std::thread::id here = current_thread_id();
    if (here != j.resumer) j.fail("body: runs on a thread that did not resume it");
    if (here == previous) j.fail("body: resumed twice in a row on the same thread");
    if (in != value_for(j.id, r)) j.fail("body: the value sent");
    previous = here;
    sum += in;
    in = y.yield(sum);
  }
  for (std::uint64_t k = 0; k < 32; ++k)
    if (ledger[k] != value_for(j.id, k + 1000)) j.fail("body: its stack array");
}

// The same, from inside a catch block that stays open across every yield.
void body_in_catch(co_type::yielder_type& y, job& j, std::uint64_t yields) {
  try {
    throw j.id;
  } catch (std::uint64_t caught) {
    body(y, j, yields);
    // Still this body's exception, wherever it was resumed last.
    if (std::current_exception() == nullptr) j.fail("body: lost its caught exception");
    try {
      throw;
    } catch (std::uint64_t again) {
      if (again != caught || again != j.id) j.fail("body: rethrew another exception");
    }
  }
}

// From inside a catch block that stays open across every yield, passes
// what it is sent to a nested coroutine of its own, which yields the
// running sum, and yields that on. The nested coroutine must find an
// exception state of its own, empty (generator rule 12), on whichever
// thread the pair runs. The loop is as short as the seed's, so that the
// nested resumes are inlined next to the yields after which the body runs
// on the other thread: the resume must find the exception state of the
// thread it runs on now, not of the one it ran on when the loop began (a
// compiler takes a thread_local's address for a constant, and keeps it
// across a switch as across a call).
void body_resuming_nested_in_catch(co_type::yielder_type& y, job& j, std::uint64_t yields) {
  co_type nested([&j](co_type::yielder_type& inner) {
    std::uint64_t sum = 0;
    std::uint64_t in = inner.yield(0);
    for (;;) {
      if (std::current_exception() != nullptr)
        j.fail("nested body: sees its resumer's caught exception");
      if (std::uncaught_exceptions() != 0) j.fail("nested body: counts uncaught exceptions");
      sum += in;
      in = inner.yield(sum);
    }
  });
  try {
    throw j.id;
  } catch (std::uint64_t caught) {
    if (nested.next() != 0) j.fail("body: the nested coroutine's first yield");
    std::uint64_t in = y.yield(0);
    for (std::uint64_t r = 1; r <= yields; ++r) in = y.yield(nested.send(in));
    try {
      throw;  // still this body's exception, after every nested resume
    } catch (std::uint64_t again) {
      if (again != caught) j.fail("body: rethrew another exception after nested resumes");
    }
  }
}

// A queue of jobs for one thread: push one, take all.
class inbox {
 public:
  void push(job* j) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      jobs_.push_back(j);
    }
    ready_.notify_one();
  }

  // Blocks until there is work or the inbox is closed; empty means closed.
  std::deque<job*> take_all() {
    std::unique_lock<std::mutex> lock(mutex_);
    ready_.wait(lock, [this] { return !jobs_.empty() || closed_; });
    return std::exchange(jobs_, {});
  }

  void close() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      closed_ = true;
    }
    ready_.notify_all();
  }

 private:
  std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<job*> jobs_;
  bool closed_ = false;
};

struct handoff {
  inbox inboxes[2];
  std::atomic<std::size_t> unfinished{0};
  std::uint64_t yields = 0;
  std::uint64_t resumes_by[2] = {0, 0};  // each written by its own thread only
};

// Resumes one job once, as thread `me`. Returns whether it has finished.
bool resume_once(job& j, const handoff& h) {
  j.resumer = std::this_thread::get_id();
  try {
    if (j.resumes == 0) {
      if (j.co->next() != 0) j.fail("resumer: the first yield");
    } else {
      const std::uint64_t sent = value_for(j.id, j.resumes);
      j.expected_sum += sent;
      if (j.co->send(sent) != j.expected_sum) j.fail("resumer: the running sum yielded");
    }
    ++j.resumes;
    return false;
  } catch (const tandem::stop_iteration&) {
    ++j.resumes;
    if (j.resumes != h.yields + 2) j.fail("resumer: the body returned early or late");
    if (!j.co->done()) j.fail("resumer: stop_iteration but not done()");
  } catch (...) {
    j.fail("resumer: the body threw");
  }
  return true;
}

void worker(int me, handoff& h) {
  for (;;) {
    std::deque<job*> batch = h.inboxes[me].take_all();
    if (batch.empty()) return;  // closed: everything has finished
    for (job* j : batch) {
      ++h.resumes_by[me];
      if (!resume_once(*j, h)) {
        h.inboxes[1 - me].push(j);
        continue;
      }
      j->finished = true;
      if (h.unfinished.fetch_sub(1) == 1) {
        h.inboxes[0].close();
        h.inboxes[1].close();
      }
    }
  }
}

// Runs `count` coroutines, made by make_body(job, yields), on two threads
// that hand them to each other, and checks what each recorded.
template <class MakeBody>
void run_handoff(std::size_t count, std::uint64_t yields, MakeBody make_body) {
  handoff h;
  h.yields = yields;
  std::vector<std::unique_ptr<job>> jobs;
  for (std::size_t i = 0; i < count; ++i) {
    auto j = std::make_unique<job>();
    j->id = i;
    j->co = std::make_unique<co_type>(make_body(*j, yields));
    jobs.push_back(std::move(j));
  }
  h.unfinished = count;
  // Interleaved, so that both threads start with half the work and run at
  // the same time from the start.
  for (std::size_t i = 0; i < count; ++i) h.inboxes[i % 2].push(jobs[i].get());
  std::thread a(worker, 0, std::ref(h));
  std::thread b(worker, 1, std::ref(h));
  a.join();
  b.join();

  std::size_t finished = 0;
  for (const auto& j : jobs) {
    EXPECT_EQ(j->failure, nullptr)
        << "coroutine " << j->id << ": " << j->failure << " at resume " << j->failure_resume;
    EXPECT_TRUE(j->co->done()) << "coroutine " << j->id;
    finished += j->finished ? 1 : 0;
  }
  EXPECT_EQ(finished, count);
  // Every coroutine was resumed yields + 2 times, half of them by each thread.
  const std::uint64_t each = count * (h.yields + 2);
  EXPECT_EQ(h.resumes_by[0] + h.resumes_by[1], each);
  EXPECT_GE(h.resumes_by[0], each / 2 - count);
  EXPECT_GE(h.resumes_by[1], each / 2 - count);
}

TEST(ThreadHandoff, ThousandCoroutinesAlternateBetweenTwoThreads) {
  run_handoff(1000, iterations(1000, 4), [](job& j, std::uint64_t yields) {
    job* raw = &j;
    return [raw, yields](co_type::yielder_type& y) {
      if (raw->id % 4 == 3)
        body_in_catch(y, *raw, yields);
      else
        body(y, *raw, yields);
    };
  });
}

// Generator rule 12 on both threads at once: each body holds a caught
// exception across its yields while it resumes a coroutine of its own.
TEST(ThreadHandoff, BodiesThatMoveBetweenThreadsResumeNestedCoroutinesWithTheirOwnExceptionState) {
  run_handoff(200, iterations(1000, 4), [](job& j, std::uint64_t yields) {
    job* raw = &j;
    return
        [raw, yields](co_type::yielder_type& y) { body_resuming_nested_in_catch(y, *raw, yields); };
  });
}

}  // namespace
