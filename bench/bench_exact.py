"""Benchmark: the exact algorithms of the chapter ``relu_function_spaces`` (thesis 003, Ch. 2) against what a
user would otherwise write, in one run.

1. Exact global ERM (Thm 2.4.1, Alg 1) for n = 2, D = 6, w = 2 (2,080 convex subproblems):
   * ``lib``        -- ``erm.erm_two_layer_exact``: batched Gram matrices, least-squares lower bounds, branch and
                       bound, quadprog on the remaining subproblems;
   * ``lib_all_qp`` -- the same with ``prune=False``: every subproblem solved by quadprog;
   * ``slsqp``      -- the straightforward approach: a Python loop building each subproblem and solving it with
                       ``scipy.optimize.minimize(method="SLSQP")`` with analytic gradients (what a user would write).
2. Exact piece count of the zig-zag H = h∘…∘h (w = 2, random a in the open simplex):
   * ``lib``      -- ``pwl.PWL.compose`` (numpy arrays of breakpoints), at k = 24 (≈1.7·10^7 pieces) and at k_cmp;
   * ``python``   -- a pure-Python list-of-breakpoints composition (one Python object per piece), at k_cmp;
   * ``sampling`` -- dense sampling of the net on [0,1] with 8 samples per piece and counting slope changes, at
                     k_cmp (and whether it even gets the count right).

Writes bench/results/exact.json atomically. Usage::

    OMP_NUM_THREADS=1 python bench/bench_exact.py [--k 24] [--k-cmp 16]
"""

from __future__ import annotations

import argparse
import itertools
import os
import platform
from pathlib import Path

import numpy as np
import torch
from scipy.optimize import minimize

from lib import erm
from lib import relu_constructions as rc

from _common import emit_schema, environment, timed

OUT = Path(__file__).resolve().parent / "results" / "exact.json"


def erm_slsqp(X: np.ndarray, y: np.ndarray, w: int) -> float:
    """Alg 1 as a user would write it: loop over multisets, one SLSQP solve per subproblem."""
    D, n = X.shape
    P = erm.hyperplane_dichotomies(X)
    opts = [(s, p) for s in (1.0, -1.0) for p in P]
    Xh = np.c_[X, np.ones(D)]
    best = np.inf
    for combo in itertools.combinations_with_replacement(range(len(opts)), w):
        Phi = np.concatenate([opts[o][0] * opts[o][1][:, None] * Xh for o in combo], axis=1)
        C = np.zeros((w * D, w * (n + 1)))
        for i, o in enumerate(combo):
            C[i * D:(i + 1) * D, i * (n + 1):(i + 1) * (n + 1)] = np.where(opts[o][1], 1.0, -1.0)[:, None] * Xh
        r = minimize(lambda th, Phi=Phi: np.mean((Phi @ th - y) ** 2), np.zeros(w * (n + 1)),
                     jac=lambda th, Phi=Phi: 2 * Phi.T @ (Phi @ th - y) / D, method="SLSQP",
                     constraints=[{"type": "ineq", "fun": lambda th, C=C: C @ th, "jac": lambda th, C=C: C}],
                     options={"ftol": 1e-12, "maxiter": 200})
        best = min(best, float(np.mean((Phi @ r.x - y) ** 2)))
    return best


def compose_python(outer_t, outer_v, outer_sl, outer_sr, t, v, sl, sr):
    """g∘f with Python lists, one object per breakpoint (the naive implementation)."""
    def g(y):
        if y <= outer_t[0]:
            return outer_v[0] + outer_sl * (y - outer_t[0])
        if y >= outer_t[-1]:
            return outer_v[-1] + outer_sr * (y - outer_t[-1])
        for i in range(len(outer_t) - 1):
            if outer_t[i] <= y <= outer_t[i + 1]:
                lam = (y - outer_t[i]) / (outer_t[i + 1] - outer_t[i])
                return outer_v[i] + lam * (outer_v[i + 1] - outer_v[i])

    xs, ys = [], []
    for i in range(len(t)):
        xs.append(t[i])
        ys.append(g(v[i]))
        if i + 1 < len(t):
            lo, hi = v[i], v[i + 1]
            pre = [c for c in outer_t if min(lo, hi) < c < max(lo, hi)]
            if hi < lo:
                pre.reverse()
            for c in pre:
                xs.append(t[i] + (c - lo) * (t[i + 1] - t[i]) / (hi - lo))
                ys.append(g(c))
    # (the tails of the zig-zag inner functions stay outside [0, 1]; the count below is on [0, 1])
    return xs, ys


def pieces_python(xs, ys, a, b):
    s = [(ys[i + 1] - ys[i]) / (xs[i + 1] - xs[i]) for i in range(len(xs) - 1) if a <= xs[i] and xs[i + 1] <= b]
    return 1 + sum(1 for i in range(len(s) - 1) if abs(s[i + 1] - s[i]) > 1e-9 * max(1.0, abs(s[i])))


