"""tandem's event loop against Python's asyncio, measured in one invocation.

    python3 bench/asyncio/compare.py build/release/bench/tandem_bench

runs the loop benchmarks of the tandem benchmark binary (bench/loop_bench.cpp,
bench/loop_toolkit_bench.cpp, plus BM_pingpong_send/tandem_coroutine for the
switch target and BM_libuv_timers, libuv's timers) with JSON output, then the
same workloads on asyncio (workloads.py, next to this file), and prints a
table: workload, tandem's figure, asyncio's, and how many times better tandem
is (for times: asyncio / tandem; for rates: tandem / asyncio). Then the same
for the 1,000,000 timers against libuv, a C loop, from the same run of the
binary; then the issue's targets, each met or missed.

Options:
  --repetitions N    run every workload N times, on both sides, and report
                     each figure's median (default 1)
  --budget S         seconds each timed asyncio workload runs (default 1.0);
                     the 1,000,000 asyncio timers run once, whatever it takes
  --benchmark-arg A  passed on to the tandem binary (repeatable), e.g.
                     --benchmark-arg=--benchmark_min_time=1
  --json FILE        also write every raw figure to FILE

The machine's noise applies to both sides alike only roughly: the two runs
are sequential, not interleaved. Treat single-digit percentages as noise.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import workloads  # noqa: E402  (found through the path set above)

BENCH_FILTER = "BM_loop_|BM_libuv_|BM_pingpong_send/tandem_coroutine$"
NS_PER_UNIT = {"ns": 1.0, "us": 1e3, "ms": 1e6, "s": 1e9}

# The toolkit's workloads (bench/loop_toolkit_bench.cpp): the row's label,
# tandem's benchmark, asyncio's workload and its figure, ns per unit of work.
TOOLKIT_ROWS = (
    ("to_thread round trip", "BM_loop_to_thread", "to_thread", "ns_per_round_trip"),
    (
        "mutex, uncontended",
        "BM_loop_mutex_uncontended",
        "lock_uncontended",
        "ns_per_lock",
    ),
    ("mutex hand-over", "BM_loop_mutex_handover", "lock_handover", "ns_per_handover"),
    ("task group of 1,000", "BM_loop_task_group", "task_group", "ns_per_task"),
    ("timeout, no expiry", "BM_loop_timeout", "timeout", "ns_per_timeout"),
)


def run_tandem(binary, repetitions, extra_args):
    """Runs the tandem benchmarks; returns {name: ns per iteration}, the
    median of the repetitions where there are several."""
    out = subprocess.run(
        [
            binary,
            f"--benchmark_filter={BENCH_FILTER}",
            "--benchmark_format=json",
            f"--benchmark_repetitions={repetitions}",
            *extra_args,
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    figures = {}
    medians = {}
    for b in json.loads(out)["benchmarks"]:
        if b.get("error_occurred"):
            raise RuntimeError(f"{b['name']}: {b.get('error_message')}")
        # Loop benchmarks are wall-clock (UseRealTime); for the coroutine
        # send, real and CPU time agree.
        ns = b["real_time"] * NS_PER_UNIT[b["time_unit"]]
        if b.get("run_type") != "aggregate":
            figures[b["run_name"]] = ns
        elif b.get("aggregate_name") == "median":
            medians[b["run_name"]] = ns
    figures.update(medians)
    return figures


def run_asyncio(repetitions, budget):
    """Every asyncio workload, run `repetitions` times; each figure the median."""
    runs = []
    for _ in range(repetitions):
        runs.append(workloads.run_all(budget))
    return {
        workload: {
            key: statistics.median(run[workload][key] for run in runs)
            for key in runs[0][workload]
        }
        for workload in runs[0]
    }


def tandem_name(prefix, figures):
    """The one benchmark named prefix, or prefix/<suffixes such as real_time>."""
    matches = [n for n in figures if n == prefix or n.startswith(prefix + "/")]
    if len(matches) != 1:
        raise RuntimeError(f"expected one benchmark named {prefix}*, got {matches}")
    return matches[0]


def build_rows(tandem, asyncio_figures):
    """(workload, unit, tandem, asyncio, times better) rows for the table."""
    rows = []

    def time_row(label, unit, t, a):
        rows.append((label, unit, t, a, a / t))

    def rate_row(label, unit, t, a):
        rows.append((label, unit, t, a, t / a))

    time_row(
        "sleep(0) switch",
        "ns/switch",
        tandem[tandem_name("BM_loop_sleep0_switch", tandem)],
        asyncio_figures["sleep0_switch"]["ns_per_switch"],
    )
    time_row(
        "queue ping-pong",
        "ns/message",
        tandem[tandem_name("BM_loop_queue_pingpong", tandem)],
        asyncio_figures["queue_pingpong"]["ns_per_message"],
    )
    per_timer = tandem[tandem_name("BM_loop_timers", tandem)]
    time_row(
        "1M timers",
        "ns/timer",
        per_timer,
        asyncio_figures["timers"]["ns_per_timer"],
    )
    time_row(
        "1M timers, total",
        "ms",
        per_timer * workloads.TIMER_COUNT / 1e6,
        asyncio_figures["timers"]["total_s"] * 1e3,
    )
    for clients in (1, 10, 100):
        ns = tandem[tandem_name(f"BM_loop_echo/clients:{clients}", tandem)]
        rate_row(
            f"echo, {clients} client{'s' if clients > 1 else ''}",
            "round trips/s",
            1e9 / ns,
            asyncio_figures[f"echo/{clients}"]["round_trips_per_second"],
        )
    for label, bench, workload, figure in TOOLKIT_ROWS:
        unit = figure.replace("ns_per_", "ns/").replace("_", " ")
        ns = tandem[tandem_name(bench, tandem)]
        time_row(label, unit, ns, asyncio_figures[workload][figure])
    return rows


def build_libuv_rows(tandem):
    """The same rows for the 1,000,000 timers, tandem against libuv."""
    ours = tandem[tandem_name("BM_loop_timers", tandem)]
    theirs = tandem[tandem_name("BM_libuv_timers", tandem)]
    return [
        ("1M timers", "ns/timer", ours, theirs, theirs / ours),
        (
            "1M timers, total",
            "ms",
            ours * workloads.TIMER_COUNT / 1e6,
            theirs * workloads.TIMER_COUNT / 1e6,
            theirs / ours,
        ),
    ]


def print_table(rows, peer="asyncio"):
    header = ("workload", "unit", "tandem", peer, "tandem better by")
    cells = [header] + [
        (w, u, f"{t:,.1f}", f"{a:,.1f}", f"{r:,.1f}x") for w, u, t, a, r in rows
    ]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    for n, row in enumerate(cells):
        print(
            "  ".join(
                c.ljust(w) if i < 2 else c.rjust(w)
                for i, (c, w) in enumerate(zip(row, widths))
            )
        )
        if n == 0:
            print("  ".join("-" * w for w in widths))


def print_targets(tandem, rows, libuv_rows):
    """The issue's targets, each met or missed, with the margin."""
    by_label = {r[0]: r for r in rows}
    send = tandem["BM_pingpong_send/tandem_coroutine"]
    switch = by_label["sleep(0) switch"][2]
    checks = [
        (
            "sleep(0) switch <= 3x coroutine<long,long>::send "
            f"({switch:.1f} ns vs {send:.1f} ns)",
            switch / send,
            "<=",
            3.0,
        ),
        (
            "sleep(0) switch >= 50x faster than asyncio",
            by_label["sleep(0) switch"][4],
            ">=",
            50.0,
        ),
        ("1M timers >= 20x faster than asyncio", by_label["1M timers"][4], ">=", 20.0),
        (
            "echo, 100 clients >= 5x asyncio's round trips/s",
            by_label["echo, 100 clients"][4],
            ">=",
            5.0,
        ),
        ("1M timers no slower than libuv", libuv_rows[0][4], ">=", 1.0),
    ]
    print()
    print("targets:")
    for text, value, op, goal in checks:
        met = value <= goal if op == "<=" else value >= goal
        print(
            f"  {'met   ' if met else 'MISSED'}  {text}: {value:.1f}x (goal {op} {goal:g}x)"
        )


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("binary", help="the tandem_bench executable")
    parser.add_argument("--repetitions", type=int, default=1)
    parser.add_argument("--budget", type=float, default=1.0)
    parser.add_argument("--benchmark-arg", action="append", default=[])
    parser.add_argument("--json")
    args = parser.parse_args()

    print(f"running {args.binary} ...", file=sys.stderr)
    tandem = run_tandem(args.binary, args.repetitions, args.benchmark_arg)
    print("running the asyncio workloads ...", file=sys.stderr)
    asyncio_figures = run_asyncio(args.repetitions, args.budget)

    rows = build_rows(tandem, asyncio_figures)
    libuv_rows = build_libuv_rows(tandem)
    print_table(rows)
    print()
    print_table(libuv_rows, peer="libuv")
    print_targets(tandem, rows, libuv_rows)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"tandem_ns": tandem, "asyncio": asyncio_figures}, f, indent=2)


if __name__ == "__main__":
    main()
