"""The minimum-nuclear-norm interpolant of quadratic measurements, with a dual certificate.

Document 002 (Lee et al. 2020), F_1 for quadratic activations (L124-L141): learning f(x) = x^T M x under the F_1
bias is  min |M|_*  s.t.  x_i^T M x_i = y_i  (matrix sensing with rank-one symmetric measurements x_i x_i^T).

:func:`lib.low_rank.nuclear_fista` approaches it by FISTA with lam -> 0 by continuation, which stalls: once lam is
tiny, the only force along the null space of A is the penalty, and the iterate moves there by about lam / L per step
(at d = 80, n = 4 dof the error sits near 3e-2 for thousands of steps).  :func:`nuclear_min_interp` instead runs
Bregman iteration at a fixed, moderate lam (every round well conditioned) and returns, with the solution, a lower
bound on the optimum from weak duality, so that each answer says how far it is from the minimiser.

Used by book/low_rank_polynomials.md (T1, T4).  Shapes: X (B, n, d), y (B, n), M (B, d, d).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
from torch import Tensor

from lib.low_rank import _prefix_groups, _sv_threshold_sym, quad_forms

__all__ = ["NuclearInterpolant", "nuclear_min_interp"]


class _SensingOps:
    """The sensing operator A(M)_i = x_i^T M x_i of B stacked problems, its adjoint A^*(r) = sum_i r_i x_i x_i^T
    (O(n d^2) per problem; with ``counts``, evaluated per group of equal counts on the valid rows only), the
    Lipschitz constant |A|^2 by power iteration and the scale |A^*(y)|_op.  X: (B, n, d), y: (B, n)."""

    def __init__(self, X: Tensor, y: Tensor, counts, power_iters: int, generator: torch.Generator | None):
        B, n, d = X.shape
        self.B, self.d, self.X = B, d, X
        if counts is None:
            self.parts = [(None, X, y)]
        else:
            self.parts = [(rows, X[rows, :c].contiguous(), y[rows, :c].contiguous())
                          for rows, c in _prefix_groups(counts, B, n)]
        g = generator
        P = torch.randn((B, d, d), generator=g, device=g.device, dtype=X.dtype).to(X.device) if g is not None else \
            torch.ones((B, d, d), device=X.device, dtype=X.dtype)
        P = P + P.transpose(-1, -2)
        for _ in range(power_iters):
            P = self.group(lambda Xg, yg, Pg, _: self.At(Xg, self.A(Xg, Pg)), P, (d, d))
            P = P / P.flatten(1).norm(dim=1).clamp_min(1e-300).view(-1, 1, 1)
        self.Lip = self.group(lambda Xg, yg, Pg, _: (self.A(Xg, Pg) ** 2).sum(1), P, ()).clamp_min(1e-300) * 1.05
        self.scale = torch.linalg.matrix_norm(self.group(lambda Xg, yg, *_: self.At(Xg, yg), None, (d, d)), ord=2)

    @staticmethod
    def A(Xg: Tensor, M: Tensor) -> Tensor:          # (b, n, d), (b, d, d) -> (b, n)
        return quad_forms(Xg, M)

    @staticmethod
    def At(Xg: Tensor, r: Tensor) -> Tensor:         # (b, n) -> (b, d, d)
        return torch.einsum("bn,bni,bnj->bij", r, Xg, Xg)

    def group(self, fn, M: Tensor | None, shape: tuple) -> Tensor:
        """fn(Xg, yg, M[rows], rows) group by group, scattered into a (B, *shape)."""
        if self.parts[0][0] is None:
            _, Xg, yg = self.parts[0]
            return fn(Xg, yg, M, slice(None))
        out = torch.empty((self.B, *shape), dtype=self.X.dtype, device=self.X.device)
        for rows, Xg, yg in self.parts:
            out[rows] = fn(Xg, yg, None if M is None else M[rows], rows)
        return out

    def grad(self, Z: Tensor, target: Tensor | None = None) -> Tensor:
        """A^*(A(Z) - target) with target (B, n), or the data y when None: (B, d, d)."""
        def fn(Xg, yg, Zg, rows):
            return self.At(Xg, self.A(Xg, Zg) - (yg if target is None else target[rows, :Xg.shape[1]]))
        return self.group(fn, Z, (self.d, self.d))

    def adjoint(self, r: Tensor) -> Tensor:
        """A^*(r) of a (B, n) tensor: (B, d, d)."""
        return self.group(lambda Xg, yg, _, rows: self.At(Xg, r[rows, :Xg.shape[1]]), None, (self.d, self.d))

    def residual(self, M: Tensor) -> Tensor:
        """A(M) - y as a (B, n) tensor, zero beyond each problem's count."""
        out = torch.zeros(self.B, self.X.shape[1], dtype=self.X.dtype, device=self.X.device)
        for rows, Xg, yg in self.parts:
            r = slice(None) if rows is None else rows
            out[r, :Xg.shape[1]] = self.A(Xg, M[r]) - yg
        return out

    def y(self) -> Tensor:
        out = torch.zeros(self.B, self.X.shape[1], dtype=self.X.dtype, device=self.X.device)
        for rows, Xg, yg in self.parts:
            out[slice(None) if rows is None else rows, :Xg.shape[1]] = yg
        return out


