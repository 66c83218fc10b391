"""Tests of lib.zonotopes: vertex counts vs ConvexHull/formula, γ_Z net, exact 2-D region counts."""
import numpy as np
import pytest

from lib.relu_constructions import ReLUNet
from lib.zonotopes import (
    box_half_width,
    gamma_net,
    linear_regions_2d,
    montufar_regions,
    piece_report,
    random_zonotope_survey,
    sign_sums,
    vertex_count_formula,
    vertex_count_survey,
    zonotope_function_net,
    zonotope_piece_formula,
    zonotope_vertices,
    zonotope_vs_montufar,
)
from lib.zonotopes import support_minimum as zonotope_support_minimum

RNG = np.random.default_rng(0)
C4 = np.array([[0.25, 0.5], [-0.5, 0.0], [0.0, -0.25], [-0.25, -0.25]])


@pytest.mark.parametrize("n,m", [(2, 2), (2, 5), (3, 3), (3, 6), (4, 4), (4, 7)])
def test_vertex_count_generic(n, m):
    V = zonotope_vertices(RNG.normal(size=(m, n)))
    true, thesis = vertex_count_formula(n, m)
    assert len(V) == true == 2 * thesis


def test_vertex_count_2d_by_angles():
    """n = 2 oracle independent of ConvexHull: a zonogon with m generic generators has 2m edges."""
    B = RNG.normal(size=(6, 2))
    P = sign_sums(B)
    # the support function is attained at a unique sign sum for each of 2m open direction arcs
    th = np.linspace(0, 2 * np.pi, 20001)[:-1]
    best = np.argmax(np.stack([np.cos(th), np.sin(th)], 1) @ P.T, axis=1)
    assert np.unique(best).size == 12 == len(zonotope_vertices(B))


def test_degenerate_parallel_generators():
    B = np.array([[1.0, 0.0], [2.0, 0.0], [0.0, 1.0]])
    assert len(zonotope_vertices(B)) == 4 < vertex_count_formula(2, 3)[0]


def test_gamma_net():
    B = RNG.normal(size=(5, 3))
    X = RNG.normal(size=(1000, 3))
    net = gamma_net(B)
    assert net.size == 10 and net.hidden_layers == 1
    assert np.abs(net(X) - np.abs(X @ B.T).sum(1)).max() < 1e-12
    V = zonotope_vertices(B)
    assert np.abs(net(X) - (X @ V.T).max(1)).max() < 1e-12  # support function = max over vertices


@pytest.mark.parametrize("B,k,box,exp", [(np.array([[0.0, 1.0], [1.0, 0.0]]), 2, 1.3, 17), (C4, 2, 2.7, 33),
                                         (C4, 3, 2.7, 65)])
def test_fig22_piece_counts(B, k, box, exp):
    net = zonotope_function_net([[0.5]] * k, 1.0, B)
    assert net.depth == k + 2 and net.size == 2 * len(B) + 2 * k
    assert linear_regions_2d(net, (-box, box, -box, box))["pieces"] == exp


def test_random_zonotope_functions_match_formula():
    rng = np.random.default_rng(5)
    for _ in range(6):
        m, k = int(rng.integers(2, 5)), int(rng.integers(1, 3))
        ps = rng.integers(1, 3, size=k)
        B = rng.normal(size=(m, 2))
        a_list = [np.sort(rng.uniform(0.05, 0.95, p)) for p in ps]
        net = zonotope_function_net(a_list, 1.0, B)
        gmin = min(np.abs(np.array([np.cos(t), np.sin(t)]) @ B.T).sum() for t in np.linspace(0, np.pi, 721))
        R = 1.5 / gmin
        got = linear_regions_2d(net, (-R, R, -R, R))["pieces"]
        assert got == zonotope_piece_formula(len(zonotope_vertices(B)), list(ps))


