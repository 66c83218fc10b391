"""Boolean-input ReLU circuits of thesis Ch. 2, Section 2.5 (document 003): exact constructions.

Used by the chapter ``relu_function_spaces``. A *Sum-of-ReLU* circuit is f(x) = c0 + Σ_g c_g ReLU(W_g·x + b_g)
(one hidden layer, linear output); here it is returned as ``(W (G, n), b (G,), c (G,), c0)`` and can be
wrapped in :class:`lib.relu_constructions.ReLUNet`. All checks run on the whole cube {-1,1}^n (vectorised).

Implements Lemma 2.5.1 (L802: vertex and Fourier constructions), App. 2.D (PARITY with k gates),
Claim 4 (L1082: an LTF is 2 ReLUs), Prop 2.5.3 (L816: Σ 2^i(1+x_i)/2 with 2 ReLUs), and the computable
pieces of Section 2.6: Claim 1's binomial tail, the Andreev function (Def 10, Claim 2) and the
Kane–Williams restriction probability (Lemma 2.6.1) by Monte Carlo.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import binom

__all__ = [
    "boolean_cube", "walsh_hadamard", "eval_sum_of_relu", "sum_of_relu_vertex", "sum_of_relu_fourier",
    "parity_relu", "ltf_2relu", "prop253_net", "claim1_tail", "andreev", "restriction_not_forced_mc",
    "restriction_not_forced_many",
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
