"""Kernels of two-layer ReLU networks and kernel ridge regression batched over nested sample sizes.

Document 002 (Lee et al. 2020, slides "Learning Low-Rank Polynomials with Neural Networks") contrasts the space
F_2 (an RKHS: random features, NTK; L77, L97-L102) with F_1.  This module holds what the F_2 side needs:

* the arc-cosine kernels of Cho & Saul, ``arccos0(u) = (pi - arccos u) / (2 pi)`` = E[1{w.x>0} 1{w.x'>0}] and
  ``arccos1(u) = (sqrt(1-u^2) + (pi - arccos u) u) / (2 pi)`` = E[relu(w.x) relu(w.x')] for unit x, x' and
  w ~ N(0, I);
* the infinite-width NTK of f(x) = sum_j a_j relu(w_j.x) with both layers trained,
  ``Theta(x,x') = <x,x'> arccos0(u) + |x||x'| arccos1(u)``; the polynomial kernel ``(c + <x,x'>/d)^p``; random
  ReLU features;
* :func:`krr_nested`: kernel ridge regression at *every* sample size of a nested grid n_1 < ... < n_S from ONE
  Cholesky factorisation: the factor of K[:n,:n] + lam I is the leading block of the factor of K + lam I, so the
  forward substitution is shared and only the back substitutions differ (they are batched over sizes);
* the exact "kernel staircase" of one ReLU neuron: the normalised Hermite coefficients of relu(z) and the plateau
  levels of the relative error of a method that has learnt every Hermite degree <= l and nothing above
  (L100-L101: "n_F2 >~ d^poly(1/eps)").

Used by book/low_rank_polynomials.md (experiments T2, T3, T4, T5) and bench/bench_kernels.py.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor

__all__ = [
    "arccos0",
    "arccos1",
    "relu_ntk",
    "relu_nngp",
    "poly_kernel",
    "relu_features",
    "krr_nested",
    "krr_loop",
    "relative_mse",
    "relu_hermite_coeffs",
    "relu_variance",
    "plateau_levels",
]


def _clip(u: Tensor) -> Tensor:
    return u.clamp(-1.0, 1.0)


def arccos0(u: Tensor) -> Tensor:
    """(pi - arccos u) / (2 pi): the degree-0 arc-cosine kernel of unit vectors with cosine u (any shape)."""
    u = _clip(u)
    return (math.pi - torch.arccos(u)) / (2 * math.pi)


def arccos1(u: Tensor) -> Tensor:
    """(sqrt(1 - u^2) + (pi - arccos u) u) / (2 pi): E[relu(w.x) relu(w.x')] for unit x, x' (any shape)."""
    u = _clip(u)
    return (torch.sqrt((1 - u * u).clamp_min(0.0)) + (math.pi - torch.arccos(u)) * u) / (2 * math.pi)


def _gram_parts(X1: Tensor, X2: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """(G, |x||x'|, pi - arccos u, sqrt(1 - u^2)) with u the cosine, computed in place (these Grams are large)."""
    if X1.shape[-1] != X2.shape[-1]:
        raise ValueError(f"X1 and X2 must have the same last dimension, got {X1.shape[-1]} and {X2.shape[-1]}")
    G = X1 @ X2.transpose(-1, -2)                                          # (..., n1, n2)
    nn = X1.norm(dim=-1).unsqueeze(-1) * X2.norm(dim=-1).unsqueeze(-2)     # (..., n1, n2)
    u = (G / nn.clamp_min(1e-300)).clamp_(-1.0, 1.0)
    s = torch.sqrt((1.0 - u * u).clamp_(min=0.0))
    th = torch.arccos_(u).neg_().add_(math.pi)                             # pi - arccos u (u is overwritten)
    return G, nn, th, s


def relu_nngp(X1: Tensor, X2: Tensor) -> Tensor:
    """E_w relu(w.x) relu(w.x') = |x||x'| arccos1(u), w ~ N(0, I): the random-features (F_2) kernel.
    X1: (..., n1, d), X2: (..., n2, d) -> (..., n1, n2)."""
    G, nn, th, s = _gram_parts(X1, X2)
    return (th.mul_(G).add_(s.mul_(nn))).div_(2 * math.pi)                  # |x||x'| (s + th u) / (2 pi)


def relu_ntk(X1: Tensor, X2: Tensor) -> Tensor:
    """Infinite-width NTK of a two-layer ReLU net, both layers trained:
    Theta(x,x') = <x,x'> arccos0(u) + |x||x'| arccos1(u) = (2 <x,x'> (pi - arccos u) + |x||x'| sqrt(1-u^2)) / (2 pi).
    X1: (..., n1, d), X2: (..., n2, d) -> (..., n1, n2).

    Without a constant input coordinate its Hermite expansion has no odd degree >= 3 (append one: see T3)."""
    G, nn, th, s = _gram_parts(X1, X2)
    return (th.mul_(G).mul_(2.0).add_(s.mul_(nn))).div_(2 * math.pi)


def poly_kernel(X1: Tensor, X2: Tensor, p: int, c: float = 1.0) -> Tensor:
    """(c + <x,x'>/d)^p, the degree-p polynomial kernel (L32).  X1: (..., n1, d), X2: (..., n2, d)."""
    if not (isinstance(p, int) and p >= 1):
        raise ValueError(f"p={p!r}: accepted values are integers >= 1")
    d = X1.shape[-1]
    return (c + X1 @ X2.transpose(-1, -2) / d) ** p


def relu_features(X: Tensor, W: Tensor, b: Tensor | None = None) -> Tensor:
    """Random ReLU features relu(X W + b) / sqrt(N).  X: (..., n, d), W: (..., d, N), b: (..., N) -> (..., n, N)."""
    H = X @ W
    if b is not None:
        H = H + b.unsqueeze(-2)
    return torch.relu(H) / math.sqrt(W.shape[-1])


def _check_sizes(sizes, N: int) -> list[int]:
    sizes = [int(s) for s in sizes]
    if not sizes or any(b <= a for a, b in zip(sizes, sizes[1:])) or sizes[0] < 1 or sizes[-1] > N:
        raise ValueError(f"sizes={sizes}: accepted values are strictly increasing integers in [1, {N}]")
    return sizes


def krr_nested(K: Tensor, y: Tensor, Kt: Tensor, sizes, lam: float) -> Tensor:
    """Kernel ridge regression on the first n points, for every n in ``sizes``, from one Cholesky factor.

    K: (B, N, N) train Gram of B independent data sets, y: (B, N) labels, Kt: (B, M, N) test-train kernel,
    sizes: increasing ints <= N, lam > 0 (absolute ridge).  Returns predictions (S, B, M) with
    pred_n = Kt[:, :, :n] (K[:n,:n] + lam I)^{-1} y[:n].

    Why it is exact: with K + lam I = L L^T, the leading n x n block of L is the Cholesky factor of
    K[:n,:n] + lam I, and forward substitution of the first n rows only reads the first n rows, so
    z = L^{-1} y serves every n; each size then needs one O(B n^2) back substitution with its block
    L[:n,:n]^T (batched over the B data sets).  Cost: one N^3/3 factorisation instead of sum_n n^3/3.
    """
    if K.dim() != 3 or K.shape[1] != K.shape[2]:
        raise ValueError(f"K must have shape (B, N, N), got {tuple(K.shape)}")
    B, N, _ = K.shape
    if y.shape != (B, N):
        raise ValueError(f"y must have shape (B, N) = ({B}, {N}), got {tuple(y.shape)}")
    if Kt.dim() != 3 or Kt.shape[0] != B or Kt.shape[2] != N:
        raise ValueError(f"Kt must have shape (B, M, N) with B={B}, N={N}, got {tuple(Kt.shape)}")
    if not lam > 0:
        raise ValueError(f"lam={lam!r}: accepted values are positive reals")
    sizes = _check_sizes(sizes, N)
    eye = torch.eye(N, dtype=K.dtype, device=K.device)
    L = torch.linalg.cholesky(K + lam * eye)                                        # (B, N, N)
    z = torch.linalg.solve_triangular(L, y.unsqueeze(-1), upper=False)              # (B, N, 1), shared by all n
    out = torch.empty(len(sizes), B, Kt.shape[1], dtype=K.dtype, device=K.device)
    for s, n in enumerate(sizes):  # O(B n^2) each: back substitution with the leading block, all B at once
        alpha = torch.linalg.solve_triangular(L[:, :n, :n].transpose(-1, -2), z[:, :n], upper=True)
        out[s] = (Kt[:, :, :n] @ alpha).squeeze(-1)
    return out


def krr_loop(K: Tensor, y: Tensor, Kt: Tensor, sizes, lam: float) -> Tensor:
    """Reference for :func:`krr_nested`: one ``torch.linalg.solve`` per data set and size (what a user writes)."""
    B, N, _ = K.shape
    sizes = _check_sizes(sizes, N)
    out = torch.empty(len(sizes), B, Kt.shape[1], dtype=K.dtype, device=K.device)
    for s, n in enumerate(sizes):
        for b in range(B):
            A = K[b, :n, :n] + lam * torch.eye(n, dtype=K.dtype, device=K.device)
            out[s, b] = Kt[b, :, :n] @ torch.linalg.solve(A, y[b, :n])
    return out


def relative_mse(pred: Tensor, target: Tensor) -> Tensor:
    """E(f - f*)^2 / Var f* along the last axis (the shared error measure of T1-T6).  pred: (..., M), target
    broadcastable to pred -> (...)."""
    target = target.expand_as(pred)
    return ((pred - target) ** 2).mean(-1) / target.var(-1, unbiased=False).clamp_min(1e-300)


# ----------------------------------------------------------------------------------- the ReLU staircase
def relu_hermite_coeffs(kmax: int) -> np.ndarray:
    """c_k = E[relu(z) He_k(z)] / sqrt(k!), z ~ N(0,1), for k = 0..kmax: c_0 = 1/sqrt(2 pi), c_1 = 1/2, c_k = 0
    for odd k >= 3 and c_k = (-1)^(k/2+1) (k-3)!! / sqrt(2 pi k!) for even k >= 2 (so c_2^2 = 1/(4 pi)).
    Returns (kmax+1,) float64."""
    if not (isinstance(kmax, int) and kmax >= 0):
        raise ValueError(f"kmax={kmax!r}: accepted values are integers >= 0")
    c = np.zeros(kmax + 1)
    c[0] = 1 / math.sqrt(2 * math.pi)
    if kmax >= 1:
        c[1] = 0.5
    if kmax >= 2:
        c[2] = 1 / math.sqrt(4 * math.pi)
    for k in range(2, kmax - 1, 2):  # c_{k+2} = -c_k (k-1) / sqrt((k+1)(k+2)), no overflow
        c[k + 2] = -c[k] * (k - 1) / math.sqrt((k + 1) * (k + 2))
    return c


def relu_variance() -> float:
    """Var relu(z) = 1/2 - 1/(2 pi), z ~ N(0,1)."""
    return 0.5 - 0.5 / math.pi


def plateau_levels(ells) -> np.ndarray:
    """Relative error (Var f* - sum_{1<=k<=l} c_k^2) / Var f* of the best predictor of f* = relu(beta.x) that uses
    only Hermite degrees <= l: the plateaus of a kernel method that has learnt degrees <= l (T2).
    Values 0.2665 (l=1), 0.0331 (l=2, 3), 0.0136 (l=4), 0.0078 (l=6)."""
    ells = np.atleast_1d(np.asarray(ells, int))
    if (ells < 0).any():
        raise ValueError("ells: accepted values are integers >= 0")
    c2 = relu_hermite_coeffs(int(ells.max()) if ells.max() > 0 else 0) ** 2
    v = relu_variance()
    return np.array([(v - c2[1:l + 1].sum()) / v for l in ells])


# ------------------------------------------------------------------------------ sample complexity n*(d)
def n_star(ns, err, level: float) -> tuple[float, np.ndarray]:
    """The sample size at which the error first falls to ``level``: log-interpolated in (log n, log err) between
    grid points (lib.stats.crossing).  ns: (S,) increasing, err: (S, seeds) -> (n* of the median over seeds,
    per-seed n* (seeds,)); NaN when the error never reaches the level on the grid."""
    from lib import stats
    ns = np.asarray(ns, float)
    err = np.asarray(err, float)
    if err.ndim != 2 or err.shape[0] != ns.size:
        raise ValueError(f"err must have shape (len(ns), seeds) = ({ns.size}, seeds), got {err.shape}")
    if not level > 0:
        raise ValueError(f"level={level!r}: accepted values are positive reals")
    le = np.log(np.clip(err, 1e-300, None))

    def cross(col):
        return stats.crossing(ns, col, math.log(level), log_x=True, direction="down")

    per = np.array([cross(le[:, s]) for s in range(err.shape[1])])
    return cross(np.median(le, axis=1)), per
