"""The event-loop workloads of bench/loop_bench.cpp, on Python's asyncio.

Each function runs one workload on a fresh event loop and returns a dict of
figures in the units the C++ benchmarks report, so that compare.py can put
them side by side:

  sleep0_switch    two tasks alternating with asyncio.sleep(0);
                   ns per switch (one task yielding to the other)
  queue_pingpong   a number bounced between two tasks through two
                   asyncio.Queues, each side adding one; ns per message
  timers           1,000,000 loop.call_later callbacks at random
                   (fixed-seed) delays below 5 ms, all fired; ns per timer
                   and the total
  echo             N client tasks, each doing request/response round trips
                   of a 64-byte message over loopback TCP against an echo
                   server on the same loop; round trips per second

and those of bench/loop_toolkit_bench.cpp:

  to_thread        a task awaiting asyncio.to_thread on a trivial function,
                   again and again; ns per round trip
  lock_uncontended `async with lock` on an asyncio.Lock nobody else wants;
                   ns per acquire + release
  lock_handover    two tasks contending for one asyncio.Lock, each holding
                   it across asyncio.sleep(0); ns per hand-over (one
                   critical section)
  task_group       `async with asyncio.TaskGroup()` of 1,000 trivial
                   tasks; ns per task
  timeout          `async with asyncio.timeout(10)` around a body that does
                   not yield, the loop running once every 1,000; ns per
                   timeout

The echo uses the loop's low-level socket calls (sock_recv, sock_sendall on
non-blocking sockets), the same shape as the C++ version's recv/send with
wait_readable/wait_writable. The timed workloads run in batches until a time
budget is spent, so that each takes about `budget` seconds. Like the C++
versions, every workload checks what it computed and raises if it is wrong.

Run directly, it prints the figures as JSON.
"""

import asyncio
import json
import random
import socket
import sys
import time

TIMER_COUNT = 1_000_000
LONGEST_DELAY = 0.005  # seconds
TIMER_SEED = 20240601
MESSAGE_SIZE = 64
ECHO_ROUND_TRIPS_PER_BATCH = 10_000
GROUP_SIZE = 1_000


async def _sleep0_switch(budget):
    mine = 0
    theirs = 0
    stop = False
    out_of_turn = False

    async def partner():
        nonlocal theirs, out_of_turn
        while not stop:
            theirs += 1
            if theirs != mine:
                out_of_turn = True
            await asyncio.sleep(0)

    task = asyncio.create_task(partner())
    await asyncio.sleep(0)  # let the partner start: from here on, strict turns
    mine = theirs = 0
    out_of_turn = False
    start = time.perf_counter()
    while True:
        for _ in range(1000):
            mine += 1
            await asyncio.sleep(0)
        elapsed = time.perf_counter() - start
        if elapsed >= budget:
            break
    stop = True
    await task
    if out_of_turn or mine != theirs:
        raise RuntimeError("sleep0_switch: the tasks did not take strict turns")
    switches = 2 * mine
    return {"ns_per_switch": elapsed * 1e9 / switches, "switches": switches}


async def _queue_pingpong(budget):
    there = asyncio.Queue()
    back = asyncio.Queue()

    async def partner():
        while True:
            v = await there.get()
            if v < 0:
                return
            await back.put(v + 1)

    task = asyncio.create_task(partner())
    sent = 0
    wrong = False
    start = time.perf_counter()
    while True:
        for _ in range(1000):
            await there.put(sent)
            if await back.get() != sent + 1:
                wrong = True
            sent += 1
        elapsed = time.perf_counter() - start
        if elapsed >= budget:
            break
    await there.put(-1)
    await task
    if wrong or not there.empty() or not back.empty():
        raise RuntimeError("queue_pingpong: wrong queue answer")
    messages = 2 * sent
    return {"ns_per_message": elapsed * 1e9 / messages, "messages": messages}


