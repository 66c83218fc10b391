"""Benchmark: the batched corrective construction vs the straightforward per-neuron loop.

Work: l rounds of the corrective memorization construction (Nagaraj & Bresler 2020, slides L232–L274) on B data
sets of n points: each round draws N0 units (ξ, T), computes the residual's Fourier transform F(ξ), the explicit
output weights 4η(T)/N0 and the round's output, and subtracts it.

- ``loop``: ``lib.memorization.corrective_memorize_loop`` — for each data set, for each round, for each unit: numpy
  complex arithmetic, one unit at a time (what the slides' formula suggests writing).
- ``batched``: ``lib.memorization.corrective_memorize_from_draws`` — all data sets and units of a round as one
  tensor program (einsum over (B, N0, n)), float64.

Both consume the SAME draws (ξ, T); the script checks that the residual histories agree (relative 1e−6; the terms
are of size ω²|F| ≫ the result, so agreement is limited by cancellation, not by the method).  The batched kernel with
its own generator (``corrective_memorize``, what the chapter calls) is timed as well.
Results: bench/results/memorization.json (written atomically).

Usage: python bench/bench_memorization.py [--config quick|paper] [--threads N]
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from lib import memorization as mm  # noqa: E402

from _common import write_json  # noqa: E402

CONFIGS = {
    # the chapter's rounds experiment, shrunk so the loop finishes in seconds
    "quick": dict(B=4, n=8, d=5, theta=0.5, N0=2000, L=3),
    # a paper-scale round: more points and units
    "paper": dict(B=8, n=32, d=16, theta=0.5, N0=20000, L=3),
}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", choices=sorted(CONFIGS), default="quick")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "memorization.json"))
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    c = CONFIGS[a.config]
    g = torch.Generator().manual_seed(0)
    X, y = mm.sphere_pairs(c["n"], c["d"], c["theta"], B=c["B"], generator=g)
    sigma = float(mm.default_sigma(c["n"], c["theta"]))
    rng = np.random.default_rng(0)
    xi = sigma * rng.standard_normal((c["B"], c["L"], c["N0"], c["d"]))
    T = rng.uniform(-2, 2, (c["B"], c["L"], c["N0"]))
    xi_t, T_t = torch.tensor(xi), torch.tensor(T)

    mm.corrective_memorize_from_draws(X, y, xi_t, T_t)  # warm-up
    t_b = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        hist_b = mm.corrective_memorize_from_draws(X, y, xi_t, T_t)
        t_b = min(t_b, time.perf_counter() - t0)
    t_g = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        mm.corrective_memorize(X, y, c["N0"], c["L"], sigma, generator=g)
        t_g = min(t_g, time.perf_counter() - t0)
    t0 = time.perf_counter()
    hist_l = np.stack([mm.corrective_memorize_loop(X[b].numpy(), y[b].numpy(), c["N0"], c["L"], sigma,
                                                   draws=(xi[b], T[b])) for b in range(c["B"])])
    t_l = time.perf_counter() - t0
    scale = np.abs(hist_l).max()
    diff = float(np.abs(hist_b.numpy() - hist_l).max() / scale)
    if diff > 1e-6:
        raise SystemExit(f"batched and loop disagree: max relative difference {diff:.2e}")
    res = {
        "benchmark": "memorization",
        "what": "l rounds of the corrective construction (N0 units each) on B data sets, same draws",
        "config": a.config, **c,
        "device": "cpu", "device_name": platform.processor() or platform.machine(),
        "torch": torch.__version__, "python": platform.python_version(), "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(), "load_average_1min": os.getloadavg()[0],
        "batched_s": round(t_b, 4), "batched_with_generator_s": round(t_g, 4), "loop_s": round(t_l, 3),
        "speedup": round(t_l / t_b, 1),
        "units_x_points_per_s_batched": round(c["B"] * c["L"] * c["N0"] * c["n"] / t_b),
        "units_x_points_per_s_loop": round(c["B"] * c["L"] * c["N0"] * c["n"] / t_l),
        "max_rel_diff_residuals": diff,
    }
    out = Path(a.out)
    import json
    doc = json.loads(out.read_text()) if out.exists() else {}
    doc[f"{a.config}_cpu_{torch.get_num_threads()}threads"] = res
    write_json(out, doc)
    print(f"[{a.config}, cpu, {res['torch_threads']} threads, load {res['load_average_1min']:.1f}] "
          f"batched {t_b:.3f}s, loop {t_l:.2f}s, speedup {res['speedup']}x, max rel diff {diff:.1e}")


if __name__ == "__main__":
    main()
