"""Sparse coding with a weight-tied depth-2 ReLU autoencoder (Mukherjee 2020, Ch. 4, L1748–2470).

Generative model (§4.2, L1783–1785): signals ``y = A* x*`` with ``A*: (n, h)`` an incoherent dictionary with
unit columns, ``max_{i≠j} |<A*_i, A*_j>| = μ/√n = h^{-ξ}`` (``mu_coh`` and ``coh_exp`` here), and a
non-negative code ``x*`` with exactly ``k`` non-zeros on a uniformly random support, i.i.d. in ``[a, b]``.

Network (eq 1.3, Thm 4.3.1, L1795–1805): ``ŷ = Wᵀ ReLU(W y − ε)``, ``W: (h, n)`` (row ``W_i`` is the ``i``-th
column of ``Wᵀ``), loss ``L = ½‖ŷ − y‖²`` (eq 4.1) averaged over samples. Everything is batched over leading
dimensions: ``W: (*B, h, n)``, ``Y: (*B, n, N)``, ``eps``: scalar, ``(*B,)`` or ``(*B, h)``.

Contents: dictionaries (Gaussian; identity + Hadamard with coherence exactly ``1/√n``), codes (uniform and the
skewed ``a + (b−a)·Beta(1,5)``), the exact gradient and the thesis's proxy gradient (§4.5, L1891), support
recovery by one ReLU layer (Thm 4.3.1, L1795–1805; proof L1839–1887), Lemma 4.5.2's decomposition evaluated exactly
by enumeration of supports (§4.5.1, L1929–2030), and batched gradient descent with Armijo steps (Table 4.6.2).
"""
from __future__ import annotations

import dataclasses
import itertools
import math

import torch

Tensor = torch.Tensor
DICT_KINDS = ("gaussian", "id_hadamard")
CODE_KINDS = ("uniform", "beta15")
BIAS_PRESETS = ("theorem", "delta_only", "fixed", "zero")


# ----------------------------------------------------------------------------------------------- dictionaries
def k_of(h: int, p: float) -> int:
    """Support size ``k = max(1, round(h^p))`` ("h^p non-zero entries", §4.6 L2036; the rounding is unstated)."""
    if h < 1 or not 0 < p < 1:
        raise ValueError(f"k_of: need h >= 1 and 0 < p < 1, got h={h}, p={p}")
    return max(1, round(h ** p))


def hadamard(n: int, *, dtype: torch.dtype = torch.float64) -> Tensor:
    """Sylvester Hadamard matrix ``H: (n, n)`` with ±1 entries and ``HHᵀ = n I``; ``n`` a power of 2."""
    if n < 1 or n & (n - 1):
        raise ValueError(f"n={n}: accepted values are powers of 2")
    H = torch.ones(1, 1, dtype=dtype)
    while H.shape[0] < n:
        H = torch.cat([torch.cat([H, H], 1), torch.cat([H, -H], 1)], 0)
    return H


def make_dictionary(n: int, h: int, kind: str = "gaussian", *, generator: torch.Generator | None = None,
                    batch: tuple[int, ...] = (), dtype: torch.dtype = torch.float64) -> Tensor:
    """A dictionary ``A: (*batch, n, h)`` with unit-norm columns.

    ``'gaussian'``: i.i.d. N(0,1) entries, columns normalised (§4.6, L2032). ``'id_hadamard'``: ``[I_n, H_n/√n]``
    with ``h = 2n`` and ``n`` a power of 2, whose coherence is exactly ``1/√n = √(2/h)`` (deterministic; repeated
    over ``batch``)."""
    if kind not in DICT_KINDS:
        raise ValueError(f"kind={kind!r}: accepted values are {', '.join(DICT_KINDS)}")
    dev = generator.device if generator is not None else torch.device("cpu")
    if kind == "gaussian":
        A = torch.randn(*batch, n, h, generator=generator, dtype=dtype, device=dev)
        return A / A.norm(dim=-2, keepdim=True)
    if h != 2 * n:
        raise ValueError(f"id_hadamard needs h = 2n, got n={n}, h={h}")
    A = torch.cat([torch.eye(n, dtype=dtype), hadamard(n, dtype=dtype) / math.sqrt(n)], 1).to(dev)
    return A.expand(*batch, n, h).clone()


def coherence(A: Tensor) -> Tensor:
    """``μ/√n = max_{i≠j} |<A_i, A_j>|`` of ``A: (*B, n, h)`` → ``(*B,)`` (§4.2, L1783)."""
    G = (A.transpose(-1, -2) @ A).abs()
    G = G - torch.diag_embed(torch.diagonal(G, dim1=-2, dim2=-1))
    return G.amax(dim=(-1, -2))


