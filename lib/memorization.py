"""Memorization by corrective random features (Nagaraj & Bresler 2020, slides L191–L274) and its neighbours.

Everything a chapter on "how many ReLUs does it take to memorize n separated points" needs, batched over a
leading axis ``B`` (seeds × separations × ...) so that a sweep is one tensor program:

* data: :func:`uniform_sphere`, :func:`sphere_pairs` (the adversarial "pairs" data set: n/2 well separated
  centres, each split into two points at chord distance θ with opposite labels), :func:`min_sep`;
* the cosine-as-integral-of-ReLUs identity (slide eq. (2), L220–L224) with an explicit, exactly unbiased
  η: :func:`eta_coefficients`, :func:`cosine_relu_quadrature`;
* the corrective construction (L232–L274): :func:`corrective_stage` (one group of N0 ReLUs with uniform biases
  T ~ U[−2, 2] fitted to the current residual, plus the per-neuron variance V), :func:`corrective_memorize`
  (l rounds), :func:`gaussian_kernel` (its exact expectation, E ŷ = G r);
* the random-features regime (L163–L189): :func:`relu_features`, :func:`lstsq_residual`,
  :func:`gd_residual_norms` / :func:`gd_steps_to_eps` (exact gradient descent on the output weights through the
  eigendecomposition of K = ΦΦᵀ), :func:`gd_loop_residual` (the loop it replaces, for tests);
* the Fourier-lattice model of the corrective mechanism for representation (L288–L329):
  :func:`lattice_corrective` (Monte Carlo) and :func:`lattice_expected_error` (closed form);
* :func:`train_two_layer_min_width` — both layers trained by full-batch Adam, many widths and seeds in one
  masked tensor program (the minimal width that memorizes).

All tensors are float64 unless stated; shapes are given in each docstring.
"""
from __future__ import annotations

import math

import numpy as np
import torch

_F = torch.float64


def _gen(generator: torch.Generator | None) -> torch.Generator:
    if generator is None:
        raise ValueError("generator: a torch.Generator is required (use ch.generator(name))")
    return generator


# ----------------------------------------------------------------------------------------------------- data
def uniform_sphere(B: int, n: int, d: int, *, generator: torch.Generator) -> torch.Tensor:
    """``(B, n, d)`` points i.i.d. uniform on S^{d−1}."""
    if B < 1 or n < 1 or d < 2:
        raise ValueError(f"B={B}, n={n}, d={d}: accepted values are B >= 1, n >= 1, d >= 2")
    g = torch.randn(B, n, d, generator=_gen(generator), dtype=_F)
    return g / g.norm(dim=-1, keepdim=True)


def min_sep(X: torch.Tensor) -> torch.Tensor:
    """Minimum pairwise Euclidean (chord) distance min_{i≠j} ‖x_i − x_j‖: ``(B, n, d)`` → ``(B,)``."""
    if X.dim() != 3 or X.shape[1] < 2:
        raise ValueError(f"X must have shape (B, n >= 2, d), got {tuple(X.shape)}")
    D = torch.cdist(X, X)
    D = D + torch.diag(torch.full((X.shape[1],), float("inf"), dtype=X.dtype))
    return D.amin(dim=(1, 2))


