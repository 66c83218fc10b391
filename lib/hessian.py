"""Hessians of a loss over a flat parameter vector: exact, Gauss–Newton, and matrix-free (HVP + Lanczos).

Conventions. ``theta`` is a flat parameter vector of shape ``(P,)``. ``loss_fn: (P,) -> ()`` is any scalar
function built from torch ops (usually :func:`functional_loss` of an ``nn.Module``). ``residual_fn: (P,) -> (m,)``
returns the residual vector r(theta) (m = n·k for n examples and k outputs) of the loss ½‖r‖².

At a zero-loss minimum of ½‖r‖² the Hessian equals the Gauss–Newton matrix JᵀJ (Poggio et al. 2018, Theorem 3:
∇²L = ∇Ŷ∇Ŷᵀ at L = 0), so the number of nonzero eigenvalues is rank J ≤ n·k. :func:`exact_hessian` and
:func:`gauss_newton` form the P×P matrices (P up to a few thousand); :func:`hvp`, :func:`hvp_operator` and
:func:`extreme_eigenvalues` never form them (Lanczos through ``scipy.sparse.linalg.eigsh``).
"""
from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np
import torch
from scipy.sparse.linalg import LinearOperator, eigsh
from torch import Tensor, nn
from torch.func import functional_call, hessian, jacfwd, jacrev, jvp

LossFn = Callable[[Tensor], Tensor]

__all__ = [
    "exact_hessian", "gauss_newton", "jacobian", "hvp", "hvp_operator", "extreme_eigenvalues",
    "flatten_params", "unflatten", "functional_loss", "functional_outputs", "count_nonzero_eigenvalues",
    "naive_hessian", "fit_zero_loss",
]


def _check_theta(theta: Tensor) -> None:
    if not isinstance(theta, Tensor) or theta.ndim != 1:
        raise ValueError(f"theta must be a 1-D tensor (P,), got {getattr(theta, 'shape', type(theta))}")


def exact_hessian(loss_fn: LossFn, theta: Tensor) -> Tensor:
    """The full Hessian ∇²L(theta), shape (P, P), by ``torch.func.hessian`` (forward-over-reverse).

    Memory is P² entries: use for P up to a few thousand; beyond that use :func:`hvp_operator`."""
    _check_theta(theta)
    H = hessian(loss_fn)(theta)
    return H.reshape(theta.numel(), theta.numel())


def naive_hessian(loss_fn: LossFn, theta: Tensor) -> Tensor:
    """The full Hessian by the textbook double loop of autograd: one backward pass per row, shape (P, P).

    Reference implementation for the benchmark and the tests (what a user writes without ``torch.func``)."""
    _check_theta(theta)
    t = theta.detach().clone().requires_grad_(True)
    (g,) = torch.autograd.grad(loss_fn(t), t, create_graph=True)
    rows = [torch.autograd.grad(g[i], t, retain_graph=True)[0] for i in range(t.numel())]
    return torch.stack(rows)


def jacobian(residual_fn: LossFn, theta: Tensor, *, mode: str = "rev") -> Tensor:
    """J = ∂r/∂theta of ``residual_fn: (P,) -> (m,)`` (any output shape is flattened), shape (m, P).

    ``mode``: "rev" (jacrev, cheaper when m < P) or "fwd" (jacfwd)."""
    _check_theta(theta)
    if mode not in ("rev", "fwd"):
        raise ValueError(f"mode must be 'rev' or 'fwd', got {mode!r}")
    J = (jacrev if mode == "rev" else jacfwd)(lambda t: residual_fn(t).reshape(-1))(theta)
    return J.reshape(-1, theta.numel())


def gauss_newton(residual_fn: LossFn, theta: Tensor) -> Tensor:
    """The Gauss–Newton matrix JᵀJ, shape (P, P), of the loss ½‖r(theta)‖² with r = ``residual_fn(theta)`` (m,).

    Equals the exact Hessian of ½‖r‖² wherever r = 0 (Theorem 3 of Poggio et al. 2018)."""
    J = jacobian(residual_fn, theta)
    return J.T @ J


