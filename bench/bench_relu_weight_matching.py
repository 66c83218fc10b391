"""Benchmark: the kernels of the chapter's sections on ReLU approximations and weight matching, each against
what a user would otherwise write (thesis 000, §3.5), at several sizes.

1. ``grid_search``: the thesis's brute-force search of degree-3 ReLU approximations (``steps`` lattice values per
   coefficient on [-3, 3], 4 coefficients, two passes, both objectives on 601 grid points), swept over steps = 10 ...
   150 (the thesis: 150, i.e. 5.06e8 lattice points per pass). Library: ``lib.relu_approx.grid_search``, exact by
   sublevel-box pruning. Baseline: numpy enumeration of the lattice (``relu_approx.grid_search_bruteforce``, both
   passes), run in full at the smallest size (the optima must agree) and, above, timed on a slice of the first
   ``slice_points`` lattice points of pass 1 and scaled linearly to both passes (marked extrapolated).
2. ``tensor_sums``: the equivalent tensor weights of a d-input, m = 100 network at degree <= 3 (with multinomial
   factors), swept over d (the number of monomials). Library: ``lib.weight_matching.tensor_sums`` (gather-multiply
   over the lifting tables). Baseline: a Python loop over ``itertools.combinations_with_replacement`` with numpy
   products over units. Both must give the same weights.
3. ``pr_fit``: degree-3 polynomial regression on N rows, d = 15 (816 features; the chapter's d = 20 in the
   ``paper`` configuration), R = 2 targets sharing the inputs, swept over N. Library:
   ``lib.weight_matching.fit_polynomial_regression`` (chunked float64 normal equations, one Gram matrix for all
   targets: 2 N p^2 + p^3/3 flops). Baseline: scikit-learn ``PolynomialFeatures(3)`` +
   ``LinearRegression``, one fit per target, run up to N = 4,000 (extrapolated above). The predictions must agree.

Results: bench/results/relu_weight_matching.json.
Usage: python bench/bench_relu_weight_matching.py [--config quick|paper] [--threads N] [--smoke]
"""

from __future__ import annotations

import itertools
import math
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from lib import polyfeatures as pf  # noqa: E402
from lib import relu_approx as ra  # noqa: E402
from lib import weight_matching as wm  # noqa: E402

from _common import Baseline, Bench  # noqa: E402

CONFIGS = {
    "quick": dict(steps=[10, 25, 50, 150], slice_points=25_000, d=[10, 20, 30, 40], m=100, k=3,
                  pr_d=15, N=[1000, 2000, 4000, 8000], sklearn_max_N=4000, R=2),
    "paper": dict(steps=[10, 25, 50, 100, 150], slice_points=200_000, d=[10, 20, 30, 40, 60], m=100, k=3,
                  pr_d=20, N=[2000, 5000, 10000, 20000], sklearn_max_N=10000, R=4),
}
OBJECTIVES = ("l2", "linf")


def brute_two_pass(x: np.ndarray, w: np.ndarray, steps: int) -> list[float]:
    """The thesis's two passes by literal enumeration, for both objectives: the final optimum values."""
    out = []
    for obj in OBJECTIVES:
        lat = [ra.thesis_lattice(3.0, steps)] * 4
        for _ in range(2):
            a, best = ra.grid_search_bruteforce(lat, obj, x, w)
            step = [L[1] - L[0] for L in lat]
            lat = [np.linspace(a[j] - step[j], a[j] + step[j], steps) for j in range(4)]
        out.append(best)
    return out


def brute_slice(x: np.ndarray, w: np.ndarray, steps: int, n: int) -> None:
    """Both objectives on the first ``n`` points of the pass-1 lattice (chunks of 50,000, as the enumeration)."""
    lat = ra.thesis_lattice(3.0, steps)
    A = np.stack([lat[i] for i in np.unravel_index(np.arange(n), (steps,) * 4)], axis=1)
    for s in range(0, n, 50_000):
        for obj in OBJECTIVES:
            ra.objective_value(A[s:s + 50_000], obj, x, w).min()


