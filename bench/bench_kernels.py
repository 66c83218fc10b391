"""Benchmark: the batched sweeps of the chapter low_rank_polynomials against the loops a user would write, at
several sizes.

- ``krr``: kernel ridge regression at every sample size of a nested grid (14 sizes up to N) for B = 3 data sets
  (``lib.kernels.krr_nested``: one Cholesky per data set, shared forward substitution, one back substitution per
  size) against one ``torch.linalg.solve`` per (data set, size) (``lib.kernels.krr_loop``) -- the T2/T3 sweep,
  swept over N. Flops of one library call: B (N^3/3 + N^2 + sum_n (n^2 + 2 M n)), M test points.
- ``fista``: the minimum-nuclear-norm interpolant (Bregman rounds of FISTA steps) for every (sample size, seed) of
  a T1 sweep (7 sample sizes x seeds) as one batched call on the zero-padded stack with its prefix counts, as the
  chapter runs it (``lib.nuclear_interp.nuclear_min_interp``), against one call per problem, swept over the number
  of problems; the loop runs the first seed's 7 problems and is scaled linearly.

Both methods must give the same results (checked at every size).
Results: bench/results/kernels.json.
Usage: python bench/bench_kernels.py [--config quick|paper] [--device cpu|cuda] [--threads N] [--smoke]
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from lib import kernels as kr  # noqa: E402
from lib import low_rank as lr  # noqa: E402
from lib import nuclear_interp as ni  # noqa: E402

from _common import Baseline, Bench  # noqa: E402

CONFIGS = {
    # T2 at quick scale (d = 32, 14 sizes up to N, 3 data sets); T1 at d = 20, r = 1, 7 sizes x seeds
    "quick": dict(krr=dict(B=3, N=[200, 400, 800, 1600], d=32, S=14, M=1000),
                  fista=dict(d=20, r=1, seeds=[1, 3, 9, 27], iters=200)),
    # the paper-scale T2 sweep (N up to 12000) and T1 at d = 40
    "paper": dict(krr=dict(B=3, N=[1500, 3000, 6000, 12000], d=64, S=14, M=4000),
                  fista=dict(d=40, r=2, seeds=[1, 3, 10, 30], iters=1000)),
}


def bench_krr(b: Bench, c: dict) -> None:
    dev = b.device
    for N in b.sizes(c["N"]):
        g = torch.Generator(device=dev).manual_seed(0)
        X = torch.randn(c["B"], N, c["d"], generator=g, device=dev, dtype=torch.float64)
        Xt = torch.randn(c["B"], c["M"], c["d"], generator=g, device=dev, dtype=torch.float64)
        y = torch.relu(X[..., 0])
        K, Kt = kr.relu_ntk(X, X), kr.relu_ntk(Xt, X)
        sizes = np.unique(np.geomspace(c["d"] / 2, N, c["S"]).astype(int))

        def same(a, ref) -> dict:
            err = float(((a - ref).abs().max() / ref.abs().max()).item())
            if err > 1e-6:
                raise SystemExit(f"nested and looped KRR disagree: {err:.2e}")
            return {"max_rel_diff": err}

        flops = c["B"] * (N**3 / 3 + N**2 + sum(float(n) ** 2 + 2.0 * c["M"] * n for n in sizes))
        b.point("nested kernel ridge (krr_nested: one Cholesky for all sizes)",
                dict(N=N, sizes=len(sizes), B=c["B"], M=c["M"], d=c["d"]),
                lambda K=K, y=y, Kt=Kt, s=sizes: kr.krr_nested(K, y, Kt, s, 1e-6),
                [Baseline("a torch.linalg.solve per (data set, size) (krr_loop)",
                          lambda K=K, y=y, Kt=Kt, s=sizes: kr.krr_loop(K, y, Kt, s, 1e-6), check=same)],
                sweep="N", repeat=3 if N <= 800 else 2, flops=flops, dtype="float64")


def bench_fista(b: Bench, c: dict) -> None:
    dev = b.device
    d, r = c["d"], c["r"]
    dof = d * r - r * (r - 1) // 2
    ns = sorted({max(2, int(round(k * dof))) for k in (0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 4.0)})
    for S in b.sizes(c["seeds"]):
        g = torch.Generator(device=dev).manual_seed(1)
        Ms = lr.low_rank_quadratic(S, d, r, generator=g)
        X = torch.randn(S, max(ns), d, generator=g, device=dev, dtype=torch.float64)
        y = lr.quad_forms(X, Ms)
        mk = torch.stack([(torch.arange(max(ns), device=dev) < n) for n in ns]).double().repeat_interleave(S, 0)
        Xp, yp = X.repeat(len(ns), 1, 1) * mk.unsqueeze(-1), y.repeat(len(ns), 1) * mk

        def loop_first_seed(X=X, y=y):
            return torch.cat([ni.nuclear_min_interp(X[:1, :n], y[:1, :n], iters=c["iters"]).M for n in ns])

        def same(a, first, S=S, Ms=Ms) -> dict:
            # the batched stack is ordered (size, seed): seed 0 of every size is row s * S
            ea = lr.matrix_rel_error(a[:: S], Ms[:1].repeat(len(ns), 1, 1))
            eb = lr.matrix_rel_error(first, Ms[:1].repeat(len(ns), 1, 1))
            diff = float((ea - eb).abs().max().item())
            if diff > 1e-6:
                raise SystemExit(f"batched and looped solvers disagree: {diff:.2e}")
            return {"max_abs_diff_rel_error": diff}

        n_prob = len(ns) * S
        b.point("batched min-nuclear interpolant over problems (nuclear_interp.nuclear_min_interp, padded stack "
                "with counts)",
                dict(problems=n_prob, seeds=S, sizes=len(ns), d=d, r=r, iters=c["iters"]),
                lambda Xp=Xp, yp=yp, mk=mk: ni.nuclear_min_interp(Xp, yp, iters=c["iters"], counts=mk.sum(1)).M,
                [Baseline("a solver call per problem", loop_first_seed, part=len(ns) / n_prob, check=same,
                          note=f"loop timed on the first seed's {len(ns)} of the {n_prob} problems, scaled "
                               "linearly")],
                sweep="problems", repeat=3 if S <= 3 else 2, warmup=1 if S <= 3 else 0)


def main(argv: list[str] | None = None) -> int:
    b = Bench("kernels", __doc__, configs=CONFIGS, argv=argv)
    bench_krr(b, b.c["krr"])
    bench_fista(b, b.c["fista"])
    b.save({"what": __doc__.splitlines()[0], "params": b.c})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