def coherence_exponent(A: Tensor) -> Tensor:
    """``ξ̂ = −log(coherence)/log h`` so that coherence ``= h^{−ξ̂}`` (§4.2, L1783)."""
    return -torch.log(coherence(A)) / math.log(A.shape[-1])


# ---------------------------------------------------------------------------------------------------- codes
@dataclasses.dataclass(frozen=True)
class CodeDist:
    """Distribution of each non-zero code entry on ``[a, b]`` (§4.2, L1785).

    kind: ``'uniform'`` (U[a, b], §4.6) or ``'beta15'`` (``a + (b−a)·Beta(1, 5)``, skewed to ``a`` so that
    ``2 m1 < b`` and the off-support part of Thm 4.3.1 is not trivially true)."""

    kind: str = "uniform"  # 'uniform' | 'beta15'
    a: float = 1.0         # lower end of the support of each non-zero entry
    b: float = 10.0        # upper end

    def __post_init__(self) -> None:
        if self.kind not in CODE_KINDS:
            raise ValueError(f"kind={self.kind!r}: accepted values are {', '.join(CODE_KINDS)}")
        if not 0 <= self.a < self.b:
            raise ValueError(f"need 0 <= a < b, got a={self.a}, b={self.b}")

    @property
    def m1(self) -> float:
        """Mean of a non-zero entry."""
        w = self.b - self.a
        return self.a + w / 2 if self.kind == "uniform" else self.a + w / 6

    @property
    def m2(self) -> float:
        """Second moment of a non-zero entry: U: (a²+ab+b²)/3; Beta(1,5): E B = 1/6, E B² = 1/21."""
        a, w = self.a, self.b - self.a
        if self.kind == "uniform":
            return (self.a ** 2 + self.a * self.b + self.b ** 2) / 3
        return a * a + 2 * a * w / 6 + w * w / 21

    def sample(self, shape: tuple[int, ...], generator: torch.Generator | None, dtype=torch.float64) -> Tensor:
        dev = generator.device if generator is not None else torch.device("cpu")
        u = torch.rand(*shape, generator=generator, dtype=dtype, device=dev)
        if self.kind == "beta15":
            u = 1 - (1 - u) ** 0.2  # inverse CDF of Beta(1, 5): F(x) = 1 − (1−x)^5
        return self.a + (self.b - self.a) * u


def sample_codes(h: int, k: int, N: int, dist: CodeDist, *, generator: torch.Generator | None = None,
                 batch: tuple[int, ...] = (), dtype: torch.dtype = torch.float64) -> tuple[Tensor, Tensor]:
    """Codes ``X: (*batch, h, N)`` and support masks ``M: (*batch, h, N)`` (bool): each column has a uniform
    random support of exactly ``k`` indices (§4.6, L2036) and i.i.d. entries from ``dist`` on it."""
    if not 1 <= k <= h:
        raise ValueError(f"k={k}: accepted values are 1..h={h}")
    dev = generator.device if generator is not None else torch.device("cpu")
    keys = torch.rand(*batch, N, h, generator=generator, device=dev)
    idx = keys.topk(k, dim=-1).indices                                       # (*batch, N, k)
    M = torch.zeros(*batch, N, h, dtype=torch.bool, device=dev).scatter_(-1, idx, True)
    vals = dist.sample((*batch, N, h), generator, dtype)
    X = torch.where(M, vals, torch.zeros((), dtype=dtype, device=dev))
    return X.transpose(-1, -2).contiguous(), M.transpose(-1, -2).contiguous()


# ----------------------------------------------------------------------------------------- bias and perturbation
def bias(preset: str, *, m1: float, k: int, delta: float, mu_coh: float | None = None,
         value: float | None = None) -> float:
    """Hidden bias ε (unstated in §4.6). ``'theorem'``: ``2 m1 k (δ + μ/√n)`` (Thm 4.3.1, L1803);
    ``'delta_only'``: ``2 m1 k δ`` (coherence term dropped); ``'fixed'``: ``value``; ``'zero'``: 0."""
    if preset not in BIAS_PRESETS:
        raise ValueError(f"preset={preset!r}: accepted values are {', '.join(BIAS_PRESETS)}")
    if preset == "theorem":
        if mu_coh is None:
            raise ValueError("preset='theorem' needs mu_coh (the dictionary's coherence μ/√n)")
        return 2 * m1 * k * (delta + mu_coh)
    if preset == "delta_only":
        return 2 * m1 * k * delta
    if preset == "fixed":
        if value is None:
            raise ValueError("preset='fixed' needs value")
        return float(value)
    return 0.0


