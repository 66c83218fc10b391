"""Exact ReLU-net constructions of thesis Ch. 2 (document 003): PWL ⇄ ReLU nets, max trees, depth.

Used by the chapter ``relu_function_spaces``. Every construction returns a :class:`ReLUNet` (explicit
float64 weights) whose depth and size are reported as in Def 1 (L349): a depth-(k+1) net has k hidden
layers; its size is the number of hidden units w_1+…+w_k.

Implements
- ``max2_net`` — Fig 2.A.1 / informal intro: max{x1,x2} with 4 units (x1+x2, -(x1+x2), x2-x1, x1-x2).
- ``max_tree_net`` — Lemma 2.A.4 (L1032): a tree of pairwise maxima of m affine maps, ⌈log2 m⌉ hidden layers.
- ``lattice_to_net`` — Thm 2.2.1 (L472) from the Wang–Sun form (2.1) f = Σ_j s_j max_{i∈S_j} ℓ_i.
- ``pwl_to_relu2`` — Thm 2.2.2 / Cor 2.A.1 (L988-1014), with the corrected back-substitution.
- ``zigzag_pwl`` / ``zigzag_net`` — Def 5 (L522) maps h_a and their k-fold composition H (Thm 2.3.2).
- ``lemma_2a6_bound`` / ``min_size_for_pieces`` / ``max_bound_pieces`` — Lemmas 2.A.6-2.A.7 (L1047-1062).
- ``max0_x1_x2_net`` and ``diagonal_jump_witness`` — Prop 2.5.2 (L806, App. 2.B).

Checks on random instances (what the chapter's claims measure): ``pwl_mismatch`` (exact gap between two PWL
functions), ``max_tree_survey``, ``triangle_check``, ``lattice_survey``, ``thm222_survey``,
``random_net_piece_counts``, ``relu_doubling_ratios``, ``lemma_2a7_converse_holds``, ``witness_report``. The
zig-zag family's checks (Lemma 2.3.5, Thm 2.3.1, Cors 2.3.3-2.3.4) are in :mod:`lib.depth_separation`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from .pwl import PWL, propagate_net, random_pwl

__all__ = [
    "ReLUNet", "max2_net", "max_tree_net", "lattice_to_net", "pwl_to_relu2", "zigzag_pwl",
    "zigzag_compose_pwl", "zigzag_net", "hard_function_piece_formula", "triangle_net", "max_bound_pieces",
    "max0_x1_x2_net", "diagonal_jump_witness", "lemma_2a6_bound", "min_size_for_pieces", "pwl_mismatch",
    "max_tree_survey", "triangle_check", "lattice_survey", "thm222_survey", "Thm222Survey", "random_net_piece_counts",
    "relu_doubling_ratios", "lemma_2a7_converse_holds", "witness_report",
]


@dataclass
class ReLUNet:
    """A ReLU net x -> W_{k+1} ReLU(… ReLU(W_1 x + b_1) …) + b_{k+1}.

    weights[i]: (w_{i+1}, w_i), biases[i]: (w_{i+1},), float64. ``hidden_layers`` = k, ``depth`` = k+1.
    """

    weights: list[np.ndarray]
    biases: list[np.ndarray]
    note: str = field(default="")

    def __post_init__(self) -> None:
        if len(self.weights) != len(self.biases) or not self.weights:
            raise ValueError("weights and biases must be non-empty and of equal length")
        self.weights = [np.asarray(W, dtype=np.float64) for W in self.weights]
        self.biases = [np.asarray(b, dtype=np.float64).reshape(-1) for b in self.biases]
        for i, (W, b) in enumerate(zip(self.weights, self.biases)):
            if W.ndim != 2 or W.shape[0] != b.shape[0]:
                raise ValueError(f"layer {i}: W {W.shape} and b {b.shape} are inconsistent")
            if i and W.shape[1] != self.weights[i - 1].shape[0]:
                raise ValueError(f"layer {i}: input width {W.shape[1]} != {self.weights[i - 1].shape[0]}")

    @property
    def input_dim(self) -> int:
        return int(self.weights[0].shape[1])

    @property
    def widths(self) -> list[int]:
        """Hidden widths [w_1, …, w_k]."""
        return [int(W.shape[0]) for W in self.weights[:-1]]

    @property
    def hidden_layers(self) -> int:
        return len(self.weights) - 1

    @property
    def depth(self) -> int:
        """Def 1 depth k+1."""
        return len(self.weights)

    @property
    def size(self) -> int:
        """Def 1 size w_1+…+w_k (number of ReLU units)."""
        return int(sum(self.widths))

    def __call__(self, X) -> np.ndarray:
        """Evaluate on X: (N, n) (or (N,) for n = 1) -> (N,) for a scalar output, else (N, out)."""
        X = np.asarray(X, dtype=np.float64)
        if X.ndim == 1:
            X = X[:, None]
        if X.shape[1] != self.input_dim:
            raise ValueError(f"X must have {self.input_dim} columns, got {X.shape[1]}")
        h = X.T
        for i, (W, b) in enumerate(zip(self.weights, self.biases)):
            h = W @ h + b[:, None]
            if i < len(self.weights) - 1:
                h = np.maximum(h, 0.0)
        return h[0] if h.shape[0] == 1 else h.T

    def to_pwl(self) -> PWL:
        """Exact PWL function of an R -> R net (layerwise propagation, lib.pwl.propagate_net)."""
        if self.input_dim != 1:
            raise ValueError(f"to_pwl needs a net R -> R, input_dim is {self.input_dim}")
        return propagate_net(self.weights, self.biases)

    def to_torch(self, device=None, dtype=None):
        """The same net as a ``torch.nn.Sequential`` of Linear/ReLU (float64 by default)."""
        import torch

        dtype = dtype or torch.float64
        mods: list = []
        for i, (W, b) in enumerate(zip(self.weights, self.biases)):
            lin = torch.nn.Linear(W.shape[1], W.shape[0]).to(device=device, dtype=dtype)
            with torch.no_grad():
                lin.weight.copy_(torch.as_tensor(W, dtype=dtype))
                lin.bias.copy_(torch.as_tensor(b, dtype=dtype))
            mods.append(lin)
            if i < len(self.weights) - 1:
                mods.append(torch.nn.ReLU())
        return torch.nn.Sequential(*mods)


# ---------------------------------------------------------------------------------------- max trees
def max2_net() -> ReLUNet:
    """Fig 2.A.1: max{x1,x2} = ½ReLU(x1+x2) - ½ReLU(-x1-x2) + ½ReLU(x2-x1) + ½ReLU(x1-x2) (size 4)."""
    W1 = np.array([[1.0, 1.0], [-1.0, -1.0], [-1.0, 1.0], [1.0, -1.0]])
    return ReLUNet([W1, np.array([[0.5, -0.5, 0.5, 0.5]])], [np.zeros(4), np.zeros(1)], "max2 (Fig 2.A.1)")


def _max_tree_blocks(m: int, levels: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per level: (U, C) with hidden = ReLU(U @ vals), next vals = C @ hidden (no biases needed).

    Pairs (u,v) use 4 units [u+v, -u-v, u-v, v-u] -> ½(h0-h1)+½(h2+h3) = max(u,v);
    an unpaired value passes through as ReLU(u) - ReLU(-u) (2 units; the proof of Lemma 2.A.4, Mukherjee 2020,
    L1032, omits these pass-throughs).
    ``levels`` may exceed ⌈log2 m⌉: extra levels are pure pass-throughs (padding for lattice_to_net).
    """
    blocks = []
    c = m
    for _ in range(levels):
        npair, odd = c // 2, c % 2
        units = 4 * npair + 2 * odd
        nxt = npair + odd
        U = np.zeros((units, c))
        C = np.zeros((nxt, units))
        for p in range(npair):
            u, v = 2 * p, 2 * p + 1
            U[4 * p:4 * p + 4, [u, v]] = [[1, 1], [-1, -1], [1, -1], [-1, 1]]
            C[p, 4 * p:4 * p + 4] = [0.5, -0.5, 0.5, 0.5]
        if odd:
            U[4 * npair:4 * npair + 2, c - 1] = [1, -1]
            C[npair, 4 * npair:4 * npair + 2] = [1, -1]
        blocks.append((U, C))
        c = nxt
    return blocks


