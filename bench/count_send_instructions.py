#!/usr/bin/env python3
"""Instructions per send of the seed's ping-pong (examples/pingpong), counted
rather than timed, so the figure repeats on a noisy machine and under qemu.

    native x86-64, callgrind:
        bench/count_send_instructions.py build/release/examples/pingpong
    a cross build, under qemu-user with the qemu-icount plugin:
        bench/count_send_instructions.py BUILD/examples/pingpong \\
            --arch aarch64|arm|riscv64 --plugin libicount.so

(libicount.so: `gcc -shared -fPIC -O2 -o libicount.so icount.c`, a qemu TCG
plugin that counts every instruction executed.)

pingpong N makes about N sends (it prints how many on stderr). The whole
program is counted at two N; the difference of the counts over the
difference of the sends is the cost of one send, start-up taken out: the
resumer's side, the body's side and the loop around them.
"""
import argparse
import os
import re
import subprocess
import tempfile

N1, N2 = 200_000, 400_000
SYSROOTS = {"aarch64": "aarch64-linux-gnu", "arm": "arm-linux-gnueabihf",
            "riscv64": "riscv64-linux-gnu"}


def sends_in(stderr):
    m = re.search(r"(\d+) sends in", stderr)
    if not m:
        raise SystemExit(f"pingpong printed no send count:\n{stderr}")
    return int(m.group(1))


def callgrind(binary, n):
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "callgrind.out")
        run = subprocess.run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}",
                              binary, str(n)], capture_output=True, text=True, check=True)
        total = 0
        for line in open(out):
            if line.startswith("summary:") or line.startswith("totals:"):
                total = int(line.split()[1])
        return total, sends_in(run.stderr)


def qemu(binary, n, arch, plugin):
    root = f"/usr/{SYSROOTS[arch]}"
    run = subprocess.run([f"qemu-{arch}", "-L", root, "-E", f"LD_LIBRARY_PATH={root}/lib",
                          "-plugin", plugin, "-d", "plugin", binary, str(n)],
                         capture_output=True, text=True, check=True)
    m = re.search(r"total=(\d+)", run.stderr)
    if not m:
        raise SystemExit(f"no icount output from qemu-{arch}:\n{run.stderr}")
    return int(m.group(1)), sends_in(run.stderr)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("pingpong")
    ap.add_argument("--arch", choices=sorted(SYSROOTS), help="run under qemu-ARCH")
    ap.add_argument("--plugin", help="the qemu-icount plugin (with --arch)")
    args = ap.parse_args()
    if bool(args.arch) != bool(args.plugin):
        ap.error("--arch and --plugin go together")
    count = (lambda n: qemu(args.pingpong, n, args.arch, args.plugin)) if args.arch else (
        lambda n: callgrind(args.pingpong, n))
    (t1, s1), (t2, s2) = count(N1), count(N2)
    print(f"{(t2 - t1) / (s2 - s1):.1f} instructions per send "
          f"({args.arch or 'x86-64, callgrind'}; {s2 - s1} sends apart)")


if __name__ == "__main__":
    main()
