"""Tests of lib.relu_constructions: exact oracles for every construction of thesis Ch. 2."""
import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from lib.pwl import PWL
from lib.relu_constructions import (
    ReLUNet,
    diagonal_jump_witness,
    hard_function_piece_formula,
    lattice_to_net,
    lemma_2a6_bound,
    max0_x1_x2_net,
    max2_net,
    max_bound_pieces,
    max_tree_net,
    min_size_for_pieces,
    pwl_to_relu2,
    triangle_net,
    zigzag_compose_pwl,
    zigzag_net,
    zigzag_pwl,
)

RNG = np.random.default_rng(0)


def test_max2_worked_example():
    net = max2_net()
    h = np.maximum(net.weights[0] @ np.array([2.0, 5.0]), 0)
    assert h.tolist() == [7.0, 0.0, 3.0, 0.0]
    assert net(np.array([[2.0, 5.0]]))[0] == 5.0
    X = RNG.normal(size=(10_000, 2))
    assert np.abs(net(X) - X.max(axis=1)).max() < 1e-12


@pytest.mark.parametrize("m", range(1, 18))
def test_max_tree(m):
    X = RNG.normal(size=(2000, m))
    net = max_tree_net(np.eye(m), np.zeros(m))
    assert np.abs(net(X) - X.max(axis=1)).max() < 1e-12
    assert net.hidden_layers == (math.ceil(math.log2(m)) if m > 1 else 0)
    assert net.size <= 4 * (2 * m - 1)


@pytest.mark.parametrize("n,k", [(2, 3), (3, 4), (4, 5)])
def test_lattice_to_net(n, k):
    terms = [(float(RNG.choice([-1, 1])), RNG.normal(size=(k, n)), RNG.normal(size=k)) for _ in range(5)]
    terms.append((1.0, RNG.normal(size=(2, n)), RNG.normal(size=2)))  # a shallower term, padded
    net = lattice_to_net(terms)
    X = RNG.normal(size=(5000, n))
    ref = sum(s * (X @ A.T + c).max(axis=1) for s, A, c in terms)
    assert np.abs(net(X) - ref).max() < 1e-10
    assert net.hidden_layers == math.ceil(math.log2(k))
    assert net.depth <= math.ceil(math.log2(n + 1)) + 1


def _random_pwl(m, rng, flat=None):
    a = np.sort(rng.uniform(-5, 5, m - 1))
    while np.any(np.diff(a) < 1e-2):
        a = np.sort(rng.uniform(-5, 5, m - 1))
    b = rng.normal(size=m - 1)
    sl, sr = rng.normal(), rng.normal()
    if flat == "L":
        sl = 0.0
    if flat == "R":
        sr = 0.0
    return PWL.from_points(a, b, sl, sr)


@pytest.mark.parametrize("m", [2, 3, 4, 7, 20, 50])
@pytest.mark.parametrize("flat", [None, "L", "R"])
def test_pwl_to_relu2(m, flat):
    f = _random_pwl(m, RNG, flat)
    if f.num_pieces() != m:
        pytest.skip("random draw merged two pieces")
    net = pwl_to_relu2(f)
    x = np.linspace(f.t[0] - 1, f.t[-1] + 1, 100_000)
    assert np.abs(net(x) - f(x)).max() < 1e-9
    assert net.size == (m - 1 if flat else m)
    assert net.hidden_layers == 1
    assert net.to_pwl().num_pieces() == m


def test_printed_back_substitution_fails_from_m4():
    for m, ok in [(3, True), (4, False), (6, False)]:
        f = _random_pwl(m, np.random.default_rng(m))
        x = np.linspace(-6, 6, 10_001)
        err = np.abs(pwl_to_relu2(f, printed=True)(x) - f(x)).max()
        assert (err < 1e-9) == ok


def test_triangle():
    net = triangle_net(0.3, 0.5)
    x = np.linspace(-2, 2, 10001)
    assert np.abs(net(x) - np.maximum(0, 1 / 0.5 - np.abs(x - 0.3) / 0.25)).max() < 1e-12
    assert net.size == 3


@pytest.mark.parametrize("a_list,exp", [([[0.5]] * 2, (4, 6)), ([[0.5]] * 3, (8, 10)),
                                        ([[1 / 3, 2 / 3]] * 2, (9, 10)), ([[0.25, 0.6], [0.4]], (6, 7))])
def test_pinned_hard_function_counts(a_list, exp):
    H = zigzag_compose_pwl(a_list, 1.0)
    assert (H.pieces_in(0, 1), H.num_pieces()) == exp
    assert hard_function_piece_formula([len(a) for a in a_list]) == exp


