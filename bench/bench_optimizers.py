"""Benchmark: many NAG / RMSProp / ADAM autoencoder runs as one batched program vs a loop of ordinary runs, and
the cost of one paper-size training step.

Work: the sweep behind one figure of Mukherjee (2020) Ch. 5 (Fig 5.6.3): a tied ReLU autoencoder trained full
batch by 5 curves (NAG μ = 0.9/0.99, RMSProp, ADAM β1 = 0.9/0.99) × step sizes × seeds.

- baseline: for every run, its own parameter tensors and its own ``torch.optim.Optimizer`` (the thesis's
  Algorithms 5–7 as ``lib.optimizers.NAG/RMSProp/Adam``), trained one after the other: the obvious PyTorch program.
  It runs the first ``loop_runs`` runs of each size and is scaled linearly.
- library: one call of ``lib.autoencoders.train`` on all runs (stacked weights, one update for every run).

Two sweeps over the number of runs: the quick Fig 5.6.3 nets (width 32, 12×12 images, 300 of them) and small nets
(width 8, 6×6 images, 100 of them), where one run cannot fill the CPU. Once, in float64, the two programs must end
at the same losses (50 steps); the float32 finals are compared at every size (reported: the near-unstable runs of
the grid amplify float32 rounding).

Then one training step (forward, backward, Adam update) of one run at each paper-size configuration (h = 1000,
22×22 images, 5,500 of them, full batch; §5.D grids), a series over the arithmetic of the step
(12 N (d h + (ℓ−1) h²) flops, float32), from which the cost of the chapter at paper scale (10⁵ steps per run) is
extrapolated into ``summary``, which the chapter adaptive_optimizers shows.
Results: bench/results/optimizers.json.

Usage: python bench/bench_optimizers.py [--device cpu|cuda] [--threads N] [--skip-paper] [--smoke]
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from lib import autoencoders as ae  # noqa: E402
from lib import optimizers as opt  # noqa: E402

from _common import Baseline, Bench  # noqa: E402

QUICK = dict(lrs=dict(nag=[1e-2, 3e-2], rmsprop=[1e-3, 3e-3], adam=[3e-3, 1e-2]), seeds=2)
SWEEPS = {  # name: dims, runs swept, steps, loop runs timed per size
    "Fig 5.6.3 nets at quick scale": dict(d=144, h=32, ell=2, N=300, runs=[5, 10, 20, 40], steps=50, loop_runs=5),
    "small nets": dict(d=36, h=8, ell=1, N=100, runs=[10, 40, 160, 640], steps=50, loop_runs=10),
}
# paper-scale runs per architecture: §5.D grids (5 step sizes × 2 momentum / β2 / β1 values per algorithm)
PAPER_RUNS = {  # name: (d, h, ell, N, batch, runs)
    "Fig 5.6.1 + 5.E.1 (ζ sweep, 1 hidden 1000)": (484, 1000, 1, 5500, None, 4 * 20),
    "Fig 5.6.2 (1 hidden 300, λ_min)": (484, 300, 1, 5500, None, 3),
    "Fig 5.6.3 (3 hidden 1000)": (484, 1000, 2, 5500, None, 30),
    "Figs 5.F.1–5.F.3 (2 more depths)": (484, 1000, 3, 5500, None, 60),
    "Fig 5.F.4 (17×17)": (289, 1000, 2, 5500, None, 30),
    "Fig 5.F.5 (12×12)": (144, 1000, 2, 5500, None, 30),
    "Fig 5.6.4 + 5.F.6 (mini-batch 100, 5 hidden)": (484, 1000, 3, 55000, 100, 60),
}
PAPER_STEPS = 100_000


def step_flops(d: int, h: int, ell: int, N: int) -> float:
    """Forward (encoder and tied decoder: 2 N (d h + (ℓ−1) h²) each) plus backward (twice the forward)."""
    return 12.0 * N * (d * h + (ell - 1) * h * h)


def rows() -> list[dict]:
    """The 20 runs of the quick grid: 5 curves × 2 step sizes × 2 seeds."""
    out = []
    for _ in range(QUICK["seeds"]):          # the seeds differ by their initial weights (P0 rows)
        for lr in QUICK["lrs"]["nag"]:
            out += [dict(kind="nag", lr=lr, momentum=0.9), dict(kind="nag", lr=lr, momentum=0.99)]
        for lr in QUICK["lrs"]["rmsprop"]:
            out.append(dict(kind="rmsprop", lr=lr, beta2=0.9, shift=1e-10))
        for lr in QUICK["lrs"]["adam"]:
            out += [dict(kind="adam", lr=lr, beta1=0.9), dict(kind="adam", lr=lr, beta1=0.99)]
    return out


def run_loop(arch, cfgs, P0, X, steps):
    finals = []
    for r, c in enumerate(cfgs):
        P = {k: v[r:r + 1].clone().requires_grad_(True) for k, v in P0.items()}
        kw = {k: v for k, v in c.items() if k != "kind"}
        o = {"nag": opt.NAG, "rmsprop": opt.RMSProp, "adam": opt.Adam}[c["kind"]](list(P.values()), **kw)
        for _ in range(steps):
            o.zero_grad()
            ae.losses(P, X)[0].backward()
            o.step()
        with torch.no_grad():
            finals.append(ae.losses(P, X)[0].item())
    return np.array(finals)


def run_batched(arch, cfgs, P0, X, steps):
    hyp = opt.BatchedHyper.from_configs(cfgs, dtype=X.dtype, device=X.device)
    H = ae.train(arch, hyp, X, X, steps, generator=torch.Generator(device=X.device).manual_seed(0), params=P0,
                 eval_at=[steps])
    return H.train_loss[-1]


def paper_step(d, h, ell, N, device):
    """One training step (forward, backward, Adam update) of one run of a paper-size net, as a callable."""
    g = torch.Generator(device=device).manual_seed(0)
    X = torch.rand(N, d, generator=g, device=device)
    P = ae.init_params(ae.Arch(d, h, ell), 1, generator=g, device=device)
    names = list(P)
    hyp = opt.BatchedHyper.from_configs([dict(kind="adam", lr=1e-4)], device=device)
    st = opt.batched_init([P[k] for k in names])

    def step():
        _, gr = ae.loss_and_grads(P, X)
        opt.batched_step([P[k] for k in names], [gr[k] for k in names], st, hyp)
    return step


def finals_agree(fb, fl) -> dict:
    fin = np.isfinite(fl) & np.isfinite(fb[: len(fl)])
    return {"max_rel_diff_final_loss_float32": float(np.max(np.abs(fb[: len(fl)] - fl)[fin] / np.abs(fl[fin]))),
            "diverged_runs_of_the_loop": int((~np.isfinite(fl)).sum())}


def check_float64(dev: str) -> float:
    """The two programs in float64 on the quick nets' first 10 runs, 50 steps: the largest relative difference of
    the final losses (raises above 1e-9)."""
    s = SWEEPS["Fig 5.6.3 nets at quick scale"]
    g = torch.Generator(device=dev).manual_seed(0)
    arch, cfgs = ae.Arch(s["d"], s["h"], s["ell"]), rows()[:10]
    X = torch.rand(s["N"], s["d"], generator=g, device=dev, dtype=torch.float64)
    P = {k: v.double() for k, v in ae.init_params(arch, len(cfgs), generator=g, device=dev).items()}
    fb, fl = run_batched(arch, cfgs, P, X, 50), run_loop(arch, cfgs, P, X, 50)
    ok = np.isfinite(fl)
    if not np.array_equal(ok, np.isfinite(fb)):
        raise SystemExit("batched and loop disagree (float64) on which runs diverge")
    diff = float(np.max(np.abs(fb - fl)[ok] / np.abs(fl[ok])))
    if not diff <= 1e-9:
        raise SystemExit(f"batched and loop disagree (float64, 50 steps): max rel. diff of final losses {diff:.3g}")
    return diff


def run_sweeps(b: Bench) -> dict:
    dev = b.device
    last = {}
    for name, s in SWEEPS.items():
        g = torch.Generator(device=dev).manual_seed(1)
        X = torch.rand(s["N"], s["d"], generator=g, device=dev)
        arch = ae.Arch(s["d"], s["h"], s["ell"])
        for R in b.sizes(s["runs"]):
            cfgs = (rows() * (R // len(rows()) + 1))[:R]
            P0 = ae.init_params(arch, R, generator=g, device=dev)
            k = min(R, s["loop_runs"])
            sub = {n: v[:k] for n, v in P0.items()}
            last[name] = b.point(
                "batched optimiser sweep, runs stacked (autoencoders.train)",
                dict(runs=R, steps=s["steps"], N=s["N"], d=s["d"], h=s["h"], ell=s["ell"]),
                lambda arch=arch, cfgs=cfgs, P0=P0, X=X, n=s["steps"]: run_batched(arch, cfgs, P0, X, n),
                [Baseline("per-run torch.optim loop", lambda arch=arch, cfgs=cfgs, sub=sub, k=k, X=X, n=s["steps"]:
                          run_loop(arch, cfgs[:k], sub, X, n), part=k / R, check=finals_agree,
                          note=f"loop timed on the first {k} of the {R} runs, scaled linearly")],
                sweep="runs", repeat=2 if R >= 20 else 3, config=name,
                flops=R * s["steps"] * step_flops(s["d"], s["h"], s["ell"], s["N"]), dtype="float32")[0]
    return last


def run_paper(b: Bench) -> dict:
    step_s, dev = {}, b.device
    for name, (d, h, ell, N, batch, _runs) in PAPER_RUNS.items():
        n = N if batch is None else batch
        fl = step_flops(d, h, ell, n)
        r = b.point("one paper-size training step of one run (loss_and_grads + batched_step)",
                    dict(gflop=round(fl / 1e9, 3), d=d, h=h, ell=ell, N=n), paper_step(d, h, ell, n, dev),
                    sweep="gflop", repeat=1, warmup=1 if fl < 2e10 else 0, config="paper-size steps",
                    flops=fl, dtype="float32", note=name)[0]
        step_s[name] = r.lib_s.min_s
    ref = "Fig 5.6.3 (3 hidden 1000)"
    rate = step_flops(484, 1000, 2, 5500) / step_s[ref]          # flop/s of a full-batch paper step
    per, total_s = {}, 0.0
    for name, (d, h, ell, N, batch, runs) in PAPER_RUNS.items():
        # mini-batch runs: 200 full-set evaluations (forward passes, a third of a step, on up to 10,000 images)
        evals = 0.0 if batch is None else 200 * step_flops(d, h, ell, min(N, 10000)) / 3 / rate
        cost = runs * (PAPER_STEPS * step_s[name] + evals)
        per[name] = dict(step_s_one_run=round(step_s[name], 4), runs=runs, hours=round(cost / 3600, 1))
        total_s += cost
    return dict(steps_per_run=PAPER_STEPS, configs=per, total_hours=round(total_s / 3600, 1),
                note="one run per step timed (R = 1); batching R runs costs ≈ R × this on a saturated CPU and less "
                     "on a GPU; mini-batch runs: 200 full-set evaluations per run, as forward passes at the rate of "
                     "the full-batch Fig 5.6.3 step")


def main(argv: list[str] | None = None) -> int:
    b = Bench("optimizers", __doc__, argv=argv,
              add_args=lambda ap: ap.add_argument("--skip-paper", action="store_true",
                                                  help="skip the paper-size step timings (and their summary lines)"))
    diff64 = check_float64(b.device)
    last = run_sweeps(b)
    q, sm = last["Fig 5.6.3 nets at quick scale"], last["small nets"]
    summary = {
        f"batched / loop speed-up, quick Fig 5.6.3 sweep ({q.work['runs']} runs × {q.work['steps']} steps, width 32, "
        "300 images)": f"{q.ratio:.1f}×",
        f"batched / loop speed-up, small nets ({sm.work['runs']} runs × {sm.work['steps']} steps, width 8, "
        "100 images)": f"{sm.ratio:.1f}×",
        f"load average during the bench ({b.env['cpu_count']} cores)": f"{q.load_after:.1f}"}
    detail = {"what": __doc__.splitlines()[0], "sweeps": SWEEPS, "grid": QUICK,
              "max_rel_diff_final_loss_float64_50_steps": diff64}
    if not b.args.skip_paper:
        paper = run_paper(b)
        s563 = paper["configs"]["Fig 5.6.3 (3 hidden 1000)"]["step_s_one_run"]
        flop = step_flops(484, 1000, 2, 5500)
        total_s = paper["total_hours"] * 3600
        summary[f"paper scale on this {b.device} ({b.args.threads} thread), all figures"] = \
            f"{total_s / 3600 / 24:.0f} days ({total_s / 3600:.0f} h)"
        summary["one Fig 5.6.3 step (h = 1000, 5500 images)"] = f"{s563:.2f} s ≈ {flop / s563 / 1e9:.0f} GFLOP/s"
        summary["estimate on one GPU at 20 TFLOP/s effective, all figures"] = \
            f"{total_s * (flop / s563) / 20e12 / 3600:.0f} h"
        detail["paper"] = paper
    detail["summary"] = summary
    b.save(detail)
    for k, v in summary.items():
        print(f"{k}: {v}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
