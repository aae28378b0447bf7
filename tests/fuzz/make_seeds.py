#!/usr/bin/env python3
"""Writes the hand-made inputs of the fuzz corpus: seeds (corpus/seed-*)
and regression inputs for library bugs the fuzzer found (corpus/regression-*).

Each seed is a small program in the harness's input encoding (README.md),
written here with helpers named after the operations, so that every
operation and every body shape is reached from the first run on. The
fuzzer's own finds are merged into corpus/ next to them.

Usage: make_seeds.py [CORPUS_DIR]   (default: corpus/ next to this script)
"""
import os
import sys

# Top-level operations (operations_fuzzer.cpp, coroutine_pool.hpp).
CREATE, NEXT, SEND, RAISE, CLOSE, DESTROY, MOVE, ITERATE, OUTSIDE, LOOP = range(10)
# Body shapes.
RUNNING_SUM, CATCH_AND_YIELD, IGNORE_EXIT, RETURN_AFTER, THROW_AFTER, NESTED, RESUME_OTHER = range(7)
# raise(): what is thrown.
INJECTED, FOREIGN, EXIT, STOP, NULL = range(5)
# Stack sizes: default, 64 KiB, 128 KiB, the minimum, too small, too large.
DEFAULT, KIB64, KIB128, MINIMUM, TOO_SMALL, TOO_LARGE = range(6)
# Driver operations (loop_script.cpp).
(D_SPAWN, D_CANCEL, D_SLEEP0, D_SLEEP_US, D_PEEK, D_TRY_PUT, D_TRY_GET, D_EVENT_SET,
 D_EVENT_CLEAR, D_CALL_SOON, D_CALL_SOON_THREADSAFE, D_CALL_AT, D_CANCEL_TIMER, D_MISUSE,
 D_POOL_OP, D_END) = range(16)
# Worker instructions.
(I_SLEEP0, I_SLEEP_US, I_AWAIT, I_GATHER, I_WAIT_FOR, I_GET, I_PUT, I_EVENT_WAIT, I_EVENT_SET,
 I_CANCEL, I_GENERATOR_MISUSE, I_POOL_OP, I_MUTEX_SECTION, I_TIMEOUT_SLEEP, I_TASK_GROUP, I_WAIT,
 I_GATHER_VECTOR, I_TO_THREAD, I_SEMAPHORE, I_CONDITION, I_SIGNAL) = range(21)
# Task group children (loop_worker_groups.cpp).
CHILD_RETURNS, CHILD_THROWS, CHILD_CANCELLED = range(3)
# wait()'s return_when.
FIRST_COMPLETED, FIRST_EXCEPTION, ALL_COMPLETED = range(3)
# to_thread: a value, a throwing fn, cancelled while the fn runs (loop_worker_system.cpp).
THREAD_VALUE, THREAD_THROWS, THREAD_CANCELLED = range(3)
# Semaphores: which, and what (loop_worker_locks.cpp).
PLAIN, BOUNDED = range(2)
SECTION, TRY_ACQUIRE, STRAY_RELEASE = range(3)
# Condition operations.
C_WAIT, C_WAIT_PRED, C_NOTIFY, C_NOTIFY_ALL, C_MISUSE = range(5)
# Signal operations; signals; refused numbers (SIGKILL, SIGSTOP, 0, 1000, -1, NSIG, empty callback).
S_ADD, S_REMOVE, S_RAISE, S_REFUSED = range(4)
USR1, USR2 = range(2)


def u8(v):
    return v & 0xFF


# Coroutine pool operations: [op, slot, args...].
def create(slot, shape, a=0, b=0, size=DEFAULT):
    return [CREATE, slot, shape, a, b, size]


def next_(slot):
    return [NEXT, slot]


def send(slot, value):
    return [SEND, slot, u8(value)]


def raise_(slot, what, code=0):
    return [RAISE, slot, what, code]


def close(slot):
    return [CLOSE, slot]


def destroy(slot):
    return [DESTROY, slot]


def move(to, frm):
    return [MOVE, to, frm]


def iterate(slot, limit):
    return [ITERATE, slot, limit - 1]


def nested(depth, k, escape):
    """create()'s a and b for the nested shape."""
    return depth + 4 * k, int(escape)


