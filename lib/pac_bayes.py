"""PAC-Bayesian margin bounds for bias-free ReLU nets: the NBS bound and the cluster-prior bound "OUR".

Implements Mukherjee (2020), Chapter 6 (L3301–4000):

- :func:`nbs_bound` — Theorem 6.1.3 (eqs. 6.2–6.3, L3383–3395), the thesis's re-derivation of the
  spectrally-normalised margin bound of Neyshabur et al. (2017), with its beta-grid (Appendix 6.D, L3944–3975);
- :func:`our_bound` — Theorem 6.3.1 (eq. 6.4, L3457–3463) with Definition 26's two-indexed prior grid (L3432–3444)
  and the KL upper bound of eq. 6.30 / Theorem 6.A.1 (L3660, L3756);
- the pieces the bounds rest on, as functions a Monte Carlo can test: the Gaussian matrix tail bound (eqs. 6.7,
  6.44–6.46, L3576, L3902), the perturbation bound (Theorem 6.D.2, eq. 6.43, L3892), the mixture noise-resilience
  sigma (Theorem 6.2.1, L3407, and Lemma 6.6.1, eq. 6.5), the margin transfer (eqs. 6.37–6.38, L3824), the
  Gaussian-mixture KL bound (Theorem 6.A.1, L3756) and the beta-grid covering (footnotes 4 and 6, eq. 6.25);
- the synthetic two-cluster data of §6.4.2 (L3508) and the whole cluster experiment of §6.4 (:func:`run_cluster`).

Gaps of the thesis and how they are resolved here (each also stated where it is used):

- C1 (CIFAR width): the text says hidden widths "between 100 and 200" (L3489), the Fig 6.4.1 caption 100 and 400
  (L3502). The chapter runs 100 and 400, as in the figure.
- C2 (missing CIFAR details): training-set size, B, input scaling, ADAM step and stopping rule are unstated.
  Resolution: B = max_x ||x||_2 over the training set (the smallest valid B), inputs in [0, 1], ADAM lr 1e-3
  (Keras' default), a fixed number of epochs (see the chapter).
- C3 (d_min): Theorem 6.3.1 defines d_{i,*} as a minimum of *squared* distances (L3457) but the proof compares
  d_min with distances (d_min^2 <= min ||A_i - B_j||^2, L3712). Resolution: d_min is a distance and the
  condition is min_j ||A_i - B_j|| >= d_min; d_min = ``d_min_rel`` * ||B|| is fixed from the initial net alone
  (before any training) so that the union bound over the prior grid stays valid.
- C4 (circular delta): delta = conf / K with K = 314 K1 and K1 depending on delta through log(2dh/delta).
  Resolution: :func:`our_delta` iterates delta <- conf / (314 K1(delta)) until K1 is stable and returns a delta
  with 314 K1(delta) delta <= conf.
- C5 (which h in the Tropp bound): the thesis uses the hidden width h in 2h log(2dh/delta) and sqrt(2h log(4dh)),
  and its proof assumes every layer is h x h (footnote 3, L3586). Resolution: ``h`` is an argument; the chapter
  passes the hidden width (fidelity) and shows with :func:`spectral_norm_samples` that for a first layer h x n with
  n >> h the tail bound fails; :func:`effective_h` gives the rigorous max(width, input dim).
- C6 (sigma-tilde): the statement of Theorem 6.3.1 has gamma in the second branch of sigma-tilde (L3463) but its
  proof (eq. 6.26, L3664) uses gamma/8. Resolution: ``sigma_form="statement"`` (default, what the experiments
  presumably used) or ``"proof"``.
- C9 (beta outside the grid): when beta lies outside the grid's interval the theorem holds trivially; the
  functions then use beta-tilde = beta and set ``in_grid = False`` (the thesis plots raw, vacuous values).
"""
from __future__ import annotations

import dataclasses
import math

import numpy as np
import torch

from lib import mlp_geometry as mg

N_ANGLES = 314  # Lambda = {1, ..., 314}, angles 0.01 lambda (Definition 26, L3436)


