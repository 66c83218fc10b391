"""Polynomial approximations of ReLU (thesis 000, §3.5, eqs. 3.20-3.22, Fig 3.13).

Used by the chapter ``polynomial_regression`` (section "Polynomial approximations of ReLU") and by
:mod:`lib.weight_matching` (the prior approximations a_t of eq. 3.23).

Coefficient vectors are ``a = (a_0, ..., a_k)`` (lowest degree first), ``P_a(x) = sum_t a_t x^t``.

* The thesis's objective (eq. 3.20 and L1137-1141): on a grid ``x`` of [-3, 3] with weights
  ``w(x) = phi(x)`` (the N(0,1) density),

  - weighted L2:    ``F_2(a)   = sum_i w_i (relu(x_i) - P_a(x_i))**2``
  - weighted L-inf: ``F_inf(a) = max_i w_i |relu(x_i) - P_a(x_i)|``

* Solvers:

  - :func:`grid_search` -- the thesis's brute force (coefficients on a lattice, 150 steps per
    dimension in [-3, 3]^4, then a second pass on a tighter lattice centred on the first optimum),
    computed EXACTLY (same argmin as enumerating the 5.1e8 lattice points) by enumerating only the
    lattice points inside a box that provably contains the sublevel set {F <= U} of a known lattice
    value U (an ellipsoid bound for L2, eight small LPs for L-inf). :func:`grid_search_bruteforce`
    is the literal enumeration (tests, small lattices).
  - :func:`weighted_ls_fit` -- the exact weighted least-squares optimum on the grid, and
    :func:`weighted_ls_continuous` -- the optimum of the continuous objective int phi (relu - P)^2
    over [-3, 3] (Gauss-Legendre on each side of the kink; exact to rounding).
  - :func:`linf_fit_lp` -- the exact L-inf optimum as a linear program (scipy ``linprog``/HiGHS),
    with the alternation points that certify it (Chebyshev's alternation theorem: the weighted
    monomials form a Haar system, so an optimum is certified by k+2 points where the weighted error
    reaches +-F_inf with alternating signs).
  - :func:`hermite_relu_coeffs` / :func:`hermite_projection` -- the Gaussian-L2 projection on all of
    R: ``relu(u) = sum_k c_k He_k(u)`` with ``c_k = phi(0) He_{k-2}(0) / k!`` for k >= 2,
    ``c_0 = phi(0)``, ``c_1 = 1/2``; for ``z ~ N(0, r^2)`` the projection of relu(z) onto
    polynomials of degree <= k is ``r * sum_t c_t He_t(z / r)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.polynomial import hermite_e as H
from scipy.optimize import linprog

#: eq. 3.21 and eq. 3.22 as printed (the x^3 coefficients 1.39e-17 / -2.77e-17 are float residue).
THESIS_P_L2 = np.array([0.188, 0.5, 0.21, 1.39e-17])
THESIS_P_LINF = np.array([0.096, 0.5, 0.3, -2.77e-17])
#: eq. 3.26 (the posterior approximation inferred from the regression weights).
THESIS_P_POSTERIOR = np.array([0.114, 0.498, 0.352, -1.1e-3])

OBJECTIVES = ("l2", "linf")
SQRT_2PI = math.sqrt(2.0 * math.pi)


def relu(x: np.ndarray) -> np.ndarray:
    return np.maximum(x, 0.0)


def normal_pdf(x: np.ndarray) -> np.ndarray:
    return np.exp(-0.5 * np.asarray(x, dtype=float) ** 2) / SQRT_2PI


def x_grid(n_points: int = 601, interval: tuple[float, float] = (-3.0, 3.0)) -> np.ndarray:
    """The evaluation grid of the objective: ``n_points`` equispaced points (601 by default; unstated)."""
    if n_points < 2:
        raise ValueError(f"n_points must be >= 2, got {n_points}")
    lo, hi = interval
    if not lo < hi:
        raise ValueError(f"interval must satisfy lo < hi, got {interval}")
    return np.linspace(lo, hi, n_points)


def vander(x: np.ndarray, degree: int) -> np.ndarray:
    """(n, degree+1) matrix of x**t, t = 0..degree."""
    if degree < 0:
        raise ValueError(f"degree must be >= 0, got {degree}")
    return np.asarray(x, dtype=float)[:, None] ** np.arange(degree + 1)[None, :]


def poly_eval(a: np.ndarray, x: np.ndarray) -> np.ndarray:
    """P_a(x) for coefficients a: (..., k+1) and x: (n,) -> (..., n)."""
    a = np.asarray(a, dtype=float)
    return a @ vander(x, a.shape[-1] - 1).T


def _check_objective(objective: str) -> None:
    if objective not in OBJECTIVES:
        raise ValueError(f"objective must be one of {OBJECTIVES}, got {objective!r}")


def objective_value(a: np.ndarray, objective: str, x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """F_2 or F_inf (module docstring) of coefficients a: (..., k+1) -> (...)."""
    _check_objective(objective)
    r = (relu(x) - poly_eval(a, x)) * w
    if objective == "linf":
        return np.abs(r).max(-1)
    return (r * (relu(x) - poly_eval(a, x))).sum(-1)


# ----------------------------------------------------------------------------------------------
# Exact optima
# ----------------------------------------------------------------------------------------------


def weighted_ls_fit(degree: int, x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """argmin_a sum_i w_i (relu(x_i) - P_a(x_i))^2 on the grid: (degree+1,)."""
    sw = np.sqrt(np.asarray(w, dtype=float))
    V = vander(x, degree) * sw[:, None]
    a, *_ = np.linalg.lstsq(V, relu(x) * sw, rcond=None)
    return a


def weighted_ls_continuous(degree: int, interval: tuple[float, float] = (-3.0, 3.0),
                           n_nodes: int = 80) -> np.ndarray:
    """argmin_a int_lo^hi phi(x) (relu(x) - P_a(x))^2 dx: (degree+1,).

    Gauss-Legendre with ``n_nodes`` nodes on [lo, 0] and on [0, hi] separately (relu is smooth on
    each piece; phi is entire), so the normal equations are exact to rounding.
    """
    lo, hi = interval
    if not lo < 0 < hi:
        raise ValueError(f"interval must contain 0 in its interior, got {interval}")
    t, wt = np.polynomial.legendre.leggauss(n_nodes)
    xs, ws = [], []
    for a_, b_ in ((lo, 0.0), (0.0, hi)):
        xs.append(0.5 * (b_ - a_) * t + 0.5 * (b_ + a_))
        ws.append(0.5 * (b_ - a_) * wt)
    x, q = np.concatenate(xs), np.concatenate(ws)
    return weighted_ls_fit(degree, x, q * normal_pdf(x))


@dataclass(frozen=True)
class LinfFit:
    """Result of :func:`linf_fit_lp`.

    coef: (k+1,) optimal coefficients; value: the optimal F_inf; lower_bound: the LP dual bound
    (equals ``value`` at optimality); alternation: indices of grid points where the weighted error
    reaches +-value with alternating signs (length >= k+2 certifies optimality, Chebyshev).
    """

    coef: np.ndarray
    value: float
    lower_bound: float
    alternation: np.ndarray
    signs: np.ndarray


def alternation_points(err: np.ndarray, value: float, rtol: float = 1e-6) -> tuple[np.ndarray, np.ndarray]:
    """Longest alternating sequence of extremal points of a weighted error ``err``: (idx, signs).

    A point is extremal when ``|err_i| >= value (1 - rtol)``. Greedy left-to-right selection (keeping
    one point per run of equal signs) gives the longest alternation.
    """
    ext = np.flatnonzero(np.abs(err) >= value * (1.0 - rtol))
    idx: list[int] = []
    for i in ext:
        if not idx or np.sign(err[i]) != np.sign(err[idx[-1]]):
            idx.append(int(i))
    idx_arr = np.array(idx, dtype=int)
    return idx_arr, np.sign(err[idx_arr]) if len(idx_arr) else np.zeros(0)


def linf_fit_lp(degree: int, x: np.ndarray, w: np.ndarray) -> LinfFit:
    """Exact argmin_a max_i w_i |relu(x_i) - P_a(x_i)| by linear programming (HiGHS).

    Variables (a_0..a_k, t); minimise t subject to ``+-w_i (relu(x_i) - V_i a) <= t``.
    """
    x = np.asarray(x, dtype=float)
    w = np.asarray(w, dtype=float)
    if x.shape != w.shape or x.ndim != 1:
        raise ValueError(f"x and w must be 1-D of equal length, got {x.shape} and {w.shape}")
    V = vander(x, degree) * w[:, None]
    r = relu(x) * w
    n, p = V.shape
    ones = np.ones((n, 1))
    # w r - V a <= t   ->  -V a - t <= -w r ;   V a - w r <= t -> V a - t <= w r
    A = np.vstack([np.hstack([-V, -ones]), np.hstack([V, -ones])])
    b = np.concatenate([-r, r])
    c = np.zeros(p + 1)
    c[-1] = 1.0
    res = linprog(c, A_ub=A, b_ub=b, bounds=[(None, None)] * p + [(0, None)], method="highs")
    if not res.success:
        raise RuntimeError(f"linprog failed: {res.message}")
    coef, value = res.x[:p], float(res.x[-1])
    # dual bound: with y >= 0 the multipliers of A_ub x <= b, the dual objective is -b^T y (HiGHS
    # returns marginals = -y for <= constraints), which equals the primal at optimality.
    y = -res.ineqlin.marginals
    lower = float(-(b @ y))
    err = r - V @ coef
    idx, signs = alternation_points(err, value)
    return LinfFit(coef=coef, value=value, lower_bound=lower, alternation=idx, signs=signs)


def is_certified(fit: LinfFit, rtol: float = 1e-9) -> bool:
    """Whether an L-infinity fit of degree ``k = len(fit.coef) - 1`` is certified optimal: Chebyshev alternation at
    ``>= k + 2`` points with alternating signs, and a dual bound equal to the value within ``rtol`` (strong duality)."""
    k = len(fit.coef) - 1
    alternates = len(fit.alternation) >= k + 2 and bool(np.all(fit.signs[1:] == -fit.signs[:-1]))
    return bool(alternates and abs(fit.lower_bound - fit.value) <= rtol * abs(fit.value))


def hermite_relu_coeffs(k: int) -> np.ndarray:
    """c_0..c_k with relu(u) = sum_j c_j He_j(u) for u ~ N(0,1) (probabilists' Hermite): (k+1,).

    c_0 = phi(0), c_1 = 1/2, c_j = phi(0) He_{j-2}(0) / j! for j >= 2 (integration by parts of
    E[relu(u) He_j(u)] = int_0^inf u (-1)^j phi^{(j)}(u) du = phi(0) He_{j-2}(0)).
    """
    if k < 0:
        raise ValueError(f"k must be >= 0, got {k}")
    phi0 = 1.0 / SQRT_2PI
    c = np.zeros(k + 1)
    c[0] = phi0
    if k >= 1:
        c[1] = 0.5
    for j in range(2, k + 1):
        n = j - 2
        he0 = 0.0 if n % 2 else (-1.0) ** (n // 2) * _double_factorial(n - 1)
        c[j] = phi0 * he0 / math.factorial(j)
    return c


def _double_factorial(n: int) -> float:
    return float(math.prod(range(n, 0, -2))) if n > 0 else 1.0


def hermite_projection(k: int, r: float | np.ndarray = 1.0) -> np.ndarray:
    """Monomial coefficients (..., k+1) of the L2(N(0, r^2)) projection of relu onto degree <= k.

    relu(z) = r relu(z/r), so the projection is ``r sum_{j<=k} c_j He_j(z/r)``: for k = 3,
    (r (c_0 - c_2), 1/2, c_2 / r, 0) = (0.1995 r, 0.5, 0.1995 / r, 0). ``r`` may be an array of
    scales (...,), e.g. the norms ||w_i|| of the hidden units of a network with N(0, I) inputs.
    """
    r = np.asarray(r, dtype=float)
    if np.any(r <= 0):
        raise ValueError("r must be > 0")
    mono = H.herme2poly(hermite_relu_coeffs(k))  # coefficients in u = z / r
    mono = np.pad(mono, (0, k + 1 - len(mono)))
    return r[..., None] * mono / r[..., None] ** np.arange(k + 1)


# ----------------------------------------------------------------------------------------------
# The thesis's grid search, computed exactly
# ----------------------------------------------------------------------------------------------


def thesis_lattice(bound: float = 3.0, steps: int = 150) -> np.ndarray:
    """Pass-1 lattice of one coefficient: ``linspace(-bound, bound, steps)`` (L1135)."""
    if steps < 2:
        raise ValueError(f"steps must be >= 2, got {steps}")
    return np.linspace(-bound, bound, steps)


def _eval_chunked(lattices: list[np.ndarray], idx_ranges: list[np.ndarray], objective: str,
                  x: np.ndarray, w: np.ndarray, chunk: int = 200_000) -> tuple[float, np.ndarray, int]:
    """min of the objective over the product of ``lattices[k][idx_ranges[k]]`` (lexicographic ties)."""
    sizes = [len(r) for r in idx_ranges]
    total = int(np.prod(sizes))
    best, best_a = np.inf, None
    for start in range(0, total, chunk):
        flat = np.arange(start, min(total, start + chunk))
        sub = np.unravel_index(flat, sizes)
        A = np.stack([lattices[k][idx_ranges[k][sub[k]]] for k in range(len(sizes))], axis=1)
        F = objective_value(A, objective, x, w)
        j = int(np.argmin(F))
        if F[j] < best:
            best, best_a = float(F[j]), A[j]
    return best, best_a, total


def grid_search_bruteforce(lattices: list[np.ndarray], objective: str, x: np.ndarray,
                           w: np.ndarray) -> tuple[np.ndarray, float]:
    """Literal enumeration of the product lattice (tests and small lattices only)."""
    _check_objective(objective)
    best, a, _ = _eval_chunked(lattices, [np.arange(len(L)) for L in lattices], objective, x, w)
    return a, best


def _sublevel_box(objective: str, U: float, x: np.ndarray, w: np.ndarray, degree: int,
                  slack: float = 1e-9) -> tuple[np.ndarray, np.ndarray]:
    """Axis-aligned box containing {a : F(a) <= U}: (lo, hi), each (degree+1,)."""
    if objective == "l2":
        sw = np.sqrt(w)
        V = vander(x, degree) * sw[:, None]
        G = V.T @ V
        a_star = weighted_ls_fit(degree, x, w)
        F_star = float(objective_value(a_star, "l2", x, w))
        half = np.sqrt(max(U - F_star, 0.0) * np.diag(np.linalg.inv(G)))
        return a_star - half - slack, a_star + half + slack
    V = vander(x, degree) * w[:, None]
    r = relu(x) * w
    A = np.vstack([-V, V])
    b = np.concatenate([U - r, U + r])
    lo, hi = np.empty(degree + 1), np.empty(degree + 1)
    for k in range(degree + 1):
        c = np.zeros(degree + 1)
        c[k] = 1.0
        for sgn, out in ((1.0, lo), (-1.0, hi)):
            res = linprog(sgn * c, A_ub=A, b_ub=b, bounds=[(None, None)] * (degree + 1), method="highs")
            if not res.success:
                raise RuntimeError(f"box LP failed: {res.message}")
            out[k] = res.x[k]
    return lo - slack, hi + slack


@dataclass(frozen=True)
class GridResult:
    """Result of one pass of :func:`grid_search_pass`: argmin ``coef``, its ``value``, the number of
    lattice points in the full product (``n_lattice``) and the number actually evaluated."""

    coef: np.ndarray
    value: float
    n_lattice: int
    n_evaluated: int


def grid_search_pass(lattices: list[np.ndarray], objective: str, x: np.ndarray, w: np.ndarray,
                     max_points: int = 50_000_000) -> GridResult:
    """Exact minimiser of F over the product lattice, by sublevel-box pruning (module docstring).

    1. U = min of F over the 2^(k+1) lattice corners around the continuous optimum (a lattice value).
    2. Every lattice point with F <= U lies in the box of :func:`_sublevel_box`; enumerate only those.
    """
    _check_objective(objective)
    degree = len(lattices) - 1
    lattices = [np.asarray(L, dtype=float) for L in lattices]
    if any(L.ndim != 1 or len(L) == 0 or np.any(np.diff(L) <= 0) for L in lattices):
        raise ValueError("lattices must be non-empty, strictly increasing 1-D arrays")
    a_cont = weighted_ls_fit(degree, x, w) if objective == "l2" else linf_fit_lp(degree, x, w).coef
    near = []
    for k, L in enumerate(lattices):
        j = int(np.clip(np.searchsorted(L, a_cont[k]), 1, max(len(L) - 1, 1)))
        near.append(np.unique(np.clip([j - 1, j], 0, len(L) - 1)))
    U, _, _ = _eval_chunked(lattices, near, objective, x, w)
    lo, hi = _sublevel_box(objective, U, x, w, degree)
    ranges = [np.flatnonzero((L >= lo[k]) & (L <= hi[k])) for k, L in enumerate(lattices)]
    n_eval = int(np.prod([len(r) for r in ranges]))
    if n_eval > max_points:
        raise RuntimeError(f"sublevel box holds {n_eval} lattice points (> max_points={max_points})")
    best, a, _ = _eval_chunked(lattices, ranges, objective, x, w)
    return GridResult(coef=a, value=best, n_lattice=int(np.prod([len(L) for L in lattices])),
                      n_evaluated=n_eval)


def grid_search(objective: str, x: np.ndarray, w: np.ndarray, *, degree: int = 3, bound: float = 3.0,
                steps: int = 150, passes: int = 2, width_steps: float = 1.0) -> list[GridResult]:
    """The thesis's two-pass grid search (L1133-1145), exactly.

    Pass 1: every a_t on ``linspace(-bound, bound, steps)``. Pass p > 1: ``steps`` points per dimension
    on ``[a*_t - D, a*_t + D]`` with D = ``width_steps`` previous-pass steps (the width is unstated).
    Returns one :class:`GridResult` per pass.
    """
    if passes < 1:
        raise ValueError(f"passes must be >= 1, got {passes}")
    lat = [thesis_lattice(bound, steps)] * (degree + 1)
    out = []
    for _ in range(passes):
        res = grid_search_pass(lat, objective, x, w)
        out.append(res)
        step = [L[1] - L[0] for L in lat]
        lat = [np.linspace(res.coef[k] - width_steps * step[k], res.coef[k] + width_steps * step[k], steps)
               for k in range(degree + 1)]
    return out


def coefficient_table(polys: dict[str, np.ndarray], x: np.ndarray, w: np.ndarray) -> list[dict[str, object]]:
    """Rows (name, a_0..a_k, F_2, F_inf) for a dict of coefficient vectors (for display)."""
    rows = []
    for name, a in polys.items():
        a = np.asarray(a, dtype=float)
        rows.append({"name": name, **{f"a{t}": float(a[t]) for t in range(len(a))},
                     "F_L2": float(objective_value(a, "l2", x, w)),
                     "F_Linf": float(objective_value(a, "linf", x, w))})
    return rows