def max_tree_net(A, c) -> ReLUNet:
    """Lemma 2.A.4: x -> max_i (A_i·x + c_i) as a ReLU net with ⌈log2 m⌉ hidden layers.

    A: (m, n), c: (m,). Size = 4·(#pairs) + 2·(#pass-throughs) summed over levels ≤ 4(m-1)+2⌈log2 m⌉.
    """
    A = np.atleast_2d(np.asarray(A, dtype=np.float64))
    c = np.asarray(c, dtype=np.float64).reshape(-1)
    if A.shape[0] != c.shape[0] or A.shape[0] < 1:
        raise ValueError(f"A (m,n) and c (m,) must agree with m >= 1, got {A.shape}, {c.shape}")
    m = A.shape[0]
    return lattice_to_net([(1.0, A, c)]) if m > 1 else ReLUNet([A], [c], "affine (m=1)")


def lattice_to_net(terms: Sequence[tuple[float, np.ndarray, np.ndarray]]) -> ReLUNet:
    """Thm 2.2.1 / eq. (2.1): f(x) = Σ_j s_j max_{i∈S_j} (A_j[i]·x + c_j[i]) as one ReLU net.

    terms: list of (s_j, A_j (|S_j|, n), c_j (|S_j|,)). Each term is a max tree (Lemma 2.A.4), shallower
    trees are padded with pass-through units, and the trees run in parallel (Lemma 2.A.3), so the net has
    ⌈log2 max_j |S_j|⌉ hidden layers (>= 1), i.e. depth ⌈log2 max|S_j|⌉ + 1 ≤ ⌈log2(n+1)⌉ + 1.
    """
    if not terms:
        raise ValueError("terms must be non-empty")
    n = np.atleast_2d(terms[0][1]).shape[1]
    L = max(1, max(int(np.ceil(np.log2(np.atleast_2d(A).shape[0]))) for _, A, _ in terms))
    per_term = []
    for s, A, c in terms:
        A = np.atleast_2d(np.asarray(A, dtype=np.float64))
        c = np.asarray(c, dtype=np.float64).reshape(-1)
        if A.shape[1] != n or A.shape[0] != c.shape[0]:
            raise ValueError("every term needs A (|S_j|, n) and c (|S_j|,) with a common n")
        per_term.append((float(s), A, c, _max_tree_blocks(A.shape[0], L)))
    weights, biases = [], []
    for lvl in range(L):
        Us = [blk[lvl][0] for *_, blk in per_term]
        Cprev = [blk[lvl - 1][1] for *_, blk in per_term] if lvl else None
        rows = sum(U.shape[0] for U in Us)
        if lvl == 0:
            W = np.concatenate([U @ A for (_, A, _, _), U in zip(per_term, Us)], axis=0)
            b = np.concatenate([U @ c for (_, _, c, _), U in zip(per_term, Us)])
        else:
            cols = sum(C.shape[1] for C in Cprev)
            W = np.zeros((rows, cols))
            r0 = c0 = 0
            for U, C in zip(Us, Cprev):
                W[r0:r0 + U.shape[0], c0:c0 + C.shape[1]] = U @ C
                r0 += U.shape[0]
                c0 += C.shape[1]
            b = np.zeros(rows)
        weights.append(W)
        biases.append(b)
    out = np.concatenate([s * blk[L - 1][1][0] for s, _, _, blk in per_term])[None, :]
    weights.append(out)
    biases.append(np.zeros(1))
    return ReLUNet(weights, biases, f"lattice form, {len(terms)} terms")


