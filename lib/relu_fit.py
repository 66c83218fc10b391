"""Batched training of many small ReLU nets of one depth and different widths (masked, one tensor program).

Used by the chapter ``relu_function_spaces`` (document 003, Ch. 2): shallow nets trained to the zig-zag
function for Thm 2.3.6 and Sum-of-ReLU nets trained to max{0,x1,x2} for Prop 2.5.2. The trained nets are
returned as exact :class:`lib.relu_constructions.ReLUNet` objects so that their piece counts and errors
can then be computed exactly.

All B nets share one padded parameter tensor per layer, W_l: (B, w_max_l, w_max_{l-1}); a mask (B, w_max_l)
switches off the units a net does not have, so nets of different widths train together in one Adam run
(each net's gradient is its own because the total loss is a sum over nets).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch

from .relu_constructions import ReLUNet

__all__ = ["train_masked_mlps"]


def adam_cosine(params: Sequence[torch.Tensor], losses: Callable[[], torch.Tensor], steps: int, lr: float
                ) -> torch.Tensor:
    """Train stacked models together: Adam with a cosine-annealed step on ``losses().sum()`` (each model's
    gradient is its own, since the models share no parameter). ``losses() -> (B,)``; returns the final (B,)
    losses, detached."""
    opt = torch.optim.Adam(list(params), lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
    for _ in range(steps):
        opt.zero_grad()
        losses().sum().backward()
        opt.step()
        sched.step()
    with torch.no_grad():
        return losses()


def _fit_stacked(params: list[torch.Tensor], masks: list[torch.Tensor] | None, Xt: torch.Tensor, yt: torch.Tensor,
                 steps: int, lr: float, loss: str) -> torch.Tensor:
    """Train stacked nets in place: ``params`` = [W_1 (B, w_1, n), b_1 (B, w_1), …, W_L, b_L, c (B, w_L), c0 (B,)],
    ``masks`` (B, w_i) per layer switching off padded units (None: no padding). Returns the final losses (B,)."""
    L = len(params) // 2 - 1
    B = params[0].shape[0]

    def forward() -> torch.Tensor:
        h = Xt.expand(B, -1, -1)                                     # (B, N, n)
        for i in range(L):
            W, b = params[2 * i], params[2 * i + 1]
            h = torch.relu(torch.einsum("bnd,bkd->bnk", h, W) + b[:, None, :])
            if masks is not None:
                h = h * masks[i][:, None, :]
        return torch.einsum("bnk,bk->bn", h, params[-2]) + params[-1][:, None]   # (B, N)

    def losses() -> torch.Tensor:
        r = forward() - yt
        return r.abs().mean(1) if loss == "l1" else r.pow(2).mean(1)

    return adam_cosine(params, losses, steps, lr)


def train_masked_mlps(X: np.ndarray, y: np.ndarray, widths: Sequence[Sequence[int]], steps: int, lr: float,
                      generator: torch.Generator, loss: str = "l2", device: torch.device | None = None,
                      group_by_width: bool = False) -> tuple[list[ReLUNet], np.ndarray]:
    """Train B = len(widths) ReLU nets R^n -> R (hidden widths ``widths[b]``, all of one depth) on (X, y).

    X: (N, n), y: (N,). ``loss``: "l2" (mean squared) or "l1" (mean absolute). Adam with cosine decay,
    He-uniform initialisation, float32 on ``device`` (default: the generator's). Returns the trained nets
    (float64 copies, padding removed) and the final training losses (B,).

    ``group_by_width``: the same initial weights (drawn padded, as without it), but the nets of each distinct width
    tuple train as their own unpadded batch. The nets are independent (Adam is elementwise and a padded unit gets
    zero gradient), so this is the same computation without the padding's work (up to float32 summation order);
    it pays when the widths differ a lot (nets of width 4 padded to 128 do 32 times their work).
    """
    if loss not in ("l1", "l2"):
        raise ValueError(f"loss must be 'l1' or 'l2', got {loss!r}")
    depths = {len(w) for w in widths}
    if len(depths) != 1 or min(min(w) for w in widths) < 1:
        raise ValueError("widths must be non-empty tuples of positive ints, all of the same length")
    dev = device or generator.device
    B, L = len(widths), depths.pop()
    Xt = torch.as_tensor(X, dtype=torch.float32, device=dev)
    yt = torch.as_tensor(y, dtype=torch.float32, device=dev)
    n = Xt.shape[1]
    wmax = [max(w[i] for w in widths) for i in range(L)]
    dims = [n] + wmax
    masks = [torch.tensor([[1.0 if j < w[i] else 0.0 for j in range(wmax[i])] for w in widths], device=dev)
             for i in range(L)]
    params = []
    for i in range(L):
        fan_in = dims[i]
        bound = float(np.sqrt(6.0 / fan_in))
        W = (torch.rand(B, dims[i + 1], dims[i], generator=generator, device=dev) * 2 - 1) * bound
        b = (torch.rand(B, dims[i + 1], generator=generator, device=dev) * 2 - 1) * bound
        params += [W.requires_grad_(), b.requires_grad_()]
    c = (torch.randn(B, wmax[-1], generator=generator, device=dev) / np.sqrt(wmax[-1])).requires_grad_()
    c0 = torch.zeros(B, device=dev, requires_grad=True)
    params += [c, c0]
    if not group_by_width:
        final = _fit_stacked(params, masks, Xt, yt, steps, lr, loss)
    else:
        final = torch.empty(B, device=dev)
        for w in dict.fromkeys(tuple(w) for w in widths):
            idx = torch.tensor([bi for bi, wb in enumerate(widths) if tuple(wb) == w], device=dev)
            dims_w = (n, *w)
            sub = []
            for i in range(L):
                sub += [params[2 * i][idx, : dims_w[i + 1], : dims_w[i]], params[2 * i + 1][idx, : dims_w[i + 1]]]
            sub = [p.detach().clone().requires_grad_() for p in sub + [params[-2][idx, : w[-1]], params[-1][idx]]]
            final[idx] = _fit_stacked(sub, None, Xt, yt, steps, lr, loss)
            with torch.no_grad():
                for i in range(L):
                    params[2 * i][idx, : dims_w[i + 1], : dims_w[i]] = sub[2 * i]
                    params[2 * i + 1][idx, : dims_w[i + 1]] = sub[2 * i + 1]
                params[-2][idx, : w[-1]] = sub[-2]
                params[-1][idx] = sub[-1]
    final = final.double().cpu().numpy()
    nets = []
    P = [p.detach().double().cpu().numpy() for p in params]
    for bi, w in enumerate(widths):
        Ws, bs = [], []
        prev = n
        for i in range(L):
            Ws.append(P[2 * i][bi, : w[i], :prev])
            bs.append(P[2 * i + 1][bi, : w[i]])
            prev = w[i]
        Ws.append(P[-2][bi, : w[-1]][None, :])
        bs.append(P[-1][bi: bi + 1])
        nets.append(ReLUNet(Ws, bs, f"trained {tuple(w)}"))
    return nets, final
