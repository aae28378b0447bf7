"""tandem's HTTP server against Boost.Asio's, both loaded by wrk.

    python3 bench/net/http_compare.py [--tandem PATH] [--build-dir build/release]

starts tandem's server (`http_server [PORT [HOST]]`, default
BUILD/examples/http_server) and bench/net/asio_http_server.cpp, each pinned
to one CPU (taskset -c 0) on a free port of 127.0.0.1, checks that both
answer alike (GET / is 200 "hello\\n", another path 404, a Content-Length
body is skipped, pipelined requests are answered in order, "Connection:
close" is honoured, a malformed request or a head over 16 KiB gets 400),
then for each number of
connections runs wrk (one thread, taskset -c 1: wrk -t1 -cN -dS --latency
http://127.0.0.1:PORT/) against each server in turn, after a one-second
warm-up run. Prints requests/s, p99 latency and the server's CPU time per
request (utime + stime of /proc/PID/stat around the measured wrk run), and
tandem / Asio for requests/s (above 1 is better) and CPU (below 1 is
better). Stops both with SIGTERM; one that does not exit 0 is reported.

If the tandem binary is not there, Asio's server is measured alone.

Options:
  --tandem PATH          tandem's HTTP server (default BUILD/examples/http_server)
  --build-dir DIR        where asio_http_server is built (default build/release)
  --connections LIST     wrk's -c values, default 1,10,100
  --seconds S            each measured wrk run (default 5)
  --repetitions N        run every case N times, interleaved (the servers'
                         order turns each time); report medians, and on
                         tandem's rows two more ratios, paired: over the
                         repetitions, the median and quartiles of tandem
                         against Asio run in the same repetition (a machine
                         whose speed drifts during the run moves both
                         alike). The CPU figure counts the kernel's 10 ms
                         ticks: read it over runs of 5 s or more
  --no-check             skip the behaviour check
  --server-cpu, --client-cpu   the CPUs to pin to (default 0 and 1;
                       "none": not pinned)

wrk: Debian's package wrk (tools/prerequisites bench).
"""

import argparse
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import servers  # noqa: E402  (found through the path set above)

# (what is checked, the bytes sent on one connection, the (status, body)
# expected for each response in order, whether the server must then close)
CHECKS = (
    (
        "GET / twice, kept alive",
        b"GET / HTTP/1.1\r\nHost: x\r\n\r\nGET /?q=1 HTTP/1.1\r\nHost: x\r\n\r\n",
        [(200, b"hello\n"), (200, b"hello\n")],
        False,
    ),
    ("another path", b"GET /nothing HTTP/1.1\r\nHost: x\r\n\r\n", [(404, None)], False),
    (
        "a body skipped, then a pipelined request",
        b"POST /form HTTP/1.1\r\nHost: x\r\nContent-Length: 14\r\n\r\nGET / HTTP/1.1"
        b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
        [(404, None), (200, b"hello\n")],
        False,
    ),
    (
        "Connection: close",
        b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        [(200, b"hello\n")],
        True,
    ),
    ("a malformed request line", b"NONSENSE\r\n\r\n", [(400, None)], True),
    ("a malformed header", b"GET / HTTP/1.1\r\nno colon here\r\n\r\n", [(400, None)], True),
    (
        "a head over 16 KiB",
        b"GET / HTTP/1.1\r\nX: " + b"a" * 20000 + b"\r\n\r\n",
        [(400, None)],
        True,
    ),
)


def read_response(stream):
    """(status, headers, body) of one response read from a file object, or
    None at end of stream."""
    status_line = stream.readline()
    if not status_line:
        return None
    match = re.match(rb"HTTP/1\.[01] (\d{3}) ", status_line)
    if not match:
        raise ValueError(f"not a status line: {status_line!r}")
    headers = {}
    while (line := stream.readline()) not in (b"\r\n", b"\n", b""):
        name, _, value = line.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    body = stream.read(int(headers.get("content-length", "0")))
    return int(match.group(1)), headers, body


def check_server(server):
    """Every CHECK against server: a list of what went wrong."""
    problems = []
    for what, request, expected, closes in CHECKS:
        try:
            with socket.create_connection((servers.HOST, server.port), timeout=5) as s:
                s.sendall(request)
                stream = s.makefile("rb")
                for status, body in expected:
                    response = read_response(stream)
                    if response is None:
                        raise ValueError(f"closed before the response with {status}")
                    got_status, headers, got_body = response
                    if got_status != status or (body is not None and got_body != body):
                        raise ValueError(f"got {got_status} {got_body!r}, wanted {status} {body!r}")
                    if closes and "close" not in headers.get("connection", "").lower():
                        raise ValueError("no 'Connection: close' in the response")
                if closes:
                    if stream.read(1) != b"":
                        raise ValueError("did not close the connection")
                else:
                    # Still open: one more request must be answered.
                    s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
                    if read_response(stream) is None:
                        raise ValueError("closed a connection that should stay open")
        except (OSError, ValueError) as e:
            problems.append(f"{what}: {e}")
    return problems