def triangle_net(a: float, w: float) -> ReLUNet:
    """Informal intro: max{0, 1/w - |x-a|/w²} = (1/w²)[ReLU(x-a+w) - 2ReLU(x-a) + ReLU(x-a-w)]."""
    if not w > 0:
        raise ValueError(f"w must be > 0, got {w}")
    W1 = np.ones((3, 1))
    b1 = np.array([-a + w, -a, -a - w])
    return ReLUNet([W1, np.array([[1.0, -2.0, 1.0]]) / w**2], [b1, np.zeros(1)], "triangle")


def pwl_mismatch(f: PWL, g: PWL) -> float:
    """Exact gap between two PWL functions R -> R: max(|f − g| at the breakpoints of f − g, |difference of the end
    slopes|). It is 0 iff f = g on R, and equals sup_R |f − g| (attained at a breakpoint) when the end slopes agree."""
    d = f - g
    return float(max(np.abs(d.v).max(), abs(d.sl), abs(d.sr)))


def max_tree_survey(ms: Sequence[int], rng: np.random.Generator, n_points: int = 10_000) -> np.ndarray:
    """Lemma 2.A.4 (L1032) on random inputs: for each m, the max tree of the m coordinates (:func:`max_tree_net`)
    against ``np.max`` on ``n_points`` N(0, I_m) draws. -> (len(ms), 4) rows [m, hidden layers, size, max |error|]."""
    rows = []
    for m in ms:
        X = rng.normal(size=(n_points, m))
        net = max_tree_net(np.eye(m), np.zeros(m))
        rows.append((m, net.hidden_layers, net.size, float(np.abs(net(X) - X.max(1)).max())))
    return np.array(rows)


def triangle_check(a: float, w: float) -> tuple[int, int, int, float]:
    """The informal intro's puzzle (L313): (size, hidden layers, exact pieces on R, :func:`pwl_mismatch`) of
    :func:`triangle_net` (a, w) against the triangle through (a − w, 0), (a, 1/w), (a + w, 0), zero outside."""
    net = triangle_net(a, w)
    g = net.to_pwl()
    return net.size, net.hidden_layers, g.num_pieces(), pwl_mismatch(g, PWL.from_points([a - w, a, a + w],
                                                                                         [0.0, 1 / w, 0.0], 0.0, 0.0))


