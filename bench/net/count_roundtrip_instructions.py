#!/usr/bin/env python3
"""User-space instructions per echo round trip of an echo server, counted
with callgrind rather than timed, so that the figure repeats.

    python3 bench/net/count_roundtrip_instructions.py SERVER [SERVER ...]
        [--load build/release/bench/echo_load] [--clients 10] [--size 64]
        [--seconds 2,6] [--repeat 3]

e.g. for tandem's server and libuv's, measured the same way:

    python3 bench/net/count_roundtrip_instructions.py \\
        build/release/examples/echo_server build/release/bench/libuv_echo_server

Each SERVER (any of bench/net's: `SERVER PORT HOST`, prints "listening on
HOST port PORT", exits on SIGTERM) runs under valgrind --tool=callgrind on a
free port of 127.0.0.1 while echo_load loads it (no warm-up: every round
trip counts) for a short and a long window; SIGTERM then ends it. The
difference of the two runs' instruction counts over the difference of their
round trips is the cost of one round trip, start-up, connecting and
shutting down taken out. Under callgrind the server is the bottleneck, so
every epoll_wait finds many clients ready, for every server alike; a busy
machine slows the client too, so that fewer are ready each time and each
round trip carries more of an iteration's fixed cost (a few instructions
more). So each figure is measured --repeat times and the median printed,
with the range: compare figures from runs side by side, on an idle machine.
"""
import argparse
import json
import os
import re
import signal
import statistics
import subprocess
import tempfile


def run_once(server, load, clients, size, seconds):
    """(instructions, round trips) of one run of server under callgrind."""
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "callgrind.out")
        proc = subprocess.Popen(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}",
                                 server, "0", "127.0.0.1"],
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        try:
            line = proc.stdout.readline()
            m = re.search(r"listening on \S+ port (\d+)", line)
            if not m:
                raise SystemExit(f"{server} printed {line!r}, not where it listens")
            loaded = subprocess.run([load, "--host", "127.0.0.1", "--port", m.group(1),
                                     "--clients", str(clients), "--size", str(size),
                                     "--seconds", str(seconds), "--warmup", "0"],
                                    capture_output=True, text=True, check=True)
            round_trips = json.loads(loaded.stdout)["round_trips"]
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.communicate(timeout=120)
        if proc.returncode != 0:
            raise SystemExit(f"{server} exited {proc.returncode} on SIGTERM")
        with open(out) as f:
            totals = [line for line in f if line.startswith(("totals:", "summary:"))]
        return int(totals[-1].split()[1]), round_trips


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("servers", nargs="+")
    ap.add_argument("--load", default="build/release/bench/echo_load")
    ap.add_argument("--clients", type=int, default=10)
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--seconds", default="2,6", help="the short and the long window")
    ap.add_argument("--repeat", type=int, default=3, help="measurements per server")
    args = ap.parse_args()
    short, long_ = (float(s) for s in args.seconds.split(","))
    for server in args.servers:
        figures = []
        for _ in range(args.repeat):
            (i1, r1), (i2, r2) = (run_once(server, args.load, args.clients, args.size, s)
                                  for s in (short, long_))
            figures.append((i2 - i1) / (r2 - r1))
        print(f"{statistics.median(figures):.1f} instructions per round trip: {server} "
              f"({args.clients} clients, {args.size} B; median of {len(figures)}, "
              f"{min(figures):.1f} to {max(figures):.1f})")


if __name__ == "__main__":
    main()
