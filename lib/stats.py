"""Statistics every chapter needs, once: R², mean ± s.e., quantile bands, fits with intervals, crossings,
bootstrap over seeds.

Each function works on numpy arrays (``r2`` also on torch tensors, batched over leading axes) and is
tested once against a closed form in ``tests/test_stats.py``. Fits return a :class:`Fit` with the estimate,
its standard error, a two-sided confidence interval from Student's t with ``n - k`` degrees of freedom, and
the coefficient of determination of the fit.
"""
from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from scipy import stats as sps

ArrayLike = Any  # numpy-convertible


# --------------------------------------------------------------------------------------------- R², mean ± s.e.
def r2(pred: Any, y: Any) -> Any:
    """Coefficient of determination along the last axis: ``1 - mean((y - pred)²) / Var(y)`` (population variance).

    ``pred, y: (..., N)`` → ``(...)``; torch in → torch out, numpy in → numpy out (Emschwiller 2020, eq. 2.9).
    A constant ``y`` gives ``-inf`` or ``nan`` (no variance to explain). Needs ``N >= 2``.
    """
    if tuple(pred.shape) != tuple(y.shape):
        raise ValueError(f"pred and y must have the same shape, got {tuple(pred.shape)} and {tuple(y.shape)}")
    if y.shape[-1] < 2:
        raise ValueError("r2 needs at least 2 samples along the last axis")
    if isinstance(y, torch.Tensor):
        y = y.to(pred.dtype)
        return 1.0 - ((pred - y) ** 2).mean(-1) / y.var(-1, correction=0)
    pred, y = np.asarray(pred, float), np.asarray(y, float)
    return 1.0 - ((pred - y) ** 2).mean(-1) / y.var(-1)


def mean_se(x: ArrayLike, axis: int = -1) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard error of the mean (``std(ddof=1) / sqrt(n)``) along ``axis``; s.e. is 0 when n = 1."""
    x = np.asarray(x, dtype=float)
    n = x.shape[axis]
    mu = x.mean(axis)
    if n < 2:
        return mu, np.zeros_like(mu)
    return mu, x.std(axis, ddof=1) / math.sqrt(n)


def quantile_band(x: ArrayLike, q: tuple[float, float] = (0.25, 0.75), axis: int = -1
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(median, lower, upper)`` quantiles along ``axis`` (default: the inter-quartile band)."""
    x = np.asarray(x, dtype=float)
    lo, hi = q
    if not 0 <= lo <= hi <= 1:
        raise ValueError(f"q={q}: accepted values are 0 <= lo <= hi <= 1")
    return np.median(x, axis), np.quantile(x, lo, axis), np.quantile(x, hi, axis)


# --------------------------------------------------------------------------------------------------- fits
@dataclasses.dataclass(frozen=True)
class Fit:
    """A least-squares fit with intervals.

    ``params``: estimates (for ``linear_fit``: ``(intercept, slope)``; ``power_law_fit``: ``(log prefactor,
    exponent)``; ``through_origin_fit``: ``(slope,)``); ``se``: their standard errors; ``ci``: ``(k, 2)`` two-sided
    intervals at ``level``; ``r2``: coefficient of determination of the fit (centred, except
    ``through_origin_fit``, which reports the uncentred one); ``n``: points used; ``residual_ss``: sum of squared
    residuals.
    """

    form: str  # "linear" | "power" | "origin"
    params: np.ndarray
    se: np.ndarray
    ci: np.ndarray
    r2: float
    n: int
    level: float
    residual_ss: float

    @property
    def slope(self) -> float:
        """The slope (linear fit), the exponent (power law) or the single coefficient (through the origin)."""
        return float(self.params[-1])

    @property
    def slope_ci(self) -> tuple[float, float]:
        return float(self.ci[-1, 0]), float(self.ci[-1, 1])

    def contains(self, value: float, index: int = -1) -> bool:
        """True when ``value`` lies in the interval of parameter ``index`` (default: the slope/exponent)."""
        lo, hi = self.ci[index]
        return bool(lo <= value <= hi)

    def predict(self, x: ArrayLike) -> np.ndarray:
        """The fitted line, power law or ray at ``x``."""
        x = np.asarray(x, float)
        if self.form == "power":
            return np.exp(self.params[0]) * x ** self.params[1]
        if self.form == "origin":
            return self.params[0] * x
        return self.params[0] + self.params[1] * x


def _ols(form: str, A: np.ndarray, y: np.ndarray, level: float, centred: bool) -> Fit:
    n, k = A.shape
    if n <= k:
        raise ValueError(f"a fit with {k} parameters needs more than {k} points, got {n}")
    if not 0 < level < 1:
        raise ValueError(f"level={level}: accepted values are in (0, 1)")
    coef, *_ = np.linalg.lstsq(A, y, rcond=None)
    res = y - A @ coef
    rss = float(res @ res)
    s2 = rss / (n - k)
    cov = s2 * np.linalg.inv(A.T @ A)
    se = np.sqrt(np.clip(np.diag(cov), 0, None))
    t = sps.t.ppf(0.5 + level / 2, n - k)
    ci = np.stack([coef - t * se, coef + t * se], axis=1)
    tss = float(((y - y.mean()) ** 2).sum()) if centred else float((y**2).sum())
    return Fit(form=form, params=coef, se=se, ci=ci, r2=1.0 - rss / tss if tss > 0 else float("nan"), n=n, level=level,
               residual_ss=rss)


