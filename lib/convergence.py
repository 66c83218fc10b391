"""The convergence theorems of Mukherjee (2020), Ch. 5 (Thms 5.3.1, 5.3.3, 5.4.1–5.4.3), on test functions
whose every constant is known, with the per-step inequalities of the proofs evaluated at every step.

Test functions (separable, non-convex, f_* = 0 at x = 0), x: (R, d) for R independent runs:

* ``"log"``:  f(x) = Σ_i c_i log(1 + x_i²);  ∂_i f = 2c_i x_i/(1+x_i²), |∂_i f| ≤ c_i;  f'' ∈ [−c/4, 2c],
  so L = 2 max c_i and ‖∇f‖ ≤ ‖c‖.
* ``"rational"``:  f(x) = Σ_i c_i x_i²/(1 + x_i²) ∈ [0, Σc);  ∂_i f = 2c_i x_i/(1+x_i²)², |∂_i f| ≤ (3√3/8) c_i;
  f'' = c(2 − 6x²)/(1+x²)³ ∈ [−c/2, 2c], so L = 2 max c_i; bounded (B_ℓ = 0, B_u = Σc) as Thm 5.4.2 needs.

Each runner returns numpy arrays over steps × runs so that a chapter can check the proofs' inequalities
at every step, and the functions ``T_*`` give the theorems' iteration bounds.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = ["TestFunction", "rmsprop_thm541", "T_thm541", "adam_thm543", "T_thm543", "rmsprop_finite_sum",
           "alpha_thm533", "T_thm533", "rmsprop_noshift", "bound_thm542", "sum_inv_sqrt",
           "thesis_sum_inv_sqrt_bound", "interpolating_oracle", "def19_threshold"]


@dataclass(frozen=True)
class TestFunction:
    """f(x) = Σ_i c_i φ(x_i) with φ = log(1+x²) (``kind="log"``) or x²/(1+x²) (``kind="rational"``).

    ``c``: (d,) positive weights. Constants: ``L`` (smoothness), ``sigma_coord`` (bound on |∂_i f|),
    ``sigma`` (bound on ‖∇f‖), ``f_star`` = 0."""

    c: np.ndarray
    kind: str = "log"

    def __post_init__(self) -> None:
        if self.kind not in ("log", "rational"):
            raise ValueError(f"kind={self.kind!r}: accepted values are 'log', 'rational'")
        c = np.asarray(self.c, dtype=float)
        if c.ndim != 1 or c.size == 0 or np.any(c <= 0):
            raise ValueError("c: accepted values are a non-empty 1-D array of positive weights")
        object.__setattr__(self, "c", c)

    @property
    def d(self) -> int:
        return int(self.c.size)

    @property
    def L(self) -> float:
        return float(2 * self.c.max())

    @property
    def _gmax(self) -> float:
        return 1.0 if self.kind == "log" else 3 * math.sqrt(3) / 8

    @property
    def sigma_coord(self) -> float:
        return float(self._gmax * self.c.max())

    @property
    def sigma(self) -> float:
        return float(self._gmax * np.linalg.norm(self.c))

    f_star = 0.0

    @property
    def B_u(self) -> float:
        if self.kind != "rational":
            raise ValueError("B_u: only the 'rational' function is bounded above")
        return float(self.c.sum())

    def value(self, x: np.ndarray) -> np.ndarray:
        """f(x) for x (..., d) → (...)."""
        phi = np.log1p(x * x) if self.kind == "log" else x * x / (1 + x * x)
        return (phi * self.c).sum(-1)

    def grad(self, x: np.ndarray) -> np.ndarray:
        """∇f(x), same shape as x (..., d)."""
        den = 1 + x * x
        return self.c * 2 * x / (den if self.kind == "log" else den * den)


def _norm(g: np.ndarray) -> np.ndarray:
    return np.sqrt((g * g).sum(-1))


# ------------------------------------------------------------------------------------------ Thm 5.4.1
def rmsprop_thm541(f: TestFunction, x1: np.ndarray, *, beta2: float, xi: float, steps: int) -> dict:
    """Deterministic Alg 6 with the constant step α = (1−β₂)ξ/(L√(σ²+ξ)) of Thm 5.4.1 (L2650).

    x1: (R, d). Returns ``alpha``, ``delta2`` = 1/(2√(σ²+ξ)), ``f`` (steps+1, R), ``gnorm`` (steps+1, R) and
    ``slack`` (steps, R) = f(x_{t+1}) − f(x_t) + δ²α‖∇f(x_t)‖², which the proof (5.B, before eq. 5.33) says
    is ≤ 0 at every step."""
    s2 = f.sigma**2
    alpha = (1 - beta2) * xi / (f.L * math.sqrt(s2 + xi))
    delta2 = 1 / (2 * math.sqrt(s2 + xi))
    x = np.array(x1, dtype=float)
    v = np.zeros_like(x)
    F, G, S = [f.value(x)], [_norm(f.grad(x))], []
    for _ in range(steps):
        g = f.grad(x)
        v = beta2 * v + (1 - beta2) * (g * g + xi)
        x = x - alpha * g / np.sqrt(v)
        F.append(f.value(x))
        G.append(_norm(f.grad(x)))
        S.append(F[-1] - F[-2] + delta2 * alpha * G[-2] ** 2)
    return dict(alpha=alpha, delta2=delta2, f=np.array(F), gnorm=np.array(G), slack=np.array(S))


def T_thm541(f: TestFunction, gap: float, *, beta2: float, xi: float, eps: float) -> float:
    """Thm 5.4.1's T = 2L(σ²+ξ)(f(x_1) − f_*)/((1−β₂)ξε²) (L2650)."""
    return 2 * f.L * (f.sigma**2 + xi) * gap / ((1 - beta2) * xi * eps**2)


