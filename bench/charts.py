#!/usr/bin/env python3
"""Draws the benchmark charts of one run as PNG files.

    python3 bench/charts.py --bench tandem_bench.json --loop loop.json --out docs/charts

--bench is what `tandem_bench --benchmark_out=FILE --benchmark_out_format=json`
wrote; --loop is what `bench/asyncio/compare.py --json FILE` wrote (optional:
without it there is no event-loop chart). bench/record makes both and calls
this script. It writes:

  pingpong.png       the seed ping-pong, ns per send, tandem against every peer
  generator_life.png a generator's whole life (create, run, destroy) against
                     a Boost.Context fiber and a C++20 stackless generator
  event_loop.png     the event-loop workloads, tandem against asyncio

Each chart names the machine and the date of the run under it, and the
script prints every figure it drew, so a README can quote them. Needs
matplotlib (Debian: python3-matplotlib); draws without a display.
"""

import argparse
import json
import os
import re
import sys

NS_PER_UNIT = {"ns": 1.0, "us": 1e3, "ms": 1e6, "s": 1e9}

# The ping-pong peers, in the order drawn, with the names on the chart.
PINGPONG_PEERS = [
    ("tandem_coroutine", "tandem::coroutine send"),
    ("tandem_coroutine_own_fp", "tandem::coroutine send, own_fp_control"),
    ("tandem_jump", "tandem_jump (C ABI)"),
    ("boost_jump_fcontext", "Boost.Context jump_fcontext"),
    ("boost_fiber", "Boost.Context fiber"),
    ("ucontext_swapcontext", "glibc swapcontext"),
    ("stackless_cpp20", "C++20 stackless generator"),
]

# A generator's life: benchmarks named BM_<case>/<peer>[/<variant>] for
# these cases; every peer found is drawn.
LIFE_CASES = ("BM_generator_life", "BM_destroy_suspended")
LIFE_CASE_TITLES = {
    "BM_generator_life": "create, take 3 values by range-for, destroy",
    "BM_destroy_suspended": "destroy while suspended at a yield (unwinds its stack)",
}
LIFE_PEER_NAMES = {
    "tandem_coroutine": "tandem::coroutine",
    "boost_fiber": "Boost.Context fiber",
    "boost_fiber_pooled": "Boost.Context fiber, pooled stack",
    "stackless_cpp20": "C++20 stackless generator",
}


class InputError(Exception):
    """The input is not a run this script can draw."""


def load_json(path, what):
    try:
        with open(path) as f:
            return json.load(f)
    except OSError as e:
        raise InputError(f"{what}: cannot read {path}: {e.strerror}") from e
    except json.JSONDecodeError as e:
        raise InputError(f"{what}: {path} is not JSON ({e})") from e


def bench_figures(run):
    """{run_name: ns per iteration} from a Google Benchmark JSON run. With
    repetitions, the median is taken; CPU time, except for benchmarks timed
    in real time."""
    if not isinstance(run, dict) or "benchmarks" not in run:
        raise InputError("--bench: no 'benchmarks' list (not Google Benchmark JSON output)")
    plain, medians = {}, {}
    for b in run["benchmarks"]:
        if b.get("error_occurred"):
            raise InputError(f"--bench: {b.get('name')} failed: {b.get('error_message')}")
        name = b.get("run_name", b.get("name"))
        unit = NS_PER_UNIT.get(b.get("time_unit", "ns"))
        if unit is None:
            raise InputError(f"--bench: {name} has an unknown time unit {b.get('time_unit')!r}")
        key = "real_time" if name.endswith("/real_time") else "cpu_time"
        ns = b[key] * unit
        name = re.sub(r"/real_time$", "", name)
        if b.get("run_type") == "aggregate":
            if b.get("aggregate_name") == "median":
                medians[name] = ns
        else:
            plain.setdefault(name, ns)
    plain.update(medians)
    return plain


def machine_line(run, when=None):
    ctx = run.get("context", {})
    cpu = ctx.get("cpu") or ctx.get("host_name", "unknown machine")
    cores = ctx.get("num_cpus")
    date = when or ctx.get("date", "unknown date")
    return f"{cpu}, {cores} cores; run of {date}" if cores else f"{cpu}; run of {date}"


def pingpong_rows(figures):
    rows = []
    for peer, label in PINGPONG_PEERS:
        ns = figures.get(f"BM_pingpong_send/{peer}")
        if ns is not None:
            rows.append((label, ns))
    if not any(label.startswith("tandem::coroutine send") for label, _ in rows):
        raise InputError("--bench: no BM_pingpong_send/tandem_coroutine in the run")
    return rows


def life_groups(figures):
    """{case title: [(peer label, ns)]} for the generator-life chart."""
    groups = {}
    def case_order(item):
        case = item[0].split("/")[0]
        return (LIFE_CASES.index(case) if case in LIFE_CASES else len(LIFE_CASES), item[0])

    for name, ns in sorted(figures.items(), key=case_order):
        parts = name.split("/")
        if parts[0] not in LIFE_CASES or len(parts) < 2:
            continue
        peer = LIFE_PEER_NAMES.get(parts[1], parts[1])
        title = LIFE_CASE_TITLES[parts[0]]
        if len(parts) > 2:
            title += ", " + " ".join(parts[2:]).replace("_", " ")
        groups.setdefault(title, []).append((peer, ns))
    for rows in groups.values():
        rows.sort(key=lambda row: (not row[0].startswith("tandem"), row[0]))
    return groups


