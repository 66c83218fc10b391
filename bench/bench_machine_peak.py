"""Benchmark: the machine's measured peak, the ceiling the performance appendix compares every dense kernel with.

Dense matmul GFLOP/s in float32 and float64 (2048² matrices, best of 5) and memory bandwidth (a 256 MiB copy and
triad), at 1 thread and at every core, with the load before and after (noisy above 0.5 per core):
``lib.book.benchmarks.machine_peak``. Writes bench/results/machine_peak.json atomically.

Usage: python bench/bench_machine_peak.py [--threads 1 2]
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from lib.book.benchmarks import main  # noqa: E402

if __name__ == "__main__":
    raise SystemExit(main(["peak", *sys.argv[1:]]))