def sphere_pairs(n: int, d: int, theta: float | torch.Tensor, *, B: int = 1, c_min: float = 1.0,
                 generator: torch.Generator, max_tries: int = 10_000) -> tuple[torch.Tensor, torch.Tensor]:
    """The "pairs" data set: ``X (B, n, d)`` on S^{d−1}, labels ``y (B, n)`` in {±1}.

    n/2 unit centres u with pairwise distance ≥ ``c_min`` (sequential rejection, batched over B); each is split
    into x± = cos(φ/2) u ± sin(φ/2) v with v ⊥ u a random unit vector and φ = 2 arcsin(θ/2), so ‖x₊ − x₋‖ = θ,
    labelled +1 / −1 (the hardest labels at separation θ). ``theta``: a float or a ``(B,)`` tensor (one
    separation per batch element). With θ ≤ c_min/2 the data set's minimum separation is exactly θ.
    """
    if n < 2 or n % 2:
        raise ValueError(f"n={n}: accepted values are even integers >= 2")
    if d < 2:
        raise ValueError(f"d={d}: accepted values are d >= 2")
    th = torch.as_tensor(theta, dtype=_F).expand(B).clone()
    if (th <= 0).any() or (th > 2).any():
        raise ValueError(f"theta={theta}: accepted values are 0 < theta <= 2")
    g = _gen(generator)
    m = n // 2
    U = torch.zeros(B, m, d, dtype=_F)
    for i in range(m):
        todo = torch.ones(B, dtype=torch.bool)
        for _ in range(max_tries):
            k = int(todo.sum())
            c = torch.randn(k, d, generator=g, dtype=_F)
            c = c / c.norm(dim=-1, keepdim=True)
            if i > 0:
                ok = (torch.cdist(c[:, None], U[todo, :i])[:, 0].amin(-1) >= c_min)
            else:
                ok = torch.ones(k, dtype=torch.bool)
            idx = torch.nonzero(todo).flatten()
            U[idx[ok], i] = c[ok]
            todo[idx[ok]] = False
            if not todo.any():
                break
        else:
            raise ValueError(f"could not place {m} centres at separation c_min={c_min} in d={d}")
    v = torch.randn(B, m, d, generator=g, dtype=_F)
    v = v - (v * U).sum(-1, keepdim=True) * U
    v = v / v.norm(dim=-1, keepdim=True)
    half = torch.arcsin(th / 2)[:, None, None]          # φ/2
    X = torch.stack([torch.cos(half) * U + torch.sin(half) * v, torch.cos(half) * U - torch.sin(half) * v], 2)
    y = torch.tensor([1.0, -1.0], dtype=_F).expand(B, m, 2)
    return X.reshape(B, n, d), y.reshape(B, n).clone()


def default_sigma(n: int, theta: float | torch.Tensor) -> torch.Tensor:
    """σ = √(2 ln n)/θ (slide L205: σ ~ √(log n)/θ; the constant makes (n−1)e^{−σ²θ²/2} = (n−1)/n < 1)."""
    if n < 2:
        raise ValueError(f"n={n}: accepted values are n >= 2")
    return math.sqrt(2 * math.log(n)) / torch.as_tensor(theta, dtype=_F)


def gaussian_kernel(X: torch.Tensor, sigma: float | torch.Tensor) -> torch.Tensor:
    """G_jk = exp(−σ²‖x_j − x_k‖²/2) = E_ξ cos⟨ξ, x_j − x_k⟩ for ξ ~ N(0, σ²I): ``(B, n, d)`` → ``(B, n, n)``.

    The exact expectation of one corrective stage: E ŷ = G r (slide eq. (1), L215–L218, made exact)."""
    s = torch.as_tensor(sigma, dtype=X.dtype).reshape(-1, 1, 1)
    return torch.exp(-s**2 * torch.cdist(X, X) ** 2 / 2)


# ------------------------------------------------------------------------------ cosine as integral of ReLUs
def eta_coefficients(T: torch.Tensor, Fr: torch.Tensor, Fi: torch.Tensor, omega: torch.Tensor) -> torch.Tensor:
    """η(T) such that h(t) = 4 E_{T~U[−2,2]}[η(T) ReLU(t − T)] exactly for |t| ≤ 1, where
    h(t) = Re(F e^{−iωt}) = Fr cos ωt + Fi sin ωt (slide eq. (2), L220–L224; η is not given there).

    η = h'' = −ω² h on [−1, 1); 4h(−1) − h'(−1) on [−2, −1.5); 3h'(−1) − 4h(−1) on [−1.5, −1); 0 on [1, 2]:
    the two boundary constants reproduce h(−1) and h'(−1), the rest is Taylor's formula with integral remainder.
    All arguments broadcast together; returns their broadcast shape.
    """
    h_m1 = Fr * torch.cos(omega) - Fi * torch.sin(omega)
    dh_m1 = omega * (Fr * torch.sin(omega) + Fi * torch.cos(omega))
    hT = Fr * torch.cos(omega * T) + Fi * torch.sin(omega * T)
    out = torch.where(T < -1.5, 4 * h_m1 - dh_m1, 3 * dh_m1 - 4 * h_m1)
    out = torch.where(T >= -1, -omega**2 * hT, out)
    return torch.where(T >= 1, torch.zeros_like(out), out)


