"""Boolean-input ReLU circuits of thesis Ch. 2, Section 2.5 (document 003): exact constructions.

Used by the chapter ``relu_function_spaces``. A *Sum-of-ReLU* circuit is f(x) = c0 + Σ_g c_g ReLU(W_g·x + b_g)
(one hidden layer, linear output); here it is returned as ``(W (G, n), b (G,), c (G,), c0)`` and can be
wrapped in :class:`lib.relu_constructions.ReLUNet`. All checks run on the whole cube {-1,1}^n (vectorised).

Implements Lemma 2.5.1 (L802: vertex and Fourier constructions), App. 2.D (PARITY with k gates),
Claim 4 (L1082: an LTF is 2 ReLUs), Prop 2.5.3 (L816: Σ 2^i(1+x_i)/2 with 2 ReLUs), and the computable
pieces of Section 2.6: Claim 1's binomial tail, the Andreev function (Def 10, Claim 2) and the
Kane–Williams restriction probability (Lemma 2.6.1) by Monte Carlo, and the block structure of weight-restricted
LTF-of-(ReLU)^{d-1} circuits (Lemma 2.E.1, Thm 2.5.5).

What the chapter's claims measure: ``lemma251_survey`` (both Sum-of-ReLU forms of random, sparse and low-degree
functions), ``parity_check``, ``ltf_check``, ``prop253_check``, ``andreev_restriction_check`` (Claim 2),
``kane_williams_survey`` / ``kw_band`` / ``kw_trend`` (Lemma 2.6.1) and ``block_structure_survey`` (Lemma 2.E.1).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
from scipy.stats import binom

__all__ = [
    "boolean_cube", "walsh_hadamard", "eval_sum_of_relu", "sum_of_relu_vertex", "sum_of_relu_fourier",
    "parity_relu", "ltf_2relu", "prop253_net", "claim1_tail", "andreev", "restriction_not_forced_mc",
    "restriction_not_forced_many", "random_boolean_function", "lemma251_survey", "parity_check", "ltf_check",
    "prop253_check", "andreev_restriction_check", "kane_williams_survey", "kw_band", "kw_trend",
    "block_structure_survey", "natural_order",
]

SumOfReLU = tuple[np.ndarray, np.ndarray, np.ndarray, float]


def boolean_cube(n: int) -> np.ndarray:
    """All 2^n points of {-1,1}^n as an int8 array (2^n, n); row r has x_i = 1 - 2·bit_i(r)."""
    if not (isinstance(n, (int, np.integer)) and 0 <= n <= 24):
        raise ValueError(f"n must be an integer in [0, 24], got {n}")
    r = np.arange(2**n, dtype=np.int64)[:, None]
    bits = (r >> np.arange(n)) & 1
    return (1 - 2 * bits).astype(np.int8)


def walsh_hadamard(f: np.ndarray) -> np.ndarray:
    """Fourier coefficients f̂(S) = 2^{-n} Σ_x f(x) χ_S(x), indexed by the bitmask of S, for f on boolean_cube(n)."""
    f = np.asarray(f, dtype=np.float64).copy()
    N = f.size
    if N & (N - 1):
        raise ValueError(f"f must have length 2^n, got {N}")
    h = 1
    while h < N:
        f = f.reshape(-1, 2, h)
        a, b = f[:, 0, :].copy(), f[:, 1, :].copy()
        f[:, 0, :], f[:, 1, :] = a + b, a - b
        f = f.reshape(-1)
        h *= 2
    return f / N


def eval_sum_of_relu(circ: SumOfReLU, X: np.ndarray) -> np.ndarray:
    """c0 + Σ_g c_g ReLU(W_g·x + b_g) for X: (N, n) -> (N,)."""
    W, b, c, c0 = circ
    return c0 + np.maximum(X @ W.T + b, 0.0) @ c


def sum_of_relu_vertex(f: np.ndarray, n: int) -> SumOfReLU:
    """Lemma 2.5.1, vertex form: f = Σ_{v: f(v)≠0} f(v) ReLU(⟨v,x⟩ - (n-1)); gates = #{v: f(v) ≠ 0}."""
    V = boolean_cube(n).astype(np.float64)
    f = np.asarray(f, dtype=np.float64)
    nz = f != 0
    return V[nz], np.full(int(nz.sum()), -(n - 1.0)), f[nz], 0.0


