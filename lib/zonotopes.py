"""Zonotopes, the ZONOTOPE family and exact 2-D linear-region enumeration (thesis Ch. 2, §2.3.2).

Used by the chapter ``relu_function_spaces`` (document 003). Implements Def 7 / Thm 2.3.7 (L597: vertices
and support function of Z(b¹..b^m)), Lemma 2.3.8 (L611: γ_Z as a 2-layer net of size 2m), Prop 2.3.9 /
Thm 2.3.10 (L619-637: H∘γ_Z as a (k+2)-layer net of size 2m + wk), and an exact enumerator of the linear
regions of a ReLU net R² -> R (polygon splitting layer by layer, then merging of edge-adjacent cells that
carry the same affine map), which counts *pieces* as Def 3 does (maximal connected affine sets).
"""

from __future__ import annotations

from collections.abc import Sequence
from math import comb

import numpy as np
from scipy.spatial import ConvexHull

from .relu_constructions import ReLUNet, _zigzag_coeffs

__all__ = [
    "sign_sums", "zonotope_vertices", "vertex_count_formula", "gamma_net", "zonotope_function_net",
    "linear_regions_2d", "zonotope_piece_formula",
]


def sign_sums(B: np.ndarray) -> np.ndarray:
    """All 2^m points Σ_i ε_i b^i, ε ∈ {±1}^m. B: (m, n) -> (2^m, n)."""
    B = np.asarray(B, dtype=np.float64)
    m = B.shape[0]
    if m > 20:
        raise ValueError(f"m must be <= 20 for enumeration, got {m}")
    eps = 1 - 2 * ((np.arange(2**m)[:, None] >> np.arange(m)) & 1)
    return eps @ B


def zonotope_vertices(B: np.ndarray) -> np.ndarray:
    """Vertices of Z(b¹..b^m) = {Σλ_i b^i : |λ_i| ≤ 1} (Def 7): ConvexHull of the sign sums. -> (V, n)."""
    P = sign_sums(B)
    n = P.shape[1]
    if n == 1:
        return np.array([[P.min()], [P.max()]])
    hull = ConvexHull(P)
    return P[hull.vertices]


def vertex_count_formula(n: int, m: int) -> tuple[int, int]:
    """(true generic count 2Σ_{i<n} C(m-1,i), thesis Thm 2.3.7.1 count Σ_{i<n} C(m-1,i))."""
    if n < 1 or m < 1:
        raise ValueError(f"n, m must be >= 1, got n={n}, m={m}")
    s = sum(comb(m - 1, i) for i in range(n))
    return 2 * s, s


def gamma_net(B: np.ndarray) -> ReLUNet:
    """Lemma 2.3.8: γ_Z(r) = Σ_j |⟨r,b^j⟩| = Σ_j ReLU(⟨r,b^j⟩) + ReLU(-⟨r,b^j⟩), a 2-layer net of size 2m."""
    B = np.asarray(B, dtype=np.float64)
    W1 = np.concatenate([B, -B], axis=0)
    return ReLUNet([W1, np.ones((1, W1.shape[0]))], [np.zeros(W1.shape[0]), np.zeros(1)], "gamma_Z")


def zonotope_function_net(a_list: Sequence, M: float, B: np.ndarray) -> ReLUNet:
    """Prop 2.3.9: ZONOTOPE^n_{k,w,m}[a¹..a^k, b¹..b^m] = H_{a¹..a^k} ∘ γ_Z, depth k+2, size 2m + Σw_i."""
    g = gamma_net(B)
    weights = [g.weights[0]]
    biases = [g.biases[0]]
    prev = np.ones(g.weights[0].shape[0])
    for a in a_list:
        knots, c = _zigzag_coeffs(a, M)
        weights.append(np.outer(np.ones(knots.size), prev))
        biases.append(-knots)
        prev = c
    weights.append(prev[None, :])
    biases.append(np.zeros(1))
    return ReLUNet(weights, biases, "ZONOTOPE")


def zonotope_piece_formula(V: int, p_list: Sequence[int]) -> int:
    """Derived exact count: V·∏(p_i+1), plus 1 for the zero tail {γ ≥ M} when some p_i
    (i < k) is odd (then H vanishes beyond the last band and that region is one connected piece)."""
    prod = int(np.prod([p + 1 for p in p_list]))
    return V * prod + (0 if all(p % 2 == 0 for p in p_list[:-1]) else 1)


# ---------------------------------------------------------------------------------------- regions
def _clip(poly: np.ndarray, a: np.ndarray, c: float, sign: float, tol: float) -> np.ndarray:
    """Part of convex polygon ``poly`` (P, 2) where sign·(a·x + c) ≥ 0 (Sutherland–Hodgman, one plane)."""
    s = sign * (poly @ a + c)
    keep = s >= -tol
    if keep.all():
        return poly
    if not keep.any():
        return poly[:0]
    out = []
    P = len(poly)
    for i in range(P):
        j = (i + 1) % P
        if keep[i]:
            out.append(poly[i])
        if (s[i] > tol and s[j] < -tol) or (s[i] < -tol and s[j] > tol):
            lam = s[i] / (s[i] - s[j])
            out.append(poly[i] + lam * (poly[j] - poly[i]))
    return np.array(out) if out else poly[:0]