def test_regions_of_simple_nets():
    relu_x = ReLUNet([np.array([[1.0, 0.0]]), np.array([[1.0]])], [np.zeros(1), np.zeros(1)])
    assert linear_regions_2d(relu_x, (-1, 1, -1, 1))["pieces"] == 2
    # |x| + |y|: 4 pieces; merged cells with equal maps stay merged
    assert linear_regions_2d(gamma_net(np.eye(2)), (-1, 1, -1, 1))["pieces"] == 4
    # a unit whose line misses the box adds nothing
    far = ReLUNet([np.array([[1.0, 0.0]]), np.array([[1.0]])], [np.array([5.0]), np.zeros(1)])
    assert linear_regions_2d(far, (-1, 1, -1, 1))["pieces"] == 1
    with pytest.raises(ValueError):
        linear_regions_2d(relu_x, (1, -1, -1, 1))


# ---------------------------------------------------------------------------------------- surveys
def _gamma_on(B, dirs):
    return np.abs(dirs @ np.asarray(B, float).T).sum(1)


@pytest.mark.parametrize("norm", ["inf", "2"])
def test_support_minimum_exact_against_dense_sampling(norm):
    """Oracle: γ_Z on 200,000 directions of the unit sphere; the exact minimum lies below all of them and is met."""
    th = np.linspace(0, 2 * np.pi, 200_001)
    U = np.stack([np.cos(th), np.sin(th)], 1)
    U = U / (np.abs(U).max(1, keepdims=True) if norm == "inf" else 1.0)
    rng = np.random.default_rng(8)
    for B in [C4, np.eye(2), rng.normal(size=(3, 2)), rng.normal(size=(6, 2))]:
        exact, sampled = zonotope_support_minimum(B, norm), _gamma_on(B, U).min()
        assert exact <= sampled + 1e-12 and sampled - exact < 1e-4     # grid step 3e-5 rad
    assert zonotope_support_minimum(np.eye(2), "inf") == 1.0 and zonotope_support_minimum(np.eye(2), "2") == 1.0
    assert zonotope_support_minimum(C4, "inf") == pytest.approx(0.75)     # at r = (1, −1): |−¼| + |−½| + ¼ + 0


def test_box_half_width():
    assert box_half_width(C4, 1.2) == pytest.approx(1.6)
    with pytest.raises(ValueError, match="span"):
        box_half_width(np.array([[1.0, 0.0], [2.0, 0.0]]), 1.2)


def test_vertex_count_survey():
    rows = vertex_count_survey((2, 3), 6, 2, np.random.default_rng(9))
    assert [(r.n, r.m) for r in rows] == [(2, m) for m in range(2, 7)] + [(3, m) for m in range(3, 7)]
    assert all(r.counts == [r.formula] and r.formula == 2 * r.thesis for r in rows)


def test_piece_report_fig22_and_printed_formulas():
    """Fig 2.2: exact 17/33/65 pieces; Prop 2.3.9 (m−1)^{n−1}w^k = 4/12/24 and Thm 2.3.10(i) Σ_{i<n}C(m−1,i)w^k =
    8/16/32."""
    B_l = np.array([[0.0, 1.0], [1.0, 0.0]])
    got = [piece_report(B, [[0.5]] * k, 1.0, box_half_width(B, 1.2)) for B, k in ((B_l, 2), (C4, 2), (C4, 3))]
    assert [(r["pieces"], r["formula"], r["prop239"], r["thm2310"], r["V"]) for r in got] == [
        (17, 17, 4, 8, 4), (33, 33, 12, 16, 8), (65, 65, 24, 32, 8)]
    assert got[1]["regions"]["pieces"] == 33 and got[1]["net"].depth == 4


def test_random_zonotope_survey():
    rows = random_zonotope_survey(4, np.random.default_rng(10))
    assert len(rows) == 4
    for r in rows:
        assert r.pieces == r.formula and r.prop239 == (r.m - 1) * r.w**r.k and r.thm2310 * 2 == r.V * r.w**r.k


def test_montufar_closed_form():
    assert montufar_regions(4, 4, 1) == 16                       # Σ_{j≤4} C(4, j)
    assert montufar_regions(8, 4, 2) == 2**4 * (1 + 8 + 28 + 56 + 70)
    rows = zonotope_vs_montufar(4, 3, [4, 5], [1, 2])
    assert rows[1] == (4, 2, 16 * 8, 16 * 4, 16)                # 2^3 w^k, 2^2 w^k, Montúfar
    assert [r[:2] for r in rows] == [(4, 1), (4, 2), (5, 1), (5, 2)]
