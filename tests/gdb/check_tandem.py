#!/usr/bin/env python3
"""Runs gdb in batch mode on tests/gdb/coroutines.cpp and checks what
tools/gdb/tandem.py prints: `info tandem`, `tandem bt ID`, and plain `bt`
inside a running coroutine body.

    check_tandem.py --gdb GDB --program PROG --work DIR            (native:
        a live run, then a gcore'd core file checked by a second gdb)
    check_tandem.py --gdb gdb-multiarch --program PROG --work DIR \\
        --emulator "qemu-aarch64 -L ... -cpu max,pauth-impdef=on" \\
        --sysroot /usr/aarch64-linux-gnu --pointer-auth
                                                  (through qemu's gdbstub; the
        same for qemu-arm and qemu-riscv64, without --pointer-auth)

The script reaches gdb by auto-load from the program's .debug_gdb_scripts
section (the program's directory is added to the safe-path), so this also
tests the embedding. --source SCRIPT sources it explicitly instead.

Exit status 0 when every check passes; otherwise every failed check is
printed with the gdb output it was made on.
"""

import argparse
import os
import re
import shlex
import signal
import socket
import subprocess
import sys

# What the program has when it reaches gdb_stop_here (see coroutines.cpp):
# id -> (kind, name, state, size).
EXPECTED_FRAMES = {
    1: ("coroutine", "producer", "suspended", "256 KiB"),
    2: ("coroutine", "accumulator", "suspended", "64 KiB"),
    3: ("coroutine", "-", "created", "256 KiB"),
    4: ("task", "main-task", "running", "256 KiB"),
    5: ("task", "sleeper", "suspended", "256 KiB"),
    6: ("task", "waiter", "suspended", "256 KiB"),
    7: ("coroutine", "inspector", "running", "256 KiB"),
    8: ("coroutine", "delegator", "suspended", "256 KiB"),
    9: ("coroutine", "delegate", "suspended", "256 KiB"),
}

# Functions that must appear, in this order (other frames may come between:
# inlined helpers differ between build types), in each backtrace; every one
# must end at the coroutine's entry.
ENTRY = ["tandem_detail_coroutine_main", "tandem_coroutine_start"]
EXPECTED_BACKTRACES = {
    "tandem bt 1": ["producer_emit", "producer_loop"] + ENTRY,
    "tandem bt 2": ["accumulator_wait"] + ENTRY,
    "tandem bt 4": ["tandem::detail::resume", "coroutines.cpp"] + ENTRY,
    "tandem bt 5": ["tandem::sleep", "sleeper_nap"] + ENTRY,
    "tandem bt 6": ["::wait", "waiter_block"] + ENTRY,
    "tandem bt 8": ["yield_from", "delegator_body"] + ENTRY,
    "tandem bt 9": ["producer_emit", "producer_loop"] + ENTRY,
    "bt": ["gdb_stop_here", "inspector_look"] + ENTRY,
}
# Other commands and a piece of what they must print.
EXPECTED_MESSAGES = {
    "tandem bt 3": "coroutine 3 (unnamed) is not started",
    "tandem bt 4": "task 4 (main-task) is running: it waits in its resume of coroutine 7",
    "tandem bt 7": "coroutine 7 (inspector) is running in this thread",
    "tandem bt 8": "coroutine 8 (delegator) delegates to coroutine 9 (delegate)",
    "tandem bt 99": "no live coroutine or task has id 99",
}
# A frame count counts from the coroutine's innermost frame.
COUNTED = ("tandem bt 2 4", 4)  # switch_within, suspend, yield, accumulator_wait
COMMANDS = ["info tandem"] + [c for c in EXPECTED_BACKTRACES if c != "bt"] + [
    "tandem bt 3",
    "tandem bt 7",
    "tandem bt 99",
    COUNTED[0],
    "bt",
]

