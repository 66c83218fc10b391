"""Tests of lib.zonotopes: vertex counts vs ConvexHull/formula, γ_Z net, exact 2-D region counts."""
import numpy as np
import pytest

from lib.relu_constructions import ReLUNet
from lib.zonotopes import (
    gamma_net,
    linear_regions_2d,
    sign_sums,
    vertex_count_formula,
    zonotope_function_net,
    zonotope_piece_formula,
    zonotope_vertices,
)

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
