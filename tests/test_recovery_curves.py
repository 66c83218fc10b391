"""Tests of lib.recovery_curves: recovery fractions, crossings and slope ratios against hand-computed cases and
closed forms (a jump of the recovery fraction between two grid points, piecewise-linear curves), and the
grid-wide summaries against brute force loops."""
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lib import recovery_curves as rcv
from lib import stats
from lib.grid import Grid


def test_recovery_fractions_by_hand():
    r2 = {("a", 50): [0.9, 0.96, 0.99, 0.5], ("b", 50): [0.95, 0.95], ("a", 200): [1.0], ("b", 200): [0.1, 0.2]}
    P = rcv.recovery_fractions(r2)
    assert P.axes == {"recipe": ["a", "b"], "N": [50, 200]}
    np.testing.assert_array_equal(P.values, [[0.5, 1.0], [1.0, 0.0]])
    assert P.sel(recipe="b", N=50).item() == 1.0                     # R² = 0.95 counts as recovered
    with pytest.raises(ValueError):
        rcv.recovery_fractions({("a", 50): [1.0], ("b", 200): [1.0]})


def test_first_epoch_at():
    ep = np.array([0, 10, 20, 30])
    h = np.array([[0.1, 0.2, 0.3], [0.5, 0.96, 0.97], [0.99, 0.9, 0.1], [1, 1, 1]])   # medians 0.2, 0.96, 0.9, 1
    assert rcv.first_epoch_at(ep, h, 0.95) == 10
    assert rcv.first_epoch_at(ep, h, 0.999) == 30
    assert rcv.first_epoch_at(ep, h, 1.5) is None
    with pytest.raises(ValueError):
        rcv.first_epoch_at(ep[:3], h, 0.5)


def test_small_d_minima_by_hand():
    v = np.arange(2 * 3 * 2, dtype=float).reshape(2, 3, 2)            # (N, d, m)
    mu = Grid(v, {"N": [50, 200], "d": [1, 2, 4], "m": [2, 5]})
    out = rcv.small_d_minima(mu, ds=[1, 2], Ns=(200, 50))
    # m = 2: N = 200 -> values at d = 1, 2 are 6, 8 -> 6; N = 50 -> 0, 2 -> 0. m = 5: 7 and 1
    assert out == {2: (6.0, 0.0), 5: (7.0, 1.0)}
    assert all(type(k) is int for k in out)


def test_slope_ratio_of_a_straight_line_is_one():
    x = np.array([1.0, 2, 4, 8, 12, 16])
    assert rcv.slope_ratio(x, 1 - 0.03 * x, 8) == pytest.approx(1.0)


@settings(max_examples=50, deadline=None)
@given(s_lo=st.floats(-1, -0.01), s_hi=st.floats(-5, 5))
def test_slope_ratio_of_a_broken_line(s_lo, s_hi):
    # slope s_lo up to the split, s_hi after it: each half is exactly linear, so the ratio is s_hi / s_lo
    x = np.array([1.0, 2, 4, 8, 12, 16])
    y = np.where(x <= 8, s_lo * x, s_lo * 8 + s_hi * (x - 8))
    assert rcv.slope_ratio(x, y, 8) == pytest.approx(s_hi / s_lo, rel=1e-6, abs=1e-9)


def test_slope_ratio_flat_start_is_inf_and_needs_points():
    x = np.array([1.0, 2, 4, 8, 12, 16])
    y = np.where(x <= 8, 1.0, 1 - 0.1 * (x - 8))
    assert rcv.slope_ratio(x, y, 8) == math.inf
    with pytest.raises(ValueError):
        rcv.slope_ratio(x, y, 12)                                      # only 2 points at x >= 12


def test_slope_ratios_over_a_grid_equal_the_loop():
    rng = np.random.default_rng(0)
    d = [1, 2, 4, 8, 12, 16]
    mu = Grid(rng.uniform(0, 1, (2, 6, 3)), {"N": [50, 200], "d": d, "m": [2, 5, 30]})
    out = rcv.slope_ratios(mu, "d", 8)
    assert list(out) == [(N, m) for N in (50, 200) for m in (2, 5, 30)]
    for (N, m), r in out.items():
        c = mu.sel(N=N, m=m)
        s_lo = stats.linear_fit(d[:4], c.sel(d=d[:4]).values).slope
        s_hi = stats.linear_fit(d[3:], c.sel(d=d[3:]).values).slope
        assert r == (s_hi / s_lo if s_lo < -1e-3 else math.inf)


def test_growth_summary_by_hand():
    # (N, config, teacher, restart) = (3, 2, 1, 2): config 0 rises 0.2 -> 0.6 -> 0.99; config 1 rises then dips 0.1
    R = np.array([[[[0.2, 0.2]], [[0.5, 0.5]]], [[[0.6, 0.6]], [[1.0, 1.0]]], [[[0.98, 1.0]], [[0.9, 0.9]]]])
    worst, frac = rcv.growth_summary(R)
    assert worst == pytest.approx(0.9)
    assert frac == 0.75                                                 # 3 of the 4 steps fall by at most 0.05
    assert rcv.growth_summary(R, tol=0.2)[1] == 1.0
    with pytest.raises(ValueError):
        rcv.growth_summary(R[..., 0])


def _jump(Ns, at, restarts=4):
    """R: (N, 1, 1, restarts), every restart fails below N = Ns[at] and recovers from it on."""
    R = np.where(np.arange(len(Ns)) >= at, 0.99, 0.3)
    return np.broadcast_to(R[:, None, None, None], (len(Ns), 1, 1, restarts)).copy()


@settings(max_examples=30, deadline=None)
@given(at=st.integers(1, 7), p=st.floats(0.01, 1.0))
def test_crossing_of_a_jump_is_log_interpolated(at, p):
    Ns = [4, 8, 16, 32, 64, 128, 256, 512]
    c = rcv.recovery_crossings(Ns, _jump(Ns, at), p)
    assert c.shape == (1, 1)
    assert c[0, 0] == pytest.approx(Ns[at - 1] * 2.0**p, rel=1e-12)    # exp(log N_i + p log 2)


def test_transition_ratio_of_a_jump_between_doublings():
    Ns = [4, 8, 16, 32, 64]
    R = _jump(Ns, 2)
    assert rcv.transition_ratio(Ns, R, 0.9, 0.1)[0, 0] == pytest.approx(2**0.8)
    assert rcv.transition_ratio(Ns, R, 0.75, 0.25)[0, 0] == pytest.approx(math.sqrt(2))


def test_crossings_per_config_and_teacher_by_brute_force():
    rng = np.random.default_rng(2)
    Ns = [4, 8, 16, 32, 64]
    R = rng.uniform(0.5, 1.0, (5, 3, 2, 8)) + np.linspace(-0.4, 0.2, 5)[:, None, None, None]
    c = rcv.recovery_crossings(Ns, R, 0.5)
    P = (R >= 0.95).mean(-1)
    for i in range(3):
        for k in range(2):
            expect = stats.crossing(Ns, P[:, i, k], 0.5, log_x=True)
            assert (np.isnan(c[i, k]) and np.isnan(expect)) or c[i, k] == expect
    R0 = np.zeros((5, 1, 1, 3))                                         # never recovers
    assert np.isnan(rcv.recovery_crossings(Ns, R0, 0.5)[0, 0])
