"""Exact global empirical-risk minimisation for one-hidden-layer ReLU nets (thesis Thm 2.4.1, Alg 1).

Used by the chapter ``relu_function_spaces`` (document 003, §2.4, L647-754). Problem (2.3) with the
reparametrisation (2.4): f(x) = Σ_{i=1}^w s_i ReLU(ã^i·x + b̃_i), s_i ∈ {±1}, **no output bias**, squared
loss (1/D)Σ_j (f(x_j) - y_j)².

Alg 1 with the corrected objective: for every multiset of w pairs (s_i, P_+^i), where
P_+^i is a hyperplane dichotomy of the data, solve the convex QP
    min_θ (1/D) Σ_j ( Σ_{i: j∈P_+^i} s_i (ã^i·x_j + b̃_i) - y_j )²
    s.t. ã^i·x_j + b̃_i ≥ 0 (j ∈ P_+^i),  ã^i·x_j + b̃_i ≤ 0 (j ∉ P_+^i).
Every feasible θ is a real network with exactly that loss, and the optimum's own activation pattern is
enumerated, so the minimum over subproblems is the global optimum.

Speed: the Gram matrices of all subproblems are built at once (numpy, batched); the unconstrained
least-squares value of each subproblem is a lower bound, and when its (minimum-norm) solution is
feasible it *is* the subproblem's optimum. Subproblems are visited in order of their lower bound and
the search stops once the bound reaches the incumbent (branch and bound, still exact); only the rest go
to ``quadprog`` (Goldfarb–Idnani dual active set). ``prune=False`` solves every QP with quadprog.
Also: the 1-D PWL formulation (2.6)-(2.8) with the corrected constraints (2.7), grid brute forces,
and a batched gradient-descent baseline (torch). What the chapter's claims measure on them: ``reach_rate`` (how
often gradient descent reaches the certified optimum), ``subproblem_scaling`` (the D^{nw} growth of Thm 2.4.1) and
``erm_1d_study`` (Alg 1 against brute force and against (2.6)-(2.8), corrected and printed).
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Sequence
from math import comb

import numpy as np
import quadprog

__all__ = [
    "hyperplane_dichotomies", "dichotomy_count", "erm_two_layer_exact", "network_loss",
    "erm_pwl1d_exact", "bruteforce_alg1_1d", "bruteforce_pwl1d", "gd_baseline", "reach_rate", "subproblem_scaling",
    "erm_1d_study",
]

_RIDGE = 1e-12


def dichotomy_count(D: int, n: int) -> int:
    """Cover's count of linearly separable dichotomies of D points in general position in R^n,
    2Σ_{i=0}^{n} C(D-1, i) (the thesis's "2C(D,n)" omits the two trivial ones, §6 item 8)."""
    return 2 * sum(comb(D - 1, i) for i in range(n + 1))


def hyperplane_dichotomies(X: np.ndarray) -> np.ndarray:
    """All sets P_+ = {j : a·x_j + b > 0} realisable by an affine function, as a bool array (Q, D).

    n = 1: prefixes and suffixes of the sorted points. n ≥ 2: for every n-subset, the hyperplane through
    it, the other points split by side, the subset's points assigned in all 2^n ways, plus complements,
    plus ∅ and the full set (valid for points in general position). Unique rows.
    """
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2:
        raise ValueError(f"X must be (D, n), got shape {X.shape}")
    D, n = X.shape
    if n == 1:
        order = np.argsort(X[:, 0])
        rank = np.empty(D, dtype=int)
        rank[order] = np.arange(D)
        cut = np.arange(D + 1)[:, None]
        pre = rank[None, :] < cut
        out = np.concatenate([pre, ~pre])
    else:
        rows = [np.zeros(D, dtype=bool), np.ones(D, dtype=bool)]
        Xh = np.concatenate([X, np.ones((D, 1))], axis=1)
        assigns = ((np.arange(2**n)[:, None] >> np.arange(n)) & 1).astype(bool)  # (2^n, n)
        for S in itertools.combinations(range(D), n):
            # normal of the hyperplane through the n points: null vector of Xh[S] (n, n+1)
            _, _, Vt = np.linalg.svd(Xh[list(S)])
            nv = Vt[-1]
            side = Xh @ nv > 0
            base = np.repeat(side[None, :], 2**n, axis=0)
            base[:, list(S)] = assigns
            rows.append(base)
            rows.append(~base)
        out = np.concatenate([np.atleast_2d(r) for r in rows])
    return np.unique(out, axis=0)


def network_loss(X: np.ndarray, y: np.ndarray, theta: np.ndarray, s: np.ndarray) -> float:
    """(1/D)Σ(f(x_j) - y_j)², f = Σ_i s_i ReLU(θ_i·[x,1]). theta: (w, n+1), s: (w,)."""
    Xh = np.concatenate([X, np.ones((X.shape[0], 1))], axis=1)
    f = np.maximum(Xh @ theta.T, 0.0) @ s
    return float(np.mean((f - y) ** 2))


def _solve_qp(H: np.ndarray, g: np.ndarray, Cm: np.ndarray) -> np.ndarray:
    """min ½θᵀHθ - gᵀθ s.t. Cm θ ≥ 0 with quadprog (H gets a tiny ridge to be positive definite)."""
    p = H.shape[0]
    Hr = H + (_RIDGE * max(1.0, float(np.trace(H)) / p)) * np.eye(p)
    try:
        return quadprog.solve_qp(Hr, g, Cm.T.copy(), np.zeros(Cm.shape[0]), 0)[0]
    except ValueError:  # degenerate (e.g. pairs of opposite inequalities): fall back to SLSQP from θ = 0
        from scipy.optimize import minimize

        r = minimize(lambda th: 0.5 * th @ Hr @ th - g @ th, np.zeros(p), jac=lambda th: Hr @ th - g,
                     constraints=[{"type": "ineq", "fun": lambda th: Cm @ th, "jac": lambda th: Cm}],
                     method="SLSQP", options={"ftol": 1e-14, "maxiter": 500})
        return r.x


def erm_two_layer_exact(X: np.ndarray, y: np.ndarray, w: int, prune: bool = True,
                        feas_tol: float = 1e-10) -> dict:
    """Alg 1 (corrected): certified global optimum of (2.3) with squared loss for width w.

    X: (D, n), y: (D,). Returns {"opt", "theta" (w, n+1), "s" (w,), "loss_net" (recomputed network loss),
    "max_violation", "n_subproblems", "n_qp", "n_ls_feasible", "n_dichotomies", "seconds"}.
    """
    t0 = time.perf_counter()
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64).reshape(-1)
    if X.ndim != 2 or X.shape[0] != y.size:
        raise ValueError(f"X must be (D, n) and y (D,), got {X.shape}, {y.shape}")
    if w < 1:
        raise ValueError(f"w must be >= 1, got {w}")
    D, n = X.shape
    P = hyperplane_dichotomies(X)                       # (Q, D)
    Q = P.shape[0]
    opts_s = np.concatenate([np.ones(Q), -np.ones(Q)])  # option o = (s, P) ; 2Q options
    opts_P = np.concatenate([P, P])
    combos = np.array(list(itertools.combinations_with_replacement(range(2 * Q), w)))  # (N, w)
    N = combos.shape[0]
    Xh = np.concatenate([X, np.ones((D, 1))], axis=1)   # (D, n+1)
    # Φ: (N, D, w, n+1) -> (N, D, p)
    mask = opts_P[combos] * opts_s[combos][:, :, None]  # (N, w, D)
    Phi = (mask.transpose(0, 2, 1)[:, :, :, None] * Xh[None, :, None, :]).reshape(N, D, w * (n + 1))
    H = np.einsum("ndp,ndq->npq", Phi, Phi) * (2.0 / D)
    g = np.einsum("ndp,d->np", Phi, y) * (2.0 / D)
    # unconstrained LS lower bound (minimum-norm solution via pinv, batched)
    theta_ls = np.einsum("npq,nq->np", np.linalg.pinv(H, hermitian=True), g)
    resid = np.einsum("ndp,np->nd", Phi, theta_ls) - y
    lb = np.mean(resid**2, axis=1)
    # constraint rows: sign_j (x_j,1)·θ_i ≥ 0 with sign +1 on P_+, -1 off it
    sgn = np.where(opts_P[combos], 1.0, -1.0)           # (N, w, D)
    pre = np.einsum("dk,nwk->nwd", Xh, theta_ls.reshape(N, w, n + 1))
    feas = np.all(sgn * pre >= -feas_tol, axis=(1, 2))
    order = np.argsort(lb, kind="stable") if prune else np.arange(N)
    best, best_k, best_theta = np.inf, -1, None
    n_qp = n_lsf = 0
    for k in order:
        if prune and lb[k] >= best - 1e-13:
            break
        if feas[k]:
            val, th = lb[k], theta_ls[k]
            n_lsf += 1
        else:
            Cm = (sgn[k][:, :, None] * Xh[None, :, :])   # (w, D, n+1)
            Cfull = np.zeros((w * D, w * (n + 1)))
            for i in range(w):
                Cfull[i * D:(i + 1) * D, i * (n + 1):(i + 1) * (n + 1)] = Cm[i]
            th = _solve_qp(H[k], g[k], Cfull)
            val = float(np.mean((Phi[k] @ th - y) ** 2))
            n_qp += 1
        if val < best:
            best, best_k, best_theta = val, k, th
    theta = best_theta.reshape(w, n + 1)
    s = opts_s[combos[best_k]]
    pre = Xh @ theta.T
    sg = np.where(opts_P[combos[best_k]].T, 1.0, -1.0)
    return {"opt": float(best), "theta": theta, "s": s, "loss_net": network_loss(X, y, theta, s),
            "max_violation": float(max(0.0, -(sg * pre).min())), "n_subproblems": int(N), "n_qp": n_qp,
            "n_ls_feasible": n_lsf, "n_dichotomies": int(Q), "seconds": time.perf_counter() - t0}


