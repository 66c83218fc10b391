"""Benchmark: the exact algorithms of the chapter ``relu_function_spaces`` (thesis 003, Ch. 2) against what a
user would otherwise write, at several sizes, in one run.

1. Exact global ERM (Thm 2.4.1, Alg 1) for n = 2, w = 2 on D = 4 ... 7 points (406 ... 3,916 convex subproblems):
   * library -- ``erm.erm_two_layer_exact``: batched Gram matrices, least-squares lower bounds, branch and
     bound, quadprog on the remaining subproblems;
   * baseline -- a Python loop building each subproblem and solving it with ``scipy.optimize.minimize(method=
     "SLSQP")`` with analytic gradients (what a user would write); run up to D = 6, extrapolated at D = 7 from
     its power law in the number of subproblems;
   * baseline -- the library with ``prune=False``: every subproblem solved by quadprog.
   The optima must agree.
2. Exact piece count of the zig-zag H = h∘…∘h (w = 2, random a in the open simplex), k = 13 ... 22 compositions
   (2^k pieces):
   * library -- ``relu_constructions.zigzag_compose_pwl`` (numpy arrays of breakpoints);
   * baseline -- a pure-Python list-of-breakpoints composition (one Python object per piece), up to k = 19;
   * baseline -- dense sampling of the net on [0,1] with 8 samples per piece, counting slope changes (it does not
     even get the count right: recorded), up to k = 19.

Results: bench/results/exact.json. Usage: OMP_NUM_THREADS=1 python bench/bench_exact.py [--smoke]
"""

from __future__ import annotations

import itertools

import numpy as np
from scipy.optimize import minimize

from lib import erm
from lib import relu_constructions as rc

from _common import Baseline, Bench

SIZES = dict(erm_D=[4, 5, 6, 7], slsqp_max_D=6, zigzag_k=[13, 16, 19, 22], baseline_max_k=19)


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


def python_pieces(a_list: list) -> int:
    h = [rc.zigzag_pwl(a) for a in a_list]
    t, v, sl, sr = list(h[0].t), list(h[0].v), h[0].sl, h[0].sr
    for hk in h[1:]:
        t, v = compose_python(list(hk.t), list(hk.v), hk.sl, hk.sr, t, v, sl, sr)
    return pieces_python(t, v, 0.0, 1.0)


def same_opt(res: dict, opt: float) -> dict:
    opt = opt["opt"] if isinstance(opt, dict) else opt
    diff = abs(res["opt"] - opt)
    if diff > 1e-6 * max(1.0, abs(opt)):
        raise SystemExit(f"exact ERM and its baseline disagree: {res['opt']} vs {opt}")
    return {"opt_lib": res["opt"], "opt_baseline": opt, "qp_solved_lib": res["n_qp"]}


def main(argv: list[str] | None = None) -> int:
    b = Bench("exact", __doc__, argv=argv)
    for D in b.sizes(SIZES["erm_D"]):
        rng = np.random.default_rng(0)
        X, y = rng.uniform(-1, 1, (D, 2)), rng.normal(size=D)
        n_sub = erm.erm_two_layer_exact(X, y, 2)["n_subproblems"]
        run = D <= SIZES["slsqp_max_D"]
        b.point("exact ERM (erm_two_layer_exact: closed-form bounds, branch and bound)",
                dict(subproblems=n_sub, D=D, n=2, w=2), lambda X=X, y=y: erm.erm_two_layer_exact(X, y, 2), [
                    Baseline("scipy SLSQP per subproblem (Python loop)",
                             (lambda X=X, y=y: erm_slsqp(X, y, 2)) if run else None, check=same_opt),
                    Baseline("the library without pruning (quadprog on every subproblem)",
                             lambda X=X, y=y: erm.erm_two_layer_exact(X, y, 2, prune=False), check=same_opt)],
                sweep="subproblems", repeat=3)
    rng = np.random.default_rng(1)
    a_list = [[float(rng.uniform(0.2, 0.8))] for _ in range(max(SIZES["zigzag_k"]))]

    def exact_count(n: int, k: int) -> dict:
        return {"pieces_counted": int(n), "pieces_true": 2**k, "exact": bool(n == 2**k)}

    for k in b.sizes(SIZES["zigzag_k"]):
        run = k <= SIZES["baseline_max_k"]
        net = rc.zigzag_net(a_list[:k])
        b.point("exact zig-zag composition (zigzag_compose_pwl, vectorised)", dict(pieces=2**k, k=k, w=2),
                lambda k=k: rc.zigzag_compose_pwl(a_list[:k]).pieces_in(0, 1), [
                    Baseline("pure-Python piece lists", (lambda k=k: python_pieces(a_list[:k])) if run else None,
                             check=lambda n, m, k=k: exact_count(m, k)),
                    Baseline("dense sampling, 8 samples per piece",
                             (lambda k=k, net=net: pieces_sampling(net, 8 * 2**k)) if run else None,
                             check=lambda n, m, k=k: exact_count(m, k))],
                sweep="pieces", repeat=3 if k < 22 else 2, warmup=1 if k < 22 else 0)
    b.save({"what": __doc__.splitlines()[0], "sizes": SIZES})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
