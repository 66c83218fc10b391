"""Tests of lib.pwl: exact PWL algebra against dense evaluation, exact piece counts, exact integrals."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lib.pwl import PWL, affine, propagate_net

XS = np.linspace(-20, 20, 40001)


@st.composite
def pwls(draw, max_k=6):
    k = draw(st.integers(1, max_k))
    t = np.sort(np.array(draw(st.lists(st.floats(-5, 5), min_size=k, max_size=k, unique=True))))
    if np.any(np.diff(t) < 1e-3):
        t = np.arange(k, dtype=float) - k / 2
    v = np.array(draw(st.lists(st.floats(-3, 3), min_size=k, max_size=k)))
    sl, sr = draw(st.floats(-2, 2)), draw(st.floats(-2, 2))
    v, sl, sr = np.round(v, 3), round(sl, 3), round(sr, 3)  # keep slopes away from the 1e-12 kink tolerance
    return PWL.from_points(t, v, sl, sr)


def _ref_pieces(f: PWL) -> int:
    """Brute-force piece count: slopes on a fine grid containing every breakpoint."""
    pts = np.unique(np.concatenate([f.t, [f.t[0] - 1, f.t[-1] + 1]]))
    s = np.diff(f(pts)) / np.diff(pts)
    s = np.concatenate([[f.sl], s, [f.sr]])
    return 1 + int(np.sum(np.abs(np.diff(s)) > 1e-9 * np.maximum(1, np.abs(s[1:]))))


@settings(max_examples=60, deadline=None)
@given(pwls(), pwls(), st.floats(-2, 2))
def test_algebra_matches_pointwise(f, g, c):
    np.testing.assert_allclose((f + g)(XS), f(XS) + g(XS), atol=1e-9)
    np.testing.assert_allclose((f * c)(XS), c * f(XS), atol=1e-9)
    np.testing.assert_allclose(f.relu()(XS), np.maximum(f(XS), 0), atol=1e-9)
    np.testing.assert_allclose(f.maximum(g)(XS), np.maximum(f(XS), g(XS)), atol=1e-9)
    np.testing.assert_allclose(g.compose(f)(XS), g(f(XS)), atol=1e-7)


@settings(max_examples=60, deadline=None)
@given(pwls(), st.floats(-3, 3))
def test_relu_at_most_doubles_pieces(f, b):
    """Fig 2.A.2: pieces(max{0, f+b}) <= 2 pieces(f)."""
    g = (f + b).relu()
    assert g.num_pieces() <= 2 * f.num_pieces()
    assert g.num_pieces() == _ref_pieces(g)


def test_piece_count_merges_equal_slopes():
    f = PWL.from_points([0, 1, 2, 3], [0, 1, 2, 2], 1.0, 0.0)  # slope 1 on (-inf, 2], then 0
    assert f.num_pieces() == 2
    assert f.simplify().size == 1
    assert affine(2.0, 1.0).num_pieces() == 1


def test_tent_compositions_exact():
    tent = PWL.from_points([0, 0.5, 1], [0, 1, 0], 0, -2)
    f = tent
    for k in range(2, 12):
        f = tent.compose(f)
        assert f.pieces_in(0, 1) == 2**k
        assert f.num_pieces() == 2**k + 2


def test_l1_exact_against_quadrature():
    f = PWL.from_points([0, 1, 2], [1, -1, 2], 0.5, -1)
    g = PWL.from_points([0.5, 1.5], [0, 0.3], 0, 0)
    x = np.linspace(-1, 3, 2_000_001)
    q = np.trapezoid(np.abs(f(x) - g(x)), x)
    assert abs(f.l1_distance(g, -1, 3) - q) < 1e-9
    # exact value of a triangle: ∫_0^2 tent of height 1 = 1
    tri = PWL.from_points([0, 1, 2], [0, 1, 0], 0, 0)
    assert tri.integral_abs(-1, 3) == pytest.approx(1.0, abs=1e-15)


def test_propagate_net_matches_forward():
    rng = np.random.default_rng(1)
    for widths in [(3,), (4, 4), (2, 5, 3), (6, 6, 6, 6)]:
        dims = (1,) + widths + (1,)
        W = [rng.normal(size=(dims[i + 1], dims[i])) for i in range(len(dims) - 1)]
        b = [rng.normal(size=dims[i + 1]) for i in range(len(dims) - 1)]
        f = propagate_net(W, b)
        h = XS[None, :]
        for i in range(len(W)):
            h = W[i] @ h + b[i][:, None]
            if i < len(W) - 1:
                h = np.maximum(h, 0)
        np.testing.assert_allclose(f(XS), h[0], atol=1e-9)


def test_bad_input():
    with pytest.raises(ValueError):
        PWL.from_points([], [], 0, 0)
    with pytest.raises(ValueError):
        PWL.from_points([0, 1], [0], 0, 0)
    with pytest.raises(ValueError):
        PWL.from_points([0], [0], 0, 0).pieces_in(1, 0)


def test_relu_crossings_are_exact_zeros():
    """The crossing of f = (0 at 0, 2 at 0.5, -1 at 0.515625) lies at 0.510416...; f there evaluates to 7e-15 in
    floating point, which must not survive the ReLU as an extra kink (found by hypothesis)."""
    f = PWL.from_points([0.0, 0.5, 0.515625], [0.0, 2.0, -1.0], 0.0, 0.0)
    g = f.relu()
    assert g(np.array([0.5 + 0.5 / 48]))[0] == 0.0
    assert g.num_pieces() == _ref_pieces(g) == 4