def lattice_survey(ns: Sequence[int], rng: np.random.Generator, n_terms: int = 5, n_points: int = 10_000
                   ) -> list[tuple[int, int, int, int, float]]:
    """Thm 2.2.1 (L472) on random instances: for each input dimension n, ``n_terms`` terms s_j max of n + 1 affine
    maps (s_j = ±1, N(0, 1) coefficients) made one net by :func:`lattice_to_net` and compared with the form (2.1) on
    ``n_points`` N(0, I_n) draws. -> rows (n, depth, bound ⌈log2(n+1)⌉ + 1, size, max |error|)."""
    rows = []
    for n in ns:
        terms = [(float(rng.choice([-1, 1])), rng.normal(size=(n + 1, n)), rng.normal(size=n + 1))
                 for _ in range(n_terms)]
        net = lattice_to_net(terms)
        X = rng.normal(size=(n_points, n))
        ref = sum(s * (X @ A.T + c).max(1) for s, A, c in terms)
        rows.append((n, net.depth, math.ceil(math.log2(n + 1)) + 1, net.size, float(np.abs(net(X) - ref).max())))
    return rows


# ---------------------------------------------------------------------------------------- Thm 2.2.2
def pwl_to_relu2(f: PWL, printed: bool = False) -> ReLUNet:
    """Thm 2.2.2 / Cor 2.A.1: a PWL R -> R with m pieces as a 2-layer net of size m (m-1 if an end slope is 0).

    Units: g_j(x) = t_j(x-a_j)1{x≤a_j} = -t_j ReLU(a_j - x), j = 1..m-1, and r·ReLU(x - a_{m-1}); output
    bias b_{m-1}. The t_j solve (corrected; the thesis prints a_{j-1} - a_j, L1010)
    b_i - b_{m-1} = Σ_{j>i} t_j (a_i - a_j) by back-substitution from i = m-2 down, then t_1 from s_L = Σ t_j;
    r = s_R (unit dropped when 0).
    ``printed=True`` uses the thesis's printed equations b_i - b_{m-1} = Σ_{j>i} t_j (a_{j-1} - a_j)
    instead (to exhibit that they are wrong for m ≥ 4). If s_L = 0 (and s_R ≠ 0) the mirror construction
    (x -> -x) is used so that the size is m-1.
    """
    g = f.simplify()
    a, bvals = g.t, g.v
    m = a.size + 1
    sL, sR = g.sl, g.sr
    if m == 1 or (a.size == 1 and sL == sR):
        # affine: two units ReLU(x) - ReLU(-x) carry the slope (an affine map needs a hidden layer here)
        return ReLUNet([np.array([[1.0], [-1.0]]), np.array([[sL, -sL]])],
                       [np.zeros(2), np.array([g(0.0)[()]])], "affine")
    if sL == 0.0 and sR != 0.0:
        mirrored = PWL(-a[::-1], bvals[::-1], -sR, -sL)
        net = pwl_to_relu2(mirrored, printed)
        W1 = -net.weights[0]
        return ReLUNet([W1, net.weights[1]], net.biases, "Thm 2.2.2 (mirrored)")
    K = m - 1
    t = np.zeros(K + 1)  # 1-based t[1..K]
    for i in range(K - 1, 0, -1):  # i = m-2 .. 1 (1-based)
        acc = sum(t[j] * ((a[i - 1] - a[j - 1]) if not printed else (a[j - 2] - a[j - 1]))
                  for j in range(i + 2, K + 1))
        coef = (a[i - 1] - a[i]) if not printed else (a[i - 1] - a[i])  # j = i+1 term: a_i - a_{i+1}
        t[i + 1] = (bvals[i - 1] - bvals[K - 1] - acc) / coef
    t[1] = sL - t[2:].sum()
    # units: -t_j ReLU(a_j - x) for j=1..K, and r ReLU(x - a_K)
    W1 = [[-1.0]] * K
    b1 = list(a)
    c = list(-t[1:])
    if sR != 0.0:
        W1.append([1.0])
        b1.append(-a[-1])
        c.append(sR)
    return ReLUNet([np.array(W1), np.array([c])], [np.array(b1), np.array([bvals[-1]])],
                   "Thm 2.2.2" + (" (printed eqs)" if printed else ""))


class Thm222Row(NamedTuple):
    """One random PWL function f and its Thm 2.2.2 net: ``m``, ``flat`` end (None, "L", "R"), exact ``pieces`` of f,
    net ``size``, ``error`` (:func:`pwl_mismatch` and a sampled cross-check), ``printed_error`` of the net built with
    the printed equations, and the exact ``net_pieces``."""

    m: int
    flat: str | None
    pieces: int
    size: int
    error: float
    printed_error: float
    net_pieces: int