def test_random_hard_functions_and_nets():
    rng = np.random.default_rng(3)
    for _ in range(30):
        k = int(rng.integers(1, 5))
        M = float(rng.uniform(0.5, 3))
        ps = rng.integers(1, 4, size=k)
        a_list = [np.sort(rng.uniform(0, M, p)) for p in ps]
        H = zigzag_compose_pwl(a_list, M)
        inner, total = hard_function_piece_formula(ps)
        assert H.pieces_in(0, M) == inner and H.num_pieces() == total
        net = zigzag_net(a_list, M)
        assert net.widths == [p + 1 for p in ps] and net.depth == k + 1
        x = np.linspace(-1, M + 1, 20001)
        assert np.abs(net(x) - H(x)).max() < 1e-9
        # every piece inside [0, M] spans exactly [0, M] in value
        kinks = np.concatenate([[0.0], H.breakpoints()[(H.breakpoints() > 0) & (H.breakpoints() < M)], [M]])
        vals = H(kinks)
        assert np.all(np.isclose(np.abs(np.diff(vals)), M, atol=1e-9))


def test_zigzag_net_exact_pwl_propagation():
    a_list = [[0.25, 0.6], [0.4], [0.5]]
    H = zigzag_net(a_list, 1.0).to_pwl()
    assert H.num_pieces() == zigzag_compose_pwl(a_list).num_pieces()


def test_zigzag_bad_input():
    with pytest.raises(ValueError):
        zigzag_pwl([0.6, 0.4], 1.0)
    with pytest.raises(ValueError):
        zigzag_pwl([1.2], 1.0)


def test_lemma_2a6_and_min_size():
    import itertools
    assert lemma_2a6_bound([3]) == 4 and lemma_2a6_bound([2, 3]) == 18
    for k in range(1, 4):  # the DP equals brute force over all compositions
        for s in range(k, 11):
            brute = max(lemma_2a6_bound(w) for w in itertools.product(range(1, s + 1), repeat=k) if sum(w) == s)
            assert max_bound_pieces(k, s) == brute
    for k in range(1, 9):  # converse of Lemma 2.A.7 for k = 1..8
        for s in range(k, 26):
            assert max_bound_pieces(k, s) <= (2 * s / k) ** k + 1e-9
    assert min_size_for_pieces(16, 1) == 15
    assert min_size_for_pieces(16, 2) == min(w1 + w2 for w1 in range(1, 20) for w2 in range(1, 20)
                                             if 2 * (w1 + 1) * w2 >= 16)


def test_max0_x1_x2_and_witness():
    net = max0_x1_x2_net()
    X = RNG.normal(size=(10_000, 2))
    assert np.abs(net(X) - np.maximum(0, X.max(axis=1))).max() < 1e-12
    assert net.hidden_layers == 2
    assert abs(diagonal_jump_witness(net) - math.sqrt(2)) < 1e-6
    W, b, c = RNG.normal(size=(50, 2)), RNG.normal(size=50), RNG.normal(size=50)
    sor = ReLUNet([W, c[None]], [b, np.zeros(1)])
    assert abs(diagonal_jump_witness(sor)) < 1e-6


def test_to_torch_matches():
    net = max_tree_net(RNG.normal(size=(5, 3)), RNG.normal(size=5))
    X = RNG.normal(size=(100, 3))
    with torch.no_grad():
        y = net.to_torch()(torch.as_tensor(X)).numpy()[:, 0]
    assert np.abs(y - net(X)).max() < 1e-12


def test_check_hard_member_counts_and_error_budget():
    """Exact counts match the derived formula; a steep member (gap 0.002) passes on its float64 budget, and a
    corrupted net (one weight changed) fails it."""
    from lib import relu_constructions as rcm

    rng = np.random.default_rng(0)
    for w, k in [(2, 5), (3, 3), (4, 2)]:
        M = 1.7
        c = rcm.check_hard_member([np.sort(rng.uniform(0, M, w - 1)) for _ in range(k)], M)
        assert c.ok and c.pieces_in_range == w**k
    steep = [np.array([0.5, 0.502]), np.array([0.3, 1.0]), np.array([1.0, 1.9])]
    c = rcm.check_hard_member(steep, 2.0)
    assert c.ok and c.net_max_error <= c.net_tolerance
    H = rcm.zigzag_compose_pwl(steep, 2.0)
    net = rcm.zigzag_net(steep, 2.0)
    net.weights[1][0, 0] += 1e-3
    xs = np.linspace(-0.5, 2.5, 20001)
    assert np.abs(net(xs) - H(xs)).max() > c.net_tolerance


