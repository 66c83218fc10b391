"""Benchmark: the hand-written exact gradient of the tied ReLU autoencoder (Mukherjee 2020, §4.5.1) against autograd,
on the same batch of configurations, in one run.

Work: the gradient of L = mean_y ½‖Wᵀ ReLU(W y − ε) − y‖² (eq 4.1) at B perturbed points around Gaussian dictionaries
(n = 50), one per (sparsity p, dictionary seed, point) configuration: the inner loop of Table 4.6.1 and of the
gradient descent of Table 4.6.2.

- ``lib``           -- ``sparse_coding.loss_and_grad`` on the stacked W: (B, h, n), Y: (B, n, N), no graph;
- ``autograd``      -- ``torch.autograd`` through ``sparse_coding.loss`` on the same stacked batch;
- ``autograd_loop`` -- what a user would write: for each configuration, an autograd call on its own (h, n) matrix.

Two batches: the large configurations of Table 4.6.1 (h = 512, N = 1000: memory-bound; the library processes them
in cache-sized blocks, so it can only match the loop) and many small ones (h = 128, N = 200, B = 300: the loop pays
Python and autograd overhead per configuration).

All three must agree (max |difference| relative to max |gradient| is reported). Results:
bench/results/sparse_coding.json (written atomically).

Usage: OMP_NUM_THREADS=1 python bench/bench_sparse_coding.py [--config quick|paper] [--device cpu|cuda]
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from lib import sparse_coding as sc  # noqa: E402

from _common import timed, write_json  # noqa: E402

OUT = Path(__file__).resolve().parent / "results" / "sparse_coding.json"
CONFIGS = {
    # Table 4.6.1 at quick scale: 3 sparsities x 3 dictionaries x 4 points, h = 512, N = 1000
    "quick": dict(h=512, n=50, N=1000, ps=(0.01, 0.1, 0.3), seeds=3, points=4, repeat=3),
    # many small configurations (the recovery and lemma sweeps): 3 sparsities x 10 dictionaries x 10 points
    "many_small": dict(h=128, n=50, N=200, ps=(0.01, 0.1, 0.3), seeds=10, points=10, repeat=3),
    # one h of Table 4.6.1 at paper scale (fewer points per call): h = 2048, N = 5000
    "paper": dict(h=2048, n=50, N=5000, ps=(0.01, 0.1, 0.3), seeds=2, points=4, repeat=2),
}


def make_batch(c: dict, device: str, dtype: torch.dtype = torch.float64):
    """Stacked W: (B, h, n), Y: (B, n, N), eps: (B,) with B = len(ps) * seeds * points."""
    g = torch.Generator(device=device).manual_seed(0)
    dist = sc.CodeDist("uniform", 1, 10)
    Ws, Ys, es = [], [], []
    for p in c["ps"]:
        k, delta = sc.k_of(c["h"], p), c["h"] ** (-2 * p)
        A = sc.make_dictionary(c["n"], c["h"], generator=g, batch=(c["seeds"],), dtype=dtype)
        X, _ = sc.sample_codes(c["h"], k, c["N"], dist, generator=g, batch=(c["seeds"],), dtype=dtype)
        W = sc.perturb_columns(A, delta / 2, n_points=c["points"], generator=g)          # (S, P, h, n)
        Ws.append(W.reshape(-1, c["h"], c["n"]))
        Ys.append((A @ X).repeat_interleave(c["points"], 0))
        es.append(torch.full((W.shape[0] * W.shape[1],), sc.bias("delta_only", m1=dist.m1, k=k, delta=delta),
                             dtype=dtype, device=device))
    return torch.cat(Ws), torch.cat(Ys), torch.cat(es)


def autograd_batched(W, Y, eps):
    Wr = W.detach().clone().requires_grad_(True)
    sc.loss(Wr, Y, eps).sum().backward()
    return Wr.grad


def autograd_loop(W, Y, eps):
    out = []
    for b in range(W.shape[0]):
        Wb = W[b].detach().clone().requires_grad_(True)
        sc.loss(Wb, Y[b], eps[b]).backward()
        out.append(Wb.grad)
    return torch.stack(out)


def run(name: str, device: str) -> dict:
    c = CONFIGS[name]
    W, Y, eps = make_batch(c, device)
    t_lib, G_lib = timed(lambda: sc.loss_and_grad(W, Y, eps)[1], c["repeat"])
    t_ag, G_ag = timed(lambda: autograd_batched(W, Y, eps), c["repeat"])
    t_loop, G_loop = timed(lambda: autograd_loop(W, Y, eps), c["repeat"])
    scale = float(G_lib.abs().max())
    res = {
        "config": name, **{k: v for k, v in c.items() if k != "ps"}, "ps": list(c["ps"]), "B": W.shape[0],
        "dtype": "float64",
        "seconds": {"lib": t_lib, "autograd": t_ag, "autograd_loop": t_loop},
        "ratio_autograd_over_lib": t_ag / t_lib, "ratio_loop_over_lib": t_loop / t_lib,
        "max_rel_diff": {"autograd": float((G_ag - G_lib).abs().max()) / scale,
                         "autograd_loop": float((G_loop - G_lib).abs().max()) / scale},
    }
    if res["max_rel_diff"]["autograd"] > 1e-10 or res["max_rel_diff"]["autograd_loop"] > 1e-10:
        raise SystemExit(f"gradients disagree: {res['max_rel_diff']}")
    print(f"{name}: B={res['B']} h={c['h']} N={c['N']}: lib {t_lib:.3f}s, autograd {t_ag:.3f}s "
          f"({res['ratio_autograd_over_lib']:.2f}x), loop {t_loop:.3f}s ({res['ratio_loop_over_lib']:.2f}x); "
          f"max rel diff {res['max_rel_diff']}")
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", default="quick", choices=["quick", "paper"],
                    help="'quick': the large-configuration batch at quick size (plus 'many_small'); 'paper': h = 2048")
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    a = ap.parse_args()
    doc = {"device": a.device, "torch": torch.__version__, "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
           "cpu_count": os.cpu_count(), "platform": platform.platform(),
           "load_average_1min": os.getloadavg()[0]}
    for name in (a.config, "many_small"):
        doc[name] = run(name, a.device)
    write_json(OUT, doc)


if __name__ == "__main__":
    main()