@dataclass(frozen=True)
class Thm222Survey:
    """The rows of :func:`thm222_survey` and what Thm 2.2.2 / Cor 2.A.1 ask of them."""

    rows: list[Thm222Row]

    @property
    def max_error(self) -> float:
        return max(r.error for r in self.rows)

    @property
    def sizes_ok(self) -> bool:
        """Size m, or m − 1 when an end slope is 0."""
        return all(r.size == r.pieces - (1 if r.flat else 0) for r in self.rows)

    @property
    def pieces_ok(self) -> bool:
        """The net has exactly the pieces of f."""
        return all(r.net_pieces == r.pieces for r in self.rows)

    def printed_wrong_m(self, tol: float = 1e-6) -> list[int]:
        """The m for which the printed equations give a net off by more than ``tol`` (some end case)."""
        return sorted({r.m for r in self.rows if r.printed_error > tol})

    def printed_exact_m(self, tol: float = 1e-9) -> list[int]:
        """The m for which the printed equations give a net within ``tol`` (some end case)."""
        return sorted({r.m for r in self.rows if r.printed_error <= tol})


def thm222_survey(ms: Sequence[int], rng: np.random.Generator, n_check: int = 2000) -> Thm222Survey:
    """Thm 2.2.2 / Cor 2.A.1 (L988-1018) on random functions: for each m and each end case (None, "L", "R"),
    f = :func:`lib.pwl.random_pwl` (m, rng, flat) made a 2-layer net with the corrected and with the printed
    back-substitution (:func:`pwl_to_relu2`); errors are exact (:func:`pwl_mismatch`), the corrected one also
    cross-checked on ``n_check`` points of [t_0 − 1, t_K + 1]."""
    rows = []
    for m in ms:
        for flat in (None, "L", "R"):
            f = random_pwl(m, rng, flat)
            net, net_p = pwl_to_relu2(f), pwl_to_relu2(f, printed=True)
            g = net.to_pwl()
            x = np.linspace(f.t[0] - 1, f.t[-1] + 1, n_check)
            err = max(pwl_mismatch(g, f), float(np.abs(net(x) - f(x)).max()))
            rows.append(Thm222Row(m, flat, f.num_pieces(), net.size, err, pwl_mismatch(net_p.to_pwl(), f),
                                  g.num_pieces()))
    return Thm222Survey(rows)


# ---------------------------------------------------------------------------------------- zig-zags
def _check_simplex(a, M: float) -> np.ndarray:
    a = np.asarray(a, dtype=np.float64).reshape(-1)
    if not (M > 0 and a.size >= 1 and np.all(np.diff(np.concatenate(([0.0], a, [M]))) > 0)):
        raise ValueError(f"a must lie in Δ_M^p = {{0 < a_1 < … < a_p < M}} with M > 0, got a={a}, M={M}")
    return a


def zigzag_pwl(a, M: float = 1.0) -> PWL:
    """Def 5: h_a for a ∈ Δ_M^p: 0 on (-inf,0], h(a_i) = M(i mod 2), h(M) = M - h(a_p), linear beyond M."""
    a = _check_simplex(a, M)
    p = a.size
    pts = np.concatenate(([0.0], a, [M]))
    vals = np.concatenate(([0.0], M * (np.arange(1, p + 1) % 2), [M - M * (p % 2)]))
    sr = (vals[-1] - vals[-2]) / (pts[-1] - pts[-2])
    return PWL.from_points(pts, vals, 0.0, sr)


def zigzag_compose_pwl(a_list: Sequence, M: float = 1.0) -> PWL:
    """H_{a¹..a^k} = h_{a^k} ∘ … ∘ h_{a¹} as an exact PWL (vectorised composition)."""
    if len(a_list) < 1:
        raise ValueError("a_list must hold at least one vector")
    H = zigzag_pwl(a_list[0], M)
    for a in a_list[1:]:
        H = zigzag_pwl(a, M).compose(H)
    return H


def _zigzag_coeffs(a, M: float) -> tuple[np.ndarray, np.ndarray]:
    """Cor 2.A.1 form h_a(x) = Σ_{j=0}^{w-1} c_j ReLU(x - a_j), a_0 = 0 (w = p+1 units)."""
    a = _check_simplex(a, M)
    knots = np.concatenate(([0.0], a))
    ends = np.concatenate((a, [M]))
    sig = (-1.0) ** np.arange(knots.size) * M / (ends - knots)
    c = np.concatenate(([sig[0]], np.diff(sig)))
    return knots, c


def zigzag_net(a_list: Sequence, M: float = 1.0) -> ReLUNet:
    """Thm 2.3.2: H as a (k+1)-layer net whose hidden layers have width w_i = p_i + 1 (size Σ w_i).

    Layer i computes ReLU(H_{i-1}(x) - a^i_j); the combination H_{i-1} = Σ c^{i-1}_j (unit j) is folded
    into layer i's weights (outer(1, c^{i-1})).
    """
    weights, biases = [], []
    prev_c = None
    for a in a_list:
        knots, c = _zigzag_coeffs(a, M)
        if prev_c is None:
            W = np.ones((knots.size, 1))
        else:
            W = np.outer(np.ones(knots.size), prev_c)
        weights.append(W)
        biases.append(-knots)
        prev_c = c
    weights.append(prev_c[None, :])
    biases.append(np.zeros(1))
    return ReLUNet(weights, biases, "zig-zag H (Thm 2.3.2)")