# ------------------------------------------------------------------------------------------ Thm 5.4.3
def adam_thm543(f: TestFunction, x1: np.ndarray, *, eps: float, beta2: float, steps: int) -> dict:
    """Deterministic Alg 7 with the choices of Thm 5.4.3 (L2668): β₁ = ε/(ε+2σ), ζ = 2σ and
    α_t = ‖g_t‖²/(L(1−β₁^t)²) · 4ε/(3(ε+2σ)²) (no √(1−β₂^t) factor).

    Returns ``beta1``, ``zeta``, ``f``/``gnorm`` (steps+1, R), and ``slack`` (steps, R) =
    f(x_{t+1}) − f(x_t) + C_t‖g_t‖⁴ with C_t = (β₁−β₁²)²θ₁²θ₂²/(2L(ζ+σ)²(1−β₁^t)²σ²), θ₁ = 1, θ₂ = σ
    (eq. 5.21), which the proof says is ≤ 0 for every t ≥ 2 with ‖g_t‖ > ε (column t−1 is step t)."""
    sig, L = f.sigma, f.L
    b1 = eps / (eps + 2 * sig)
    zeta = 2 * sig
    x = np.array(x1, dtype=float)
    m, v = np.zeros_like(x), np.zeros_like(x)
    F, G, S = [f.value(x)], [_norm(f.grad(x))], []
    for t in range(1, steps + 1):
        g = f.grad(x)
        gn2 = (g * g).sum(-1, keepdims=True)
        m = b1 * m + (1 - b1) * g
        v = beta2 * v + (1 - beta2) * g * g
        a_t = gn2 / (L * (1 - b1**t) ** 2) * 4 * eps / (3 * (eps + 2 * sig) ** 2)
        x = x - a_t * m / (np.sqrt(v) + zeta)
        C = (b1 - b1**2) ** 2 * sig**2 / (2 * L * (zeta + sig) ** 2 * (1 - b1**t) ** 2 * sig**2)
        F.append(f.value(x))
        G.append(_norm(f.grad(x)))
        S.append(F[-1] - F[-2] + C * G[-2] ** 4)
    return dict(beta1=b1, zeta=zeta, f=np.array(F), gnorm=np.array(G), slack=np.array(S))


def T_thm543(L: float, sigma: float, eps: float, gap: float, *, version: str) -> float:
    """Thm 5.4.3's iteration bound, ``gap`` = f(x_2) − f_*.

    ``"thesis"``: the statement's 9Lσ²/ε⁶·gap (L2668). ``"intermediate"``: the proof's own middle expression
    18L/(8ε⁶(1/(ε+2σ))²)·gap = 9L(ε+2σ)²/(4ε⁶)·gap (L2963). ``"rederived"``: what eq. 5.21 summed over
    t = 2..T gives with θ₁ = 1, θ₂ = σ, ζ = 2σ: T = 1 + 2L(ζ+σ)²σ²·gap/(ε⁴(β₁−β₁²)²θ₂²) =
    1 + 9L(ε+2σ)⁴/(2ε⁶)·gap."""
    if version == "thesis":
        return 9 * L * sigma**2 / eps**6 * gap
    if version == "intermediate":
        return 9 * L * (eps + 2 * sigma) ** 2 / (4 * eps**6) * gap
    if version == "rederived":
        return 1 + 9 * L * (eps + 2 * sigma) ** 4 / (2 * eps**6) * gap
    raise ValueError(f"version={version!r}: accepted values are 'thesis', 'intermediate', 'rederived'")


# ------------------------------------------------------------------------------------------ Thm 5.3.3
def alpha_thm533(L: float, sigma_f: float, gap: float, *, beta2: float, xi: float, T: int) -> float:
    """Thm 5.3.3's step α = (1/√T)√(2ξ(1−β₂)(f(x_1)−f_*)/(σ_f² L)) (L2634)."""
    return math.sqrt(2 * xi * (1 - beta2) * gap / (sigma_f**2 * L)) / math.sqrt(T)


