// Internals of the fuzz harness's event-loop scripts, shared by
// loop_script.cpp (the driver and the checks) and loop_worker.cpp (the
// workers' programs).
#pragma once

#include <array>
#include <atomic>
#include <csignal>
#include <cstdint>
#include <deque>
#include <memory>
#include <thread>
#include <vector>

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
constexpr int max_targets = 3;       // tasks listed in a wait() or gather(vector)
constexpr int max_children = 3;      // a task group's children, besides a late one
constexpr int max_thread_calls = 2;  // to_thread per script: slow under Valgrind and qemu
constexpr int signal_count = 2;      // SIGUSR1, SIGUSR2

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
  task_group,     // with_task_group: children that return, throw or are cancelled
  wait_tasks,     // wait(vector, return_when, timeout)
  gather_vector,  // gather(vector)
  thread_call,    // to_thread: a value, a throw, or cancelled while it runs
  semaphore_op,   // a semaphore or bounded_semaphore: section, try_acquire, stray release
  condition_op,   // the condition on the script's mutex: wait, wait(pred), notify, misuse
  signal_op,      // add/remove a SIGUSR1/SIGUSR2 handler, raise it, bad numbers
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
  int c = 0;
  std::array<std::uint8_t, pool_op_bytes> pool_bytes{};  // or targets, or children
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
  bool in_thread = false;            // waiting in to_thread
  bool cancel_pending = false;       // a cancellation was pending when it returned
  std::array<bool, 2> in_acquire{};  // semaphore, bounded_semaphore
};

// One task group's run, shared with its children (they hold it too, so a
// child never outlives what it writes to).
struct group_run {
  std::vector<int> fail_order;  // children's indices, in the order they threw
  bool body_threw = false;
};

// One to_thread call: its fn says it started, and ends once released (at
// once, or, when its task is to be cancelled while it runs, once the task
// has left to_thread).
struct thread_call_state {
  std::atomic<bool> started{false};
  std::atomic<bool> released{false};
};

// Raised for the duration of a wait, however the wait ends.
struct flag_scope {
  bool& flag;
  explicit flag_scope(bool& f) : flag(f) { flag = true; }
  flag_scope(const flag_scope&) = delete;
  flag_scope& operator=(const flag_scope&) = delete;
  ~flag_scope() { flag = false; }
};

// Counts a task in for as long as the scope lasts, however it ends.
struct count_scope {
  int& count;
  explicit count_scope(int& c) : count(c) { ++count; }
  count_scope(const count_scope&) = delete;
  count_scope& operator=(const count_scope&) = delete;
  ~count_scope() { --count; }
};

// A cancellation that reaches a worker ends it (or its shield); what the
// harness observed is passed on as a fresh cancelled_error.
inline void pass_on_cancellation(const outcome& got) {
  if (got.what == kind::cancelled) throw tandem::cancelled_error{};
}

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
      : in_(in),
        pool_(pool),
        queue_(static_cast<std::size_t>(in.pick(4))),
        permits_byte_(in.byte()),
        permits_{permits_byte_ % 3, 1 + (permits_byte_ >> 2) % 2},
        semaphore_(static_cast<std::size_t>(permits_[0])),
        bounded_(static_cast<std::size_t>(permits_[1])) {}
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

  // Locks the script's mutex for w (a cancellation while it waits passes
  // on: it took nothing), one holder at a time; mutex_release unlocks it
  // however the holder's operation ends.
  void take_mutex(worker& w);
  struct mutex_release {
    loop_script& script;
    explicit mutex_release(loop_script& s) : script(s) {}
    mutex_release(const mutex_release&) = delete;
    mutex_release& operator=(const mutex_release&) = delete;
    ~mutex_release();
  };

  // The toolkit's newer operations (loop_worker_groups.cpp,
  // loop_worker_locks.cpp, loop_worker_system.cpp).
  void decode_toolkit(instruction& ins, int self);
  void run_task_group(const instruction& ins);
  void wait_tasks(const instruction& ins);
  void gather_vector(const instruction& ins);
  std::vector<tandem::task<int>> targets(const instruction& ins);
  void thread_call(int i, const instruction& ins);
  void cancel_once_running(int i, const std::shared_ptr<thread_call_state>& call);
  void semaphore_op(int i, const instruction& ins);
  void condition_op(int i, const instruction& ins);
  void signal_op(const instruction& ins);
  void install_stray_handlers();
  void check_and_restore_dispositions();
  void on_signal(int k);

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
  bool mutex_held_ = false;  // a worker is inside its mutex section, or holds it for the condition
  tandem::condition condition_{mutex_};
  bool condition_flag_ = false;  // the predicate of wait(pred), set by a notify
  int notifies_ = 0;             // notify calls made while a task waited
  int condition_waiters_ = 0;
  int cancelled_waits_ = 0;  // condition waits that ended cancelled (they may pass a wake-up on)
  // Semaphores (plain, bounded), their initial permits, what the harness
  // holds of them (sections and stray releases).
  int permits_byte_;            // read by the constructor, in this order
  std::array<int, 2> permits_;  // what release() may grow a bounded semaphore back to
  tandem::semaphore semaphore_;
  tandem::bounded_semaphore bounded_;
  tandem::semaphore& semaphore_of(int k) { return k == 0 ? semaphore_ : bounded_; }
  std::array<int, 2> holders_{};
  int steps_ = 0;  // instructions begun, by any worker: a call that must not suspend leaves it
  int thread_calls_left_ = max_thread_calls;
  std::atomic<int> thread_fns_started_{0};
  std::atomic<int> thread_fns_finished_{0};
  // Signals: what the harness installed before the loop's handlers, and
  // what the loop's handlers did.
  std::array<struct sigaction, signal_count> disposition_before_{};
  std::array<bool, signal_count> handler_installed_{};
  std::array<int, signal_count> signal_runs_{};
  std::array<int, signal_count> handler_removals_{};
  std::array<tandem::event, signal_count> signal_seen_;
  std::thread::id loop_thread_;
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
  bool closing_ = false;  // loop_.close() is cancelling what is left
  tandem::task<int> driver_;
  // Last, so destroyed first: what its tasks use outlives it (section 4).
  tandem::event_loop loop_;
};

}  // namespace fuzz::script