def cosine_relu_quadrature(t: np.ndarray, omega: float, psi: float, n_nodes: int = 200) -> np.ndarray:
    """4 E_T[η(T) ReLU(t − T)] for h(t) = cos(ωt + ψ), by Gauss–Legendre quadrature on each of the pieces
    [−2, −1.5], [−1.5, −1], [−1, t] (the integrand is smooth on each): ``t (m,)`` in [−1, 1] → ``(m,)``.

    An oracle for :func:`eta_coefficients`: it must equal cos(ωt + ψ) to rounding."""
    t = np.asarray(t, dtype=float)
    if np.any(np.abs(t) > 1):
        raise ValueError("t: accepted values are |t| <= 1")
    x, w = np.polynomial.legendre.leggauss(n_nodes)
    # cos(ωt+ψ) = Re(F e^{−iωt}) with F = e^{−iψ}
    Fr, Fi = torch.tensor(math.cos(psi), dtype=_F), torch.tensor(-math.sin(psi), dtype=_F)
    om = torch.tensor(float(omega), dtype=_F)
    out = np.zeros_like(t)
    for a, b in [(-2.0, -1.5), (-1.5, -1.0)]:
        T = (b - a) / 2 * x + (a + b) / 2
        eta = eta_coefficients(torch.as_tensor(T), Fr, Fi, om).numpy()
        out += (b - a) / 2 * (w[None] * eta[None] * np.maximum(t[:, None] - T[None], 0)).sum(1)
    a = -1.0
    T = (t[:, None] - a) / 2 * x[None] + (t[:, None] + a) / 2
    eta = eta_coefficients(torch.as_tensor(T), Fr, Fi, om).numpy()
    out += (t - a) / 2 * (w[None] * eta * (t[:, None] - T)).sum(1)
    return out   # (4 · 1/4) · ∫ η(T)(t − T)_+ dT


