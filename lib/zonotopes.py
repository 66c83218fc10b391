"""Zonotopes, the ZONOTOPE family and exact 2-D linear-region enumeration (thesis Ch. 2, §2.3.2).

Used by the chapter ``relu_function_spaces`` (document 003). Implements Def 7 / Thm 2.3.7 (L597: vertices
and support function of Z(b¹..b^m)), Lemma 2.3.8 (L611: γ_Z as a 2-layer net of size 2m), Prop 2.3.9 /
Thm 2.3.10 (L619-637: H∘γ_Z as a (k+2)-layer net of size 2m + wk), and an exact enumerator of the linear
regions of a ReLU net R² -> R (polygon splitting layer by layer, then merging of edge-adjacent cells that
carry the same affine map), which counts *pieces* as Def 3 does (maximal connected affine sets).

Surveys measured by the chapter's claims: ``vertex_count_survey`` (Thm 2.3.7.1 on random generators),
``support_minimum`` / ``box_half_width`` (a square that holds every bounded piece), ``piece_report`` (exact pieces of
a ZONOTOPE function next to the derived count and the two printed ones), ``random_zonotope_survey``, and
``zonotope_vs_montufar`` (the comparison of L643 with Montúfar et al.'s count).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from math import comb
from typing import NamedTuple

import numpy as np
from scipy.spatial import ConvexHull

from .relu_constructions import ReLUNet, _zigzag_coeffs

__all__ = [
    "sign_sums", "zonotope_vertices", "vertex_count_formula", "gamma_net", "zonotope_function_net",
    "linear_regions_2d", "zonotope_piece_formula", "vertex_count_survey", "support_minimum", "box_half_width",
    "piece_report", "random_zonotope_survey", "montufar_regions", "zonotope_vs_montufar",
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


# ---------------------------------------------------------------------------------------- surveys
class VertexCountRow(NamedTuple):
    """Vertex counts of random zonotopes in R^n with m generators: the distinct ``counts`` over the draws, the
    generic count ``formula`` 2Σ_{i<n}C(m−1,i) and the ``thesis`` count Σ_{i<n}C(m−1,i) (Thm 2.3.7.1, L597)."""

    n: int
    m: int
    counts: list[int]
    formula: int
    thesis: int


def vertex_count_survey(ns: Sequence[int], m_max: int, draws: int, rng: np.random.Generator) -> list[VertexCountRow]:
    """For each n in ``ns`` and m = n..m_max, ``draws`` zonotopes with N(0, 1) generators B (m, n), their vertices
    counted exactly (:func:`zonotope_vertices`), beside :func:`vertex_count_formula`."""
    rows = []
    for n in ns:
        for m in range(n, m_max + 1):
            counts = {len(zonotope_vertices(rng.normal(size=(m, n)))) for _ in range(draws)}
            rows.append(VertexCountRow(n, m, sorted(counts), *vertex_count_formula(n, m)))
    return rows


def support_minimum(B: np.ndarray, norm: str = "inf") -> float:
    """min of γ_Z(r) = Σ_j |⟨r, b^j⟩| (Thm 2.3.7) over the unit sphere of ``norm`` ("inf": the square ‖r‖_∞ = 1,
    "2": the circle), exactly, for B: (m, 2). Between the directions r ⟂ b^j the function is r ↦ ⟨r, s⟩ for a fixed s:
    linear along a square's edge, |s| cos(θ − φ) (concave where ≥ 0) along the circle, so the minimum is attained at a
    direction ⟂ some b^j or at a corner of the square."""
    B = np.asarray(B, dtype=np.float64)
    if B.ndim != 2 or B.shape[1] != 2:
        raise ValueError(f"B must be (m, 2), got shape {B.shape}")
    if norm not in ("inf", "2"):
        raise ValueError(f"norm={norm!r}: accepted values are 'inf', '2'")
    perp = np.stack([-B[:, 1], B[:, 0]], 1)
    C = np.concatenate([perp, -perp] + ([np.array([[1.0, 1.0], [1.0, -1.0], [-1.0, 1.0], [-1.0, -1.0]])]
                                       if norm == "inf" else []))
    C = C[np.abs(C).max(1) > 0]
    C = C / (np.abs(C).max(1, keepdims=True) if norm == "inf" else np.linalg.norm(C, axis=1, keepdims=True))
    return float(np.abs(C @ B.T).sum(1).min())


def box_half_width(B: np.ndarray, level: float, norm: str = "inf") -> float:
    """Half-width R of a square [−R, R]² whose boundary has γ_Z ≥ ``level``: level / :func:`support_minimum` (B, norm)
    (with norm "2" the square holds the disc of radius R, on whose boundary γ_Z ≥ level too). With level > M the
    square contains every bounded piece of H∘γ_Z (Prop 2.3.9). Raises if the generators do not span R²."""
    g = support_minimum(B, norm)
    if not g > 0:
        raise ValueError("the generators do not span R^2 (γ_Z vanishes on a line)")
    return level / g


def piece_report(B: np.ndarray, a_list: Sequence, M: float, box: float) -> dict:
    """ZONOTOPE[a^1..a^k, B] = H∘γ_Z (Prop 2.3.9, L619–L637) for B: (m, 2), counted exactly in [−box, box]².

    -> dict(net, regions (the :func:`linear_regions_2d` result), pieces, cells, V (vertices of Z), formula (the
    derived exact count :func:`zonotope_piece_formula`), prop239 = (m−1)^{n−1}∏w_i and thm2310 = Σ_{i<n}C(m−1,i)∏w_i
    (the two printed counts, Prop 2.3.9 and Thm 2.3.10(i)), with w_i = len(a^i) + 1)."""
    net = zonotope_function_net(a_list, M, B)
    regions = linear_regions_2d(net, (-box, box, -box, box))
    m, n = np.shape(B)
    V = len(zonotope_vertices(B))
    wk = math.prod(len(a) + 1 for a in a_list)
    return dict(net=net, regions=regions, pieces=regions["pieces"], cells=regions["cells"], V=V,
                formula=zonotope_piece_formula(V, [len(a) for a in a_list]), prop239=(m - 1) ** (n - 1) * wk,
                thm2310=vertex_count_formula(n, m)[1] * wk)


class RandomZonotopeRow(NamedTuple):
    """One random 2-D ZONOTOPE function: m generators, width w, k layers, V vertices, exact ``pieces``, the derived
    ``formula`` V·w^k (+1) and the printed ``prop239`` and ``thm2310`` counts."""

    m: int
    w: int
    k: int
    V: int
    pieces: int
    formula: int
    prop239: int
    thm2310: int


def random_zonotope_survey(count: int, rng: np.random.Generator, level: float = 1.3) -> list[RandomZonotopeRow]:
    """``count`` random ZONOTOPE functions R² → R: m ∈ 2..6 N(0, 1) generators, w ∈ 2..3, k ∈ 1..3 (k = 1 when
    2m·w^k > 200), a^i sorted U(0.05, 0.95)^{w−1}, M = 1; pieces counted exactly (:func:`piece_report`) in the square
    :func:`box_half_width` (B, level, "2")."""
    rows = []
    for _ in range(count):
        m, w, k = int(rng.integers(2, 7)), int(rng.integers(2, 4)), int(rng.integers(1, 4))
        if w**k * 2 * m > 200:
            k = 1
        B = rng.normal(size=(m, 2))
        a_list = [np.sort(rng.uniform(0.05, 0.95, w - 1)) for _ in range(k)]
        r = piece_report(B, a_list, 1.0, box_half_width(B, level, "2"))
        rows.append(RandomZonotopeRow(m, w, k, r["V"], r["pieces"], r["formula"], r["prop239"], r["thm2310"]))
    return rows


def montufar_regions(w: int, n: int, k: int) -> int:
    """Regions of the construction of Montúfar et al. 2014 with input dimension n, k hidden layers of width w ≥ n:
    ⌊w/n⌋^{(k−1)n} Σ_{j=0}^{n} C(w, j) (as quoted by the thesis, L643)."""
    return (w // n) ** ((k - 1) * n) * sum(comb(w, j) for j in range(n + 1))


def zonotope_vs_montufar(n: int, m: int, ws: Sequence[int], ks: Sequence[int]) -> list[tuple[int, int, int, int, int]]:
    """The comparison of L643: rows (w, k, corrected ZONOTOPE count 2Σ_{i<n}C(m−1,i)·w^k, the thesis's formula
    Σ_{i<n}C(m−1,i)·w^k, :func:`montufar_regions` (w, n, k)) for every w in ``ws`` and k in ``ks``."""
    ours, thesis = vertex_count_formula(n, m)
    return [(w, k, ours * w**k, thesis * w**k, montufar_regions(w, n, k)) for w in ws for k in ks]
