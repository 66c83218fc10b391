"""Provable training of a single ReLU gate: Algorithms 2-4 of Mukherjee (2020, Ch. 3) as batched tensor programs,
their exact rates, and the bounds of Thms 3.3.1, 3.4.1, 3.5.2/3.5.3, Thm 3.D.1 and Lemma 3.E.1.

Used by the chapter ``relu_gate_training``. Line numbers ("L1203") point into the thesis text.

- Algorithm 2 (modified SGD, L1203): ``w_{t+1} = w_t - eta * alpha * 1{y_t > 0} (y_t - w_t.x_t) x_t``,
  ``y_t = relu(w*.x_t)``. :func:`modified_sgd` runs B independent runs at once (weights ``(B, n_max)``), each with
  its own input law, dimension (zero-padded to ``n_max``), step size and start, so distributions x dimensions x step
  sizes x seeds are ONE program. :func:`gaussian_rates` gives the thesis's constants (Thm 3.3.1, L1220) and the
  *exact* contraction factor of ``E||w_t - w*||^2`` for ``x ~ N(0, I_n)``; :func:`second_moment_operator` the exact
  rate for any law (spectral radius of ``P -> E[A P A]``, ``A = I - eta 1{w*.x>0} x x^T``) from samples.
- Algorithm 3 (noise-assisted GD, L1301): :func:`noisy_gd`, optionally as the stopped process of the proof of
  Thm 3.4.1 (L1373); :func:`confinement_bound` / :func:`minimal_radius` evaluate Thm 3.4.1 with the printed
  exponent (``K``) or the one Thm 3.D.1 gives (``K^2``).
- Algorithm 4 (GLM-Tron, L1504) on L-Lipschitz monotone gates: :func:`glmtron` logs, at every step, the terms of
  Lemma 3.5.1 (L1518; identity 3.21 and the bound) — :func:`lemma351_terms`.
- Thm 3.D.1 (L1655) and Lemma 3.E.1 (L1697): :func:`azuma_bound`, :func:`rademacher_tail`,
  :func:`bounded_walk_tail`, :func:`recursion_T`, :func:`iterate_recursion`.

Piecewise-linear gates are represented exactly with :class:`lib.pwl.PWL`, from which their Lipschitz constant
and monotonicity are read off (:func:`gate_pwl`).
"""
from __future__ import annotations

import dataclasses
import math

import numpy as np
import torch
from scipy import stats as sps

from lib import stats
from lib.pwl import PWL

__all__ = ["LAWS", "sample_inputs", "gaussian_rates", "second_moment_operator", "modified_sgd", "sgd_chunk",
           "relu_risk_gaussian", "seed_slopes", "mean_square_factor", "noisy_gd", "azuma_k", "confinement_bound",
           "minimal_radius",
           "GATES", "gate_pwl", "gate_lipschitz", "gate_apply", "glmtron", "lemma351_terms", "azuma_bound",
           "rademacher_tail", "bounded_walk_tail", "recursion_T", "iterate_recursion", "steps_needed"]

# ------------------------------------------------------------------------------------------------ input laws
#: input laws for Algorithm 2. gaussian: N(0, I_n). exp_mixture / t5_mixture: 50/50 mixture of mu + z (z_i iid
#: centred Exp(1), resp. unit-variance Student-t with 5 d.o.f.) and N(0, diag(1..n)/n), mu = (1, 0.5, 0, ...).
#: half_singular: x ~ N(0, I_n) except x_n := 0 whenever x_1 > 0, so with w* = e_1 every x with y > 0 lies in
#: e_n^perp and Sigma_+ = E[1{w*.x>0} x x^T] is singular.
LAWS = ("gaussian", "exp_mixture", "t5_mixture", "half_singular")


def _law_index(laws) -> torch.Tensor:
    out = []
    for name in laws:
        if name not in LAWS:
            raise ValueError(f"law={name!r}: accepted values are {', '.join(LAWS)}")
        out.append(LAWS.index(name))
    return torch.tensor(out, dtype=torch.long)


