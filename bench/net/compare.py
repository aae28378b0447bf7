"""tandem's echo server against its peers, all loaded by the same client.

    python3 bench/net/compare.py [--build-dir build/release] [--tandem PATH]

starts every server (tandem's examples/echo_server, Boost.Asio's and libuv's
echo servers, and asyncio's on CPython's loop and on uvloop) pinned to one
CPU (taskset -c 0), each on a free port of 127.0.0.1, then for every cell,
clients {1, 10, 100} x message size {64, 16384} bytes, runs the load client
(echo_load, taskset -c 1) against each server in turn: a warm-up, then the
measured window. The client reads the server's CPU time (the scheduler's
nanosecond run time of its threads, /proc/PID/task/*/schedstat) at the start
and end of that window, so the CPU per round trip covers exactly the round
trips counted. Prints one table: round trips/s,
p50 and p99 latency, the server's CPU microseconds per round trip, the
client's CPU share of its core (near 100%: the figure is the client's
limit, not the server's), and on tandem's rows how tandem compares with the
best peer of the cell: rt/s ratio = tandem / the highest peer rate (above 1
is better), CPU ratio = tandem / the lowest peer CPU per round trip (below 1
is better). Then it stops every server with SIGTERM; one that does not exit
0 is reported.

Options:
  --tandem PATH        tandem's echo server (default BUILD/examples/echo_server)
  --build-dir DIR      where echo_load and the C/C++ peers are built
                       (default build/release: bench/echo_load, ...)
  --servers LIST       a subset of tandem,asio,libuv,asyncio,uvloop
  --clients LIST       default 1,10,100
  --sizes LIST         bytes, default 64,16384
  --seconds S          measured window per run (default 3)
  --warmup S           warm-up before each window (default 1)
  --repetitions N      run every cell N times, interleaved (the servers'
                       order turns by one each time); report medians, and
                       on tandem's rows two more ratios, paired: over the
                       repetitions, the median and quartiles of tandem's
                       rate against the fastest peer's of the same
                       repetition, and of its CPU per round trip against
                       the leanest peer's (the peers the table names,
                       chosen by the medians, or with --best by the best
                       runs). The servers of a repetition run back to
                       back, so a machine that drifts during the run moves
                       them alike. Where one run differs from the next by
                       tens of percent, many short runs judge better than
                       a few long ones: --repetitions 21 --seconds 1
                       --warmup 0.3
  --best               with repetitions: report each server's best run of a
                       cell (its highest rate, lowest CPU per round trip and
                       lowest latencies; the client's highest CPU share)
                       instead of the median; on a shared, noisy machine the
                       best run is the least disturbed one
  --server-cpu, --client-cpu   the CPUs to pin to (default 0 and 1;
                       "none": not pinned)
  --json FILE          also write every run's raw figures to FILE

The servers run one after another, interleaved cell by cell, on the same
two cores: noise (other processes, frequency) hits them roughly alike, but
treat differences of a few percent as noise.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import servers  # noqa: E402  (found through the path set above)

ALL_SERVERS = ("tandem", "asio", "libuv", "asyncio", "uvloop")


def server_commands(args):
    """{name: command without PORT HOST} for the chosen servers."""
    bench = os.path.join(args.build_dir, "bench")
    script = os.path.join(servers.HERE, "asyncio_echo_server.py")
    commands = {
        "tandem": [args.tandem],
        "asio": [os.path.join(bench, "asio_echo_server")],
        "libuv": [os.path.join(bench, "libuv_echo_server")],
        "asyncio": [servers.PYTHON, script],
        "uvloop": [servers.PYTHON, script, "--uvloop"],
    }
    hint = (
        f"build them: cmake --build {args.build_dir} "
        "--target echo_server asio_echo_server libuv_echo_server"
    )
    for name in args.servers:
        if name not in ("asyncio", "uvloop"):
            servers.require_file(commands[name][0], hint)
    return {name: commands[name] for name in args.servers}


def run_load(args, server, clients, size):
    """One run of echo_load against server: its JSON figures."""
    command = servers.pinned(
        args.client_cpu,
        [
            args.echo_load,
            "--host", servers.HOST,
            "--port", str(server.port),
            "--clients", str(clients),
            "--size", str(size),
            "--seconds", str(args.seconds),
            "--warmup", str(args.warmup),
            "--server-pid", str(server.pid),
        ],
    )
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(
            f"echo_load against {server.name} ({clients} clients, {size} bytes) failed:\n"
            f"{done.stderr.strip()}\nserver's stderr: {server.error_output()}"
        )
    return json.loads(done.stdout)


def median_run(runs):
    """The median of each figure over the repetitions of one cell."""
    return {key: statistics.median(run[key] for run in runs) for key in runs[0]}


def best_run(runs):
    """Each figure's best value over the repetitions of one cell: the
    highest rate, the lowest latencies and server CPU; and the client's
    highest CPU share, so that a cell where the client was ever the limit
    shows it."""
    highest = ("round_trips_per_s", "client_cpu_s")
    return {key: (max if key in highest else min)(run[key] for run in runs) for key in runs[0]}


def paired_ratios(runs, clients, size, fastest, leanest):
    """tandem against one peer, repetition by repetition (the servers of a
    repetition run back to back): the quartiles of tandem's rate over the
    fastest peer's and of its CPU per round trip over the leanest peer's,
    the peers the table names (chosen by the medians, or by the best runs
    with --best). On a machine whose speed drifts during the
    run, comparing within each repetition removes the drift that medians
    taken server by server keep. Always against the same peer, never the
    best of each repetition: the higher of two noisy rates lies above
    either's typical value, so a server as fast as both of its peers would
    come out slower than the best of them."""
    own = runs[("tandem", clients, size)]
    return (
        servers.paired_quartiles(own, runs[(fastest, clients, size)], "round_trips_per_s"),
        servers.paired_quartiles(
            own, runs[(leanest, clients, size)], "server_cpu_us_per_round_trip"
        ),
    )


def table_rows(results, names, cells, seconds, runs=None):
    rows = []
    for clients, size in cells:
        figures = {name: results[(name, clients, size)] for name in names}
        peers = [n for n in names if n != "tandem"]
        for name in names:
            f = figures[name]
            row = [
                name,
                str(clients),
                str(size),
                f"{f['round_trips_per_s']:,.0f}",
                f"{f['p50_us']:,.1f}",
                f"{f['p99_us']:,.1f}",
                f"{f['server_cpu_us_per_round_trip']:.2f}",
                f"{100 * f['client_cpu_s'] / seconds:.0f}%",
                "",
                "",
            ]
            if name == "tandem" and peers:
                fastest = max(peers, key=lambda p: figures[p]["round_trips_per_s"])
                leanest = min(peers, key=lambda p: figures[p]["server_cpu_us_per_round_trip"])
                rate = f["round_trips_per_s"] / figures[fastest]["round_trips_per_s"]
                cpu = (
                    f["server_cpu_us_per_round_trip"]
                    / figures[leanest]["server_cpu_us_per_round_trip"]
                )
                row[8] = f"{rate:.2f}x {fastest}"
                row[9] = f"{cpu:.2f}x {leanest}"
                if runs is not None:
                    paired_rate, paired_cpu = paired_ratios(runs, clients, size, fastest, leanest)
                    row += [servers.paired_text(paired_rate), servers.paired_text(paired_cpu)]
            if runs is not None and len(row) == 10:
                row += ["", ""]
            rows.append(row)
        rows.append(None)
    return rows[:-1]


def integers(text):
    try:
        values = [int(v) for v in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a comma-separated list of integers: {text}")
    if any(v <= 0 for v in values):
        raise argparse.ArgumentTypeError(f"every value must be positive: {text}")
    return values


def server_names(text):
    names = text.split(",")
    unknown = [n for n in names if n not in ALL_SERVERS]
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown server(s) {unknown}; known: {ALL_SERVERS}")
    return names


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--build-dir", default=os.path.join(servers.ROOT, "build", "release"))
    parser.add_argument(
        "--tandem", help="tandem's echo server (default BUILD/examples/echo_server)"
    )
    parser.add_argument("--servers", type=server_names, default=list(ALL_SERVERS))
    parser.add_argument("--clients", type=integers, default=[1, 10, 100])
    parser.add_argument("--sizes", type=integers, default=[64, 16384])
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--repetitions", type=int, default=1)
    parser.add_argument("--best", action="store_true")
    parser.add_argument("--server-cpu", type=servers.cpu_option, default=0)
    parser.add_argument("--client-cpu", type=servers.cpu_option, default=1)
    parser.add_argument("--json")
    args = parser.parse_args()
    if args.seconds <= 0 or args.warmup < 0 or args.repetitions < 1:
        parser.error("--seconds must be > 0, --warmup >= 0, --repetitions >= 1")
    args.tandem = args.tandem or os.path.join(args.build_dir, "examples", "echo_server")
    args.echo_load = os.path.join(args.build_dir, "bench", "echo_load")
    servers.require_file(
        args.echo_load, f"build it: cmake --build {args.build_dir} --target echo_load"
    )
    servers.check_cpus(args.server_cpu, args.client_cpu)
    commands = server_commands(args)
    cells = [(c, s) for c in args.clients for s in args.sizes]

    started = {}
    runs = {}
    try:
        for name, command in commands.items():
            started[name] = servers.Server(name, command, args.server_cpu)
        total = len(cells) * len(started) * args.repetitions
        done = 0
        for repetition in range(args.repetitions):
            for clients, size in cells:
                for name, server in servers.turned(list(started.items()), repetition):
                    done += 1
                    print(
                        f"[{done}/{total}] {name}: {clients} clients, {size} bytes",
                        file=sys.stderr,
                    )
                    figures = run_load(args, server, clients, size)
                    runs.setdefault((name, clients, size), []).append(figures)
    finally:
        for server in started.values():
            server.stop()

    pick = best_run if args.best else median_run
    results = {key: pick(value) for key, value in runs.items()}
    header = [
        "server",
        "clients",
        "size",
        "round trips/s",
        "p50 us",
        "p99 us",
        "server CPU us/rt",
        "client CPU",
        "rt/s vs best peer",
        "CPU vs best peer",
    ]
    paired = args.repetitions > 1 and "tandem" in started and len(started) > 1
    if paired:
        header += ["rt/s paired", "CPU paired"]
    servers.print_table(
        header,
        table_rows(results, list(started), cells, args.seconds, runs if paired else None),
    )
    if args.repetitions > 1:
        print(f"({'best' if args.best else 'medians'} of {args.repetitions} runs)")
    if paired:
        print(
            "(paired: over the repetitions, the median and quartiles of tandem against "
            "the peer named, run in the same repetition)"
        )
    if args.json:
        with open(args.json, "w") as f:
            json.dump(
                [
                    {"server": n, "clients": c, "size": s, "runs": r}
                    for (n, c, s), r in runs.items()
                ],
                f,
                indent=2,
            )


if __name__ == "__main__":
    main()
