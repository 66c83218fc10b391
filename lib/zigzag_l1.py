"""Thm 2.3.6 of thesis Ch. 2 (document 003, L549–L575): shallow nets stay far from the zig-zag s_q in L1.

Used by the chapter ``relu_function_spaces``. For q = w^k the zig-zag s_q = h_a^{∘k} with a = (1/w, …, (w−1)/w)
(Def 5) has ⌊q/2⌋ triangles of width 2/q and height 1 on [0, 1]; a continuous g with p pieces is affine on all but
p − 1 of them, and an affine function is at L1 distance ≥ 1/(2q) from one triangle, so

    ∫_0^1 |s_q − g| ≥ ¼ − (2p − 1)/(4q)                               (piece form, L549)
    size ≤ k'w^{k/k'}(1 − 4δ)^{1/k'}/2^{1+1/k'}  ⇒  ∫_0^1 |s_q − g| > δ   (size form, depth ≤ k' + 1, L549–L553).

Everything here is exact (closed forms and :class:`lib.pwl.PWL` integrals), except the training of shallow nets
(:func:`train_shallow`), whose results are then measured exactly.

* :func:`triangle_l1_affine`, :func:`triangle_closed_form_deviation`, :func:`triangle_minimum` — the per-triangle
  fact of the proof (L565–L575): closed form, checked against exact integrals, and its minimum 1/(2q) at (½, ½).
* :func:`piece_bound`, :func:`zigzag_approximant`, :func:`approximant_rows` — the piece form and the constructive
  p = 2r + 2 approximants (error ¼ − (4r + 1)/(8q)).
* :func:`thm236_size_bound`, :func:`thm236_delta_of_size`, :func:`size_form_rows` — the size form and its test on
  nets with exact errors.
* :func:`train_shallow`, :func:`l1_table` — one- and two-hidden-layer nets trained to s_q, their exact piece counts
  and exact L1 errors.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from .pwl import PWL
from .relu_constructions import ReLUNet, grouped_zigzag_net, pwl_to_relu2

__all__ = [
    "triangle_l1_affine", "triangle_closed_form_deviation", "triangle_minimum", "piece_bound", "zigzag_approximant",
    "approximant_rows", "thm236_size_bound", "thm236_delta_of_size", "size_form_rows", "SizeForm", "train_shallow",
    "l1_table",
]


# ---------------------------------------------------------------------------------------- one triangle
def triangle_l1_affine(y1, y2, q: int):
    """Closed form of ∫|T − g| over one zig-zag triangle T (height 1, base [0, 2/q]) against the line g through
    (0, y1) and (2/q, y2), for y1, y2 ∈ [0, 1] (proof of Thm 2.3.6, L565–L575). Broadcasts over y1, y2; its
    minimum 1/(2q) is at y1 = y2 = ½."""
    y1, y2 = np.asarray(y1, float), np.asarray(y2, float)
    return (1 / q) * (-3 + y1 + 2 * y1**2 / (2 + y1 - y2) + y2 + 2 * (-2 + y1) ** 2 / (2 - y1 + y2))


def _line(y1: float, y2: float, q: int) -> PWL:
    """The line through (0, y1) and (2/q, y2) on R (end slopes continue it)."""
    s = (y2 - y1) * q / 2
    return PWL.from_points([0, 2 / q], [y1, y2], s, s)


def triangle_closed_form_deviation(q: int, n_grid: int = 11) -> float:
    """max |exact ∫_0^{2/q} |T − g| − :func:`triangle_l1_affine`| over the n_grid × n_grid grid of (y1, y2) ∈ [0, 1]²
    (T the unit triangle on [0, 2/q], g the line through (0, y1), (2/q, y2)); the integral is exact (lib.pwl)."""
    tri = PWL.from_points([0, 1 / q, 2 / q], [0, 1, 0], 0, 0)
    gr = np.linspace(0, 1, n_grid)
    return max(abs(tri.l1_distance(_line(y1, y2, q), 0, 2 / q) - triangle_l1_affine(y1, y2, q))
               for y1 in gr for y2 in gr)


def triangle_minimum(q: int, n_fine: int = 201) -> tuple[float, tuple[float, float]]:
    """(q · min, argmin (y1, y2)) of :func:`triangle_l1_affine` over an n_fine × n_fine grid of [0, 1]²; the proof's
    value is q · 1/(2q) = ½ at (½, ½) (on the grid when n_fine is odd)."""
    fine = np.linspace(0, 1, n_fine)
    Y1, Y2 = np.meshgrid(fine, fine)
    vals = triangle_l1_affine(Y1, Y2, q)
    i = np.unravel_index(np.argmin(vals), vals.shape)
    return float(vals[i]) * q, (float(Y1[i]), float(Y2[i]))


# ---------------------------------------------------------------------------------------- piece form
def piece_bound(p, q: int):
    """Thm 2.3.6, piece form (L549): every continuous g with p pieces on [0, 1] has ∫_0^1|s_q − g| ≥ ¼ − (2p − 1)/(4q).
    Broadcasts over p."""
    return 0.25 - (2 * p - 1) / (4 * q)


def zigzag_approximant(r: int, q: int) -> PWL:
    """The constructive approximant of the zig-zag s_q with p = 2r + 2 pieces on [0, 1]: copy the first r
    triangles exactly, climb to ½ and stay there (Thm 2.3.6 discussion). Its L1 error is ¼ − (4r + 1)/(8q)."""
    if not 0 <= 2 * r + 2 <= q // 2 + 2:
        raise ValueError(f"r={r}: accepted values are 0 <= r with 2r + 2 <= q/2 + 2 (q={q})")
    pts, vals = [0.0], [0.0]
    for i in range(r):
        pts += [(2 * i + 1) / q, (2 * i + 2) / q]
        vals += [1.0, 0.0]
    pts.append((2 * r + 0.5) / q)
    vals.append(0.5)
    return PWL.from_points(pts, vals, 0.0, 0.0)


class ApproximantRow(NamedTuple):
    """One constructive approximant: ``p`` = 2r + 2, exact ``pieces`` on [0, 1], exact ``l1`` error, the closed form
    ``formula`` ¼ − (4r + 1)/(8q), and ``ok``: l1 = formula (to 1e-12) and l1 ≥ :func:`piece_bound` (pieces)."""

    p: int
    pieces: int
    l1: float
    formula: float
    ok: bool


def approximant_rows(approx: Mapping[int, PWL], target: PWL, q: int) -> list[ApproximantRow]:
    """The approximants ``approx`` {r: :func:`zigzag_approximant` (r, q)} against the zig-zag ``target`` = s_q."""
    rows = []
    for r, a in approx.items():
        pieces, l1, formula = a.pieces_in(0, 1), target.l1_distance(a, 0, 1), 0.25 - (4 * r + 1) / (8 * q)
        ok = abs(l1 - formula) < 1e-12 and l1 >= piece_bound(pieces, q) - 1e-12
        rows.append(ApproximantRow(2 * r + 2, pieces, l1, formula, bool(ok)))
    return rows


# ---------------------------------------------------------------------------------------- size form
def _check_kwk(k_shallow: int, w: int, k: int) -> None:
    if min(k_shallow, w, k) < 1:
        raise ValueError(f"k_shallow={k_shallow}, w={w}, k={k}: accepted values are integers >= 1")


def thm236_size_bound(delta, k_shallow: int, w: int, k: int):
    """Thm 2.3.6, size form (Mukherjee 2020, L549–L553): nets of depth ≤ k_shallow + 1 and size at most
    ``k' w^{k/k'} (1 − 4δ)^{1/k'} / 2^{1 + 1/k'}`` stay at L1 distance > δ from f_{k,w} on [0, 1]. Broadcasts over
    δ ∈ [0, ¼]."""
    _check_kwk(k_shallow, w, k)
    d = np.asarray(delta, float)
    return k_shallow * w ** (k / k_shallow) * np.clip(1 - 4 * d, 0, None) ** (1 / k_shallow) / 2 ** (1 + 1 / k_shallow)


def thm236_delta_of_size(s, k_shallow: int, w: int, k: int):
    """The inverse of :func:`thm236_size_bound`: the L1 error δ(s) = ¼ − 2^{k'−1}(s/k')^{k'}/w^k that Thm 2.3.6
    guarantees for every net of depth ≤ k' + 1 and size s (vacuous when ≤ 0). It equals the piece form
    ¼ − p/(2w^k) of the proof (L575, without its −1) at the Lemma 2.A.7 maximum p = (2s/k')^{k'}."""
    _check_kwk(k_shallow, w, k)
    s = np.asarray(s, float)
    return 0.25 - 2.0 ** (k_shallow - 1) * (s / k_shallow) ** k_shallow / float(w) ** k


class SizeFormRow(NamedTuple):
    """One net tested against the size form: ``kind``, ``k_shallow`` hidden layers, ``size``, exact L1 ``error`` to
    s_q on [0, 1] and the guaranteed ``delta`` = :func:`thm236_delta_of_size` (size)."""

    kind: str
    k_shallow: int
    size: int
    error: float
    delta: float


@dataclass(frozen=True)
class SizeForm:
    """The rows of :func:`size_form_rows` and what the size form asks of them."""

    rows: list[SizeFormRow]

    @property
    def margins(self) -> dict[str, float]:
        """min (error − δ) per kind, in order of first appearance."""
        return {kd: min(r.error - r.delta for r in self.rows if r.kind == kd) for kd in dict.fromkeys(r.kind for r in
                                                                                                       self.rows)}

    @property
    def ok(self) -> bool:
        """Every net keeps error > δ(size) wherever δ(size) > 0 (the theorem)."""
        return all(r.error > r.delta or r.delta <= 0 for r in self.rows)

    @property
    def exact_rows(self) -> list[SizeFormRow]:
        """The constructed nets (constructive approximants and exact nets for s_q), whose errors are exact."""
        return [r for r in self.rows if r.kind != "trained"]

    @property
    def exact_nets_vacuous(self) -> bool:
        """The nets that compute s_q exactly (error 0) have δ(size) ≤ 0, as the theorem requires."""
        return all(r.delta <= 0 for r in self.rows if r.kind.startswith("exact"))


def size_form_rows(approx: Sequence[PWL], a_list: Sequence, trained: np.ndarray, target: PWL, w: int,
                   k_shallows: Sequence[int] = (1, 2, 3)) -> SizeForm:
    """Nets with exact L1 errors against the size form of Thm 2.3.6 (L549–L553), k = len(a_list) layers of width w.

    Rows: the approximants ``approx`` made 2-layer nets by Thm 2.2.2 (:func:`pwl_to_relu2`); the exact nets for
    ``target`` = H_{a_list} with k' hidden layers (:func:`grouped_zigzag_net`) for every k' in ``k_shallows`` + (k,)
    that divides k; the ``trained`` nets as rows [hidden layers, size, pieces, L1 error, bound] of :func:`l1_table`.
    """
    k = len(a_list)
    rows = []
    for a in approx:
        net_a = pwl_to_relu2(a)
        rows.append(("constructive", 1, net_a.size, target.l1_distance(net_a.to_pwl(), 0, 1)))
    for kp in (*k_shallows, k):
        if k % kp == 0:
            net_g = grouped_zigzag_net(a_list, 1.0, kp)
            rows.append((f"exact s_q, {kp} hidden", kp, net_g.size, target.l1_distance(net_g.to_pwl(), 0, 1)))
    for L_, s_, _, e_, _ in trained:
        rows.append(("trained", int(L_), int(s_), float(e_)))
    return SizeForm([SizeFormRow(kd, kp, s_, e_, float(thm236_delta_of_size(s_, kp, w, k))) for kd, kp, s_, e_ in rows])


# ---------------------------------------------------------------------------------------- trained nets
def train_shallow(x: np.ndarray, y: np.ndarray, w1s: Sequence[int], w2s: Sequence[int], n_seeds: int, steps: int,
                  generator, lr: float = 0.01) -> tuple[list[ReLUNet], list[ReLUNet]]:
    """One- and two-hidden-layer nets trained to (x (N, 1), y (N,)) with the L1 loss (lib.relu_fit, Adam with cosine
    decay): widths (w,) for w in ``w1s`` and (w, w) for w in ``w2s``, ``n_seeds`` restarts each, seed-major within a
    width. The initial weights of a depth are drawn as one padded batch from ``generator`` (one-layer nets first); the
    nets of each width then train as their own batch (``group_by_width``: no work on padding)."""
    from .relu_fit import train_masked_mlps

    def fit(widths: list[tuple[int, ...]]) -> list[ReLUNet]:
        return train_masked_mlps(x, y, widths, steps, lr, generator, "l1", group_by_width=True)[0]

    return fit([(w,) for w in w1s for _ in range(n_seeds)]), fit([(w, w) for w in w2s for _ in range(n_seeds)])


def l1_table(nets: Sequence[ReLUNet], target: PWL, q: int) -> np.ndarray:
    """Exact measurements of nets R → R against ``target`` = s_q on [0, 1]: (B, 5) rows [hidden layers, size, pieces p
    in [0, 1], ∫_0^1|s_q − g|, :func:`piece_bound` (p, q)], from each net's exact PWL function."""
    rows = []
    for net in nets:
        g = net.to_pwl()
        p = g.pieces_in(0, 1)
        rows.append((net.hidden_layers, net.size, p, target.l1_distance(g, 0, 1), piece_bound(p, q)))
    return np.array(rows)