def test_random_pwl_has_m_pieces_and_flat_ends():
    from lib.pwl import random_pwl

    rng = np.random.default_rng(3)
    for m in (2, 5, 17):
        assert random_pwl(m, rng).num_pieces() == m
        f = random_pwl(m, rng, "L")
        assert f.sl == 0.0 and f.num_pieces() == m
    with pytest.raises(ValueError, match="accepted values"):
        random_pwl(1, rng)


def test_thm231_bound():
    from lib import relu_constructions as rcm

    assert rcm.thm231_size_bound(3, 3, 9) == pytest.approx(0.5 * 3 * 27 - 1)       # Cor 2.3.4, k = 3: 39.5


def test_lemma_2a7_size_table_against_brute_force():
    from lib import relu_constructions as rcm

    rows = rcm.lemma_2a7_size_table([2, 5, 16, 40], [1, 2, 3])
    for r in rows:
        brute = next(s for s in range(r["k"], 200) if rcm.max_bound_pieces(r["k"], s) >= r["p"])
        assert r["min_size"] == brute
        assert r["bound"] <= r["min_size"] <= r["zigzag_size"]
    assert next(r for r in rows if r["p"] == 16 and r["k"] == 2)["zigzag_size"] == 8   # w = 4: 4^2 = 16 pieces


def test_stack_nets_and_grouped_zigzag_are_exact():
    from lib import relu_constructions as rcm

    rng = np.random.default_rng(4)
    a_list = [np.sort(rng.uniform(0, 1, 2)) for _ in range(4)]                 # w = 3, k = 4
    H = rcm.zigzag_compose_pwl(a_list, 1.0)
    x = np.linspace(-0.5, 1.5, 4001)
    for kp in (1, 2, 4):
        net = rcm.grouped_zigzag_net(a_list, 1.0, kp)
        assert net.hidden_layers == kp
        d = net.to_pwl() - H
        assert max(np.abs(d.v).max(), abs(d.sl), abs(d.sr)) < 1e-7
        assert np.abs(net(x) - H(x)).max() < 1e-7
    nets = [rcm.pwl_to_relu2(rcm.zigzag_pwl(a)) for a in a_list[:2]]
    st = rcm.stack_nets(nets)
    assert st.size == sum(n.size for n in nets) and st.hidden_layers == 2
    with pytest.raises(ValueError, match="accepted values"):
        rcm.grouped_zigzag_net(a_list, 1.0, 3)


# ---------------------------------------------------------------------------------------- checks on random instances
@settings(max_examples=40, deadline=None)
@given(st.integers(2, 12), st.floats(-5, 5), st.integers(0, 2**32 - 1))
def test_pwl_mismatch_is_the_exact_gap(m, c, seed):
    """Oracle: f + c differs from f by exactly |c| everywhere; extra stored breakpoints change nothing; a slope change
    at the ends is seen."""
    from lib.pwl import random_pwl
    from lib.relu_constructions import pwl_mismatch

    f = random_pwl(m, np.random.default_rng(seed))
    assert pwl_mismatch(f + c, f) == pytest.approx(abs(c), abs=1e-12)
    assert pwl_mismatch(f.refine(np.linspace(-7, 7, 13)), f) < 1e-12
    g = PWL(f.t, f.v, f.sl, f.sr + 0.5)
    assert pwl_mismatch(g, f) == pytest.approx(0.5)


