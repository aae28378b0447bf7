// Internals of the fuzz harness's event-loop scripts, shared by
// loop_script.cpp (the driver and the checks) and loop_worker.cpp (the
// workers' programs).
#pragma once

#include <array>
#include <cstdint>
#include <deque>

#include "coroutine_pool.hpp"
#include "fuzz_support.hpp"
#include "tandem/loop.hpp"

namespace fuzz::script {

constexpr int max_workers = 16;
constexpr int max_program = 6;
constexpr int max_items = 256;
constexpr int max_timers = 32;
constexpr int timer_groups = 3;
constexpr int max_timed_waits = 4;  // per script: each may cost ~1 ms (epoll's granularity)
constexpr int pool_op_bytes = 8;
constexpr int driver_value = 4242;
constexpr int no_exception = 12345;

enum class instr : std::uint8_t {
  sleep0,
  sleep_us,
  await_task,
  gather_tasks,
  wait_for_task,
  get,
  put,
  event_wait,
  event_set,
  cancel_task,
  generator_misuse,
  pool_op,
  mutex_section,  // lock the script's mutex, yield inside, unlock
  timeout_sleep,  // sleep b us inside a timeout of a us
  count
};

enum driver_op : std::uint8_t {
  d_spawn,
  d_cancel,
  d_sleep0,
  d_sleep_us,
  d_peek,
  d_try_put,
  d_try_get,
  d_event_set,
  d_event_clear,
  d_call_soon,
  d_call_soon_threadsafe,
  d_call_at,
  d_cancel_timer,
  d_misuse,
  d_pool_op,
  d_end,
  d_count
};

struct instruction {
  instr op = instr::sleep0;
  int a = 0;  // a task's index, or microseconds, as op needs
  int b = 0;
  std::array<std::uint8_t, pool_op_bytes> pool_bytes{};
};

enum class ending : std::uint8_t { none, returned, threw, cancelled };

struct worker {
  tandem::task<int> handle;
  std::array<instruction, max_program> program{};
  int length = 0;
  bool fails = false;   // ends by throwing injected_error(code)
  bool shield = false;  // catches cancelled_error and returns alt_value_of
  int code = 0;
  // What the harness saw of it.
  bool started = false;
  bool cancelled_before_start = false;  // so it must never run
  bool cancelled_itself = false;
  ending end = ending::none;
  int end_value = 0;
  bool in_get = false;
  bool in_put = false;
  bool in_wait = false;
  bool in_lock = false;
};

inline int value_of(int i) { return 1000 + 10 * i; }
inline int alt_value_of(int i) { return -1000 - 10 * i; }

struct timer_entry {
  tandem::timer_handle handle;
  int group = 0;
  int seq = 0;  // order of scheduling within the group
  bool cancelled = false;
};

// One script: its loop, the driver task that reads the script, the
// workers, and what the harness knows of them and of the queue.
class loop_script {
 public:
  loop_script(reader& in, coroutine_pool& pool)
      : in_(in), pool_(pool), queue_(static_cast<std::size_t>(in.pick(4))) {}
  void run();

 private:
  int drive();
  void drive_one(int op);
  void spawn();
  instruction decode(int self);
  int work(int i);
  void execute(int i, const instruction& ins);
  void generator_misuse(const instruction& ins);
  void settle();

  int timed(int us);
  void cancel_worker(int j);
  outcome final_outcome(int j) const;
  void check_ended_as(int j, const outcome& got) const;
  void check_final(int j, bool after_close);
  void check_queue() const;
  void take_item(int item);
  bool lost_wakeup_suspected() const;
  void on_timer(int k);

  reader& in_;
  coroutine_pool& pool_;
  std::array<worker, max_workers> workers_{};
  int worker_count_ = 0;
  tandem::queue<int> queue_;
  std::deque<int> mirror_;  // what queue_ must hold, front first
  int next_item_ = 0;
  tandem::event event_;
  int event_sets_ = 0;
  tandem::mutex mutex_;
  bool mutex_held_ = false;  // a worker is inside its mutex section
  int timed_left_ = max_timed_waits;
  int live_tasks_ = 0;
  int soon_scheduled_ = 0;
  int soon_ran_ = 0;
  int posted_scheduled_ = 0;
  int posted_ran_ = 0;
  std::array<timer_entry, max_timers> timers_{};
  int timer_count_ = 0;
  std::array<int, timer_groups> group_scheduled_{};
  std::array<int, timer_groups> group_fired_{-1, -1, -1};
  tandem::clock::time_point base_;
  tandem::task<int> driver_;
  // Last, so destroyed first: what its tasks use outlives it (section 4).
  tandem::event_loop loop_;
};

}  // namespace fuzz::script
