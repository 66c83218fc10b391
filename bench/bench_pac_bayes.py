"""Benchmark: the stacked cluster training of lib.mlp_geometry against a per-model torch.optim loop, at several
numbers of nets, and the paper-scale cost of Mukherjee (2020) Chapter 6 from measured per-step times.

Work: the k1 cluster nets of §6.4 (Theorem 6.3.1): bias-free ReLU MLPs, Glorot init, ADAM (lr 1e-3) on the
cross-entropy, a fresh mini-batch sequence per net.

- baseline: per net an ``nn.Sequential`` of bias-free ``nn.Linear`` + ReLU and its own ``torch.optim.Adam``
  (:func:`lib.mlp_geometry.train_adam_loop`), one net after the other — what a user would write; it runs the first
  ``loop_models`` nets of each size and is scaled linearly.
- library: :func:`lib.mlp_geometry.train_adam`, all nets as one stack of (M, out, in) tensors.

Both start from the same weights and see the same mini-batches; every point checks their largest weight difference.
Swept over the number of nets M (75 = the chapter's quick cluster, 3 seeds × 25). Flops: 6 × batch × parameters per
net and step.

Then one stacked ADAM step of ``--cost-models`` nets at each of the thesis's shapes (synthetic: 20 -> 800 x (d-1)
-> 2, batch 100; CIFAR-10: 3072 -> h x (d-1) -> 10, batch 300), a series over the arithmetic of the step,
multiplied by the number of steps of the thesis's sweeps into hours.

Results: the records in bench/results/pac_bayes.schema.json; the chapter pac_bayes_bounds reads its own summary,
bench/results/pac_bayes.json (one entry per configuration, device and threads: the sweep's largest point and the
paper-scale hours).

Usage: python bench/bench_pac_bayes.py [--config quick|paper] [--device cpu|cuda] [--threads N] [--no-cost] [--smoke]
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch  # noqa: E402

from lib import mlp_geometry as mg  # noqa: E402

from _common import Baseline, Bench, write_json  # noqa: E402

CONFIGS = {
    # the chapter's quick synthetic cluster: up to 3 seeds x 25 cluster nets, width 100, depth 4, 5 epochs
    "quick": dict(M=[3, 9, 25, 75], n=20, width=100, depth=4, k=2, m=1000, batch=100, epochs=5, loop_models=3),
    # one paper-scale program: up to 10 seeds x 25 cluster nets at width 200 (CPU-sized), depth 4
    "paper": dict(M=[10, 50, 250], n=20, width=200, depth=4, k=2, m=1000, batch=100, epochs=5, loop_models=5),
}


def n_params(n_in: int, width: int, depth: int, k: int) -> int:
    return sum(o * i for o, i in mg.layer_shapes(n_in, width, depth, k))


def problem(c: dict, M: int, device: str, seed: int = 0):
    g = torch.Generator(device=device).manual_seed(seed)
    X = torch.randn(c["m"], c["n"], generator=g, device=device)
    y = (X.sum(1) > 0).long()
    W0 = mg.glorot_uniform(M, mg.layer_shapes(c["n"], c["width"], c["depth"], c["k"]), generator=g)
    steps = mg.minibatch_indices(M, c["m"], c["batch"], c["epochs"], generator=g)
    return W0, X, y, steps


def same_weights(A, A_loop) -> dict:
    diff = max((a[: len(b)] - b).abs().max().item() for a, b in zip(A, A_loop))
    if diff > 1e-4:
        raise SystemExit(f"stacked and looped training disagree: max |ΔW| = {diff:.2e}")
    return {"max_abs_weight_diff": diff}


def sweep(b: Bench, c: dict):
    last = None
    for M in b.sizes(c["M"]):
        W0, X, y, steps = problem(c, M, b.device)
        k = min(M, c["loop_models"])
        sub, sub_steps = [w[:k] for w in W0], [s[:k] for s in steps]
        last = b.point("stacked k1-cluster MLP training (mlp_geometry.train_adam)",
                       dict(models=M, steps=len(steps), width=c["width"], depth=c["depth"], batch=c["batch"]),
                       lambda W0=W0, X=X, y=y, steps=steps: mg.train_adam(W0, X, y, steps),
                       [Baseline("per-net nn.Sequential + torch.optim.Adam loop (train_adam_loop)",
                                 lambda sub=sub, X=X, y=y, s=sub_steps: mg.train_adam_loop(sub, X, y, s),
                                 part=k / M, check=same_weights,
                                 note=f"loop timed on the first {k} of the {M} nets, scaled linearly")],
                       sweep="models", repeat=2 if M >= 25 else 3,
                       flops=6.0 * c["batch"] * n_params(c["n"], c["width"], c["depth"], c["k"]) * M * len(steps),
                       dtype="float32")[0]
    return last


def per_net_step(b: Bench, name: str, n_in: int, width: int, depth: int, k: int, batch: int, M: int) -> float:
    """Seconds per net and stacked ADAM step of M nets (two steps timed after a one-step warm-up), recorded."""
    g = torch.Generator(device=b.device).manual_seed(1)
    W = mg.glorot_uniform(M, mg.layer_shapes(n_in, width, depth, k), generator=g)
    X = torch.randn(max(batch, 1000), n_in, generator=g, device=b.device)
    y = torch.randint(0, k, (X.shape[0],), generator=g, device=b.device)
    steps = mg.minibatch_indices(M, X.shape[0], batch, 1, generator=g)[:1]
    fl = 6.0 * batch * n_params(n_in, width, depth, k) * M
    r = b.point("one stacked ADAM step at a paper shape (mlp_geometry.train_adam)",
                dict(gflop=round(2 * fl / 1e9, 4), n_in=n_in, width=width, depth=depth, batch=batch, models=M),
                lambda: mg.train_adam(W, X, y, steps * 2), sweep="gflop", repeat=1, warmup=1,
                config="paper-shape steps", flops=2 * fl, dtype="float32", note=name)[0]
    return r.lib_s.min_s / 2 / M


def paper_costs(b: Bench, M: int) -> dict:
    """Hours for the thesis's sweeps from per-step times of M stacked nets (time per net-step = t / M)."""
    out: dict = {"per_net_step_s": {}}
    syn_h = 0.0
    for d in range(2, 9):  # synthetic: width 800, batch 100, m = 1000 -> 10 steps per epoch, 5 or 8 epochs
        t = per_net_step(b, f"synthetic_w800_d{d}", 20, 800, d, 2, 100, M)
        out["per_net_step_s"][f"synthetic_w800_d{d}"] = t
        syn_h += t * 10 * (5 if d < 5 else 8) * 26 * 10  # 26 trainings x 10 seeds
    out["paper_synthetic_hours_per_(a,n)"] = syn_h / 3600
    out["paper_synthetic_hours_thesis"] = 10 * syn_h / 3600  # 5 values of a x 2 of n
    out["paper_synthetic_hours_chapter"] = 3 * syn_h / 3600  # a in {2, 6, 10}, n = 20
    cifar_h = 0.0
    for w in (100, 400):  # CIFAR-10: batch 300; m = 10,000 and 20 epochs assumed (unstated in the thesis, C2)
        for d in (2, 3, 4, 5, 6, 7, 8, 16):
            t = per_net_step(b, f"cifar_w{w}_d{d}", 3072, w, d, 10, 300, M)
            out["per_net_step_s"][f"cifar_w{w}_d{d}"] = t
            cifar_h += t * 34 * 20 * 26 * 10
    out["paper_cifar_hours_assumed_m10000_20epochs"] = cifar_h / 3600
    # arithmetic: 6 x batch x parameters FLOP per net-step (forward + backward), same step counts as above
    syn_f = sum(6 * 100 * n_params(20, 800, d, 2) * 10 * (5 if d < 5 else 8) * 260 for d in range(2, 9))
    cif_f = sum(6 * 300 * n_params(3072, w, d, 10) * 34 * 20 * 260 for w in (100, 400)
                for d in (2, 3, 4, 5, 6, 7, 8, 16))
    out["paper_synthetic_pflop_thesis"] = 10 * syn_f / 1e15
    out["paper_cifar_pflop_assumed"] = cif_f / 1e15
    out["cost_models_stacked"] = M
    return out


