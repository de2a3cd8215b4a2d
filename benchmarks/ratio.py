#!/usr/bin/env python3
"""Per-repetition ratios of two benchmarks in Google Benchmark JSON output, and their median.

  build/bench/benchmarks/policy_overhead --benchmark_filter='BM_bare_awaitable$|BM_full_stack$' \
      --benchmark_repetitions=5 --benchmark_enable_random_interleaving=true --benchmark_format=json > run.json
  python3 benchmarks/ratio.py run.json BM_full_stack BM_bare_awaitable

Repetition i of the numerator is divided by repetition i of the denominator; with random
interleaving the repetitions of both run mixed in time, so each pair saw about the same machine
load. Several files may be given (e.g. two builds run one after the other), one line each.
"""
import json
import statistics
import sys


def times(runs, name):
    return [r["real_time"] for r in runs if r.get("run_name") == name and r.get("run_type") == "iteration"]


def main():
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    *files, num, den = sys.argv[1:]
    for f in files:
        with open(f) as fh:
            runs = json.load(fh)["benchmarks"]
        n, d = times(runs, num), times(runs, den)
        if not n or len(n) != len(d):
            sys.exit(f"{f}: expected the same number of repetitions of {num} and {den}")
        ratios = [a / b for a, b in zip(n, d)]
        print(f"{f}: {num}/{den} per repetition " + " ".join(f"{r:.2f}" for r in ratios) +
              f"; median {statistics.median(ratios):.2f}")


if __name__ == "__main__":
    main()