# --------------------------------------------------------------------------------- the corrective construction
def _stage_terms(X: torch.Tensor, r: torch.Tensor, xi: torch.Tensor, T: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """Per-neuron quantities of one stage. X (B,n,d), r (B,n), xi (B,k,d), T (B,k) →
    c (B,k,n) = 4 η_k(T_k) ReLU(t_kj − T_k), omega (B,k), kappa4 (B,k) = 4 η_k(T_k)."""
    P = torch.einsum("bkd,bnd->bkn", xi, X)                          # ⟨ξ_k, x_j⟩
    omega = P.abs().amax(-1).clamp_min(1e-300)                         # ω_k = max_j |P_kj|
    Fr = torch.einsum("bkn,bn->bk", torch.cos(P), r)                   # F_k = Σ_j r_j e^{iP_kj}
    Fi = torch.einsum("bkn,bn->bk", torch.sin(P), r)
    kappa4 = 4 * eta_coefficients(T, Fr, Fi, omega)
    c = kappa4[..., None] * torch.relu(P / omega[..., None] - T[..., None])
    return c, omega, kappa4


def corrective_stage(X: torch.Tensor, r: torch.Tensor, N0: int, sigma: float | torch.Tensor, *,
                     generator: torch.Generator, chunk: int | None = None, return_net: bool = False
                     ) -> dict[str, torch.Tensor]:
    """One corrective group of N0 ReLUs fitted to the residual r (slide L232–L235, with explicit C, ω₀, η).

    Draw (ξ_k, T_k) ~ N(0, σ²I_d) × U[−2, 2], k ≤ N0; the unit k is ReLU(⟨ξ_k/ω_k, x⟩ − T_k) with output weight
    κ_k = 4η_k(T_k)/N0 (:func:`eta_coefficients` with F = F_k the residual's discrete Fourier transform at ξ_k,
    ω_k = max_j|⟨ξ_k, x_j⟩|). Then E ŷ = G r exactly (:func:`gaussian_kernel`).

    ``X (B, n, d)``, ``r (B, n)``, ``sigma`` float or ``(B,)``. Returns ``yhat (B, n)``, ``V (B,)`` =
    Σ_j Var_k(c_kj)/‖r‖² (the per-neuron variance, so E‖Gr − ŷ‖² = V‖r‖²/N0), ``omega4 (B,)`` = mean ω_k⁴, and
    with ``return_net`` the weights ``W (B, N0, d)``, biases ``T (B, N0)``, output weights ``kappa (B, N0)``.
    Chunked over k so that memory is O(B · chunk · n).
    """
    if X.dim() != 3 or r.shape != X.shape[:2]:
        raise ValueError(f"X must be (B, n, d) and r (B, n); got {tuple(X.shape)} and {tuple(r.shape)}")
    if N0 < 2:
        raise ValueError(f"N0={N0}: accepted values are N0 >= 2")
    g = _gen(generator)
    B, n, d = X.shape
    s = torch.as_tensor(sigma, dtype=_F).expand(B).reshape(B, 1, 1)
    chunk = chunk or max(1, min(N0, 65_536 // max(1, B * n)))
    S1 = torch.zeros(B, n, dtype=_F)
    S2 = torch.zeros(B, n, dtype=_F)
    om4 = torch.zeros(B, dtype=_F)
    Ws, Ts, Ks = [], [], []
    for k0 in range(0, N0, chunk):
        k = min(chunk, N0 - k0)
        xi = s * torch.randn(B, k, d, generator=g, dtype=_F)
        T = 4 * torch.rand(B, k, generator=g, dtype=_F) - 2
        c, omega, kappa4 = _stage_terms(X, r, xi, T)
        S1 += c.sum(1)
        S2 += (c**2).sum(1)
        om4 += (omega**4).sum(1)
        if return_net:
            Ws.append(xi / omega[..., None])
            Ts.append(T)
            Ks.append(kappa4 / N0)
    yhat = S1 / N0
    var = (S2 - N0 * yhat**2) / (N0 - 1)
    out = {"yhat": yhat, "V": var.sum(1) / (r**2).sum(1).clamp_min(1e-300), "omega4": om4 / N0}
    if return_net:
        out.update(W=torch.cat(Ws, 1), T=torch.cat(Ts, 1), kappa=torch.cat(Ks, 1))
    return out


def network_output(X: torch.Tensor, W: torch.Tensor, T: torch.Tensor, kappa: torch.Tensor) -> torch.Tensor:
    """f(x_j) = Σ_k κ_k ReLU(⟨w_k, x_j⟩ − T_k) (slide L163): X (B,n,d), W (B,N,d), T, κ (B,N) → (B,n)."""
    return torch.einsum("bk,bkn->bn", kappa, torch.relu(torch.einsum("bkd,bnd->bkn", W, X) - T[..., None]))


def corrective_memorize(X: torch.Tensor, y: torch.Tensor, N0: int, L: int, sigma: float | torch.Tensor, *,
                        generator: torch.Generator, chunk: int | None = None) -> dict[str, torch.Tensor]:
    """l = L corrective rounds (slide L245–L274): r ← y; for each round r ← r − ŷ(r) with fresh (ξ, T).

    ``X (B, n, d)``, ``y (B, n)``. Returns ``resid (B, L+1, n)`` (the residual history, resid[:, 0] = y),
    ``V (B, L)`` per-stage per-neuron variances and ``omega4 (B, L)``. The network has L·N0 units."""
    if L < 1:
        raise ValueError(f"L={L}: accepted values are L >= 1")
    r = y.clone().to(_F)
    hist, Vs, O4 = [r], [], []
    for _ in range(L):
        st = corrective_stage(X, r, N0, sigma, generator=generator, chunk=chunk)
        r = r - st["yhat"]
        hist.append(r)
        Vs.append(st["V"])
        O4.append(st["omega4"])
    return {"resid": torch.stack(hist, 1), "V": torch.stack(Vs, 1), "omega4": torch.stack(O4, 1)}


def corrective_memorize_from_draws(X: torch.Tensor, y: torch.Tensor, xi: torch.Tensor, T: torch.Tensor
                                   ) -> torch.Tensor:
    """:func:`corrective_memorize` on given draws: X (B,n,d), y (B,n), xi (B,L,N0,d), T (B,L,N0) → residual
    history (B, L+1, n). For checking the batched kernel against :func:`corrective_memorize_loop` draw by draw."""
    r = y.clone().to(_F)
    hist = [r]
    for s in range(xi.shape[1]):
        c, _, _ = _stage_terms(X, r, xi[:, s], T[:, s])
        r = r - c.mean(1)
        hist.append(r)
    return torch.stack(hist, 1)


def corrective_memorize_loop(X: np.ndarray, y: np.ndarray, N0: int, L: int, sigma: float,
                             rng: np.random.Generator | None = None, draws: tuple[np.ndarray, np.ndarray] | None = None
                             ) -> np.ndarray:
    """The straightforward implementation for one data set: a Python loop over neurons, numpy complex
    arithmetic. ``X (n, d)``, ``y (n,)`` → residual history ``(L+1, n)``. Draws (ξ, T) from ``rng`` neuron by
    neuron, or takes them from ``draws = (xi (L, N0, d), T (L, N0))``. Reference for tests and the bench."""
    if (rng is None) == (draws is None):
        raise ValueError("pass exactly one of rng= and draws=")
    r = np.asarray(y, float).copy()
    hist = [r.copy()]
    for s in range(L):
        yhat = np.zeros_like(r)
        for k in range(N0):
            if draws is None:
                xi = sigma * rng.standard_normal(X.shape[1])
                T = rng.uniform(-2, 2)
            else:
                xi, T = draws[0][s, k], draws[1][s, k]
            P = X @ xi
            om = np.abs(P).max()
            F = np.sum(r * np.exp(1j * P))
            hm1 = (F * np.exp(1j * om)).real
            dhm1 = om * (F * np.exp(1j * om)).imag
            if T < -1.5:
                eta = 4 * hm1 - dhm1
            elif T < -1:
                eta = 3 * dhm1 - 4 * hm1
            elif T < 1:
                eta = -om**2 * (F * np.exp(-1j * om * T)).real
            else:
                eta = 0.0
            yhat += 4 * eta * np.maximum(P / om - T, 0) / N0
        r = r - yhat
        hist.append(r.copy())
    return np.stack(hist)


# ---------------------------------------------------------------------------------------- random features
def relu_features(X: torch.Tensor, W: torch.Tensor, T: torch.Tensor) -> torch.Tensor:
    """Φ_jk = ReLU(⟨w_k, x_j⟩ − T_k): X (B,n,d), W (B,N,d), T (B,N) → (B, n, N)."""
    return torch.relu(torch.einsum("bnd,bkd->bnk", X, W) - T[:, None, :])


def construction_features(X: torch.Tensor, N: int, sigma: float | torch.Tensor, *,
                          generator: torch.Generator) -> torch.Tensor:
    """The construction's random features ReLU(⟨ξ_k, x⟩/ω_k − T_k), ξ ~ N(0, σ²I), T ~ U[−2, 2]:
    X (B, n, d) → Φ (B, n, N)."""
    B, n, d = X.shape
    s = torch.as_tensor(sigma, dtype=_F).expand(B).reshape(B, 1, 1)
    xi = s * torch.randn(B, N, d, generator=_gen(generator), dtype=_F)
    T = 4 * torch.rand(B, N, generator=generator, dtype=_F) - 2
    om = torch.einsum("bkd,bnd->bkn", xi, X).abs().amax(-1)
    return relu_features(X, xi / om[..., None], T)


def lstsq_residual(Phi: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """min_κ ‖Φκ − y‖² (batched, via SVD with the default rank cut): Φ (B,n,N), y (B,n) or (B,n,m) → (B,) or (B,m)."""
    yy = y[..., None] if y.dim() == 2 else y
    U, S, _ = torch.linalg.svd(Phi, full_matrices=False)
    tol = S.amax(-1, keepdim=True) * max(Phi.shape[-2:]) * torch.finfo(Phi.dtype).eps
    Uk = U * (S > tol)[:, None, :]
    res = yy - Uk @ (Uk.transpose(1, 2) @ yy)
    out = (res**2).sum(1)
    return out[..., 0] if y.dim() == 2 else out


def gd_residual_norms(K: torch.Tensor, y: torch.Tensor, ts: torch.Tensor | np.ndarray) -> torch.Tensor:
    """Exact ‖r_t‖₂ of gradient descent κ ← κ − η Φᵀ(Φκ − y) from κ = 0 with η = 1/λ_max(K), K = ΦΦᵀ.

    r_t = U diag((1 − λ_i/λ_max)^t) Uᵀ y (eigendecomposition of K). K (B,n,n), y (B,n), ts (m,) → (B, m)."""
    lam, U = torch.linalg.eigh(K)
    lam = lam.clamp_min(0)
    z2 = torch.einsum("bni,bn->bi", U, y) ** 2                      # (u_iᵀ y)²
    rho = (1 - lam / lam[:, -1:]).clamp(0, 1)                       # (B, n)
    t = torch.as_tensor(np.asarray(ts), dtype=_F)
    pw = rho[:, None, :] ** (2 * t[None, :, None])                  # (B, m, n)
    return torch.sqrt((pw * z2[:, None, :]).sum(-1))


def gd_steps_to_eps(K: torch.Tensor, y: torch.Tensor, eps: float, t_max: int = 10**9) -> torch.Tensor:
    """Smallest integer t with ‖r_t‖₂ ≤ eps for the GD of :func:`gd_residual_norms` (then max_j |r_t,j| ≤ eps);
    ``inf`` if not reached by ``t_max``. Bisection on the monotone exact path. K (B,n,n), y (B,n) → (B,)."""
    if eps <= 0:
        raise ValueError(f"eps={eps}: accepted values are eps > 0")
    lam, U = torch.linalg.eigh(K)
    lam = lam.clamp_min(0)
    rho = (1 - lam / lam[:, -1:].clamp_min(1e-300)).clamp(0, 1)
    z2 = torch.einsum("bni,bn->bi", U, y) ** 2

    def norm_at(t: torch.Tensor) -> torch.Tensor:
        return torch.sqrt((rho ** (2 * t[:, None]) * z2).sum(-1))

    B = K.shape[0]
    lo = torch.zeros(B, dtype=_F)                     # invariant: norm(lo) > eps (unless t = 0 works)
    hi = torch.full((B,), float(t_max), dtype=_F)     # invariant: norm(hi) <= eps (if reachable)
    reach = norm_at(hi) <= eps
    zero = norm_at(lo) <= eps
    while bool(((hi - lo) > 1).any()):
        mid = torch.floor((lo + hi) / 2)
        good = norm_at(mid) <= eps
        hi = torch.where(good, mid, hi)
        lo = torch.where(good, lo, mid)
    out = torch.where(zero, torch.zeros_like(hi), hi)
    return torch.where(reach, out, torch.full_like(hi, float("inf")))


def gd_loop_residual(Phi: torch.Tensor, y: torch.Tensor, steps: int) -> torch.Tensor:
    """Plain GD on ½‖Φκ − y‖² from κ = 0, step 1/λ_max(ΦΦᵀ), for ``steps`` iterations: Φ (n,N), y (n,) →
    residual norms (steps+1,). The oracle for :func:`gd_residual_norms`."""
    lr = 1 / torch.linalg.eigvalsh(Phi @ Phi.T)[-1]
    kappa = torch.zeros(Phi.shape[1], dtype=Phi.dtype)
    out = []
    for _ in range(steps + 1):
        r = Phi @ kappa - y
        out.append(r.norm())
        kappa = kappa - lr * Phi.T @ r
    return torch.stack(out)


# ------------------------------------------------------------------------------------ Fourier-lattice model
def lattice_expected_error(c: np.ndarray, q: np.ndarray, K: int | np.ndarray, a: int | np.ndarray, *,
                           log: bool = False) -> np.ndarray:
    """E‖f − f̂^{(1..a)}‖² = Σ_m |c_m|² ((1 − q_m)/(K q_m))^a for the lattice model (see
    :func:`lattice_corrective`); K and a broadcast. ``c (p,)``, ``q (p,)`` (a probability vector). Computed as a
    log-sum-exp (stable for large a); ``log=True`` returns the natural logarithm."""
    from scipy.special import logsumexp
    c, q = np.asarray(c), np.asarray(q, float)
    if c.shape != q.shape or np.any(q <= 0) or not np.isclose(q.sum(), 1):
        raise ValueError("q: accepted values are a positive probability vector of the shape of c")
    K = np.asarray(K, float)[..., None]
    a = np.asarray(a, float)[..., None]
    with np.errstate(divide="ignore"):
        terms = 2 * np.log(np.abs(c)) + a * (np.log1p(-q) - np.log(K * q))
    out = logsumexp(terms, axis=-1)
    return out if log else np.exp(out)


def lattice_corrective(c: np.ndarray, q: np.ndarray, K: int, a: int, trials: int,
                       rng: np.random.Generator) -> np.ndarray:
    """The corrective mechanism on a Fourier lattice (slides L288–L329 made exactly solvable).

    f = Σ_m c_m e_m (orthonormal e_m); stage s draws K frequencies m_1..m_K i.i.d. ~ q and estimates the current
    remainder c^{(s)} by ĉ_m = c^{(s)}_m · count_m/(K q_m) (unbiased: K cosine units); c^{(s+1)} = c^{(s)} − ĉ.
    Returns the squared error ‖c^{(s+1)}‖² after each stage, ``(trials, a)``; batched over trials."""
    c, q = np.asarray(c), np.asarray(q, float)
    if K < 1 or a < 1 or trials < 1:
        raise ValueError(f"K={K}, a={a}, trials={trials}: accepted values are integers >= 1")
    rem = np.broadcast_to(c, (trials, c.size)).astype(complex if np.iscomplexobj(c) else float)
    out = np.empty((trials, a))
    for s in range(a):
        counts = rng.multinomial(K, q, size=trials)
        rem = rem * (1 - counts / (K * q))
        out[:, s] = (np.abs(rem) ** 2).sum(-1)
    return out


# ------------------------------------------------------------------- full training: the minimal width
def train_two_layer_min_width(X: torch.Tensor, y: torch.Tensor, widths: list[int], seeds: int, *, steps: int = 2000,
                              lr: float = 3e-3, eps: float = 0.1, generator: torch.Generator) -> torch.Tensor:
    """Train f(x) = Σ_{i≤N} a_i ReLU(⟨w_i, x⟩ + b_i), both layers, full-batch Adam on the mean squared loss,
    for every width N in ``widths`` and ``seeds`` initialisations, as ONE masked model of width max(widths).

    Init: PyTorch's nn.Linear default (U(±1/√d) for w, b; U(±1/√N) for a). Adam with torch.optim.Adam's update
    and defaults (β = (0.9, 0.999), ε = 1e−8), written out. X (n, d), y (n,) → ``success
    (len(widths), seeds)`` booleans: max_j |f(x_j) − y_j| ≤ eps at some step ≤ ``steps``."""
    n, d = X.shape
    Wd = max(widths)
    M = len(widths) * seeds
    g = _gen(generator)
    mask = torch.zeros(M, Wd, dtype=torch.float32)
    for i, N in enumerate(widths):
        mask[i * seeds:(i + 1) * seeds, :N] = 1
    Ns = mask.sum(1, keepdim=True)
    W = ((torch.rand(M, Wd, d, generator=g, dtype=torch.float32) * 2 - 1) / math.sqrt(d)).requires_grad_()
    b = ((torch.rand(M, Wd, generator=g, dtype=torch.float32) * 2 - 1) / math.sqrt(d)).requires_grad_()
    a = ((torch.rand(M, Wd, generator=g, dtype=torch.float32) * 2 - 1) / Ns.sqrt()).requires_grad_()
    Xf, yf = X.float(), y.float()
    params = [W, b, a]
    m1 = [torch.zeros_like(p) for p in params]
    m2 = [torch.zeros_like(p) for p in params]
    b1, b2, eps_adam = 0.9, 0.999, 1e-8            # torch.optim.Adam defaults (written out: its first call is slow)
    done = torch.zeros(M, dtype=torch.bool)
    for step in range(1, steps + 1):
        H = torch.relu(torch.matmul(Xf, W.transpose(1, 2)) + b[:, None, :])      # (M, n, Wd)
        f = torch.bmm(H, (a * mask)[..., None])[..., 0]                          # (M, n)
        err = (f - yf).abs().amax(-1)
        done |= err.detach() <= eps
        if done.all():
            break
        loss = ((f - yf) ** 2).mean(-1).sum()
        grads = torch.autograd.grad(loss, params)
        with torch.no_grad():
            for p, gr, u, v in zip(params, grads, m1, m2):
                u.mul_(b1).add_(gr, alpha=1 - b1)
                v.mul_(b2).addcmul_(gr, gr, value=1 - b2)
                p.sub_(lr * (u / (1 - b1**step)) / ((v / (1 - b2**step)).sqrt() + eps_adam))
    return done.reshape(len(widths), seeds)


# --------------------------------------------------------------- polynomials: smoothed ReLUs and random features
def srelu_coefficients(k: int) -> tuple[np.ndarray, np.ndarray]:
    """Polynomial coefficients (increasing powers of u = t/h on [−1, 1]) of SReLU_k(t)/h = u·Λ₀(u) − Λ₁(u), where
    Λ₀ = ∫_{−1}^u λ, Λ₁ = ∫_{−1}^u sλ and λ(s) = c_k(1 − s²)^{2k} is a probability density on [−1, 1].
    Returns (coefficients of SReLU_k/h, coefficients of λ)."""
    if k < 0:
        raise ValueError(f"k={k}: accepted values are integers >= 0")
    P = np.polynomial.Polynomial
    lam = P([1.0, 0.0, -1.0]) ** (2 * k)
    lam = lam / (lam.integ(lbnd=-1)(1.0))
    L0 = lam.integ(lbnd=-1)
    L1 = (P([0.0, 1.0]) * lam).integ(lbnd=-1)
    return (P([0.0, 1.0]) * L0 - L1).coef, lam.coef


def srelu(t: torch.Tensor, k: int, h: float = 0.5) -> torch.Tensor:
    """SReLU_{k,h}(t) = E[ReLU(t − hS)], S ~ c_k(1 − s²)^{2k} on [−1, 1] (slides L281: equal to ReLU outside
    (−h, h) and 2k times continuously differentiable; k = 0 smooths ReLU by a uniform kink of width 2h)."""
    if h <= 0:
        raise ValueError(f"h={h}: accepted values are h > 0")
    coef, _ = srelu_coefficients(k)
    u = (t / h).clamp(-1, 1)
    val = torch.zeros_like(t)
    for cf in coef[::-1]:
        val = val * u + float(cf)
    return torch.where(t >= h, t, torch.where(t <= -h, torch.zeros_like(t), h * val))


def sparse_rf_features(X: torch.Tensor, N: int, q: int, k: int | None, *, generator: torch.Generator,
                       h: float = 0.5) -> torch.Tensor:
    """Random features act(⟨ω_i, x⟩/√q − T_i) with support-sparse ω_i (q random coordinates, N(0, 1) there, zero
    elsewhere) and T_i ~ U[−2, 2] (slides L372–L375); act = ReLU (k=None) or SReLU_k. X (n, d) → Φ (n, N)."""
    n, d = X.shape
    if not 1 <= q <= d:
        raise ValueError(f"q={q}: accepted values are 1 <= q <= d")
    g = _gen(generator)
    supp = torch.rand(N, d, generator=g).argsort(-1)[:, :q]                      # (N, q) random q-subsets
    W = torch.zeros(N, d, dtype=X.dtype)
    W.scatter_(1, supp, torch.randn(N, q, generator=g, dtype=X.dtype))
    T = 4 * torch.rand(N, generator=g, dtype=X.dtype) - 2
    Z = X @ W.T / math.sqrt(q) - T
    return torch.relu(Z) if k is None else srelu(Z, k, h)


def ridge_test_error(Phi: torch.Tensor, y: torch.Tensor, Phi_test: torch.Tensor, y_test: torch.Tensor,
                     rel_lambda: float = 1e-8) -> float:
    """Relative test MSE of ridge least squares (λ = rel_lambda·tr(ΦᵀΦ)/N, Cholesky in float64) — the limit that
    GD on the output weights converges to (up to the vanishing ridge). Φ (n, N), y (n,)."""
    A = Phi.T @ Phi
    A = A + rel_lambda * A.diagonal().sum() / A.shape[0] * torch.eye(A.shape[0], dtype=A.dtype)
    b = torch.cholesky_solve((Phi.T @ y)[:, None], torch.linalg.cholesky(A))[:, 0]
    return float(((Phi_test @ b - y_test) ** 2).mean() / y_test.var(correction=0))