def parity_relu(k: int) -> tuple[np.ndarray, np.ndarray]:
    """App. 2.D: PARITY(y) for integer y = Σb_i ∈ {0..k} as Σ_{p=0}^{k-1} c_p ReLU(y - p) (k gates).

    c_0 = 1, c_p = 2(-1)^p for 1 ≤ p ≤ k-1 (the hinge at p = k, coefficient (-1)^k, is inactive on {0..k}).
    Returns (hinges p (k,), coefficients c (k,)).
    """
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    p = np.arange(k, dtype=np.float64)
    c = np.where(p == 0, 1.0, 2.0 * (-1.0) ** p)
    return p, c


def sum_of_relu_fourier(f: np.ndarray, n: int, tol: float = 1e-12) -> SumOfReLU:
    """Lemma 2.5.1, Fourier form: f = Σ_S f̂(S) χ_S, χ_S = 1 - 2 PARITY(b_S), b_i = (1-x_i)/2.

    PARITY(b_S) uses |S| gates on y_S = (|S| - Σ_{i∈S} x_i)/2; gates = Σ_{S≠∅, f̂(S)≠0} |S|.
    """
    fh = walsh_hadamard(f)
    Ws, bs, cs = [], [], []
    c0 = float(fh[0])
    for S in np.nonzero(np.abs(fh) > tol)[0]:
        if S == 0:
            continue
        idx = [i for i in range(n) if (S >> i) & 1]
        k = len(idx)
        hinges, coef = parity_relu(k)
        w = np.zeros(n)
        w[idx] = -0.5
        for p, cp in zip(hinges, coef):
            Ws.append(w)
            bs.append(k / 2.0 - p)
            cs.append(-2.0 * fh[S] * cp)
        c0 += float(fh[S])
    if not Ws:
        return np.zeros((0, n)), np.zeros(0), np.zeros(0), c0
    return np.array(Ws), np.array(bs), np.array(cs), c0


def ltf_2relu(a: np.ndarray, b: float) -> SumOfReLU:
    """Claim 4: LTF(x) = 2·1{⟨a,x⟩+b ≥ 0} - 1 on {-1,1}^n as -1 + (2/p)[ReLU(t+p) - ReLU(t)], t = ⟨a,x⟩+b.

    -p < 0 is the largest negative value of t on the cube (computed by enumeration; needs some t < 0).
    """
    a = np.asarray(a, dtype=np.float64)
    t = boolean_cube(a.size) @ a + b
    neg = t[t < 0]
    if neg.size == 0:
        return np.zeros((0, a.size)), np.zeros(0), np.zeros(0), 1.0
    p = -float(neg.max())
    return np.stack([a, a]), np.array([b + p, b]), np.array([2 / p, -2 / p]), -1.0


def prop253_net(n: int) -> SumOfReLU:
    """Prop 2.5.3: f(x) = Σ_{i=1}^n 2^i (1+x_i)/2 = ReLU(L) - ReLU(-L) with L(x) = Σ 2^{i-1} x_i + Σ 2^{i-1}."""
    w = 2.0 ** np.arange(n)  # 2^i / 2 for i = 1..n
    L0 = float(w.sum())
    return np.stack([w, -w]), np.array([L0, -L0]), np.array([1.0, -1.0]), 0.0


# ---------------------------------------------------------------------------------------- checks of Section 2.5
FUNCTION_KINDS = ("random", "sparse Fourier", "degree ≤ 2")


