"""What compare.py and http_compare.py share: starting a server pinned to a
CPU on a free port, waiting until it accepts connections, stopping it with
SIGTERM, reading a process's CPU time, summing up paired ratios, and
printing a table."""

import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time

HOST = "127.0.0.1"
# Debian's Python: it has uvloop (python3-uvloop), a python3 earlier on the
# PATH may not.
PYTHON = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def cpu_option(text):
    """A --server-cpu/--client-cpu value: a CPU number, or "none" (no pinning)."""
    return None if text == "none" else int(text)


def check_cpus(*cpus):
    """Fails clearly unless every CPU in cpus (None: not pinned) is one this
    process may use."""
    allowed = os.sched_getaffinity(0)
    for cpu in cpus:
        if cpu is not None and cpu not in allowed:
            sys.exit(f"CPU {cpu} is not available here (allowed: {sorted(allowed)})")


def pinned(cpu, command):
    """command, run by taskset on one CPU (taskset execs it: same pid), or
    as it is where cpu is None."""
    return list(command) if cpu is None else ["taskset", "-c", str(cpu), *command]


def free_port():
    """A TCP port that nothing listens on now (the kernel's pick)."""
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def require_file(path, hint):
    if not os.path.isfile(path) or not os.access(path, os.X_OK):
        sys.exit(f"{path}: no such executable ({hint})")


class Server:
    """A server process, started pinned with `command PORT HOST`, up once it
    accepts a connection; stop() sends SIGTERM and checks that it exits 0."""

    def __init__(self, name, command, cpu, start_timeout=20.0):
        self.name = name
        self.port = free_port()
        # A file, not a pipe: a server that writes much to stderr while no
        # one reads it must not block on a full pipe.
        self.stderr = tempfile.TemporaryFile(mode="w+")
        self.process = subprocess.Popen(
            pinned(cpu, [*command, str(self.port), HOST]),
            stdout=subprocess.DEVNULL,
            stderr=self.stderr,
        )
        self.pid = self.process.pid
        deadline = time.monotonic() + start_timeout
        while True:
            if self.process.poll() is not None:
                sys.exit(
                    f"{name} exited with status {self.process.returncode} before it "
                    f"listened: {' '.join(command)}\n{self.error_output()}"
                )
            try:
                socket.create_connection((HOST, self.port), timeout=1).close()
                return
            except OSError:
                if time.monotonic() > deadline:
                    self.process.kill()
                    sys.exit(f"{name} did not listen on port {self.port} in {start_timeout} s")
                time.sleep(0.05)

    def cpu_seconds(self):
        return process_cpu_seconds(self.pid)

    def error_output(self):
        self.stderr.seek(0)
        return self.stderr.read().strip()

    def stop(self, timeout=10.0):
        """SIGTERM, then the exit status; a problem is printed, not raised,
        so that the figures already measured are still reported."""
        if self.process.poll() is None:
            self.process.terminate()
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            print(f"warning: {self.name} ignored SIGTERM for {timeout} s; killed", file=sys.stderr)
            return
        if self.process.returncode != 0:
            print(
                f"warning: {self.name} exited with status {self.process.returncode} "
                f"on SIGTERM: {self.error_output()}",
                file=sys.stderr,
            )


def process_cpu_seconds(pid):
    """utime + stime of /proc/PID/stat (all threads), in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    # fields[0] is field 3 (state); utime and stime are fields 14 and 15.
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def quartiles(values):
    """(first quartile, median, third quartile) of values."""
    if len(values) == 1:
        return values[0], values[0], values[0]
    q1, q2, q3 = statistics.quantiles(values, n=4, method="inclusive")
    return q1, q2, q3


def paired_quartiles(own, peer, figure):
    """The quartiles of own[i][figure] / peer[i][figure] over the
    repetitions i (the runs of one case, in the order they were made). A
    run whose peer figure is 0 (a CPU time below the clock's tick) has no
    ratio; with none left, NaN."""
    ratios = [o[figure] / p[figure] for o, p in zip(own, peer) if p[figure] > 0]
    return quartiles(ratios) if ratios else (float("nan"),) * 3


def turned(items, repetition):
    """items in the order of one repetition: turned by one each time, so
    that no server always runs first (or right after the same one)."""
    k = repetition % len(items)
    return items[k:] + items[:k]


def paired_text(q):
    """A paired ratio as 'median (first quartile-third quartile)'."""
    return f"{q[1]:.3f}x ({q[0]:.2f}-{q[2]:.2f})"


def print_table(header, rows, left=1):
    """Columns padded to their widest cell; the first `left` columns are
    left-aligned, the rest right-aligned. A row of None is a blank line."""
    cells = [header] + [r for r in rows if r is not None]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]

    def line(row):
        return "  ".join(
            c.ljust(w) if i < left else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths))
        ).rstrip()

    print(line(header))
    print("  ".join("-" * w for w in widths))
    for row in rows:
        print("" if row is None else line(row))