def chapter_summary(b: Bench, c: dict, r, costs: dict) -> Path:
    """The entry of bench/results/pac_bayes.json that the chapter pac_bayes_bounds shows (its keys as before)."""
    path = Path(b.args.out) / "pac_bayes.json"
    doc = json.loads(path.read_text()) if path.exists() else {}
    doc = {k: v for k, v in doc.items() if isinstance(v, dict)}   # the chapter reads every value as an entry
    doc[f"{b.config}_{b.device}_{b.env['threads']}threads"] = {
        "benchmark": "pac_bayes", "config": b.config, **{k: v for k, v in c.items() if k != "M"},
        "M": r.work["models"], "models": r.work["models"], "steps": r.work["steps"], "device": b.device,
        "device_name": b.env["device_name"], "torch": b.env["versions"].get("torch"),
        "python": b.env["versions"].get("python"), "cpu_count": b.env["cpu_count"],
        "torch_threads": b.env["threads"], "load_average_1min": r.load_before,
        "batched_s": round(r.lib_s.min_s, 3), "loop_s": round(r.baseline_s.min_s, 3),
        "loop_models_timed": min(r.work["models"], c["loop_models"]),
        "loop_extrapolated": r.measured_or_extrapolated == "extrapolated", "speedup": round(r.ratio, 1),
        "max_abs_weight_diff": r.extra.get("agreement", {}).get("max_abs_weight_diff"),
        "noisy": r.noisy, "measured_at": r.measured_at, "records": "bench/results/pac_bayes.schema.json", **costs}
    return write_json(path, doc)


def main(argv: list[str] | None = None) -> int:
    def add(ap):
        ap.add_argument("--cost-models", type=int, default=2, help="M stacked nets when timing paper-scale steps")
        ap.add_argument("--no-cost", action="store_true", help="skip the paper-scale per-step timing")

    b = Bench("pac_bayes", __doc__, configs=CONFIGS, argv=argv, add_args=add)
    r = sweep(b, b.c)
    costs = {} if b.args.no_cost else paper_costs(b, b.args.cost_models)
    b.save({"what": "k1-cluster training of bias-free ReLU MLPs with ADAM (Mukherjee 2020, §6.4): stacked vs "
                    "per-net loop", "params": b.c, **({"paper": costs} if costs else {})},
           path=Path(b.args.out) / "pac_bayes.schema.json")
    print(f"[pac_bayes] chapter summary → {chapter_summary(b, b.c, r, costs)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
