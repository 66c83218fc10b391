"""Batched teacher–student engine for one-hidden-layer networks (document 000, Ch. 2).

The thesis (Emschwiller 2020, eq. 2.1) studies

    f_W(x) = m^{-1/2} * sum_{j=1..m} act(w_j . x),   W in R^{d x m},  x ~ N(0, I_d),

and trains T = 100 random students per dataset, one at a time ("tens of hours").  Here every student of a
sweep is one slice of a stacked weight tensor ``W: (B, d, m)`` and one call of :func:`train` runs them all:
one batched matmul per step, gradients written out by hand for ReLU (autograd for any other activation),
and per-model Adam/GD state that is *elementwise*, hence exactly the same arithmetic as B separate
``torch.optim`` runs.

Data sharing.  Restarts of one teacher share its data set.  :func:`train` therefore accepts ``X: (K, N, d)``
with ``B = K * T`` (model ``b`` uses data set ``b // T``); the forward pass then multiplies ``X_k`` by the
``T`` students of teacher ``k`` concatenated along the hidden axis, ``(K, N, d) @ (K, d, T*m)``, so the data
are never copied T times.  A ``(B, N, d)`` tensor made with ``expand`` from ``(1, N, d)`` is detected and
treated the same way.

Ragged sweeps.  Models of one call may differ in sample size, input dimension and width by padding:
``train_mask``/``test_mask`` (ones on the valid samples) give each model its own N; zero rows of X (padded
input coordinates) and zero columns of W (padded hidden units, with ``out_scale = 1/sqrt(m_b)``) are exact
no-ops for ReLU networks — their gradient is exactly zero, so GD and Adam never move them.

Used by: book/sample_complexity.md (Figs 2.2–2.10), lib/recovery.py (Algorithms 1–4), and the weight-matching
experiment of book/polynomial_regression.md.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import Tensor

from lib import stats

__all__ = [
    "TrainResult",
    "relu_net",
    "sample_teachers",
    "sample_students",
    "gaussian_inputs",
    "label_variance",
    "train",
    "r2",
    "mse",
]

OPTIMIZERS = ("gd", "adam")
REDUCTIONS = ("mean", "sum")
DISTS = ("uniform", "normal")


# --------------------------------------------------------------------------------------------------
# network and data


def _check_positive(**kw: int) -> None:
    for name, v in kw.items():
        if not isinstance(v, (int,)) or isinstance(v, bool) or v <= 0:
            raise ValueError(f"{name} must be a positive integer, got {v!r}")


def relu_net(W: Tensor, X: Tensor, activation: Callable[[Tensor], Tensor] = torch.relu) -> Tensor:
    """f(x) = m^-1/2 sum_j act(w_j . x)  (thesis eq. 2.1). W: (B, d, m), X: (B, N, d) -> (B, N).

    ``X`` may also be ``(K, N, d)`` with ``B = K * T`` (restarts sharing a teacher's data), or ``(N, d)``
    (one data set for all models).
    """
    if W.dim() != 3:
        raise ValueError(f"W must have shape (B, d, m), got {tuple(W.shape)}")
    if X.dim() == 2:
        X = X.unsqueeze(0)
    scale = torch.full((W.shape[0],), 1.0 / math.sqrt(W.shape[2]), dtype=W.dtype, device=W.device)
    Xg, T = _group_data(X, W.shape[0], W.shape[1])
    H = _preact(W, Xg, T)
    return _readout(activation(H), scale, T)


def sample_teachers(
    K: int,
    d: int,
    m: int,
    *,
    generator: torch.Generator,
    dist: str = "uniform",
    device=None,
    dtype: torch.dtype = torch.float32,
) -> Tensor:
    """K random networks of F_m, ``(K, d, m)``.

    ``dist="uniform"``: i.i.d. U(-1/sqrt d, 1/sqrt d) (thesis L383; it calls this "He initialization", but
    it is PyTorch's nn.Linear default, variance 1/(3d)).  ``dist="normal"``: N(0, 1/d).
    """
    _check_positive(K=K, d=d, m=m)
    if dist not in DISTS:
        raise ValueError(f"dist must be one of {DISTS}, got {dist!r}")
    device = generator.device if device is None else torch.device(device)
    if dist == "uniform":
        U = torch.rand((K, d, m), generator=generator, device=device, dtype=dtype)
        return (2.0 * U - 1.0) / math.sqrt(d)
    return torch.randn((K, d, m), generator=generator, device=device, dtype=dtype) / math.sqrt(d)


def sample_students(
    B: int,
    d_max: int,
    m_max: int,
    d: Tensor | None = None,
    m: Tensor | None = None,
    *,
    generator: torch.Generator,
    dist: str = "uniform",
    device=None,
    dtype: torch.dtype = torch.float32,
) -> Tensor:
    """B random networks padded to ``(B, d_max, m_max)``; model b uses its first ``d[b]`` rows and ``m[b]``
    columns (the rest are exactly zero) with entries U(±1/sqrt d[b]) or N(0, 1/d[b])."""
    _check_positive(B=B, d_max=d_max, m_max=m_max)
    device = generator.device if device is None else torch.device(device)
    W = sample_teachers(B, d_max, m_max, generator=generator, dist=dist, device=device, dtype=dtype)
    if d is None and m is None:
        return W
    d = torch.full((B,), d_max, device=device) if d is None else d.to(device)
    m = torch.full((B,), m_max, device=device) if m is None else m.to(device)
    if d.shape != (B,) or m.shape != (B,) or (d < 1).any() or (d > d_max).any() or (m < 1).any() or (m > m_max).any():
        raise ValueError("d and m must be (B,) integer tensors with 1 <= d <= d_max, 1 <= m <= m_max")
    W = W * (math.sqrt(d_max) / d.to(dtype).sqrt()).view(B, 1, 1)
    rows = torch.arange(d_max, device=device).view(1, d_max, 1) < d.view(B, 1, 1)
    cols = torch.arange(m_max, device=device).view(1, 1, m_max) < m.view(B, 1, 1)
    return W * (rows & cols)


def gaussian_inputs(K: int, N: int, d: int, *, generator: torch.Generator, device=None,
                    dtype: torch.dtype = torch.float32) -> Tensor:
    """x ~ N(0, I_d) (thesis §2.2): ``(K, N, d)``."""
    _check_positive(K=K, N=N, d=d)
    device = generator.device if device is None else torch.device(device)
    return torch.randn((K, N, d), generator=generator, device=device, dtype=dtype)


def label_variance(m: int, d: int, dist: str = "uniform") -> float:
    """Leading-order E_W Var_x[f_{W*}(x)] for the ReLU teacher of eq. 2.1: the label variance that eq. 2.6
    says is independent of m.

    Given W, u_j = w_j . x is Gaussian; for two units with variance s2 and correlation rho,
    Cov(relu(u_j), relu(u_k)) = s2/(2 pi) (sqrt(1 - rho^2) + rho (pi - arccos rho) - 1)
                             = s2 (rho/4 + rho^2/(4 pi)) + O(rho^4),
    and Var relu(u) = s2 (1/2 - 1/(2 pi)).  With the 1/sqrt(m) readout,
    Var(y) = Var relu(u_1) + (m - 1) * Cov(relu(u_1), relu(u_2)); averaging over independent teacher columns
    (E rho = 0, E rho^2 ~ 1/d) gives

        Var(y) ~ s2 (1/2 - 1/(2 pi)) + (m - 1) s2 / (4 pi d),   s2 = 1/3 (uniform) or 1 (normal).

    The second term grows linearly in m (the shared positive (w.x)^2 Hermite component of every unit): eq. 2.6
    drops it.  Cheap enough to be a test oracle; the chapter checks it against Monte Carlo.
    """
    _check_positive(m=m, d=d)
    if dist not in DISTS:
        raise ValueError(f"dist must be one of {DISTS}, got {dist!r}")
    s2 = 1.0 / 3.0 if dist == "uniform" else 1.0
    return s2 * (0.5 - 0.5 / math.pi) + (m - 1) * s2 / (4.0 * math.pi * d)


# --------------------------------------------------------------------------------------------------
# batched kernels (internal)


def _group_data(X: Tensor, B: int, d: int) -> tuple[Tensor, int]:
    """Return (X_grouped (K, N, d), T) with B = K*T; collapses an expanded (stride-0) batch axis."""
    if X.dim() != 3:
        raise ValueError(f"X must have shape (B, N, d) or (K, N, d), got {tuple(X.shape)}")
    if X.shape[2] != d:
        raise ValueError(f"X has input dimension {X.shape[2]} but W has d = {d}")
    K = X.shape[0]
    if K == B and B > 1 and X.stride(0) == 0:
        return X[:1], B
    if K == 0 or B % K != 0:
        raise ValueError(f"X batch size {K} must divide the number of models B = {B}")
    return X, B // K


def _group_targets(Y: Tensor, K: int, T: int, N: int, name: str) -> Tensor:
    """Targets (B, N) or (K, N) -> (K, N) or (K*T, N) as given; validated."""
    if Y.dim() != 2 or Y.shape[1] != N or Y.shape[0] not in (K, K * T):
        raise ValueError(f"{name} must have shape (B, N) or (K, N) = ({K * T} or {K}, {N}), got {tuple(Y.shape)}")
    if Y.shape[0] == K * T and T > 1 and Y.stride(0) == 0:
        return Y[:K] if K == 1 else Y
    return Y


def _preact(W: Tensor, Xg: Tensor, T: int) -> Tensor:
    """H = X_k W_b for every model: W (K*T, d, m), Xg (K, N, d) -> (K, N, T*m)."""
    B, d, m = W.shape
    K = Xg.shape[0]
    if T == 1:
        return torch.bmm(Xg, W)
    Wg = W.view(K, T, d, m).permute(0, 2, 1, 3).reshape(K, d, T * m)
    return torch.bmm(Xg, Wg)


def _readout(A: Tensor, scale: Tensor, T: int) -> Tensor:
    """A (K, N, T*m) -> outputs (K*T, N) = scale_b * sum_j A."""
    K, N, Tm = A.shape
    m = Tm // T
    out = A.view(K, N, T, m).sum(-1).permute(0, 2, 1).reshape(K * T, N)
    return out * scale.view(-1, 1)


def _expand_targets(Y: Tensor, K: int, T: int) -> Tensor:
    """(K, N) -> (K*T, N) as a view when T > 1; (B, N) passes through."""
    if Y.shape[0] == K * T:
        return Y
    return Y.unsqueeze(1).expand(K, T, Y.shape[1]).reshape(K * T, Y.shape[1])


def _loss_and_grad(
    W: Tensor,
    Xg: Tensor,
    Y: Tensor,
    mask: Tensor | None,
    count: Tensor,
    scale: Tensor,
    T: int,
    activation: Callable[[Tensor], Tensor],
    reduction: str,
) -> tuple[Tensor, Tensor]:
    """Per-model loss L_b = red_n (f_b(x_n) - y_n)^2 and its gradient dL_b/dW_b, all models at once.

    ReLU: closed form  dL/dW_b = X^T [(dL/df) * 1{H > 0}] * scale_b.  Other activations: autograd on
    sum_b L_b (models are independent, so its gradient is the stack of the per-model gradients).
    """
    K, N, d = Xg.shape
    B, _, m = W.shape
    if activation is torch.relu:
        A = _preact(W, Xg, T).clamp_min_(0)  # (K, N, T*m)
        out = _readout(A, scale, T)  # (B, N)
        r = out - _expand_targets(Y, K, T)
        if mask is not None:
            r = r * mask
        sq = (r * r).sum(1)
        if reduction == "mean":
            loss = sq / count
            g_out = r * (2.0 / count).view(-1, 1)
        else:
            loss = sq
            g_out = 2.0 * r
        g_out = g_out * scale.view(-1, 1)  # dL_b/df_b(x_n): (B, N)
        # dL/dW_b = sum_n x_n g_out[b, n] 1{H_bn > 0}^T = (X * g_out_b)^T 1{H_b > 0}: one bmm over models.
        # The indicator is taken as sign(relu(H)) (contiguous, no broadcasting over the m units: a
        # broadcast multiply over a size-1 last axis is ~10x slower on CPU than this layout).
        if T == 1:
            pos = torch.sign(A)
        elif m >= 16:
            # wide units: write sign() of the permuted view straight into a contiguous (K, T, N, m) buffer
            # (one pass; measured 2.5x faster per step at m = 30, but slower for narrow units)
            pos = torch.empty((K, T, N, m), dtype=A.dtype, device=A.device)
            torch.sign(A.view(K, N, T, m).permute(0, 2, 1, 3), out=pos)
            pos = pos.view(B, N, m)
        else:
            pos = torch.sign(A).view(K, N, T, m).permute(0, 2, 1, 3).reshape(B, N, m)
        if T > 1:
            XG = (Xg.unsqueeze(1) * g_out.view(K, T, N, 1)).view(B, N, d)
        else:
            XG = Xg * g_out.unsqueeze(-1)
        grad = torch.bmm(XG.transpose(1, 2), pos)  # (B, d, m)
        return loss.detach(), grad
    with torch.enable_grad():
        Wr = W.detach().requires_grad_(True)
        out = _readout(activation(_preact(Wr, Xg, T)), scale, T)
        r = out - _expand_targets(Y, K, T)
        if mask is not None:
            r = r * mask
        sq = (r * r).sum(1)
        loss = sq / count if reduction == "mean" else sq
        (grad,) = torch.autograd.grad(loss.sum(), Wr)
    return loss.detach(), grad


def _eval_loss(W: Tensor, Xg: Tensor, Y: Tensor, mask: Tensor | None, count: Tensor, scale: Tensor, T: int,
               activation: Callable[[Tensor], Tensor]) -> tuple[Tensor, Tensor]:
    """Mean squared error per model and the matching R^2 (eq. 2.9) on (possibly masked) data: (B,), (B,)."""
    K = Xg.shape[0]
    out = _readout(activation(_preact(W, Xg, T)), scale, T)
    Yb = _expand_targets(Y, K, T)
    r = out - Yb
    if mask is not None:
        r = r * mask
        mu = (Yb * mask).sum(1, keepdim=True) / count.view(-1, 1)
        var = (((Yb - mu) * mask) ** 2).sum(1) / count
    else:
        var = Yb.var(1, unbiased=False)
    loss = (r * r).sum(1) / count
    return loss, 1.0 - loss / var


# --------------------------------------------------------------------------------------------------
# training


@dataclass
class TrainResult:
    """Output of :func:`train`.

    W: (B, d, m) final weights; train_loss: (B,) mean squared error on the training set after the last epoch;
    test_loss: (B,) or None, same on the test set; history: per-epoch losses when ``record_every`` > 0
    (keys ``epoch`` (R,), ``train_loss`` (R, B), ``test_loss`` (R, B) if a test set was given);
    train_r2 / test_r2: (B,) R^2 of eq. 2.9 (1 - MSE / Var(y), variance over the same set).
    """

    W: Tensor
    train_loss: Tensor
    test_loss: Tensor | None
    history: dict[str, Tensor] = field(default_factory=dict)
    train_r2: Tensor | None = None
    test_r2: Tensor | None = None


def _prep_mask(mask: Tensor | None, Y: Tensor, name: str) -> tuple[Tensor | None, Tensor]:
    if mask is None:
        return None, torch.full((Y.shape[0],), float(Y.shape[1]), dtype=Y.dtype, device=Y.device)
    if mask.shape != Y.shape:
        raise ValueError(f"{name} must have the shape of its targets {tuple(Y.shape)}, got {tuple(mask.shape)}")
    mask = mask.to(Y.dtype)
    count = mask.sum(1)
    if (count <= 0).any():
        raise ValueError(f"{name} leaves a model with no samples")
    return mask, count


def train(
    W0: Tensor,
    X: Tensor,
    Y: Tensor,
    *,
    optimizer: str = "adam",
    lr: float = 0.02,
    epochs: int = 300,
    batch_size: int | None = None,
    X_test: Tensor | None = None,
    Y_test: Tensor | None = None,
    activation: Callable[[Tensor], Tensor] = torch.relu,
    generator: torch.Generator | None = None,
    record_every: int = 0,
    reduction: str = "mean",
    train_mask: Tensor | None = None,
    test_mask: Tensor | None = None,
    out_scale: Tensor | None = None,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
) -> TrainResult:
    """Train B independent students of eq. 2.1 at once (thesis Algorithm 1's inner loop, vectorised).

    W0: (B, d, m) initial weights.  X: (B, N, d), or (K, N, d) with B = K*T (model b uses data b // T).
    Y: (B, N) or (K, N).  X_test/Y_test likewise with their own N'.  Loss per model: the mean (eq. 2.2) or,
    with ``reduction="sum"``, the sum (eq. 2.7) of squared errors; full batch when ``batch_size`` is None,
    else each epoch draws ``N // batch_size`` disjoint random minibatches (one permutation per epoch, shared by
    all models; needs ``generator``).  ``optimizer``: "gd" (W <- W - lr * grad) or "adam" (per-model state,
    the exact update of torch.optim.Adam with ``betas``/``eps``).  ``train_mask``/``test_mask`` (shape of
    Y / Y_test) give each model its own valid samples; ``out_scale`` (B,) replaces 1/sqrt(m) per model
    (for zero-padded widths).  Runs on the device of W0; returns a :class:`TrainResult`.
    """
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {optimizer!r}")
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be one of {REDUCTIONS}, got {reduction!r}")
    if W0.dim() != 3:
        raise ValueError(f"W0 must have shape (B, d, m), got {tuple(W0.shape)}")
    if not (isinstance(epochs, int) and epochs >= 0):
        raise ValueError(f"epochs must be a non-negative integer, got {epochs!r}")
    if not (lr > 0):
        raise ValueError(f"lr must be positive, got {lr!r}")
    if record_every < 0:
        raise ValueError(f"record_every must be >= 0, got {record_every!r}")
    B, d, m = W0.shape
    Xg, T = _group_data(X, B, d)
    K, N, _ = Xg.shape
    Y = _group_targets(Y, K, T, N, "Y")
    mask, count = _prep_mask(train_mask, Y, "train_mask")
    count = _expand_targets(count.view(-1, 1), K, T).view(-1) if count.shape[0] == K and T > 1 else count
    if mask is not None and mask.shape[0] == K and T > 1:
        mask = _expand_targets(mask, K, T)
    has_test = X_test is not None or Y_test is not None
    if has_test:
        if X_test is None or Y_test is None:
            raise ValueError("X_test and Y_test must be given together")
        Xtg, Tt = _group_data(X_test, B, d)
        if Tt != T:
            raise ValueError(f"X_test groups models by {Tt} but X by {T}; give both with the same batch size")
        Y_test = _group_targets(Y_test, K, T, Xtg.shape[1], "Y_test")
        tmask, tcount = _prep_mask(test_mask, Y_test, "test_mask")
        if tcount.shape[0] == K and T > 1:
            tcount = _expand_targets(tcount.view(-1, 1), K, T).view(-1)
        if tmask is not None and tmask.shape[0] == K and T > 1:
            tmask = _expand_targets(tmask, K, T)
    if out_scale is None:
        scale = torch.full((B,), 1.0 / math.sqrt(m), dtype=W0.dtype, device=W0.device)
    else:
        if out_scale.shape != (B,):
            raise ValueError(f"out_scale must have shape (B,) = ({B},), got {tuple(out_scale.shape)}")
        scale = out_scale.to(W0.dtype)
    if batch_size is not None:
        if not (isinstance(batch_size, int) and 1 <= batch_size <= N):
            raise ValueError(f"batch_size must be an integer in [1, N = {N}] or None, got {batch_size!r}")
        if generator is None:
            raise ValueError("minibatch training (batch_size given) needs a torch.Generator")
        if mask is not None:
            raise ValueError("train_mask is only supported with full-batch training (batch_size=None)")

    W = W0.detach().clone()
    if optimizer == "adam":
        m1 = torch.zeros_like(W)
        v2 = torch.zeros_like(W)
        b1, b2 = betas
    step = 0
    hist_e, hist_tr, hist_te = [], [], []

    def do_step(Xs: Tensor, Ys: Tensor, msk: Tensor | None, cnt: Tensor) -> None:
        nonlocal step
        _, g = _loss_and_grad(W, Xs, Ys, msk, cnt, scale, T, activation, reduction)
        step += 1
        if optimizer == "gd":
            W.sub_(lr * g)
        else:  # torch.optim.Adam (single-tensor path), elementwise, hence per model
            m1.lerp_(g, 1 - b1)
            v2.mul_(b2).addcmul_(g, g, value=1 - b2)
            bc1 = 1 - b1**step
            bc2 = 1 - b2**step
            denom = (v2.sqrt() / math.sqrt(bc2)).add_(eps)
            W.addcdiv_(m1, denom, value=-lr / bc1)

    with torch.no_grad():
        for epoch in range(epochs):
            if batch_size is None:
                do_step(Xg, Y, mask, count)
            else:
                perm = torch.randperm(N, generator=generator, device=generator.device).to(W.device)
                nb = N // batch_size
                cnt = torch.full((B,), float(batch_size), dtype=W.dtype, device=W.device)
                for i in range(nb):
                    idx = perm[i * batch_size:(i + 1) * batch_size]
                    do_step(Xg[:, idx], Y[:, idx], None, cnt)
            if record_every and ((epoch + 1) % record_every == 0 or epoch == epochs - 1):
                hist_e.append(epoch + 1)
                hist_tr.append(_eval_loss(W, Xg, Y, mask, count, scale, T, activation)[0])
                if has_test:
                    hist_te.append(_eval_loss(W, Xtg, Y_test, tmask, tcount, scale, T, activation)[0])
        tr_loss, tr_r2 = _eval_loss(W, Xg, Y, mask, count, scale, T, activation)
        te_loss = te_r2 = None
        if has_test:
            te_loss, te_r2 = _eval_loss(W, Xtg, Y_test, tmask, tcount, scale, T, activation)
    history: dict[str, Tensor] = {}
    if record_every:
        history["epoch"] = torch.tensor(hist_e)
        history["train_loss"] = torch.stack(hist_tr)
        if has_test:
            history["test_loss"] = torch.stack(hist_te)
    return TrainResult(W=W, train_loss=tr_loss, test_loss=te_loss, history=history, train_r2=tr_r2, test_r2=te_r2)


# --------------------------------------------------------------------------------------------------
# metrics


def mse(pred: Tensor, y: Tensor) -> Tensor:
    """Mean squared error along the last axis (eq. 2.2)."""
    if pred.shape != y.shape:
        raise ValueError(f"pred and y must have the same shape, got {tuple(pred.shape)} and {tuple(y.shape)}")
    return ((pred - y) ** 2).mean(-1)


r2 = stats.r2  # eq. 2.9: 1 - MSE / Var(y) along the last axis (one implementation, in lib.stats)