def random_boolean_function(kind: str, n: int, rng: np.random.Generator, n_terms: int = 6) -> np.ndarray:
    """A random f on boolean_cube(n) -> (2^n,): ``"random"``, N(0, 1) values; ``"sparse Fourier"``, ``n_terms``
    characters χ_S(x) = ∏_{i∈S} x_i (S drawn without replacement) with N(0, 1) coefficients; ``"degree ≤ 2"``, the
    same with |S| ≤ 2. The sparse sums are accumulated term by term, in the order the S are drawn."""
    if kind not in FUNCTION_KINDS:
        raise ValueError(f"kind={kind!r}: accepted values are {FUNCTION_KINDS}")
    if kind == "random":
        return rng.normal(size=2**n)
    X = boolean_cube(n).astype(np.float64)
    fh = np.zeros(2**n)
    deg = np.array([bin(S).count("1") for S in range(2**n)])
    cand = np.nonzero(deg <= 2)[0] if kind == "degree ≤ 2" else np.arange(2**n)
    pick = rng.choice(cand, size=min(n_terms, cand.size), replace=False)
    fh[pick] = rng.normal(size=pick.size)
    f = np.zeros(2**n)
    for S in pick:
        f = f + fh[S] * np.prod(np.where((S >> np.arange(n)) & 1, X, 1.0), axis=1)
    return f


class SumOfReLURow(NamedTuple):
    """Lemma 2.5.1 on one f: ``n``, ``kind``, gates of the vertex form (#{f ≠ 0}) and of the Fourier form
    (Σ_{f̂(S)≠0}|S|), the largest ``error`` of the two on the cube, and ``ok`` (both exact to 1e-8, gate counts as
    stated)."""

    n: int
    kind: str
    vertex_gates: int
    fourier_gates: int
    error: float
    ok: bool


def lemma251_survey(ns: Sequence[int], rng: np.random.Generator, kinds: Sequence[str] = FUNCTION_KINDS
                    ) -> list[SumOfReLURow]:
    """Lemma 2.5.1 (L802): for each n and kind, f = :func:`random_boolean_function` written both ways
    (:func:`sum_of_relu_vertex`, :func:`sum_of_relu_fourier`) and evaluated on all 2^n inputs."""
    rows = []
    for n in ns:
        X = boolean_cube(n).astype(np.float64)
        for kind in kinds:
            f = random_boolean_function(kind, n, rng)
            v, F = sum_of_relu_vertex(f, n), sum_of_relu_fourier(f, n)
            e = max(np.abs(eval_sum_of_relu(v, X) - f).max(), np.abs(eval_sum_of_relu(F, X) - f).max())
            fh = walsh_hadamard(f)
            sum_s = sum(bin(S).count("1") for S in range(1, 2**n) if abs(fh[S]) > 1e-12)
            ok = e < 1e-8 and v[0].shape[0] == np.count_nonzero(f) and F[0].shape[0] == sum_s
            rows.append(SumOfReLURow(n, kind, v[0].shape[0], F[0].shape[0], float(e), bool(ok)))
    return rows


def parity_check(k_max: int = 20, k_all: int = 20) -> bool:
    """App. 2.D (L1086): :func:`parity_relu` (k) has k gates and equals y mod 2 at every y ∈ {0..k}, k = 1..k_max; and
    at k = k_all it is evaluated on all 2^k_all bit strings (y = Σ b_i, float32) against their parity."""
    ok = True
    for k in range(1, k_max + 1):
        yk = np.arange(k + 1, dtype=float)
        p, c = parity_relu(k)
        ok &= bool(np.array_equal(np.maximum(yk[:, None] - p, 0) @ c, yk % 2) and p.size == k)
    bits = ((np.arange(2**k_all)[:, None] >> np.arange(k_all)) & 1).astype(np.float32)
    p, c = parity_relu(k_all)
    ysum = bits.sum(1)
    out = sum(cj * np.maximum(ysum - pj, 0) for pj, cj in zip(p, c))
    return ok & bool(np.array_equal(out, ysum % 2))


