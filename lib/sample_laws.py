"""Laws for the sample complexity N_opt in the input dimension d and the width m (Emschwiller 2020, §2.4.3).

The chapter ``sample_complexity`` measures N_opt (Algorithms 2 and 4 of :mod:`lib.recovery`) for several
independent teachers per point, as arrays ``n_opt: (point, teacher)``, and checks the thesis's laws on them. Every
number a claim checks is computed here; fits go through :mod:`lib.stats`.

* :data:`LAWS_D`, :data:`LAWS_M` -- the three two-parameter laws fitted to N_opt(d) and N_opt(m) (eqs. 2.11-2.12).
* :func:`fit_laws` -- each law's amplitude, exponent and in-sample R² (non-linear least squares).
* :func:`loo_worst_z` -- the largest |paired z| of leave-one-out errors between the laws: can held-out points
  tell them apart?
* :func:`median_fit`, :func:`r2_of_medians`, :func:`loglog_slope_of_medians` -- the line through the medians over
  teachers in d or log m (Fig 2.10, eq. 2.13), its R², and the log-log slope of the medians in m; the last two take
  ``(teacher, point)`` so that :func:`lib.stats.bootstrap_ci` can resample teachers.
* :func:`teacher_spread` -- the median over points of the max/min ratio across teachers (Fig 2.8).
* :func:`d_log_m_fits` -- one-parameter fits of N_opt on a (d, m) grid to c·d·log m (eq. 2.14) and to c·d.
* :func:`growth` -- how fast a positive quantity grows with a size: a ratio between two sizes and the log-log slope
  above a size (used for the label variance against m, eq. 2.6).
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from lib import recovery as rc
from lib import stats

ArrayLike = Any  # numpy-convertible
Law = Callable[..., np.ndarray]  # law(x, a, p) -> y


# ----------------------------------------------------------------------------------- the laws of eqs. 2.11-2.12
def power(x: np.ndarray, a: float, p: float) -> np.ndarray:
    """``a x^p`` (eq. 2.11: A·d^p; eq. 2.12: A'·m^p)."""
    return a * x**p


def power_log(x: np.ndarray, a: float, p: float) -> np.ndarray:
    """``a x^p log x`` (eq. 2.11: B·d^p·log d)."""
    return a * x**p * np.log(x)


def power_log3(x: np.ndarray, a: float, p: float) -> np.ndarray:
    """``a x^p (log x)^3`` (eq. 2.12: B'·m^p·(log m)^3)."""
    return a * x**p * np.log(x) ** 3


def log_power(x: np.ndarray, a: float, p: float) -> np.ndarray:
    """``a (log x)^p`` (eq. 2.11: C·(log d)^p; eq. 2.12: C'·(log m)^p)."""
    return a * np.log(x) ** p


#: The thesis's three laws for N_opt(d) (eq. 2.11, L595-L597), by the name the chapter shows.
LAWS_D: dict[str, Law] = {"A·d^p": power, "B·d^p·log d": power_log, "C·(log d)^p": log_power}
#: The thesis's three laws for N_opt(m) (eq. 2.12, L610).
LAWS_M: dict[str, Law] = {"A'·m^p": power, "B'·m^p·(log m)^3": power_log3, "C'·(log m)^p": log_power}


def _p0(y: ArrayLike) -> tuple[float, float]:
    """The starting point of every law fit: amplitude = mean of y, exponent 0.5."""
    return (np.mean(y), 0.5)


def fit_laws(laws: Mapping[str, Law], x: ArrayLike, y: ArrayLike) -> dict[str, tuple[float, float, float]]:
    """``{name: (a, p, R²)}``: each law ``y ≈ law(x, a, p)`` fitted by non-linear least squares from ``(mean y, 0.5)``
    (:func:`lib.stats.fit_curve`), with its in-sample R² on the original scale; ``nan`` entries where a fit fails.
    ``x, y: (n,)``."""
    return {name: stats.fit_curve(f, x, y, p0=_p0(y)) for name, f in laws.items()}


def loo_worst_z(x: ArrayLike, y: ArrayLike, laws: Mapping[str, Law]) -> float:
    """The largest ``|z|`` over pairs of laws of the paired leave-one-out squared errors
    (:func:`lib.recovery.loo_sq_errors`, :func:`lib.recovery.paired_z`). Laws with the same number of free
    parameters cannot be told apart by in-sample R²; ``<= 2`` means no pair differs at about the 95% level.
    ``x, y: (n,)``, ``n >= 4``; at least two laws."""
    if len(laws) < 2:
        raise ValueError("loo_worst_z compares laws: give at least two")
    errs = {name: rc.loo_sq_errors(f, x, y, p0=_p0(y)) for name, f in laws.items()}
    names = list(errs)
    return max(abs(rc.paired_z(errs[a], errs[b])) for i, a in enumerate(names) for b in names[i + 1:])


# ------------------------------------------------------------------------- medians over teachers (Figs 2.8-2.10)
def median_fit(x: ArrayLike, n_opt: ArrayLike, *, log_x: bool = False) -> stats.Fit:
    """The least-squares line ``median N_opt = a + b x`` (or ``a + b log x``) through the medians over teachers.

    ``x: (point,)``, ``n_opt: (point, teacher)``. Fig 2.10 / L701 (linear in d) and eq. 2.13 (linear in log m)."""
    x = np.asarray(x, float)
    return stats.linear_fit(np.log(x) if log_x else x, np.median(n_opt, 1))


def r2_of_medians(x: ArrayLike, per_teacher: ArrayLike) -> float:
    """R² of :func:`median_fit` (linear in x); ``per_teacher: (teacher, point)``, the orientation that
    :func:`lib.stats.bootstrap_ci` resamples."""
    return median_fit(x, np.asarray(per_teacher).T).r2


def loglog_slope_of_medians(x: ArrayLike, per_teacher: ArrayLike) -> float:
    """The exponent p of ``median N_opt ∝ x^p`` (least squares on log-log axes, :func:`lib.stats.power_law_fit`);
    ``per_teacher: (teacher, point)``. The parameter count d·m has p = 1 in m."""
    return stats.power_law_fit(x, np.median(per_teacher, 0)).slope


def teacher_spread(*n_opt: ArrayLike) -> float:
    """Median over all points of ``max / min`` of N_opt across teachers; each ``n_opt: (point, teacher)``
    (Fig 2.8, L684: 'a factor of at least 2')."""
    if not n_opt:
        raise ValueError("teacher_spread needs at least one (point, teacher) array")
    arrs = [np.asarray(a, float) for a in n_opt]
    return float(np.median(np.concatenate([a.max(1) / a.min(1) for a in arrs])))


def d_log_m_fits(dims: Sequence[tuple[int, int]], n_med: ArrayLike) -> tuple[stats.Fit, stats.Fit]:
    """Through-origin fits of the median N_opt per ``(d, m)`` in ``dims`` (``n_med: (len(dims),)``) to
    ``c·d·log m`` (eq. 2.14, L703-L714) and to ``c·d`` (no width dependence), each with the centred R²
    (1 - RSS / total variation about the mean), so that the two one-parameter laws compare with a constant."""
    D, M = np.asarray(dims, float).T
    return (stats.through_origin_fit(D * np.log(M), n_med, centred_r2=True),
            stats.through_origin_fit(D, n_med, centred_r2=True))


# --------------------------------------------------------------------------------------------- growth in a size
def growth(x: ArrayLike, y: ArrayLike, *, x_lo: float, x_hi: float, x_from: float) -> tuple[Any, float]:
    """``(y(x_hi) / y(x_lo), p)``: the growth factor between two sizes and the exponent p of ``y ∝ x^p`` fitted on
    the points with ``x >= x_from`` (log-log least squares). ``x, y: (n,)``, y > 0; ``x_lo, x_hi`` must be in x.

    For the label variance against the width: eq. 2.6 says a constant (ratio 1, p = 0); the leading-order formula
    (:func:`lib.teacher_student.label_variance`) is linear in m (p = 1 once m ≫ d)."""
    xs, ys = np.asarray(x), np.asarray(y)
    if xs.shape != ys.shape or xs.ndim != 1:
        raise ValueError(f"x and y must be 1-D of the same length, got {xs.shape} and {ys.shape}")
    pos = {float(v): i for i, v in enumerate(xs)}
    if float(x_lo) not in pos or float(x_hi) not in pos:
        raise ValueError(f"x_lo={x_lo} and x_hi={x_hi} must be among x = {xs.tolist()}")
    keep = xs >= x_from
    return ys[pos[float(x_hi)]] / ys[pos[float(x_lo)]], stats.power_law_fit(xs[keep], ys[keep]).slope
