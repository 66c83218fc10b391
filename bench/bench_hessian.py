"""Benchmark: Hessian spectra (lib.hessian) and the batched parameter-count sweep (lib.stacked_mlp), at several sizes.

1. Hessian of a tanh MLP's square loss (d = 8 inputs, two hidden layers of width w, 40 points, float64), swept over
   the number of parameters P (w = 8 ... 32):
   - library ``exact``: ``lib.hessian.exact_hessian`` (torch.func.hessian) + eigvalsh, against the baseline
     ``naive``: the double loop of autograd a user writes (one backward pass per Hessian row), then eigvalsh;
   - library ``lanczos``: ``lib.hessian.extreme_eigenvalues`` (HVP + scipy eigsh), top k = 5 only, against the
     dense exact path.
   Checked: the three agree on the top-5 eigenvalues.
2. W sweep: B small one-hidden-layer ReLU classifiers of widths 1 ... 64, full-batch GD with momentum, swept over B:
   - baseline: one ``nn.Sequential`` per model with ``torch.optim.SGD``, one after another (the first 7 models of
     each size, scaled linearly);
   - library: ``lib.stacked_mlp.train_stacked(group_widths=True)``, the chapter's call: one stack per width (the
     B/7 seeds of a width train as one program), no padding;
   - baseline: the same on all B at once, padded to the widest model (masks): 448/127 = 3.5x the useful flops.
   Checked: the same final training losses from the same initial weights. Flops: the useful arithmetic,
   6 n (d w + w k) per model and step (the padding to the widest model is not counted).
Results: bench/results/hessian.json.  Usage: python bench/bench_hessian.py [--threads N] [--smoke]
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from lib import hessian as hs  # noqa: E402
from lib import stacked_mlp as sm  # noqa: E402

from _common import Baseline, Bench  # noqa: E402

SIZES = dict(widths=[8, 16, 24, 32], k=5, models=[7, 14, 28, 56], steps=50, loop_models=7)
WIDTHS = [1, 2, 4, 8, 16, 32, 64]


def hessian_problem(width: int = 24, n: int = 40, d: int = 8, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(n, d, generator=g, dtype=torch.float64)
    Y = torch.randn(n, 1, generator=g, dtype=torch.float64)
    net = torch.nn.Sequential(torch.nn.Linear(d, width), torch.nn.Tanh(), torch.nn.Linear(width, width),
                              torch.nn.Tanh(), torch.nn.Linear(width, 1)).double()
    loss_fn, theta = hs.functional_loss(net, lambda o, y: 0.5 * ((o - y) ** 2).sum(), X, Y)
    return loss_fn, theta


def bench_hessian(b: Bench) -> None:
    k = SIZES["k"]

    def top_agree(a, c) -> dict:
        a, c = np.sort(np.asarray(a))[-k:], np.sort(np.asarray(c))[-k:]
        diff = float(np.abs(a - c).max() / np.abs(c).max())
        if diff > 1e-8:
            raise SystemExit(f"Hessian spectra disagree on the top {k}: {diff:.2e}")
        return {"top_k_relative_disagreement": diff}

    for w in b.sizes(SIZES["widths"]):
        loss_fn, theta = hessian_problem(width=w)
        P = theta.numel()
        work = dict(P=P, width=w, n=40, d=8)
        exact = lambda loss_fn=loss_fn, theta=theta: torch.linalg.eigvalsh(  # noqa: E731
            hs.exact_hessian(loss_fn, theta)).numpy()
        b.point("exact Hessian (hessian.exact_hessian, torch.func) + eigvalsh", work, exact,
                [Baseline("naive double loop of autograd + eigvalsh", lambda loss_fn=loss_fn, theta=theta:
                          torch.linalg.eigvalsh(hs.naive_hessian(loss_fn, theta)).numpy(), check=top_agree)],
                sweep="P", repeat=2)
        b.point(f"top-{k} eigenvalues by Lanczos (hessian.extreme_eigenvalues: HVP + eigsh)", work,
                lambda loss_fn=loss_fn, theta=theta: hs.extreme_eigenvalues(loss_fn, theta, k=k, which="LA"),
                [Baseline("dense exact Hessian + eigvalsh", exact, repeat=2, check=top_agree)], sweep="P", repeat=2)


def bench_sweep(b: Bench) -> None:
    g = torch.Generator().manual_seed(1)
    n, d, k, steps = 500, 49, 10, SIZES["steps"]
    X = torch.randn(n, d, generator=g)
    y = torch.randint(0, k, (n,), generator=g)
    for B in b.sizes(SIZES["models"]):
        widths = (WIDTHS * (B // len(WIDTHS) + 1))[:B]
        wid = torch.tensor([[h] for h in widths])
        net = sm.init_stacked(B, d, [max(widths)], k, generator=g, widths=wid)
        init = [p.detach().clone() for p in net.params()]

        def stacked(group_widths: bool, net=net, init=init):
            for p, p0 in zip(net.params(), init):
                with torch.no_grad():
                    p.copy_(p0)
            log = sm.train_stacked(net, X, y, steps=steps, lr=0.1, momentum=0.9, log_every=steps,
                                   group_widths=group_widths)
            return log.stacked()["train_loss"][:, -1].numpy()

        def loop(widths=widths, init=init):
            out = []
            for i, h in enumerate(widths[: SIZES["loop_models"]]):
                m = torch.nn.Sequential(torch.nn.Linear(d, h), torch.nn.ReLU(), torch.nn.Linear(h, k))
                with torch.no_grad():
                    m[0].weight.copy_(init[0][i, :, :h].T)
                    m[0].bias.copy_(init[2][i, :h])
                    m[2].weight.copy_(init[1][i, :h, :].T)
                    m[2].bias.copy_(init[3][i])
                opt = torch.optim.SGD(m.parameters(), lr=0.1, momentum=0.9)
                for _ in range(steps):
                    opt.zero_grad()
                    torch.nn.functional.cross_entropy(m(X), y).backward()
                    opt.step()
                with torch.no_grad():
                    out.append(float(torch.nn.functional.cross_entropy(m(X), y)))
            return np.array(out)

        def same_losses(lb, ll) -> dict:
            diff = float(np.abs(lb[: len(ll)] - ll).max())
            if diff > 1e-4:
                raise SystemExit(f"stacked and looped training disagree: max final-loss difference {diff:.2e}")
            return {"max_final_loss_difference": diff}

        kl = min(B, SIZES["loop_models"])
        b.point("batched width sweep (stacked_mlp.train_stacked, group_widths=True: one stack per width)",
                dict(models=B, steps=steps, n=n), lambda: stacked(True),
                [Baseline("per-model nn.Sequential + torch.optim.SGD loop", loop, part=kl / B,
                          check=same_losses, note=f"loop timed on the first {kl} of the {B} models, scaled linearly"),
                 Baseline("one stack padded to the widest model (group_widths=False)", lambda: stacked(False),
                          check=same_losses, note="every model computes at width 64")],
                sweep="models", repeat=2, flops=6.0 * n * steps * sum(d * h + h * k for h in widths),
                dtype="float32")


def main(argv: list[str] | None = None) -> int:
    b = Bench("hessian", __doc__, argv=argv)
    bench_hessian(b)
    bench_sweep(b)
    b.save({"what": __doc__.splitlines()[0], "sizes": SIZES})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