def hvp(loss_fn: LossFn, theta: Tensor, v: Tensor) -> Tensor:
    """The Hessian-vector product ∇²L(theta)·v, shape (P,), forward-over-reverse (jvp of grad); no P×P matrix."""
    _check_theta(theta)
    if v.shape != theta.shape:
        raise ValueError(f"v must have the shape of theta {tuple(theta.shape)}, got {tuple(v.shape)}")
    grad_fn = torch.func.grad(loss_fn)
    return jvp(grad_fn, (theta,), (v.to(theta.dtype),))[1]


def hvp_operator(loss_fn: LossFn, theta: Tensor) -> LinearOperator:
    """A float64 ``scipy.sparse.linalg.LinearOperator`` of shape (P, P) applying ∇²L(theta) by :func:`hvp`.

    numpy float64 in and out; the products run in theta's dtype and device."""
    _check_theta(theta)
    P = theta.numel()
    theta = theta.detach()
    grad_fn = torch.func.grad(loss_fn)

    def matvec(x: np.ndarray) -> np.ndarray:
        v = torch.as_tensor(np.asarray(x, dtype=np.float64).reshape(-1), dtype=theta.dtype, device=theta.device)
        out = jvp(grad_fn, (theta,), (v,))[1]
        return out.detach().cpu().double().numpy()

    def matmat(X: np.ndarray) -> np.ndarray:
        return np.stack([matvec(X[:, j]) for j in range(X.shape[1])], axis=1)

    return LinearOperator((P, P), matvec=matvec, rmatvec=matvec, matmat=matmat, dtype=np.float64)


def extreme_eigenvalues(loss_fn: LossFn, theta: Tensor, k: int = 1, which: str = "SA", *, tol: float = 0.0,
                        maxiter: int | None = None, ncv: int | None = None, seed: int = 0) -> np.ndarray:
    """The k extreme eigenvalues of ∇²L(theta) by Lanczos (``eigsh`` on :func:`hvp_operator`), ascending, (k,).

    ``which``: "SA" (smallest algebraic: λ_min, the saddle/flatness probe), "LA" (largest algebraic: λ_max,
    the sharpness), "LM" / "SM" (largest / smallest magnitude), "BE" (both ends). ``seed`` fixes Lanczos's
    start vector (a numpy stream), so the result is reproducible. For P ≤ k + 1 the exact Hessian is used."""
    _check_theta(theta)
    if which not in ("SA", "LA", "LM", "SM", "BE"):
        raise ValueError(f"which must be one of 'SA', 'LA', 'LM', 'SM', 'BE', got {which!r}")
    P = theta.numel()
    if not 1 <= k < P:
        raise ValueError(f"k must satisfy 1 <= k < P = {P}, got {k}")
    if P <= k + 1:  # eigsh needs k < P - 1 for ARPACK; tiny problems go exact
        ev = torch.linalg.eigvalsh(exact_hessian(loss_fn, theta.detach()).double()).cpu().numpy()
        return _select(ev, k, which)
    v0 = np.random.default_rng(seed).standard_normal(P)
    vals = eigsh(hvp_operator(loss_fn, theta), k=k, which=which, tol=tol, maxiter=maxiter, ncv=ncv, v0=v0,
                 return_eigenvectors=False)
    return np.sort(vals)


def _select(ev: np.ndarray, k: int, which: str) -> np.ndarray:
    ev = np.sort(ev)
    if which == "SA":
        return ev[:k]
    if which == "LA":
        return ev[-k:]
    if which == "LM":
        return np.sort(ev[np.argsort(-np.abs(ev))[:k]])
    if which == "SM":
        return np.sort(ev[np.argsort(np.abs(ev))[:k]])
    lo = k // 2
    return np.sort(np.concatenate([ev[:lo], ev[len(ev) - (k - lo):]]))


def count_nonzero_eigenvalues(H: Tensor, rtol: float = 1e-6) -> int:
    """The number of eigenvalues of the symmetric H (P, P) with |λ| > rtol·max|λ| (the numerical rank)."""
    if H.ndim != 2 or H.shape[0] != H.shape[1]:
        raise ValueError(f"H must be square (P, P), got {tuple(H.shape)}")
    ev = torch.linalg.eigvalsh(0.5 * (H + H.T))
    top = ev.abs().max()
    return int((ev.abs() > rtol * top).sum()) if top > 0 else 0


