"""Equivalent tensor weights of a one-hidden-layer network and weight matching with polynomial
regression (thesis 000, §3.1 eqs. 3.2-3.6 and §3.5 eqs. 3.23-3.26, Figs 3.14-3.18, Tables 3.8-3.9;
eqs. 3.20-3.28).

Used by the chapter ``polynomial_regression`` (section "Does SGD find the polynomial-regression
weights?").

Network (eq. 3.1): ``f(x) = sum_i b_i act(w_i . x)`` with ``W: (..., d, m)`` (column i is w_i) and
output weights ``b: (..., m)`` (the thesis's §3.5 uses b_i = 1; :func:`lib.teacher_student.relu_net`
is the case b_i = m^-1/2). If ``act(z) = sum_t a_t z^t``, then exactly

    f(x) = sum_t sum_{|alpha| = t} Wbar^(t)_alpha x^alpha,
    Wbar^(t)_alpha = a_t * (t! / alpha!) * sum_i b_i prod_j W_{j,i}^{alpha_j}            (*)

in the basis where each monomial appears once ("dedup"). The thesis's eqs. 3.4/3.23 print (*) without
the multinomial factor t!/alpha! = t!/prod_j alpha_j!; that form is exact only in the "ordered" basis
of all d^t ordered tuples (Kronecker powers), where the factor is spread over the t!/alpha! copies of
each monomial. :func:`tensor_sums` computes ``S_alpha = [t!/alpha!] sum_i b_i prod_j W_{j,i}^{alpha_j}``
for any table of :mod:`lib.polyfeatures`, so the columns line up with :func:`lib.polyfeatures.lift`.

Weight matching: fit PR of degree k by least squares (:func:`fit_polynomial_regression`),
compare its weights beta^(t) with a_t S^(t) (:func:`similarity`: identity-line R^2 and squared Pearson
correlation — the thesis does not say which), and infer a "posterior" a_t as the slope
through the origin of beta^(t) on S^(t) (eq. 3.25; :func:`posterior_coefficients`).

Population reference ( :func:`hermite_pr_weights`): for x ~ N(0, I) and N -> infinity, PR of
degree k is the L2(N(0, I)) projection onto polynomials of degree <= k; projection is linear and maps a
ridge function g(w.x) to the ridge function of the 1-D projection of g under N(0, ||w||^2). So the
population PR weights are (*) with a per-unit polynomial ``hermite_projection(k, ||w_i||)``: degree 2
carries c_2/||w_i||, which is not one a_2 for all units unless all norms are equal.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from lib import polyfeatures, stats
from lib.relu_approx import hermite_projection

__all__ = [
    "PRFit",
    "degree_blocks",
    "equivalent_tensor_weights",
    "exponent_counts",
    "fit_polynomial_regression",
    "Matching",
    "hermite_pr_weights",
    "match_weights",
    "multinomial_factors",
    "poly_net",
    "posterior_coefficients",
    "pr_predict",
    "r2_score",
    "similarity",
    "tensor_sums",
    "weights_from_sums",
]


def exponent_counts(tuples: Tensor, d: int) -> Tensor:
    """Exponent vectors alpha of monomials given as index tuples: (p, t) long -> (p, d) long."""
    if tuples.dim() != 2:
        raise ValueError(f"tuples must have shape (p, t), got {tuple(tuples.shape)}")
    out = torch.zeros((tuples.shape[0], d), dtype=torch.long, device=tuples.device)
    if tuples.shape[1]:
        out.scatter_add_(1, tuples, torch.ones_like(tuples))
    return out


def multinomial_factors(tuples: Tensor, d: int, basis: str = "dedup") -> Tensor:
    """t!/prod_j alpha_j! for each monomial of a degree-t table (p, t) -> (p,) float64.

    In the "ordered" basis every ordered tuple is its own column, so the factor is 1; in "squarefree"
    all alpha_j <= 1 and the factor is t!.
    """
    if basis not in polyfeatures.BASES:
        raise ValueError(f"basis must be one of {polyfeatures.BASES}, got {basis!r}")
    t = tuples.shape[1]
    if basis == "ordered":
        return torch.ones(tuples.shape[0], dtype=torch.float64)
    alpha = exponent_counts(tuples.cpu(), d).to(torch.float64)
    return math.factorial(t) / torch.exp(torch.lgamma(alpha + 1).sum(1)).round()


def tensor_sums(W: Tensor, b: Tensor, tables: polyfeatures.MonomialTables, *, multinomial: bool = True,
                coef: Tensor | None = None) -> list[Tensor]:
    """Per degree t = 1..k: S^(t)_alpha = [t!/alpha!] sum_i b_i c_{i,t} prod_j W_{j,i}^{alpha_j}.

    W: (..., d, m); b: (..., m) or (m,); coef: optional per-unit polynomial coefficients (..., m, k+1)
    (the c_{i,t}; 1 when None). Returns a list of k tensors (..., p_t) in the column order of
    :func:`lib.polyfeatures.lift`. Computed with the lifting's gather-multiply recursion applied to
    the columns of W (prod_j W_{j,i}^{alpha_j} is the monomial alpha evaluated at w_i).
    """
    if W.shape[-2] != tables.d:
        raise ValueError(f"W must have shape (..., {tables.d}, m), got {tuple(W.shape)}")
    m = W.shape[-1]
    if b.shape[-1] != m:
        raise ValueError(f"b must end with m = {m}, got {tuple(b.shape)}")
    Wt = W.transpose(-1, -2)  # (..., m, d): one row per unit
    out = []
    prev = torch.ones((*Wt.shape[:-1], 1), dtype=W.dtype, device=W.device)
    for t, (tup, parent) in enumerate(zip(tables.tuples, tables.parents), start=1):
        cur = prev[..., parent.to(W.device)] * Wt[..., tup[:, -1].to(W.device)]  # (..., m, p_t)
        weight = b.unsqueeze(-1) if coef is None else (b * coef[..., t]).unsqueeze(-1)
        S = (cur * weight).sum(-2)
        if multinomial:
            S = S * multinomial_factors(tup, tables.d, tables.basis).to(W.device, W.dtype)
        out.append(S)
        prev = cur
    return out


def equivalent_tensor_weights(W: Tensor, b: Tensor, a: Tensor | np.ndarray, tables: polyfeatures.MonomialTables,
                              *, multinomial: bool = True) -> Tensor:
    """Eq. (*) of the module docstring: (..., 1 + p) weights [intercept, degree 1, ..., degree k].

    a: (k+1,) polynomial coefficients of the activation (a_0 first), or (..., m, k+1) per unit. The
    intercept is a_0 sum_i b_i. ``multinomial=False`` is the thesis's printed eq. 3.4/3.23.
    """
    a = torch.as_tensor(np.asarray(a) if not isinstance(a, Tensor) else a, dtype=W.dtype, device=W.device)
    k = tables.k
    if a.shape[-1] != k + 1:
        raise ValueError(f"a must end with k+1 = {k + 1} coefficients, got {tuple(a.shape)}")
    b = b.to(W.dtype)
    if a.dim() == 1:
        sums = tensor_sums(W, b, tables, multinomial=multinomial)
        blocks = [a[t] * S for t, S in enumerate(sums, start=1)]
        c0 = a[0] * b.sum(-1)
    else:
        blocks = tensor_sums(W, b, tables, multinomial=multinomial, coef=a)
        c0 = (b * a[..., 0]).sum(-1)
    c0 = c0.expand(blocks[0].shape[:-1])
    return torch.cat([c0.unsqueeze(-1), *blocks], dim=-1)


def poly_net(W: Tensor, X: Tensor, a: Tensor | np.ndarray, b: Tensor) -> Tensor:
    """f(x) = sum_i b_i P_a(w_i . x) (eq. 3.1 with a polynomial activation). W: (..., d, m), X: (..., N, d)
    -> (..., N)."""
    a = torch.as_tensor(np.asarray(a) if not isinstance(a, Tensor) else a, dtype=W.dtype, device=W.device)
    Z = X @ W  # (..., N, m)
    P = torch.zeros_like(Z)
    for c in a.flip(0):  # Horner
        P = P * Z + c
    return (P * b.unsqueeze(-2)).sum(-1)


def degree_blocks(v: Tensor, tables: polyfeatures.MonomialTables) -> list[Tensor]:
    """Split (..., 1 + p) weights into [intercept (..., 1), degree 1 (..., p_1), ..., degree k]."""
    if v.shape[-1] != 1 + tables.n_features:
        raise ValueError(f"v must end with 1 + {tables.n_features}, got {tuple(v.shape)}")
    return [v[..., :1]] + [v[..., 1:][..., s] for s in tables.degree_slices()]


# ----------------------------------------------------------------------------------------------
# Polynomial regression (batched over teachers) and the comparison
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PRFit:
    """Least-squares PR fit. beta: (R, 1 + p) float64 [intercept, degree 1..k], one row per target;
    gram_cond: condition number of the (Jacobi-scaled) normal equations."""

    beta: Tensor
    gram_cond: float


def fit_polynomial_regression(X: Tensor, Y: Tensor, tables: polyfeatures.MonomialTables,
                              chunk_rows: int = 4096) -> PRFit:
    """Exact least squares of each row of Y on lift(X) (intercept + monomials of degree <= k).

    X: (N, d) inputs shared by R targets Y: (R, N) (R teachers labelling the same inputs: one Gram
    matrix serves all). Normal equations accumulated in float64 over row chunks (never the full
    (N, p) lifted matrix in memory), Jacobi-scaled, solved by Cholesky. N must exceed p (the thesis:
    "we make sure that the sample size is high enough to obtain a unique solution"), else ValueError.
    """
    if X.dim() != 2 or X.shape[1] != tables.d:
        raise ValueError(f"X must have shape (N, {tables.d}), got {tuple(X.shape)}")
    if Y.dim() != 2 or Y.shape[1] != X.shape[0]:
        raise ValueError(f"Y must have shape (R, N = {X.shape[0]}), got {tuple(Y.shape)}")
    N = X.shape[0]
    p = 1 + tables.n_features
    if N <= p:
        raise ValueError(f"N = {N} must exceed the number of PR features p = {p}")
    G = torch.zeros((p, p), dtype=torch.float64, device=X.device)
    r = torch.zeros((p, Y.shape[0]), dtype=torch.float64, device=X.device)
    for s in range(0, N, chunk_rows):
        F = polyfeatures.lift(X[s:s + chunk_rows].to(torch.float64), tables)
        G += F.T @ F
        r += F.T @ Y[:, s:s + chunk_rows].to(torch.float64).T
    sc = G.diagonal().sqrt()
    Gs = G / (sc[:, None] * sc[None, :])
    L = torch.linalg.cholesky(Gs)
    beta = torch.cholesky_solve(r / sc[:, None], L) / sc[:, None]
    ev = torch.linalg.eigvalsh(Gs)
    return PRFit(beta=beta.T.contiguous(), gram_cond=float(ev[-1] / ev[0]))


def pr_predict(X: Tensor, beta: Tensor, tables: polyfeatures.MonomialTables, chunk_rows: int = 4096) -> Tensor:
    """lift(X) @ beta^T: X (N, d), beta (R, 1 + p) -> (R, N) float64."""
    out = []
    for s in range(0, X.shape[0], chunk_rows):
        F = polyfeatures.lift(X[s:s + chunk_rows].to(torch.float64), tables)
        out.append(F @ beta.T)
    return torch.cat(out, dim=0).T


r2_score = stats.r2  # eq. 2.9 along the last axis (lib.stats)


def similarity(beta: Tensor, wbar: Tensor) -> tuple[Tensor, Tensor]:
    """Similarity of PR weights ``beta`` and network weights ``wbar`` (..., p) along the last axis.

    Returns (identity-line R^2 = 1 - sum (beta - wbar)^2 / sum (beta - mean beta)^2, which is what a
    scatter against the red identity line of Figs 3.15-3.18 measures, and the squared Pearson
    correlation, which ignores the scale). The thesis does not say which it reports.
    """
    beta = beta.to(torch.float64)
    wbar = wbar.to(torch.float64)
    bc = beta - beta.mean(-1, keepdim=True)
    wc = wbar - wbar.mean(-1, keepdim=True)
    ident = 1.0 - ((beta - wbar) ** 2).sum(-1) / (bc**2).sum(-1)
    denom = (bc**2).sum(-1) * (wc**2).sum(-1)
    pearson = torch.where(denom > 0, (bc * wc).sum(-1) ** 2 / denom.clamp_min(1e-300), torch.zeros_like(denom))
    return ident, pearson


def posterior_coefficients(beta: Tensor, S: list[Tensor], sum_b: Tensor) -> Tensor:
    """Eq. 3.25: a_t = sum_alpha beta^(t)_alpha S^(t)_alpha / sum_alpha (S^(t)_alpha)^2 for t = 1..k,
    a_0 = beta_0 / sum_i b_i (the intercept). beta: (..., 1 + p); S: list of (..., p_t) from
    :func:`tensor_sums`; sum_b: (...,). Returns (..., k+1) float64."""
    beta = beta.to(torch.float64)
    out = [beta[..., 0] / sum_b.to(torch.float64)]
    start = 1
    for St in S:
        St = St.to(torch.float64)
        bt = beta[..., start:start + St.shape[-1]]
        out.append((bt * St).sum(-1) / (St**2).sum(-1))
        start += St.shape[-1]
    return torch.stack(out, -1)


def weights_from_sums(a: Tensor, S: list[Tensor], sum_b: Tensor) -> Tensor:
    """[a_0 sum_b, a_1 S^(1), ..., a_k S^(k)]: (..., 1 + p) from per-model coefficients a: (..., k+1)
    (e.g. the posterior of :func:`posterior_coefficients`) and the sums of :func:`tensor_sums`."""
    a = a.to(torch.float64)
    if a.shape[-1] != len(S) + 1:
        raise ValueError(f"a must end with k+1 = {len(S) + 1}, got {tuple(a.shape)}")
    parts = [(a[..., 0] * sum_b.to(torch.float64)).unsqueeze(-1)]
    parts += [a[..., t:t + 1] * S[t - 1].to(torch.float64) for t in range(1, len(S) + 1)]
    return torch.cat(parts, -1)


@dataclass(frozen=True)
class Matching:
    """Output of :func:`match_weights` for one approximation of the activation.

    coef: (R, k+1) the a_t used; wbar: (R, 1 + p) the network's equivalent tensor weights;
    identity_r2 / pearson_r2: (R, k) similarity with the PR weights per degree t = 1..k."""

    coef: Tensor
    wbar: Tensor
    identity_r2: Tensor
    pearson_r2: Tensor


def match_weights(beta: Tensor, W: Tensor, b: Tensor, tables: polyfeatures.MonomialTables,
                  priors: dict[str, np.ndarray], *, multinomial: bool = True) -> dict[str, Matching]:
    """Weight matching of §3.5 for R networks at once (Tables 3.8-3.9).

    beta: (R, 1 + p) PR weights; W: (R, d, m) network weights; b: (R, m) output weights; priors: named
    (k+1,) activation approximations (e.g. eqs. 3.21-3.22). Adds ``"posterior"`` (eq. 3.25, inferred from
    beta). ``multinomial=False`` uses the thesis's printed eq. 3.23 throughout (posterior included).
    """
    W = W.to(torch.float64)
    b = b.to(torch.float64)
    S = tensor_sums(W, b, tables, multinomial=multinomial)
    sum_b = b.sum(-1)
    R, k = W.shape[0], tables.k
    coefs = {name: torch.as_tensor(np.asarray(a, dtype=float)[: k + 1], device=W.device).expand(R, k + 1)
             for name, a in priors.items()}
    coefs["posterior"] = posterior_coefficients(beta, S, sum_b)
    out = {}
    bb = degree_blocks(beta.to(torch.float64), tables)
    for name, a in coefs.items():
        v = weights_from_sums(a, S, sum_b)
        vb = degree_blocks(v, tables)
        sims = [similarity(bb[t], vb[t]) for t in range(1, k + 1)]
        out[name] = Matching(coef=a, wbar=v, identity_r2=torch.stack([s[0] for s in sims], -1),
                             pearson_r2=torch.stack([s[1] for s in sims], -1))
    return out


def hermite_pr_weights(W: Tensor, b: Tensor, tables: polyfeatures.MonomialTables) -> Tensor:
    """Population (N -> infinity) PR weights of the ReLU network f(x) = sum_i b_i relu(w_i . x) for
    x ~ N(0, I): eq. (*) with unit i's polynomial ``hermite_projection(k, ||w_i||)``.

    W: (..., d, m), b: (..., m) -> (..., 1 + p) float64.
    """
    W = W.to(torch.float64)
    norms = W.norm(dim=-2).cpu().numpy()
    coef = torch.as_tensor(hermite_projection(tables.k, norms), dtype=torch.float64, device=W.device)
    return equivalent_tensor_weights(W, b.to(torch.float64).expand(W.shape[:-2] + (W.shape[-1],)), coef, tables)