def perturb_columns(A: Tensor, r: float | Tensor, *, n_points: int, generator: torch.Generator | None = None
                    ) -> Tensor:
    """Points ``W: (*B, n_points, h, n)`` whose rows are ``W_i = A_i + r u_i``, ``u_i`` uniform unit vectors, so
    every column of ``Wᵀ`` is at distance exactly ``r`` from ``A_i`` ("columnwise δ/2 away", §4.6 L2038).
    ``A: (*B, n, h)``; ``r`` scalar or ``(*B,)``."""
    dev = A.device
    U = torch.randn(*A.shape[:-2], n_points, A.shape[-1], A.shape[-2], generator=generator, dtype=A.dtype,
                    device=dev)
    U = U / U.norm(dim=-1, keepdim=True)
    r = torch.as_tensor(r, dtype=A.dtype, device=dev).reshape(*torch.as_tensor(r).shape, 1, 1, 1)
    return A.transpose(-1, -2).unsqueeze(-3) + r * U


def column_distance(W: Tensor, A: Tensor) -> Tensor:
    """``‖W_i − A*_i‖`` for ``W: (*B, h, n)``, ``A: (*B, n, h)`` → ``(*B, h)``."""
    return (W - A.transpose(-1, -2)).norm(dim=-1)


# ---------------------------------------------------------------------------------------- autoencoder, gradients
def _eps(eps: float | Tensor, W: Tensor) -> Tensor:
    """Bias as ``(*B, h, 1)`` broadcastable against ``W y``: scalar, ``(*B,)`` or ``(*B, h)``."""
    e = torch.as_tensor(eps, dtype=W.dtype, device=W.device)
    if e.ndim == 0:
        return e
    if e.shape[-1] == W.shape[-2] and e.ndim == W.ndim - 1:
        return e.unsqueeze(-1)
    return e.reshape(*e.shape, 1, 1)


def _loss_block(W: Tensor, Y: Tensor, e: Tensor) -> Tensor:
    R = (W @ Y - e).clamp_min_(0)
    F = W.transpose(-1, -2) @ R - Y
    return 0.5 * (F * F).sum(-2).mean(-1)


def _grad_block(W: Tensor, Y: Tensor, e: Tensor) -> tuple[Tensor, Tensor]:
    """Loss and gradient of one block (no broadcasting between W and Y beyond what ``@`` does)."""
    Z = W @ Y - e                                            # (*B, h, N)
    T = Z > 0
    R = Z.clamp_min_(0)                                      # ReLU in place: Z is not used again
    F = W.transpose(-1, -2) @ R - Y                          # (*B, n, N)
    WF = (W @ F).mul_(T)                                     # T ⊙ (W F), in place
    G = (R @ F.transpose(-1, -2)).add_(WF @ Y.transpose(-1, -2)).div_(Y.shape[-1])
    return 0.5 * (F * F).sum(-2).mean(-1), G