def ltf_check(ns: Sequence[int], rng: np.random.Generator) -> bool:
    """Claim 4 (L1082): for each n, a random LTF (a ~ N(0, I_n), b ~ N(0, 1)) is :func:`ltf_2relu` with ≤ 2 gates, equal
    to 2·1{⟨a,x⟩+b ≥ 0} − 1 on every x ∈ {−1,1}^n (to 1e-9)."""
    ok = True
    for n in ns:
        X = boolean_cube(n).astype(np.float64)
        a, b = rng.normal(size=n), rng.normal()
        circ = ltf_2relu(a, b)
        err = np.abs(eval_sum_of_relu(circ, X) - (2.0 * (X @ a + b >= 0) - 1)).max()
        ok &= bool(circ[0].shape[0] <= 2 and err < 1e-9)
    return ok


def prop253_check(ns: Sequence[int]) -> bool:
    """Prop 2.5.3 (L816): for each n, :func:`prop253_net` equals Σ_{i=1}^n 2^i(1+x_i)/2 on every input (to 1e-9), and
    that function takes 2^n distinct values."""
    ok = True
    for n in ns:
        X = boolean_cube(n).astype(np.float64)
        fP = ((1 + X) / 2) @ (2.0 ** np.arange(1, n + 1))
        ok &= bool(np.abs(eval_sum_of_relu(prop253_net(n), X) - fP).max() < 1e-9 and np.unique(fP).size == 2**n)
    return ok


