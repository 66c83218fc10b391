"""Exact continuous piecewise-linear (PWL) functions R -> R and exact propagation of ReLU nets.

Used by the chapter ``relu_function_spaces`` (document 003, thesis Ch. 2). Everything here is exact up
to float64 rounding: a function is stored by its breakpoints, its values there and its two end slopes,
so sums, compositions, ReLUs, piece counts and L1 distances are computed from the representation,
never by sampling.

Representation (:class:`PWL`)
    ``t``: (K,) strictly increasing breakpoints (K >= 1), ``v``: (K,) values f(t), ``sl``/``sr``: the
    slopes of the unbounded pieces (-inf, t_0] and [t_{K-1}, inf). Between breakpoints f interpolates
    linearly. Breakpoints need not be kinks; :meth:`PWL.simplify` drops the ones that are not.

Definition 3 of the thesis (L460) counts *pieces* as maximal connected sets on which f is affine, so
:meth:`PWL.num_pieces` merges adjacent segments of equal slope. All array work is vectorised over
breakpoints (numpy), so compositions with ~10^7 pieces run in seconds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["PWL", "propagate_net", "hat", "affine"]


def _as1d(x, name: str) -> np.ndarray:
    a = np.asarray(x, dtype=np.float64).reshape(-1)
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name} must be finite, got {a!r}")
    return a


@dataclass(frozen=True)
class PWL:
    """A continuous PWL function R -> R (see the module docstring for the fields)."""

    t: np.ndarray
    v: np.ndarray
    sl: float
    sr: float

    # ------------------------------------------------------------------ construction
    @staticmethod
    def from_points(t, v, sl: float, sr: float) -> PWL:
        """Build from breakpoints ``t`` (K,), values ``v`` (K,) and end slopes; validates and sorts.

        Coincident breakpoints (gaps <= 4 ulp) are merged, keeping the first value.
        """
        t = _as1d(t, "t")
        v = _as1d(v, "v")
        if t.size == 0 or t.size != v.size:
            raise ValueError(f"t and v must be non-empty and of equal length, got {t.size} and {v.size}")
        if not (np.isfinite(sl) and np.isfinite(sr)):
            raise ValueError(f"sl and sr must be finite, got {sl}, {sr}")
        order = np.argsort(t, kind="stable")
        t, v = t[order], v[order]
        return PWL._clean(t, v, float(sl), float(sr))

    @staticmethod
    def _clean(t: np.ndarray, v: np.ndarray, sl: float, sr: float) -> PWL:
        if t.size > 1:
            local = np.maximum(np.abs(t[1:]), np.abs(t[:-1]))
            keep = np.ones(t.size, dtype=bool)
            keep[1:] = np.diff(t) > 4 * np.finfo(np.float64).eps * local
            if not keep.all():
                t, v = t[keep], v[keep]
        return PWL(t, v, sl, sr)

    # ------------------------------------------------------------------ basic queries
    @property
    def size(self) -> int:
        """Number of stored breakpoints K."""
        return int(self.t.size)

    def slopes(self) -> np.ndarray:
        """(K+1,) slopes of all segments, left tail first, right tail last."""
        inner = np.diff(self.v) / np.diff(self.t) if self.t.size > 1 else np.empty(0)
        return np.concatenate(([self.sl], inner, [self.sr]))

    def __call__(self, x) -> np.ndarray:
        """Evaluate at ``x`` (any shape) exactly (linear interpolation + linear tails)."""
        x = np.asarray(x, dtype=np.float64)
        y = np.interp(x, self.t, self.v)
        y = np.where(x < self.t[0], self.v[0] + self.sl * (x - self.t[0]), y)
        return np.where(x > self.t[-1], self.v[-1] + self.sr * (x - self.t[-1]), y)

    def _kinks(self, rtol: float, atol: float) -> np.ndarray:
        """Boolean (K,) mask: True where the slope really changes at t_i."""
        s = self.slopes()
        ds = np.abs(np.diff(s))
        return ds > atol + rtol * np.maximum(np.abs(s[:-1]), np.abs(s[1:]))

    def num_pieces(self, rtol: float = 1e-9, atol: float = 1e-12) -> int:
        """Exact number of pieces (Def 3): 1 + number of true kinks (equal slopes merged)."""
        return 1 + int(np.count_nonzero(self._kinks(rtol, atol)))

    def breakpoints(self, rtol: float = 1e-9, atol: float = 1e-12) -> np.ndarray:
        """The true kinks (K',) of f."""
        return self.t[self._kinks(rtol, atol)]

    def pieces_in(self, a: float, b: float, rtol: float = 1e-9, atol: float = 1e-12) -> int:
        """Number of pieces of f that meet the open interval (a, b): 1 + #kinks strictly inside."""
        if not b > a:
            raise ValueError(f"need a < b, got a={a}, b={b}")
        k = self.breakpoints(rtol, atol)
        return 1 + int(np.count_nonzero((k > a) & (k < b)))

    def simplify(self, rtol: float = 1e-9, atol: float = 1e-12) -> PWL:
        """Same function with only its true kinks stored (keeps one breakpoint if f is affine)."""
        m = self._kinks(rtol, atol)
        if not m.any():
            return PWL(self.t[:1].copy(), self.v[:1].copy(), self.sl, self.sl)
        return PWL(self.t[m], self.v[m], self.sl, self.sr)

    # ------------------------------------------------------------------ algebra
    def refine(self, new_t: np.ndarray) -> PWL:
        """Same function with the extra breakpoints ``new_t`` stored (union, sorted)."""
        t = np.union1d(self.t, _as1d(new_t, "new_t"))
        return PWL._clean(t, self(t), self.sl, self.sr)

    def __add__(self, other) -> PWL:
        if isinstance(other, PWL):
            t = np.union1d(self.t, other.t)
            return PWL._clean(t, self(t) + other(t), self.sl + other.sl, self.sr + other.sr)
        c = float(other)
        return PWL(self.t, self.v + c, self.sl, self.sr)

    __radd__ = __add__

    def __neg__(self) -> PWL:
        return PWL(self.t, -self.v, -self.sl, -self.sr)

    def __sub__(self, other) -> PWL:
        return self + (-other if isinstance(other, PWL) else -float(other))

    def __mul__(self, c) -> PWL:
        c = float(c)
        return PWL(self.t, c * self.v, c * self.sl, c * self.sr)

    __rmul__ = __mul__

    def _zero_crossings(self) -> np.ndarray:
        """Points where f changes sign strictly inside a segment or on a tail (sorted)."""
        t, v = self.t, self.v
        out = []
        if self.sl != 0.0 and v[0] * self.sl > 0:  # tail crosses zero left of t_0
            out.append(np.array([t[0] - v[0] / self.sl]))
        if t.size > 1:
            cross = (v[:-1] * v[1:]) < 0
            i = np.nonzero(cross)[0]
            out.append(t[i] + (t[i + 1] - t[i]) * (v[i] / (v[i] - v[i + 1])))
        if self.sr != 0.0 and v[-1] * self.sr < 0:
            out.append(np.array([t[-1] - v[-1] / self.sr]))
        return np.concatenate(out) if out else np.empty(0)

    def relu(self) -> PWL:
        """max{0, f}: zero crossings inserted (also on the unbounded ends), values clipped."""
        z = self._zero_crossings()
        g = self.refine(z) if z.size else self
        left_pos = (-g.sl > 0) if g.sl != 0 else (g.v[0] > 0)   # sign of f at -inf
        right_pos = (g.sr > 0) if g.sr != 0 else (g.v[-1] > 0)  # sign of f at +inf
        v = np.maximum(g.v, 0.0)
        v[np.isin(g.t, z)] = 0.0   # f at a crossing is 0 only up to rounding (7e-15 reads as a kink)
        return PWL(g.t, v, g.sl if left_pos else 0.0, g.sr if right_pos else 0.0)

    def maximum(self, other: PWL) -> PWL:
        """max{f, g} = g + ReLU(f - g)."""
        return other + (self - other).relu()

    def compose(self, inner: PWL) -> PWL:
        """(self ∘ inner)(x) = self(inner(x)).

        New breakpoints are those of ``inner`` plus the preimages under ``inner`` of ``self``'s
        breakpoints, generated segment by segment in x-order without a global sort; cost
        O(K_inner + #preimages). Designed for a small outer function and a huge inner one.
        """
        g, f = self, inner
        tg = g.t
        t, v = f.t, f.v
        K = t.size
        # --- preimages inside each finite segment [t_i, t_{i+1}] (open in value)
        if K > 1:
            lo = np.minimum(v[:-1], v[1:])
            hi = np.maximum(v[:-1], v[1:])
            j0 = np.searchsorted(tg, lo, side="right")  # first tg > lo
            j1 = np.searchsorted(tg, hi, side="left")   # first tg >= hi
            cnt = np.maximum(j1 - j0, 0)
        else:
            cnt = np.zeros(0, dtype=np.int64)
        # --- tails
        left = np.empty(0)
        if f.sl > 0:
            left = tg[tg < v[0]]                      # ascending in tg = ascending in x
            left = t[0] + (left - v[0]) / f.sl
        elif f.sl < 0:
            left = tg[tg > v[0]][::-1]
            left = t[0] + (left - v[0]) / f.sl
        right = np.empty(0)
        if f.sr > 0:
            right = tg[tg > v[-1]]
            right = t[-1] + (right - v[-1]) / f.sr
        elif f.sr < 0:
            right = tg[tg < v[-1]][::-1]
            right = t[-1] + (right - v[-1]) / f.sr
        # --- interleave: [left tail pre-images] t_0 [seg 0 pre-images] t_1 ... t_{K-1} [right]
        n_mid = int(cnt.sum())
        total = left.size + K + n_mid + right.size
        X = np.empty(total)
        Y = np.empty(total)
        X[: left.size] = left
        Y[: left.size] = g(f(left)) if left.size else left
        base = left.size
        # position of t_i in the output
        pos_t = base + np.arange(K) + np.concatenate(([0], np.cumsum(cnt)))
        X[pos_t] = t
        Y[pos_t] = g(v)
        if n_mid:
            seg = np.repeat(np.arange(K - 1), cnt)
            start = np.concatenate(([0], np.cumsum(cnt)[:-1]))
            k = np.arange(n_mid) - start[seg]          # rank inside the segment
            inc = v[1:][seg] > v[:-1][seg]
            j = np.where(inc, j0[seg] + k, j1[seg] - 1 - k)
            yv = tg[j]
            x = t[seg] + (yv - v[seg]) * ((t[seg + 1] - t[seg]) / (v[seg + 1] - v[seg]))
            p = pos_t[seg] + 1 + k
            X[p] = x
            Y[p] = g.v[j]
        if right.size:
            X[base + K + n_mid:] = right
            Y[base + K + n_mid:] = g(f(right))
        # end slopes: f -> ±inf on the tails picks g's end slope
        sl = f.sl * (g.sl if f.sl > 0 else g.sr) if f.sl != 0 else 0.0
        sr = f.sr * (g.sr if f.sr > 0 else g.sl) if f.sr != 0 else 0.0
        # numerical safety: preimages are monotone by construction; drop rare rounding ties
        if total > 1 and not np.all(np.diff(X) > 0):
            order = np.argsort(X, kind="stable")
            X, Y = X[order], Y[order]
        return PWL._clean(X, Y, float(sl), float(sr))

    # ------------------------------------------------------------------ integrals
    def integral_abs(self, a: float, b: float) -> float:
        """Exact ∫_a^b |f(x)| dx (zero crossings inserted, trapezoid on each sign-constant segment)."""
        if not b > a:
            raise ValueError(f"need a < b, got a={a}, b={b}")
        z = self._zero_crossings()
        pts = np.union1d(np.concatenate((self.t, z)), [a, b])
        pts = pts[(pts >= a) & (pts <= b)]
        y = np.abs(self(pts))
        return float(np.sum(0.5 * (y[1:] + y[:-1]) * np.diff(pts)))

    def l1_distance(self, other: PWL, a: float, b: float) -> float:
        """Exact ∫_a^b |f - g| dx."""
        return (self - other).integral_abs(a, b)


def random_pwl(m: int, rng: np.random.Generator, flat: str | None = None, *, span: float = 5.0) -> PWL:
    """A random continuous PWL function R → R with exactly ``m`` pieces (generic values), for tests of the
    constructions of Thm 2.2.2 (Mukherjee 2020, L500–L520): ``m − 1`` breakpoints in (−span, span) with gaps of at
    least ``0.3 · 2 span / m``, N(0, 1) values at them and N(0, 1) end slopes; ``flat="L"``/``"R"`` makes the left or
    right end slope 0 (the case where the network needs one unit fewer)."""
    if m < 2:
        raise ValueError(f"m={m}: accepted values are integers >= 2 (pieces)")
    if flat not in (None, "L", "R"):
        raise ValueError(f"flat={flat!r}: accepted values are None, 'L', 'R'")
    gaps = rng.uniform(0.3, 1.0, m)
    a = -span + 2 * span * np.cumsum(gaps)[:-1] / gaps.sum()
    sl, sr = rng.normal(), rng.normal()
    sl = 0.0 if flat == "L" else sl
    sr = 0.0 if flat == "R" else sr
    return PWL.from_points(a, rng.normal(size=m - 1), sl, sr)


def affine(slope: float, intercept: float) -> PWL:
    """The affine function x -> slope·x + intercept as a PWL (one stored breakpoint at 0)."""
    return PWL(np.zeros(1), np.array([float(intercept)]), float(slope), float(slope))


def hat(points, values, sl: float = 0.0, sr: float = 0.0) -> PWL:
    """Convenience constructor: PWL through (points, values) with end slopes sl, sr."""
    return PWL.from_points(points, values, sl, sr)


def propagate_net(weights: Sequence[np.ndarray], biases: Sequence[np.ndarray],
                  simplify: bool = True) -> PWL:
    """Exact PWL function of an R -> R ReLU net (Def 1, L349): A_{k+1}∘ReLU∘A_k∘…∘ReLU∘A_1.

    weights[i]: (w_{i+1}, w_i) with w_0 = 1 and w_{k+1} = 1; biases[i]: (w_{i+1},).
    All units of a layer share one breakpoint grid: values V (width, K) and end slopes (width,);
    ReLU inserts the union of all units' zero crossings. Vectorised over units and breakpoints.
    """
    if len(weights) != len(biases) or len(weights) == 0:
        raise ValueError("weights and biases must be non-empty lists of equal length")
    W0 = np.asarray(weights[0], dtype=np.float64)
    if W0.ndim != 2 or W0.shape[1] != 1:
        raise ValueError(f"weights[0] must have shape (w1, 1), got {W0.shape}")
    # layer state: common grid t (K,), values V (w, K), slopes SL, SR (w,)
    t = np.zeros(1)
    V = np.zeros((1, 1))
    SL = np.ones(1)
    SR = np.ones(1)
    for li, (W, b) in enumerate(zip(weights, biases)):
        W = np.asarray(W, dtype=np.float64)
        b = np.asarray(b, dtype=np.float64).reshape(-1)
        if W.ndim != 2 or W.shape[1] != V.shape[0] or b.shape[0] != W.shape[0]:
            raise ValueError(f"layer {li}: W {W.shape} / b {b.shape} do not match input width {V.shape[0]}")
        V = W @ V + b[:, None]
        SL = W @ SL
        SR = W @ SR
        if li == len(weights) - 1:
            break
        # ---- ReLU with zero crossings of every unit
        cross = (V[:, :-1] * V[:, 1:]) < 0
        u, i = np.nonzero(cross)
        z = [t[i] + (t[i + 1] - t[i]) * (V[u, i] / (V[u, i] - V[u, i + 1]))]
        lt = (SL != 0) & (V[:, 0] * SL > 0)
        z.append(t[0] - V[lt, 0] / SL[lt])
        rt = (SR != 0) & (V[:, -1] * SR < 0)
        z.append(t[-1] - V[rt, -1] / SR[rt])
        z = np.concatenate(z)
        if z.size:
            tn = np.union1d(t, z)
            # evaluate each unit at the refined grid (exact: linear between old breakpoints)
            Vn = np.empty((V.shape[0], tn.size))
            for r in range(V.shape[0]):  # loop over units of one layer (width), vectorised over K
                Vn[r] = PWL(t, V[r], SL[r], SR[r])(tn)
            t, V = tn, Vn
        left_pos = np.where(SL != 0, -SL > 0, V[:, 0] > 0)
        right_pos = np.where(SR != 0, SR > 0, V[:, -1] > 0)
        V = np.maximum(V, 0.0)
        SL = np.where(left_pos, SL, 0.0)
        SR = np.where(right_pos, SR, 0.0)
        if simplify and t.size > 1:
            s = np.concatenate((SL[:, None], np.diff(V, axis=1) / np.diff(t), SR[:, None]), axis=1)
            ds = np.abs(np.diff(s, axis=1)) > 1e-12 + 1e-9 * np.maximum(np.abs(s[:, :-1]), np.abs(s[:, 1:]))
            keep = ds.any(axis=0)
            if not keep.any():
                keep[0] = True
            t, V = t[keep], V[:, keep]
    if V.shape[0] != 1:
        raise ValueError(f"the last layer must have one output, got {V.shape[0]}")
    return PWL._clean(t, V[0], float(SL[0]), float(SR[0]))