def bench_grid(b: Bench, c: dict) -> None:
    x = ra.x_grid(601)
    w = ra.normal_pdf(x)

    def same_optima(lib_res, brute: list[float] | None) -> dict:
        lib_v = [r[-1].value for r in lib_res]
        out = {"optima": lib_v, "lattice_points_evaluated_by_library": [g.n_evaluated for r in lib_res for g in r]}
        if brute is not None:   # the full enumeration ran (not a slice)
            out["max_rel_diff"] = max(abs(a - c) / max(abs(c), 1e-300) for a, c in zip(lib_v, brute))
            if out["max_rel_diff"] > 1e-9:
                raise SystemExit(f"grid search and enumeration disagree: {lib_v} vs {brute}")
        return out

    for steps in b.sizes(c["steps"]):
        n_pass = steps**4
        n = min(n_pass, c["slice_points"])
        full = n == n_pass
        base = (Baseline("numpy enumeration of the lattice (both passes)", lambda s=steps: brute_two_pass(x, w, s),
                         check=same_optima) if full else
                Baseline("numpy enumeration of the lattice (both passes)", lambda s=steps, n=n: brute_slice(x, w, s, n),
                         part=n / (2 * n_pass), check=same_optima,
                         note=f"enumeration timed on the first {n:,} of the {n_pass:,} pass-1 lattice points, "
                              "scaled linearly to both passes"))
        b.point("exact grid search by sublevel-box pruning (relu_approx.grid_search)",
                dict(lattice_points=n_pass, steps=steps, x_points=601),
                lambda s=steps: [ra.grid_search(o, x, w, steps=s) for o in OBJECTIVES], [base],
                sweep="lattice_points", repeat=3, warmup=0)


def bench_tensor_sums(b: Bench, c: dict) -> None:
    m, k = c["m"], c["k"]
    for d in b.sizes(c["d"]):
        g = torch.Generator().manual_seed(0)
        W = torch.randn(d, m, generator=g, dtype=torch.float64)
        bias = torch.full((m,), m**-0.5, dtype=torch.float64)
        tab = pf.monomial_tables(d, k)
        Wn, bn = W.numpy(), bias.numpy()

        def loop(d=d, Wn=Wn, bn=bn):
            out = []
            for t in range(1, k + 1):
                for tup in itertools.combinations_with_replacement(range(d), t):
                    mult = math.factorial(t) / math.prod(math.factorial(int(a)) for a in np.bincount(tup, minlength=d))
                    out.append(mult * float(bn @ np.prod(Wn[list(tup)], axis=0)))
            return np.array(out)

        def same(S, ref) -> dict:
            err = float(np.abs(ref - S.numpy()).max())
            if err > 1e-10:
                raise SystemExit(f"tensor_sums disagrees with the loop: {err}")
            return {"max_abs_diff": err}

        n_mono = pf.count_monomials(d, k)
        b.point("equivalent tensor weights (weight_matching.tensor_sums)", dict(monomials=n_mono, d=d, m=m, k=k),
                lambda W=W, bias=bias, tab=tab: torch.cat(wm.tensor_sums(W, bias, tab)),
                [Baseline("Python loop over monomials", loop, check=same)], sweep="monomials", repeat=5,
                bytes_moved=32.0 * n_mono * m)  # per monomial: read a parent row and a row of W, write, sum


def bench_pr(b: Bench, c: dict) -> None:
    from sklearn.linear_model import LinearRegression
    from sklearn.preprocessing import PolynomialFeatures

    d, k, R = c["pr_d"], c["k"], c["R"]
    tab = pf.monomial_tables(d, k)
    p = 1 + tab.n_features
    for N in b.sizes(c["N"]):
        g = torch.Generator().manual_seed(1)
        X = torch.randn(N, d, generator=g, dtype=torch.float64)
        W = torch.rand(R, d, 100, generator=g, dtype=torch.float64) * 2 / d**0.5 - 1 / d**0.5
        Y = torch.relu(X @ W).sum(-1) / 10.0  # (R, N)
        Xn, Yn = X.numpy(), Y.numpy()

        def sk(Xn=Xn, Yn=Yn):
            preds = []
            for r in range(R):
                F = PolynomialFeatures(k).fit(Xn)
                model = LinearRegression(fit_intercept=False).fit(F.transform(Xn), Yn[r])
                preds.append(model.predict(F.transform(Xn[:1000])))
            return np.stack(preds)

        def same(fit, pred_sk, X=X) -> dict:
            err = float(np.abs(pred_sk - wm.pr_predict(X[:1000], fit.beta, tab).numpy()).max())
            if err > 1e-6:
                raise SystemExit(f"PR fits disagree: {err}")
            return {"max_abs_pred_diff": err}

        b.point("degree-3 polynomial regression, one float64 Gram for all targets (fit_polynomial_regression)",
                dict(N=N, p=p, R=R, d=d), lambda X=X, Y=Y: wm.fit_polynomial_regression(X, Y, tab),
                [Baseline("sklearn PolynomialFeatures(3) + LinearRegression per target",
                          sk if N <= c["sklearn_max_N"] else None, check=same)],
                sweep="N", repeat=2, warmup=0, flops=2.0 * N * p * p + p**3 / 3, dtype="float64")


def main(argv: list[str] | None = None) -> int:
    b = Bench("relu_weight_matching", __doc__, configs=CONFIGS, argv=argv)
    bench_grid(b, b.c)
    bench_tensor_sums(b, b.c)
    bench_pr(b, b.c)
    b.save({"what": __doc__.splitlines()[0], "params": b.c})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