def hard_function_piece_formula(p_list: Sequence[int]) -> tuple[int, int]:
    """(pieces in [0,M], pieces on R) of H for breakpoint counts p_i (derived rule, checked by exact counts in tests/).

    In [0,M]: ∏(p_i+1). On R: +1 if p_1..p_{k-1} are all even (the right tail merges with the last
    piece), else +2 (an inner odd p sends the tail negative, giving a separate zero piece).
    """
    p = [int(x) for x in p_list]
    if not p or min(p) < 1:
        raise ValueError(f"p_list must be non-empty positive integers, got {p_list}")
    inner = int(np.prod([x + 1 for x in p], dtype=object))
    return inner, inner + (1 if all(x % 2 == 0 for x in p[:-1]) else 2)


@dataclass(frozen=True)
class HardMemberCheck:
    """What :func:`check_hard_member` verified for one member H of the hard family (Lemma 2.3.5, Thm 2.3.2)."""

    pieces_in_range: int        # exact pieces of H in [0, M]
    pieces_on_line: int         # exact pieces of H on R
    formula: tuple[int, int]    # hard_function_piece_formula: (∏ w_i, + tails)
    full_range: bool            # every piece in [0, M] sweeps the whole range [0, M]
    net_max_error: float | None  # max |net − H| on a grid (None: the net was not built, w^k too large)
    net_tolerance: float | None  # float64 error budget: 64 · eps · Lip(H) · (M + 1/2)
    net_shape_ok: bool | None    # widths [w]*k and size w·k

    @property
    def ok(self) -> bool:
        net_ok = self.net_max_error is None or (bool(self.net_shape_ok)
                                                and self.net_max_error <= (self.net_tolerance or 0.0))
        return (self.pieces_in_range == self.formula[0] and self.pieces_on_line == self.formula[1]
                and self.full_range and net_ok)


def check_hard_member(a_list: Sequence, M: float, *, max_net_pieces: int = 2000, grid: int = 20001) -> HardMemberCheck:
    """Verify one member H = h_{a^k} ∘ … ∘ h_{a^1} of the hard family exactly (Lemma 2.3.5, Thm 2.3.2, L506–538).

    ``a_list``: k sorted vectors, each in the open simplex Δ_M^{w-1}. The piece counts come from exact PWL
    composition; the (k+1)-layer ReLU net of Thm 2.3.2 (built when w^k <= ``max_net_pieces``) is compared
    with H on ``grid`` points of [−1/2, M + 1/2] against a float64 error budget proportional to H's Lipschitz
    constant ∏ (M / smallest gap of a^i), so that steep members (close breakpoints) are not failed for rounding.
    """
    w = len(a_list[0]) + 1
    if any(len(a) + 1 != w for a in a_list):
        raise ValueError("a_list: every vector must have the same length w - 1")
    H = zigzag_compose_pwl(a_list, M)
    formula = hard_function_piece_formula([w - 1] * len(a_list))
    kin = H.breakpoints()
    pts = np.concatenate([[0.0], kin[(kin > 0) & (kin < M)], [M]])
    full = bool(np.allclose(np.abs(np.diff(H(pts))), M, atol=1e-8 * M))
    err = tol = shape_ok = None
    if w ** len(a_list) <= max_net_pieces:
        net = zigzag_net(a_list, M)
        xs = np.linspace(-0.5, M + 0.5, grid)
        err = float(np.abs(net(xs) - H(xs)).max())
        lip = float(np.prod([M / np.diff(np.concatenate(([0.0], np.asarray(a, float), [M]))).min() for a in a_list]))
        tol = 64 * np.finfo(float).eps * lip * (M + 0.5)
        shape_ok = net.widths == [w] * len(a_list) and net.size == w * len(a_list)
    return HardMemberCheck(H.pieces_in(0, M), H.num_pieces(), formula, full, err, tol, shape_ok)


def stack_nets(nets: Sequence[ReLUNet]) -> ReLUNet:
    """The composition nets[-1] ∘ … ∘ nets[0] as one net: each net's affine output layer is merged into the next
    net's first hidden layer, so the hidden layers and sizes add up (Def 1, L349)."""
    if not nets:
        raise ValueError("stack_nets needs at least one net")
    Ws, bs = list(nets[0].weights[:-1]), list(nets[0].biases[:-1])
    Wo, bo = nets[0].weights[-1], nets[0].biases[-1]
    for net in nets[1:]:
        if net.input_dim != Wo.shape[0]:
            raise ValueError(f"net input {net.input_dim} != previous output {Wo.shape[0]}")
        Ws.append(net.weights[0] @ Wo)
        bs.append(net.weights[0] @ bo + net.biases[0])
        Ws += net.weights[1:-1]
        bs += net.biases[1:-1]
        Wo, bo = net.weights[-1], net.biases[-1]
    return ReLUNet(Ws + [Wo], bs + [bo], "stacked")


