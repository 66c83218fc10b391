"""Many small MLP classifiers trained as ONE tensor program (stacked weights, one batched matmul per layer).

Used for the overfitting curves of Poggio et al. 2018 (Figs 1, 3, 5, 6, 9–12, 14, 17, 18): sweeps over the
number of parameters W (hidden widths), the number of training examples n, true vs random labels, ReLU vs
polynomial activation, cross-entropy vs square loss, and perturbation-then-GD cycles.

Model b (of B) is an MLP d → h_1 → … → h_L → k with weights ``Ws[l]: (B, fan_in, fan_out)`` and biases
``bs[l]: (B, fan_out)``. Ragged sweeps are padded: ``width_masks[l]: (B, h_l)`` (1 on model b's first h_l(b)
units) multiplies the hidden activations, so masked units neither influence the output nor receive a gradient
(their weights stay at their initial value and are excluded from parameter counts and norms). A sweep over widths
1…512 padded to 512 does about five times the work of the models themselves; ``train_stacked(...,
group_widths=True)`` trains each group of equal widths as its own stack, trimmed to that width
(:func:`width_groups`), with the same initial weights and the same iterates up to rounding. ``sample_mask:
(B, n)`` gives each model its own training subset. All models read the same inputs X (n, d); labels Y (B, n)
may differ per model (random labels). Per-model losses are averaged over that model's samples; the total
loss is their *sum*, so every model gets exactly its own gradient and GD on the stack is B independent GDs.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ["StackedMLP", "init_stacked", "forward", "per_model_loss", "train_stacked", "TrainLog",
           "n_params", "weight_norms", "perturb_", "per_example_losses", "evaluate", "width_groups"]


@dataclass
class StackedMLP:
    """Stacked parameters and masks of B MLPs (see module docstring for shapes)."""

    Ws: list[Tensor]
    bs: list[Tensor]
    width_masks: list[Tensor]

    @property
    def B(self) -> int:
        return self.Ws[0].shape[0]

    def params(self) -> list[Tensor]:
        return [*self.Ws, *self.bs]


def init_stacked(B: int, d: int, hidden: list[int], k: int, *, generator: torch.Generator,
                 widths: Tensor | None = None, dtype: torch.dtype = torch.float32, gain: float = 2.0 ** 0.5
                 ) -> StackedMLP:
    """He-style init N(0, gain²/fan_in) (fan_in = the model's own width) for B stacked MLPs d → hidden → k.

    ``widths``: (B, L) actual widths per model and hidden layer (≤ hidden[l]); default the full widths."""
    if not hidden or any(h < 1 for h in hidden):
        raise ValueError(f"hidden must be a non-empty list of positive widths, got {hidden}")
    L = len(hidden)
    if widths is None:
        widths = torch.tensor(hidden).expand(B, L)
    widths = torch.as_tensor(widths)
    if widths.shape != (B, L) or (widths > torch.tensor(hidden)).any() or (widths < 1).any():
        raise ValueError(f"widths must be (B={B}, L={L}) with 1 <= widths[:, l] <= hidden[l]; got {widths.shape}")
    dev = generator.device
    masks = [(torch.arange(h, device=dev)[None, :] < widths[:, l, None].to(dev)).to(dtype)
             for l, h in enumerate(hidden)]
    sizes = [d, *hidden, k]
    Ws, bs = [], []
    for l in range(L + 1):
        fan_in = torch.full((B,), float(d), device=dev) if l == 0 else widths[:, l - 1].to(dev, dtype)
        W = torch.randn(B, sizes[l], sizes[l + 1], generator=generator, device=dev, dtype=dtype)
        W = W * (gain / fan_in.sqrt())[:, None, None]
        if l > 0:
            W = W * masks[l - 1][:, :, None]
        if l < L:
            W = W * masks[l][:, None, :]
        Ws.append(W.requires_grad_(True))
        bs.append(torch.zeros(B, sizes[l + 1], device=dev, dtype=dtype).requires_grad_(True))
    return StackedMLP(Ws, bs, masks)


def forward(model: StackedMLP, X: Tensor, act: Callable[[Tensor], Tensor] = torch.relu, *, bn: bool = False,
            stats: list[tuple[Tensor, Tensor]] | None = None, mask: Tensor | None = None
            ) -> tuple[Tensor, list[tuple[Tensor, Tensor]]]:
    """(outputs (B, n, k), BN statistics) of all B models on shared inputs X (n, d) (or per-model (B, n, d)).

    ``bn``: batch normalisation without affine parameters before every activation, z ← (z − μ)/√(σ² + 1e−5),
    with μ, σ² (B, h) over the model's own samples (``mask`` (B, n)) — full-batch BN in training mode — or
    taken from ``stats`` (evaluation mode: the training batch's statistics)."""
    h = X
    L = len(model.width_masks)
    new_stats = []
    for l in range(L + 1):
        W, b = model.Ws[l], model.bs[l]
        h = (torch.einsum("nd,bdh->bnh", h, W) if h.ndim == 2 else torch.bmm(h, W)) + b[:, None, :]
        if l < L:
            if bn:
                if stats is None:
                    if mask is None:
                        mu, var = h.mean(1), h.var(1, unbiased=False)
                    else:
                        w = (mask / mask.sum(1, keepdim=True))[:, :, None]
                        mu = (h * w).sum(1)
                        var = (((h - mu[:, None, :]) ** 2) * w).sum(1)
                else:
                    mu, var = stats[l]
                new_stats.append((mu.detach(), var.detach()))
                h = (h - mu[:, None, :]) / (var[:, None, :] + 1e-5).sqrt()
            h = act(h) * model.width_masks[l][:, None, :]
    return h, new_stats


def per_model_loss(out: Tensor, Y: Tensor, loss: str, mask: Tensor | None = None) -> Tensor:
    """Loss per model (B,): "ce" cross-entropy, or "mse" ½‖out − onehot(y)‖² per example; mean over mask."""
    if loss == "ce":
        li = F.cross_entropy(out.reshape(-1, out.shape[-1]), Y.reshape(-1), reduction="none").reshape(Y.shape)
    elif loss == "mse":
        li = 0.5 * ((out - F.one_hot(Y, out.shape[-1]).to(out.dtype)) ** 2).sum(-1)
    else:
        raise ValueError(f"loss must be 'ce' or 'mse', got {loss!r}")
    if mask is None:
        return li.mean(-1)
    return (li * mask).sum(-1) / mask.sum(-1)


def n_params(model: StackedMLP) -> Tensor:
    """Effective parameter count W per model (B,): weights and biases touching unmasked units only."""
    w = [m.sum(1) for m in model.width_masks]
    sizes_in = model.Ws[0].shape[1]
    k = model.Ws[-1].shape[2]
    total = sizes_in * w[0] + w[0]
    for l in range(1, len(w)):
        total = total + w[l - 1] * w[l] + w[l]
    return (total + w[-1] * k + k).long()


def weight_norms(model: StackedMLP) -> Tensor:
    """Frobenius norms of each layer's weight matrix per model, (B, L + 1) (masked entries are zero)."""
    return torch.stack([W.detach().flatten(1).norm(dim=1) for W in model.Ws], dim=1)


@torch.no_grad()
def perturb_(model: StackedMLP, frac: float, generator: torch.Generator, which: Tensor | None = None) -> None:
    """In place: W_l += N(0, (frac·std(W_l))²) per model and layer on the unmasked entries (Fig. 3's protocol;
    std over the model's own entries). ``which`` (B,) bool selects the models perturbed (default all)."""
    L = len(model.width_masks)
    for l, W in enumerate(model.Ws):
        m = torch.ones_like(W)
        if l > 0:
            m = m * model.width_masks[l - 1][:, :, None]
        if l < L:
            m = m * model.width_masks[l][:, None, :]
        cnt = m.flatten(1).sum(1)
        mean = (W * m).flatten(1).sum(1) / cnt
        var = (((W - mean[:, None, None]) * m) ** 2).flatten(1).sum(1) / (cnt - 1).clamp_min(1)
        sd = frac * var.sqrt()
        if which is not None:
            sd = sd * which.to(sd.dtype)
        W.add_(torch.randn(W.shape, generator=generator, device=W.device, dtype=W.dtype) * sd[:, None, None] * m)


@dataclass
class TrainLog:
    """Per-model curves, each (B, len(steps)): losses and 0–1 errors on train and test, and weight norms²."""

    steps: list[int] = field(default_factory=list)
    train_loss: list[Tensor] = field(default_factory=list)
    test_loss: list[Tensor] = field(default_factory=list)
    train_err: list[Tensor] = field(default_factory=list)
    test_err: list[Tensor] = field(default_factory=list)
    norm2: list[Tensor] = field(default_factory=list)
    layer_norms: list[Tensor] = field(default_factory=list)

    def stacked(self) -> dict[str, Tensor]:
        out = {k: torch.stack(v, dim=1) for k, v in vars(self).items() if k != "steps" and v}
        out["steps"] = torch.tensor(self.steps)
        return out


@torch.no_grad()
def evaluate(model: StackedMLP, X: Tensor, Y: Tensor, loss: str, act: Callable[[Tensor], Tensor],
             mask: Tensor | None = None, *, bn: bool = False, stats: list | None = None
             ) -> tuple[Tensor, Tensor, list]:
    """(loss (B,), error rate (B,), BN stats) on X (n, d), labels Y (B, n) or (n,), sample mask (B, n)."""
    B = model.B
    if Y.ndim == 1:
        Y = Y.expand(B, -1)
    out, st = forward(model, X, act, bn=bn, stats=stats, mask=mask)
    l = per_model_loss(out, Y, loss, mask)
    wrong = (out.argmax(-1) != Y).to(out.dtype)
    err = wrong.mean(-1) if mask is None else (wrong * mask).sum(-1) / mask.sum(-1)
    return l, err, st


def width_groups(model: StackedMLP) -> list[tuple[Tensor, StackedMLP]]:
    """The padded stack split into groups of models with equal widths: ``[(rows (B_g,), sub-stack), ...]``, each
    sub-stack trimmed to its own widths (all-ones masks; the weights are copies, new leaves requiring grad)."""
    L = len(model.width_masks)
    widths = torch.stack([m.sum(1) for m in model.width_masks], 1).round().long().cpu()      # (B, L)
    uniq, inv = torch.unique(widths, dim=0, return_inverse=True)
    out = []
    for g, w in enumerate(uniq.tolist()):
        rows = (inv == g).nonzero().squeeze(1).to(model.Ws[0].device)
        Ws, bs = [], []
        for l in range(L + 1):
            W, b = model.Ws[l].detach()[rows], model.bs[l].detach()[rows]
            if l > 0:
                W = W[:, :w[l - 1], :]
            if l < L:
                W, b = W[:, :, :w[l]], b[:, :w[l]]
            Ws.append(W.clone().requires_grad_(True))
            bs.append(b.clone().requires_grad_(True))
        masks = [torch.ones(len(rows), w[l], device=m.device, dtype=m.dtype) for l, m in enumerate(model.width_masks)]
        out.append((rows, StackedMLP(Ws, bs, masks)))
    return out


@torch.no_grad()
def _write_back(model: StackedMLP, rows: Tensor, sub: StackedMLP) -> None:
    """Copy a trimmed sub-stack's parameters into the padded stack's rows ``rows`` (padding entries untouched)."""
    for P, Q in zip(model.params(), sub.params()):
        idx = (rows, *(slice(0, n) for n in Q.shape[1:]))
        P[idx] = Q


def train_stacked(model: StackedMLP, X: Tensor, Y: Tensor, *, steps: int, lr: float, loss: str = "ce",
                  momentum: float = 0.0, act: Callable[[Tensor], Tensor] = torch.relu,
                  sample_mask: Tensor | None = None, X_test: Tensor | None = None, Y_test: Tensor | None = None,
                  log_every: int = 10, perturb: dict | None = None, log: TrainLog | None = None,
                  start_step: int = 0, bn: bool = False, group_widths: bool = False) -> TrainLog:
    """Full-batch GD (heavy-ball momentum optional) on the B models at once; returns the :class:`TrainLog`.

    X (n, d); Y (B, n) labels in 0..k−1 (or (n,) shared); ``sample_mask`` (B, n). ``perturb`` =
    {"every": K, "frac": 0.25, "generator": g, "start": s0, "which": (B,) bool}: after step s (s > s0,
    (s − s0) % K == 0) apply :func:`perturb_` (Fig. 3). ``bn``: see :func:`forward`.
    The update is v ← μv + g, θ ← θ − lr·v, per model.

    ``group_widths``: train each group of equal widths (:func:`width_groups`) as its own stack, without the padding,
    then write the trained weights back into ``model`` and the curves into one log of all B models, in order. The
    iterates are those of the padded program up to rounding (a masked unit adds exact zeros there). Not with
    ``perturb`` (its noise is drawn for the padded shapes) or a continued ``log``.
    """
    if steps < 0 or lr <= 0:
        raise ValueError(f"steps must be >= 0 and lr > 0, got steps={steps}, lr={lr}")
    B = model.B
    if Y.ndim == 1:
        Y = Y.expand(B, -1)
    if group_widths:
        if perturb is not None or log is not None:
            raise ValueError("group_widths=True: accepted only without perturb and without a continued log")
        logs = []
        for rows, sub in width_groups(model):
            lg = train_stacked(sub, X, Y[rows], steps=steps, lr=lr, loss=loss, momentum=momentum, act=act,
                               sample_mask=None if sample_mask is None else sample_mask[rows], X_test=X_test,
                               Y_test=Y_test, log_every=log_every, start_step=start_step, bn=bn)
            _write_back(model, rows, sub)
            logs.append((rows, lg))
        merged = TrainLog(steps=list(logs[0][1].steps))
        for name in ("train_loss", "test_loss", "train_err", "test_err", "norm2", "layer_norms"):
            for i in range(len(merged.steps)):
                parts = [(rows, getattr(lg, name)[i]) for rows, lg in logs if getattr(lg, name)]
                if parts:
                    full = parts[0][1].new_zeros((B, *parts[0][1].shape[1:]))
                    for rows, v in parts:
                        full[rows] = v
                    getattr(merged, name).append(full)
        return merged
    log = log or TrainLog()
    params = model.params()
    vel = [torch.zeros_like(p) for p in params]

    def record(step: int) -> None:
        trl, tre, st = evaluate(model, X, Y, loss, act, sample_mask, bn=bn)
        log.steps.append(step)
        log.train_loss.append(trl)
        log.train_err.append(tre)
        if X_test is not None:
            tel, tee, _ = evaluate(model, X_test, Y_test, loss, act, bn=bn, stats=st if bn else None)
            log.test_loss.append(tel)
            log.test_err.append(tee)
        ln = weight_norms(model)
        log.layer_norms.append(ln)
        log.norm2.append((ln ** 2).sum(1))

    for s in range(start_step, start_step + steps):
        if (s - start_step) % log_every == 0:
            record(s)
        out, _ = forward(model, X, act, bn=bn, mask=sample_mask)
        total = per_model_loss(out, Y, loss, sample_mask).sum()
        grads = torch.autograd.grad(total, params)
        with torch.no_grad():
            for p, g, v in zip(params, grads, vel):
                if momentum:
                    v.mul_(momentum).add_(g)
                    p.sub_(lr * v)
                else:
                    p.sub_(lr * g)
        s0 = perturb.get("start", 0) if perturb is not None else 0
        if perturb is not None and s + 1 > s0 and (s + 1 - s0) % perturb["every"] == 0:
            perturb_(model, perturb["frac"], perturb["generator"], perturb.get("which"))
    record(start_step + steps)
    return log


@torch.no_grad()
def per_example_losses(model: StackedMLP, X_train: Tensor, X: Tensor, Y: Tensor, loss: str = "ce",
                       act: Callable[[Tensor], Tensor] = torch.relu, *, bn: bool = False,
                       train_mask: Tensor | None = None) -> Tensor:
    """Per-example losses (B, m) on X (m, d), Y (m,) or (B, m); with ``bn`` the BN statistics are those of the
    training batch X_train (n, d) (evaluation mode, as in :func:`train_stacked`). For paired comparisons."""
    B = model.B
    if Y.ndim == 1:
        Y = Y.expand(B, -1)
    stats = forward(model, X_train, act, bn=bn, mask=train_mask)[1] if bn else None
    out, _ = forward(model, X, act, bn=bn, stats=stats)
    if loss == "ce":
        return F.cross_entropy(out.reshape(-1, out.shape[-1]), Y.reshape(-1), reduction="none").reshape(Y.shape)
    if loss == "mse":
        return 0.5 * ((out - F.one_hot(Y, out.shape[-1]).to(out.dtype)) ** 2).sum(-1)
    raise ValueError(f"loss must be 'ce' or 'mse', got {loss!r}")
