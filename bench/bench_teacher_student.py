"""Benchmark: the batched teacher–student engine vs the per-model torch.optim loop the thesis would have written.

Work: Algorithm 1 of Emschwiller (2020) — K teachers, T random restarts each on the teacher's data, full-batch
Adam (lr 0.02) for E epochs on the mean squared loss, then the test R^2 of every student.

- baseline: for each teacher, for each restart, an ``nn.Module`` (bias-free Linear + ReLU + 1/sqrt(m) sum) trained
  with ``torch.optim.Adam``: the obvious PyTorch program, one model at a time.
- library: one call of ``lib.teacher_student.train`` on all K*T students (data shared by views).

Both start from the same initial weights; every point checks that the looped students reach the batched ones' test
R^2. Two sweeps over the number of models:

- ``quick``: the chapter's typical call, d = m = 5, N = 200, 300 epochs, models 4 → 500 (K = 4 teachers); the
  loop runs every model up to 100 and is extrapolated at 500 from the measured sizes;
- ``paper``: the paper-scale shape, d = m = 10, N = 500, models 10 → 1,000 (K = 10), at 30 epochs instead of 300
  (both methods are linear in the epochs); the loop runs the first 10 models of each size, scaled linearly.

Flops of one library call: 6 N d m per model and epoch (forward X W, backward X^T G and the elementwise work).
Results: bench/results/teacher_student.json.

Usage: python bench/bench_teacher_student.py [--threads 2] [--device cpu|cuda] [--smoke]
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch  # noqa: E402

from lib import teacher_student as ts  # noqa: E402

from _common import Baseline, Bench  # noqa: E402

SWEEPS = {
    "quick": dict(K=4, d=5, m=5, N=200, n_test=200, epochs=300, models=[4, 20, 100, 500], loop_max=100),
    "paper": dict(K=10, d=10, m=10, N=500, n_test=500, epochs=30, models=[10, 100, 1000], loop_part=10),
}


def make_problem(c: dict, device: str = "cpu", seed: int = 0):
    g = torch.Generator(device=device).manual_seed(seed)
    Ws = ts.sample_teachers(c["K"], c["d"], c["m"], generator=g)
    X = ts.gaussian_inputs(c["K"], c["N"], c["d"], generator=g)
    Xt = ts.gaussian_inputs(c["K"], c["n_test"], c["d"], generator=g)
    W0 = ts.sample_teachers(c["K"] * c["T"], c["d"], c["m"], generator=g)
    return W0.to(device), X.to(device), ts.relu_net(Ws, X).to(device), Xt.to(device), ts.relu_net(Ws, Xt).to(device)


class Student(torch.nn.Module):
    """f(x) = m^-1/2 sum_j relu(w_j . x): eq. 2.1 as a user would write it."""

    def __init__(self, W: torch.Tensor):
        super().__init__()
        self.lin = torch.nn.Linear(W.shape[0], W.shape[1], bias=False)
        with torch.no_grad():
            self.lin.weight.copy_(W.T)

    def forward(self, x):
        return torch.relu(self.lin(x)).sum(-1) / math.sqrt(self.lin.out_features)


def run_loop(c: dict, W0, X, Y, Xt, Yt, n_models: int | None = None) -> torch.Tensor:
    """Per-model torch.optim loop over the first ``n_models`` students; their test R^2."""
    out = []
    for b in range(W0.shape[0] if n_models is None else n_models):
        k = b // c["T"]
        net = Student(W0[b]).to(W0.device)
        opt = torch.optim.Adam(net.parameters(), lr=0.02)
        for _ in range(c["epochs"]):
            opt.zero_grad()
            loss = ((net(X[k]) - Y[k]) ** 2).mean()
            loss.backward()
            opt.step()
        with torch.no_grad():
            out.append(ts.r2(net(Xt[k]), Yt[k]))
    return torch.stack(out)


def run_batched(c: dict, W0, X, Y, Xt, Yt) -> torch.Tensor:
    return ts.train(W0, X, Y, optimizer="adam", lr=0.02, epochs=c["epochs"], X_test=Xt, Y_test=Yt).test_r2


def same_r2(lib_r2: torch.Tensor, loop_r2: torch.Tensor) -> dict:
    diff = float((lib_r2[: len(loop_r2)].cpu() - loop_r2.cpu()).abs().max())
    if diff > 1e-3:
        raise SystemExit(f"batched and loop students disagree: max |ΔR²| = {diff:.2e}")
    return {"max_abs_diff_test_r2": diff, "models_compared": len(loop_r2)}


def sweep(b: Bench, config: str, s: dict) -> None:
    for B in b.sizes(s["models"]):
        c = dict(s, K=min(s["K"], B), T=B // min(s["K"], B))
        prob = make_problem(c, b.device)
        run_loop(c, *prob, n_models=1)  # warm-up: first module, optimiser and autograd graph
        n_loop = min(B, s.get("loop_part", B))
        if B <= s.get("loop_max", B):
            base = Baseline("per-model torch.optim loop", lambda c=c, p=prob, n=n_loop: run_loop(c, *p, n_models=n),
                            part=n_loop / B, check=same_r2,
                            note=f"loop timed on the first {n_loop} of {B} models, scaled linearly")
        else:
            base = Baseline("per-model torch.optim loop")  # extrapolated from the measured sizes at save time
        b.point("batched teacher–student engine (teacher_student.train)",
                dict(models=B, N=c["N"], d=c["d"], m=c["m"], epochs=c["epochs"]),
                lambda c=c, p=prob: run_batched(c, *p), [base], sweep="models", repeat=3, warmup=1, config=config,
                flops=6.0 * c["N"] * c["d"] * c["m"] * B * c["epochs"], dtype="float32",
                extra={"batched_step_working_set_mb": round(
                    (3 * c["K"] * c["N"] * c["T"] * c["m"] + B * c["N"] * c["d"]) * 4 / 2**20, 2)})


def main(argv: list[str] | None = None) -> int:
    b = Bench("teacher_student", __doc__, threads=2, argv=argv)
    for config, s in SWEEPS.items():
        sweep(b, config, s)
    b.save({"what": "Algorithm 1: K teachers x T restarts, full-batch Adam (lr 0.02), test R^2 of every student",
            "sweeps": SWEEPS})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