# Event-loop scripts: LOOP, the queue's maxsize, the semaphores' permits,
# driver operations.
def permits(plain, bounded):
    """The permits byte: a plain semaphore of 0-2, a bounded one of 1-2."""
    return plain | ((bounded - 1) << 2)


def script(maxsize, *driver_ops, sems=permits(1, 1)):
    out = [LOOP, maxsize, sems]
    for op in driver_ops:
        out += op
    return out


def spawn(*instructions, fails=False, shield=False, code=0):
    out = [D_SPAWN, len(instructions)]
    for ins in instructions:
        out += ins
    return out + [int(fails) | (2 if shield else 0) | (code << 2)]


def d(op, *args):
    return [op, *args]


def end(leave_to_close=False):
    return [D_END, int(leave_to_close)]


def pool_op(op_bytes):
    """A pool operation as a driver operation."""
    return [D_POOL_OP] + op_bytes


# Worker instructions. Targets are indices of earlier workers.
def sleep0(until=False):
    return [I_SLEEP0, int(until)]


def sleep_us(us, until=False):
    return [I_SLEEP_US, us, int(until)]


def await_(target=None):
    """target None: the worker awaits itself (refused)."""
    return [I_AWAIT, 1 if target is None else target << 1]


def gather(t1, t2):
    return [I_GATHER, t1, t2]


def wait_for(target, how, us=0):
    """how: 0 zero timeout, 1 negative, 2 microseconds `us`."""
    return [I_WAIT_FOR, target, how] + ([us] if how >= 2 else [])


def get():
    return [I_GET]


def put():
    return [I_PUT]


def event_wait():
    return [I_EVENT_WAIT]


def event_set(clear=False):
    return [I_EVENT_SET, int(clear)]


def cancel(target):
    return [I_CANCEL, target, 0]


def generator_misuse(how, target):
    """how: 0 sleep, 1 await, 2 wait_for, 3 gather, 4 queue get, 5 event wait."""
    return [I_GENERATOR_MISUSE, how, target]


def worker_pool_op(op_bytes):
    return [I_POOL_OP] + (op_bytes + [0] * 8)[:8]


def mutex_section():
    return [I_MUTEX_SECTION]


def timeout_sleep(limit_us, sleep_us):
    return [I_TIMEOUT_SLEEP, limit_us, sleep_us]


def task_group(*children, body_throws=False, body_sleeps=0, late=False):
    """children: (kind, sleeps) pairs; late: the body creates one more child."""
    body = int(body_throws) | (body_sleeps << 1) | (8 if late else 0)
    return [I_TASK_GROUP, len(children), body] + [k + 3 * n for k, n in children]


def wait_(targets, when, timeout=None):
    """timeout: None, 0, or microseconds."""
    how = [0] if timeout is None else [1] if timeout == 0 else [2, timeout]
    return [I_WAIT, len(targets), *targets, when, *how]


def gather_list(targets):
    return [I_GATHER_VECTOR, len(targets), *targets]


def to_thread(how, value=0):
    return [I_TO_THREAD, how, value]


def semaphore(which, how):
    return [I_SEMAPHORE, which, how]


def condition(how, flag=False, notify_two=False, hold=False):
    """flag: set wait(pred)'s flag with the notify; hold: yield holding the mutex."""
    return [I_CONDITION, how, int(notify_two) | (4 if flag else 0) | (8 if hold else 0)]


def signal(how, sig=USR1, refused=0):
    return [I_SIGNAL, how, sig | (refused << 1)]


