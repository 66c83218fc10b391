"""Benchmark: the kernels of the chapter's sections on ReLU approximations and weight matching, each against
what a user would otherwise write (thesis 000, §3.5).

1. ``grid_search``: the thesis's brute-force search of degree-3 ReLU approximations (150 steps per coefficient on
   [-3, 3]^4, two passes, objective on 601 grid points). Library: ``lib.relu_approx.grid_search``, exact by
   sublevel-box pruning. Baseline: vectorised numpy enumeration of the lattice. It is timed on a slice of
   ``slice_points`` lattice points and extrapolated linearly to the 150^4 = 5.06e8 points of one pass (marked
   ``extrapolated``). Running it in full would take hours.
2. ``tensor_sums``: the equivalent tensor weights of a d = 20, m = 100 network at degree <= 3 (1,770 monomials,
   with multinomial factors). Library: ``lib.weight_matching.tensor_sums`` (gather-multiply over the lifting
   tables). Baseline: a Python loop over ``itertools.combinations_with_replacement`` with numpy products over
   units. The script checks that both give the same weights.
3. ``pr_fit``: degree-3 polynomial regression on N rows, d = 20, R targets sharing the inputs. Library:
   ``lib.weight_matching.fit_polynomial_regression`` (chunked float64 normal equations, one Gram matrix for all
   targets). Baseline: scikit-learn ``PolynomialFeatures(3)`` + ``LinearRegression``, one fit per target. The
   script checks that the predictions agree.

Results: bench/results/relu_weight_matching.json (written atomically).
Usage: python bench/bench_relu_weight_matching.py [--config quick|paper] [--threads N]
"""

from __future__ import annotations

import argparse
import itertools
import math
import os
import platform
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from lib import polyfeatures as pf  # noqa: E402
from lib import relu_approx as ra  # noqa: E402
from lib import weight_matching as wm  # noqa: E402

from _common import emit_schema, environment, timed  # noqa: E402

CONFIGS = {
    "quick": dict(slice_points=200_000, d=20, m=100, k=3, N=5_000, R=2),
    "paper": dict(slice_points=1_000_000, d=20, m=100, k=3, N=20_000, R=4),
}


def bench_grid(c: dict) -> dict:
    x = ra.x_grid(601)
    w = ra.normal_pdf(x)
    t_lib, res = timed(lambda: (ra.grid_search("l2", x, w), ra.grid_search("linf", x, w)))
    lat = ra.thesis_lattice()
    n_full = len(lat) ** 4
    n = c["slice_points"]
    idx = np.unravel_index(np.arange(n), (150,) * 4)
    A = np.stack([lat[i] for i in idx], axis=1)

    def brute():
        out = []
        for s in range(0, n, 50_000):
            out.append(ra.objective_value(A[s:s + 50_000], "l2", x, w).min())
            out.append(ra.objective_value(A[s:s + 50_000], "linf", x, w).min())
        return out

    t_slice, _ = timed(brute)
    t_brute = t_slice / n * n_full * 2  # both objectives were timed; two passes each
    return {"library_s": t_lib, "baseline_s_extrapolated": t_brute, "baseline_slice_points": n,
            "baseline_slice_s": t_slice, "lattice_points_per_pass": n_full,
            "points_evaluated_library": [g.n_evaluated for r in res for g in r],
            "ratio": t_brute / t_lib, "extrapolated": True}


def bench_tensor_sums(c: dict) -> dict:
    d, m, k = c["d"], c["m"], c["k"]
    g = torch.Generator().manual_seed(0)
    W = torch.randn(d, m, generator=g, dtype=torch.float64)
    b = torch.full((m,), m**-0.5, dtype=torch.float64)
    tab = pf.monomial_tables(d, k)
    t_lib, S = timed(lambda: torch.cat(wm.tensor_sums(W, b, tab)), repeat=3)
    Wn, bn = W.numpy(), b.numpy()

    def loop():
        out = []
        for t in range(1, k + 1):
            for tup in itertools.combinations_with_replacement(range(d), t):
                mult = math.factorial(t) / math.prod(math.factorial(int(a)) for a in np.bincount(tup, minlength=d))
                out.append(mult * float(bn @ np.prod(Wn[list(tup)], axis=0)))
        return np.array(out)

    t_loop, ref = timed(loop)
    err = float(np.abs(ref - S.numpy()).max())
    if err > 1e-10:
        raise RuntimeError(f"tensor_sums disagrees with the loop: {err}")
    return {"library_s": t_lib, "baseline_s": t_loop, "ratio": t_loop / t_lib, "max_abs_diff": err,
            "n_monomials": int(S.numel())}


def bench_pr(c: dict) -> dict:
    from sklearn.linear_model import LinearRegression
    from sklearn.preprocessing import PolynomialFeatures

    d, k, N, R = c["d"], c["k"], c["N"], c["R"]
    g = torch.Generator().manual_seed(1)
    X = torch.randn(N, d, generator=g, dtype=torch.float64)
    W = torch.rand(R, d, 100, generator=g, dtype=torch.float64) * 2 / d**0.5 - 1 / d**0.5
    Y = torch.relu(X @ W).sum(-1) / 10.0  # (R, N)
    tab = pf.monomial_tables(d, k)
    t_lib, fit = timed(lambda: wm.fit_polynomial_regression(X, Y, tab))
    pred_lib = wm.pr_predict(X[:2000], fit.beta, tab).numpy()
    Xn, Yn = X.numpy(), Y.numpy()

    def sk():
        preds = []
        for r in range(R):
            F = PolynomialFeatures(k).fit(Xn)
            model = LinearRegression(fit_intercept=False).fit(F.transform(Xn), Yn[r])
            preds.append(model.predict(F.transform(Xn[:2000])))
        return np.stack(preds)

    t_sk, pred_sk = timed(sk)
    err = float(np.abs(pred_sk - pred_lib).max())
    if err > 1e-6:
        raise RuntimeError(f"PR fits disagree: {err}")
    return {"library_s": t_lib, "baseline_s": t_sk, "ratio": t_sk / t_lib, "max_abs_pred_diff": err,
            "N": N, "R": R, "n_features": 1 + tab.n_features}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--config", choices=sorted(CONFIGS), default="quick")
    ap.add_argument("--threads", type=int, default=None)
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    c = CONFIGS[args.config]
    env = environment("cpu")
    results = {"grid_search": bench_grid(c), "tensor_sums": bench_tensor_sums(c), "pr_fit": bench_pr(c)}
    doc = {"benchmark": "relu_weight_matching", "config": args.config, "params": c, "device": "cpu",
           "torch": torch.__version__, "cpu_count": os.cpu_count(), "threads": torch.get_num_threads(),
           "platform": platform.platform(), "results": results}
    for name, r in results.items():
        print(f"{name:12s} library {r['library_s']:.3f} s  baseline "
              f"{r.get('baseline_s', r.get('baseline_s_extrapolated')):.3f} s  ratio {r['ratio']:.1f}x"
              + ("  (baseline extrapolated)" if r.get("extrapolated") else ""))
    out = ROOT / "bench" / "results" / "relu_weight_matching.json"
    emit_schema(out, "relu_weight_matching", doc, env)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
