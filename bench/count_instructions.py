#!/usr/bin/env python3
"""Instructions per jump of tandem_jump and of Boost's jump_fcontext,
counted rather than timed, so the figures repeat on a noisy machine.

    x86-64, callgrind:     bench/count_instructions.py build/release/bench/jump_loop
    AArch64, qemu-icount:  bench/count_instructions.py BUILD/bench/jump_loop --plugin libicount.so

(libicount.so: `gcc -shared -fPIC -O2 -o libicount.so icount.c`, a qemu TCG
plugin counting instructions in all and inside one symbol.)

jump_loop runs N round trips (2N jumps). Each count is taken at two N; the
difference over the extra jumps is the cost of one jump with start-up taken
out: inside the switch routine, and for the whole program (the routine plus
the loop that calls it).

callgrind files costs under its own idea of the current function, which a
switch of stacks confuses (after an indirect jmp into another context it
keeps charging the old function). So the cost inside a routine is summed by
address: every executed instruction within the routine's symbol (nm -S).
"""
import argparse
import os
import re
import subprocess
import tempfile

N1, N2 = 100_000, 200_000


def symbol_range(binary, symbol):
    """[start, end) of a symbol, as callgrind reports addresses (object-relative)."""
    for line in subprocess.run(["nm", "-S", binary], capture_output=True, text=True,
                               check=True).stdout.splitlines():
        parts = line.split()
        if len(parts) == 4 and parts[3] == symbol:
            return int(parts[0], 16), int(parts[0], 16) + int(parts[1], 16)
    raise SystemExit(f"{symbol} not found in {binary}")


def callgrind_counts(binary, kind, n, symbol):
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "callgrind.out")
        subprocess.run(["valgrind", "--tool=callgrind", "--dump-instr=yes", "--compress-strings=no",
                        "--compress-pos=no", f"--callgrind-out-file={out}", binary, kind, str(n)],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        cost, skip = {}, False
        for line in open(out):
            if line.startswith("calls="):
                skip = True  # the next cost line is the call's inclusive cost
            elif re.match(r"^0x[0-9a-f]+ \d+ \d+$", line):  # address, source line, cost
                if skip:
                    skip = False
                    continue
                addr, _, ir = (int(x, 0) for x in line.split())
                cost[addr] = cost.get(addr, 0) + ir
    start, end = symbol_range(binary, symbol)
    inside = sum(c for a, c in cost.items() if start <= a < end)
    return inside, sum(cost.values())


def qemu_counts(binary, kind, n, symbol, plugin):
    run = subprocess.run(["qemu-aarch64", "-L", "/usr/aarch64-linux-gnu",
                          "-E", "LD_LIBRARY_PATH=/usr/aarch64-linux-gnu/lib", "-plugin",
                          f"{plugin},sym={symbol}", "-d", "plugin", binary, kind, str(n)],
                         capture_output=True, text=True, check=True)
    m = re.search(r"total=(\d+) insns_in_\S+?=(\d+)", run.stderr + run.stdout)
    return int(m.group(2)), int(m.group(1))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("jump_loop")
    ap.add_argument("--plugin", help="qemu-icount plugin (AArch64 under qemu-aarch64)")
    args = ap.parse_args()
    for kind, symbol in (("tandem", "tandem_jump"), ("boost", "jump_fcontext")):
        if args.plugin:
            (i1, t1), (i2, t2) = (qemu_counts(args.jump_loop, kind, n, symbol, args.plugin)
                                  for n in (N1, N2))
        else:
            (i1, t1), (i2, t2) = (callgrind_counts(args.jump_loop, kind, n, symbol)
                                  for n in (N1, N2))
        jumps = 2 * (N2 - N1)
        print(f"{kind}: {(i2 - i1) / jumps:.1f} instructions in {symbol} per jump, "
              f"{(t2 - t1) / jumps:.1f} for the whole loop")


if __name__ == "__main__":
    main()