def sample_inputs(laws, dims, n_max: int, steps: int, *, generator: torch.Generator,
                  dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """Fresh inputs for ``steps`` steps of B runs: ``(steps, B, n_max)``; run b draws from ``laws[b]`` in dimension
    ``dims[b]`` and its coordinates ``>= dims[b]`` are 0. ``laws``: B names from :data:`LAWS`; ``dims``: B ints."""
    law = _law_index(laws)
    dims_t = torch.as_tensor(list(dims), dtype=torch.long)
    B = law.numel()
    if dims_t.numel() != B:
        raise ValueError(f"dims has {dims_t.numel()} entries, laws has {B}: give one dimension per run")
    if int(dims_t.min()) < 1 or int(dims_t.max()) > n_max:
        raise ValueError(f"dims must lie in 1..n_max={n_max}, got {dims_t.min().item()}..{dims_t.max().item()}")
    dev = generator.device
    law, dims_t = law.to(dev), dims_t.to(dev)
    idx = torch.arange(n_max, device=dev)
    mask = (idx[None, :] < dims_t[:, None]).to(dtype)                                # (B, n_max)
    f32 = torch.float32                       # drawn in float32 (4x faster), returned in ``dtype``
    x = torch.empty(steps, B, n_max, dtype=f32, device=dev)
    for k in range(len(LAWS)):
        sel = (law == k).nonzero().flatten()
        if sel.numel() == 0:
            continue
        nb = sel.numel()
        if sel.numel() == B:
            sel = slice(None)
        g = torch.randn(steps, nb, n_max, generator=generator, dtype=f32, device=dev)
        if k in (1, 2):                                                              # the two mixtures
            n_b = dims_t[sel].to(f32)                                              # (nb,)
            mu = torch.zeros(n_max, dtype=f32, device=dev)
            mu[0], mu[1] = 1.0, 0.5
            if k == 1:
                u = torch.rand(steps, nb, n_max, generator=generator, dtype=f32, device=dev)
                z = -torch.log1p(-u) - 1.0                                            # centred Exp(1)
            else:
                u = torch.rand(steps, nb, n_max, 2, generator=generator, dtype=f32, device=dev)
                g2 = torch.randn(steps, nb, n_max, generator=generator, dtype=f32, device=dev)
                chi5 = -2 * torch.log(u[..., 0] * u[..., 1]) + g2**2                  # chi^2_5
                z = g2.new_tensor(math.sqrt(3 / 5)) * torch.randn(
                    steps, nb, n_max, generator=generator, dtype=f32, device=dev) / torch.sqrt(chi5 / 5)
            scale = torch.sqrt((idx[None, :] + 1).to(f32) / n_b[:, None])          # diag(1..n)/n
            coin = torch.rand(steps, nb, 1, generator=generator, dtype=f32, device=dev) < 0.5
            g = torch.where(coin, mu + z, g * scale)
        elif k == 3:
            last = dims_t[sel] - 1                                                    # (nb,)
            col = torch.nn.functional.one_hot(last, n_max).to(torch.bool)             # (nb, n_max)
            g = torch.where((g[..., :1] > 0) & col[None], torch.zeros((), dtype=f32, device=dev), g)
        x[:, sel] = g
    return x.to(dtype) * mask


# ------------------------------------------------------------------------------------- Algorithm 2: constants
def gaussian_rates(n: int, eta: float | np.ndarray | None = None) -> dict[str, float | np.ndarray]:
    """Thm 3.3.1's constants for ``x ~ N(0, I_n)`` (alpha = -1) and the exact per-step factor of E||w_t - w*||^2.

    ``Sigma_+ = I/2`` so ``lambda_min = 1/2``; ``c_1 = E[1{w*.x>0}||x||^4] = n(n+2)/2``; the theorem's step
    ``eta_thm = lambda_min / c_1 = 1/(n(n+2))`` (L1220); the proof's recursion (3.5, L1270) has factor
    ``rho_bound(eta) = 1 - 2 eta lambda_min + eta^2 c_1`` (``= 1 - 1/(2n(n+2))`` at ``eta_thm``).
    Exactly, ``E[A^T A] = (1 - eta + eta^2 (n+2)/2) I`` with ``A = I - eta 1{w*.x>0} x x^T`` (because
    ``E[1{w*.x>0} ||x||^2 x x^T] = (n+2)/2 I``), so ``E||w_{t+1}-w*||^2 = rho_exact E||w_t-w*||^2`` with
    ``rho_exact(eta) = 1 - eta + eta^2 (n+2)/2``. ``eta`` defaults to ``eta_thm``.
    """
    if int(n) != n or n < 1:
        raise ValueError(f"n={n}: accepted values are integers >= 1")
    lam, c1 = 0.5, n * (n + 2) / 2
    eta_thm = lam / c1
    e = eta_thm if eta is None else np.asarray(eta, dtype=float)
    return {"lambda_min": lam, "c1": c1, "eta_thm": eta_thm, "eta": e,
            "rho_bound": 1 - 2 * e * lam + e**2 * c1, "rho_exact": 1 - e + e**2 * (n + 2) / 2}


def second_moment_operator(x: torch.Tensor, w_star: torch.Tensor, eta: float, *,
                           with_operator: bool = True) -> dict[str, float | np.ndarray]:
    """Monte-Carlo constants of Thm 3.3.1 and the exact mean-square rate for the law that produced ``x``.

    ``x: (N, n)`` samples, ``w_star: (n,)``. Returns ``Sigma_plus`` (n, n), ``lambda_min``, ``c1`` (L1272),
    ``eta_thm = lambda_min / c1``, ``rho_bound(eta) = 1 - 2 eta lambda_min + eta^2 c1`` (eq. 3.5),
    ``Q = E[A^T A]`` (n, n) (so ``E[||e_{t+1}||^2 | e_t] = e_t^T Q e_t``), ``rho_Q = lambda_max(Q)`` (a tight
    one-step bound) and ``rho_exact``: the spectral radius of ``P -> E[A P A]`` (the n^2 x n^2 matrix
    ``E[A (x) A]``), the asymptotic per-step factor of ``E||w_t - w*||^2`` (NaN with ``with_operator=False``,
    which skips the O(N n^4) fourth-moment tensor).
    """
    if x.ndim != 2 or w_star.shape != (x.shape[1],):
        raise ValueError(f"x must be (N, n) and w_star (n,), got {tuple(x.shape)} and {tuple(w_star.shape)}")
    x = x.to(torch.float64)
    N, n = x.shape
    w_star = w_star.to(x)
    S = torch.zeros(n, n, dtype=x.dtype)
    Q4 = torch.zeros(n, n, dtype=x.dtype)
    M4 = torch.zeros(n * n, n * n, dtype=x.dtype)
    c1 = 0.0
    for i in range(0, N, 20_000):                                                     # chunks bound the memory
        xc = x[i:i + 20_000]
        ind = (xc @ w_star > 0).to(x)                                                 # (N_c,)
        sq = (xc * xc).sum(1)
        S += (xc * ind[:, None]).T @ xc / N
        c1 += float((ind * sq**2).sum()) / N
        Q4 += (xc * (ind * sq)[:, None]).T @ xc / N                                   # E[1 ||x||^2 x x^T]
        if with_operator:
            Z = (xc[:, :, None] * xc[:, None, :]).reshape(-1, n * n) * ind[:, None]   # vec(1 x x^T)
            M4 += Z.T @ Z / N                                                         # E[1 (xx^T) (x) (xx^T)]
    lam = float(torch.linalg.eigvalsh(S)[0])
    Q = torch.eye(n, dtype=x.dtype) - 2 * eta * S + eta**2 * Q4
    I = torch.eye(n, dtype=x.dtype)
    M = torch.kron(I, I) - eta * (torch.kron(S, I) + torch.kron(I, S)) + eta**2 * M4
    rho_exact = float(torch.linalg.eigvals(M).abs().max()) if with_operator else float("nan")
    return {"Sigma_plus": S.numpy(), "lambda_min": lam, "c1": c1, "eta_thm": lam / c1,
            "rho_bound": 1 - 2 * eta * lam + eta**2 * c1, "Q": Q.numpy(),
            "rho_Q": float(torch.linalg.eigvalsh(Q)[-1]), "rho_exact": rho_exact}


# --------------------------------------------------------------------------------------- Algorithm 2: the runs
def sgd_chunk(w: torch.Tensor, w_star: torch.Tensor, eta: torch.Tensor, X: torch.Tensor, *, alpha: float = -1.0,
              sign: float = -1.0, record_every: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    """Algorithm 2 (L1203) on given inputs. ``w, w_star: (B, n)``, ``eta: (B,)``, ``X: (steps, B, n)``.

    Step: ``y = relu(w*.x)``, ``g = alpha 1{y>0} (y - w.x) x``, ``w <- w + sign * eta * g`` (the algorithm has
    ``sign = -1``; the proof's first line, L1230, writes ``+``). Returns the final ``w`` and
    ``||w_t - w*||^2`` after steps ``record_every, 2 record_every, ...`` of the chunk, ``(steps // record_every, B)``.
    """
    err = torch.empty(X.shape[0] // record_every, w.shape[0], dtype=w.dtype, device=w.device)
    zero = torch.zeros((), dtype=w.dtype, device=w.device)
    for s in range(X.shape[0]):
        x = X[s]
        y = torch.relu((w_star * x).sum(1))
        r = torch.where(y > 0, y - (w * x).sum(1), zero)
        w = w + (sign * alpha) * (eta * r)[:, None] * x
        if (s + 1) % record_every == 0:
            err[(s + 1) // record_every - 1] = ((w - w_star) ** 2).sum(1)
    return w, err


@dataclasses.dataclass
class SGDResult:
    """``t: (K,)`` recorded step counts (0 = the start ``w_1``); ``err2: (K, B)`` ``||w_t - w*||^2``; ``w: (B, n)``."""

    t: np.ndarray
    err2: np.ndarray
    w: torch.Tensor


def modified_sgd(w1: torch.Tensor, w_star: torch.Tensor, eta, T: int, *, laws, dims, generator: torch.Generator,
                 alpha: float = -1.0, record_every: int = 10, chunk: int = 250, sign: float = -1.0) -> SGDResult:
    """B independent runs of Algorithm 2 as one program: ``w1, w_star: (B, n_max)``, ``eta``: scalar or ``(B,)``,
    ``laws``/``dims``: per run (see :func:`sample_inputs`). Inputs are drawn ``chunk`` steps at a time.
    Records ``||w_t - w*||^2`` every ``record_every`` steps (t = 0 included). ``alpha < 0`` (Thm 3.3.1)."""
    if alpha >= 0:
        raise ValueError(f"alpha={alpha}: accepted values are alpha < 0 (Algorithm 2, L1203)")
    if T < 1 or record_every < 1 or chunk < 1:
        raise ValueError("T, record_every and chunk must be positive integers")
    if w1.shape != w_star.shape or w1.ndim != 2:
        raise ValueError(f"w1 and w_star must both be (B, n_max), got {tuple(w1.shape)}, {tuple(w_star.shape)}")
    B, n_max = w1.shape
    eta_t = torch.as_tensor(eta, dtype=w1.dtype, device=w1.device).expand(B).clone()
    if bool((eta_t <= 0).any()):
        raise ValueError("eta must be positive")
    laws, dims = list(laws), list(dims)
    if T % record_every or chunk % record_every:
        raise ValueError(f"T={T} and chunk={chunk} must be multiples of record_every={record_every}")
    w = w1.clone()
    ts, recs = [0], [((w - w_star) ** 2).sum(1)[None]]
    done = 0
    while done < T:
        k = min(chunk, T - done)
        X = sample_inputs(laws, dims, n_max, k, generator=generator, dtype=w1.dtype).to(w1.device)
        w, err = sgd_chunk(w, w_star, eta_t, X, alpha=alpha, sign=sign, record_every=record_every)
        ts += list(range(done + record_every, done + k + 1, record_every))
        recs.append(err)
        done += k
    return SGDResult(t=np.array(ts), err2=torch.cat(recs).cpu().numpy(), w=w)


def relu_risk_gaussian(w: torch.Tensor, w_star: torch.Tensor) -> torch.Tensor:
    """Exact ``E_{x~N(0,I)}[(relu(w.x) - relu(w*.x))^2]`` (arc-cosine kernel), ``w, w_star: (..., n)`` -> ``(...)``:
    ``|w|^2/2 + |w*|^2/2 - (|w||w*|/pi)(sin th + (pi - th) cos th)`` with ``th`` the angle between them."""
    a, b = w.norm(dim=-1), w_star.norm(dim=-1)
    cos = ((w * w_star).sum(-1) / (a * b).clamp_min(1e-300)).clamp(-1, 1)
    th = torch.arccos(cos)
    return a**2 / 2 + b**2 / 2 - a * b / math.pi * (torch.sin(th) + (math.pi - th) * cos)


def seed_slopes(t: np.ndarray, traces: np.ndarray, *, t_min: float = 0, t_max: float = np.inf, log: bool = True,
                level: float = 0.95) -> dict[str, float | np.ndarray]:
    """Fitted slope of ``log traces[s]`` (or ``traces[s]`` with ``log=False``) against ``t`` on
    ``t_min <= t <= t_max``, one :func:`lib.stats.linear_fit` per independent seed ``s`` (``traces: (S, K)``), and
    the Student-t interval of their mean over the S seeds (the seeds are independent, the points of one trace are
    not, so the across-seed interval is the honest one). Returns ``slopes (S,)``, ``mean``, ``ci (2,)``,
    ``fits`` (list of Fit)."""
    traces = np.atleast_2d(np.asarray(traces, float))
    keep = (t >= t_min) & (t <= t_max)
    if keep.sum() < 3:
        raise ValueError(f"need at least 3 points in [{t_min}, {t_max}], got {int(keep.sum())}")
    fits = [stats.linear_fit(t[keep], np.log(tr[keep]) if log else tr[keep], level=level) for tr in traces]
    sl = np.array([f.slope for f in fits])
    S = sl.size
    m = float(sl.mean())
    if S > 1:
        half = float(sps.t.ppf(0.5 + level / 2, S - 1) * sl.std(ddof=1) / math.sqrt(S))
    else:
        half = float(fits[0].slope_ci[1] - m)
    return {"slopes": sl, "mean": m, "ci": np.array([m - half, m + half]), "fits": fits}


def mean_square_factor(t: np.ndarray, err2: np.ndarray, *, t_max: float = np.inf) -> float:
    """Unbiased per-step factor of ``E||w_t - w*||^2`` from records ``err2: (K, R)`` at equally spaced steps ``t``:
    ``log(mean_{runs, j} err2[j+1]/err2[j]) / dt`` over the records with ``t[j+1] <= t_max``.

    For Gaussian inputs ``E[||e_{t+k}||^2 | e_t] = rho_exact^k ||e_t||^2`` for every ``e_t``, so every ratio has mean
    ``rho_exact^dt``; unlike the log of a mean over runs, the average ratio is not dominated by rare slow runs.
    """
    dt = np.diff(t)
    if dt.size < 1 or not np.all(dt == dt[0]):
        raise ValueError("t must hold at least 2 equally spaced record steps")
    keep = t[1:] <= t_max
    ratio = err2[1:][keep] / err2[:-1][keep]
    return float(np.log(ratio.mean()) / dt[0])


def steps_needed(d0sq: float, eps: float, delta: float, rho: float) -> int:
    """Thm 3.3.1 with its constant made explicit (Lemma 3.E.1 case 1 + Markov): the index
    ``T = 1 + log(||w_1 - w*||^2 / (eps^2 delta)) / log(1/rho)`` rounded up; ``T - 1`` steps are taken."""
    if not (0 < rho < 1 and eps > 0 and 0 < delta < 1 and d0sq > 0):
        raise ValueError("need 0 < rho < 1, eps > 0, 0 < delta < 1, d0sq > 0")
    return int(math.ceil(1 + math.log(d0sq / (eps**2 * delta)) / math.log(1 / rho)))


# ------------------------------------------------------------------------------------------------ Algorithm 3
@dataclasses.dataclass
class NoisyGDResult:
    """``t: (K,)`` recorded steps; ``w: (K, B, n)`` iterates there; ``max_dist: (B,)`` max_{1<=i<=T}
    ||w_i - w*||; ``running_max: (K, B)`` the max up to each recorded step; ``min_slack: (B,)`` the minimum over
    steps of Lemma 3.4.2's slack ``<w_t - w*, g_t> - (1/S) sum (relu(w*.x_i) - relu(w_t.x_i))^2 1{w_t.x_i >= 0}``;
    ``truncated: (B,)`` how many steps had ||zeta_2|| > C_L."""

    t: np.ndarray
    w: torch.Tensor
    max_dist: torch.Tensor
    running_max: torch.Tensor
    min_slack: torch.Tensor
    truncated: torch.Tensor


def noisy_gd(X: torch.Tensor, y: torch.Tensor, w_star: torch.Tensor, w0: torch.Tensor, eta, T: int, *, S1: float,
             sigma: float, generator: torch.Generator, record_every: int = 10, stop_radius: float | None = None,
             C_L: float | None = None) -> NoisyGDResult:
    """B runs of Algorithm 3 (L1301) with constant step: ``g_t = -(1/S) sum_i 1{w_t.x_i >= 0}(y_i - relu(w_t.x_i))
    x_i``, ``w_{t+1} = w_t - eta (g_t + zeta_1) + sqrt(eta) zeta_2`` with ``zeta_1`` uniform on the sphere of radius
    ``S1`` and ``zeta_2 ~ N(0, sigma^2 I_n)`` (symmetric, as the supermartingale step needs).

    ``X: (S, n)``, ``y: (S,)`` shared data; ``w_star: (n,)``; ``w0: (B, n)``; ``eta``: scalar or ``(B,)``.
    With ``stop_radius`` and ``C_L`` it runs the proof's stopped process (L1373): ``zeta_2`` truncated to norm
    ``C_L`` and the iterate frozen once ``||w'_t - w*|| >= stop_radius``.
    """
    if X.ndim != 2 or y.shape != (X.shape[0],) or w_star.shape != (X.shape[1],) or w0.ndim != 2:
        raise ValueError("shapes: X (S, n), y (S,), w_star (n,), w0 (B, n)")
    if S1 < 0 or sigma < 0 or T < 1:
        raise ValueError("S1 >= 0, sigma >= 0 and T >= 1 are required")
    if (stop_radius is None) != (C_L is None):
        raise ValueError("give both stop_radius and C_L (the stopped process) or neither")
    B, n = w0.shape
    S = X.shape[0]
    dt, dev = w0.dtype, w0.device
    X, y, w_star = X.to(dt), y.to(dt), w_star.to(dt)
    eta_t = torch.as_tensor(eta, dtype=dt, device=dev).expand(B).clone()[:, None]     # (B, 1)
    ystar = y[None, :]
    w = w0.clone()
    ts, recs, rmax = [0], [w.clone()], []
    dist = (w - w_star).norm(dim=1)
    run_max = torch.zeros(B, dtype=dt, device=dev)
    rmax.append(run_max.clone())
    min_slack = torch.full((B,), float("inf"), dtype=dt, device=dev)
    trunc = torch.zeros(B, dtype=torch.long, device=dev)
    for step in range(1, T + 1):
        u = w @ X.T                                                                    # (B, S)
        act = (u >= 0).to(dt)
        r = (ystar - torch.relu(u)) * act                                              # (B, S)
        g = -(r @ X) / S                                                               # (B, n)
        slack = ((w - w_star) * g).sum(1) - (r**2).sum(1) / S
        min_slack = torch.minimum(min_slack, slack)
        z1 = torch.randn(B, n, generator=generator, dtype=dt, device=dev)
        z1 = S1 * z1 / z1.norm(dim=1, keepdim=True)
        z2 = sigma * torch.randn(B, n, generator=generator, dtype=dt, device=dev)
        if C_L is not None:
            nz = z2.norm(dim=1, keepdim=True)
            trunc += (nz[:, 0] > C_L).long()
            z2 = z2 * torch.clamp(C_L / nz.clamp_min(1e-300), max=1.0)
        w_new = w - eta_t * (g + z1) + eta_t.sqrt() * z2
        if stop_radius is not None:
            w_new = torch.where((dist < stop_radius)[:, None], w_new, w)
        w = w_new
        dist = (w - w_star).norm(dim=1)
        run_max = torch.maximum(run_max, dist)
        if step % record_every == 0:
            ts.append(step)
            recs.append(w.clone())
            rmax.append(run_max.clone())
    return NoisyGDResult(t=np.array(ts), w=torch.stack(recs), max_dist=run_max, running_max=torch.stack(rmax),
                         min_slack=min_slack, truncated=trunc)


def azuma_k(r, *, eta: float, C: float, S1: float, n: int, C_L: float):
    """The bounded-difference constant of Thm 3.4.1 (L1327; Lemma 3.4.3, eq. 3.20):
    ``K = 2 sqrt(eta) C_L (r + eta (C^2 r + S1)) + eta (2 S1 r + n + 2 C^2 r^2 + 2 eta (C^4 r^2 + S1^2))``."""
    r = np.asarray(r, float)
    return (2 * math.sqrt(eta) * C_L * (r + eta * (C**2 * r + S1))
            + eta * (2 * S1 * r + n + 2 * C**2 * r**2 + 2 * eta * (C**4 * r**2 + S1**2)))


def confinement_bound(lam, *, i_max: int, eta: float, C: float, S1: float, n: int, C_L: float, tail: float,
                      d0sq: float, square_k: bool = False) -> dict[str, np.ndarray]:
    """Thm 3.4.1 (L1325) at the smallest admissible radius for each ``lam`` (the Remark, L1331):
    ``r^2 = (lam + d0sq + i_max (eta n + 2 eta^2 S1^2)) / (1 - 2 i_max eta^2 C^4)`` and
    ``bound = i_max (tail + exp(-lam^2 / (2 i_max K^p)))`` with ``p = 1`` as printed or ``p = 2`` as Thm 3.D.1 with
    ``c_i = K`` gives (``square_k``). ``tail = P[||xi_2|| > C_L]``. Returns ``lam``, ``r``, ``K``, ``bound``."""
    if not 0 < eta < 1 / (C**2 * math.sqrt(2 * i_max)):
        raise ValueError(f"eta={eta}: Thm 3.4.1 needs 0 < eta < 1/(C^2 sqrt(2 i_max)) = "
                         f"{1 / (C**2 * math.sqrt(2 * i_max)):.4g}")
    if not 0 < C_L < math.sqrt(n):
        raise ValueError(f"C_L={C_L}: accepted values are in (0, sqrt(n)) = (0, {math.sqrt(n):.4g})")
    lam = np.asarray(lam, float)
    r = np.sqrt((lam + d0sq + i_max * (eta * n + 2 * eta**2 * S1**2)) / (1 - 2 * i_max * eta**2 * C**4))
    K = azuma_k(r, eta=eta, C=C, S1=S1, n=n, C_L=C_L)
    bound = i_max * (tail + np.exp(-lam**2 / (2 * i_max * K ** (2 if square_k else 1))))
    return {"lam": lam, "r": r, "K": K, "bound": bound}


def minimal_radius(target: float, lam_grid=None, **kw) -> dict[str, float]:
    """Smallest ``r_*`` on the ``lam`` grid (default ``logspace(-1, 6, 4001)``) whose Thm 3.4.1 bound is
    ``<= target`` (``kw`` as in :func:`confinement_bound`). Returns ``r``, ``lam``, ``K``, ``bound`` (NaN if none)."""
    lam = np.logspace(-1, 6, 4001) if lam_grid is None else np.asarray(lam_grid, float)
    out = confinement_bound(lam, **kw)
    ok = np.nonzero(out["bound"] <= target)[0]
    if ok.size == 0:
        return {"r": float("nan"), "lam": float("nan"), "K": float("nan"), "bound": float("nan")}
    i = ok[np.argmin(out["r"][ok])]
    return {k: float(v[i]) for k, v in out.items()}


# ------------------------------------------------------------------------------------------------ Algorithm 4
#: gates sigma(z) = s_plus max(z, 0) + s_minus min(z, 0) (piecewise linear), or tanh_scale * tanh(z / 2).
GATES = {
    "relu": dict(s_plus=1.0, s_minus=0.0, tanh=0.0),
    "1.5 relu": dict(s_plus=1.5, s_minus=0.0, tanh=0.0),
    "1.9 relu": dict(s_plus=1.9, s_minus=0.0, tanh=0.0),
    "leaky relu 0.1": dict(s_plus=1.0, s_minus=0.1, tanh=0.0),
    "2/(1+e^-z) - 1": dict(s_plus=0.0, s_minus=0.0, tanh=1.0),
}


def _gate(name: str) -> dict[str, float]:
    if name in GATES:
        return GATES[name]
    if name.startswith("linear "):
        L = float(name.split()[1])
        return dict(s_plus=L, s_minus=L, tanh=0.0)
    raise ValueError(f"gate={name!r}: accepted values are {', '.join(GATES)} or 'linear <L>'")


def gate_pwl(name: str) -> PWL | None:
    """The gate as an exact :class:`lib.pwl.PWL` (None for the smooth gate)."""
    g = _gate(name)
    if g["tanh"]:
        return None
    return PWL.from_points([0.0], [0.0], g["s_minus"], g["s_plus"])


def gate_lipschitz(name: str) -> tuple[float, bool]:
    """``(L, monotone)``: exact from the PWL slopes (max |slope|, all slopes >= 0); for ``tanh_scale tanh(z/2)``,
    ``L = tanh_scale / 2`` (the derivative's maximum, at 0) and monotone."""
    f = gate_pwl(name)
    if f is None:
        return _gate(name)["tanh"] / 2, True
    s = f.slopes()
    return float(np.abs(s).max()), bool((s >= 0).all())


def gate_apply(z: torch.Tensor, params: torch.Tensor) -> torch.Tensor:
    """``sigma_b(z)`` for per-run gates: ``z: (B, S)``, ``params: (B, 3)`` rows ``(s_plus, s_minus, tanh_scale)``."""
    sp, sm, th = params[:, 0:1], params[:, 1:2], params[:, 2:3]
    pl = sp * torch.clamp(z, min=0) + sm * torch.clamp(z, max=0)
    return torch.where(th > 0, th * torch.tanh(z / 2), pl)


def gate_params(names, dtype=torch.float64) -> torch.Tensor:
    """``(B, 3)`` parameter rows for :func:`gate_apply` from gate names."""
    return torch.tensor([[_gate(n)["s_plus"], _gate(n)["s_minus"], _gate(n)["tanh"]] for n in names], dtype=dtype)


def lemma351_terms(w_t: torch.Tensor, w: torch.Tensor, X: torch.Tensor, y: torch.Tensor, params: torch.Tensor,
                   L: torch.Tensor) -> dict[str, torch.Tensor]:
    """The terms of Lemma 3.5.1 (L1518, proof L1562-1615) for one GLM-Tron step from ``w_t`` with reference ``w``.

    ``w_t, w: (B, n)``, ``X: (B, S, n)``, ``y: (B, S)``, ``params: (B, 3)``, ``L: (B,)``. Returns (all ``(B,)``):
    ``w_next (B, n)``; ``decrease = ||w_t-w||^2 - ||w_next-w||^2``; ``identity_rhs`` = eq. 3.21's right side
    ``(2/S) sum (y_i - s_t,i)(<w - w_t, x_i>) - ||(1/S) sum (y_i - s_t,i) x_i||^2`` (equal to ``decrease``);
    ``Ltilde = (1/S) sum (sigma(w_t.x_i) - sigma(w.x_i))^2``; ``eta`` = the smallest admissible
    ``||(1/S) sum (y_i - sigma(w.x_i)) x_i||``; ``W = ||w_t - w||`` (the smallest admissible); ``slack`` =
    ``||w_t-w||^2 - (2/L - 1) Ltilde + eta^2 + 2 eta W (L+1) - ||w_next - w||^2`` (>= 0 is the lemma).
    """
    S = X.shape[1]
    s_t = gate_apply(torch.einsum("bsn,bn->bs", X, w_t), params)
    s_w = gate_apply(torch.einsum("bsn,bn->bs", X, w), params)
    res = y - s_t                                                                         # (B, S)
    step = torch.einsum("bs,bsn->bn", res, X) / S
    w_next = w_t + step
    d0 = ((w_t - w) ** 2).sum(1)
    d1 = ((w_next - w) ** 2).sum(1)
    ident = 2 / S * (res * torch.einsum("bsn,bn->bs", X, w - w_t)).sum(1) - (step**2).sum(1)
    Lt = ((s_t - s_w) ** 2).mean(1)
    eta = (torch.einsum("bs,bsn->bn", y - s_w, X) / S).norm(dim=1)
    W = d0.sqrt()
    slack = d0 - (2 / L - 1) * Lt + eta**2 + 2 * eta * W * (L + 1) - d1
    return {"w_next": w_next, "decrease": d0 - d1, "identity_rhs": ident, "Ltilde": Lt, "eta": eta, "W": W,
            "slack": slack, "dist2": d0}


@dataclasses.dataclass
class GLMTronResult:
    """Per step t = 1..T (rows): ``Ltilde (T, B)`` = L~_S(h_t) w.r.t. w*; ``dist2 (T+1, B)`` ||w_t - w*||^2;
    ``slack (T, B)`` Lemma 3.5.1's slack; ``identity_gap (T, B)`` |decrease - eq. 3.21|; ``eta (B,)``;
    ``w (B, n)`` = w_{T+1}; ``risk (T, B)`` the true empirical risk L_S(h_t) = mean (sigma(w_t.x) - y)^2."""

    Ltilde: np.ndarray
    dist2: np.ndarray
    slack: np.ndarray
    identity_gap: np.ndarray
    eta: np.ndarray
    w: torch.Tensor
    risk: np.ndarray


def glmtron(X: torch.Tensor, y: torch.Tensor, w_star: torch.Tensor, gates, T: int) -> GLMTronResult:
    """B runs of GLM-Tron (Algorithm 4, L1504): ``w_1 = 0``, ``w_{t+1} = w_t + (1/S) sum_i (y_i - sigma(w_t.x_i))
    x_i``, each run with its own data ``X: (B, S, n)``, labels ``y: (B, S)``, gate (``gates``: B names) and
    reference ``w_star: (B, n)``; Lemma 3.5.1 is evaluated with ``w = w*`` at every step (:func:`lemma351_terms`)."""
    if X.ndim != 3 or y.shape != X.shape[:2] or w_star.shape != (X.shape[0], X.shape[2]):
        raise ValueError("shapes: X (B, S, n), y (B, S), w_star (B, n)")
    gates = list(gates)
    if len(gates) != X.shape[0]:
        raise ValueError(f"gates has {len(gates)} names for {X.shape[0]} runs")
    params = gate_params(gates, X.dtype).to(X.device)
    L = torch.tensor([gate_lipschitz(g)[0] for g in gates], dtype=X.dtype, device=X.device)
    B, S, n = X.shape
    u_star = torch.einsum("bsn,bn->bs", X, w_star)
    s_w = gate_apply(u_star, params)                                                  # sigma(w*.x_i), fixed
    eta = (torch.einsum("bs,bsn->bn", y - s_w, X) / S).norm(dim=1)                  # smallest admissible eta
    w = torch.zeros_like(w_star)
    u = torch.zeros_like(u_star)                                                      # X w_t
    d0 = (w_star**2).sum(1)
    Lt, d2, sl, gap, risk = [], [], [], [], []
    for _ in range(T):
        s_t = gate_apply(u, params)
        res = y - s_t
        step = torch.bmm(res[:, None, :], X)[:, 0] / S                                # (B, n)
        w_next = w + step
        u_next = torch.bmm(X, w_next[:, :, None])[..., 0]                              # (B, S)
        d1 = ((w_next - w_star) ** 2).sum(1)
        ident = 2 / S * (res * (u_star - u)).sum(1) - (step**2).sum(1)               # eq. 3.21
        lt = ((s_t - s_w) ** 2).mean(1)
        Lt.append(lt)
        d2.append(d0)
        sl.append(d0 - (2 / L - 1) * lt + eta**2 + 2 * eta * d0.sqrt() * (L + 1) - d1)
        gap.append((d0 - d1 - ident).abs())
        risk.append((res**2).mean(1))
        w, u, d0 = w_next, u_next, d1
    d2.append(d0)
    st = lambda v: torch.stack(v).cpu().numpy()  # noqa: E731
    return GLMTronResult(Ltilde=st(Lt), dist2=st(d2), slack=st(sl), identity_gap=st(gap), eta=eta.cpu().numpy(),
                         w=w, risk=st(risk))


# --------------------------------------------------------------------------------- Thm 3.D.1 and Lemma 3.E.1
def azuma_bound(lam, n: int, c: float, *, power: int = 2):
    """Thm 3.D.1 (L1655): ``P[X_n - X_0 >= lam] <= exp(-lam^2 / (2 n c^power))`` for a supermartingale with
    ``|X_i - X_{i-1}| <= c``; ``power=2`` is the theorem, ``power=1`` the form applied at L1391."""
    if power not in (1, 2):
        raise ValueError(f"power={power}: accepted values are 1, 2")
    lam = np.asarray(lam, float)
    return np.exp(-lam**2 / (2 * n * c**power))


def rademacher_tail(lam, n: int, c: float):
    """Exact ``P[c (eps_1 + ... + eps_n) >= lam]`` for iid signs (a martingale with ``|steps| = c``): the
    binomial tail ``P[Bin(n, 1/2) >= (n + lam/c)/2]``."""
    lam = np.asarray(lam, float)
    k = np.ceil((n + lam / c) / 2 - 1e-12)
    return sps.binom.sf(k - 1, n, 0.5)


def bounded_walk_tail(lam, n: int, c: float, mu: float, paths: int, *, generator: torch.Generator,
                      chunk: int = 50_000) -> np.ndarray:
    """Monte-Carlo ``P[X_n - X_0 >= lam]`` for steps uniform on ``[-c, c]`` shifted by ``-mu`` (a supermartingale
    for mu >= 0 with ``|steps| <= c + mu``), ``paths`` paths; ``lam: (L,)`` -> ``(L,)``."""
    lam_t = torch.as_tensor(np.asarray(lam, float), dtype=torch.float64)
    hits = torch.zeros_like(lam_t)
    done = 0
    while done < paths:
        k = min(chunk, paths - done)
        s = ((torch.rand(k, n, generator=generator, dtype=torch.float64) * 2 - 1) * c - mu).sum(1)
        hits += (s[:, None] >= lam_t[None, :]).sum(0)
        done += k
    return (hits / paths).numpy()


def recursion_T(case: int, *, b: float, c1: float, C: float, eps: float, c2: float = 0.0) -> dict[str, float]:
    """Lemma 3.E.1 (L1697): step ``eta'``, factor ``alpha`` and the (real) index ``T`` with ``X_T <= eps^2``.
    Case 1 (``c2 = 0``, ``c1 > b^2/4``): ``eta' = b/(2 c1)``, ``alpha = 1 - b^2/(4 c1)``,
    ``T = 1 + log(C/eps^2)/log(1/alpha)``. Case 2 (``0 < c2 <= c1``, ``eps^2 <= C``): ``eta' = (b/c1) eps^2/(1+eps^2)``,
    ``alpha = 1 - (b^2/c1) eps^2/(1+eps^2)^2``, ``T = 1 + log(eps^2 (c1-c2)/(C c1 - c2 eps^2)) / log(alpha)``."""
    if case == 1:
        if not c1 > b**2 / 4:
            raise ValueError(f"case 1 needs c1 > b^2/4, got c1={c1}, b={b}")
        ep = b / (2 * c1)
        alpha = 1 - b**2 / (4 * c1)
        return {"eta": ep, "alpha": alpha, "T": 1 + math.log(C / eps**2) / math.log(1 / alpha)}
    if case == 2:
        if not (0 < c2 <= c1 and eps**2 <= C):
            raise ValueError("case 2 needs 0 < c2 <= c1 and eps^2 <= C")
        ep = b / c1 * eps**2 / (1 + eps**2)
        alpha = 1 - b**2 / c1 * eps**2 / (1 + eps**2) ** 2
        if not 0 < alpha < 1:
            raise ValueError(f"alpha={alpha} not in (0, 1): needs b^2/c1 < (eps + 1/eps)^2")
        return {"eta": ep, "alpha": alpha,
                "T": 1 + math.log(eps**2 * (c1 - c2) / (C * c1 - c2 * eps**2)) / math.log(alpha)}
    raise ValueError(f"case={case}: accepted values are 1, 2")


def iterate_recursion(eta: float, *, b: float, c1: float, c2: float, C: float, T: int) -> np.ndarray:
    """``X_1 = C``, ``X_{t+1} = (1 - eta b + eta^2 c1) X_t + eta^2 c2`` with equality; returns ``X_1..X_T``."""
    a, beta = 1 - eta * b + eta**2 * c1, eta**2 * c2
    X = np.empty(T)
    X[0] = C
    for i in range(1, T):
        X[i] = a * X[i - 1] + beta
    return X