# ---------------------------------------------------------------------------------------- 1-D (2.6)-(2.8)
def erm_pwl1d_exact(x: np.ndarray, y: np.ndarray, p: int, printed: bool = False) -> dict:
    """(2.6)-(2.8) with the corrected (2.7): best continuous PWL fit with ≤ p pieces (squared loss).

    Enumerates kink intervals 0 ≤ i_1 ≤ … ≤ i_{p-1} ≤ D (interval i lies between sorted x_i and x_{i+1};
    0 and D are the unbounded ends) and convexity signs S ∈ {±1}^{p-1}; each case is a QP in (a_j, b_j):
        S_j φ_j(x_{i_j}) ≤ 0,  S_j φ_j(x_{i_j+1}) ≥ 0,  S_j (a_{j+1} - a_j) ≥ 0,  φ_j = ℓ_{j+1} - ℓ_j.
    Count C(D+p-2, p-1)·2^{p-1} (the thesis's C(D,p) is wrong, §6 item 9). Returns {"opt", "n_qp"}.
    ``printed=True`` uses (2.7) as printed (the first two inequalities reversed), which forces
    ℓ_j ≡ ℓ_{j+1} whenever the kink lies between two data points (evidence for §6 item 9).
    """
    order = np.argsort(x)
    x = np.asarray(x, dtype=np.float64)[order]
    y = np.asarray(y, dtype=np.float64)[order]
    D = x.size
    if p < 1:
        raise ValueError(f"p must be >= 1, got {p}")
    best, n_qp = np.inf, 0
    for I in itertools.combinations_with_replacement(range(D + 1), p - 1):
        bounds = (0,) + I + (D,)
        H = np.zeros((2 * p, 2 * p))
        g = np.zeros(2 * p)
        for j in range(p):
            xs, ys = x[bounds[j]:bounds[j + 1]], y[bounds[j]:bounds[j + 1]]
            F = np.stack([xs, np.ones_like(xs)], axis=1)
            H[2 * j:2 * j + 2, 2 * j:2 * j + 2] = 2 * F.T @ F / D
            g[2 * j:2 * j + 2] = 2 * F.T @ ys / D
        for S in itertools.product((1.0, -1.0), repeat=p - 1):
            rows = []
            for j, (ij, sj) in enumerate(zip(I, S)):
                def phi(xv, j=j):
                    r = np.zeros(2 * p)
                    r[2 * j + 2:2 * j + 4] = [xv, 1.0]
                    r[2 * j:2 * j + 2] = [-xv, -1.0]
                    return r
                sgn = -1.0 if printed else 1.0
                if ij >= 1:
                    rows.append(-sgn * sj * phi(x[ij - 1]))  # S φ(x_{i_j}) ≤ 0   (printed: ≥ 0)
                if ij <= D - 1:
                    rows.append(sgn * sj * phi(x[ij]))       # S φ(x_{i_j+1}) ≥ 0 (printed: ≤ 0)
                r = np.zeros(2 * p)
                r[2 * j + 2], r[2 * j] = sj, -sj
                rows.append(r)
            Cm = np.array(rows) if rows else np.zeros((0, 2 * p))
            th = _solve_qp(H, g, Cm) if Cm.size else np.linalg.lstsq(H, g, rcond=None)[0]
            n_qp += 1
            pred = np.empty(D)
            for j in range(p):
                sl = slice(bounds[j], bounds[j + 1])
                pred[sl] = th[2 * j] * x[sl] + th[2 * j + 1]
            best = min(best, float(np.mean((pred - y) ** 2)))
    return {"opt": best, "n_qp": n_qp}


