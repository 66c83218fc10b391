"""Benchmark: the batched sweeps of the chapter low_rank_polynomials against the loops a user would write.

Two kernels, each timed against its baseline in the same process, with the same results checked:

- ``krr``: kernel ridge regression at every sample size of a nested grid for B data sets
  (lib.kernels.krr_nested: one Cholesky per data set, shared forward substitution, one back substitution per size)
  against one ``torch.linalg.solve`` per (data set, size) (lib.kernels.krr_loop) -- the T2/T3 sweep.
- ``fista``: nuclear-norm least squares for every (sample size, seed) of a T1 sweep as one batched FISTA
  (lib.low_rank.nuclear_fista on the zero-padded stack) against one FISTA call per problem.

Results: bench/results/kernels.json (written atomically).
Usage: python bench/bench_kernels.py [--config quick|paper] [--device cpu|cuda] [--threads N]
"""

from __future__ import annotations

import argparse
import platform
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from lib import kernels as kr  # noqa: E402
from lib import low_rank as lr  # noqa: E402

from _common import timed, write_json  # noqa: E402

CONFIGS = {
    # T2 at quick scale (d = 32, N = 1600, 14 sizes, 3 seeds); T1 at d = 20, r = 1, 7 sizes x 3 seeds
    "quick": dict(krr=dict(B=3, N=1600, d=32, S=14, M=1000), fista=dict(d=20, r=1, seeds=3, iters=400)),
    # the paper-scale T2 sweep (N = 12000) and T1 at d = 40
    "paper": dict(krr=dict(B=3, N=12000, d=64, S=14, M=4000), fista=dict(d=40, r=2, seeds=10, iters=1000)),
}


def bench_krr(c: dict, device: str) -> dict:
    g = torch.Generator(device=device).manual_seed(0)
    X = torch.randn(c["B"], c["N"], c["d"], generator=g, device=device, dtype=torch.float64)
    Xt = torch.randn(c["B"], c["M"], c["d"], generator=g, device=device, dtype=torch.float64)
    y = torch.relu(X[..., 0])
    K, Kt = kr.relu_ntk(X, X), kr.relu_ntk(Xt, X)
    sizes = np.unique(np.geomspace(c["d"] / 2, c["N"], c["S"]).astype(int))
    tb, a = timed(lambda: kr.krr_nested(K, y, Kt, sizes, 1e-6))
    tl, b = timed(lambda: kr.krr_loop(K, y, Kt, sizes, 1e-6))
    err = float(((a - b).abs().max() / b.abs().max()).item())
    return {"config": c, "sizes": sizes.tolist(), "batched_s": tb, "loop_s": tl, "ratio": tl / tb,
            "max_rel_diff": err, "same_results": err < 1e-6}


def bench_fista(c: dict, device: str) -> dict:
    g = torch.Generator(device=device).manual_seed(1)
    d, r, S = c["d"], c["r"], c["seeds"]
    dof = d * r - r * (r - 1) // 2
    ns = sorted({max(2, int(round(k * dof))) for k in (0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 4.0)})
    Ms = lr.low_rank_quadratic(S, d, r, generator=g)
    X = torch.randn(S, max(ns), d, generator=g, device=device, dtype=torch.float64)
    y = lr.quad_forms(X, Ms)
    mk = torch.stack([(torch.arange(max(ns), device=device) < n) for n in ns]).double().repeat_interleave(S, 0)
    Xp, yp = X.repeat(len(ns), 1, 1) * mk.unsqueeze(-1), y.repeat(len(ns), 1) * mk

    def loop():
        out = []
        for n in ns:
            for s in range(S):
                out.append(lr.nuclear_fista(X[s:s + 1, :n], y[s:s + 1, :n], iters=c["iters"]))
        return torch.cat(out)

    tb, a = timed(lambda: lr.nuclear_fista(Xp, yp, iters=c["iters"]))
    tl, b = timed(loop)
    ea, eb = lr.matrix_rel_error(a, Ms.repeat(len(ns), 1, 1)), lr.matrix_rel_error(b, Ms.repeat(len(ns), 1, 1))
    diff = float((ea - eb).abs().max().item())
    return {"config": c, "ns": ns, "problems": len(ns) * S, "batched_s": tb, "loop_s": tl, "ratio": tl / tb,
            "max_abs_diff_rel_error": diff, "same_results": diff < 1e-6}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", choices=sorted(CONFIGS), default="quick")
    ap.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "kernels.json"))
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    c = CONFIGS[a.config]
    res = {"krr_nested_vs_solve_loop": bench_krr(c["krr"], a.device),
           "fista_batched_vs_loop": bench_fista(c["fista"], a.device)}
    doc = {"topic": "kernels", "config": a.config, "device": a.device, "threads": a.threads,
           "torch": torch.__version__, "machine": platform.processor() or platform.machine(), "results": res,
           "note": "ratio = loop seconds / batched seconds, same results checked (same_results)"}
    write_json(a.out, doc)
    for k, v in res.items():
        print(f"{k}: batched {v['batched_s']:.3f}s, loop {v['loop_s']:.3f}s, ratio {v['ratio']:.2f}, "
              f"same results: {v['same_results']}")


if __name__ == "__main__":
    main()
