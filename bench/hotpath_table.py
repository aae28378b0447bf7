#!/usr/bin/env python3
"""The send hot path's figures against its peers, from one run of tandem_bench.

    python3 bench/hotpath_table.py build/release/bench/tandem_bench
    python3 bench/hotpath_table.py --json results.json      # an earlier run's
                                                              # --benchmark_out

runs (or reads) the benchmarks below in one invocation of the binary, with
repetitions in random interleaving, takes each one's median CPU time, and
prints the ratio table and the targets, each met or missed:

  BM_pingpong_send/tandem_coroutine          one send of coroutine<long, long>
  BM_pingpong_send/tandem_coroutine_own_fp   the same, stack_options::own_fp_control
  BM_pingpong_send/boost_jump_fcontext       Boost's bare jump, the same ping-pong
  BM_pingpong_send/stackless_cpp20           a C++20 stackless generator
  BM_generator_life/*                        create, 3 values to the end, destroy
  BM_destroy_suspended/*                     destroy one suspended at a yield

Instruction counts are not timed figures and come from elsewhere
(bench/count_instructions.py, callgrind on examples/pingpong).

Options:
  --repetitions N    repetitions of each benchmark (default 5)
  --benchmark-arg A  passed on to the binary (repeatable)
  --json FILE        read FILE (google-benchmark JSON) instead of running
  --out FILE         also keep the run's JSON in FILE
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile

FILTER = "BM_pingpong_send/|BM_generator_life/|BM_destroy_suspended/"
NS_PER_UNIT = {"ns": 1.0, "us": 1e3, "ms": 1e6, "s": 1e9}

# Today's send, before the FP rule changed (one run at commit 66a8bb0 on
# this project's AMD Zen machine): own_fp_control must be no slower.
SEND_BEFORE_VS_FCONTEXT = 1.21


def run(binary, repetitions, extra, out):
    """Runs the benchmarks; returns the JSON document."""
    path = out or tempfile.mkstemp(suffix=".json")[1]
    subprocess.run(
        [
            binary,
            "--benchmark_filter=" + FILTER,
            "--benchmark_repetitions=%d" % repetitions,
            "--benchmark_enable_random_interleaving=true",
            "--benchmark_out=" + path,
            "--benchmark_out_format=json",
        ]
        + extra,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    with open(path) as f:
        document = json.load(f)
    if not out:
        os.unlink(path)
    return document


def medians(document):
    """{run_name: median CPU ns per iteration} from a benchmark JSON."""
    samples = {}
    for b in document["benchmarks"]:
        if b.get("run_type", "iteration") != "iteration" or b.get("error_occurred"):
            continue
        ns = b["cpu_time"] * NS_PER_UNIT[b.get("time_unit", "ns")]
        samples.setdefault(b.get("run_name", b["name"]), []).append(ns)
    result = {}
    for name, values in samples.items():
        values.sort()
        middle = len(values) // 2
        result[name] = (
            values[middle] if len(values) % 2 else (values[middle - 1] + values[middle]) / 2
        )
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("binary", nargs="?", help="tandem_bench")
    parser.add_argument("--repetitions", type=int, default=5)
    parser.add_argument("--benchmark-arg", action="append", default=[])
    parser.add_argument("--json", help="read this benchmark JSON instead of running")
    parser.add_argument("--out", help="keep the run's JSON here")
    args = parser.parse_args()
    if args.json:
        with open(args.json) as f:
            document = json.load(f)
    elif args.binary:
        document = run(args.binary, args.repetitions, args.benchmark_arg, args.out)
    else:
        parser.error("give the tandem_bench binary or --json FILE")
    m = medians(document)

    def get(name):
        if name not in m:
            sys.exit("hotpath_table: no result for %s in this run" % name)
        return m[name]

    send = get("BM_pingpong_send/tandem_coroutine")
    own = get("BM_pingpong_send/tandem_coroutine_own_fp")
    fcontext = get("BM_pingpong_send/boost_jump_fcontext")
    stackless = get("BM_pingpong_send/stackless_cpp20")
    life = get("BM_generator_life/tandem_coroutine")
    life_fiber = get("BM_generator_life/boost_fiber_pooled")
    life_stackless = get("BM_generator_life/stackless_cpp20")
    destroy = get("BM_destroy_suspended/tandem_coroutine")
    destroy_fiber = get("BM_destroy_suspended/boost_fiber_pooled")

    rows = [
        ("send, coroutine<long, long>", send, "%.2fx jump_fcontext, %.2fx C++20"
         % (send / fcontext, send / stackless)),
        ("send, own_fp_control", own, "%.2fx jump_fcontext" % (own / fcontext)),
        ("send, Boost jump_fcontext", fcontext, "1"),
        ("send, C++20 stackless", stackless, "%.2fx jump_fcontext" % (stackless / fcontext)),
        ("generator life, tandem", life, "%.2fx Boost fiber, %.2fx C++20"
         % (life / life_fiber, life / life_stackless)),
        ("generator life, Boost fiber (pooled)", life_fiber, "1"),
        ("generator life, C++20 stackless", life_stackless, ""),
        ("destroy suspended, tandem", destroy, "%.2fx Boost fiber" % (destroy / destroy_fiber)),
        ("destroy suspended, Boost fiber (pooled)", destroy_fiber, "1"),
    ]
    print("| case | ns (median CPU) | ratio |")
    print("|---|---|---|")
    for label, ns, ratio in rows:
        print("| %s | %.2f | %s |" % (label, ns, ratio))

    targets = [
        ("send <= 1.5x the C++20 stackless generator", send / stackless, 1.5),
        ("send <= 0.30x jump_fcontext", send / fcontext, 0.30),
        ("generator life <= 1.0x the Boost fiber", life / life_fiber, 1.0),
        ("generator life <= 3x the C++20 generator", life / life_stackless, 3.0),
        ("destroy while suspended <= 1.0x Boost", destroy / destroy_fiber, 1.0),
        ("own_fp_control send <= today's send (%.2fx jump_fcontext)" % SEND_BEFORE_VS_FCONTEXT,
         own / fcontext, SEND_BEFORE_VS_FCONTEXT),
    ]
    print()
    for label, value, limit in targets:
        print("- %s %s: %.2fx" % ("met:   " if value <= limit else "missed:", label, value))


if __name__ == "__main__":
    main()
