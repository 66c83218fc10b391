"""Benchmark: batched Algorithm 2 and GLM-Tron (lib.relu_gate) vs the per-run loop a user would otherwise write.

Work (Mukherjee 2020, Ch. 3):

- ``sgd``: B runs of Algorithm 2 (modified SGD, L1203) for T steps on given inputs ``X: (T, B, n)``.
  ``loop``: for each run, a Python loop over steps on that run's (n,) torch vectors. ``batched``: one call of
  ``lib.relu_gate.sgd_chunk`` on all runs.
- ``glmtron``: B GLM-Tron runs (Algorithm 4, L1504) on their own data ``(B, S, n)`` with Lemma 3.5.1 logged at every
  step. ``loop``: one run at a time (``glmtron`` on a batch of 1, i.e. the same code without batching).
  ``batched``: one call on all B runs.

Both methods get the same inputs; the script checks that they end at the same errors. Results:
bench/results/relu_gate.json (written atomically).

Usage: python bench/bench_relu_gate.py [--config quick|paper] [--threads N] [--loop-runs K]
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from lib import relu_gate as rg  # noqa: E402

from _common import write_json  # noqa: E402

CONFIGS = {
    # the chapter's quick Alg. 2 programme is 4000 runs x 3100 steps; GLM-Tron 153 runs x 900 steps
    "quick": dict(B=400, n=10, T=1000, B_glm=50, S=500, n_glm=20, T_glm=300),
    "paper": dict(B=4000, n=20, T=2000, B_glm=200, S=500, n_glm=20, T_glm=900),
}
F64 = torch.float64


def sgd_problem(c, seed=0):
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(c["T"], c["B"], c["n"], generator=g, dtype=F64)
    ws = torch.randn(c["B"], c["n"], generator=g, dtype=F64)
    ws = ws / ws.norm(dim=1, keepdim=True)
    eta = torch.full((c["B"],), 1 / (c["n"] * (c["n"] + 2)), dtype=F64)
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


def glm_problem(c, seed=1):
    g = torch.Generator().manual_seed(seed)
    B, S, n = c["B_glm"], c["S"], c["n_glm"]
    X = torch.randn(B, S, n, generator=g, dtype=F64)
    X = X / X.norm(dim=2, keepdim=True) * (0.5 + 0.5 * torch.rand(B, S, 1, generator=g, dtype=F64))
    ws = torch.randn(B, n, generator=g, dtype=F64)
    ws = 3 * ws / ws.norm(dim=1, keepdim=True)
    names = (list(rg.GATES) * B)[:B]
    y = rg.gate_apply(torch.einsum("bsn,bn->bs", X, ws), rg.gate_params(names))
    y = y + 0.05 * (2 * torch.rand(B, S, generator=g, dtype=F64) - 1)
    return X, y, ws, names


def best(fn, repeat=3):
    t_best, out = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        t_best = min(t_best, time.perf_counter() - t0)
    return t_best, out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", choices=sorted(CONFIGS), default="quick")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--loop-runs", type=int, default=20, help="time the loops on this many runs and extrapolate")
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "relu_gate.json"))
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    c = CONFIGS[a.config]

    w1, ws, eta, X = sgd_problem(c)
    t_b, (w_end, err) = best(lambda: rg.sgd_chunk(w1, ws, eta, X))
    k = min(a.loop_runs, c["B"])
    t_l, err_l = best(lambda: sgd_loop(w1, ws, eta, X, k), repeat=1)
    diff_sgd = float(((err[-1, :k] - err_l).abs() / err_l).max())

    Xg, yg, wsg, names = glm_problem(c)
    tg_b, res = best(lambda: rg.glmtron(Xg, yg, wsg, names, c["T_glm"]), repeat=2)
    kg = min(a.loop_runs, c["B_glm"])
    t0 = time.perf_counter()
    loop_d2 = [rg.glmtron(Xg[b:b + 1], yg[b:b + 1], wsg[b:b + 1], names[b:b + 1], c["T_glm"]).dist2[-1, 0]
               for b in range(kg)]
    tg_l = time.perf_counter() - t0
    diff_glm = float(max(abs(res.dist2[-1, b] - loop_d2[b]) / loop_d2[b] for b in range(kg)))

    res_doc = {
        "benchmark": "relu_gate",
        "what": "Algorithm 2 (modified SGD) and GLM-Tron with Lemma 3.5.1 logging: batched over runs vs per-run loops",
        "config": a.config, **c,
        "device": "cpu", "device_name": platform.processor() or platform.machine(),
        "torch": torch.__version__, "python": platform.python_version(), "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(), "load_average_1min": os.getloadavg()[0],
        "sgd_batched_s": round(t_b, 4),
        "sgd_loop_s": round(t_l * c["B"] / k, 3), "sgd_loop_runs_timed": k,
        "ratio_sgd_loop_over_batched": round(t_l * c["B"] / k / t_b, 1),
        "sgd_max_rel_diff_final_err2": diff_sgd,
        "glmtron_batched_s": round(tg_b, 4),
        "glmtron_loop_s": round(tg_l * c["B_glm"] / kg, 3), "glmtron_loop_runs_timed": kg,
        "ratio_glmtron_loop_over_batched": round(tg_l * c["B_glm"] / kg / tg_b, 1),
        "glmtron_max_rel_diff_final_dist2": diff_glm,
    }
    out = Path(a.out)
    doc = json.loads(out.read_text()) if out.exists() else {}
    doc[f"{a.config}_cpu_{torch.get_num_threads()}threads"] = res_doc
    write_json(out, doc)
    print(f"[{a.config}, {res_doc['torch_threads']} threads, load {res_doc['load_average_1min']:.1f}] "
          f"SGD {c['B']} runs x {c['T']} steps: loop {res_doc['sgd_loop_s']} s (from {k}), batched {t_b:.3f} s -> "
          f"{res_doc['ratio_sgd_loop_over_batched']}x (max rel diff {diff_sgd:.1e}); "
          f"GLM-Tron {c['B_glm']} runs x {c['T_glm']} steps: "
          f"loop {res_doc['glmtron_loop_s']} s, batched {tg_b:.3f} s -> {res_doc['ratio_glmtron_loop_over_batched']}x "
          f"(max rel diff {diff_glm:.1e})")


if __name__ == "__main__":
    main()