def seeds():
    s = {}
    s["running-sum"] = (create(0, RUNNING_SUM) + next_(0) + send(0, 5) + send(0, -3) + next_(0)
                        + raise_(0, INJECTED, 7) + next_(0) + raise_(0, FOREIGN, 2) + close(0))
    s["catch-and-yield"] = (create(1, CATCH_AND_YIELD) + next_(1) + raise_(1, INJECTED, 9)
                            + send(1, 4) + raise_(1, INJECTED, 3) + raise_(1, INJECTED, 5)
                            + next_(1))
    s["catch-then-close"] = (create(1, CATCH_AND_YIELD) + next_(1) + raise_(1, INJECTED, 9)
                             + create(2, RUNNING_SUM) + next_(2) + raise_(2, INJECTED, 1)
                             + close(1))
    s["ignore-exit"] = (create(2, IGNORE_EXIT, 2, 0) + next_(2) + close(2) + next_(2) + close(2)
                        + close(2) + close(2))
    s["ignore-exit-convert"] = (create(2, IGNORE_EXIT, 1, 1 | (11 << 1)) + next_(2) + close(2)
                                + next_(2) + close(2) + create(3, IGNORE_EXIT, 2, 1)
                                + next_(3) + raise_(3, EXIT) + destroy(3))
    s["return-after"] = (create(3, RETURN_AFTER, 3) + next_(3) + send(3, 2) + send(3, 1) + next_(3)
                         + next_(3) + raise_(3, INJECTED, 4) + close(3))
    s["throw-after"] = (create(4, THROW_AFTER, 2, 0 | (5 << 2)) + next_(4) + next_(4) + next_(4)
                        + create(5, THROW_AFTER, 1, 1) + next_(5) + next_(5)
                        + create(6, THROW_AFTER, 0, 2 | (3 << 2)) + next_(6))
    s["nested"] = (create(0, NESTED, *nested(3, 3, False)) + iterate(0, 8)
                   + create(1, NESTED, *nested(2, 2, True)) + next_(1) + next_(1) + next_(1)
                   + create(2, NESTED, *nested(1, 4, False)) + next_(2) + close(2)
                   + create(3, NESTED, *nested(0, 2, False)) + next_(3) + raise_(3, STOP))
    s["resume-other"] = (create(0, RESUME_OTHER) + create(1, RUNNING_SUM) + next_(1)
                         + next_(0) + send(1, 3)           # slot 0's body sends to slot 1
                         + next_(0) + next_(0)             # ... and resumes itself: refused
                         + create(2, RESUME_OTHER)
                         + next_(2) + next_(0) + close(2)  # 2 runs 0, which closes 2: refused
                         + next_(0) + raise_(2, NULL)      # raise(null) on a running one
                         + next_(0) + destroy(0))          # refused while running
    s["start-rules"] = (create(0, RUNNING_SUM) + send(0, 1) + raise_(0, NULL) + next_(0)
                        + create(1, RETURN_AFTER, 2) + raise_(1, INJECTED, 1) + next_(1)
                        + create(2, RUNNING_SUM) + close(2) + next_(2) + raise_(2, STOP)
                        + create(3, RUNNING_SUM) + raise_(3, EXIT))
    s["moves"] = (create(0, RUNNING_SUM) + next_(0) + move(1, 0) + next_(0) + send(0, 1)
                  + raise_(0, NULL) + close(0) + iterate(0, 2) + send(1, 2) + move(1, 1)
                  + next_(1) + create(2, CATCH_AND_YIELD) + next_(2) + move(2, 1) + move(0, 2)
                  + move(3, 4) + destroy(0) + destroy(1) + next_(2))
    s["iterate"] = (create(0, RETURN_AFTER, 5) + iterate(0, 2) + iterate(0, 8) + iterate(0, 1)
                    + create(1, THROW_AFTER, 3, 0 | (2 << 2)) + iterate(1, 8)
                    + create(2, RESUME_OTHER) + iterate(2, 3) + iterate(2, 2) + next_(2))
    s["stack-sizes"] = (create(0, RUNNING_SUM, size=MINIMUM) + next_(0) + send(0, 9)
                        + create(1, THROW_AFTER, 2, 0, size=MINIMUM) + iterate(1, 8)
                        + create(2, NESTED, *nested(2, 2, False), size=KIB64) + iterate(2, 8)
                        + create(3, CATCH_AND_YIELD, size=KIB128) + next_(3)
                        + create(4, RUNNING_SUM, size=TOO_SMALL)
                        + create(5, RUNNING_SUM, size=TOO_LARGE) + next_(4))
    s["outside-task"] = [OUTSIDE] + create(0, RUNNING_SUM) + [OUTSIDE] + next_(0)

    s["loop-basics"] = script(0,
                              spawn(sleep0(), sleep_us(20), sleep0(True)),
                              spawn(await_(0)),
                              spawn(await_(), fails=True, code=9),
                              d(D_SLEEP0, 0), d(D_PEEK, 0), d(D_SLEEP_US, 50),
                              d(D_SLEEP0, 1), d(D_SLEEP0, 2), d(D_PEEK, 2),
                              d(D_SLEEP_US, 50), d(D_SLEEP0, 0), d(D_SLEEP0, 0), d(D_PEEK, 1),
                              end())
    s["loop-cancel"] = script(0,
                              spawn(put()), spawn(get()), spawn(await_(1), shield=True),
                              d(D_CANCEL, 0),              # never runs
                              d(D_SLEEP0, 0),
                              d(D_CANCEL, 1),              # 2's await ends the way 1 ends
                              spawn(await_(0)),            # await of a cancelled task
                              spawn(cancel(4), sleep0(), fails=False),  # cancels itself
                              d(D_SLEEP0, 0), d(D_CANCEL, 2), d(D_SLEEP0, 0),
                              d(D_PEEK, 0), d(D_PEEK, 1), d(D_PEEK, 2), d(D_PEEK, 3),
                              end())
    s["loop-gather-wait-for"] = script(0,
                                       spawn(sleep_us(30)),
                                       spawn(sleep0(), fails=True, code=4),
                                       spawn(gather(0, 1), gather(0, 0)),
                                       spawn(wait_for(0, 0), wait_for(1, 1), wait_for(3, 2, 5)),
                                       spawn(sleep0()),
                                       spawn(wait_for(4, 0)),  # 4 has not started: never runs
                                       d(D_SLEEP0, 0), d(D_SLEEP_US, 80), d(D_SLEEP0, 0),
                                       d(D_SLEEP_US, 80), d(D_SLEEP0, 0), d(D_SLEEP0, 0),
                                       d(D_SLEEP0, 0), d(D_SLEEP0, 0),
                                       end())
    s["loop-gather-values"] = script(0,
                                     spawn(sleep0()), spawn(sleep_us(10)), spawn(gather(0, 1)),
                                     spawn(get()),
                                     d(D_SLEEP0, 0), d(D_SLEEP_US, 40), d(D_SLEEP0, 0),
                                     d(D_SLEEP0, 0), d(D_SLEEP0, 0),
                                     end())
    s["loop-queue-event"] = script(2,
                                   spawn(get(), get(), get()),
                                   spawn(put(), put(), put(), put()),
                                   spawn(event_wait(), put()),
                                   spawn(event_set(), event_set(True), event_wait()),
                                   d(D_TRY_PUT), d(D_TRY_PUT), d(D_TRY_PUT), d(D_SLEEP0, 0),
                                   d(D_TRY_GET), d(D_EVENT_SET), d(D_SLEEP0, 0),
                                   d(D_EVENT_CLEAR), d(D_TRY_GET), d(D_SLEEP0, 0),
                                   end())
    s["loop-timers"] = script(0,
                              d(D_CALL_SOON), d(D_CALL_SOON_THREADSAFE), d(D_CALL_SOON),
                              d(D_CALL_AT, 0), d(D_CALL_AT, 0), d(D_CALL_AT, 1),
                              d(D_CALL_AT, 0), d(D_CANCEL_TIMER, 1), d(D_CALL_AT, 2),
                              d(D_SLEEP_US, 100), d(D_CANCEL_TIMER, 0), d(D_SLEEP0, 0),
                              end())
    s["loop-misuse"] = script(0,
                              spawn(sleep0()),
                              spawn(generator_misuse(0, 0), generator_misuse(1, 0),
                                    generator_misuse(2, 0), generator_misuse(3, 0),
                                    generator_misuse(4, 0), generator_misuse(5, 0)),
                              spawn(put(), event_set(), generator_misuse(4, 0),
                                    generator_misuse(5, 0), generator_misuse(1, 0)),
                              d(D_MISUSE), d(D_SLEEP0, 0), d(D_SLEEP0, 0), d(D_MISUSE),
                              end())
    s["loop-close-unwinds"] = script(1,
                                     spawn(get()), spawn(put(), put()), spawn(event_wait()),
                                     spawn(await_(0)), spawn(sleep_us(100)),
                                     spawn(gather(0, 3)), spawn(wait_for(2, 2, 90)),
                                     spawn(sleep0()),
                                     d(D_SLEEP0, 0), d(D_CALL_SOON),
                                     end(leave_to_close=True))
    s["loop-pool"] = (create(0, RUNNING_SUM) + next_(0) + create(1, RESUME_OTHER)
                      + script(0,
                               pool_op(send(0, 5)),
                               pool_op(next_(1) + send(0, 2)),  # 1's body runs send(0, 2)
                               spawn(worker_pool_op(send(0, 3)), sleep0(),
                                     worker_pool_op(next_(1)), worker_pool_op(close(0))),
                               d(D_SLEEP0, 0), d(D_SLEEP0, 0),
                               end())
                      + next_(0) + next_(1))
    s["loop-task-group"] = script(0,
                                  spawn(task_group((CHILD_RETURNS, 0), (CHILD_RETURNS, 2),
                                                   late=True)),
                                  spawn(task_group((CHILD_THROWS, 1), (CHILD_RETURNS, 2),
                                                   (CHILD_THROWS, 1), body_sleeps=1, late=True)),
                                  spawn(task_group((CHILD_THROWS, 0), (CHILD_THROWS, 0),
                                                   body_sleeps=1, body_throws=True)),
                                  spawn(task_group((CHILD_THROWS, 0), body_throws=True)),
                                  spawn(task_group((CHILD_CANCELLED, 0), (CHILD_RETURNS, 0),
                                                   body_sleeps=2)),
                                  spawn(task_group(), task_group(body_throws=True)),
                                  spawn(task_group((CHILD_RETURNS, 2), body_sleeps=3)),
                                  d(D_SLEEP0, 0), d(D_CANCEL, 6),  # from outside
                                  d(D_SLEEP0, 0), d(D_SLEEP0, 0), d(D_SLEEP0, 0), d(D_SLEEP0, 0),
                                  end())
    s["loop-task-group-late-failure"] = script(0,
                                               spawn(task_group((CHILD_THROWS, 2),
                                                                (CHILD_CANCELLED, 0),
                                                                body_sleeps=3, late=True)),
                                               spawn(task_group((CHILD_RETURNS, 1),
                                                                (CHILD_THROWS, 2),
                                                                (CHILD_THROWS, 2))),
                                               d(D_SLEEP0, 0), d(D_SLEEP0, 0), d(D_SLEEP0, 0),
                                               end(leave_to_close=True))
    s["loop-wait-gather-vector"] = script(0,
                                          spawn(sleep0(), wait_([], ALL_COMPLETED),
                                                gather_list([])),
                                          spawn(sleep0(), fails=True, code=3),
                                          spawn(sleep_us(20)),
                                          spawn(wait_([0, 1, 2], FIRST_COMPLETED),
                                                wait_([2, 0], FIRST_EXCEPTION),
                                                wait_([0, 1, 2], ALL_COMPLETED),
                                                wait_([1, 1], FIRST_EXCEPTION)),
                                          spawn(wait_([0, 2], ALL_COMPLETED, timeout=0),
                                                wait_([2], FIRST_COMPLETED, timeout=30),
                                                wait_([], FIRST_COMPLETED)),
                                          spawn(gather_list([]), gather_list([0, 2]),
                                                gather_list([0, 1]), gather_list([2, 2, 0])),
                                          spawn(gather_list([3, 4])),
                                          d(D_SLEEP0, 0), d(D_SLEEP0, 0), d(D_SLEEP_US, 60),
                                          d(D_SLEEP0, 0), d(D_SLEEP0, 0), d(D_SLEEP0, 0),
                                          end())
    s["loop-to-thread"] = (script(0,
                                  spawn(to_thread(THREAD_VALUE, 6), to_thread(THREAD_THROWS, 9)),
                                  spawn(await_(0)),
                                  d(D_SLEEP0, 0), d(D_SLEEP0, 0),
                                  end())
                           + script(0,
                                    spawn(to_thread(THREAD_CANCELLED), sleep0(), shield=True),
                                    spawn(to_thread(THREAD_VALUE, 1)),
                                    spawn(to_thread(THREAD_VALUE, 2)),  # past the cap: sleep(0)
                                    d(D_SLEEP0, 0), d(D_SLEEP0, 0),
                                    end(leave_to_close=True)))
    s["loop-semaphores"] = script(0,
                                  spawn(semaphore(PLAIN, SECTION), semaphore(BOUNDED, SECTION),
                                        semaphore(BOUNDED, STRAY_RELEASE)),
                                  spawn(semaphore(PLAIN, SECTION), semaphore(PLAIN, TRY_ACQUIRE),
                                        semaphore(BOUNDED, SECTION)),
                                  spawn(semaphore(BOUNDED, TRY_ACQUIRE),
                                        semaphore(PLAIN, STRAY_RELEASE),
                                        semaphore(BOUNDED, STRAY_RELEASE),
                                        semaphore(PLAIN, SECTION)),
                                  spawn(semaphore(BOUNDED, SECTION), semaphore(BOUNDED, SECTION)),
                                  d(D_SLEEP0, 0), d(D_CANCEL, 3), d(D_SLEEP0, 0), d(D_SLEEP0, 0),
                                  end(),
                                  sems=permits(0, 1))
    s["loop-condition"] = script(0,
                                 spawn(condition(C_WAIT)),
                                 spawn(condition(C_WAIT_PRED), condition(C_WAIT_PRED)),
                                 spawn(condition(C_MISUSE), mutex_section()),
                                 spawn(mutex_section()),
                                 spawn(condition(C_MISUSE)),  # the mutex is held by 3: notify works
                                 spawn(condition(C_NOTIFY, hold=True),
                                       condition(C_NOTIFY, flag=True, notify_two=True),
                                       condition(C_NOTIFY_ALL, flag=True)),
                                 spawn(condition(C_WAIT), timeout_sleep(50, 10)),
                                 d(D_SLEEP0, 0), d(D_SLEEP0, 0), d(D_CANCEL, 6), d(D_SLEEP0, 0),
                                 d(D_SLEEP0, 0), d(D_SLEEP0, 0), d(D_SLEEP0, 0),
                                 end())
    s["loop-signals"] = script(0,
                               spawn(signal(S_ADD, USR1), signal(S_RAISE, USR1),
                                     signal(S_ADD, USR1), signal(S_RAISE, USR1),
                                     signal(S_REMOVE, USR1), signal(S_RAISE, USR1)),
                               spawn(signal(S_ADD, USR2), signal(S_RAISE, USR2),
                                     signal(S_REMOVE, USR1), signal(S_ADD, USR2)),
                               spawn(signal(S_REFUSED, refused=0), signal(S_REFUSED, refused=1),
                                     signal(S_REFUSED, refused=2), signal(S_REFUSED, refused=3),
                                     signal(S_REFUSED, refused=4), signal(S_REFUSED, refused=5)),
                               spawn(signal(S_REFUSED, USR2, refused=6), signal(S_REMOVE, USR2),
                                     signal(S_ADD, USR2)),
                               # With tasks ready the loop polls its signal pipe only now
                               # and then: a sleep lets it go idle and take the signals in.
                               d(D_SLEEP0, 0), d(D_SLEEP_US, 20), d(D_SLEEP_US, 20),
                               d(D_SLEEP_US, 20), d(D_SLEEP0, 0),
                               end(leave_to_close=True))  # close() restores SIGUSR2
    return s


def regressions():
    """Library bugs the fuzzer found, each as the smallest deterministic input
    that shows it (no timers: the outcome must not depend on the machine)."""
    r = {}
    # A waiter woken by set() and cancelled before it ran passed its wake-up
    # on to a task that started waiting after clear(): event.wait() returned
    # with the event clear (asyncio's Event.wait keeps waiting).
    r["event-wait-after-cancelled-waiter"] = script(
        0,
        spawn(event_wait(), put()),
        spawn(event_set(), event_set(clear=True), event_wait()),
        d(D_SLEEP0, 0),  # 0 waits; 1 sets (waking 0), clears, and waits
        d(D_CANCEL, 0),  # 0 is cancelled before its wake-up runs
        d(D_SLEEP0, 0), d(D_SLEEP0, 0),
        end())
    return r


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    corpus = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "corpus")
    os.makedirs(corpus, exist_ok=True)
    for prefix, inputs in (("seed-", seeds()), ("regression-", regressions())):
        for name, data in inputs.items():
            with open(os.path.join(corpus, prefix + name), "wb") as f:
                f.write(bytes(u8(b) for b in data))


if __name__ == "__main__":
    main()