def bruteforce_alg1_1d(x: np.ndarray, y: np.ndarray, w: int, grid: np.ndarray) -> float:
    """Upper bound on the width-w bias-free optimum (n = 1): for hinge features s·ReLU(±(x - t)), t ∈ grid,
    and a constant feature ReLU(b) (b ≥ 0 or ≤ 0 with the sign), OLS over all w-subsets of features.

    A w-subset of {ReLU(x - t), ReLU(t - x)} ∪ {1} with free real coefficients is a width-w net without output
    bias (coefficient c -> s = sgn c, scale |c| inside the ReLU). Vectorised over subsets (batched lstsq via pinv).
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    feats = np.concatenate([np.maximum(x[None, :] - grid[:, None], 0), np.maximum(grid[:, None] - x[None, :], 0),
                            np.ones((1, x.size))])  # (F, D)
    subsets = np.array(list(itertools.combinations(range(feats.shape[0]), w)))
    A = feats[subsets].transpose(0, 2, 1)            # (S, D, w)
    coef = np.einsum("swd,d->sw", np.linalg.pinv(A), y)
    r = np.einsum("sdw,sw->sd", A, coef) - y
    return float(np.min(np.mean(r**2, axis=1)))


def bruteforce_pwl1d(x: np.ndarray, y: np.ndarray, p: int, grid: np.ndarray) -> float:
    """Upper bound on the ≤p-piece PWL optimum: OLS on {1, x, ReLU(x - t_1), …, ReLU(x - t_{p-1})}, t ∈ grid."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    hinges = np.maximum(x[None, :] - grid[:, None], 0)
    subsets = np.array(list(itertools.combinations(range(grid.size), p - 1))) if p > 1 else np.zeros((1, 0), int)
    base = np.stack([np.ones_like(x), x], axis=1)
    A = np.concatenate([np.broadcast_to(base, (subsets.shape[0],) + base.shape),
                        hinges[subsets].transpose(0, 2, 1)], axis=2)
    coef = np.einsum("skd,d->sk", np.linalg.pinv(A), y)
    r = np.einsum("sdk,sk->sd", A, coef) - y
    return float(np.min(np.mean(r**2, axis=1)))


