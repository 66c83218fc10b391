"""Batched teacher–student engine for one-hidden-layer networks (document 000, Ch. 2).

The thesis (Emschwiller 2020, eq. 2.1) studies

    f_W(x) = m^{-1/2} * sum_{j=1..m} act(w_j . x),   W in R^{d x m},  x ~ N(0, I_d),

and trains T = 100 random students per dataset, one at a time ("tens of hours").  Here every student of a
sweep is one slice of a stacked weight tensor ``W: (B, d, m)`` and one call of :func:`train` runs them all:
two batched matmuls per step in a grouped, unit-major layout (see the note above the kernels), gradients
written out by hand for ReLU (autograd for any other activation), and per-model Adam/GD state that is
*elementwise*, hence the same arithmetic as B separate ``torch.optim`` runs (Adam through torch's fused kernel).

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
#
# Layout.  During training the B = K*T students live in *grouped* form: the T students that share data set k are
# one matrix Wg[k] : (d, m*T) whose column j*T + t is hidden unit j of student t (unit-major).  Then
#   forward   H_k = X_k Wg[k]                      one bmm (K, N, d) @ (K, d, m*T), no data copies,
#   readout   f[k, n, t] = s_t sum_j relu(H_k)[n, j*T + t]   a reduction over a non-innermost axis,
#   backward  dL/dWg[k] = X_k^T G_k,  G_k[n, j*T + t] = 1{H_k > 0} * g[k, n, t]   one bmm, and the broadcast of
#             g over the units j runs along an outer axis (contiguous inner loop over t).
# The student-major layout (column t*m + j) needs the broadcast along the innermost axis of size m, which
# PyTorch's CPU kernels do about 20x slower; with the permutes it needed the training step at the paper shape
# (K = 10, T = 100, N = 500, d = m = 10) took 20 ms, against 3.2 ms here.  Per-model vectors (scale, count,
# loss) are (K, 1, T) or (K, T); per-sample ones (targets, masks) are (K, N, T), or (K, N, 1) when shared.


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
    """H = X_k W_b for every model: W (K*T, d, m), Xg (K, N, d) -> (K, N, T*m) (student-major columns)."""
    B, d, m = W.shape
    K = Xg.shape[0]
    if T == 1:
        return torch.bmm(Xg, W)
    Wg = W.view(K, T, d, m).permute(0, 2, 1, 3).reshape(K, d, T * m)
    return torch.bmm(Xg, Wg)


def _readout(A: Tensor, scale: Tensor, T: int) -> Tensor:
    """A (K, N, T*m) (student-major) -> outputs (K*T, N) = scale_b * sum_j A."""
    K, N, Tm = A.shape
    m = Tm // T
    out = A.view(K, N, T, m).sum(-1).permute(0, 2, 1).reshape(K * T, N)
    return out * scale.view(-1, 1)


def _to_groups(W: Tensor, T: int) -> Tensor:
    """(B, d, m) -> grouped (K, d, m*T), column j*T + t = unit j of student k*T + t: always a new contiguous
    tensor (for T = 1 the permutation is the identity and a reshape would alias ``W``)."""
    B, d, m = W.shape
    out = torch.empty((B // T, d, m * T), dtype=W.dtype, device=W.device)
    out.view(B // T, d, m, T).copy_(W.reshape(B // T, T, d, m).permute(0, 2, 3, 1))
    return out


def _from_groups(Wg: Tensor, T: int) -> Tensor:
    """Inverse of :func:`_to_groups`: (K, d, m*T) -> (K*T, d, m)."""
    K, d, mT = Wg.shape
    return Wg.view(K, d, mT // T, T).permute(0, 3, 1, 2).reshape(K * T, d, mT // T)


def _per_sample(V: Tensor, K: int, T: int) -> Tensor:
    """Per-sample values (B, N) -> (K, N, T); shared ones (K, N) -> (K, N, 1) (a view)."""
    if V.shape[0] == K * T and T > 1:
        return V.view(K, T, V.shape[1]).permute(0, 2, 1).contiguous()
    return V.unsqueeze(-1)


def _per_model(v: Tensor, K: int, T: int) -> Tensor:
    """Per-model values (B,) -> (K, 1, T); per-data-set ones (K,) -> (K, 1, 1)."""
    return v.view(K, 1, T) if v.shape[0] == K * T else v.view(K, 1, 1)


def _grouped_forward(Wg: Tensor, Xg: Tensor, scale: Tensor, T: int, activation: Callable[[Tensor], Tensor],
                     buf: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """Outputs f (K, N, T) and the activations act(H) (K, N, m*T) of grouped weights; scale (K, 1, T).
    ``buf`` (K, N, m*T), if given, receives H (and, for ReLU, relu(H) in place): no fresh 4 N m B-byte
    allocation per step (its page faults cost a third of the forward product at the paper shape)."""
    K, N, _ = Xg.shape
    H = torch.bmm(Xg, Wg) if buf is None else torch.bmm(Xg, Wg, out=buf)
    A = H.clamp_min_(0) if activation is torch.relu else activation(H)
    return A.view(K, N, -1, T).sum(2).mul_(scale), A


def _grouped_grad(Wg: Tensor, Xg: Tensor, XgT: Tensor, Yg: Tensor, mask: Tensor | None, count: Tensor,
                  scale: Tensor, T: int, activation: Callable[[Tensor], Tensor], reduction: str,
                  with_loss: bool = False, buf: Tensor | None = None) -> tuple[Tensor | None, Tensor]:
    """Loss L_b = red_n (f_b(x_n) - y_n)^2 (K, T) (if ``with_loss``) and dL/dWg (K, d, m*T), all models at once.

    Xg (K, N, d) and XgT its transpose (K, d, N); Yg and mask (K, N, T) or (K, N, 1); count and scale (K, 1, T)
    or (K, 1, 1).  ReLU: the closed form of the layout note above (dL/df = 2 r s / count or 2 r s), with H
    computed into ``buf`` when given; any other activation: autograd on sum_b L_b (the models are independent).
    """
    K, N, _ = Xg.shape
    if activation is torch.relu:
        out, A = _grouped_forward(Wg, Xg, scale, T, activation, buf)
        r = out.sub_(Yg)
        if mask is not None:
            r.mul_(mask)
        loss = None
        if with_loss:
            loss = (r * r).sum(1)
            if reduction == "mean":
                loss = loss / count[:, 0]
        coef = 2.0 * scale / count if reduction == "mean" else 2.0 * scale
        g = r.mul_(coef)  # dL_b/df_b(x_n): (K, N, T)
        G = A.sign_()  # 1{H > 0}, in place (A >= 0)
        G.view(K, N, -1, T).mul_(g.unsqueeze(2))
        return loss, torch.bmm(XgT, G)
    with torch.enable_grad():
        Wr = Wg.detach().requires_grad_(True)
        out, _ = _grouped_forward(Wr, Xg, scale, T, activation)
        r = out - Yg
        if mask is not None:
            r = r * mask
        sq = (r * r).sum(1)
        loss = sq / count[:, 0] if reduction == "mean" else sq
        (grad,) = torch.autograd.grad(loss.sum(), Wr)
    return (loss.detach() if with_loss else None), grad


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
    """Per-model loss (B,) and gradient dL_b/dW_b (B, d, m) in the caller's layout (W (B, d, m), Y and mask
    (B, N) or (K, N), count and scale (B,)): :func:`_grouped_grad` between two layout changes."""
    K = Xg.shape[0]
    loss, g = _grouped_grad(_to_groups(W, T), Xg, Xg.transpose(1, 2), _per_sample(Y, K, T),
                            None if mask is None else _per_sample(mask, K, T), _per_model(count, K, T),
                            _per_model(scale, K, T), T, activation, reduction, with_loss=True)
    return loss.reshape(-1), _from_groups(g, T)


def _grouped_eval(Wg: Tensor, Xg: Tensor, Yg: Tensor, mask: Tensor | None, count: Tensor, scale: Tensor, T: int,
                  activation: Callable[[Tensor], Tensor]) -> tuple[Tensor, Tensor]:
    """Mean squared error per model and the matching R^2 (eq. 2.9) on (possibly masked) data: (B,), (B,)."""
    out, _ = _grouped_forward(Wg, Xg, scale, T, activation)
    r = out.sub_(Yg)
    if mask is not None:
        r.mul_(mask)
        mu = (Yg * mask).sum(1, keepdim=True) / count
        var = (((Yg - mu) * mask) ** 2).sum(1) / count[:, 0]
    else:
        var = Yg.var(1, unbiased=False)
    loss = (r * r).sum(1) / count[:, 0]
    return loss.reshape(-1), (1.0 - loss / var).reshape(-1)


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
    has_test = X_test is not None or Y_test is not None
    if has_test:
        if X_test is None or Y_test is None:
            raise ValueError("X_test and Y_test must be given together")
        Xtg, Tt = _group_data(X_test, B, d)
        if Tt != T:
            raise ValueError(f"X_test groups models by {Tt} but X by {T}; give both with the same batch size")
        Y_test = _group_targets(Y_test, K, T, Xtg.shape[1], "Y_test")
        tmask, tcount = _prep_mask(test_mask, Y_test, "test_mask")
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

    # everything in the grouped layout (see the note above the kernels); back to (B, d, m) at the end
    Wg = _to_groups(W0.detach(), T)  # a copy: W0 is never written
    XgT = Xg.transpose(1, 2)
    Yg, mg, cg = _per_sample(Y, K, T), None if mask is None else _per_sample(mask, K, T), _per_model(count, K, T)
    sg = _per_model(scale, K, T)
    if has_test:
        Ytg, tmg = _per_sample(Y_test, K, T), None if tmask is None else _per_sample(tmask, K, T)
        tcg = _per_model(tcount, K, T)
    fused_adam = getattr(torch, "_fused_adam_", None) if optimizer == "adam" else None
    if optimizer == "adam":
        m1 = torch.zeros_like(Wg)
        v2 = torch.zeros_like(Wg)
        b1, b2 = betas
        step_t = torch.zeros((), dtype=Wg.dtype, device=Wg.device)
    step = 0
    hist_e, hist_tr, hist_te = [], [], []
    bufs: dict[int, Tensor] = {}  # the (K, n, m*T) pre-activation buffer per step size n (full batch: one)

    def do_step(Xs: Tensor, XsT: Tensor, Ys: Tensor, msk: Tensor | None, cnt: Tensor) -> None:
        nonlocal step
        n = Xs.shape[1]
        if n not in bufs:
            bufs[n] = torch.empty((K, n, Wg.shape[2]), dtype=Wg.dtype, device=Wg.device)
        _, g = _grouped_grad(Wg, Xs, XsT, Ys, msk, cnt, sg, T, activation, reduction, buf=bufs[n])
        step += 1
        if optimizer == "gd":
            Wg.add_(g, alpha=-lr)  # torch.optim.SGD's update
        elif fused_adam is not None:  # the kernel of torch.optim.Adam(fused=True): one pass, same update
            step_t.fill_(step)
            fused_adam([Wg], [g], [m1], [v2], [], [step_t], lr=lr, beta1=b1, beta2=b2, weight_decay=0.0,
                       eps=eps, amsgrad=False, maximize=False)
        else:  # torch.optim.Adam (single-tensor path), elementwise, hence per model
            m1.lerp_(g, 1 - b1)
            v2.mul_(b2).addcmul_(g, g, value=1 - b2)
            bc1 = 1 - b1**step
            bc2 = 1 - b2**step
            denom = (v2.sqrt() / math.sqrt(bc2)).add_(eps)
            Wg.addcdiv_(m1, denom, value=-lr / bc1)

    with torch.no_grad():
        for epoch in range(epochs):
            if batch_size is None:
                do_step(Xg, XgT, Yg, mg, cg)
            else:
                perm = torch.randperm(N, generator=generator, device=generator.device).to(Wg.device)
                nb = N // batch_size
                cnt = torch.full((1, 1, 1), float(batch_size), dtype=Wg.dtype, device=Wg.device)
                for i in range(nb):
                    idx = perm[i * batch_size:(i + 1) * batch_size]
                    Xs = Xg[:, idx]
                    do_step(Xs, Xs.transpose(1, 2), Yg[:, idx], None, cnt)
            if record_every and ((epoch + 1) % record_every == 0 or epoch == epochs - 1):
                hist_e.append(epoch + 1)
                hist_tr.append(_grouped_eval(Wg, Xg, Yg, mg, cg, sg, T, activation)[0])
                if has_test:
                    hist_te.append(_grouped_eval(Wg, Xtg, Ytg, tmg, tcg, sg, T, activation)[0])
        tr_loss, tr_r2 = _grouped_eval(Wg, Xg, Yg, mg, cg, sg, T, activation)
        te_loss = te_r2 = None
        if has_test:
            te_loss, te_r2 = _grouped_eval(Wg, Xtg, Ytg, tmg, tcg, sg, T, activation)
    history: dict[str, Tensor] = {}
    if record_every:
        history["epoch"] = torch.tensor(hist_e)
        history["train_loss"] = torch.stack(hist_tr)
        if has_test:
            history["test_loss"] = torch.stack(hist_te)
    W = _from_groups(Wg, T)
    return TrainResult(W=W, train_loss=tr_loss, test_loss=te_loss, history=history, train_r2=tr_r2, test_r2=te_r2)


# --------------------------------------------------------------------------------------------------
# metrics


def mse(pred: Tensor, y: Tensor) -> Tensor:
    """Mean squared error along the last axis (eq. 2.2)."""
    if pred.shape != y.shape:
        raise ValueError(f"pred and y must have the same shape, got {tuple(pred.shape)} and {tuple(y.shape)}")
    return ((pred - y) ** 2).mean(-1)


r2 = stats.r2  # eq. 2.9: 1 - MSE / Var(y) along the last axis (one implementation, in lib.stats)

