"""Benchmark: batched Algorithm 2 and GLM-Tron (lib.relu_gate) vs the per-run loop a user would otherwise write,
at several numbers of runs.

Work (Mukherjee 2020, Ch. 3):

- ``sgd``: B runs of Algorithm 2 (modified SGD, L1203) for T steps on given inputs ``X: (T, B, n)``.
  baseline: for each run, a Python loop over steps on that run's (n,) torch vectors. library: one call of
  ``lib.relu_gate.sgd_chunk`` on all runs. Memory traffic of one call: 32 T B n bytes (read x, w, w*, write w).
- ``glmtron``: B GLM-Tron runs (Algorithm 4, L1504) on their own data ``(B, S, n)`` with Lemma 3.5.1 logged at every
  step. baseline: one run at a time (``glmtron`` on a batch of 1, i.e. the same code without batching). library:
  one call on all B runs. Arithmetic of one call: the two products per step, 4 T B S n flops (the logging aside).

Both sweep the number of runs B; the loops run the first ``loop_runs`` runs of each size (all of the smallest) and are
scaled linearly.
Both methods get the same inputs; every point checks that they end at the same errors.
Results: bench/results/relu_gate.json.

Usage: python bench/bench_relu_gate.py [--config quick|paper] [--threads N] [--smoke]
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch  # noqa: E402

from lib import relu_gate as rg  # noqa: E402

from _common import Baseline, Bench  # noqa: E402

CONFIGS = {
    # the chapter's quick Alg. 2 programme is 4000 runs x 3100 steps; GLM-Tron 153 runs x 900 steps
    "quick": dict(B=[5, 50, 500, 5000], n=10, T=1000, B_glm=[5, 15, 45, 135], S=500, n_glm=20, T_glm=300,
                  loop_runs=5),
    "paper": dict(B=[10, 100, 1000, 4000], n=20, T=2000, B_glm=[10, 50, 100, 200], S=500, n_glm=20, T_glm=900,
                  loop_runs=10),
}

F64 = torch.float64


def sgd_problem(c, B, seed=0):
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(c["T"], B, c["n"], generator=g, dtype=F64)
    ws = torch.randn(B, c["n"], generator=g, dtype=F64)
    ws = ws / ws.norm(dim=1, keepdim=True)
    eta = torch.full((B,), 1 / (c["n"] * (c["n"] + 2)), dtype=F64)
    return -ws, ws, eta, X


def sgd_loop(w1, ws, eta, X, runs):
    """Per-run Python loop over steps (the obvious program)."""
    out = []
    for b in range(runs):
        w, w_star, e = w1[b].clone(), ws[b], float(eta[b])
        for s in range(X.shape[0]):
            x = X[s, b]
            y = torch.relu(w_star @ x)
            if y > 0:
                w = w + e * (y - w @ x) * x
        out.append(((w - w_star) ** 2).sum())
    return torch.stack(out)


def glm_problem(c, B, seed=1):
    g = torch.Generator().manual_seed(seed)
    S, n = c["S"], c["n_glm"]
    X = torch.randn(B, S, n, generator=g, dtype=F64)
    X = X / X.norm(dim=2, keepdim=True) * (0.5 + 0.5 * torch.rand(B, S, 1, generator=g, dtype=F64))
    ws = torch.randn(B, n, generator=g, dtype=F64)
    ws = 3 * ws / ws.norm(dim=1, keepdim=True)
    names = (list(rg.GATES) * B)[:B]
    y = rg.gate_apply(torch.einsum("bsn,bn->bs", X, ws), rg.gate_params(names))
    y = y + 0.05 * (2 * torch.rand(B, S, generator=g, dtype=F64) - 1)
    return X, y, ws, names


def rel_diff(a: torch.Tensor, ref: torch.Tensor, what: str) -> dict:
    diff = float(((a - ref).abs() / ref).max())
    if diff > 1e-8:
        raise SystemExit(f"batched and looped {what} disagree: max relative difference {diff:.2e}")
    return {f"max_rel_diff_final_{what}": diff}


def main(argv: list[str] | None = None) -> int:
    b = Bench("relu_gate", __doc__, configs=CONFIGS, argv=argv)
    c = b.c
    for B in b.sizes(c["B"]):
        w1, ws, eta, X = sgd_problem(c, B)
        k = min(c["loop_runs"], B)
        b.point("batched Algorithm 2 (modified SGD) over runs (relu_gate.sgd_chunk)",
                dict(runs=B, n=c["n"], steps=c["T"]), lambda w1=w1, ws=ws, eta=eta, X=X: rg.sgd_chunk(w1, ws, eta, X),
                [Baseline("per-run Python loop over steps",
                          lambda w1=w1, ws=ws, eta=eta, X=X, k=k: sgd_loop(w1, ws, eta, X, k), part=k / B,
                          check=lambda res, err_l: rel_diff(res[1][-1, : len(err_l)], err_l, "err2"),
                          note=f"loop timed on the first {k} of the {B} runs, scaled linearly")],
                sweep="runs", repeat=3, bytes_moved=32.0 * c["T"] * B * c["n"])
    for B in b.sizes(c["B_glm"]):
        Xg, yg, wsg, names = glm_problem(c, B)
        k = min(c["loop_runs"], B)

        def loop(Xg=Xg, yg=yg, wsg=wsg, names=names, k=k):
            return torch.stack([torch.as_tensor(rg.glmtron(Xg[i:i + 1], yg[i:i + 1], wsg[i:i + 1], names[i:i + 1],
                                                           c["T_glm"]).dist2[-1, 0]) for i in range(k)])

        b.point("batched GLM-Tron over runs, Lemma 3.5.1 logged (relu_gate.glmtron)",
                dict(runs=B, S=c["S"], n=c["n_glm"], steps=c["T_glm"]),
                lambda Xg=Xg, yg=yg, wsg=wsg, names=names: rg.glmtron(Xg, yg, wsg, names, c["T_glm"]),
                [Baseline("one run at a time (glmtron on a batch of 1)", loop, part=k / B,
                          check=lambda res, d2: rel_diff(torch.as_tensor(res.dist2[-1, : len(d2)]), d2, "dist2"),
                          note=f"loop timed on the first {k} of the {B} runs, scaled linearly")],
                sweep="runs", repeat=3 if B <= 20 else 2, flops=4.0 * c["T_glm"] * B * c["S"] * c["n_glm"],
                dtype="float64")
    b.save({"what": "Algorithm 2 (modified SGD) and GLM-Tron with Lemma 3.5.1 logging: batched over runs vs "
                    "per-run loops", "params": c})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
