"""lib.stats against closed forms: R², mean ± s.e., fits with t intervals, crossings, the bootstrap."""
import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as sps

from lib import stats


def test_r2_closed_forms_numpy_and_torch():
    y = np.array([1.0, 2.0, 3.0, 4.0])
    assert stats.r2(y, y) == 1.0
    assert stats.r2(np.full(4, y.mean()), y) == pytest.approx(0.0)      # predicting the mean explains nothing
    pred = y + np.array([1.0, -1.0, 1.0, -1.0])                           # MSE 1, Var(y) = 1.25
    assert stats.r2(pred, y) == pytest.approx(1 - 1 / 1.25)
    yt = torch.tensor(np.stack([y, 2 * y]))
    out = stats.r2(torch.tensor(np.stack([pred, 2 * pred])), yt)
    assert isinstance(out, torch.Tensor) and torch.allclose(out, torch.tensor([0.2, 0.2], dtype=out.dtype))
    with pytest.raises(ValueError, match="same shape"):
        stats.r2(y[:3], y)
    with pytest.raises(ValueError, match="at least 2"):
        stats.r2(y[:1], y[:1])


def test_mean_se_closed_form():
    x = np.array([[1.0, 2.0, 3.0, 6.0]])
    mu, se = stats.mean_se(x, axis=1)
    assert mu[0] == 3.0 and se[0] == pytest.approx(math.sqrt(14 / 3) / 2)
    mu1, se1 = stats.mean_se(np.array([[5.0]]), axis=1)
    assert mu1[0] == 5.0 and se1[0] == 0.0


def test_quantile_band():
    med, lo, hi = stats.quantile_band(np.arange(101.0))
    assert (med, lo, hi) == (50.0, 25.0, 75.0)
    with pytest.raises(ValueError, match="accepted values"):
        stats.quantile_band(np.arange(3.0), q=(0.8, 0.2))


def test_linear_fit_exact_line_and_interval_matches_scipy():
    x = np.arange(10.0)
    f = stats.linear_fit(x, 2 + 3 * x)
    assert f.params == pytest.approx([2, 3]) and f.r2 == pytest.approx(1.0) and f.se[1] == pytest.approx(0, abs=1e-12)
    rng = np.random.default_rng(0)
    y = 1 + 0.5 * x + rng.normal(size=10)
    f = stats.linear_fit(x, y, level=0.9)
    ref = sps.linregress(x, y)
    assert f.slope == pytest.approx(ref.slope) and f.se[1] == pytest.approx(ref.stderr)
    t = sps.t.ppf(0.95, 8)
    assert f.slope_ci == pytest.approx((ref.slope - t * ref.stderr, ref.slope + t * ref.stderr))
    assert f.r2 == pytest.approx(ref.rvalue**2)
    assert f.predict([0.0, 1.0]) == pytest.approx([f.params[0], f.params[0] + f.slope])


def test_power_law_and_through_origin():
    x = np.array([1.0, 2.0, 4.0, 8.0, 16.0])
    f = stats.power_law_fit(x, 3 * x**-1.5)
    assert f.slope == pytest.approx(-1.5) and math.exp(f.params[0]) == pytest.approx(3)
    assert f.contains(-1.5) and f.predict([2.0]) == pytest.approx([3 * 2**-1.5])
    g = stats.through_origin_fit(x, 4 * x)
    assert g.slope == pytest.approx(4) and g.r2 == pytest.approx(1.0)
    # closed form of the no-intercept slope: sum xy / sum x²
    y = np.array([1.0, 3.0, 2.0, 9.0, 15.0])
    b = (x @ y) / (x @ x)
    assert stats.through_origin_fit(x, y).slope == pytest.approx(b)
    rss = ((y - b * x) ** 2).sum()
    assert stats.through_origin_fit(x, y).r2 == pytest.approx(1 - rss / (y @ y))
    assert stats.through_origin_fit(x, y, centred_r2=True).r2 == pytest.approx(1 - rss / ((y - y.mean()) ** 2).sum())
    with pytest.raises(ValueError, match="needs more than"):
        stats.linear_fit([1.0, 2.0], [1.0, 2.0])


@settings(max_examples=40, deadline=None)
@given(st.floats(-5, 5), st.floats(-5, 5), st.integers(3, 30))
def test_linear_fit_recovers_any_exact_line(a, b, n):
    x = np.linspace(-1, 2, n)
    f = stats.linear_fit(x, a + b * x)
    assert f.params == pytest.approx([a, b], abs=1e-8)


def test_interval_coverage_is_nominal():
    """The 90% t interval of the slope covers the true slope in about 90% of 2,000 noisy data sets."""
    rng = np.random.default_rng(1)
    x = np.linspace(0, 1, 8)
    hits = sum(stats.linear_fit(x, 1 + 2 * x + rng.normal(size=8), level=0.9).contains(2.0) for _ in range(2000))
    assert abs(hits / 2000 - 0.9) < 0.025   # 4 binomial s.e. at n = 2000


def test_crossing_interpolates_and_handles_edges():
    x = np.array([1.0, 2.0, 4.0])
    assert stats.crossing(x, [0.0, 0.4, 0.8], 0.6) == pytest.approx(3.0)
    assert stats.crossing(x, [0.0, 0.4, 0.8], 0.6, log_x=True) == pytest.approx(2 ** 1.5)
    assert stats.crossing(x, [0.9, 0.95, 1.0], 0.5) == 1.0
    assert math.isnan(stats.crossing(x, [0.0, 0.1, 0.2], 0.5))
    assert stats.crossing(x, [1.0, 0.5, 0.0], 0.25, direction="down") == pytest.approx(3.0)
    with pytest.raises(ValueError, match="increasing"):
        stats.crossing([2.0, 1.0], [0.0, 1.0], 0.5)


def test_bootstrap_ci_brackets_the_mean_and_shrinks_with_n():
    rng = np.random.default_rng(2)
    small = rng.normal(size=10)
    est, lo, hi = stats.bootstrap_ci(small, rng=np.random.default_rng(0))
    assert lo < est < hi and est == pytest.approx(small.mean())
    big = rng.normal(size=400)
    _, lo2, hi2 = stats.bootstrap_ci(big, rng=np.random.default_rng(0))
    assert hi2 - lo2 < (hi - lo) / 3
    with pytest.raises(ValueError, match="at least 2"):
        stats.bootstrap_ci([1.0], rng=np.random.default_rng(0))


def test_fit_curve_recovers_a_power_law_and_reports_failure():
    x = np.array([1.0, 2.0, 3.0, 5.0, 8.0])
    a, p, r2 = stats.fit_curve(lambda x, a, p: a * x**p, x, 2 * x**0.7, p0=(1.0, 0.5))
    assert (a, p, r2) == pytest.approx((2, 0.7, 1.0), abs=1e-6)
    out = stats.fit_curve(lambda x, a, p: a * np.exp(p * x * 1e3), x, x, p0=(1.0, 1.0))
    assert all(math.isnan(v) for v in out) or out[-1] < 0.5