def T_thm533(L: float, sigma_f: float, gap: float, *, beta2: float, xi: float, eps: float) -> float:
    """Thm 5.3.3's T = (1/ε⁴)·2Lσ_f²(σ_f²+ξ)(f(x_1)−f_*)/((1−β₂)ξ) (L2634)."""
    return 2 * L * sigma_f**2 * (sigma_f**2 + xi) * gap / ((1 - beta2) * xi * eps**4)


def rmsprop_finite_sum(C: np.ndarray, x1: np.ndarray, *, R: int, beta2: float, xi: float, alpha: float,
                       steps: int, rng: np.random.Generator) -> dict:
    """Stochastic Alg 6 on f = (1/k)Σ_p f_p, f_p(x) = Σ_i C[p,i] log(1+x_i²) (all ∇f_p share sign(x), the
    hypothesis of Thm 5.3.3), oracle g_t = ∇f_{i_t}(x_t), i_t uniform; R independent runs from the same x1 (d,).

    Returns ``gn2`` (steps+1, R) = ‖∇f(x_t)‖², and ``lemma_slack`` (steps, R) = E[⟨∇f, V_t^{−1/2}g_t⟩ | H_t] −
    μ_min‖∇f(x_t)‖² with μ_min = 1/√(σ_f²+ξ), the expectation computed exactly over the k oracle answers
    (Lemma 5.A.1, L3066, says it is ≥ 0)."""
    C = np.asarray(C, dtype=float)
    k, d = C.shape
    c_mean = C.mean(0)
    sigma_f = float(np.linalg.norm(C, axis=1).max())
    mu_min = 1 / math.sqrt(sigma_f**2 + xi)
    x = np.tile(np.asarray(x1, float), (R, 1))
    v = np.zeros_like(x)
    GN2, LS = [], []
    for _ in range(steps):
        phi = 2 * x / (1 + x * x)                               # (R, d)
        gfull = c_mean * phi
        GN2.append((gfull * gfull).sum(-1))
        ga = C[None, :, :] * phi[:, None, :]                    # (R, k, d): every oracle answer
        va = beta2 * v[:, None, :] + (1 - beta2) * (ga * ga + xi)
        expect = (gfull[:, None, :] * ga / np.sqrt(va)).sum(-1).mean(1)
        LS.append(expect - mu_min * GN2[-1])
        pick = rng.integers(0, k, size=R)
        g = ga[np.arange(R), pick]
        v = va[np.arange(R), pick]
        x = x - alpha * g / np.sqrt(v)
    phi = 2 * x / (1 + x * x)
    GN2.append(((c_mean * phi) ** 2).sum(-1))
    return dict(gn2=np.array(GN2), lemma_slack=np.array(LS), sigma_f=sigma_f, mu_min=mu_min)


# ------------------------------------------------------------------------------------------ Thm 5.4.2
def rmsprop_noshift(f: TestFunction, x1: np.ndarray, *, beta2: float, alpha: float, steps: int) -> dict:
    """Deterministic Alg 6 with ξ = 0 and α_t = α/√t (Thm 5.4.2, L2662), Penrose inverse root (Def 17).

    Returns ``gn2`` (steps+1, R) = ‖∇f(x_t)‖², ``f`` (steps+1, R), ``P1`` (R,) = α‖V_1^{−1/2}g_1‖²."""
    x = np.array(x1, dtype=float)
    v = np.zeros_like(x)
    GN2, F, P1 = [], [f.value(x)], None
    for t in range(1, steps + 1):
        g = f.grad(x)
        GN2.append((g * g).sum(-1))
        v = beta2 * v + (1 - beta2) * g * g
        pos = v > 0
        r = np.where(pos, 1 / np.sqrt(np.where(pos, v, 1.0)), 0.0)
        if t == 1:
            P1 = alpha * ((r * g) ** 2).sum(-1)
        x = x - alpha / math.sqrt(t) * r * g
        F.append(f.value(x))
    g = f.grad(x)
    GN2.append((g * g).sum(-1))
    return dict(gn2=np.array(GN2), f=np.array(F), P1=P1)


def sum_inv_sqrt(T: np.ndarray | int) -> np.ndarray:
    """Σ_{t=2}^T t^{−1/2}, exactly (cumulative sum), for integer T ≥ 2 (array or scalar)."""
    T = np.atleast_1d(np.asarray(T, dtype=np.int64))
    cs = np.concatenate([[0.0, 0.0], np.cumsum(1 / np.sqrt(np.arange(2, T.max() + 1)))])
    return cs[T]