def gd_baseline(X: np.ndarray, y: np.ndarray, w: int, R: int, steps: int, lr: float, generator,
                device=None) -> np.ndarray:
    """R random-init Adam fits of f(x) = Σ_i a'_i ReLU(a_i·x + b_i) (problem (2.3)), all at once.

    Weights are stacked (R, w, n) and trained by one batched Adam on the summed losses (each restart's
    gradient is its own). ``generator``: torch.Generator. Returns the final losses (R,) as numpy float64.
    """
    import torch

    from .relu_fit import adam_cosine

    dev = device or generator.device
    Xt = torch.as_tensor(X, dtype=torch.float64, device=dev)
    yt = torch.as_tensor(y, dtype=torch.float64, device=dev)
    n = Xt.shape[1]
    A = torch.randn(R, w, n, generator=generator, device=dev, dtype=torch.float64).requires_grad_()
    b = torch.randn(R, w, generator=generator, device=dev, dtype=torch.float64).requires_grad_()
    a2 = torch.randn(R, w, generator=generator, device=dev, dtype=torch.float64).requires_grad_()
    def losses():
        h = torch.relu(torch.einsum("rwn,dn->rdw", A, Xt) + b[:, None, :])
        return ((h * a2[:, None, :]).sum(-1) - yt).pow(2).mean(-1)

    return adam_cosine([A, b, a2], losses, steps, lr).cpu().numpy()


