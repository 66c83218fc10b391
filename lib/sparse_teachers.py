"""Sparse "convolutional" random teachers on +-1 inputs and their polynomial regression (thesis 000, §3.2).

Used by the chapter ``polynomial_regression`` (Figs 3.1-3.2, Table 3.1).

Teacher (eq. 3.1, §3.2.1): ``Y = sum_i b f(w_i . x)`` with ``b = 1/m`` (it does not affect R²), ``f`` = ReLU
or sigmoid, ``w_i`` N(0, 1) on a contiguous window of ``s = min(d, 9)`` coordinates starting uniformly in
``[0, d - s]`` (the thesis says "in a contiguous way"; the start rule is ours) and 0 elsewhere;
``x`` uniform on ``{-1, +1}^d``. Polynomial regression uses square-free monomials plus an intercept
(``x_j**2 = 1`` for +-1 inputs), fitted by least squares with an unpenalised intercept and the
minimum-norm solution for the other coefficients (as scikit-learn's ``LinearRegression``; ``N < p``
interpolates). Everything is batched over K seeds.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from lib import polyfeatures, stats

ACTIVATIONS = {"relu": torch.relu, "sigmoid": torch.sigmoid}


def sparse_teacher(K: int, d: int, m: int, s: int, generator: torch.Generator,
                   dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """K teachers W: (K, d, m), N(0, 1) entries on one contiguous window of length s per hidden unit."""
    for name, v in (("K", K), ("d", d), ("m", m), ("s", s)):
        if not isinstance(v, int) or v < 1:
            raise ValueError(f"{name} must be a positive int, got {v!r}")
    if s > d:
        raise ValueError(f"s must be <= d={d}, got {s}")
    dev = generator.device
    W = torch.randn((K, d, m), generator=generator, device=dev, dtype=dtype)
    start = torch.randint(0, d - s + 1, (K, 1, m), generator=generator, device=dev)
    j = torch.arange(d, device=dev).view(1, d, 1)
    return W * ((j >= start) & (j < start + s))


def rademacher(K: int, N: int, d: int, generator: torch.Generator, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """X: (K, N, d) uniform on {-1, +1}."""
    bits = torch.randint(0, 2, (K, N, d), generator=generator, device=generator.device)
    return (2 * bits - 1).to(dtype)


def teacher_output(W: torch.Tensor, X: torch.Tensor, activation: str = "relu") -> torch.Tensor:
    """Y = (1/m) sum_i f(w_i . x): W (K, d, m), X (K, N, d) -> (K, N)."""
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {tuple(ACTIVATIONS)}, got {activation!r}")
    return ACTIVATIONS[activation](torch.bmm(X, W)).mean(-1)


r2 = stats.r2  # 1 - MSE / Var(y) along the last axis: (..., N) -> (...) (lib.stats)


@dataclass
class PRResult:
    """In-sample and out-of-sample R², each (K,), and the number of features p (with intercept)."""

    r2_in: torch.Tensor
    r2_out: torch.Tensor
    p: int


def fit_pr(X_tr: torch.Tensor, Y_tr: torch.Tensor, X_te: torch.Tensor, Y_te: torch.Tensor, degree: int,
           basis: str = "squarefree") -> PRResult:
    """Min-norm least-squares polynomial regression of degree <= ``degree``, batched over K data sets.

    X_tr: (K, N, d), Y_tr: (K, N), X_te: (K, N', d), Y_te: (K, N').
    """
    K, N, d = X_tr.shape
    tables = polyfeatures.monomial_tables(d, degree, basis)
    F_tr = polyfeatures.lift(X_tr.reshape(K * N, d), tables, intercept=False).reshape(K, N, -1)
    F_te = polyfeatures.lift(X_te.reshape(-1, d), tables, intercept=False).reshape(K, X_te.shape[1], -1)
    # unpenalised intercept (as scikit-learn's LinearRegression): centre on the training set, then min-norm
    mu_f, mu_y = F_tr.mean(1, keepdim=True), Y_tr.mean(1, keepdim=True)
    beta = torch.linalg.lstsq(F_tr - mu_f, (Y_tr - mu_y).unsqueeze(-1), driver="gelsd").solution
    pin = ((F_tr - mu_f) @ beta).squeeze(-1) + mu_y
    pout = ((F_te - mu_f) @ beta).squeeze(-1) + mu_y
    return PRResult(r2_in=r2(pin, Y_tr), r2_out=r2(pout, Y_te), p=F_tr.shape[-1] + 1)


def run_config(K: int, d: int, m: int, N: int, degree: int, generator: torch.Generator, activation: str = "relu",
               s: int | None = None, n_test: int | None = None) -> PRResult:
    """One cell of the §3.2 sweep: K independent teachers (window s = min(d, 9) by default), N training
    and ``n_test`` (default N) test points, PR of the given degree."""
    s = min(d, 9) if s is None else s
    n_test = N if n_test is None else n_test
    W = sparse_teacher(K, d, m, s, generator)
    X_tr = rademacher(K, N, d, generator)
    X_te = rademacher(K, n_test, d, generator)
    return fit_pr(X_tr, teacher_output(W, X_tr, activation), X_te, teacher_output(W, X_te, activation), degree)


def walsh_energy_by_degree(W: torch.Tensor, activation: str = "relu") -> torch.Tensor:
    """Exact Walsh-Fourier energy of teachers on the whole cube {-1, +1}^d, by degree: W (K, d, m) -> (K, d + 1).

    Entry ``[k, t]`` is ``sum_{|S| = t} f_hat(S)^2`` with ``f_hat(S) = E_x[f(x) prod_{j in S} x_j]`` for the
    teacher ``f`` of :func:`teacher_output`; the Walsh functions of degree <= t span the square-free
    monomials of degree <= t, so the population R² of degree-t PR (thesis Table 3.1, L811-817) is
    ``energy[1:t+1].sum() / energy[1:].sum()``. Enumerates all 2^d inputs (d <= 16) and applies the fast
    Walsh-Hadamard transform; exact up to float64 rounding.
    """
    K, d, _ = W.shape
    if d > 16:
        raise ValueError(f"d must be <= 16 to enumerate the cube, got {d}")
    idx = torch.arange(2**d, device=W.device)
    bits = (idx[:, None] >> torch.arange(d, device=W.device)) & 1                # (2^d, d), bit j of index i
    X = (1 - 2 * bits).to(W.dtype)                                                # x_j = +1 (bit 0) or -1 (bit 1)
    F = teacher_output(W, X.expand(K, -1, -1), activation)                        # (K, 2^d)
    F = F.reshape(K, *([2] * d))                                                  # axis 1 + (d-1-j) holds bit j
    for ax in range(1, d + 1):                                                    # butterfly: mean and half-difference
        a, b = F.select(ax, 0), F.select(ax, 1)
        F = torch.stack(((a + b) / 2, (a - b) / 2), dim=ax)
    coef = F.reshape(K, 2**d)                                                     # coef[:, S] = f_hat(S), S as bits
    deg = bits.sum(1)                                                             # |S| = popcount
    return torch.zeros((K, d + 1), dtype=W.dtype, device=W.device).index_add_(1, deg, coef**2)


def degree_medians(activations: tuple[str, ...], degrees: tuple[int, ...], ds: list[int], ms: list[int], n: int,
                   K: int, generator: torch.Generator) -> torch.Tensor:
    """Table 3.1 (thesis L811-817): median out-of-sample R² of degree-k PR over a pooled grid of teachers.

    For every activation and degree, K fresh teachers at every (d, m) of ``ds`` x ``ms``, ``n`` training and
    ``n`` test points (:func:`run_config`); each configuration draws from its own generator seeded from
    ``generator``. Returns medians: (len(activations), len(degrees)).
    """
    out = torch.empty((len(activations), len(degrees)), dtype=torch.float64)
    for i, act in enumerate(activations):
        for j, deg in enumerate(degrees):
            runs = []
            for d in ds:
                for m in ms:
                    seed = int(torch.randint(0, 2**31, (1,), generator=generator))
                    runs.append(run_config(K, d, m, n, deg, torch.Generator().manual_seed(seed), act).r2_out)
            out[i, j] = torch.cat(runs).median()
    return out


def wrong_parity_share(W: torch.Tensor, activation: str) -> torch.Tensor:
    """Share of a teacher's variance (Walsh energy at degrees >= 1) at the degrees the parity x -> -x forbids.

    ReLU = z/2 + |z|/2: a linear function plus an even one, so no odd degree >= 3; sigmoid = 1/2 + an odd
    function, so no even degree >= 2 (thesis Table 3.1, L811-817). W (K, d, m) -> (K,), exactly 0 up to
    float64 rounding for these two activations (:func:`walsh_energy_by_degree`).
    """
    E = walsh_energy_by_degree(W, activation)[:, 1:]                 # (K, d): degrees 1..d
    share = E / E.sum(1, keepdim=True)
    if activation == "relu":
        return share[:, 2::2].sum(1)                                 # degrees 3, 5, ...
    if activation == "sigmoid":
        return share[:, 1::2].sum(1)                                 # degrees 2, 4, ...
    raise ValueError(f"activation must be 'relu' or 'sigmoid', got {activation!r}")


def settling_point(x: list[float], y: list[float], level: float) -> float:
    """The smallest ``x[i]`` from which ``y`` stays below ``level`` (``y[j] < level`` for every j >= i); x ascending.

    Fig 3.2 (thesis L799-803): the n/p from which the generalisation gap stays small. NaN when ``y[-1] >= level``.
    """
    if len(x) != len(y) or not len(x):
        raise ValueError(f"x and y must be non-empty and of equal length, got {len(x)} and {len(y)}")
    if any(b <= a for a, b in zip(x, x[1:])):
        raise ValueError("x must be strictly ascending")
    out = float("nan")
    for xi, yi in zip(reversed(x), reversed(y)):
        if not yi < level:
            break
        out = float(xi)
    return out