def pieces_sampling(net: rc.ReLUNet, n_samples: int, chunk: int = 1 << 20) -> int:
    """Count slope changes of the net sampled on [0,1] (what one would do without an exact PWL type)."""
    x = np.linspace(0, 1, n_samples)
    changes, prev_slope = 0, None
    for s in range(0, n_samples - 1, chunk):
        xs = x[s:s + chunk + 1]
        y = net(xs)
        sl = np.diff(y) / np.diff(xs)
        if prev_slope is not None:
            changes += int(abs(sl[0] - prev_slope) > 1e-6 * max(1.0, abs(prev_slope)))
        changes += int(np.count_nonzero(np.abs(np.diff(sl)) > 1e-6 * np.maximum(1.0, np.abs(sl[:-1]))))
        prev_slope = sl[-1]
    return changes + 1  # counts kinks between samples as changes: ≈ 2 per true kink unless a sample hits it


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--k", type=int, default=24)
    ap.add_argument("--k-cmp", type=int, default=16)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    env = environment("cpu")
    res: dict = {"device": "cpu", "torch": torch.__version__, "numpy": np.__version__, "cpu_count": os.cpu_count(),
                 "omp_num_threads": os.environ.get("OMP_NUM_THREADS"), "platform": platform.platform()}

    # ---------------------------------------------------------------- 1. exact ERM
    rng = np.random.default_rng(0)
    X, y = rng.uniform(-1, 1, (6, 2)), rng.normal(size=6)
    t_lib, r_lib = timed(lambda: erm.erm_two_layer_exact(X, y, 2), args.repeat)
    t_all, r_all = timed(lambda: erm.erm_two_layer_exact(X, y, 2, prune=False), args.repeat)
    t_sl, opt_sl = timed(lambda: erm_slsqp(X, y, 2), 1)
    res["erm"] = {"n": 2, "D": 6, "w": 2, "subproblems": r_lib["n_subproblems"], "qp_solved_lib": r_lib["n_qp"],
                  "opt_lib": r_lib["opt"], "opt_lib_all_qp": r_all["opt"], "opt_slsqp": opt_sl,
                  "seconds": {"lib": t_lib, "lib_all_qp": t_all, "slsqp": t_sl},
                  "ratio_slsqp_over_lib": t_sl / t_lib, "ratio_slsqp_over_lib_all_qp": t_sl / t_all,
                  "target_seconds": 1.0, "meets_target": bool(t_lib <= 1.0)}
    print(f"ERM n=2 D=6 w=2 ({r_lib['n_subproblems']} subproblems): lib {t_lib:.3f} s ({r_lib['n_qp']} QPs), "
          f"all-QP {t_all:.3f} s, SLSQP loop {t_sl:.2f} s -> x{t_sl / t_lib:.0f} / x{t_sl / t_all:.0f}; "
          f"OPT {r_lib['opt']:.10f} vs SLSQP {opt_sl:.10f}")

    # ---------------------------------------------------------------- 2. zig-zag piece counts
    rng = np.random.default_rng(1)
    a_list = [[float(rng.uniform(0.2, 0.8))] for _ in range(args.k)]
    t_big, H = timed(lambda: rc.zigzag_compose_pwl(a_list).pieces_in(0, 1), 1)
    print(f"zig-zag w=2 k={args.k}: {H:,} pieces in [0,1] (2^k = {2 ** args.k:,}) in {t_big:.2f} s")
    kc = args.k_cmp
    t_lib_c, n_lib_c = timed(lambda: rc.zigzag_compose_pwl(a_list[:kc]).pieces_in(0, 1), args.repeat)

    def python_version():
        h = [rc.zigzag_pwl(a) for a in a_list[:kc]]
        t, v, sl, sr = list(h[0].t), list(h[0].v), h[0].sl, h[0].sr
        for hk in h[1:]:
            t, v = compose_python(list(hk.t), list(hk.v), hk.sl, hk.sr, t, v, sl, sr)
        return pieces_python(t, v, 0.0, 1.0)

    t_py, n_py = timed(python_version, 1)
    net = rc.zigzag_net(a_list[:kc])
    n_samp = 8 * 2**kc
    t_smp, n_smp = timed(lambda: pieces_sampling(net, n_samp), 1)
    res["zigzag"] = {"w": 2, "k": args.k, "pieces": int(H), "exact": bool(H == 2 ** args.k), "seconds_lib": t_big,
                     "target_seconds": 10.0, "meets_target": bool(t_big <= 10.0),
                     "compare_k": kc, "compare_pieces_true": 2**kc,
                     "compare": {"lib": {"seconds": t_lib_c, "pieces": int(n_lib_c)},
                                 "python_lists": {"seconds": t_py, "pieces": int(n_py)},
                                 "dense_sampling": {"seconds": t_smp, "pieces": int(n_smp), "samples": n_samp}},
                     "ratio_python_over_lib": t_py / t_lib_c, "ratio_sampling_over_lib": t_smp / t_lib_c}
    print(f"k={kc}: lib {t_lib_c:.4f} s ({n_lib_c}), python lists {t_py:.2f} s ({n_py}) -> x{t_py / t_lib_c:.0f}, "
          f"dense sampling ({n_samp:,} samples) {t_smp:.2f} s ({n_smp} 'pieces', true {2 ** kc}) -> "
          f"x{t_smp / t_lib_c:.0f}")

    emit_schema(OUT, "exact", res, env)
    print("wrote", OUT)


if __name__ == "__main__":
    main()