async def _timers():
    rng = random.Random(TIMER_SEED)
    delays = [rng.uniform(0.0, LONGEST_DELAY) for _ in range(TIMER_COUNT)]
    loop = asyncio.get_running_loop()
    all_fired = loop.create_future()
    fired = 0
    index_sum = 0

    def callback(i):
        nonlocal fired, index_sum
        index_sum += i
        fired += 1
        if fired == TIMER_COUNT:
            all_fired.set_result(None)

    start = time.perf_counter()
    for i, d in enumerate(delays):
        loop.call_later(d, callback, i)
    await all_fired
    elapsed = time.perf_counter() - start
    if (
        fired != TIMER_COUNT
        or index_sum != TIMER_COUNT * (TIMER_COUNT - 1) // 2
        or elapsed < LONGEST_DELAY
    ):
        raise RuntimeError("timers: timers lost, doubled or early")
    return {"ns_per_timer": elapsed * 1e9 / TIMER_COUNT, "total_s": elapsed}


async def _echo(clients, budget):
    loop = asyncio.get_running_loop()
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setblocking(False)
    listener.bind(("127.0.0.1", 0))
    listener.listen(socket.SOMAXCONN)
    address = listener.getsockname()
    connections = []

    async def echo_connection(conn):
        with conn:
            while True:
                data = await loop.sock_recv(conn, 4096)
                if not data:
                    return
                await loop.sock_sendall(conn, data)

    async def accept_loop():
        while True:
            conn, _ = await loop.sock_accept(listener)
            conn.setblocking(False)
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            connections.append(asyncio.create_task(echo_connection(conn)))

    async def connect():
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        await loop.sock_connect(s, address)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return s

    async def client_rounds(s, client, rounds):
        for r in range(rounds):
            request = (
                client.to_bytes(4, "little") + r.to_bytes(4, "little")
            ).ljust(MESSAGE_SIZE, b"x")
            await loop.sock_sendall(s, request)
            answer = b""
            while len(answer) < MESSAGE_SIZE:
                chunk = await loop.sock_recv(s, MESSAGE_SIZE - len(answer))
                if not chunk:
                    return False
                answer += chunk
            if answer != request:
                return False
        return True

    server = asyncio.create_task(accept_loop())
    sockets = await asyncio.gather(*(connect() for _ in range(clients)))
    rounds = ECHO_ROUND_TRIPS_PER_BATCH // clients
    round_trips = 0
    wrong = False
    start = time.perf_counter()
    while True:
        results = await asyncio.gather(
            *(client_rounds(s, c, rounds) for c, s in enumerate(sockets))
        )
        wrong = wrong or not all(results)
        round_trips += clients * rounds
        elapsed = time.perf_counter() - start
        if elapsed >= budget:
            break
    for s in sockets:
        s.close()
    await asyncio.gather(*connections)
    server.cancel()
    try:
        await server
    except asyncio.CancelledError:
        pass
    listener.close()
    if wrong or len(connections) != clients:
        raise RuntimeError("echo: wrong echo, or a client that did not connect")
    return {
        "round_trips_per_second": round_trips / elapsed,
        "ns_per_round_trip": elapsed * 1e9 / round_trips,
        "round_trips": round_trips,
    }


async def _to_thread(budget):
    await asyncio.to_thread(int)  # the executor is made on first use, not timed
    calls = 0
    total = 0
    start = time.perf_counter()
    while True:
        for _ in range(100):
            given = calls
            calls += 1
            total += await asyncio.to_thread(lambda: given + 1)
        elapsed = time.perf_counter() - start
        if elapsed >= budget:
            break
    if total != calls * (calls + 1) // 2:
        raise RuntimeError("to_thread: wrong to_thread answer")
    return {"ns_per_round_trip": elapsed * 1e9 / calls, "round_trips": calls}


async def _lock_uncontended(budget):
    lock = asyncio.Lock()
    inside = 0
    start = time.perf_counter()
    while True:
        for _ in range(1000):
            async with lock:
                inside += 1
        elapsed = time.perf_counter() - start
        if elapsed >= budget:
            break
    if lock.locked():
        raise RuntimeError("lock_uncontended: the lock was not released")
    return {"ns_per_lock": elapsed * 1e9 / inside, "locks": inside}


