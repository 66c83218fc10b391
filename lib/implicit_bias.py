"""Implicit bias of gradient descent in linear models (Poggio et al. 2018, Secs. 3–4 and SI 6.1–6.3).

Square loss L(w) = (1/2n)‖Xw − y‖² (X: (n, d)):
- :func:`min_norm` (Lemma 2, w† = X⁺y), :func:`row_projector` / :func:`null_component` (Lemma 3);
- :func:`gd_linear` — batched GD for R problems at once, evaluated *in closed form* in the eigenbasis of
  H = XᵀX/n (exact GD: w_t = w̄ + (I − ηH)^t (w_0 − w̄) with w̄ the LS solution nearest w_0), with optional
  perturbations w += N(0, σ²I) every K steps (the experiment of Sec. 4.1 / Figs 4, 15, 16);
- :func:`gd_filter` / :func:`ridge_filter` / :func:`ridge_path` / :func:`equivalent_lambda` — early stopping as
  Tikhonov regularisation with λ ∝ 1/t (Sec. 3.1);
- :func:`poly_features` — 1-D monomial / Legendre / Chebyshev feature matrices (Figs 4, 13, 15, 16);
- :func:`deep_linear_gd` — GD on ½‖W2W1X − Y‖² (SI 6.2.2, Theorem 2, Fig. 8), batched over R problems;
- :func:`one_pass_sgd_sphere` / :func:`one_pass_sgd_sphere_error` — one-pass SGD (SI 6.1, Lin and Rosasco) with
  inputs uniform on the sphere, simulated (R runs at once) and its expected error in closed form.
Logistic loss on separable data:
- :func:`svm_hard_margin` (dual QP), :func:`logistic_gd` (batched over inits), :func:`normalised_margin` (the
  robustness radius ρ(w) of Lemma 6), :func:`flat_fraction` (fraction of random perturbations keeping zero error).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.polynomial import chebyshev as C
from numpy.polynomial import legendre as Lg
from scipy.optimize import minimize, minimize_scalar

__all__ = [
    "min_norm", "row_projector", "null_component", "LinearGDResult", "gd_linear", "gd_linear_loop", "gd_filter",
    "ridge_filter", "ridge_path", "equivalent_lambda", "poly_features", "chebyshev_nodes", "jittered_grid",
    "deep_linear_gd", "svm_hard_margin", "logistic_gd", "normalised_margin", "flat_fraction", "sgd_linear",
    "deep_linear_hessian_blocks", "homogeneous_power_rank", "one_pass_sgd_sphere", "one_pass_sgd_sphere_error",
]


def _as2d(X: np.ndarray, name: str = "X") -> np.ndarray:
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2:
        raise ValueError(f"{name} must be 2-D (n, d), got shape {X.shape}")
    return X


def min_norm(X: np.ndarray, y: np.ndarray, rcond: float | None = None) -> np.ndarray:
    """w† = X⁺y, the minimum-norm least-squares solution (Lemma 2), shape (d,) or (d, k) for y (n, k)."""
    X = _as2d(X)
    return np.linalg.lstsq(X, np.asarray(y, dtype=np.float64), rcond=rcond)[0]


def row_projector(X: np.ndarray) -> np.ndarray:
    """P = X⁺X, the (d, d) orthogonal projector onto the row space of X (n, d)."""
    X = _as2d(X)
    return np.linalg.pinv(X) @ X


def null_component(w: np.ndarray, X: np.ndarray) -> np.ndarray:
    """(I − X⁺X)w, the component of w (d,) or (..., d) in Null(X) — untouched by GD on the square loss (Lemma 3)."""
    P = row_projector(X)
    w = np.asarray(w, dtype=np.float64)
    return w - w @ P.T


# --------------------------------------------------------------------------------------- linear GD, exact
@dataclass
class LinearGDResult:
    """Logged metrics of :func:`gd_linear`; arrays have shape (R, len(t)); train/test are MSE = mean (Xw − y)²."""

    t: np.ndarray
    train: np.ndarray
    test: np.ndarray
    norm: np.ndarray
    null_norm: np.ndarray
    row_err: np.ndarray           # ‖P_row w − w̄_row‖: distance of the row-space part to the LS solution
    w_final: np.ndarray           # (R, d)


def gd_linear(X: np.ndarray, y: np.ndarray, eta: float, T: int, *, w0: np.ndarray | None = None,
              log_t: np.ndarray | None = None, perturb_every: int = 0, sigma: float = 0.0,
              rng: np.random.Generator | None = None, X_test: np.ndarray | None = None,
              y_test: np.ndarray | None = None, rank_tol: float = 1e-12) -> LinearGDResult:
    """Full-batch GD on L = (1/2n)‖Xw − y‖² for R problems at once, computed exactly in the eigenbasis of H.

    X: (R, n, d), y: (R, n); w0: (R, d) (default 0). Step: w ← w − η Xᵀ(Xw − y)/n. Between perturbations the
    t-step map is w_t = w̄ + V diag((1 − ηs)^t) Vᵀ (w_0 − w̄), exact for any t (no loop over steps); directions
    with s_i ≤ rank_tol·s_max are the null space and never move. Every ``perturb_every`` steps (if > 0),
    w += N(0, σ² I_d) from ``rng`` (Sec. 4.1). Logs at ``log_t`` (sorted step counts ≤ T; the value logged at
    a perturbation time is *before* the perturbation). Test set: X_test (R, m, d), y_test (R, m).
    """
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if X.ndim != 3 or y.shape != X.shape[:2]:
        raise ValueError(f"X must be (R, n, d) and y (R, n); got {X.shape}, {y.shape}")
    if eta <= 0 or T < 0:
        raise ValueError(f"eta must be > 0 and T >= 0, got eta={eta}, T={T}")
    if perturb_every and rng is None:
        raise ValueError("rng is required when perturb_every > 0")
    R, n, d = X.shape
    H = np.einsum("rni,rnj->rij", X, X) / n
    s, V = np.linalg.eigh(H)                                    # (R, d), (R, d, d)
    s = np.where(s > rank_tol * s.max(axis=1, keepdims=True), s, 0.0)
    b = np.einsum("rni,rn->ri", X, y) / n
    bt = np.einsum("rij,ri->rj", V, b)                          # Vᵀb
    cstar = np.where(s > 0, bt / np.where(s > 0, s, 1.0), 0.0)  # LS coefficients (row space)
    if np.any(eta * s.max(axis=1) >= 2):
        raise ValueError(f"eta={eta} too large: need eta < 2/λ_max(XᵀX/n) = {2 / s.max():.3g}")
    log_t = np.unique(np.r_[0, T] if log_t is None else np.asarray(log_t, dtype=np.int64))
    if log_t.min() < 0 or log_t.max() > T:
        raise ValueError(f"log_t must lie in [0, T={T}]")
    w = np.zeros((R, d)) if w0 is None else np.array(w0, dtype=np.float64).reshape(R, d)
    c = np.einsum("rij,ri->rj", V, w)                          # coefficients in the eigenbasis
    events = sorted(set(log_t.tolist()) | (set(range(perturb_every, T + 1, perturb_every)) if perturb_every else set()))
    fac = 1.0 - eta * s
    log_set = set(log_t.tolist())
    out = {k: [] for k in ("train", "test", "norm", "null_norm", "row_err")}
    t_now = 0
    for te in events:
        k = te - t_now
        if k:
            c = np.where(s > 0, cstar + fac ** k * (c - cstar), c)
            t_now = te
        if te in log_set:
            wv = np.einsum("rij,rj->ri", V, c)
            out["train"].append(np.mean((np.einsum("rnd,rd->rn", X, wv) - y) ** 2, axis=1))
            if X_test is not None:
                out["test"].append(np.mean((np.einsum("rnd,rd->rn", np.asarray(X_test), wv) - y_test) ** 2, axis=1))
            out["norm"].append(np.linalg.norm(c, axis=1))
            out["null_norm"].append(np.linalg.norm(np.where(s > 0, 0.0, c), axis=1))
            out["row_err"].append(np.linalg.norm(np.where(s > 0, c - cstar, 0.0), axis=1))
        if perturb_every and te % perturb_every == 0 and te > 0 and te < T:
            noise = rng.standard_normal((R, d)) * sigma
            c = c + np.einsum("rij,ri->rj", V, noise)
    arr = {k: (np.stack(v, axis=1) if v else np.full((R, len(log_t)), np.nan)) for k, v in out.items()}
    return LinearGDResult(t=log_t, w_final=np.einsum("rij,rj->ri", V, c), **arr)


def gd_linear_loop(X: np.ndarray, y: np.ndarray, eta: float, T: int, w0: np.ndarray | None = None) -> np.ndarray:
    """Reference: T explicit GD steps w ← w − ηXᵀ(Xw − y)/n for one problem X (n, d); returns w_T (d,)."""
    X = _as2d(X)
    n, d = X.shape
    w = np.zeros(d) if w0 is None else np.array(w0, dtype=np.float64)
    for _ in range(T):
        w = w - eta * X.T @ (X @ w - y) / n
    return w


def sgd_linear(X: np.ndarray, y: np.ndarray, eta: float, steps: int, rng: np.random.Generator,
               w0: np.ndarray | None = None) -> np.ndarray:
    """Single-sample SGD w ← w − η x_i(x_iᵀw − y_i) with i uniform (with replacement); returns w (d,)."""
    X = _as2d(X)
    w = np.zeros(X.shape[1]) if w0 is None else np.array(w0, dtype=np.float64)
    idx = rng.integers(0, X.shape[0], size=steps)
    for i in idx:
        w -= eta * X[i] * (X[i] @ w - y[i])
    return w



def one_pass_sgd_sphere(w_star: np.ndarray, n: int, eta: float, runs: int, rng: np.random.Generator,
                        noise: float = 0.5) -> np.ndarray:
    """One-pass SGD (SI 6.1, L328: T = n fresh samples, step η) for ``runs`` independent runs at once.

    x uniform on the unit sphere S^{D−1}, y = xᵀw* + ξ with ξ ~ U[−noise, noise]; w₀ = 0 and
    w ← w − η x (xᵀw − y). ``w_star``: (D,). Returns w_T − w*: (runs, D).
    """
    w_star = np.asarray(w_star, dtype=np.float64)
    if w_star.ndim != 1:
        raise ValueError(f"w_star must be a vector (D,), got shape {w_star.shape}")
    if n < 0 or runs < 1 or eta <= 0:
        raise ValueError(f"need n >= 0, runs >= 1 and eta > 0, got n={n}, runs={runs}, eta={eta}")
    w = np.zeros((runs, w_star.size))
    for _ in range(int(n)):
        x = rng.standard_normal((runs, w_star.size))
        x /= np.linalg.norm(x, axis=1, keepdims=True)
        y = x @ w_star + rng.uniform(-noise, noise, runs)
        w -= eta * x * ((x * w).sum(1) - y)[:, None]
    return w - w_star


def one_pass_sgd_sphere_error(n: int | np.ndarray, eta: float | np.ndarray, D: int, e0: float,
                              noise_var: float) -> np.ndarray:
    """E‖w_T − w*‖² of :func:`one_pass_sgd_sphere` after T = n steps, exactly (excess risk = this / D).

    With u = w − w*, u ← (I − ηxxᵀ)u + ηξx. For x uniform on S^{D−1}, E xxᵀ = I/D and
    E[xxᵀ C xxᵀ] = (2C + tr C · I)/(D(D + 2)), whose trace is tr C / D; so e_t = E‖u_t‖² obeys the scalar
    recursion e_{t+1} = ρ e_t + η²σ², ρ = 1 − (2η − η²)/D, σ² = ``noise_var``, e₀ = ‖w*‖². Hence
    e_T = e∞ + (e₀ − e∞) ρ^T with e∞ = η²σ²/(1 − ρ) = ηDσ²/(2 − η). ``n`` and ``eta`` broadcast.
    """
    n, eta = np.asarray(n, dtype=np.float64), np.asarray(eta, dtype=np.float64)
    if D < 1 or np.any(eta <= 0) or np.any(eta >= 2):
        raise ValueError(f"need D >= 1 and 0 < eta < 2 (a contraction), got D={D}, eta={eta}")
    rho = 1 - (2 * eta - eta ** 2) / D
    e_inf = eta * D * noise_var / (2 - eta)
    return e_inf + (e0 - e_inf) * rho ** n

def gd_filter(s: np.ndarray, eta: float, t: float) -> np.ndarray:
    """GD spectral filter 1 − (1 − ηs)^t: w_t = Σ_i filter(s_i)·(u_iᵀy/σ_i) v_i from w_0 = 0 (Sec. 3.1)."""
    return 1.0 - (1.0 - eta * np.asarray(s, dtype=np.float64)) ** t


def ridge_filter(s: np.ndarray, lam: float) -> np.ndarray:
    """Tikhonov filter s/(s + λ) of the ridge solution argmin (1/2n)‖Xw − y‖² + (λ/2)‖w‖²."""
    s = np.asarray(s, dtype=np.float64)
    return s / (s + lam)


def ridge_path(X: np.ndarray, y: np.ndarray, lambdas: np.ndarray) -> np.ndarray:
    """Ridge solutions w_λ = Xᵀ(XXᵀ + nλI)⁻¹y for each λ (via the SVD), shape (len(lambdas), d)."""
    X = _as2d(X)
    n = X.shape[0]
    U, sv, Vt = np.linalg.svd(X, full_matrices=False)
    s = sv ** 2 / n
    coef = (U.T @ y) / np.where(sv > 0, sv, 1.0)
    lam = np.asarray(lambdas, dtype=np.float64)[:, None]
    return (ridge_filter(s[None, :], lam) * coef[None, :]) @ Vt


def equivalent_lambda(w: np.ndarray, X: np.ndarray, y: np.ndarray, bounds: tuple[float, float] = (-14, 6)
                      ) -> tuple[float, float]:
    """λ* = argmin_λ ‖w − w_ridge(λ)‖ by a bounded scalar search over log10 λ; returns (λ*, relative distance)."""
    X = _as2d(X)
    f = lambda ll: float(np.linalg.norm(ridge_path(X, y, np.array([10.0 ** ll]))[0] - w))  # noqa: E731
    r = minimize_scalar(f, bounds=bounds, method="bounded", options={"xatol": 1e-6})
    return 10.0 ** r.x, r.fun / max(np.linalg.norm(w), 1e-300)


# ------------------------------------------------------------------------------------------ 1-D features
def poly_features(x: np.ndarray, deg: int, basis: str = "legendre") -> np.ndarray:
    """Φ (len(x), deg + 1): columns p_0(x) … p_deg(x) for ``basis`` in {"mono", "legendre", "chebyshev"}."""
    if basis not in ("mono", "legendre", "chebyshev"):
        raise ValueError(f"basis must be 'mono', 'legendre' or 'chebyshev', got {basis!r}")
    if deg < 0:
        raise ValueError(f"deg must be >= 0, got {deg}")
    x = np.asarray(x, dtype=np.float64)
    if basis == "mono":
        return np.vander(x, deg + 1, increasing=True)
    return (Lg.legvander if basis == "legendre" else C.chebvander)(x, deg)


def chebyshev_nodes(n: int) -> np.ndarray:
    """The n Chebyshev nodes cos((2i − 1)π/(2n)), i = 1..n, on [−1, 1] (denser at the edges; Fig. 13)."""
    i = np.arange(1, n + 1)
    return np.cos((2 * i - 1) * np.pi / (2 * n))


def jittered_grid(n: int, rng: np.random.Generator, size: tuple[int, ...] = ()) -> np.ndarray:
    """One uniform point in each of n bins of width 2/n on [−1, 1]; shape size + (n,)."""
    edges = -1 + 2 * np.arange(n) / n
    return edges + rng.uniform(0, 2 / n, size=size + (n,))


# ----------------------------------------------------------------------------------------- deep linear
def deep_linear_gd(X: np.ndarray, Y: np.ndarray, W1: np.ndarray, W2: np.ndarray, lr: float, steps: int,
                   log_t: np.ndarray, X_test: np.ndarray | None = None, Y_test: np.ndarray | None = None
                   ) -> dict:
    """GD on L = (1/2n)‖W2W1X − Y‖²_F (λ = 0: the iterations protocol of Fig. 8), batched over R problems.

    Shapes: X (R, d, n) columns are examples, Y (R, d', n); W1 (R, N, d), W2 (R, d', N). Returns the logged
    A_t = W2W1 (R, len(log_t), d', d), the train/test MSE (R, len(log_t)) and final W1, W2 (SI 6.2.2)."""
    X, Y, W1, W2 = (np.array(a, dtype=np.float64) for a in (X, Y, W1, W2))
    n = X.shape[2]
    logs = set(int(t) for t in log_t)
    A_log, tr, te = [], [], []
    for t in range(steps + 1):
        if t in logs:
            A = W2 @ W1
            A_log.append(A)
            tr.append(np.mean((A @ X - Y) ** 2, axis=(1, 2)))
            if X_test is not None:
                te.append(np.mean((A @ X_test - Y_test) ** 2, axis=(1, 2)))
        if t == steps:
            break
        E = (W2 @ W1 @ X - Y) / n                     # (R, d', n)
        EX = E @ X.transpose(0, 2, 1)                 # (R, d', d)
        g1 = W2.transpose(0, 2, 1) @ EX               # (R, N, d)
        g2 = EX @ W1.transpose(0, 2, 1)               # (R, d', N)
        W1 -= lr * g1
        W2 -= lr * g2
    return {"t": np.array(sorted(logs)), "A": np.stack(A_log, 1), "train": np.stack(tr, 1),
            "test": np.stack(te, 1) if te else None, "W1": W1, "W2": W2}


# ------------------------------------------------------------------------------------- logistic / margin
def svm_hard_margin(X: np.ndarray, y: np.ndarray, tol: float = 1e-6) -> tuple[np.ndarray, np.ndarray]:
    """The hard-margin SVM ŵ = argmin ‖w‖² s.t. y_i wᵀx_i ≥ 1 (no bias), by its dual QP.

    Dual: min ½αᵀQα − 1ᵀα, α ≥ 0, Q = (yyᵀ)∘(XXᵀ); solved with L-BFGS-B; ŵ = Σ α_i y_i x_i. Returns (ŵ (d,),
    α (n,)). Raises ValueError if the data are not separable to ``tol`` (min y_i ŵᵀx_i ≠ 1)."""
    X = _as2d(X)
    y = np.asarray(y, dtype=np.float64)
    Z = X * y[:, None]
    Q = Z @ Z.T
    n = X.shape[0]
    r = minimize(lambda a: (0.5 * a @ Q @ a - a.sum(), Q @ a - 1.0), np.zeros(n), jac=True, method="L-BFGS-B",
                 bounds=[(0, None)] * n, options={"ftol": 1e-16, "gtol": 1e-12, "maxiter": 20000, "maxcor": 50})
    alpha = r.x
    w = Z.T @ alpha
    # polish: solve exactly on the support set (equality constraints y_i wᵀx_i = 1)
    S = alpha > 1e-8 * max(alpha.max(), 1e-300)
    aS = np.linalg.lstsq(Q[np.ix_(S, S)], np.ones(S.sum()), rcond=None)[0]
    if np.all(aS > 0):
        alpha = np.zeros(n)
        alpha[S] = aS
        w = Z.T @ alpha
    if abs((Z @ w).min() - 1.0) > tol:
        raise ValueError(f"X, y not separable (or dual not converged): min margin {(Z @ w).min():.3g} != 1")
    return w, alpha


def normalised_margin(w: np.ndarray, X: np.ndarray, y: np.ndarray) -> np.ndarray:
    """ρ(w) = min_i y_i wᵀx_i/(‖w‖‖x_i‖) for w (d,) or (k, d): the largest ρ such that every δw with
    ‖δw‖ ≤ ρ‖w‖ keeps all training points correctly classified (Lemma 6, SI 6.3)."""
    X = _as2d(X)
    W = np.atleast_2d(np.asarray(w, dtype=np.float64))
    m = (y[None, :] * (W @ X.T)) / (np.linalg.norm(W, axis=1)[:, None] * np.linalg.norm(X, axis=1)[None, :])
    out = m.min(axis=1)
    return out if np.ndim(w) == 2 else out[0]


def flat_fraction(w: np.ndarray, X: np.ndarray, y: np.ndarray, alphas: np.ndarray, k: int,
                  rng: np.random.Generator) -> np.ndarray:
    """Fraction of k random δw, uniform on the sphere of radius α‖w‖, with zero training error; (len(alphas),)."""
    X = _as2d(X)
    w = np.asarray(w, dtype=np.float64)
    U = rng.standard_normal((k, w.size))
    U /= np.linalg.norm(U, axis=1, keepdims=True)
    out = []
    for a in np.asarray(alphas, dtype=np.float64):
        Wp = w[None, :] + a * np.linalg.norm(w) * U
        out.append(np.mean(np.all(y[None, :] * (Wp @ X.T) > 0, axis=1)))
    return np.array(out)


def logistic_gd(X: np.ndarray, y: np.ndarray, eta: float, T: int, W0: np.ndarray, log_t: np.ndarray) -> dict:
    """GD on L(w) = (1/n)Σ log(1 + exp(−y_i wᵀx_i)) from R inits W0 (R, d) at once (Soudry et al.; Sec. 3.2).

    Returns {"t", "W": (R, len(log_t), d), "loss": (R, len(log_t))}; log_t sorted step counts ≤ T."""
    X = _as2d(X)
    y = np.asarray(y, dtype=np.float64)
    Z = X * y[:, None]                       # (n, d)
    n = X.shape[0]
    W = np.array(W0, dtype=np.float64)
    logs = set(int(t) for t in log_t)
    Ws, Ls = [], []
    for t in range(T + 1):
        m = W @ Z.T                          # (R, n) margins
        if t in logs:
            Ws.append(W.copy())
            Ls.append(np.mean(np.logaddexp(0.0, -m), axis=1))
        if t == T:
            break
        sig = np.exp(-np.logaddexp(0.0, m))  # σ(−m)
        W += (eta / n) * sig @ Z
    return {"t": np.array(sorted(logs)), "W": np.stack(Ws, 1), "loss": np.stack(Ls, 1)}


def deep_linear_hessian_blocks(W1: np.ndarray, W2: np.ndarray, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Diagonal blocks of ∇²L for L = ½‖W2W1X − Y‖²_F (SI 6.2.2, L470), X (d, n), W1 (N, d), W2 (d', N).

    Row-major vec (index a·d + i for W1[a, i]): H_11 = (W2ᵀW2) ⊗ (XXᵀ)  (Nd × Nd); H_22 = I_{d'} ⊗ (W1XXᵀW1ᵀ)
    (d'N × d'N) — the corrected W2 block (the source prints I_{d'} ⊗ XXᵀW1XXᵀW1ᵀ, defined only when N = d)."""
    W1, W2, X = (np.asarray(a, dtype=np.float64) for a in (W1, W2, X))
    G = X @ X.T
    return np.kron(W2.T @ W2, G), np.kron(np.eye(W2.shape[0]), W1 @ G @ W1.T)


def homogeneous_power_rank(d: int, k: int, n_w: int, n_x: int, rng: np.random.Generator) -> int:
    """Numerical rank of M_ij = ⟨w_i, x_j⟩^k for random Gaussian w_i, x_j in ℝ^d (n_w × n_x); equals
    dim H_k = C(d − 1 + k, k) when n_w, n_x ≥ that (SI 6.4, Eq. 29–30, L793)."""
    if d < 1 or k < 0:
        raise ValueError(f"d must be >= 1 and k >= 0, got d={d}, k={k}")
    W = rng.standard_normal((n_w, d))
    Xs = rng.standard_normal((n_x, d))
    W /= np.linalg.norm(W, axis=1, keepdims=True)
    Xs /= np.linalg.norm(Xs, axis=1, keepdims=True)
    M = (W @ Xs.T) ** k
    s = np.linalg.svd(M, compute_uv=False)
    return int((s > 1e-9 * s[0]).sum())
