"""Benchmark: the stacked cluster training of lib.mlp_geometry against a per-model torch.optim loop, and the
paper-scale cost of Mukherjee (2020) Chapter 6 measured from per-step times.

Work: the k1 cluster nets of §6.4 (Theorem 6.3.1): bias-free ReLU MLPs, Glorot init, ADAM (lr 1e-3) on the
cross-entropy, a fresh mini-batch sequence per net.

- ``loop``: per net an ``nn.Sequential`` of bias-free ``nn.Linear`` + ReLU and its own ``torch.optim.Adam``
  (:func:`lib.mlp_geometry.train_adam_loop`), one net after the other — what a user would write.
- ``batched``: :func:`lib.mlp_geometry.train_adam`, all nets as one stack of (M, out, in) tensors.

Both start from the same weights and see the same mini-batches; the script reports their largest weight difference.
Then it times one stacked ADAM step at the thesis's shapes (synthetic: 20 -> 800 x (d-1) -> 2, batch 100;
CIFAR-10: 3072 -> h x (d-1) -> 10, batch 300) and multiplies by the number of steps of the thesis's sweeps.

Usage: python bench/bench_pac_bayes.py [--config quick|paper] [--device cpu|cuda] [--threads N]
Results: bench/results/pac_bayes.json (written atomically).
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import json  # noqa: E402

import torch  # noqa: E402

from lib import mlp_geometry as mg  # noqa: E402

from _common import timed, write_json  # noqa: E402

CONFIGS = {
    # the chapter's quick synthetic cluster: 3 seeds x 25 cluster nets (k1 of the thesis), width 100, depth 4, 5 epochs
    "quick": dict(M=75, n=20, width=100, depth=4, k=2, m=1000, batch=100, epochs=5, loop_models=15),
    # one paper-scale program: 10 seeds x 25 cluster nets at width 200 (CPU-sized), depth 4
    "paper": dict(M=250, n=20, width=200, depth=4, k=2, m=1000, batch=100, epochs=5, loop_models=10),
}


def problem(c: dict, device: str, seed: int = 0):
    g = torch.Generator(device=device).manual_seed(seed)
    X = torch.randn(c["m"], c["n"], generator=g, device=device)
    y = (X.sum(1) > 0).long()
    W0 = mg.glorot_uniform(c["M"], mg.layer_shapes(c["n"], c["width"], c["depth"], c["k"]), generator=g)
    steps = mg.minibatch_indices(c["M"], c["m"], c["batch"], c["epochs"], generator=g)
    return W0, X, y, steps


def step_time(n_in: int, width: int, depth: int, k: int, batch: int, M: int, device: str, reps: int = 3) -> float:
    """Seconds per stacked ADAM step of M nets (best of ``reps`` after one warm-up step)."""
    g = torch.Generator(device=device).manual_seed(1)
    W = mg.glorot_uniform(M, mg.layer_shapes(n_in, width, depth, k), generator=g)
    X = torch.randn(max(batch, 1000), n_in, generator=g, device=device)
    y = torch.randint(0, k, (X.shape[0],), generator=g, device=device)
    steps = mg.minibatch_indices(M, X.shape[0], batch, 1, generator=g)[:1]
    mg.train_adam(W, X, y, steps)
    t, _ = timed(lambda: mg.train_adam(W, X, y, steps * reps), repeat=1)
    return t / reps


def paper_costs(device: str, M: int) -> dict:
    """Hours for the thesis's sweeps from per-step times of M stacked nets (time per net-step = t / M)."""
    out: dict = {"per_net_step_s": {}}
    syn_h = 0.0
    for d in range(2, 9):  # synthetic: width 800, batch 100, m = 1000 -> 10 steps per epoch, 5 or 8 epochs
        t = step_time(20, 800, d, 2, 100, M, device) / M
        out["per_net_step_s"][f"synthetic_w800_d{d}"] = t
        syn_h += t * 10 * (5 if d < 5 else 8) * 26 * 10  # 26 trainings x 10 seeds
    out["paper_synthetic_hours_per_(a,n)"] = syn_h / 3600
    out["paper_synthetic_hours_thesis"] = 10 * syn_h / 3600  # 5 values of a x 2 of n
    out["paper_synthetic_hours_chapter"] = 3 * syn_h / 3600  # a in {2, 6, 10}, n = 20
    cifar_h = 0.0
    for w in (100, 400):  # CIFAR-10: batch 300; m = 10,000 and 20 epochs assumed (unstated in the thesis, C2)
        for d in (2, 3, 4, 5, 6, 7, 8, 16):
            t = step_time(3072, w, d, 10, 300, M, device) / M
            out["per_net_step_s"][f"cifar_w{w}_d{d}"] = t
            cifar_h += t * 34 * 20 * 26 * 10
    out["paper_cifar_hours_assumed_m10000_20epochs"] = cifar_h / 3600
    # arithmetic: 6 x batch x parameters FLOP per net-step (forward + backward), same step counts as above
    n_par = lambda n, w, d, k: n * w + (d - 2) * w * w + w * k  # noqa: E731
    syn_f = sum(6 * 100 * n_par(20, 800, d, 2) * 10 * (5 if d < 5 else 8) * 260 for d in range(2, 9))
    cif_f = sum(6 * 300 * n_par(3072, w, d, 10) * 34 * 20 * 260 for w in (100, 400) for d in (2, 3, 4, 5, 6, 7, 8, 16))
    out["paper_synthetic_pflop_thesis"] = 10 * syn_f / 1e15
    out["paper_cifar_pflop_assumed"] = cif_f / 1e15
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", choices=sorted(CONFIGS), default="quick")
    ap.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--cost-models", type=int, default=2, help="M stacked nets when timing paper-scale steps")
    ap.add_argument("--no-cost", action="store_true", help="skip the paper-scale per-step timing")
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "pac_bayes.json"))
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    c = CONFIGS[a.config]
    W0, X, y, steps = problem(c, a.device)
    mg.train_adam([w[:2] for w in W0], X, y, [s[:2] for s in steps[:2]])  # warm-up
    t_b, A = timed(lambda: mg.train_adam(W0, X, y, steps), repeat=2)
    n_loop = min(c["loop_models"], c["M"])
    sub = [w[:n_loop] for w in W0]
    t0 = time.perf_counter()
    A_loop = mg.train_adam_loop(sub, X, y, [s[:n_loop] for s in steps])
    t_l = (time.perf_counter() - t0) * c["M"] / n_loop
    diff = max((a_[:n_loop] - b_).abs().max().item() for a_, b_ in zip(A, A_loop))
    res = {
        "benchmark": "pac_bayes",
        "what": "k1-cluster training of bias-free ReLU MLPs with ADAM (Mukherjee 2020, §6.4): stacked vs per-net loop",
        "config": a.config, **c, "device": a.device,
        "device_name": (torch.cuda.get_device_name() if a.device == "cuda"
                        else platform.processor() or platform.machine()),
        "torch": torch.__version__, "python": platform.python_version(), "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(), "load_average_1min": os.getloadavg()[0],
        "models": c["M"], "steps": len(steps), "batched_s": round(t_b, 3), "loop_s": round(t_l, 3),
        "loop_models_timed": n_loop, "loop_extrapolated": n_loop < c["M"], "speedup": round(t_l / t_b, 1),
        "max_abs_weight_diff": diff,
    }
    if not a.no_cost:
        res.update(paper_costs(a.device, a.cost_models))
        res["cost_models_stacked"] = a.cost_models
    out = Path(a.out)
    doc = json.loads(out.read_text()) if out.exists() else {}
    doc[f"{a.config}_{a.device}_{res['torch_threads']}threads"] = res
    write_json(out, doc)
    print(json.dumps({k: v for k, v in res.items() if k != "per_net_step_s"}, indent=1))


if __name__ == "__main__":
    main()