async def _lock_handover(budget):
    lock = asyncio.Lock()
    last = 0  # who had the last critical section: 1 or 2
    out_of_turn = False
    stop = False
    counts = {1: 0, 2: 0}

    async def section(who):
        nonlocal last, out_of_turn
        if last == who:
            out_of_turn = True
        last = who
        counts[who] += 1
        await asyncio.sleep(0)  # held across a switch: the other waits

    async def partner():
        while True:
            async with lock:
                if stop:
                    return
                await section(2)

    task = asyncio.create_task(partner())
    start = time.perf_counter()
    while True:
        for _ in range(1000):
            async with lock:
                await section(1)
        elapsed = time.perf_counter() - start
        if elapsed >= budget:
            break
    stop = True
    await task
    if out_of_turn or counts[2] != counts[1] - 1:
        raise RuntimeError("lock_handover: the critical sections did not alternate")
    handovers = 2 * counts[1]
    return {"ns_per_handover": elapsed * 1e9 / handovers, "handovers": handovers}


async def _task_group(budget):
    async def add(i):
        nonlocal total
        total += i

    groups = 0
    wrong = False
    start = time.perf_counter()
    while True:
        total = 0
        async with asyncio.TaskGroup() as g:
            for i in range(GROUP_SIZE):
                g.create_task(add(i))
        wrong = wrong or total != GROUP_SIZE * (GROUP_SIZE - 1) // 2
        groups += 1
        elapsed = time.perf_counter() - start
        if elapsed >= budget:
            break
    if wrong:
        raise RuntimeError("task_group: a task of the group lost or run twice")
    tasks = groups * GROUP_SIZE
    return {"ns_per_task": elapsed * 1e9 / tasks, "tasks": tasks}


async def _timeout(budget):
    inside = 0
    start = time.perf_counter()
    while True:
        for _ in range(1000):
            async with asyncio.timeout(10):
                inside += 1
        # The loop sweeps the withdrawn deadlines out of its heap between
        # its iterations: let it run once, as the C++ version does.
        await asyncio.sleep(0)
        elapsed = time.perf_counter() - start
        if elapsed >= budget:
            break
    return {"ns_per_timeout": elapsed * 1e9 / inside, "timeouts": inside}


def sleep0_switch(budget=1.0):
    """ns per switch of two tasks alternating through asyncio.sleep(0)."""
    return asyncio.run(_sleep0_switch(budget))


def queue_pingpong(budget=1.0):
    """ns per message of a ping-pong through two asyncio.Queues."""
    return asyncio.run(_queue_pingpong(budget))


def timers():
    """ns per timer (and the total) of 1,000,000 call_later callbacks."""
    return asyncio.run(_timers())


def echo(clients, budget=1.0):
    """Round trips per second of N clients against a loopback echo server."""
    return asyncio.run(_echo(clients, budget))


def to_thread(budget=1.0):
    """ns per round trip of await asyncio.to_thread(f)."""
    return asyncio.run(_to_thread(budget))


def lock_uncontended(budget=1.0):
    """ns per `async with lock` that finds the lock free."""
    return asyncio.run(_lock_uncontended(budget))


def lock_handover(budget=1.0):
    """ns per hand-over of an asyncio.Lock between two contending tasks."""
    return asyncio.run(_lock_handover(budget))


def task_group(budget=1.0):
    """ns per task of asyncio.TaskGroups of 1,000 trivial tasks."""
    return asyncio.run(_task_group(budget))


def timeout(budget=1.0):
    """ns per asyncio.timeout(10) entered and left without expiry."""
    return asyncio.run(_timeout(budget))


def run_all(budget=1.0):
    """Every workload, keyed as compare.py expects."""
    results = {
        "sleep0_switch": sleep0_switch(budget),
        "queue_pingpong": queue_pingpong(budget),
        "timers": timers(),
    }
    for clients in (1, 10, 100):
        results[f"echo/{clients}"] = echo(clients, budget)
    results["to_thread"] = to_thread(budget)
    results["lock_uncontended"] = lock_uncontended(budget)
    results["lock_handover"] = lock_handover(budget)
    results["task_group"] = task_group(budget)
    results["timeout"] = timeout(budget)
    return results


if __name__ == "__main__":
    json.dump(
        run_all(float(sys.argv[1]) if len(sys.argv) > 1 else 1.0),
        sys.stdout,
        indent=2,
    )
    print()