# ---------------------------------------------------------------------------------------- Section 2.6
def claim1_tail(n: int, eps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Claim 1: exact P[Bin(2^n, ½) ≥ (½+ε)2^n] and the bound e^{-2^{n+1} ε²}. eps: (E,) -> two (E,) arrays."""
    N = 2**n
    eps = np.asarray(eps, dtype=np.float64)
    k = np.ceil((0.5 + eps) * N - 1e-9)
    return binom.sf(k - 1, N, 0.5), np.exp(-(2.0 ** (n + 1)) * eps**2)


def andreev(x: np.ndarray, A: np.ndarray) -> np.ndarray:
    """Def 10 (0-based bin): A_n(x, [a_ij]) = x[bin(z)], z_i = (Σ_j a_ij) mod 2, bit i of the index = z_i.

    x: (B, 2^r) bits, A: (B, r, c) bits -> (B,) bits.
    """
    z = A.sum(axis=2) % 2
    idx = (z << np.arange(z.shape[1])).sum(axis=1)
    return np.take_along_axis(x, idx[:, None], axis=1)[:, 0]


def restriction_not_forced_mc(a: np.ndarray, b: float, n_parts: int, R: int,
                              rng: np.random.Generator) -> float:
    """Lemma 2.6.1 (ReLU version): P_ρ[ReLU(⟨a,x⟩+b) not forced constant] for ρ ∼ R_P.

    P: n_parts equal contiguous parts of [n] (n divisible by n_parts); ρ fixes all but one uniformly chosen
    coordinate per part to uniform ±1. Not forced iff |const| < Σ_free |a_i| (the free linear form can
    change sign). Vectorised over R restrictions.
    """
    n = a.size
    if n % n_parts:
        raise ValueError(f"n_parts must divide n={n}, got {n_parts}")
    size = n // n_parts
    chunk = max(1, 4_000_000 // n)              # bounded memory: chunk·n entries at a time
    hits = 0
    for r0 in range(0, R, chunk):
        r = min(chunk, R - r0)
        free = rng.integers(0, size, size=(r, n_parts)) + size * np.arange(n_parts)
        x = rng.choice(np.array([-1.0, 1.0]), size=(r, n))
        mask = np.zeros((r, n), dtype=bool)
        np.put_along_axis(mask, free, True, axis=1)
        const = np.where(mask, 0.0, x) @ a + b
        span = np.abs(np.where(mask, a, 0.0)).sum(axis=1)
        hits += int(np.count_nonzero(np.abs(const) < span))
    return hits / R


def restriction_not_forced_many(A: np.ndarray, b: np.ndarray, n_parts: int, R: int,
                                rng: np.random.Generator) -> np.ndarray:
    """Lemma 2.6.1 for G gates at once: P_ρ[ReLU(⟨a_g,x⟩+b_g) not forced constant] for ρ ∼ R_P, g = 1..G.

    The same R restrictions serve every gate (each estimate is unbiased; the G estimates are correlated). ρ is
    drawn as in :func:`restriction_not_forced_mc` (one free coordinate per contiguous part, the others uniform
    ±1), with the ±1 values taken from random bytes. A: (G, n), b: (G,) -> (G,) probabilities.
    """
    A = np.atleast_2d(np.asarray(A, dtype=np.float64))
    b = np.broadcast_to(np.asarray(b, dtype=np.float64), (A.shape[0],))
    G, n = A.shape
    if n % n_parts:
        raise ValueError(f"n_parts must divide n={n}, got {n_parts}")
    size = n // n_parts
    chunk = max(1, 4_000_000 // n)
    hits = np.zeros(G, dtype=np.int64)
    tot = A.sum(1)
    for r0 in range(0, R, chunk):
        r = min(chunk, R - r0)
        bits = np.unpackbits(rng.integers(0, 256, size=(r, -(-n // 8)), dtype=np.uint8), axis=1, count=n)
        full = 2.0 * (bits.astype(np.float64) @ A.T) - tot   # (r, G): Σ a_i x_i
        free = rng.integers(0, size, size=(r, n_parts)) + size * np.arange(n_parts)                # (r, parts)
        xf = 2.0 * np.take_along_axis(bits, free, axis=1) - 1.0                                    # (r, parts)
        Af = A[:, free]                                                                             # (G, r, parts)
        const = full - np.einsum("grp,rp->rg", Af, xf) + b
        span = np.abs(Af).sum(2).T                                                                  # (r, G)
        hits += np.count_nonzero(np.abs(const) < span, axis=0)
    return hits / R


def andreev_restriction_check(ks: Sequence[int], trials: int, rng: np.random.Generator) -> bool:
    """Claim 2 (L922) with the XOR relabelling: for each k in ``ks`` (k rows of 2^k // k bits, a string x of 2^k bits),
    ``trials`` random restrictions that fix x and all but one uniformly chosen bit per row; the restricted Andreev
    function (:func:`andreev`) must read x at the index (y XOR π) for every assignment y of the free bits, π the
    parities of the fixed bits of the rows. Exhaustive over y; True iff every trial agrees."""
    ok = True
    for k in ks:
        rows, cols = k, 2**k // k
        for _ in range(trials):
            xs = rng.integers(0, 2, size=2**k)
            A = rng.integers(0, 2, size=(rows, cols))
            free = rng.integers(0, cols, size=rows)
            pi = (A.sum(1) - A[np.arange(rows), free]) % 2              # parity of the fixed bits of each row
            ys = (np.arange(2**rows)[:, None] >> np.arange(rows)) & 1   # all assignments of the free bits
            AA = np.repeat(A[None], ys.shape[0], 0)
            AA[:, np.arange(rows), free] = ys
            got = andreev(np.repeat(xs[None], ys.shape[0], 0), AA)
            ok &= bool(np.array_equal(got, xs[((ys ^ pi) << np.arange(rows)).sum(1)]))
    return ok


def kane_williams_survey(ns: Sequence[int], part_counts: Sequence[int], R: int,
                         rngs: Sequence[np.random.Generator]) -> np.ndarray:
    """Lemma 2.6.1 (L930–L934) by Monte Carlo: for each stream i (``rngs[i]``), n in ``ns`` and |P| in
    ``part_counts``, :func:`restriction_not_forced_many` on two threshold-0 gates, MAJORITY (all ones) and N(0, I_n)
    weights, with R restrictions. -> (rows, 5) [stream, gate (0 MAJORITY, 1 Gaussian), n, |P|, P[not forced]]."""
    kw = []
    for i, rng in enumerate(rngs):
        for n in ns:
            gates = np.vstack([np.ones(n), rng.normal(size=n)])
            for P in part_counts:
                for gi, p_nf in enumerate(restriction_not_forced_many(gates, 0.0, P, R, rng)):
                    kw.append((i, gi, n, P, p_nf))
    return np.array(kw, dtype=float)


def kw_band(kw: np.ndarray) -> np.ndarray:
    """P[not forced]·√n/|P| for the rows of :func:`kane_williams_survey`: bounded in n iff P = O(|P|/√n)."""
    return kw[:, 4] * np.sqrt(kw[:, 2]) / kw[:, 3]


def kw_trend(kw: np.ndarray, stream: int, gate: int, n_big: int, n_small: int) -> float:
    """Ratio of :func:`kw_band` at n = n_big to that at n = n_small (each a mean over |P|) for one stream and gate of
    :func:`kane_williams_survey`: 1 if P[not forced] = Θ(|P|/√n), (n_big/n_small)^{1/4} at a rate |P|/n^{1/4}."""
    band = kw_band(kw)
    sel = (kw[:, 0] == stream) & (kw[:, 1] == gate)
    big, small = sel & (kw[:, 2] == n_big), sel & (kw[:, 2] == n_small)
    return float(band[big].mean() / band[small].mean())


# ---------------------------------------------------------------------------------------- Lemma 2.E.1 / Claim 5
def cone_integer_points(c: np.ndarray, W: int) -> np.ndarray:
    """Integer w ∈ [-W, W]^m in the closed cone P_{m,σ} (Def 11), σ the order of {-1,1}^m by ⟨c, x⟩.

    w ∈ P_{m,σ} iff ⟨w, x^{σ(1)}⟩ ≤ … ≤ ⟨w, x^{σ(2^m)}⟩. c: (m,) generic (ties raise). -> (N, m) int.
    """
    c = np.asarray(c, dtype=np.float64)
    m = c.size
    if (2 * W + 1) ** m > 2_000_000:
        raise ValueError(f"(2W+1)^m = {(2 * W + 1) ** m} candidates is too many; lower m or W")
    X = boolean_cube(m).astype(np.float64)
    key = X @ c
    order = np.argsort(key, kind="stable")
    if np.any(np.diff(key[order]) == 0):
        raise ValueError("c is not generic: two cube points tie under ⟨c, x⟩")
    grid = np.array(np.meshgrid(*[np.arange(-W, W + 1)] * m, indexing="ij")).reshape(m, -1).T
    V = X[order] @ grid.T                                   # (2^m, N)
    return grid[np.all(np.diff(V, axis=0) >= 0, axis=0)]


def contiguous_blocks(M: np.ndarray) -> tuple[int, int]:
    """(row blocks, column blocks): 1 + number of adjacent rows (columns) of M that differ."""
    return (1 + int(np.count_nonzero(np.any(M[1:] != M[:-1], axis=1))),
            1 + int(np.count_nonzero(np.any(M[:, 1:] != M[:, :-1], axis=0))))


def restricted_circuit(m: int, W: int, widths: list[int], rng: np.random.Generator,
                       c1: np.ndarray, c2: np.ndarray) -> dict:
    """An LTF-of-(ReLU)^{d-1} on (x, y) ∈ {-1,1}^m × {-1,1}^m whose bottom layer obeys Def 12.

    Bottom gates ReLU(b + ⟨w1,x⟩ + ⟨w2,y⟩) with integer w1 ∈ P_{m,σ1} (σ1 from c1), w2 ∈ P_{m,σ2}, |w|, |b| ≤ W;
    upper ReLU layers (widths[1:]) and the top linear form have random real weights. Rows are ordered by
    ⟨c1, x⟩ and columns by ⟨c2, y⟩. Returns {"layers": list of (w_l, 2^m, 2^m) gate matrices, "top": the
    pre-threshold matrix (2^m, 2^m), "sign": the LTF output}.
    """
    X = boolean_cube(m).astype(np.float64)
    xs, ys = X[np.argsort(X @ c1)], X[np.argsort(X @ c2)]
    P1, P2 = cone_integer_points(c1, W), cone_integer_points(c2, W)
    w1 = P1[rng.integers(0, len(P1), widths[0])]
    w2 = P2[rng.integers(0, len(P2), widths[0])]
    b = rng.integers(-W, W + 1, widths[0])
    G = np.maximum((xs @ w1.T)[:, None, :] + (ys @ w2.T)[None, :, :] + b, 0.0).transpose(2, 0, 1)
    layers = [G]
    for w in widths[1:]:
        A = rng.normal(size=(w, G.shape[0]))
        G = np.maximum(np.einsum("ij,jxy->ixy", A, G) + rng.normal(size=w)[:, None, None], 0.0)
        layers.append(G)
    top = np.einsum("j,jxy->xy", rng.normal(size=G.shape[0]), G) + rng.normal()
    return {"layers": layers, "top": top, "sign": np.sign(top)}


class BlockRow(NamedTuple):
    """Block structure of one weight-restricted circuit (Lemma 2.E.1): m, W, depth d, largest ``bottom`` gate block
    count and its bound mW + 1, ``top_blocks`` of the pre-threshold matrix, ``refine`` = 1 + w_1·mW (the common
    refinement of the bottom layer), the ``recursion`` bound B_{j+1} − 1 = w_j(B_j − 1), ``rank_top``, the side
    ``size`` 2^m, and ``ok``: bottom ≤ mW + 1, every gate and the top ≤ refine, rank(top) ≤ min(#distinct rows,
    1 + Σ rank of the last layer's gates)."""

    m: int
    W: int
    d: int
    bottom: int
    bottom_bound: int
    top_blocks: int
    refine: int
    recursion: int
    rank_top: int
    size: int
    ok: bool


def block_structure_survey(ms: Sequence[int], Ws: Sequence[int], widths_list: Sequence[list[int]],
                           rng: np.random.Generator, example: tuple[int, int, int] = (5, 3, 3)
                           ) -> tuple[list[BlockRow], tuple[dict, np.ndarray, np.ndarray] | None]:
    """Lemma 2.E.1 + proof of Thm 2.5.5 (L1106–L1123): for each m, W (orders c1, c2 ~ N(0, I_m), drawn per (m, W)) and
    hidden widths, a :func:`restricted_circuit` whose blocks (:func:`contiguous_blocks`) and ranks are counted exactly.
    Returns (rows, (circuit, c1, c2) of the (m, W, d) = ``example`` circuit, None if not in the grid)."""
    rows, ex = [], None
    for m in ms:
        for W in Ws:
            c1, c2 = rng.normal(size=m), rng.normal(size=m)
            for widths in widths_list:
                circ = restricted_circuit(m, W, widths, rng, c1, c2)
                bottom = max(max(contiguous_blocks(G)) for G in circ["layers"][0])
                upper = max(max(contiguous_blocks(G)) for L in circ["layers"] for G in L)
                top_blocks = max(contiguous_blocks(circ["top"]))
                r_top = int(np.linalg.matrix_rank(circ["top"]))
                distinct = np.unique(circ["top"], axis=0).shape[0]
                r_sum = 1 + sum(np.linalg.matrix_rank(G) for G in circ["layers"][-1])
                refine = 1 + widths[0] * m * W
                recur = m * W + 1
                for w in widths:
                    recur = 1 + w * (recur - 1)
                ok = bottom <= m * W + 1 and upper <= refine and top_blocks <= refine and r_top <= min(distinct, r_sum)
                rows.append(BlockRow(m, W, len(widths) + 1, bottom, m * W + 1, top_blocks, refine, recur, r_top, 2**m,
                                     bool(ok)))
                if (m, W, len(widths) + 1) == tuple(example):
                    ex = (circ, c1, c2)
    return rows, ex


def natural_order(M: np.ndarray, c1: np.ndarray, c2: np.ndarray) -> np.ndarray:
    """A (2^m, 2^m) matrix with rows ordered by ⟨c1, x⟩ and columns by ⟨c2, y⟩ (as :func:`restricted_circuit` orders
    them) put back in the order of boolean_cube(m)."""
    X = boolean_cube(int(np.log2(M.shape[0]))).astype(np.float64)
    return M[np.argsort(np.argsort(X @ c1))][:, np.argsort(np.argsort(X @ c2))]
