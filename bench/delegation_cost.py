#!/usr/bin/env python3
"""CPython's cost of a send through a `yield from` chain, against a send to
a generator that delegates to nobody: the same chains as
bench/delegation_bench.cpp (BM_delegated_send/0, /1, /64).

    python3 bench/delegation_cost.py [--sends N] [--repeat R]

CPython resumes every generator of the chain on each send (gi_yieldfrom),
so the cost grows with the depth; prints ns per send, the best of R runs,
and each depth's ratio to depth 0.
"""

import argparse
import sys
import time


def adder():
    value = 0
    while True:
        value = (yield value) + 1


def adder_below(depth):
    if depth == 0:
        return adder()
    return delegate(depth)


def delegate(depth):
    return (yield from adder_below(depth - 1))


def ns_per_send(depth, sends):
    gen = adder_below(depth)
    next(gen)
    send = gen.send
    ret = 0
    start = time.perf_counter()
    for _ in range(sends):
        ret = send(ret)
    elapsed = time.perf_counter() - start
    if ret != sends:
        sys.exit(f"depth {depth}: wrong result {ret}")
    return elapsed * 1e9 / sends


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sends", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    print(f"CPython {sys.version.split()[0]}: ns per send, best of {args.repeat}")
    base = None
    for depth in (0, 1, 64):
        ns = min(ns_per_send(depth, args.sends) for _ in range(args.repeat))
        base = base or ns
        print(f"  depth {depth:2}: {ns:8.1f} ns per send, {ns / base:5.2f}x depth 0")


if __name__ == "__main__":
    main()