# --------------------------------------------------------------------------------------------- nn.Module glue
def flatten_params(module: nn.Module) -> tuple[Tensor, list[tuple[str, torch.Size]]]:
    """The module's parameters concatenated into one detached vector theta (P,), and the spec [(name, shape)]."""
    spec = [(name, p.shape) for name, p in module.named_parameters()]
    if not spec:
        raise ValueError("module has no parameters")
    theta = torch.cat([p.detach().reshape(-1) for _, p in module.named_parameters()])
    return theta, spec


def unflatten(theta: Tensor, spec: list[tuple[str, torch.Size]]) -> dict[str, Tensor]:
    """Split theta (P,) back into {name: tensor of shape} following ``spec`` from :func:`flatten_params`."""
    _check_theta(theta)
    sizes = [int(np.prod(s)) if len(s) else 1 for _, s in spec]
    if sum(sizes) != theta.numel():
        raise ValueError(f"theta has {theta.numel()} entries, spec needs {sum(sizes)}")
    out, i = {}, 0
    for (name, shape), size in zip(spec, sizes):
        out[name] = theta[i:i + size].reshape(shape)
        i += size
    return out


def functional_outputs(model: nn.Module, X: Tensor,
                       buffers: Mapping[str, Tensor] | None = None) -> tuple[Callable[[Tensor], Tensor], Tensor]:
    """(f, theta0): f(theta) = model(X) with the parameters taken from theta (P,) via ``functional_call``."""
    theta0, spec = flatten_params(model)
    bufs = dict(model.named_buffers()) if buffers is None else dict(buffers)

    def f(theta: Tensor) -> Tensor:
        return functional_call(model, {**unflatten(theta, spec), **bufs}, (X,))

    return f, theta0


def functional_loss(model: nn.Module, loss: Callable[[Tensor, Tensor], Tensor], X: Tensor, y: Tensor
                    ) -> tuple[LossFn, Tensor]:
    """(loss_fn, theta0): loss_fn(theta) = loss(model_theta(X), y), a scalar; theta0 (P,) the current params.

    ``loss`` is e.g. ``torch.nn.functional.cross_entropy`` or ``lambda out, y: 0.5 * ((out - y) ** 2).sum()``."""
    f, theta0 = functional_outputs(model, X)

    def loss_fn(theta: Tensor) -> Tensor:
        return loss(f(theta), y)

    return loss_fn, theta0


def fit_zero_loss(residual_fn: LossFn, theta0: Tensor, *, steps: int = 200, tol: float = 1e-26) -> Tensor:
    """Drive ½‖r(theta)‖² to (numerically) zero by Levenberg–Marquardt steps in the minimum-norm form
    theta ← theta − Jᵀ(JJᵀ + μI)⁻¹r (m × m solve, m = len(r) < P), μ adapted (÷3 on success, ×4 on failure).

    As μ → 0 this is the minimum-norm Gauss–Newton (Newton on r = 0) step, quadratically convergent near an
    interpolating solution; used to land exactly on a zero-loss minimum (Theorem 3's setting).
    Returns theta (P,) with ½‖r‖² < tol, or raises RuntimeError."""
    _check_theta(theta0)
    theta = theta0.detach().clone()
    r = residual_fn(theta).reshape(-1).detach()
    L = 0.5 * float(r @ r)
    mu = 1e-3 * max(L, 1e-12)
    for _ in range(steps):
        if L < tol:
            return theta
        J = jacobian(residual_fn, theta)
        G = J @ J.T
        while True:
            step = J.T @ torch.linalg.solve(G + mu * torch.eye(G.shape[0], dtype=G.dtype, device=G.device), r)
            cand = theta - step
            rc = residual_fn(cand).reshape(-1).detach()
            Lc = 0.5 * float(rc @ rc)
            if Lc < L:
                theta, r, L = cand, rc, Lc
                mu = max(mu / 3, 1e-300)
                break
            mu *= 4
            if mu > 1e20:
                if L < tol * 1e3:   # at rounding level already: no further decrease possible
                    return theta
                raise RuntimeError(f"fit_zero_loss: stuck at loss {L:.3g}")
    if L >= tol:
        raise RuntimeError(f"fit_zero_loss: loss {L:.3g} after {steps} steps (tol {tol})")
    return theta
