"""Tests of lib.depth_separation: the hard family's exact counts against the closed forms of Lemma 2.3.5 /
Thm 2.3.2 / Cor 2.3.4 and the Thm 2.3.1 table against brute force."""
import numpy as np
import pytest

from lib import depth_separation as ds
from lib.relu_constructions import hard_function_piece_formula, max_bound_pieces, thm231_size_bound


def test_hard_family_sample_counts():
    fam = ds.hard_family_sample({2: 4, 3: 3}, np.random.default_rng(0))
    assert len(fam) == 7 and all(m.ok for m in fam)
    assert [m.pieces_in_range for m in fam] == [2, 4, 8, 16, 3, 9, 27]            # w^k (Lemma 2.3.5)


def test_zigzag_w2_counts_closed_form():
    rows = ds.zigzag_w2_counts(12, np.random.default_rng(1))
    assert [r[0] for r in rows] == list(range(1, 13))
    for k, inside, total in rows:
        assert (inside, total) == hard_function_piece_formula([1] * k)          # (2^k, 2^k + 1 or + 2)
        assert inside == 2**k


@pytest.mark.parametrize("k", [2, 3])
def test_cor234_closed_form(k):
    c = ds.cor234_check(k, np.random.default_rng(k))
    assert c == dict(depth=k * k + 1, nodes=k**3, pieces=k ** (k * k), bound=0.5 * k ** (k + 1) - 1)


def test_thm231_table_against_brute_force():
    rows = ds.thm231_table([(2, 4), (3, 2)], np.random.default_rng(2))
    assert [(r["w"], r["k"], r["k_shallow"]) for r in rows] == [(2, 4, 1), (2, 4, 2), (2, 4, 4), (3, 2, 1), (3, 2, 2)]
    for r in rows:
        assert r["ok"] and r["hidden"] == r["k_shallow"] and r["pieces_01"] == r["w"] ** r["k"]
        brute = next(s for s in range(r["k_shallow"], 300) if max_bound_pieces(r["k_shallow"], s) >= r["w"] ** r["k"])
        assert r["min_size"] == brute


@pytest.mark.parametrize("k", [2, 3, 4])
@pytest.mark.parametrize("eps", [0.25, 0.5, 1.0])
def test_cor233_is_thm231_with_w_k_and_k_pow_1_plus_eps_layers(k, eps):
    assert ds.cor233_bound(k, eps) == pytest.approx(thm231_size_bound(k, k, k ** (1 + eps)), rel=1e-12)
    assert ds.cor233_bound(k, eps, printed=True) == pytest.approx(0.5 * k * k**eps - 1)
    assert ds.cor233_bound(3, 1.0) == 39.5                                        # Cor 2.3.4's ½k^{k+1} − 1 at k = 3
