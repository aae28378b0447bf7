"""bench/net/compare.py's paired ratios, on made-up repetitions.

    python3 check_paired_ratios.py --compare PATH/compare.py

The ratios must compare tandem with one peer, the one the medians chose,
in every repetition: against the better of two noisy peers in each
repetition, a server exactly as fast as both would come out slower.
Exits 1 naming the first check that failed.
"""

import argparse
import importlib.util
import sys


def load(path):
    spec = importlib.util.spec_from_file_location("compare", path)
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(__import__("pathlib").Path(path).parent))
    spec.loader.exec_module(module)
    return module


def run(rate, cpu):
    return {
        "round_trips_per_s": rate,
        "server_cpu_us_per_round_trip": cpu,
        "p50_us": 10.0,
        "p99_us": 20.0,
        "client_cpu_s": 1.0,
    }


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--compare", required=True)
    compare = load(parser.parse_args().compare)

    # Repetition by repetition, tandem is exactly as fast and as lean as
    # "steady". "noisy" is slower by its median, but just ahead of the
    # other two in three repetitions of five.
    steady = [100.0, 90.0, 110.0, 95.0, 105.0]
    noisy_rates = [101.0, 91.0, 111.0, 60.0, 70.0]
    runs = {
        ("tandem", 10, 64): [run(r, 1000 / r) for r in steady],
        ("steady", 10, 64): [run(r, 1000 / r) for r in steady],
        ("noisy", 10, 64): [run(r, 1000 / r) for r in noisy_rates],
    }
    failures = []
    rate, cpu = compare.paired_ratios(runs, 10, 64, "steady", "steady")
    if rate != (1.0, 1.0, 1.0) or cpu != (1.0, 1.0, 1.0):
        failures.append(f"tandem against its twin: rate {rate}, CPU {cpu}; want 1.0 throughout")
    rate, _ = compare.paired_ratios(runs, 10, 64, "noisy", "steady")
    want = sorted(t / n for t, n in zip(steady, noisy_rates))[2]
    if abs(rate[1] - want) > 1e-9:
        failures.append(f"against 'noisy': median {rate[1]}, want {want}")
    if not rate[0] <= rate[1] <= rate[2]:
        failures.append(f"quartiles out of order: {rate}")

    # The table names the peers the medians chose and pairs against them.
    results = {key: compare.median_run(value) for key, value in runs.items()}
    rows = compare.table_rows(results, ["tandem", "steady", "noisy"], [(10, 64)], 1.0, runs)
    tandem_row = rows[0]
    if not tandem_row[8].endswith("steady") or tandem_row[10] != "1.000x (1.00-1.00)":
        failures.append(f"tandem's row pairs against the wrong peer: {tandem_row}")

    for failure in failures:
        print("FAIL:", failure)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