# ---------------------------------------------------------------------------------------------- data
def _truncnorm(lo: float, hi: float, size: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
    """Standard normal restricted to [lo, hi], by the inverse CDF (on the side of 0 where it is accurate)."""
    from scipy.special import ndtr, ndtri
    if lo >= 0:  # upper tail: use the mirror image for precision
        return -_truncnorm(-hi, -lo, size, rng)
    u = rng.uniform(ndtr(lo), ndtr(hi), size=size)
    return ndtri(u)


def two_clusters(m: int, n: int, a: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """The synthetic data of §6.4.2 (L3508): label c ~ Bernoulli(1/2) (unstated; resolution), x ~ N(centre_c, I_n)
    with centres 1 = (1, ..., 1) and a 1, *rejected* when min(||x - 1||_inf, ||x - a 1||_inf) > 1.

    Sampled exactly without the ~2,000 rejected draws per point (acceptance 0.6827^n at n = 20): the accepted set is
    the own box [c-1, c+1]^n or, failing that, the other box; given c we pick the own box with probability
    P(own) / (P(own) + P(other minus own)) and draw per-coordinate truncated normals, redrawing a point of the other
    box that also lies in the own box (the overlap exists only for |a - 1| < 2). Returns X (m, n) float32, y (m,).
    """
    from scipy.special import ndtr
    if m < 1 or n < 1:
        raise ValueError(f"m={m}, n={n}: accepted values are integers >= 1")
    y = rng.integers(0, 2, size=m)
    X = np.empty((m, n))
    gap = abs(a - 1.0)
    q = ndtr(1.0) - ndtr(-1.0)  # P(|Z| <= 1)
    r = ndtr(gap + 1) - ndtr(gap - 1)  # P(Z in the other box's interval)
    s = max(0.0, ndtr(1.0) - ndtr(gap - 1)) if gap < 2 else 0.0  # P(in both)
    p_own = n * math.log(q)
    p_oo = n * math.log(r) + math.log1p(-min((s / r) ** n, 1.0)) if r > 0 and (s / r) < 1 else -np.inf
    w_other = 1.0 / (1.0 + math.exp(p_own - p_oo)) if np.isfinite(p_oo) else 0.0
    other = rng.random(m) < w_other
    for c in (0, 1):
        own_c, oth_c = (1.0, a) if c == 0 else (a, 1.0)
        i_own = np.flatnonzero((y == c) & ~other)
        X[i_own] = own_c + _truncnorm(-1.0, 1.0, (len(i_own), n), rng)
        todo = np.flatnonzero((y == c) & other)
        sh = oth_c - own_c
        while len(todo):
            x = _truncnorm(sh - 1, sh + 1, (len(todo), n), rng)  # relative to the own centre
            ok = np.abs(x).max(1) > 1.0  # not in the own box
            X[todo[ok]] = own_c + x[ok]
            todo = todo[~ok]
    return X.astype(np.float32), y.astype(np.int64)


def two_clusters_rejection(m: int, n: int, a: float, rng: np.random.Generator, chunk: int = 100_000
                           ) -> tuple[np.ndarray, np.ndarray]:
    """The literal rejection sampler of §6.4.2 (slow at n = 20; the test oracle of :func:`two_clusters`)."""
    xs, ys, have = [], [], 0
    while have < m:
        c = rng.integers(0, 2, size=chunk)
        x = np.where(c == 1, a, 1.0)[:, None] + rng.standard_normal((chunk, n))
        keep = np.minimum(np.abs(x - 1.0).max(1), np.abs(x - a).max(1)) <= 1.0
        xs.append(x[keep])
        ys.append(c[keep])
        have += int(keep.sum())
    return np.concatenate(xs)[:m].astype(np.float32), np.concatenate(ys)[:m].astype(np.int64)


# ---------------------------------------------------------------------------------------------- margin loss
def margin_loss(logits: torch.Tensor, y: torch.Tensor, gamma: torch.Tensor | float) -> torch.Tensor:
    """Empirical gamma-margin risk (Definition 22, L3361): mean_x 1[f(x)[y] <= gamma + max_{i != y} f(x)[i]].

    ``logits``: (..., m, k); ``y``: (m,); ``gamma``: scalar or (...,) -> (...,).
    """
    fy = logits.gather(-1, y.expand(logits.shape[:-1]).unsqueeze(-1)).squeeze(-1)
    other = logits.scatter(-1, y.expand(logits.shape[:-1]).unsqueeze(-1), float("-inf")).amax(-1)
    g = torch.as_tensor(gamma, dtype=logits.dtype, device=logits.device)
    if g.ndim:
        g = g[..., None]
    return (fy <= g + other).float().mean(-1)


# ---------------------------------------------------------------------------------------------- beta grids
def beta_grid_nearest(beta: np.ndarray, lo: np.ndarray, hi: np.ndarray, K: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Nearest point of linspace(lo, hi, K) to beta, and whether beta lies in [lo, hi] (else beta-tilde = beta, C9)."""
    beta, lo, hi, K = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (beta, lo, hi, K)))
    inside = (beta >= lo) & (beta <= hi) & (hi > lo)
    step = np.where(K > 1, (hi - lo) / np.maximum(K - 1, 1), 1.0)
    idx = np.clip(np.round((beta - lo) / np.where(step > 0, step, 1.0)), 0, K - 1)
    return np.where(inside, lo + idx * step, beta), inside


def grid_size(lo: float, hi: float, d: int) -> int:
    """Points of a uniform grid on [lo, hi] such that every x has a point g with |x - g| <= x / d:
    ceil(hi d / (2 lo)), at least 2 (footnotes 4 and 6, L3742, L3984)."""
    return max(2, math.ceil(d * hi / (2 * lo)))


# ---------------------------------------------------------------------------------------------- NBS
@dataclasses.dataclass(frozen=True)
class BoundResult:
    """One bound evaluation; arrays are per trial (NBS) or per cluster net i (OUR, before taking the minimum)."""

    value: np.ndarray  # the bound: loss_half + sqrt((KL + log(3m/delta)) / (m - 1))
    kl: np.ndarray  # the KL term (NBS: sum ||W_l||_F^2 / (2 sigma^2); OUR: eq. 6.30)
    sigma: np.ndarray  # the posterior/prior standard deviation
    beta_tilde: np.ndarray
    in_grid: np.ndarray  # beta inside the grid's interval (else the theorem holds trivially, C9)
    delta: np.ndarray  # per-prior failure probability (K delta = conf)
    K: np.ndarray  # size of the prior grid
    gamma_branch: np.ndarray  # True where the gamma term attains the min in sigma


def nbs_bound(frob_sq, beta, gamma, loss_half, *, B: float, m: int, d: int, h: int, conf: float = 0.05) -> BoundResult:
    """Theorem 6.1.3 (eqs. 6.2–6.3, L3383–3395), vectorised over trials.

    ``frob_sq`` = sum_l ||W_l||_F^2, ``beta`` = (prod_l ||W_l||_2)^(1/d), ``gamma`` the margin, ``loss_half`` =
    L-hat_{gamma/2}(f_W); ``h`` the width entering the Tropp bound (C5). With c = exp(3 - 2/(d-1)):
    the beta-grid has K = max(2, ceil((d/2) (sqrt(m-1) / (2c))^(1/d))) points on
    [(gamma/(2B))^(1/d), (sqrt(m-1) gamma / (4 c B))^(1/d)], delta = conf / K, and
    sigma = min{gamma / (4 e^2 B bt^(d-1)), bt / e^(1/(d-1))} / (d sqrt(2h log(4dh))).
    """
    _check_common(B=B, m=m, d=d, h=h, conf=conf)
    frob_sq, beta, gamma, loss_half = (np.asarray(v, dtype=float) for v in (frob_sq, beta, gamma, loss_half))
    c = math.exp(3 - 2 / (d - 1))
    lo = (gamma / (2 * B)) ** (1 / d)
    hi = (math.sqrt(m - 1) * gamma / (4 * c * B)) ** (1 / d)
    K = max(2, math.ceil((d / 2) * (math.sqrt(m - 1) / (2 * c)) ** (1 / d)))
    delta = conf / K
    bt, inside = beta_grid_nearest(beta, lo, hi, K)
    a1 = gamma / (4 * math.e ** 2 * B * bt ** (d - 1))
    a2 = bt / math.exp(1 / (d - 1))
    sigma = np.minimum(a1, a2) / (d * math.sqrt(2 * h * math.log(4 * d * h)))
    kl = frob_sq / (2 * sigma ** 2)
    value = loss_half + np.sqrt((kl + math.log(3 * m / delta)) / (m - 1))
    return BoundResult(value, kl, sigma, bt, inside, np.full_like(value, delta), np.full_like(value, K), a1 <= a2)


# ---------------------------------------------------------------------------------------------- OUR
def our_interval(gamma: float, *, B: float, m: int, d: int, h: int, d_min: float, delta: float) -> tuple[float, float]:
    """The interval I of Definition 26 (L3432): [(gamma/(2B))^(1/d),
    (gamma sqrt(2(m-1)) / (8 B e^3 d d_min sqrt(2h log(2dh/delta))))^(1/(d-1))]."""
    lo = (gamma / (2 * B)) ** (1 / d)
    hi = (gamma * math.sqrt(2 * (m - 1))
          / (8 * B * math.e ** 3 * d * d_min * math.sqrt(2 * h * math.log(2 * d * h / delta)))) ** (1 / (d - 1))
    return lo, hi


def our_delta(gamma: float, *, B: float, m: int, d: int, h: int, d_min: float, conf: float = 0.05,
              max_iter: int = 50) -> tuple[float, int, int]:
    """Resolve the circularity delta = conf / (314 K1(delta)) (C4). Returns (delta, K1, iterations).

    K1(delta) = max(2, ceil(d hi / (2 lo))) with [lo, hi] = I(delta); K1 grows with delta, so starting from
    K1 = 2 the iteration is monotone; the returned delta satisfies 314 K1(delta) delta <= conf.
    """
    K1, it = 2, 0
    for it in range(1, max_iter + 1):
        delta = conf / (N_ANGLES * K1)
        lo, hi = our_interval(gamma, B=B, m=m, d=d, h=h, d_min=d_min, delta=delta)
        K1_new = grid_size(lo, hi, d) if hi > lo else 2
        if K1_new <= K1:
            return delta, K1, it
        K1 = K1_new
    raise RuntimeError(f"our_delta did not converge in {max_iter} iterations (gamma={gamma}, d={d})")


def our_bound(dist: np.ndarray, beta_i: np.ndarray, gamma: float, loss_half: float, *, B: float, m: int, d: int,
              h: int, d_min: float, conf: float = 0.05, sigma_form: str = "statement") -> BoundResult:
    """Theorem 6.3.1 (eq. 6.4, L3461–3463) for every cluster net i of one trial.

    ``dist``: (k1, k1) distances ||A_i - B_{lambda*, j}||; ``beta_i``: (k1,) beta(A_i). For each i:
    sigma-tilde_i^2 = min{bt_i / (d e^(1/(d-1))), g / (e^2 d B bt_i^(d-1))}^2 / (2h log(2dh/delta)) with g = gamma
    (``sigma_form="statement"``) or gamma/8 (``"proof"``, eq. 6.26; C6); KL_i = log k1 - logsumexp_j(-dist_ij^2 /
    (2 sigma-tilde_i^2)) (eq. 6.30); bound_i = loss_half + sqrt((KL_i + log(3m/delta)) / (m - 1)). Cluster nets
    with min_j dist_ij < d_min are not admissible (C3): their value is +inf. The thesis reports min_i bound_i.
    """
    _check_common(B=B, m=m, d=d, h=h, conf=conf)
    if sigma_form not in ("statement", "proof"):
        raise ValueError(f"sigma_form={sigma_form!r}: accepted values are 'statement', 'proof'")
    if d_min <= 0:
        raise ValueError(f"d_min={d_min}: accepted values are > 0")
    dist = np.asarray(dist, dtype=float)
    beta_i = np.asarray(beta_i, dtype=float)
    k1 = dist.shape[1]
    delta, K1, _ = our_delta(gamma, B=B, m=m, d=d, h=h, d_min=d_min, conf=conf)
    lo, hi = our_interval(gamma, B=B, m=m, d=d, h=h, d_min=d_min, delta=delta)
    bt, inside = beta_grid_nearest(beta_i, lo, hi, K1)
    g = gamma if sigma_form == "statement" else gamma / 8
    a1 = bt / (d * math.exp(1 / (d - 1)))
    a2 = g / (math.e ** 2 * d * B * bt ** (d - 1))
    sigma = np.minimum(a1, a2) / math.sqrt(2 * h * math.log(2 * d * h / delta))
    z = -dist ** 2 / (2 * sigma[:, None] ** 2)  # (k1, k1)
    zmax = z.max(1)
    kl = math.log(k1) - (zmax + np.log(np.exp(z - zmax[:, None]).sum(1)))
    value = loss_half + np.sqrt((kl + math.log(3 * m / delta)) / (m - 1))
    value = np.where(dist.min(1) >= d_min, value, np.inf)
    K = N_ANGLES * K1
    return BoundResult(value, kl, sigma, bt, inside, np.full_like(value, delta), np.full_like(value, K), a2 <= a1)


def effective_h(width: int, n_in: int, n_out: int, mode: str = "document") -> int:
    """The h of the Tropp bound (C5): ``"document"`` = the hidden width (what the thesis uses), ``"rigorous"`` =
    the largest layer dimension max(width, n_in, n_out), for which the h x h tail bound covers every layer."""
    if mode == "document":
        return int(width)
    if mode == "rigorous":
        return int(max(width, n_in, n_out))
    raise ValueError(f"mode={mode!r}: accepted values are 'document', 'rigorous'")


def _check_common(*, B: float, m: int, d: int, h: int, conf: float) -> None:
    if B <= 0:
        raise ValueError(f"B={B}: accepted values are > 0 (a bound on ||x||_2)")
    if m < 2:
        raise ValueError(f"m={m}: accepted values are integers >= 2")
    if d < 2:
        raise ValueError(f"d={d}: accepted values are integers >= 2 (the bounds divide by d - 1)")
    if h < 1:
        raise ValueError(f"h={h}: accepted values are integers >= 1")
    if not 0 < conf < 1:
        raise ValueError(f"conf={conf}: accepted values are in (0, 1)")


# ---------------------------------------------------------------------------------------------- the lemmas
def tropp_tail(h: int, sigma: float, t: np.ndarray) -> np.ndarray:
    """Eq. 6.7 / 6.44 (L3576, L3902): P(||U||_2 > t) <= 2h exp(-t^2 / (2 h sigma^2)) for U (h x h), N(0, sigma^2)."""
    return 2 * h * np.exp(-np.asarray(t, dtype=float) ** 2 / (2 * h * sigma ** 2))


def tropp_tail_rect(rows: int, cols: int, sigma: float, t: np.ndarray) -> np.ndarray:
    """Tropp (2012), Cor. 4.2 for a rows x cols Gaussian matrix:
    P(||U||_2 > t) <= (rows + cols) exp(-t^2 / (2 sigma^2 max(rows, cols)))."""
    return (rows + cols) * np.exp(-np.asarray(t, dtype=float) ** 2 / (2 * sigma ** 2 * max(rows, cols)))


def spectral_norm_samples(n: int, rows: int, cols: int, sigma: float, *, generator: torch.Generator,
                          chunk: int = 256) -> torch.Tensor:
    """n samples of ||U||_2 for U (rows x cols) with i.i.d. N(0, sigma^2) entries: (n,) float64.

    Computed as sqrt(lambda_max(U U^T)) over the smaller side, in chunks of ``chunk`` matrices.
    """
    out = []
    for s in range(0, n, chunk):
        b = min(chunk, n - s)
        U = torch.randn(b, rows, cols, generator=generator, device=generator.device, dtype=torch.float64).mul_(sigma)
        G = U @ U.transpose(-1, -2) if rows <= cols else U.transpose(-1, -2) @ U
        out.append(torch.linalg.eigvalsh(G)[:, -1].clamp_min(0).sqrt())
    return torch.cat(out)


def perturbation_rhs(W: mg.Layers, U: mg.Layers, B: float) -> torch.Tensor:
    """Right side of Theorem 6.D.2 (eq. 6.43, L3892): e B prod_l ||W_l||_2 sum_l ||U_l||_2 / ||W_l||_2: (M,).
    Valid when ||U_l||_2 <= ||W_l||_2 / d for every l."""
    sW, sU = mg.spectral_norms(W), mg.spectral_norms(U)
    return math.e * B * sW.prod(-1) * (sU / sW).sum(-1)


def noise_resilience_sigma(beta_i: np.ndarray, p: np.ndarray, gamma: float, *, B: float, d: int, h: int,
                           delta: float) -> float:
    """The largest sigma of Theorem 6.2.1 (L3407) / Lemma 6.6.1 (eq. 6.5, L3566):
    min_i min{beta_i / d, gamma / (k1 e d B p_i beta_i^(d-1))} / sqrt(2h log(2 d h k1 / delta))."""
    beta_i, p = np.asarray(beta_i, dtype=float), np.asarray(p, dtype=float)
    k1 = beta_i.shape[0]
    t = np.minimum(beta_i / d, gamma / (k1 * math.e * d * B * p * beta_i ** (d - 1)))
    return float(t.min() / math.sqrt(2 * h * math.log(2 * d * h * k1 / delta)))


def gm_kl_upper(A: np.ndarray, Bs: np.ndarray, a: np.ndarray, sigma_f: float, sigma: float) -> float:
    """Theorem 6.A.1 (L3756): KL(N(A, sigma_f^2 I) || sum_r a_r N(B_r, sigma^2 I)) <=
    (n/2)(sigma_f^2/sigma^2 - 1) + n log(sigma/sigma_f) - log sum_r a_r exp(-||A - B_r||^2 / (2 sigma^2))."""
    n = A.shape[-1]
    z = np.log(a) - ((A[None] - Bs) ** 2).sum(-1) / (2 * sigma ** 2)
    lse = z.max() + math.log(np.exp(z - z.max()).sum())
    return 0.5 * n * (sigma_f ** 2 / sigma ** 2 - 1) + n * math.log(sigma / sigma_f) - lse


def gm_kl_monte_carlo(A: np.ndarray, Bs: np.ndarray, a: np.ndarray, sigma_f: float, sigma: float, n_samples: int,
                      rng: np.random.Generator) -> tuple[float, float]:
    """Monte Carlo KL(N(A, sigma_f^2 I) || mixture) = E_f[log f - log GM]: (estimate, standard error)."""
    n = A.shape[-1]
    x = A + sigma_f * rng.standard_normal((n_samples, n))
    logf = -0.5 * ((x - A) ** 2).sum(1) / sigma_f ** 2 - n * math.log(sigma_f)
    comp = np.log(a)[None] - 0.5 * ((x[:, None] - Bs[None]) ** 2).sum(-1) / sigma ** 2 - n * math.log(sigma)
    cm = comp.max(1)
    logg = cm + np.log(np.exp(comp - cm[:, None]).sum(1))
    v = logf - logg
    return float(v.mean()), float(v.std(ddof=1) / math.sqrt(n_samples))


def binomial_upper(k: int, n: int, level: float = 0.95) -> float:
    """One-sided Clopper–Pearson upper confidence bound for a probability after k successes in n trials."""
    from scipy.special import betaincinv
    if not 0 <= k <= n or n < 1:
        raise ValueError(f"k={k}, n={n}: accepted values are 0 <= k <= n, n >= 1")
    return 1.0 if k == n else float(betaincinv(k + 1, n - k, level))


@torch.no_grad()
def output_deviation(W: mg.Layers, W_pert: mg.Layers, X: torch.Tensor, ord: float = 2.0) -> torch.Tensor:
    """max_{x in X} ||f_{W'}(x) - f_W(x)||_ord for M perturbed copies: W layers (1 or M, ...) -> (M,)."""
    return torch.linalg.vector_norm(mg.forward(W_pert, X) - mg.forward(W, X), ord=ord, dim=-1).amax(-1)


@torch.no_grad()
def margin_transfer(W: mg.Layers, W_pert: mg.Layers, X: torch.Tensor, y: torch.Tensor, gamma: float
                    ) -> tuple[torch.Tensor, torch.Tensor]:
    """Eqs. 6.37–6.38 (L3824): if max_x ||f_{w+u}(x) - f_w(x)||_inf < gamma/4
    then L-hat_0(f_{w+u}) <= L-hat_{gamma/2}(f_w).

    ``W``: the net (1 model); ``W_pert``: M perturbed copies. Returns (premise holds, conclusion fails), each (M,).
    """
    premise = output_deviation(W, W_pert, X, ord=float("inf")) < gamma / 4
    fails = margin_loss(mg.forward(W_pert, X), y, 0.0) > margin_loss(mg.forward(W, X), y, gamma / 2)
    return premise, premise & fails


@torch.no_grad()
def sample_mixture(W_centres: mg.Layers, sigma: float, n: int, *, generator: torch.Generator) -> mg.Layers:
    """n draws A' ~ (1/k1) sum_i N(A_i, sigma^2 I) (Theorem 6.2.1, p_i = 1/k1): centres (k1, ...) -> layers (n, ...)."""
    k1 = W_centres[0].shape[0]
    which = torch.randint(0, k1, (n,), generator=generator, device=generator.device)
    return [w[which] + sigma * torch.randn((n, *w.shape[1:]), generator=generator, device=generator.device,
                                           dtype=w.dtype) for w in W_centres]


@torch.no_grad()
def mixture_deviation(W_A: mg.Layers, W_centres: mg.Layers, sigma: float, n: int, X: torch.Tensor, *,
                      generator: torch.Generator, chunk: int = 100) -> torch.Tensor:
    """max_{x in X} ||f_{A'}(x) - f_A(x)|| for n draws A' ~ (1/k1) sum_i N(A_i, sigma^2 I), in chunks: (n,).

    The quantity bounded by Theorem 6.2.1 (L3407); ``W_A``: layers (1, ...), ``W_centres``: layers (k1, ...).
    """
    out = [output_deviation(W_A, sample_mixture(W_centres, sigma, min(chunk, n - s), generator=generator), X)
           for s in range(0, n, chunk)]
    return torch.cat(out)


# ---------------------------------------------------------------------------------------------- experiment
@dataclasses.dataclass
class ClusterRun:
    """Everything §6.4–6.5 measure for T trials of one architecture (arrays over trials unless stated)."""

    depth: int
    width: int
    alpha: np.ndarray  # angle(A, B), radians
    theta: np.ndarray  # 0.01 lambda*, the cone half-angle
    norm_B: np.ndarray
    norm_A: np.ndarray
    eps: np.ndarray  # Definition 25
    gamma: np.ndarray
    loss_half: np.ndarray  # L-hat_{gamma/2}(f_A) on S
    train_acc: np.ndarray
    test_acc: np.ndarray
    cluster_test_acc: np.ndarray  # (T, k1)
    nbs: np.ndarray
    our: np.ndarray  # min_i bound_i
    our_proof: np.ndarray  # same with sigma_form="proof" (C6)
    our_i: np.ndarray  # (T, k1) per cluster net
    kl_our: np.ndarray  # (T, k1)
    min_sq_over_2s2: np.ndarray  # (T, k1) min_j dist_ij^2 / (2 sigma_i^2)
    gamma_branch_our: np.ndarray  # (T,) the gamma term attains the min in sigma-tilde of the best i
    nbs_in_grid: np.ndarray
    our_in_grid: np.ndarray  # (T, k1)
    spread_ratio: np.ndarray  # max angle(A, A_i) / max angle(B, B_j) (§6.8, L3738)
    d_min: np.ndarray
    min_dist: np.ndarray  # min_{i,j} ||A_i - B_j||
    K1: np.ndarray
    weights: dict | None = None  # optional: A, A_i layers, B (T, P), B_j (T, k1, P), shapes, h


def run_cluster(X: torch.Tensor, y: torch.Tensor, X_test: torch.Tensor, y_test: torch.Tensor, *, depth: int,
                width: int, trials: int, k1: int, epochs: int, batch: int, B: float, generator: torch.Generator,
                lr: float = 1e-3, conf: float = 0.05, d_min_rel: float = 1e-3, placement: str = "boundary",
                h_mode: str = "document", keep_weights: bool = False, max_models: int = 4096) -> ClusterRun:
    """The experiment of §6.4 for ``trials`` independent trials of one architecture, batched.

    Per trial: Glorot init B, ADAM -> A (all trials in one program); alpha = angle(A, B), lambda* = argmin
    |0.01 lambda - alpha|; k1 initial nets on the cone of half-angle 0.01 lambda* about B (:func:`cone_cluster`),
    trained with fresh mini-batch sequences -> A_i (all trials x k1 in one program, in pieces of ``max_models``);
    the smallest (epsilon, gamma) of Definition 25 on S; NBS and OUR at that gamma (the same gamma and L-hat_{gamma/2}
    for both, L3495). ``X``: (m, n) training set S; ``y``: (m,).
    """
    m, n = X.shape
    k = int(y.max().item()) + 1
    shapes = mg.layer_shapes(n, width, depth, k)
    W_B = mg.glorot_uniform(trials, shapes, generator=generator)
    W_A = mg.train_adam(W_B, X, y, mg.minibatch_indices(trials, m, batch, epochs, generator=generator), lr=lr)
    fB, fA = mg.flatten(W_B), mg.flatten(W_A)
    alpha = mg.angle(fA, fB)
    lam = torch.clamp(torch.round(alpha / 0.01), 1, N_ANGLES)
    theta = 0.01 * lam
    Bj = mg.cone_cluster(fB, theta, k1, generator=generator, placement=placement)  # (T, k1, P)
    Bj_flat = Bj.reshape(trials * k1, -1)
    pieces = []
    for s in range(0, trials * k1, max_models):
        W0 = mg.unflatten(Bj_flat[s:s + max_models], shapes)
        M = W0[0].shape[0]
        pieces.append(mg.flatten(mg.train_adam(W0, X, y, mg.minibatch_indices(M, m, batch, epochs,
                                                                                 generator=generator), lr=lr)))
    Ai = torch.cat(pieces).reshape(trials, k1, -1)
    W_Ai = mg.unflatten(Ai.reshape(trials * k1, -1), shapes)
    with torch.no_grad():
        out_A = mg.forward(W_A, X)  # (T, m, k)
        out_Ai = mg.forward(W_Ai, X).reshape(trials, k1, m, k)
        eps, gamma = mg.niceness(out_A, out_Ai)
        loss_half = margin_loss(out_A, y, gamma / 2)
        sA, sAi = mg.spectral_norms(W_A), mg.spectral_norms(W_Ai).reshape(trials, k1, depth)
        beta_A = sA.log().mean(-1).exp()
        beta_Ai = sAi.log().mean(-1).exp()
        dist = torch.cdist(Ai.double(), Bj.double())  # (T, k1, k1)
        spread = mg.angle(fA[:, None].double(), Ai.double()).amax(1) / mg.angle(fB[:, None].double(),
                                                                                 Bj.double()).amax(1)
        test_acc = mg.accuracy(W_A, X_test, y_test)
        train_acc = mg.accuracy(W_A, X, y)
        cl_acc = mg.accuracy(W_Ai, X_test, y_test).reshape(trials, k1)
    h = effective_h(width, n, k, h_mode)
    g_np, lh_np = gamma.double().cpu().numpy(), loss_half.double().cpu().numpy()
    nbs = nbs_bound(mg.frobenius_sq(W_A).double().cpu().numpy(), beta_A.double().cpu().numpy(), g_np, lh_np,
                    B=B, m=m, d=depth, h=h, conf=conf)
    d_min = d_min_rel * fB.norm(dim=1).double().cpu().numpy()
    D, bAi = dist.cpu().numpy(), beta_Ai.double().cpu().numpy()
    rows = {key: [] for key in ("our", "our_proof", "our_i", "kl", "msq", "gb", "in", "K1")}
    for t in range(trials):
        r = our_bound(D[t], bAi[t], g_np[t], lh_np[t], B=B, m=m, d=depth, h=h, d_min=d_min[t], conf=conf)
        rp = our_bound(D[t], bAi[t], g_np[t], lh_np[t], B=B, m=m, d=depth, h=h, d_min=d_min[t], conf=conf,
                       sigma_form="proof")
        best = int(np.argmin(r.value))
        rows["our"].append(r.value.min())
        rows["our_proof"].append(rp.value.min())
        rows["our_i"].append(r.value)
        rows["kl"].append(r.kl)
        rows["msq"].append(D[t].min(1) ** 2 / (2 * r.sigma ** 2))
        rows["gb"].append(bool(r.gamma_branch[best]))
        rows["in"].append(r.in_grid)
        rows["K1"].append(r.K[0] / N_ANGLES)
    np_ = lambda v: v.double().cpu().numpy()  # noqa: E731
    return ClusterRun(
        depth=depth, width=width, alpha=np_(alpha), theta=np_(theta), norm_B=np_(fB.norm(dim=1)),
        norm_A=np_(fA.norm(dim=1)), eps=np_(eps), gamma=g_np, loss_half=lh_np, train_acc=np_(train_acc),
        test_acc=np_(test_acc), cluster_test_acc=np_(cl_acc), nbs=nbs.value, our=np.array(rows["our"]),
        our_proof=np.array(rows["our_proof"]), our_i=np.array(rows["our_i"]), kl_our=np.array(rows["kl"]),
        min_sq_over_2s2=np.array(rows["msq"]), gamma_branch_our=np.array(rows["gb"]), nbs_in_grid=nbs.in_grid,
        our_in_grid=np.array(rows["in"]), spread_ratio=np_(spread), d_min=d_min, min_dist=D.min(axis=(1, 2)),
        K1=np.array(rows["K1"]),
        weights=dict(A=W_A, Ai=W_Ai, B=fB, Bj=Bj, shapes=shapes, h=h) if keep_weights else None)