def thesis_sum_inv_sqrt_bound(T: np.ndarray | int) -> np.ndarray:
    """The bound Σ_{t=2}^T t^{−1/2} ≤ (√T − 2)/2 that the proof of Thm 5.4.2 uses (5.C, L3213)."""
    return (np.sqrt(np.asarray(T, dtype=float)) - 2) / 2


def bound_thm542(T: np.ndarray, *, sigma: float, alpha: float, L: float, d: int, beta2: float, B_l: float,
                 B_u: float, version: str = "corrected", P1: float | None = None) -> np.ndarray:
    """Upper bound on min_{t≤T}‖∇f(x_t)‖² from the proof of Thm 5.4.2 (5.C), as a function of T (array).

    ``"corrected"``: (σ/T)[√T(B_u − B_ℓ)/α + (L/2)(dα/(1−β₂))(2√T − 1)], using Σ_{t=1}^T t^{−1/2} ≤ 2√T − 1
    and the summation by parts of the first term. ``"thesis"``: the printed final bound (L3219),
    (σ/T)[B_u/α − B_ℓ√(T+1)/α + B_u(√(T+1)−1)/α + (L/2)(P(1) + dα(√T−2)/(2(1−β₂)))]."""
    T = np.asarray(T, dtype=float)
    if version == "corrected":
        return sigma / T * (np.sqrt(T) * (B_u - B_l) / alpha + 0.5 * L * d * alpha / (1 - beta2) * (2 * np.sqrt(T) - 1))
    if version == "thesis":
        if P1 is None:
            raise ValueError("P1: needed for version='thesis'")
        first = B_u / alpha - B_l * np.sqrt(T + 1) / alpha + B_u * (np.sqrt(T + 1) - 1) / alpha
        return sigma / T * (first + 0.5 * L * (P1 + d * alpha * (np.sqrt(T) - 2) / (2 * (1 - beta2))))
    raise ValueError(f"version={version!r}: accepted values are 'corrected', 'thesis'")


# ------------------------------------------------------------------------------------ Def 19 / Thm 5.3.1
def def19_threshold(d: int, zeta_bar: float, c: float) -> float:
    """√(dζ̄)/(√c − 1): by Jensen (E‖g‖ ≥ ‖∇f‖ for an unbiased oracle), Def 19 can hold at x only if
    ∇f(x) = 0 or ‖∇f(x)‖ ≥ this value (needs c > 1; for c ≤ 1 only at ∇f = 0: returns inf)."""
    return math.inf if c <= 1 else math.sqrt(d * zeta_bar) / (math.sqrt(c) - 1)


def interpolating_oracle(A: np.ndarray, b: np.ndarray, x1: np.ndarray, *, beta2: float, xi: float, alpha: float,
                         steps: int, batch: int, rng: np.random.Generator, zeta_bar: float,
                         cs: tuple[float, ...]) -> dict:
    """Mini-batch Alg 6 on least squares f(x) = (1/k)Σ_p ½(a_pᵀx − b_p)² (A: (k, d), b: (k,)), oracle = the
    gradient of a uniformly drawn batch of ``batch`` rows without replacement; one run from x1 (d,).

    At every step the two sides of Def 19 (L2591) are computed, the left exactly by enumerating all batches when
    ``batch == 1`` (otherwise by 256 oracle draws): lhs = E[(‖g_t‖ + √(dζ̄)/2)²], rhs_c = (√c‖∇f‖ − √(dζ̄)/2)²
    for each c in ``cs``. Returns ``gnorm`` (steps,), ``lhs`` (steps,), ``rhs`` (len(cs), steps), ``f``."""
    k, d = A.shape
    x = np.asarray(x1, float).copy()
    v = np.zeros(d)
    a = math.sqrt(d * zeta_bar) / 2
    GN, LHS, RHS, F = [], [], [], []
    for _ in range(steps):
        res = A @ x - b
        gfull = A.T @ res / k
        if batch == 1:
            gn_all = np.abs(res) * np.linalg.norm(A, axis=1)   # ‖∇f_p‖ = |r_p|‖a_p‖
        else:
            idx = np.stack([rng.choice(k, batch, replace=False) for _ in range(256)])
            gs = np.einsum("sbd,sb->sd", A[idx], res[idx]) / batch
            gn_all = np.linalg.norm(gs, axis=1)
        GN.append(np.linalg.norm(gfull))
        LHS.append(((gn_all + a) ** 2).mean())
        RHS.append([(math.sqrt(c) * GN[-1] - a) ** 2 for c in cs])
        F.append(0.5 * (res**2).mean())
        sel = rng.choice(k, batch, replace=False)
        g = A[sel].T @ res[sel] / batch
        v = beta2 * v + (1 - beta2) * (g * g + xi)
        x = x - alpha * g / np.sqrt(v)
    return dict(gnorm=np.array(GN), lhs=np.array(LHS), rhs=np.array(RHS).T, f=np.array(F), a=a)
