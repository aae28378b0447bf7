// The loop's worker threads for to_thread (tandem/threads.hpp): made as work
// arrives, up to a bound; each finished job wakes its task through the
// loop's posted callbacks, in room reserved as the job is submitted.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "tandem/threads.hpp"

namespace tandem {
class event_loop;
}

namespace tandem::detail {

class thread_pool {
 public:
  explicit thread_pool(event_loop& loop) : loop_(loop) {}
  ~thread_pool() { shutdown(); }
  thread_pool(const thread_pool&) = delete;
  thread_pool& operator=(const thread_pool&) = delete;

  // The loop's thread. `done` runs on the loop's thread once job finished
  // (not if it was abandoned before it started). Throws what starting a
  // worker threw (std::system_error), or std::bad_alloc, with nothing
  // queued.
  void submit(std::shared_ptr<thread_job> job, std::function<void()> done);
  // Drops the jobs not started and waits for the running ones.
  void shutdown() noexcept;

 private:
  struct entry {
    std::shared_ptr<thread_job> job;
    std::function<void()> done;
  };
  void work();

  event_loop& loop_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<entry> queue_;
  std::vector<std::thread> workers_;
  std::size_t idle_ = 0;
  bool stopping_ = false;
};

}  // namespace tandem::detail