def _max_tree_units(m):
    """Independent count of the units of the max tree: 4 per pair and 2 per pass-through at every level."""
    units, c = 0, m
    while c > 1:
        units += 4 * (c // 2) + 2 * (c % 2)
        c = (c + 1) // 2
    return units


def test_max_tree_survey_depth_size_error():
    from lib.relu_constructions import max_tree_survey

    ms = np.arange(2, 18)
    rows = max_tree_survey(ms, np.random.default_rng(1), n_points=500)
    assert rows.shape == (16, 4)
    assert np.array_equal(rows[:, 1], np.ceil(np.log2(ms)))
    assert [int(r) for r in rows[:, 2]] == [_max_tree_units(int(m)) for m in ms]
    assert np.all(rows[:, 2] <= 4 * (2 * ms - 1)) and rows[:, 3].max() < 1e-12


@pytest.mark.parametrize("a,w", [(0.0, 1.0), (1.5, 0.5), (-1.0, 2.0), (3.0, 0.25)])
def test_triangle_check(a, w):
    from lib.relu_constructions import triangle_check

    size, hidden, pieces, err = triangle_check(a, w)
    assert (size, hidden, pieces) == (3, 1, 4) and err < 1e-12
    x = np.linspace(a - 2 * w, a + 2 * w, 2001)                 # oracle: the definition max{0, 1/w − |x−a|/w²}
    assert np.abs(triangle_net(a, w)(x) - np.maximum(0, 1 / w - np.abs(x - a) / w**2)).max() < 1e-12


def test_lattice_survey():
    from lib.relu_constructions import lattice_survey

    rows = lattice_survey((2, 3, 4), np.random.default_rng(2), n_points=2000)
    assert [r[0] for r in rows] == [2, 3, 4]
    for n, depth, bound, size, err in rows:
        assert bound == math.ceil(math.log2(n + 1)) + 1 and depth <= bound and err < 1e-10
        # 5 terms of n + 1 maps: each a max tree of n + 1 leaves, padded to the same depth
        assert size >= 5 * _max_tree_units(n + 1)
    assert lattice_survey((2,), np.random.default_rng(2))[0] == lattice_survey((2,), np.random.default_rng(2))[0]


def test_thm222_survey_and_its_summary():
    from lib.relu_constructions import Thm222Row, Thm222Survey, thm222_survey

    sv = thm222_survey(range(2, 9), np.random.default_rng(3), n_check=500)
    assert len(sv.rows) == 7 * 3 and sv.max_error < 1e-9 and sv.sizes_ok and sv.pieces_ok
    assert sv.printed_wrong_m() == [4, 5, 6, 7, 8] and {2, 3} <= set(sv.printed_exact_m())
    # the summary on hand-made rows (oracle: read off by hand)
    hand = Thm222Survey([Thm222Row(3, None, 3, 3, 0.0, 0.0, 3), Thm222Row(4, "L", 4, 3, 1e-12, 0.5, 4),
                         Thm222Row(4, "R", 4, 4, 2e-12, 1e-8, 3)])
    assert hand.max_error == 2e-12 and not hand.sizes_ok and not hand.pieces_ok
    assert hand.printed_wrong_m() == [4] and hand.printed_exact_m() == [3]


def test_random_net_piece_counts_one_layer_closed_form():
    """Oracle: a generic one-hidden-layer net of width w has exactly w + 1 pieces (one kink per unit), the bound."""
    from lib.relu_constructions import random_net_piece_counts

    pc = random_net_piece_counts([(1,), (3,), (5,)], 4, np.random.default_rng(4))
    assert np.array_equal(pc[:, 2], np.repeat([2, 4, 6], 4)) and np.array_equal(pc[:, 1], pc[:, 2])
    deep = random_net_piece_counts([(2, 3), (3, 2, 2)], 5, np.random.default_rng(5))
    assert np.all(deep[:, 2] <= deep[:, 1]) and np.array_equal(deep[:, 1], np.repeat([18, 64], 5))   # 2·3·3, 4·4·2·2


def test_relu_doubling_ratios():
    from lib.relu_constructions import relu_doubling_ratios

    r = relu_doubling_ratios(200, np.random.default_rng(6))
    assert r.shape == (200,) and r.max() <= 2 and r.min() > 0
    # oracle: max{0, |x| − 1} has 3 pieces (|x| has 2): the ratio 3/2 by hand
    f = PWL.from_points([0.0], [0.0], -1.0, 1.0)
    assert (f - 1.0).relu().num_pieces() / f.num_pieces() == 1.5


def test_lemma_2a7_converse_against_brute_force():
    import itertools

    from lib.relu_constructions import lemma_2a7_converse_holds

    assert lemma_2a7_converse_holds(3, 10)
    brute = all(max(lemma_2a6_bound(w) for w in itertools.product(range(1, s + 1), repeat=k) if sum(w) == s)
                <= (2 * s / k) ** k for k in range(1, 4) for s in range(k, 11))
    assert brute


def test_witness_report():
    from lib.relu_constructions import witness_report

    rng = np.random.default_rng(7)
    X = rng.uniform(-1, 1, (500, 2))
    y = np.maximum(0, X.max(1))
    W, b, c = rng.normal(size=(8, 2)), rng.normal(size=8), rng.normal(size=8)
    sor = ReLUNet([W, c[None]], [b, np.zeros(1)])
    rep = witness_report([sor, max0_x1_x2_net()], X, y)
    assert rep[0, 0] == 8 and rep[0, 1] == pytest.approx(np.sqrt(np.mean((sor(X) - y) ** 2)))
    assert abs(rep[0, 2]) < 1e-6 and rep[1, 1] < 1e-12 and rep[1, 2] == pytest.approx(math.sqrt(2), abs=1e-6)
