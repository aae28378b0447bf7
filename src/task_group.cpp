// Task groups (tandem/task_group.hpp), after asyncio's taskgroups.py.
#include "tandem/task_group.hpp"

#include <functional>
#include <list>
#include <stdexcept>
#include <string>
#include <utility>

#include "exception_text.hpp"
#include "task_switch.hpp"

namespace tandem {

namespace {
std::string describe_group(const std::vector<std::exception_ptr>& exceptions) {
  if (exceptions.empty()) return "tandem::exception_group: no exceptions";
  const std::string first = detail::exception_text(exceptions.front());
  return "tandem::exception_group: " + std::to_string(exceptions.size()) +
         (exceptions.size() == 1 ? " exception (" : " exceptions (first: ") + first + ")";
}
}  // namespace

exception_group::exception_group(std::vector<std::exception_ptr> exceptions)
    // NOLINTNEXTLINE(bugprone-throw-keyword-missing): what it holds is not thrown here
    : exceptions_(std::move(exceptions)), what_(describe_group(exceptions_)) {}

namespace detail {

class task_group_state {
 public:
  explicit task_group_state(task_core& parent) : parent_(parent) {}

  task_core& parent() const noexcept { return parent_; }

  void check_can_create() const {
    if (aborting_)
      throw std::logic_error("tandem::task_group::create_task: the group is shutting down");
    if (exiting_ && unfinished_ == 0)
      throw std::logic_error("tandem::task_group::create_task: the group is finished");
  }

  void adopt(const std::shared_ptr<task_core>& t, const std::shared_ptr<task_group_state>& self) {
    const auto at = tasks_.insert(tasks_.end(), t);
    try {
      t->when_done([weak = std::weak_ptr<task_group_state>(self), at] {
        if (auto s = weak.lock()) s->on_task_done(at);
      });
    } catch (...) {
      tasks_.erase(at);
      throw;
    }
    ++unfinished_;
  }

  void close(std::exception_ptr body_failure, bool body_cancelled);

 private:
  // A finished task leaves the group at once, as in asyncio: a long-lived
  // group keeps only its unfinished tasks (and the exceptions of the failed).
  void on_task_done(std::list<std::shared_ptr<task_core>>::iterator at) {
    const std::shared_ptr<task_core> done = std::move(*at);
    tasks_.erase(at);
    task_core& t = *done;
    --unfinished_;
    if (!t.cancelled() && t.failed()) {
      errors_.push_back(t.exception());  // counts as retrieved
      if (!aborting_) {
        abort();
        if (!exiting_ && !parent_cancel_requested_) {  // body is suspended: cancel it too
          parent_cancel_requested_ = true;
          parent_.cancel();
        }
      }
    }
    if (wake_parent_) wake_parent_();
  }

  void abort() {
    aborting_ = true;
    for (auto& t : tasks_) t->cancel();  // those done say no
  }

  task_core& parent_;
  std::list<std::shared_ptr<task_core>> tasks_;  // the unfinished ones, in creation order
  std::vector<std::exception_ptr> errors_;       // in the order the tasks failed
  std::function<void()> wake_parent_;            // while close() waits
  std::size_t unfinished_ = 0;
  bool exiting_ = false;
  bool aborting_ = false;
  bool parent_cancel_requested_ = false;  // this group cancelled body's task
};

void task_group_state::close(std::exception_ptr body_failure, bool body_cancelled) {
  exiting_ = true;
  bool saw_cancellation = body_cancelled;
  if (body_failure || body_cancelled) abort();
  suspension s;
  wake_parent_ = parent_.waker(s);
  while (unfinished_ > 0) {
    try {
      suspend(s);
    } catch (const cancelled_error&) {  // from outside, or this group's own
      saw_cancellation = true;
      abort();
    }
  }
  wake_parent_ = nullptr;
  tasks_.clear();
  // Withdraw this group's own request; what is left came from outside.
  if (parent_cancel_requested_ && parent_.uncancel() == 0) saw_cancellation = false;
  if (!errors_.empty() || body_failure) {
    if (body_failure) errors_.push_back(std::move(body_failure));
    if (saw_cancellation) parent_.keep_cancellation_pending();
    throw exception_group(std::move(errors_));
  }
  if (saw_cancellation) throw cancelled_error{};
}

std::shared_ptr<task_group_state> open_task_group() {
  task_core& me = current_task();
  refuse_inside_generator(me);
  return std::make_shared<task_group_state>(me);
}

void close_task_group(task_group_state& s, std::exception_ptr body_failure, bool body_cancelled) {
  s.close(std::move(body_failure), body_cancelled);
}

}  // namespace detail

void task_group::check_can_create() const { state_->check_can_create(); }
event_loop& task_group::loop() const { return state_->parent().loop(); }
void task_group::adopt(const std::shared_ptr<detail::task_core>& t) { state_->adopt(t, state_); }

}  // namespace tandem