def loop_rows(loop):
    """[(workload, tandem, asyncio, unit, how many times better)]."""
    try:
        t, a = loop["tandem_ns"], loop["asyncio"]

        def one(prefix):
            names = [n for n in t if n == prefix or n.startswith(prefix + "/")]
            if len(names) != 1:
                raise InputError(f"--loop: expected one {prefix} figure, found {names}")
            return t[names[0]]

        rows = [
            ("sleep(0) switch", one("BM_loop_sleep0_switch"),
             a["sleep0_switch"]["ns_per_switch"], "ns"),
            ("queue ping-pong", one("BM_loop_queue_pingpong"),
             a["queue_pingpong"]["ns_per_message"], "ns"),
            ("1M timers, per timer", one("BM_loop_timers"), a["timers"]["ns_per_timer"], "ns"),
        ]
        for clients in (1, 10, 100):
            ns = one(f"BM_loop_echo/clients:{clients}")
            rows.append((f"echo, {clients} client{'s' if clients > 1 else ''}", 1e9 / ns,
                         a[f"echo/{clients}"]["round_trips_per_second"], "round trips/s"))
    except (KeyError, TypeError) as e:
        raise InputError(f"--loop: not compare.py --json output (missing {e})") from e
    return [(w, tv, av, u, (av / tv) if u == "ns" else (tv / av)) for w, tv, av, u in rows]


def fmt_ns(ns):
    return f"{ns:,.1f} ns" if ns < 10_000 else f"{ns / 1000:,.1f} µs"


def draw_panels(plt, path, title, panels, xlabel, machine, log=False):
    """Horizontal bars, one panel per (subtitle, [(label, value, text)]);
    bars whose label names tandem are drawn in tandem's colour."""
    counts = [len(rows) for _, rows in panels]
    fig, axes = plt.subplots(
        len(panels), 1, squeeze=False, figsize=(10, 1.3 + 0.42 * sum(counts) + 0.5 * len(panels)),
        gridspec_kw={"height_ratios": counts})
    everything = [v for _, rows in panels for _, v, _ in rows]
    low, high = min(everything), max(everything)
    for ax, (subtitle, rows) in zip(axes[:, 0], panels):
        y = list(range(len(rows)))[::-1]
        ax.barh(y, [v for _, v, _ in rows],
                color=["#c0504d" if "tandem" in label else "#4878a8" for label, _, _ in rows])
        ax.set_yticks(y, [label for label, _, _ in rows])
        if log:
            ax.set_xscale("log")
            ax.set_xlim(low / 2, high * 40)
        else:
            ax.set_xlim(0, high * 1.6)
        for yi, (_, v, text) in zip(y, rows):
            ax.text(v, yi, "  " + text, va="center", fontsize=9)
        if subtitle:
            ax.set_title(subtitle, fontsize=10, loc="left")
    axes[-1, 0].set_xlabel(xlabel)
    fig.suptitle(title)
    fig.text(0.01, 0.005, machine, fontsize=8, color="#555555")
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bench", required=True, help="tandem_bench's JSON output")
    parser.add_argument("--loop", help="bench/asyncio/compare.py's --json output")
    parser.add_argument("--out", required=True, help="directory for the PNG files")
    parser.add_argument("--date", help="the date to print (default: the run's own)")
    args = parser.parse_args(argv)

    try:
        run = load_json(args.bench, "--bench")
        figures = bench_figures(run)
        machine = machine_line(run, args.date)
        pingpong = pingpong_rows(figures)
        life = life_groups(figures)
        loop = loop_rows(load_json(args.loop, "--loop")) if args.loop else None
    except InputError as e:
        print(f"charts.py: {e}", file=sys.stderr)
        return 2

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    os.makedirs(args.out, exist_ok=True)
    tandem_color, peer_color = "#c0504d", "#4878a8"

    send = pingpong[0][1]
    draw_panels(
        plt, os.path.join(args.out, "pingpong.png"),
        "Seed ping-pong: time per send (lower is better)",
        [("", [(label, ns, f"{fmt_ns(ns)}  ({ns / send:.2f}x tandem)") for label, ns in pingpong])],
        "ns per send (log scale)", machine, log=True)
    print("pingpong.png (ns per send):")
    for label, ns in pingpong:
        print(f"  {label:45s} {ns:12.2f}  {ns / send:8.2f}x tandem::coroutine")

    panels = []
    print("generator_life.png (ns per life):")
    for title, rows in life.items():
        base = next((ns for peer, ns in rows if peer.startswith("tandem")), None)
        panel = []
        for peer, ns in rows:
            ratio = f"  ({ns / base:.2f}x tandem)" if base else ""
            panel.append((peer, ns, fmt_ns(ns) + ratio))
            print(f"  {title + ': ' + peer:70s} {ns:12.1f}")
        panels.append((title, panel))
    if panels:
        draw_panels(
            plt, os.path.join(args.out, "generator_life.png"),
            "A generator's life: create, run, destroy (lower is better)",
            panels, "ns (log scale)", machine, log=True)
    else:
        print("  (no generator-life benchmarks in this run)")

    if loop:
        draw_panels(
            plt, os.path.join(args.out, "event_loop.png"),
            "Event loop: how many times better tandem does than asyncio (higher is better)",
            [("", [(w, r, f"{r:,.1f}x  (tandem {tv:,.1f}, asyncio {av:,.1f} {u})")
                   for w, tv, av, u, r in loop])],
            "times better than asyncio (log scale)", machine, log=True)
        print("event_loop.png (tandem, asyncio, times better):")
        for w, tv, av, u, r in loop:
            print(f"  {w:25s} {tv:14,.1f} {av:14,.1f} {u:14s} {r:8.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