# ---------------------------------------------------------------------------------------- studies
def reach_rate(losses: np.ndarray, opt: float, y: np.ndarray, rtol: float = 1e-4) -> float:
    """Fraction of the runs whose final ``losses`` (R,) are within ``rtol``·mean(y²) of the certified optimum ``opt``
    (mean(y²) is the loss of the zero network, so the tolerance is relative to the scale of the problem)."""
    return float(np.mean((np.asarray(losses) - opt) / np.mean(np.asarray(y) ** 2) < rtol))


def subproblem_scaling(configs: Sequence[tuple[int, int]], Ds: Sequence[int], rng: np.random.Generator
                       ) -> tuple[np.ndarray, dict[tuple[int, int], float]]:
    """Thm 2.4.1 (L655): the number of convex subproblems of Alg 1 against D, for each (n, w) in ``configs`` and D in
    ``Ds`` (x ~ U(−1, 1)^n, y ~ N(0, 1), drawn config-major). Returns (rows (len(configs)·len(Ds), 7) [n, w, D,
    subproblems enumerated, the multiset count C(2Q + w − 1, w) with Q = :func:`dichotomy_count` (D, n), seconds,
    QPs solved], {(n, w): local log-log slope of the count between the last two D}); the theorem's rate is n·w."""
    rows = []
    for nn, ww in configs:
        for D in Ds:
            X, y = rng.uniform(-1, 1, (D, nn)), rng.normal(size=D)
            r = erm_two_layer_exact(X, y, ww)
            rows.append((nn, ww, D, r["n_subproblems"], comb(2 * dichotomy_count(D, nn) + ww - 1, ww), r["seconds"],
                         r["n_qp"]))
    scal = np.array(rows, dtype=float)
    slopes = {}
    for nn, ww in configs:
        sel = (scal[:, 0] == nn) & (scal[:, 1] == ww)
        slopes[(nn, ww)] = float(np.polyfit(np.log(scal[sel, 2][-2:]), np.log(scal[sel, 3][-2:]), 1)[0])
    return scal, slopes


def erm_1d_study(x: np.ndarray, y: np.ndarray) -> dict:
    """n = 1: Alg 1 (:func:`erm_two_layer_exact`, widths 1-3) against the grid brute force
    (:func:`bruteforce_alg1_1d`, 31 and 301 points of [−1.5, 1.5]) and against the PWL formulation (2.6)-(2.8)
    (:func:`erm_pwl1d_exact`, p = 1..4 pieces with the corrected (2.7), p = 2, 3 as printed; brute force on 121 grid
    points of [−1.2, 1.2]). x, y: (D,).

    Returns dict(alg1 {w: OPT}, grid_gap {grid size: brute force − Alg1(2)}, pwl {p: OPT}, pwl_printed {p: OPT},
    pwl_brute {p: upper bound}, sandwich: L*_PWL(w+1) ≤ L*_Alg1(w) ≤ L*_PWL(w−1) for w = 2, 3 (a width-w net is PWL
    with at most w + 1 pieces))."""
    alg1 = {w: erm_two_layer_exact(x[:, None], y, w)["opt"] for w in (1, 2, 3)}
    grid_gap = {G: bruteforce_alg1_1d(x, y, 2, np.linspace(-1.5, 1.5, G)) - alg1[2] for G in (31, 301)}
    pwl = {p: erm_pwl1d_exact(x, y, p)["opt"] for p in (1, 2, 3, 4)}
    pwl_printed = {p: erm_pwl1d_exact(x, y, p, printed=True)["opt"] for p in (2, 3)}
    pwl_brute = {p: bruteforce_pwl1d(x, y, p, np.linspace(-1.2, 1.2, 121)) for p in (2, 3)}
    sandwich = all(pwl[w + 1] <= alg1[w] + 1e-9 <= pwl[w - 1] + 2e-9 for w in (2, 3))
    return dict(alg1=alg1, grid_gap=grid_gap, pwl=pwl, pwl_printed=pwl_printed, pwl_brute=pwl_brute,
                sandwich=sandwich)
