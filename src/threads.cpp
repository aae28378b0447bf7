// to_thread (tandem/threads.hpp) and the loop's worker pool (thread_pool.hpp).
#include <algorithm>
#include <functional>
#include <utility>

#include "loop_state.hpp"
#include "task_switch.hpp"
#include "thread_pool.hpp"

namespace tandem::detail {

std::size_t max_thread_workers() noexcept {
  return std::min<std::size_t>(32, std::thread::hardware_concurrency() + 4);
}

void thread_pool::submit(std::shared_ptr<thread_job> job, std::function<void()> done) {
  // Room for `done` among the loop's posted callbacks, made here, where a
  // failure reaches the caller: the worker's post of it then cannot fail
  // (it used to, under memory pressure, and the job's task waited for good).
  auto& posted = loop_access::of(loop_).posted;
  posted.reserve();
  try {
    std::lock_guard lock(mutex_);
    queue_.push_back({std::move(job), std::move(done)});
    // An idle worker takes one job: a second job submitted before it woke
    // needs a worker of its own (it might be what the first waits for).
    if (queue_.size() > idle_ && workers_.size() < max_thread_workers()) {
      try {
        workers_.emplace_back([this] { work(); });
      } catch (...) {
        // No thread (EAGAIN) or no memory: the caller is told the job
        // failed, so it must not stay queued for a worker to run later.
        // Under the lock no worker has taken it yet.
        queue_.pop_back();
        throw;
      }
    }
    wake_.notify_one();
  } catch (...) {
    posted.release();
    throw;
  }
}

void thread_pool::work() {
  std::unique_lock lock(mutex_);
  for (;;) {
    ++idle_;
    wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
    --idle_;
    if (stopping_) return;
    entry e = std::move(queue_.front());
    queue_.pop_front();
    lock.unlock();
    auto& state = loop_access::of(loop_);
    int expected = thread_job::queued;
    if (e.job->state.compare_exchange_strong(expected, thread_job::running)) {
      e.job->run();
      expected = thread_job::running;  // stays abandoned if its task gave up
      e.job->state.compare_exchange_strong(expected, thread_job::finished);
      state.posted.post_reserved(std::move(e.done), state.io);  // dropped if the loop closed
    } else {
      state.posted.release();  // given up before it started: nothing to post
    }
    e = {};  // what fn and its value hold goes here, not under the lock
    lock.lock();
  }
}

void thread_pool::shutdown() noexcept {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    auto& posted = loop_access::of(loop_).posted;
    for (auto& e : queue_) {
      e.job->state.store(thread_job::abandoned);
      posted.release();
    }
    queue_.clear();
  }
  wake_.notify_all();
  for (auto& w : workers_) w.join();
  workers_.clear();
}

void run_on_worker(const std::shared_ptr<thread_job>& job) {
  task_core& me = current_task();
  refuse_inside_generator(me);
  auto& state = loop_access::of(me.loop());
  if (!state.workers) state.workers = std::make_unique<thread_pool>(me.loop());
  suspension s;
  // However the wait ends: a job not finished is given up (not started:
  // never runs; running: its value is dropped).
  auto give_up = [&job] {
    int expected = thread_job::queued;
    if (!job->state.compare_exchange_strong(expected, thread_job::abandoned)) {
      expected = thread_job::running;
      job->state.compare_exchange_strong(expected, thread_job::abandoned);
    }
  };
  s.undo = give_up;
  state.workers->submit(job, me.waker(s));
  while (job->state.load(std::memory_order_acquire) != thread_job::finished) suspend(s);
}

}  // namespace tandem::detail