def _clean(x: ArrayLike, y: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    x, y = np.asarray(x, float).ravel(), np.asarray(y, float).ravel()
    if x.shape != y.shape:
        raise ValueError(f"x and y must have the same number of points, got {x.size} and {y.size}")
    keep = np.isfinite(x) & np.isfinite(y)
    return x[keep], y[keep]


def linear_fit(x: ArrayLike, y: ArrayLike, *, level: float = 0.95) -> Fit:
    """Ordinary least squares ``y = a + b x`` (non-finite points dropped); ``params = (a, b)``."""
    x, y = _clean(x, y)
    return _ols("linear", np.stack([np.ones_like(x), x], 1), y, level, centred=True)


def power_law_fit(x: ArrayLike, y: ArrayLike, *, level: float = 0.95) -> Fit:
    """``y = C x^p`` by least squares on ``log y = log C + p log x`` (points with x, y <= 0 dropped);
    ``params = (log C, p)``; ``r2`` is that of the log–log line."""
    x, y = _clean(x, y)
    keep = (x > 0) & (y > 0)
    lx, ly = np.log(x[keep]), np.log(y[keep])
    return _ols("power", np.stack([np.ones_like(lx), lx], 1), ly, level, centred=True)


def through_origin_fit(x: ArrayLike, y: ArrayLike, *, level: float = 0.95, centred_r2: bool = False) -> Fit:
    """``y = b x`` (no intercept); ``params = (b,)``; ``r2`` is uncentred (``1 - RSS / sum y²``) unless
    ``centred_r2``, which compares the ray with the best constant instead (``1 - RSS / sum (y - ȳ)²``)."""
    x, y = _clean(x, y)
    return _ols("origin", x[:, None], y, level, centred=centred_r2)


# ------------------------------------------------------------------------------------------------ crossings
def crossing(x: ArrayLike, y: ArrayLike, level: float, *, log_x: bool = False, direction: str = "up") -> float:
    """The first ``x`` at which ``y`` reaches ``level`` (``direction="up"``: ``y >= level``; ``"down"``:
    ``y <= level``), linearly interpolated between grid points (in ``log x`` when ``log_x``).

    ``x: (n,)`` increasing, ``y: (n,)``. Returns ``x[0]`` when the first point already reaches the level and
    ``nan`` when no point does.
    """
    if direction not in ("up", "down"):
        raise ValueError(f"direction={direction!r}: accepted values are 'up', 'down'")
    x, y = np.asarray(x, float), np.asarray(y, float)
    if x.shape != y.shape or x.ndim != 1:
        raise ValueError(f"x and y must be 1-D of the same length, got {x.shape} and {y.shape}")
    if np.any(np.diff(x) <= 0):
        raise ValueError("x must be strictly increasing")
    s = 1.0 if direction == "up" else -1.0
    hit = np.nonzero(s * (y - level) >= 0)[0]
    if hit.size == 0:
        return float("nan")
    i = int(hit[0])
    if i == 0:
        return float(x[0])
    t = (level - y[i - 1]) / (y[i] - y[i - 1])
    if log_x:
        return float(np.exp(np.log(x[i - 1]) + t * (np.log(x[i]) - np.log(x[i - 1]))))
    return float(x[i - 1] + t * (x[i] - x[i - 1]))


# ------------------------------------------------------------------------------------------------ bootstrap
def bootstrap_ci(samples: ArrayLike, statistic: Callable[[np.ndarray], float] = np.mean, *,
                 rng: np.random.Generator, n_boot: int = 2000, level: float = 0.95) -> tuple[float, float, float]:
    """``(estimate, lo, hi)``: the statistic of ``samples`` (one value per independent seed, along axis 0) and
    its percentile-bootstrap interval at ``level``, resampling seeds with replacement ``n_boot`` times."""
    s = np.asarray(samples, float)
    if s.shape[0] < 2:
        raise ValueError("bootstrap_ci needs at least 2 samples (seeds)")
    if not 0 < level < 1:
        raise ValueError(f"level={level}: accepted values are in (0, 1)")
    idx = rng.integers(0, s.shape[0], size=(n_boot, s.shape[0]))
    boots = np.array([statistic(s[i]) for i in idx])
    a = (1 - level) / 2
    return float(statistic(s)), float(np.quantile(boots, a)), float(np.quantile(boots, 1 - a))


def fit_curve(f: Callable[..., np.ndarray], x: ArrayLike, y: ArrayLike, p0: tuple[float, ...]) -> tuple[float, ...]:
    """Non-linear least squares of ``y ≈ f(x, *params)`` from ``p0`` (scipy ``curve_fit``): ``(*params, R²)``.

    When the fit does not converge, every entry is ``nan`` (the caller reports the law as not fitted).
    """
    from scipy.optimize import curve_fit

    x, y = np.asarray(x, float), np.asarray(y, float)
    try:
        params, _ = curve_fit(f, x, y, p0=p0, maxfev=20000)
    except RuntimeError:
        return tuple([float("nan")] * (len(p0) + 1))
    res = y - f(x, *params)
    return (*map(float, params), float(1 - (res**2).sum() / ((y - y.mean()) ** 2).sum()))
