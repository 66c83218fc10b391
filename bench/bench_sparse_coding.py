"""Benchmark: the hand-written exact gradient of the tied ReLU autoencoder (Mukherjee 2020, §4.5.1) against autograd,
on the same batch of configurations, at several sizes.

Work: the gradient of L = mean_y ½‖Wᵀ ReLU(W y − ε) − y‖² (eq 4.1) at B perturbed points around Gaussian dictionaries
(n = 50), one per (sparsity p, dictionary seed, point) configuration: the inner loop of Table 4.6.1 and of the
gradient descent of Table 4.6.2.

- library: ``sparse_coding.loss_and_grad`` on the stacked W: (B, h, n), Y: (B, n, N), no graph (10 h n N flops per
  configuration, float64: five products);
- baseline: ``torch.autograd`` through ``sparse_coding.loss`` on the same stacked batch;
- baseline: what a user would write: for each configuration, an autograd call on its own (h, n) matrix.

Two sweeps: many small configurations (h = 128, N = 200; B = 3 ... 300), and the large configurations of Table 4.6.1
(h = 512, B = 12) over the samples N.

What to expect, and what was measured. Each configuration is dominated by its (h × n) · (n × N) products, so on a CPU
a per-configuration Python loop pays little overhead and neither side can win by much: the last recorded run
(2026-12-03, 1 thread, quiet machine) gave the library 0.9-1.2x the loop on the small configurations (it gathers
each block of configurations into a copy, which the loop does not) and 1.0x on the large ones, and 1.0-1.3x
autograd on the same stacked batch (an earlier run under load had 0.76-0.92x the loop). The closed form's gain
on a CPU is memory (no autograd graph: its peak is the (h, N) activations of one block), not speed; batching pays
off where kernel launches are expensive (a GPU).

All three must agree (max |difference| relative to max |gradient|, checked at every size).
Results: bench/results/sparse_coding.json.

Usage: OMP_NUM_THREADS=1 python bench/bench_sparse_coding.py [--config quick|paper] [--device cpu|cuda] [--smoke]
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch  # noqa: E402

from lib import sparse_coding as sc  # noqa: E402

from _common import Baseline, Bench  # noqa: E402

PS = (0.01, 0.1, 0.3)
CONFIGS = {
    # many small configurations (the recovery and lemma sweeps): 3 sparsities x seeds x points, swept over B;
    # Table 4.6.1 at quick scale: 3 sparsities x 1 dictionary x 4 points at h = 512, swept over N
    "quick": dict(small=dict(h=128, n=50, N=200, seeds_points=[(1, 1), (1, 5), (5, 5), (10, 10)]),
                  large=dict(h=512, n=50, N=[250, 500, 1000, 2000], seeds=1, points=4)),
    # one h of Table 4.6.1 at paper scale: h = 2048, N up to 5000
    "paper": dict(small=dict(h=128, n=50, N=200, seeds_points=[(1, 1), (2, 5), (10, 10), (20, 20)]),
                  large=dict(h=2048, n=50, N=[625, 1250, 2500, 5000], seeds=2, points=4)),
}


def make_batch(c: dict, device: str, dtype: torch.dtype = torch.float64):
    """Stacked W: (B, h, n), Y: (B, n, N), eps: (B,) with B = len(PS) * seeds * points."""
    g = torch.Generator(device=device).manual_seed(0)
    dist = sc.CodeDist("uniform", 1, 10)
    Ws, Ys, es = [], [], []
    for p in PS:
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


def same_gradient(G_lib, G) -> dict:
    diff = float((G - G_lib).abs().max()) / float(G_lib.abs().max())
    if diff > 1e-10:
        raise SystemExit(f"gradients disagree: max relative difference {diff:.2e}")
    return {"max_rel_diff": diff}


def point(b: Bench, c: dict, sweep: str, config: str) -> None:
    W, Y, eps = make_batch(c, b.device)
    B = W.shape[0]
    b.point("closed-form sparse-coding gradient, batched (sparse_coding.loss_and_grad)",
            dict(B=B, N=c["N"], h=c["h"], n=c["n"]), lambda: sc.loss_and_grad(W, Y, eps)[1],
            [Baseline("autograd on the stacked batch", lambda: autograd_batched(W, Y, eps), repeat=2,
                      check=same_gradient),
             Baseline("autograd, loop over configurations", lambda: autograd_loop(W, Y, eps), repeat=2,
                      check=same_gradient)],
            sweep=sweep, repeat=3, flops=10.0 * c["h"] * c["n"] * c["N"] * B, dtype="float64", config=config)


def main(argv: list[str] | None = None) -> int:
    b = Bench("sparse_coding", __doc__, configs=CONFIGS, argv=argv)
    small, large = b.c["small"], b.c["large"]
    for seeds, points in b.sizes(small["seeds_points"]):
        point(b, dict(small, seeds=seeds, points=points), "B", f"many small, h = {small['h']}")
    for N in b.sizes(large["N"]):
        point(b, dict(large, N=N), "N", f"Table 4.6.1, h = {large['h']}")
    b.save({"what": __doc__.splitlines()[0], "params": b.c})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
