"""Benchmark: Hessian spectra (lib.hessian) and the batched parameter-count sweep (lib.stacked_mlp).

1. Hessian of a tanh MLP's square loss (P parameters, float64):
   - ``naive``: the double loop of autograd a user writes (one backward pass per Hessian row), then eigvalsh;
   - ``exact``: ``lib.hessian.exact_hessian`` (torch.func.hessian) + eigvalsh;
   - ``lanczos``: ``lib.hessian.extreme_eigenvalues`` (HVP + scipy eigsh), top k = 5 only.
   Checked: the three agree on the top-5 eigenvalues.
2. W sweep: B small one-hidden-layer ReLU classifiers of different widths, full-batch GD with momentum:
   - ``loop``: one ``nn.Sequential`` per model with ``torch.optim.SGD``, one after another;
   - ``batched``: ``lib.stacked_mlp.train_stacked`` on all B at once (padded widths, masks).
   Checked: the same final training losses from the same initial weights.
Results: bench/results/hessian.json.  Usage: python bench/bench_hessian.py [--threads N]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from lib import hessian as hs  # noqa: E402
from lib import stacked_mlp as sm  # noqa: E402

from _common import timed, write_json  # noqa: E402


def hessian_problem(width: int = 24, n: int = 40, d: int = 8, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(n, d, generator=g, dtype=torch.float64)
    Y = torch.randn(n, 1, generator=g, dtype=torch.float64)
    net = torch.nn.Sequential(torch.nn.Linear(d, width), torch.nn.Tanh(), torch.nn.Linear(width, width),
                              torch.nn.Tanh(), torch.nn.Linear(width, 1)).double()
    loss_fn, theta = hs.functional_loss(net, lambda o, y: 0.5 * ((o - y) ** 2).sum(), X, Y)
    return loss_fn, theta


def bench_hessian(k: int = 5) -> dict:
    loss_fn, theta = hessian_problem()
    P = theta.numel()
    t_naive, ev_naive = timed(lambda: torch.linalg.eigvalsh(hs.naive_hessian(loss_fn, theta)).numpy())
    t_exact, ev_exact = timed(lambda: torch.linalg.eigvalsh(hs.exact_hessian(loss_fn, theta)).numpy(), repeat=2)
    t_lz, ev_lz = timed(lambda: hs.extreme_eigenvalues(loss_fn, theta, k=k, which="LA"), repeat=2)
    top = ev_exact[-k:]
    agree = float(max(np.abs(ev_naive[-k:] - top).max(), np.abs(ev_lz - top).max()) / np.abs(top).max())
    return {"P": P, "k": k, "naive_s": t_naive, "exact_s": t_exact, "lanczos_s": t_lz,
            "ratio_naive_over_exact": t_naive / t_exact, "ratio_naive_over_lanczos": t_naive / t_lz,
            "top_k_relative_disagreement": agree}


def bench_sweep(steps: int = 100) -> dict:
    g = torch.Generator().manual_seed(1)
    n, d, k = 500, 49, 10
    X = torch.randn(n, d, generator=g)
    y = torch.randint(0, k, (n,), generator=g)
    widths = [1, 2, 4, 8, 16, 32, 64] * 2
    wid = torch.tensor([[h] for h in widths])
    net = sm.init_stacked(len(widths), d, [max(widths)], k, generator=g, widths=wid)
    init = [p.detach().clone() for p in net.params()]

    def batched():
        for p, p0 in zip(net.params(), init):
            with torch.no_grad():
                p.copy_(p0)
        log = sm.train_stacked(net, X, y, steps=steps, lr=0.1, momentum=0.9, log_every=steps)
        return log.stacked()["train_loss"][:, -1].numpy()

    def loop():
        out = []
        for b, h in enumerate(widths):
            m = torch.nn.Sequential(torch.nn.Linear(d, h), torch.nn.ReLU(), torch.nn.Linear(h, k))
            with torch.no_grad():
                m[0].weight.copy_(init[0][b, :, :h].T)
                m[0].bias.copy_(init[2][b, :h])
                m[2].weight.copy_(init[1][b, :h, :].T)
                m[2].bias.copy_(init[3][b])
            opt = torch.optim.SGD(m.parameters(), lr=0.1, momentum=0.9)
            for _ in range(steps):
                opt.zero_grad()
                torch.nn.functional.cross_entropy(m(X), y).backward()
                opt.step()
            with torch.no_grad():
                out.append(float(torch.nn.functional.cross_entropy(m(X), y)))
        return np.array(out)

    t_b, lb = timed(batched, repeat=2)
    t_l, ll = timed(loop)
    return {"models": len(widths), "steps": steps, "batched_s": t_b, "loop_s": t_l,
            "ratio_loop_over_batched": t_l / t_b,
            "max_final_loss_difference": float(np.abs(lb - ll).max())}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    doc = {"topic": "hessian", "threads": a.threads, "hessian_spectrum": bench_hessian(), "w_sweep": bench_sweep()}
    assert doc["hessian_spectrum"]["top_k_relative_disagreement"] < 1e-8
    assert doc["w_sweep"]["max_final_loss_difference"] < 1e-4
    write_json(ROOT / "bench" / "results" / "hessian.json", doc)
    print(doc)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