def _blocked(fn, W: Tensor, Y: Tensor, eps: float | Tensor, block_elems: int):
    """Apply ``fn(W, Y, e)`` over the broadcast batch of ``W: (*B, h, n)``, ``Y: (*B, n, N)``, ``eps`` in blocks of
    about ``block_elems`` hidden activations (h × N per configuration), so that the (h, N) temporaries stay in cache
    on a CPU and memory stays bounded; a broadcast operand is gathered block by block, never copied whole."""
    e = _eps(eps, W)
    eb = e.shape[:-2] if e.ndim >= 2 else ()
    bshape = torch.broadcast_shapes(W.shape[:-2], Y.shape[:-2], eb)
    h, n, N = W.shape[-2], W.shape[-1], Y.shape[-1]
    B = math.prod(bshape)
    per = max(1, block_elems // max(1, h * N))
    if B <= per:
        return fn(W, Y, e)

    def flat(x: Tensor, batch: tuple[int, ...]) -> tuple[Tensor, Tensor]:
        rows = torch.arange(math.prod(batch), device=x.device).reshape(batch).expand(bshape).reshape(-1)
        return x.reshape(-1, *x.shape[len(batch):]), rows

    Wf, iW = flat(W, W.shape[:-2])
    Yf, iY = flat(Y, Y.shape[:-2])
    ef, ie = flat(e, eb) if e.ndim >= 2 else (e, None)
    outs = [fn(Wf[iW[i:i + per]], Yf[iY[i:i + per]], ef[ie[i:i + per]] if ie is not None else ef)
            for i in range(0, B, per)]
    if isinstance(outs[0], tuple):
        return (torch.cat([o[0] for o in outs]).reshape(bshape),
                torch.cat([o[1] for o in outs]).reshape(*bshape, h, n))
    return torch.cat(outs).reshape(bshape)


def loss(W: Tensor, Y: Tensor, eps: float | Tensor, *, block_elems: int = 1 << 19) -> Tensor:
    """Mean over samples of ``½‖Wᵀ ReLU(W y − ε) − y‖²`` (eq 4.1); ``W: (*B, h, n)``, ``Y: (*B, n, N)`` → ``(*B,)``.
    Differentiable (autograd) when no blocking is needed."""
    return _blocked(_loss_block_ad if W.requires_grad else _loss_block, W, Y, eps, block_elems)


def _loss_block_ad(W: Tensor, Y: Tensor, e: Tensor) -> Tensor:
    R = torch.relu(W @ Y - e)                                # out of place: autograd needs Z
    F = W.transpose(-1, -2) @ R - Y
    return 0.5 * (F * F).sum(-2).mean(-1)


def loss_and_grad(W: Tensor, Y: Tensor, eps: float | Tensor, *, block_elems: int = 1 << 19
                  ) -> tuple[Tensor, Tensor]:
    """Loss ``(*B,)`` and its exact gradient ``(*B, h, n)`` (§4.5.1, L1949):
    ``∂L/∂W_i = Th_i [(W_iᵀy − ε_i) f + (W_iᵀ f) y]``, ``f = Wᵀ ReLU(W y − ε) − y``, averaged over samples:
    ``grad = (R Fᵀ + (T ⊙ (W F)) Yᵀ) / N`` with ``T = 1[W y − ε > 0]``. Computed in cache-sized blocks of
    configurations (see :func:`_blocked`)."""
    return _blocked(_grad_block, W, Y, eps, block_elems)


def proxy_grad(W: Tensor, Y: Tensor, M: Tensor, eps: float | Tensor) -> Tensor:
    """The thesis's proxy (§4.5, L1891): every ``Th(W_iᵀy − ε_i)`` replaced by ``1[i ∈ supp x*]`` (mask
    ``M: (*B, h, N)``), so ``R := M ⊙ (W y − ε)`` is *not* rectified. Returns ``(*B, h, n)``."""
    Z = W @ Y - _eps(eps, W)
    Mf = M.to(Z.dtype)
    R = Mf * Z
    F = W.transpose(-1, -2) @ R - Y
    return (R @ F.transpose(-1, -2) + (Mf * (W @ F)) @ Y.transpose(-1, -2)) / Y.shape[-1]


def per_sample_grads(W: Tensor, Y: Tensor, eps: float | Tensor, M: Tensor | None = None) -> Tensor:
    """Per-sample gradients ``(*B, N, h, n)`` (exact, or proxy when ``M`` is given). For small problems."""
    Z = W @ Y - _eps(eps, W)
    T = (Z > 0).to(Z.dtype) if M is None else M.to(Z.dtype)
    R = T * Z
    F = W.transpose(-1, -2) @ R - Y
    WF = W @ F
    return (torch.einsum("...hN,...nN->...Nhn", R, F) + torch.einsum("...hN,...nN->...Nhn", T * WF, Y))


def gd_armijo(W0: Tensor, Y: Tensor, eps: float | Tensor, *, rel_tol: float = 2e-5, max_iter: int = 500,
              step0: float = 1.0, c: float = 1e-4, max_backtrack: int = 40) -> dict[str, Tensor]:
    """Full-batch gradient descent with a per-model Armijo backtracking step, batched over ``W0: (*B, h, n)``.

    Stops a model when ``‖∇L‖_F < rel_tol · ‖∇L(W_0)‖_F`` (Table 4.6.2, L2064) or after ``max_iter`` steps.
    Returns ``W`` (final), ``iters (*B,)``, ``grad0 (*B,)``, ``grad (*B,)``, ``loss (*B,)``."""
    W = W0.clone()
    L, G = loss_and_grad(W, Y, eps)
    g0 = G.flatten(-2).norm(dim=-1)
    step = torch.full_like(g0, step0)
    iters = torch.zeros_like(g0, dtype=torch.long)
    active = g0 > 0
    for _ in range(max_iter):
        gn2 = (G * G).sum((-1, -2))
        active = active & (gn2.sqrt() >= rel_tol * g0)
        if not active.any():
            break
        t = step.clone()
        accepted = ~active
        Wn = W
        for _ in range(max_backtrack):
            Wt = W - t[..., None, None] * G
            Lt = loss(Wt, Y, eps)
            ok = (Lt <= L - c * t * gn2) & ~accepted
            Wn = torch.where(ok[..., None, None], Wt, Wn)
            accepted = accepted | ok
            if accepted.all():
                break
            t = torch.where(accepted, t, t / 2)
        moved = active & accepted
        W = torch.where(moved[..., None, None], Wn, W)
        step = torch.where(moved, 2 * t, step)
        iters = iters + moved.long()
        active = active & accepted
        L, G = loss_and_grad(W, Y, eps)
    return dict(W=W, iters=iters, grad0=g0, grad=G.flatten(-2).norm(dim=-1), loss=L)


# ------------------------------------------------------------------------------------ support recovery (Thm 4.3.1)
def support_recovery(W: Tensor, Y: Tensor, M: Tensor, eps: float | Tensor) -> dict[str, Tensor]:
    """How the hidden layer ``r = ReLU(W y − ε)`` recovers ``supp(x*)`` (Thm 4.3.1, L1803).

    Returns (each ``(*B,)``): ``exact`` fraction of samples with ``{i: r_i > 0} == supp``; ``false_rate`` =
    P[r_i > 0 | i ∉ S] pooled over units and samples; ``miss_rate`` = P[r_i = 0 | i ∈ S];
    ``false_rate_max_unit`` = the worst unit's false-activation rate."""
    active = (W @ Y - _eps(eps, W)) > 0
    off, on = ~M, M
    exact = (active == M).all(-2).to(Y.dtype).mean(-1)
    fa = (active & off).to(Y.dtype)
    false_rate = fa.sum((-1, -2)) / off.sum((-1, -2)).clamp_min(1)
    per_unit = fa.sum(-1) / off.sum(-1).clamp_min(1)
    miss = (~active & on).to(Y.dtype).sum((-1, -2)) / on.sum((-1, -2)).clamp_min(1)
    return dict(exact=exact, false_rate=false_rate, miss_rate=miss, false_rate_max_unit=per_unit.amax(-1))


def on_support_condition(dist: CodeDist, delta: float, mu_coh: float, k: int) -> float:
    """The proof's deterministic sufficient condition for on-support units (L1863): it holds when
    ``(b + 2 m1)(δ + μ/√n) k / (1 − δ) ≤ a``; returns the left-hand side divided by ``a`` (≤ 1: holds)."""
    if not 0 <= delta < 1:
        raise ValueError(f"delta={delta}: accepted values are 0 <= delta < 1")
    lhs = (dist.b + 2 * dist.m1) * (delta + mu_coh) * k / (1 - delta)
    return lhs / dist.a if dist.a > 0 else math.inf


def false_activation_bound(k: int, dist: CodeDist) -> float:
    """Thm 4.3.1's probability bound ``exp(−2 k m1² / (b − a)²)`` for ``P[r_i ≠ 0 | i ∉ S]`` (L1803, L1887)."""
    return math.exp(-2 * k * dist.m1 ** 2 / (dist.b - dist.a) ** 2)


def uncorrelated_counterexample(k: int, m1: float, a: float, tau: float) -> dict[str, float]:
    """An *uncorrelated but dependent* code that breaks the Chernoff step of Thm 4.3.1 (which multiplies MGFs,
    L1875, so needs independence; §4.2 assumes only "uncorrelated", L1785).

    For ``j ∈ S`` (|S| = k, a power of 2): ``x_j = m1 + d·s·H[r, j] + τ η_j 1[s H[r, j] = +1]`` with ``d = m1 − a``,
    ``r`` a uniform row of the k×k Hadamard matrix ``H``, ``s`` and the ``η_j`` independent uniform signs. Given
    ``(r, s)`` the noise is mean-zero and independent, so ``E x_j = m1`` and the ``x_j`` are pairwise
    uncorrelated; ``x_j ∈ [a, 2 m1 − a + τ]``. With all ``<W_i, A*_j> = c`` the off-support pre-activation exceeds
    ``ε = 2 m1 k c`` iff ``Σ_j x_j > 2 k m1``. Returns the exact probability of that event (enumerating ``r, s``
    and the binomial count of ``η = +1``) and the theorem's bound ``exp(−2 k m1²/(b − a)²)`` for this range."""
    if k < 1 or k & (k - 1):
        raise ValueError(f"k={k}: accepted values are powers of 2")
    if not 0 < a < m1 or tau <= 0:
        raise ValueError("need 0 < a < m1 and tau > 0")
    H = hadamard(k)
    d = m1 - a
    prob = 0.0
    for r in range(k):
        for s in (-1, 1):
            hi = int((s * H[r] > 0).sum())                      # coordinates at the high base value
            base = k * m1 + d * s * float(H[r].sum())
            for B in range(hi + 1):                              # B of the hi noise signs are +1
                if base + tau * (2 * B - hi) > 2 * k * m1 + 1e-12:
                    prob += math.comb(hi, B) / 2 ** hi / (2 * k)
    lo, top = a, 2 * m1 - a + tau
    return dict(prob=prob, bound=math.exp(-2 * k * m1 ** 2 / (top - lo) ** 2), lo=lo, hi=top)


# ------------------------------------------------------------------- Lemma 4.5.2 by enumeration of supports
def _moments(k: int, m1: float, m2: float, dtype=torch.float64) -> tuple[Tensor, Tensor]:
    """``E[x_S] = m1 1`` and ``E[x_S x_Sᵀ] = m1² 11ᵀ + (m2 − m1²) I`` for a support of size k (L1973)."""
    return (torch.full((k,), m1, dtype=dtype),
            torch.full((k, k), m1 * m1, dtype=dtype) + (m2 - m1 * m1) * torch.eye(k, dtype=dtype))


def proxy_term(W: Tensor, A: Tensor, eps: Tensor, m1: float, m2: float, i: int, S: tuple[int, ...]) -> Tensor:
    """``G_i(S) = E_{x_S}[((W_iᵀy − ε_i) I + y W_iᵀ)(Σ_{j∈S}(W_jᵀy − ε_j) W_j − y)]`` for ``i ∈ S`` (L1953), in
    closed form (quadratic in x). ``W: (h, n)``, ``A: (n, h)``, ``eps: (h,)`` → ``(n,)``."""
    S = list(S)
    Ex, Exx = _moments(len(S), m1, m2, W.dtype)
    AS, WS = A[:, S], W[S]                               # (n, k), (k, n)
    P = WS.T @ (WS @ AS) - AS                            # f = P x + c
    cvec = -WS.T @ eps[S]
    w = AS.T @ W[i]                                      # W_iᵀ y = wᵀ x
    term1 = P @ Exx @ w + cvec * (w @ Ex) - eps[i] * (P @ Ex + cvec)
    term2 = AS @ Exx @ (P.T @ W[i]) + (AS @ Ex) * (W[i] @ cvec)
    return term1 + term2


def supports(h: int, k: int, i: int | None = None) -> list[tuple[int, ...]]:
    """All k-subsets of range(h) (containing ``i`` when given)."""
    return [S for S in itertools.combinations(range(h), k) if i is None or i in S]


def expected_proxy_grad(W: Tensor, A: Tensor, eps: Tensor, m1: float, m2: float, k: int, i: int) -> Tensor:
    """Exact ``∇̂_i L = E_S[1_{i∈S} G_i(S)]`` for uniform k-subsets (``q_S = 1/C(h,k)``) by enumeration."""
    h = W.shape[0]
    tot = sum(proxy_term(W, A, eps, m1, m2, i, S) for S in supports(h, k, i))
    return tot / math.comb(h, k)


def g_printed(W: Tensor, A: Tensor, eps: Tensor, m1: float, m2: float, i: int, S: tuple[int, ...], *,
              typo: bool = False) -> Tensor:
    """``G_i = G¹ + G² + G³ + G⁴ + G⁵`` exactly as displayed after the moment step (§4.5.1, L1976; D = 1).
    ``typo=True`` keeps the printed first term ``Σ_{j∈S} ε_j ε_j W_j`` of G¹; ``False`` uses ``ε_i ε_j W_j``."""
    S = list(S)
    WS, AS, eS = W[S], A[:, S], eps[S]                   # (k, n), (n, k), (k,)
    wa = W[i] @ AS                                       # (k,)  W_iᵀ A_k
    C = WS @ AS                                          # (k, k) W_jᵀ A_k  [j, k]
    ww = WS @ W[i]                                       # (k,)  W_iᵀ W_j
    off = 1 - torch.eye(len(S), dtype=W.dtype)           # k ≠ l
    g1 = ((eS * eS) if typo else (eps[i] * eS)) @ WS
    g1 = g1 - m1 * eps[i] * (C.sum(1) @ WS) - m1 * wa.sum() * (eS @ WS)
    g2 = m2 * ((C * wa).sum(1) @ WS) + m1 * m1 * (((wa[:, None] * off) @ C.T).sum(0) @ WS)
    # G³: −[m1² Σ_{j≠k} (W_iᵀA_k) A_j + m2 Σ_j (W_iᵀA_j) A_j − m1 Σ_j ε_i A_j]; G⁴ = the first two again
    sj = (wa.sum() - wa)                                  # Σ_{k≠j} W_iᵀA_k
    g3 = -(m1 * m1 * (AS @ sj) + m2 * (AS @ wa) - m1 * eps[i] * AS.sum(1))
    g4 = -(m1 * m1 * (AS @ sj) + m2 * (AS @ wa))
    # G⁵: −m1 Σ_{j,k} ε_j (W_iᵀW_j) A_k + m2 Σ_{j,k}(W_iᵀW_j)(W_jᵀA_k) A_k + m1² Σ_{j, k≠l}(W_iᵀW_j)(W_jᵀA_l) A_k
    v = ww @ C                                            # v[k] = Σ_j (W_iᵀW_j)(W_jᵀA_k)
    g5 = -m1 * (eS @ ww) * AS.sum(1) + m2 * (AS @ v) + m1 * m1 * (AS @ (v.sum() - v))
    return g1 + g2 + g3 + g4 + g5


def lemma452_coefficients(W: Tensor, A: Tensor, eps: Tensor, m1: float, m2: float, k: int, i: int
                          ) -> tuple[float, float, Tensor]:
    """``α_i, β_i, e_i`` of Lemma 4.5.2 from the printed per-support expressions (end of §4.5.1, L2018–2030),
    averaged over uniform k-subsets containing ``i`` with weight ``q_S = 1/C(h,k)``. Then
    ``∇̂_i L = α_i W_i − β_i A*_i + e_i`` should hold exactly."""
    h = W.shape[0]
    alpha, beta, e = 0.0, 0.0, torch.zeros(W.shape[1], dtype=W.dtype)
    for S in supports(h, k, i):
        S_ = list(S)
        wa = W[i] @ A[:, S_]                                   # W_iᵀA_k, k∈S
        ww = W[S_] @ W[i]                                      # W_iᵀW_j, j∈S
        C = W[S_] @ A[:, S_]                                   # W_jᵀA_k
        pos = S_.index(i)
        notI = torch.ones(len(S_), dtype=torch.bool)
        notI[pos] = False
        eS = eps[S_]
        a_S = (m2 * (wa * wa).sum() + m1 * m1 * (wa.sum() ** 2 - (wa * wa).sum())
               - 2 * m1 * eps[i] * wa.sum() + eps[i] ** 2)
        b_S = (2 * m1 * m1 * wa[notI].sum() + 2 * m2 * wa[pos] - m1 * eps[i] + m1 * (eS * ww).sum()
               - m2 * (ww * C[:, pos]).sum() - m1 * m1 * (ww[:, None] * C[:, notI]).sum())
        WSo, ASo = W[S_][notI], A[:, S_][:, notI]              # j ≠ i
        Co = C[notI]                                           # rows j≠i: W_jᵀA_k for k∈S
        off = 1 - torch.eye(len(S_), dtype=W.dtype)
        e_S = (eps[i] * eS[notI]) @ WSo
        e_S = e_S - m1 * eps[i] * (Co.sum(1) @ WSo) - m1 * wa.sum() * (eS[notI] @ WSo)
        e_S = e_S + m2 * ((Co * wa).sum(1) @ WSo) + m1 * m1 * (((wa[:, None] * off) @ Co.T).sum(0) @ WSo)
        # −2 m1² Σ_{j≠i, k≠j} (W_iᵀA_k) A_j − 2 m2 Σ_{j≠i}(W_iᵀA_j) A_j + m1 Σ_{j≠i} ε_i A_j
        e_S = e_S - 2 * m1 * m1 * (ASo @ (wa.sum() - wa[notI])) - 2 * m2 * (ASo @ wa[notI]) \
            + m1 * eps[i] * ASo.sum(1)
        v = ww @ C                                             # Σ_j (W_iᵀW_j)(W_jᵀA_k)
        e_S = e_S - m1 * (eS @ ww) * ASo.sum(1) + m2 * (ASo @ v[notI]) + m1 * m1 * (ASo @ (v.sum() - v[notI]))
        alpha, beta, e = alpha + float(a_S), beta + float(b_S), e + e_S
    q = math.comb(h, k)
    return alpha / q, beta / q, e / q


# ------------------------------------------------- exact expected gradient for one-sparse codes (Thm 4.3.2 check)
def expected_grad_k1(W: Tensor, A: Tensor, eps: float | Tensor, dist: CodeDist) -> Tensor:
    """Exact ``E[∂L/∂W]: (h, n)`` for one-sparse codes (k = 1: ``y = A*_j x``, j uniform, x ~ U[a, b]) when no
    off-support unit can fire, i.e. ``max_{i≠j} <W_i, A*_j> b ≤ ε_i`` (raises ValueError otherwise).

    Only unit j is then active, iff ``x > x0 = ε_j / c_j`` with ``c_j = <W_j, A*_j>``, and (eq 4.1, §4.5.1)
    ``∂L/∂W_j = (c x − ε)² W_j + x[(c x − ε)(‖W_j‖² − 1) − c x] A*_j``: a polynomial in x, integrated exactly.
    So ``E[∂L/∂W_j] = (1/h)(α_j W_j − β_j A*_j)`` (the form of Lemma 4.5.2 with ``e_j = 0``)."""
    if dist.kind != "uniform":
        raise ValueError("expected_grad_k1: accepted dist.kind is 'uniform'")
    h = W.shape[0]
    e = torch.as_tensor(eps, dtype=W.dtype).expand(h)
    C = W @ A                                                    # (h, h): C[i, j] = <W_i, A*_j>
    off = C - torch.diag(torch.diag(C))
    if bool((off.clamp_min(0) * dist.b > e[:, None] + 1e-12).any()):
        raise ValueError("expected_grad_k1: an off-support unit can fire (max_{i≠j} <W_i,A_j> b > ε_i)")
    c = torch.diag(C)
    if bool((c <= 0).any()):
        raise ValueError("expected_grad_k1: needs <W_j, A*_j> > 0 for every j")
    lo = torch.clamp(e / c, min=dist.a, max=dist.b)
    width = dist.b - dist.a

    def mom(m: int) -> Tensor:                                  # E[x^m 1{x > x0}]
        return (dist.b ** (m + 1) - lo ** (m + 1)) / ((m + 1) * width)

    m0, m1, m2 = mom(0), mom(1), mom(2)
    alpha = c * c * m2 - 2 * c * e * m1 + e * e * m0            # E[(c x − ε)²]
    wn2 = (W * W).sum(-1)
    beta = -((c * m2 - e * m1) * (wn2 - 1) - c * m2)             # −E[x((cx−ε)(‖W‖²−1) − c x)]
    return (alpha[:, None] * W - beta[:, None] * A.T) / h


# ------------------------------------------------------------ tied autoencoders on images (§4.1.1, L1769–1777)
def init_tied(n_models: int, d: int, h: int, *, generator: torch.Generator | None = None,
              dtype: torch.dtype = torch.float32) -> dict[str, Tensor]:
    """Glorot-uniform ``W: (S, h, d)`` and zero biases ``b1: (S, h)``, ``b2: (S, d)`` for S tied autoencoders."""
    lim = math.sqrt(6 / (h + d))
    dev = generator.device if generator is not None else torch.device("cpu")
    W = (2 * torch.rand(n_models, h, d, generator=generator, dtype=dtype, device=dev) - 1) * lim
    return dict(W=W, b1=torch.zeros(n_models, h, dtype=dtype, device=dev),
                b2=torch.zeros(n_models, d, dtype=dtype, device=dev))


def tied_forward(P: dict[str, Tensor], X: Tensor, arch: str) -> Tensor:
    """``X: (S, B, d)`` → reconstructions ``(S, B, d)``. ``arch='one'``: ``Wᵀ ReLU(W y + b1) + b2`` (net (i));
    ``arch='two'``: ``ReLU(Wᵀ ReLU(W y + b1) + b2)`` — net (ii) read as a second hidden layer of width d whose
    activations are the output through a fixed identity (L1771)."""
    if arch not in ("one", "two"):
        raise ValueError(f"arch={arch!r}: accepted values are 'one', 'two'")
    H = torch.relu(X @ P["W"].transpose(-1, -2) + P["b1"][:, None, :])
    out = H @ P["W"] + P["b2"][:, None, :]
    return torch.relu(out) if arch == "two" else out


def train_tied(X: Tensor, h: int, arch: str, *, n_models: int, steps: int, batch: int, lr: float = 1e-3,
               rho: float = 0.9, generator: torch.Generator | None = None) -> tuple[dict[str, Tensor], Tensor]:
    """Train ``n_models`` independent tied autoencoders at once with RMSProp (``torch.optim.RMSprop``, decay
    ``rho`` = TensorFlow's default 0.9) on ``½‖ŷ − y‖²`` averaged over a mini-batch (same batches for all
    models). ``X: (N, d)``. Returns the parameters and the loss curve ``(steps, S)``."""
    P = init_tied(n_models, X.shape[1], h, generator=generator, dtype=X.dtype)
    for v in P.values():
        v.requires_grad_(True)
    opt = torch.optim.RMSprop(list(P.values()), lr=lr, alpha=rho, eps=1e-8)
    curve = torch.empty(steps, n_models)
    dev = generator.device if generator is not None else torch.device("cpu")
    for t in range(steps):
        idx = torch.randint(0, X.shape[0], (batch,), generator=generator, device=dev)
        xb = X[idx].expand(n_models, -1, -1)
        L = 0.5 * ((tied_forward(P, xb, arch) - xb) ** 2).sum(-1).mean(-1)     # (S,)
        opt.zero_grad()
        L.sum().backward()
        opt.step()
        curve[t] = L.detach()
    return {k: v.detach() for k, v in P.items()}, curve


def nearest_mean_accuracy(X_train: Tensor, y_train: Tensor, X: Tensor, y: Tensor) -> Tensor:
    """Accuracy of the nearest-class-mean classifier fitted on ``(X_train, y_train)`` applied to ``X: (*S, B, d)``
    with labels ``y: (B,)`` → ``(*S,)``: whether reconstructions keep the digit's identity."""
    classes = torch.unique(y_train)
    means = torch.stack([X_train[y_train == c].mean(0) for c in classes])          # (C, d)
    pred = classes[torch.cdist(X, means.expand(*X.shape[:-2], -1, -1)).argmin(-1)]
    return (pred == y).to(X.dtype).mean(-1)