def _area(poly: np.ndarray) -> float:
    x, y = poly[:, 0], poly[:, 1]
    return 0.5 * abs(float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))))


def _share_edge(P: np.ndarray, Q: np.ndarray, tol: float) -> bool:
    """True if convex polygons P, Q share a boundary segment of positive length."""
    for i in range(len(P)):
        p0, p1 = P[i], P[(i + 1) % len(P)]
        d = p1 - p0
        L = float(np.hypot(*d))
        if L < tol:
            continue
        nrm = np.array([-d[1], d[0]]) / L
        for j in range(len(Q)):
            q0, q1 = Q[j], Q[(j + 1) % len(Q)]
            if abs(float(nrm @ (q0 - p0))) > tol or abs(float(nrm @ (q1 - p0))) > tol:
                continue
            u = d / L
            s0, s1 = sorted((float(u @ (q0 - p0)), float(u @ (q1 - p0))))
            if min(s1, L) - max(s0, 0.0) > tol:
                return True
    return False


def linear_regions_2d(net: ReLUNet, box: tuple[float, float, float, float], tol: float = 1e-9,
                      rtol_map: float = 1e-9) -> dict:
    """Exact pieces of a ReLU net R² -> R inside ``box`` = (xmin, xmax, ymin, ymax).

    Cells are convex polygons carrying the affine map of every unit of the current layer: (A (w, 2), c (w,)).
    Layer by layer each cell is split by every unit's zero line (half-plane clipping); the ReLU then
    zeroes the inactive units' maps. Final cells carry the output's affine map (a (2,), c). Cells with the
    same map (rtol ``rtol_map``) that share an edge of positive length are merged by union-find.
    Returns {"pieces": int, "cells": int, "polygons": list of (P, 2) arrays, "maps": (C, 3) [a1, a2, c],
    "label": (C,) piece index per cell}. Counts are exact for every piece that meets the box and whose
    intersection with the box is connected (choose a box containing all bounded pieces).
    """
    if net.input_dim != 2:
        raise ValueError(f"net must have 2 inputs, got {net.input_dim}")
    x0, x1, y0, y1 = box
    if not (x1 > x0 and y1 > y0):
        raise ValueError(f"box must be (xmin, xmax, ymin, ymax) with xmin<xmax, ymin<ymax, got {box}")
    square = np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], dtype=np.float64)
    cells = [(square, np.eye(2), np.zeros(2))]  # (polygon, A (d,2), c (d,)): current features as affine maps
    amin = tol * (x1 - x0) * (y1 - y0)
    for li, (W, b) in enumerate(zip(net.weights, net.biases)):
        new = []
        for poly, A, c in cells:
            PA, Pc = W @ A, W @ c + b          # pre-activations, affine on the cell
            if li == len(net.weights) - 1:
                new.append((poly, PA, Pc))
                continue
            parts = [(poly, np.ones(W.shape[0], dtype=bool))]
            for u in range(W.shape[0]):
                nxt = []
                for q, act in parts:
                    s = q @ PA[u] + Pc[u]
                    if np.all(s >= -tol) or np.all(s <= tol):   # the line misses the cell's interior
                        a2 = act.copy()
                        a2[u] = bool(s.max() > tol)
                        nxt.append((q, a2))
                        continue
                    for sgn in (1.0, -1.0):
                        r = _clip(q, PA[u], Pc[u], sgn, tol)
                        if len(r) >= 3 and _area(r) > amin:
                            a2 = act.copy()
                            a2[u] = sgn > 0
                            nxt.append((r, a2))
                parts = nxt
            for q, act in parts:
                new.append((q, PA * act[:, None], Pc * act))
        cells = new
    polys = [p for p, _, _ in cells]
    maps = np.array([[A[0, 0], A[0, 1], c[0]] for _, A, c in cells])
    C = len(cells)
    parent = list(range(C))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    scale = max(1.0, float(np.abs(maps).max())) if C else 1.0
    edge_tol = 1e-7 * max(x1 - x0, y1 - y0)
    for i in range(C):
        same = np.nonzero(np.all(np.abs(maps[i + 1:] - maps[i]) <= rtol_map * scale + 1e-12, axis=1))[0] + i + 1
        for j in same:
            if find(i) != find(int(j)) and _share_edge(polys[i], polys[int(j)], edge_tol):
                parent[find(i)] = find(int(j))
    roots = np.array([find(i) for i in range(C)])
    _, label = np.unique(roots, return_inverse=True)
    return {"pieces": int(label.max() + 1) if C else 0, "cells": C, "polygons": polys, "maps": maps,
            "label": label}