def run_wrk(args, server, connections, seconds):
    """One wrk run: (requests/s, p99 latency in us, server CPU us/request)."""
    command = servers.pinned(
        args.client_cpu,
        ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency",
         f"http://{servers.HOST}:{server.port}/"],
    )
    before = server.cpu_seconds()
    done = subprocess.run(command, capture_output=True, text=True)
    cpu = server.cpu_seconds() - before
    if done.returncode != 0:
        sys.exit(f"wrk against {server.name} failed:\n{done.stdout}{done.stderr}")
    rate = re.search(r"Requests/sec:\s+([\d.]+)", done.stdout)
    total = re.search(r"(\d+) requests in", done.stdout)
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)\b", done.stdout)
    if not (rate and total and p99):
        sys.exit(f"cannot read wrk's output:\n{done.stdout}")
    if re.search(r"Non-2xx or 3xx responses|Socket errors", done.stdout):
        print(f"warning: wrk against {server.name}:\n{done.stdout}", file=sys.stderr)
    p99_us = float(p99.group(1)) * {"us": 1, "ms": 1e3, "s": 1e6}[p99.group(2)]
    requests = int(total.group(1))
    return float(rate.group(1)), p99_us, cpu * 1e6 / max(requests, 1)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--build-dir", default=os.path.join(servers.ROOT, "build", "release"))
    parser.add_argument(
        "--tandem", help="tandem's HTTP server (default BUILD/examples/http_server)"
    )
    parser.add_argument(
        "--connections", type=lambda t: [int(c) for c in t.split(",")], default=[1, 10, 100]
    )
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--repetitions", type=int, default=1)
    parser.add_argument("--no-check", action="store_true")
    parser.add_argument("--server-cpu", type=servers.cpu_option, default=0)
    parser.add_argument("--client-cpu", type=servers.cpu_option, default=1)
    args = parser.parse_args()
    if args.seconds < 1 or args.repetitions < 1 or any(c < 1 for c in args.connections):
        parser.error("--seconds, --repetitions and every connection count must be at least 1")
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed (Debian: apt-get install wrk, or tools/prerequisites bench)")
    servers.check_cpus(args.server_cpu, args.client_cpu)
    tandem = args.tandem or os.path.join(args.build_dir, "examples", "http_server")
    asio = os.path.join(args.build_dir, "bench", "asio_http_server")
    servers.require_file(
        asio, f"build it: cmake --build {args.build_dir} --target asio_http_server"
    )
    commands = {}
    if os.path.isfile(tandem):
        servers.require_file(tandem, "tandem's HTTP server")
        commands["tandem"] = [tandem]
    else:
        print(f"warning: no {tandem}: measuring Asio's server alone", file=sys.stderr)
    commands["asio"] = [asio]

    started = {}
    figures = {}
    try:
        for name, command in commands.items():
            started[name] = servers.Server(name, command, args.server_cpu)
        if not args.no_check:
            failed = False
            for name, server in started.items():
                for problem in check_server(server):
                    print(f"{name} fails the behaviour check: {problem}", file=sys.stderr)
                    failed = True
            if failed:
                sys.exit("the servers do not behave alike; fix them or pass --no-check")
        for repetition in range(args.repetitions):
            for connections in args.connections:
                for name, server in servers.turned(list(started.items()), repetition):
                    print(f"[{repetition + 1}/{args.repetitions}] {name}: "
                          f"{connections} connection(s)", file=sys.stderr)
                    run_wrk(args, server, connections, 1)  # warm-up
                    figures.setdefault((name, connections), []).append(
                        run_wrk(args, server, connections, args.seconds))
    finally:
        for server in started.values():
            server.stop()

    header = ["server", "connections", "requests/s", "p99 us", "server CPU us/req",
              "req/s vs asio", "CPU vs asio"]
    paired = args.repetitions > 1 and "tandem" in started
    if paired:
        header += ["req/s paired", "CPU paired"]
    rows = []
    for connections in args.connections:
        medians = {
            name: [statistics.median(run[i] for run in figures[(name, connections)])
                   for i in range(3)]
            for name in started
        }
        for name in started:
            rate, p99, cpu = medians[name]
            row = [name, str(connections), f"{rate:,.0f}", f"{p99:,.1f}", f"{cpu:.2f}", "", ""]
            if paired:
                row += ["", ""]
            if name == "tandem":
                asio_rate, _, asio_cpu = medians["asio"]
                row[5] = f"{rate / asio_rate:.2f}x"
                row[6] = f"{cpu / asio_cpu:.2f}x"
                if paired:
                    own, asio = figures[("tandem", connections)], figures[("asio", connections)]
                    row[7] = servers.paired_text(servers.paired_quartiles(own, asio, 0))
                    row[8] = servers.paired_text(servers.paired_quartiles(own, asio, 2))
            rows.append(row)
        rows.append(None)
    servers.print_table(header, rows[:-1])
    if args.repetitions > 1:
        print(f"(medians of {args.repetitions} runs)")
    if paired:
        print("(paired: over the repetitions, the median and quartiles of tandem against "
              "Asio run in the same repetition)")


if __name__ == "__main__":
    main()