def grouped_zigzag_net(a_list: Sequence, M: float, k_shallow: int) -> ReLUNet:
    """H_{a^1..a^k} (Def 5) with k_shallow hidden layers: the k layers are cut into k_shallow consecutive groups
    (k_shallow must divide k), each group's composition is made a 2-layer net by Thm 2.2.2
    (:func:`pwl_to_relu2`) and the groups are stacked. Shows how close Thm 2.3.1's size bound is to attainable."""
    k = len(a_list)
    if k_shallow < 1 or k % k_shallow:
        raise ValueError(f"k_shallow={k_shallow}: accepted values divide k={k}")
    g = k // k_shallow
    return stack_nets([pwl_to_relu2(zigzag_compose_pwl(a_list[i:i + g], M)) for i in range(0, k, g)])


def thm231_size_bound(k_shallow: int, w: int, k: int) -> float:
    """Thm 2.3.1 (Mukherjee 2020, L500): a (k_shallow + 1)-layer net computing the (k+1)-layer, width-w hard
    function needs size at least ``½ k_shallow w^{k / k_shallow} − 1``."""
    if min(k_shallow, w, k) < 1:
        raise ValueError(f"k_shallow={k_shallow}, w={w}, k={k}: accepted values are integers >= 1")
    return 0.5 * k_shallow * w ** (k / k_shallow) - 1


def lemma_2a7_size_table(ps: Sequence[int], ks: Sequence[int]) -> list[dict]:
    """Lemma 2.A.7 (L1062) against the exact minimum it comes from, and against a construction.

    For each p pieces and depth k + 1: the printed lower bound ½ k p^{1/k} − 1, the smallest size whose best
    Lemma 2.A.6 piece bound reaches p (:func:`min_size_for_pieces`, exact), and the size k·w of a zig-zag net
    (Def 5, width w = ⌈p^{1/k}⌉, k layers) that has w^k ≥ p pieces on [0, M]. A correct lemma needs
    bound ≤ minimum ≤ construction on every row."""
    rows = []
    for k in ks:
        for p in ps:
            w = 2
            while w**k < p:
                w += 1
            rows.append(dict(p=int(p), k=int(k), bound=0.5 * k * p ** (1 / k) - 1,
                             min_size=min_size_for_pieces(int(p), int(k), s_max=4 * int(p) + 4 * int(k)),
                             zigzag_size=int(k * w)))
    return rows


def lemma_2a6_bound(widths: Sequence[int]) -> int:
    """Lemma 2.A.6 (L1047): pieces ≤ 2^{k-1}(w_1+1)w_2…w_k."""
    w = [int(x) for x in widths]
    return int(2 ** (len(w) - 1) * (w[0] + 1) * int(np.prod(w[1:], dtype=object) if len(w) > 1 else 1))


def min_size_for_pieces(p: int, k: int, s_max: int = 200) -> int | None:
    """Smallest s = Σ w_i (k layers, w_i ≥ 1) with 2^{k-1}(w_1+1)∏w_i ≥ p (brute force over compositions).

    For fixed s the product is maximised by near-equal widths, so we scan s and check the best split
    ((w_1 gets the remainder last since w_1+1 appears)). Returns None if not reached by s_max.
    """
    for s in range(k, s_max + 1):
        best = 0
        # enumerate w_1, the rest balanced (maximises the product of the remaining k-1 widths)
        for w1 in range(1, s - (k - 1) + 1):
            r = s - w1
            if k == 1:
                if r:
                    continue
                val = w1 + 1
            else:
                q, rem = divmod(r, k - 1)
                if q < 1:
                    continue
                val = 2 ** (k - 1) * (w1 + 1) * (q + 1) ** rem * q ** (k - 1 - rem)
            best = max(best, val)
        if best >= p:
            return s
    return None


def max_bound_pieces(k: int, s: int) -> int:
    """max over integer widths w_i ≥ 1 with Σw_i = s of the Lemma 2.A.6 bound 2^{k-1}(w_1+1)w_2…w_k (exact DP)."""
    if not 1 <= k <= s:
        raise ValueError(f"need 1 <= k <= s, got k={k}, s={s}")
    # P[j][r]: max product of j positive integers summing to r (0 if impossible)
    P = [[1 if r == 0 else 0 for r in range(s + 1)]]
    for j in range(1, k):
        P.append([max((w * P[j - 1][r - w] for w in range(1, r + 1)), default=0) for r in range(s + 1)])
    return max(2 ** (k - 1) * (w1 + 1) * P[k - 1][s - w1] for w1 in range(1, s - k + 2))


