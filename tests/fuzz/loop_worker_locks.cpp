// Workers' instructions on the script's semaphores and on the condition
// over its mutex (docs/rules.md, section 6).
#include <chrono>

#include "loop_script_state.hpp"

namespace fuzz::script {
namespace {

using namespace std::chrono_literals;

enum semaphore_how { section, try_once, stray_release };
enum condition_how { wait_plain, wait_pred, notify_some, notify_every, misuse };

}  // namespace

// A permit is never granted twice: the permits held plus those free never
// exceed what there are (a permit handed to a waiter not yet resumed is in
// neither). A bounded semaphore refuses a release with every permit free.
void loop_script::semaphore_op(int i, const instruction& ins) {
  worker& w = workers_[i];
  const int k = ins.a;
  tandem::semaphore& s = semaphore_of(k);
  switch (ins.b) {
    case section: {
      outcome got;
      {
        flag_scope waiting(w.in_acquire[k]);
        got = observe([&] { s.acquire(); }, rethrow_exit);
      }
      pass_on_cancellation(got);  // cancelled while waiting: took nothing
      FUZZ_CHECK(got == returned());
      ++holders_[k];
      FUZZ_CHECK(static_cast<int>(s.value()) + holders_[k] <= permits_[k]);
      struct leave {  // however the section ends
        loop_script& script;
        int k;
        ~leave() {
          --script.holders_[k];
          FUZZ_CHECK(observe([&] { script.semaphore_of(k).release(); }) == returned());
        }
      } guard{*this, k};
      const outcome inside = observe([] { tandem::sleep_for(0s); }, rethrow_exit);
      pass_on_cancellation(inside);
      FUZZ_CHECK(inside == returned());
      break;
    }
    case try_once: {
      const bool free = s.value() > 0;
      FUZZ_CHECK(s.try_acquire() == free);
      if (free) FUZZ_CHECK(observe([&] { s.release(); }) == returned());
      break;
    }
    case stray_release:
      if (k == 0) {  // a plain semaphore just gains a permit
        FUZZ_CHECK(observe([&] { s.release(); }) == returned());
        ++permits_[0];
      } else if (static_cast<int>(s.value()) == permits_[1]) {
        FUZZ_CHECK(observe([&] { s.release(); }).what == kind::misuse);
      }
      break;
    default:
      break;
  }
  FUZZ_CHECK(static_cast<int>(s.value()) + holders_[k] <= permits_[k]);
}

// wait() returns holding the mutex, cancelled or not, and only after a
// notify (or a wake-up passed on by a notified waiter that was cancelled)
// came after it began; wait(pred) returns with pred true.
void loop_script::condition_op(int i, const instruction& ins) {
  worker& w = workers_[i];
  const int how = ins.a;
  if (how == misuse) {  // this task does not hold the mutex
    FUZZ_CHECK(observe([&] { condition_.wait(); }).what == kind::misuse);
    const bool locked = mutex_.locked();  // by another task: notify works
    if (locked && condition_waiters_ > 0) ++notifies_;
    const outcome notified = observe([&] { condition_.notify(); });
    FUZZ_CHECK(notified == (locked ? returned() : outcome{kind::misuse, 0}));
    return;
  }
  take_mutex(w);
  mutex_release guard{*this};
  switch (how) {
    case wait_plain:
    case wait_pred: {
      const int notifies = notifies_;
      const int cancelled_waits = cancelled_waits_;
      const bool flag_was = condition_flag_;
      outcome waited;
      {
        count_scope waiting(condition_waiters_);
        mutex_held_ = false;  // wait() unlocks it
        waited = observe(
            [&] {
              if (how == wait_plain) {
                condition_.wait();
              } else {
                condition_.wait([this] { return condition_flag_; });
              }
            },
            rethrow_exit);
      }
      FUZZ_CHECK(mutex_.locked() && !mutex_held_);  // held again, cancelled or not
      mutex_held_ = true;
      if (waited.what == kind::cancelled) ++cancelled_waits_;
      pass_on_cancellation(waited);
      FUZZ_CHECK(waited == returned());
      const bool woken = notifies_ > notifies || cancelled_waits_ > cancelled_waits;
      if (how == wait_plain) {
        FUZZ_CHECK(woken);
      } else {
        FUZZ_CHECK(condition_flag_ && (flag_was || woken));
        condition_flag_ = false;  // consumed
      }
      break;
    }
    case notify_some:
    case notify_every: {
      if ((ins.b & 4) != 0) condition_flag_ = true;
      if (condition_waiters_ > 0) ++notifies_;
      FUZZ_CHECK(observe([&] {
                   if (how == notify_every) {
                     condition_.notify_all();
                   } else {
                     condition_.notify(1 + (ins.b & 1));
                   }
                 }) == returned());
      if ((ins.b & 8) != 0) {  // the woken wait for the mutex meanwhile
        const outcome inside = observe([] { tandem::sleep_for(0s); }, rethrow_exit);
        FUZZ_CHECK(mutex_held_ && mutex_.locked());
        pass_on_cancellation(inside);
        FUZZ_CHECK(inside == returned());
      }
      break;
    }
    default:
      break;
  }
}

}  // namespace fuzz::script
