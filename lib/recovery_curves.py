"""Summaries of recovery curves: how the test R² of students and the fraction of restarts that recover a teacher
depend on the sample size N, the input dimension d and the width m (Emschwiller 2020, §2.4.1-2.4.2, Figs 2.2-2.4,
2.7).

A student *recovers* its teacher when its test R² (eq. 2.9) is at least ``threshold`` (0.95 in the thesis). Every
number the chapter ``sample_complexity`` checks about these curves is computed here:

* :func:`recovery_fractions` -- the fraction of models that recover, per (recipe, N) (the recipe comparison).
* :func:`first_epoch_at` -- the first recorded epoch at which the median test R² reaches a level.
* :func:`small_d_minima` -- the worst teacher-mean R² over small d, per width, at given N (L560-L562).
* :func:`slope_ratio`, :func:`slope_ratios` -- large-x over small-x slope of a curve per unit of x: 1 for a
  straight line (L562, 'close-to-linear rate in d').
* :func:`growth_summary` -- the worst R² at the largest N and the fraction of steps in N that do not decrease
  (L575).
* :func:`recovery_crossings`, :func:`transition_ratio` -- the log-interpolated N at which each teacher's recovery
  fraction crosses p, and the ratio of two such N (the width of the transition, Fig 2.7, L623).
"""
from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from lib import stats
from lib.grid import Grid

ArrayLike = Any  # numpy-convertible


def recovery_fractions(r2: Mapping[tuple[str, int], ArrayLike], threshold: float = 0.95) -> Grid:
    """``{(recipe, N): test R² per model}`` → Grid over axes ``recipe`` and ``N`` (in first-seen order) of the fraction
    of models with R² ≥ ``threshold``. Every (recipe, N) pair must be present."""
    names = list(dict.fromkeys(k[0] for k in r2))
    Ns = list(dict.fromkeys(k[1] for k in r2))
    missing = [(n, N) for n in names for N in Ns if (n, N) not in r2]
    if missing:
        raise ValueError(f"recovery_fractions needs every (recipe, N) pair; missing {missing}")
    P = [[float((np.asarray(r2[n, N]) >= threshold).mean()) for N in Ns] for n in names]
    return Grid(np.array(P, float), {"recipe": names, "N": Ns})


def first_epoch_at(epochs: ArrayLike, history: ArrayLike, level: float) -> int | None:
    """The first recorded epoch at which the median over models of ``history`` reaches ``level``; ``None`` if it never
    does. ``epochs: (E,)``, ``history: (E, models)`` (e.g. test R² every few epochs)."""
    ep, h = np.asarray(epochs), np.asarray(history)
    if h.ndim != 2 or h.shape[0] != ep.shape[0]:
        raise ValueError(f"history must be (len(epochs), models), got {h.shape} for {ep.shape[0]} epochs")
    hit = np.nonzero(np.median(h, 1) >= level)[0]
    return int(ep[hit[0]]) if hit.size else None


def small_d_minima(mu: Grid, ds: Sequence[Any], Ns: Sequence[Any]) -> dict[Any, tuple[float, ...]]:
    """``{m: (min over d in ds of mu at N, for each N in Ns)}``; ``mu``: Grid over axes ``N``, ``d``, ``m`` (the
    teacher-mean recovery R² of Algorithm 3)."""
    sm = mu.sel(d=list(ds))
    return {m: tuple(float(sm.sel(N=N, m=m).values.min()) for N in Ns) for m in mu.axes["m"]}


def slope_ratio(x: ArrayLike, y: ArrayLike, split: float, *, flat: float = 1e-3) -> float:
    """Slope of the least-squares line of y on the points ``x >= split`` over that on ``x <= split`` (both contain
    the split point). A straight line gives 1; a curve that falls faster and faster gives > 1. A small-x part that is
    not decreasing (slope ≥ ``-flat``) has no linear rate at all: ``inf``. ``x, y: (n,)``."""
    x, y = np.asarray(x), np.asarray(y)
    lo, hi = x <= split, x >= split
    if lo.sum() < 3 or hi.sum() < 3:
        raise ValueError(f"slope_ratio needs at least 3 points on each side of split={split} (fits with intervals)")
    s_lo = stats.linear_fit(x[lo], y[lo]).slope
    s_hi = stats.linear_fit(x[hi], y[hi]).slope
    return s_hi / s_lo if s_lo < -flat else float("inf")


def slope_ratios(mu: Grid, x: str, split: float) -> dict[tuple[Any, ...], float]:
    """:func:`slope_ratio` of every curve of ``mu`` along axis ``x``, keyed by the coordinates of the other axes (in
    their order)."""
    others = [a for a in mu.dims if a != x]
    out = {}
    for key in itertools.product(*(mu.axes[a] for a in others)):
        out[key] = slope_ratio(mu.axes[x], mu.sel(**dict(zip(others, key))).values, split)
    return out


def growth_summary(R: ArrayLike, *, tol: float = 0.05) -> tuple[float, float]:
    """``(worst R² at the largest N, fraction of steps in N that do not decrease)`` for test R² ``R: (N, config,
    teacher, restart)``: curves are the mean over restarts and teachers per config; a step counts as not decreasing
    when it falls by at most ``tol``."""
    R = np.asarray(R)
    if R.ndim != 4:
        raise ValueError(f"R must be (N, config, teacher, restart), got shape {R.shape}")
    curves = R.mean(-1).mean(-1)                                 # (N, config)
    return float(curves[-1].min()), float((np.diff(curves, axis=0) >= -tol).mean())


def recovery_crossings(Ns: ArrayLike, R: ArrayLike, p: float, *, threshold: float = 0.95) -> np.ndarray:
    """``(config, teacher)``: the N at which each teacher's recovery fraction (restarts with R² ≥ ``threshold``)
    first reaches ``p``, interpolated in log N (:func:`lib.stats.crossing`); ``nan`` where it never does.
    ``Ns: (N,)`` increasing, ``R: (N, config, teacher, restart)``."""
    P = (np.asarray(R) >= threshold).mean(-1)                    # (N, config, teacher)
    return np.array([[stats.crossing(Ns, P[:, c, k], p, log_x=True) for k in range(P.shape[2])]
                     for c in range(P.shape[1])])


def transition_ratio(Ns: ArrayLike, R: ArrayLike, p_hi: float, p_lo: float, *, threshold: float = 0.95) -> np.ndarray:
    """``(config, teacher)``: N at which the recovery fraction reaches ``p_hi`` over N at which it reaches ``p_lo``
    (:func:`recovery_crossings`). N₉₀/N₁₀ is the width of the transition; a jump from 0 to 1 between two grid
    points a factor r apart gives ``r^(p_hi - p_lo)``."""
    return (recovery_crossings(Ns, R, p_hi, threshold=threshold)
            / recovery_crossings(Ns, R, p_lo, threshold=threshold))