def random_net_piece_counts(width_tuples: Sequence[Sequence[int]], reps: int, rng: np.random.Generator) -> np.ndarray:
    """Lemma 2.A.6 (L1047) on random nets: ``reps`` nets R → R per tuple of hidden widths, N(0, 1) weights and biases,
    pieces counted exactly (lib.pwl). -> (N, 3) rows [hidden layers k, bound 2^{k−1}(w_1+1)w_2…w_k, exact pieces]."""
    pc = []
    for w in width_tuples:
        dims = (1,) + tuple(w) + (1,)
        for _ in range(reps):
            Ws = [rng.normal(size=(dims[i + 1], dims[i])) for i in range(len(dims) - 1)]
            bs = [rng.normal(size=dims[i + 1]) for i in range(len(dims) - 1)]
            pc.append((len(w), lemma_2a6_bound(w), ReLUNet(Ws, bs).to_pwl().num_pieces()))
    return np.array(pc)


def relu_doubling_ratios(count: int, rng: np.random.Generator, max_pieces: int = 30) -> np.ndarray:
    """Fig 2.A.2 (L1052): pieces(max{0, f + b}) / pieces(f) for ``count`` random f (:func:`lib.pwl.random_pwl`, 2 to
    max_pieces − 1 pieces) and b ~ N(0, 1). -> (count,); the figure's claim is that every ratio is ≤ 2."""
    ratios = []
    for _ in range(count):
        f = random_pwl(int(rng.integers(2, max_pieces)), rng)
        ratios.append((f + rng.normal()).relu().num_pieces() / f.num_pieces())
    return np.array(ratios)


def lemma_2a7_converse_holds(k_max: int = 8, s_max: int = 25) -> bool:
    """Lemma 2.A.7's converse (L1062): depth k + 1 and size s give at most (2s/k)^k pieces, i.e. the largest
    Lemma 2.A.6 bound over integer widths (:func:`max_bound_pieces`) is ≤ (2s/k)^k, for 1 ≤ k ≤ k_max, k ≤ s ≤ s_max."""
    return all(max_bound_pieces(k, s) <= (2 * s / k) ** k for k in range(1, k_max + 1) for s in range(k, s_max + 1))


# ---------------------------------------------------------------------------------------- Prop 2.5.2
def max0_x1_x2_net() -> ReLUNet:
    """Prop 2.5.2: a Sum-of-ReLU-of-ReLU (2 hidden layers) computing max{0,x1,x2}.

    Layer 1: [ReLU(x1), ReLU(x2), ReLU(-x2)]; layer 2: [ReLU(L1_0 - L1_1 + L1_2), ReLU(L1_1), ReLU(L1_2)];
    output L2_0 + L2_1 - L2_2 = ReLU(ReLU(x1) - x2) + x2 = max{ReLU(x1), x2} = max{0, x1, x2}.
    """
    W1 = np.array([[1.0, 0.0], [0.0, 1.0], [0.0, -1.0]])
    W2 = np.array([[1.0, -1.0, 1.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    W3 = np.array([[1.0, 1.0, -1.0]])
    return ReLUNet([W1, W2, W3], [np.zeros(3), np.zeros(3), np.zeros(1)], "max{0,x1,x2}")


def diagonal_jump_witness(h, t_plus: float = 0.7371, t_minus: float = -0.6173, eps: float = 1e-6) -> float:
    """Φ(h) = J_h(t₊) - J_h(t₋), J_h(t) = ∂_u h((t,t)+0⁺u) - ∂_u h((t,t)-0⁺u), u = (1,-1)/√2 (App. 2.B).

    One-sided derivatives by forward differences of step ``eps`` taken at distance ``eps`` from the
    diagonal. For every Sum-of-ReLU h, Φ(h) = 0 (kink sets are full lines); Φ(max{0,x1,x2}) = √2.
    ``h`` maps (N, 2) arrays to (N,) arrays (numpy).
    """
    u = np.array([1.0, -1.0]) / np.sqrt(2.0)

    def J(t: float) -> float:
        p = np.array([t, t])
        pts = np.stack([p + eps * u, p + 2 * eps * u, p - eps * u, p - 2 * eps * u])
        y = np.asarray(h(pts), dtype=np.float64).reshape(-1)
        d_plus = (y[1] - y[0]) / eps
        d_minus = (y[2] - y[3]) / eps  # derivative along +u on the other side
        return d_plus - d_minus

    return J(t_plus) - J(t_minus)


def witness_report(nets: Sequence[ReLUNet], X: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Prop 2.5.2 on fitted nets R² → R: (B, 3) rows [size, RMSE on (X (N, 2), y (N,)), witness Φ
    (:func:`diagonal_jump_witness`)]."""
    return np.array([(net.size, np.sqrt(np.mean((net(X) - y) ** 2)), diagonal_jump_witness(net)) for net in nets])
