#!/usr/bin/env python3
"""bench/charts.py on a small recorded run (the JSON files beside this
script): it must draw the three charts as real PNG images, print figures
that agree with the input, and refuse malformed input with a clear message.

    check_charts.py --charts bench/charts.py --work DIR
"""

import argparse
import json
import os
import struct
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
failures = []
checks = 0


def check(ok, what):
    global checks
    checks += 1
    if not ok:
        failures.append(what)


def png_size(path):
    """(width, height) of a PNG file, or None if it is not one."""
    with open(path, "rb") as f:
        head = f.read(24)
    if len(head) < 24 or head[:8] != b"\x89PNG\r\n\x1a\n" or head[12:16] != b"IHDR":
        return None
    return struct.unpack(">II", head[16:24])


def run(charts, *args):
    return subprocess.run([sys.executable, charts, *args], capture_output=True, text=True)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--charts", required=True)
    parser.add_argument("--work", required=True)
    args = parser.parse_args()
    bench = os.path.join(HERE, "tandem_bench.json")
    loop = os.path.join(HERE, "loop.json")
    out = os.path.join(args.work, "charts")

    p = run(args.charts, "--bench", bench, "--loop", loop, "--out", out, "--date", "2026-12-04")
    check(p.returncode == 0, f"charts.py exited {p.returncode}: {p.stderr}")
    for name in ("pingpong.png", "generator_life.png", "event_loop.png"):
        path = os.path.join(out, name)
        size = png_size(path) if os.path.exists(path) else None
        check(size is not None, f"{name} is missing or not a PNG")
        if size:
            check(size[0] >= 600 and size[1] >= 150, f"{name} is only {size[0]}x{size[1]}")

    # The printed ratios follow from the input: peer / tandem per send, the
    # median of the repetitions, and asyncio / tandem for loop times.
    with open(bench) as f:
        medians = {
            b["run_name"]: b["cpu_time"]
            for b in json.load(f)["benchmarks"]
            if b.get("aggregate_name") == "median"
        }
    send = medians["BM_pingpong_send/tandem_coroutine"]
    fcontext = medians["BM_pingpong_send/boost_jump_fcontext"]
    expected = f"{fcontext / send:8.2f}x tandem::coroutine"
    line = next((l for l in p.stdout.splitlines() if "jump_fcontext" in l), "")
    check(line.endswith(expected), f"jump_fcontext line {line!r} does not end with {expected!r}")
    with open(loop) as f:
        lj = json.load(f)
    sleep_ratio = lj["asyncio"]["sleep0_switch"]["ns_per_switch"] / next(
        v for k, v in lj["tandem_ns"].items() if k.startswith("BM_loop_sleep0_switch"))
    line = next((l for l in p.stdout.splitlines() if "sleep(0) switch" in l), "")
    check(line.endswith(f"{sleep_ratio:8.1f}x"), f"sleep(0) line {line!r}, expected {sleep_ratio:.1f}x")

    # Malformed input: exit status 2 and a message naming what is wrong.
    bad = os.path.join(args.work, "not_bench.json")
    with open(bad, "w") as f:
        json.dump({"results": []}, f)
    p = run(args.charts, "--bench", bad, "--out", out)
    check(p.returncode == 2 and "'benchmarks'" in p.stderr,
          f"a JSON file without benchmarks: exit {p.returncode}, {p.stderr!r}")
    p = run(args.charts, "--bench", os.path.join(args.work, "absent.json"), "--out", out)
    check(p.returncode == 2 and "cannot read" in p.stderr,
          f"a missing file: exit {p.returncode}, {p.stderr!r}")
    with open(bad, "w") as f:
        json.dump({"tandem_ns": {}, "asyncio": {}}, f)
    p = run(args.charts, "--bench", bench, "--loop", bad, "--out", out)
    check(p.returncode == 2 and "--loop" in p.stderr,
          f"a loop file without figures: exit {p.returncode}, {p.stderr!r}")

    for f in failures:
        print("FAILED:", f)
    print(f"{checks - len(failures)} passed, {len(failures)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