MARK = "@@@ "
ROW = re.compile(
    r"^(?P<star>[* ])\s+(?P<id>\d+)\s+(?P<kind>\S+)\s+(?P<name>\S+)\s+(?P<state>\S+)\s+"
    r"\[0x(?P<low>[0-9a-f]+), 0x(?P<high>[0-9a-f]+)\)\s+(?P<size>\d+ \S+)$"
)
FRAME = re.compile(r"^#(\d+)\s+(.*)$")
SIZES = {"B": 1, "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30}

failures = []


def fail(where, what, output):
    failures.append("%s: %s\n--- output ---\n%s\n--------------" % (where, what, output))


def gdb_command(args, setup, commands, extra=()):
    """The argv of a batch gdb run: setup, then each command after a marker."""
    argv = [args.gdb, "-nx", "-batch"]
    # The section is in the program, or in libtandem.so when shared.
    for directory in [os.path.dirname(os.path.abspath(args.program))] + args.safe_path:
        argv += ["-iex", "add-auto-load-safe-path " + directory]
    if args.sysroot:
        # qemu -L maps the loader from the sysroot, while LD_LIBRARY_PATH
        # names the other libraries by their host paths: gdb needs both.
        argv += ["-iex", "set sysroot " + args.sysroot]
        argv += ["-iex", "set solib-search-path " + os.path.join(args.sysroot, "lib")]
    argv += ["-iex", "set pagination off", "-iex", "set width unlimited"]
    argv += ["-iex", "set confirm off"]
    for command in setup:
        argv += ["-ex", command]
    if args.source:
        argv += ["-ex", "source " + args.source]
    for command in commands:
        argv += ["-ex", "echo \\n%s%s\\n" % (MARK, command), "-ex", command]
    argv += list(extra)
    return argv


def run(argv, env=None, timeout=120):
    print("$ " + " ".join(shlex.quote(a) for a in argv), flush=True)
    # A session of its own, so that a timeout ends gdb and its inferior.
    process = subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
        start_new_session=True,
    )
    try:
        output, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        output, _ = process.communicate()
        output += "\n[timed out after %d s]" % timeout
    print(output, flush=True)
    return output


def sections(output):
    """{command: its output} from a run made by gdb_command."""
    found = {}
    current = None
    for line in output.splitlines():
        if line.startswith(MARK):
            current = line[len(MARK):]
            found[current] = []
        elif current is not None:
            found[current].append(line)
    return {k: "\n".join(v).strip("\n") for k, v in found.items()}


def check_info(where, text):
    rows = {}
    for line in text.splitlines()[1:]:  # after the header
        m = ROW.match(line)
        if not m:
            fail(where, "a line of info tandem does not parse: %r" % line, text)
            return
        rows[int(m["id"])] = m
    if not text.splitlines() or not text.splitlines()[0].split()[:2] == ["Id", "Kind"]:
        fail(where, "info tandem has no header line", text)
    if sorted(rows) != sorted(EXPECTED_FRAMES):
        fail(where, "ids %s, expected %s" % (sorted(rows), sorted(EXPECTED_FRAMES)), text)
        return
    for frame_id, (kind, name, state, size) in EXPECTED_FRAMES.items():
        m = rows[frame_id]
        got = (m["kind"], m["name"], m["state"], m["size"])
        if got != (kind, name, state, size):
            expected = (kind, name, state, size)
            fail(where, "frame %d: got %s, expected %s" % (frame_id, got, expected), text)
        low, high = int(m["low"], 16), int(m["high"], 16)
        number, unit = m["size"].split()
        if high - low != int(number) * SIZES[unit]:
            what = "frame %d: the range [%x, %x) is not %s" % (frame_id, low, high, m["size"])
            fail(where, what, text)
    stars = [i for i, m in rows.items() if m["star"] == "*"]
    if stars != [7]:
        fail(where, "the current coroutine is marked %s, expected [7] (inspector)" % stars, text)


def check_backtrace(where, text, functions):
    lines = text.splitlines()
    frames = [FRAME.match(line) for line in lines if FRAME.match(line)]
    if not frames:
        fail(where, "no frames", text)
        return
    levels = [int(m.group(1)) for m in frames]
    if levels != list(range(len(levels))):
        fail(where, "frames are not numbered #0, #1, ...: %s" % levels, text)
    # The expected functions, in order.
    position = 0
    for function in functions:
        while position < len(frames) and function not in frames[position].group(2):
            position += 1
        if position == len(frames):
            fail(where, "no frame with %r in order %s" % (function, functions), text)
            return
        position += 1
    if ENTRY[-1] not in frames[-1].group(2):
        fail(where, "the last frame is not %s" % ENTRY[-1], text)
    for bad in ("Backtrace stopped", "corrupt stack", "?? (", "?? ()", "Python Exception", "Error"):
        if bad in text:
            fail(where, "the backtrace has %r" % bad, text)


def check_run(where, output):
    found = sections(output)
    for command in COMMANDS:
        if command not in found:
            fail(where, "no output section for %r (did gdb stop early?)" % command, output)
    if "info tandem" in found:
        check_info(where + ": info tandem", found["info tandem"])
    for command, functions in EXPECTED_BACKTRACES.items():
        if command in found:
            check_backtrace(where + ": " + command, found[command], functions)
    for command, message in EXPECTED_MESSAGES.items():
        if command in found and message not in found[command].lower():
            fail(where + ": " + command, "expected %r" % message, found[command])
    command, count = COUNTED
    if command in found:
        levels = [int(m.group(1)) for m in map(FRAME.match, found[command].splitlines()) if m]
        if levels != list(range(count)) or "accumulator_wait" not in found[command]:
            fail(where + ": " + command, "expected frames #0 to #%d" % (count - 1), found[command])


