"""Tests of lib.zigzag_l1 (Thm 2.3.6): closed forms against exact integrals, exact L1 errors of known functions."""
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from lib import zigzag_l1 as zl
from lib.pwl import PWL
from lib.relu_constructions import ReLUNet, zigzag_compose_pwl, zigzag_net


def _sq(k):
    """The tent-map zig-zag s_q, q = 2^k (Def 5 with a = (½))."""
    return zigzag_compose_pwl([[0.5]] * k, 1.0)


@settings(max_examples=60, deadline=None)
@given(st.floats(0, 1), st.floats(0, 1), st.sampled_from([2, 4, 16, 64]))
def test_triangle_closed_form_equals_exact_integral(y1, y2, q):
    """Oracle: the exact integral (lib.pwl) of |triangle − line| on [0, 2/q]."""
    tri = PWL.from_points([0, 1 / q, 2 / q], [0, 1, 0], 0, 0)
    s = (y2 - y1) * q / 2
    line = PWL.from_points([0, 2 / q], [y1, y2], s, s)
    assert tri.l1_distance(line, 0, 2 / q) == pytest.approx(float(zl.triangle_l1_affine(y1, y2, q)), abs=1e-12)


@pytest.mark.parametrize("q", [4, 16, 64])
def test_triangle_deviation_and_minimum(q):
    assert zl.triangle_closed_form_deviation(q, n_grid=7) < 1e-12
    mn, arg = zl.triangle_minimum(q, n_fine=101)
    assert mn == pytest.approx(0.5, abs=1e-12) and arg == (0.5, 0.5)          # 1/(2q) at (½, ½), proof of Thm 2.3.6
    assert float(zl.triangle_l1_affine(0.5, 0.5, q)) == pytest.approx(1 / (2 * q))


def test_piece_bound_closed_form():
    assert zl.piece_bound(1, 64) == pytest.approx(0.25 - 1 / 256)
    assert np.allclose(zl.piece_bound(np.array([1, 2, 3]), 8), [0.25 - 1 / 32, 0.25 - 3 / 32, 0.25 - 5 / 32])


def test_approximants_exact_error():
    q = 16
    sq = _sq(4)
    rows = zl.approximant_rows({r: zl.zigzag_approximant(r, q) for r in (0, 1, 3)}, sq, q)
    assert [r.p for r in rows] == [2, 4, 8] and [r.pieces for r in rows] == [2, 4, 8]
    for r, row in zip((0, 1, 3), rows):
        assert row.ok and row.l1 == pytest.approx(0.25 - (4 * r + 1) / (8 * q), abs=1e-12)
    with pytest.raises(ValueError, match="accepted values"):
        zl.zigzag_approximant(10, q)


def test_thm236_size_form_inverse_and_piece_form():
    for kp, w, k in [(1, 2, 6), (2, 2, 6), (2, 3, 4), (3, 4, 3)]:
        for delta in (0.0, 0.05, 0.2, 0.24):
            s = float(zl.thm236_size_bound(delta, kp, w, k))
            assert float(zl.thm236_delta_of_size(s, kp, w, k)) == pytest.approx(delta, abs=1e-12)
        for s in (1, 3, 8):
            p = (2 * s / kp) ** kp                                   # Lemma 2.A.7 maximum number of pieces
            assert float(zl.thm236_delta_of_size(s, kp, w, k)) == pytest.approx(0.25 - p / (2 * w**k), abs=1e-12)
    assert float(zl.thm236_delta_of_size(64, 1, 2, 6)) < 0                 # vacuous: 64 units can copy s_64
    with pytest.raises(ValueError, match="accepted values"):
        zl.thm236_delta_of_size(3, 0, 2, 2)


def _zero_net():
    return ReLUNet([np.ones((1, 1)), np.zeros((1, 1))], [np.zeros(1), np.zeros(1)])


def test_l1_table_on_known_functions():
    """Oracles: s_q's own net has error 0 and q pieces; the zero net has error ∫s_q = ½ (q/2 triangles of area 1/q)."""
    k, q = 4, 16
    sq = _sq(k)
    t = zl.l1_table([zigzag_net([[0.5]] * k, 1.0), _zero_net()], sq, q)
    assert t.shape == (2, 5)
    assert t[0, :3].tolist() == [k, 2 * k, q] and t[0, 3] < 1e-12
    assert t[1, :3].tolist() == [1, 1, 1] and t[1, 3] == pytest.approx(0.5, abs=1e-12)
    assert t[1, 4] == pytest.approx(0.25 - 1 / (4 * q))


def test_size_form_rows():
    k, q, w = 4, 16, 2
    sq = _sq(k)
    approx = [zl.zigzag_approximant(r, q) for r in (0, 2)]
    trained = zl.l1_table([_zero_net()], sq, q)
    sf = zl.size_form_rows(approx, [[0.5]] * k, trained, sq, w, k_shallows=(1, 2, 3))
    kinds = [r.kind for r in sf.rows]
    assert kinds == ["constructive", "constructive", "exact s_q, 1 hidden", "exact s_q, 2 hidden",
                     "exact s_q, 4 hidden", "trained"]                    # 3 does not divide k = 4
    for r in sf.rows:
        assert r.delta == pytest.approx(0.25 - 2.0 ** (r.k_shallow - 1) * (r.size / r.k_shallow) ** r.k_shallow / q)
    assert all(r.error < 1e-9 for r in sf.rows if r.kind.startswith("exact"))
    assert sf.ok and sf.exact_nets_vacuous and len(sf.exact_rows) == 5
    assert sf.margins["trained"] == pytest.approx(0.5 - sf.rows[-1].delta)
    assert sf.margins["constructive"] == pytest.approx(min(r.error - r.delta for r in sf.rows[:2]))


def test_train_shallow_structure():
    x = np.linspace(0, 1, 64)[:, None]
    n1, n2 = zl.train_shallow(x, _sq(3)(x[:, 0]), [2, 4], [3], 2, 3, torch.Generator().manual_seed(0))
    assert [n.widths for n in n1] == [[2], [2], [4], [4]] and [n.widths for n in n2] == [[3, 3], [3, 3]]