def _check_iters(iters) -> None:
    if not (isinstance(iters, int) and iters >= 1):
        raise ValueError(f"iters={iters!r}: accepted values are integers >= 1")


class NuclearInterpolant(NamedTuple):
    """What :func:`nuclear_min_interp` returns, every field batched over the B problems.

    M: (B, d, d) the solution.  nuc: (B,) |M|_*.  resid: (B,) |A(M) - y| / |y|.  lower: (B,) a certified lower bound
    on min{|M'|_* : A(M') = y} from the dual vector nu of the last inner problem (weak duality:
    |M'|_* >= <A^* nu, M'> / |A^* nu|_op = <nu, y> / |A^* nu|_op for every interpolant M')."""

    M: Tensor
    nuc: Tensor
    resid: Tensor
    lower: Tensor


def nuclear_min_interp(X: Tensor, y: Tensor, *, iters: int = 2000, inner: int = 100, lam: float = 1e-2,
                       power_iters: int = 30, generator: torch.Generator | None = None,
                       counts=None) -> NuclearInterpolant:
    """The minimum-nuclear-norm interpolant  min |M|_*  s.t.  x_i^T M x_i = y_i  by Bregman iteration (Osher et al.
    2005; for matrices Ma, Goldfarb & Chen 2011, "Fixed point and Bregman iterative methods for matrix rank
    minimization", Math. Program. 128): with a fixed lam_abs = lam |A^*(y)|_op, solve
    min 1/2 |A(M) - y_k|^2 + lam_abs |M|_*  by ``inner`` FISTA steps (warm started), then add the residual back,
    y_{k+1} = y_k + y - A(M), for iters / inner rounds.  Unlike the continuation of
    :func:`lib.low_rank.nuclear_fista` the penalty never becomes tiny, so every round is well conditioned, and the
    fixed point interpolates exactly.

    Batched over B problems: X: (B, n, d), y: (B, n); ``counts`` as in :func:`lib.low_rank.nuclear_fista`.  Returns a
    :class:`NuclearInterpolant` whose ``lower`` certifies how close |M|_* is to the optimum."""
    _check_iters(iters)
    if not (isinstance(inner, int) and 1 <= inner <= iters):
        raise ValueError(f"inner={inner!r}: accepted values are integers in [1, iters = {iters}]")
    if not lam > 0:
        raise ValueError(f"lam={lam!r}: accepted values are > 0")
    B, n, d = X.shape
    ops = _SensingOps(X, y, counts, power_iters, generator)
    Lip = ops.Lip.view(-1, 1, 1)
    tau = lam * ops.scale / ops.Lip
    yv = ops.y()
    yk = yv.clone()
    M = torch.zeros(B, d, d, dtype=X.dtype, device=X.device)
    rounds = max(1, iters // inner)
    for k in range(rounds):
        Z, t = M.clone(), 1.0
        for _ in range(inner):
            M_new = _sv_threshold_sym(Z - ops.grad(Z, yk) / Lip, tau)
            t_new = (1 + math.sqrt(1 + 4 * t * t)) / 2
            Z = M_new + ((t - 1) / t_new) * (M_new - M)
            M, t = M_new, t_new
        if k < rounds - 1:
            yk = yk - ops.residual(M)
    nu = (yk - yv - ops.residual(M)) / (lam * ops.scale).view(-1, 1)      # (y_k - A(M)) / lam_abs
    Y = ops.adjoint(nu)
    lower = (nu * yv).sum(1) / torch.linalg.matrix_norm(Y, ord=2).clamp_min(1.0)
    resid = ops.residual(M).norm(dim=1) / yv.norm(dim=1).clamp_min(1e-300)
    return NuclearInterpolant(M, torch.linalg.matrix_norm(M, ord="nuc"), resid, lower)