def native(args):
    os.makedirs(args.work, exist_ok=True)
    stop = ["break gdb_stop_here", "run"]

    # A live process, with the stack guards the kernel offers.
    output = run(gdb_command(args, stop, COMMANDS + ["kill"], extra=[args.program]))
    check_run("live", output)

    if args.no_core:
        return

    # A core file. gdb's gcore loses every stack slab guarded with
    # MADV_GUARD_INSTALL (it gives up on a mapping at its first unreadable
    # page), so this run uses the mprotect guards, which are mappings of
    # their own that gcore skips.
    core = os.path.join(args.work, "coroutines.core")
    if os.path.exists(core):
        os.remove(core)
    env = dict(os.environ, TANDEM_STACK_GUARD="mprotect")
    argv = gdb_command(args, stop + ["gcore " + core, "kill"], [], extra=[args.program])
    output = run(argv, env=env)
    if not os.path.exists(core) or "[timed out" in output:
        fail("gcore", "no core file was written", output)
        return
    output = run(gdb_command(args, [], COMMANDS, extra=[args.program, core]))
    check_run("core", output)
    os.remove(core)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def remote_run(args, cpu, commands):
    """The output of gdb attached to the program under qemu's gdbstub."""
    port = free_port()
    argv = shlex.split(args.emulator) + (["-cpu", cpu] if cpu else [])
    argv += ["-g", str(port), args.program]
    print("$ " + " ".join(shlex.quote(a) for a in argv), flush=True)
    emulator = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        # qemu listens before it runs anything; gdb retries the connection
        # until then (tcp auto-retry, up to tcp connect-timeout).
        setup = ["set tcp connect-timeout 30", "target remote 127.0.0.1:%d" % port,
                 "break gdb_stop_here", "continue"]
        return run(gdb_command(args, setup, commands + ["kill"], extra=[args.program]))
    finally:
        if emulator.poll() is None:
            emulator.kill()
        emulator.wait()


def remote(args):
    if not args.pointer_auth:
        check_run("remote", remote_run(args, None, COMMANDS))
        return
    # qemu 7.2's gdbstub reports no pointer-authentication masks, so gdb
    # cannot strip PAC bits from the return addresses that every
    # -mbranch-protection function signs, and any backtrace, plain bt too,
    # stops at the first. The full checks run with PAC off (qemu takes the
    # last -cpu); the PAC instructions are hints, so the code is the same.
    check_run("remote", remote_run(args, "max,pauth=off", COMMANDS))

    # With PAC on (the emulator's own -cpu): the list, and the coroutine's
    # signed resume address, which tandem.py strips itself: the frames up to
    # the first signed return address, then tandem.py's note on why.
    commands = ["info tandem", "tandem bt 1", "tandem bt 2"]
    found = sections(remote_run(args, None, commands))
    if "info tandem" not in found:
        fail("remote, PAC on", "no output for info tandem", "")
        return
    check_info("remote, PAC on: info tandem", found["info tandem"])
    for command, function in zip(commands[1:], ["producer_emit", "accumulator_wait"]):
        text = found.get(command, "")
        if not re.search(r"^#\d+\s.*%s" % function, text, re.M):
            fail("remote, PAC on: " + command, "no frame in %s" % function, text)
        if "Backtrace stopped" in text and "pauth=off" not in text:
            fail("remote, PAC on: " + command, "stopped without tandem.py's note", text)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gdb", required=True)
    parser.add_argument("--program", required=True)
    parser.add_argument("--work", required=True, help="a directory for the core file")
    parser.add_argument("--no-core", action="store_true",
                        help="skip the core file (ASan: gcore would dump its shadow memory)")
    parser.add_argument("--safe-path", action="append", default=[],
                        help="another directory for gdb's auto-load safe-path (libtandem.so)")
    parser.add_argument("--source", help="source this script instead of relying on auto-load")
    parser.add_argument("--emulator", help="run the program under this (qemu-user) with -g PORT")
    parser.add_argument("--sysroot", help="gdb's sysroot for the target's libraries")
    parser.add_argument("--pointer-auth", action="store_true",
                        help="AArch64 with PAC: check with it off (-cpu max,pauth=off), then on")
    args = parser.parse_args()
    if args.emulator:
        remote(args)
    else:
        native(args)
    if failures:
        print("\n%d check(s) failed:\n" % len(failures))
        for failure in failures:
            print(failure + "\n")
        return 1
    print("all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
