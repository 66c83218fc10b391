"""Benchmark: the batched corrective construction vs the straightforward per-neuron loop, at several widths.

Work: l rounds of the corrective memorization construction (Nagaraj & Bresler 2020, slides L232–L274) on B data
sets of n points: each round draws N0 units (ξ, T), computes the residual's Fourier transform F(ξ), the explicit
output weights 4η(T)/N0 and the round's output, and subtracts it. Swept over the units per round N0; the loop
runs up to ``loop_max_N0`` and is extrapolated above from its measured sizes.

- baseline: ``lib.memorization.corrective_memorize_loop`` — for each data set, for each round, for each unit:
  numpy complex arithmetic, one unit at a time (what the slides' formula suggests writing).
- library: ``lib.memorization.corrective_memorize_from_draws`` — all data sets and units of a round as one tensor
  program (einsum over (B, N0, n)), float64.

Both consume the SAME draws (ξ, T); every point checks that the residual histories agree (relative 1e−6; the
terms are of size ω²|F| ≫ the result, so agreement is limited by cancellation, not by the method).
Results: bench/results/memorization.json.

Usage: python bench/bench_memorization.py [--config quick|paper] [--threads N] [--smoke]
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from lib import memorization as mm  # noqa: E402

from _common import Baseline, Bench  # noqa: E402

CONFIGS = {
    # the chapter's rounds experiment, shrunk so the loop finishes in seconds
    "quick": dict(B=4, n=8, d=5, theta=0.5, N0=[500, 2000, 8000, 32000], loop_max_N0=8000, L=3),
    # paper-scale rounds: more points and units
    "paper": dict(B=8, n=32, d=16, theta=0.5, N0=[2500, 5000, 10000, 20000], loop_max_N0=10000, L=3),
}


def same_history(hist_b: torch.Tensor, hist_l: np.ndarray) -> dict:
    diff = float(np.abs(hist_b.numpy() - hist_l).max() / np.abs(hist_l).max())
    if diff > 1e-6:
        raise SystemExit(f"batched and loop disagree: max relative difference {diff:.2e}")
    return {"max_rel_diff_residuals": diff}


def main(argv: list[str] | None = None) -> int:
    b = Bench("memorization", __doc__, configs=CONFIGS, argv=argv)
    c = b.c
    X, y = mm.sphere_pairs(c["n"], c["d"], c["theta"], B=c["B"], generator=torch.Generator().manual_seed(0))
    sigma = float(mm.default_sigma(c["n"], c["theta"]))
    for N0 in b.sizes(c["N0"]):
        rng = np.random.default_rng(0)
        xi = sigma * rng.standard_normal((c["B"], c["L"], N0, c["d"]))
        T = rng.uniform(-2, 2, (c["B"], c["L"], N0))
        xi_t, T_t = torch.tensor(xi), torch.tensor(T)

        def loop(N0=N0, xi=xi, T=T):
            return np.stack([mm.corrective_memorize_loop(X[i].numpy(), y[i].numpy(), N0, c["L"], sigma,
                                                         draws=(xi[i], T[i])) for i in range(c["B"])])

        b.point("batched corrective construction over data sets (corrective_memorize_from_draws)",
                dict(N0=N0, B=c["B"], L=c["L"], n=c["n"], d=c["d"]),
                lambda xi_t=xi_t, T_t=T_t: mm.corrective_memorize_from_draws(X, y, xi_t, T_t),
                [Baseline("per-data-set, per-unit numpy loop (corrective_memorize_loop)",
                          loop if N0 <= c["loop_max_N0"] else None, check=same_history)],
                sweep="N0", repeat=5)
    b.save({"what": "l rounds of the corrective construction (N0 units each) on B data sets, same draws",
            "params": c})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
