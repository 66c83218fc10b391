"""Tests of lib.polyfeatures: counts (thesis L999, L1003, L1160, L1279), lifting vs brute force."""

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from lib import polyfeatures as pf


def test_thesis_counts():
    # 18,740 = 134^2 ordered pairs in a 5x5 window + 784 pixels (L1003, L1279)
    assert pf.count_conv2_features(28, 28) == 18_740
    assert pf.conv_pair_table(28, 28).shape == (17_956, 2)
    # all degree-2 products of 784 pixels, each once: C(784, 2) + 784 = 307,720 (L999)
    assert pf.count_monomials(784, 2, "dedup", exact_degree=True) == 307_720
    # d = 20, degree <= 3, deduplicated: 1,770 (L1160)
    assert pf.count_monomials(20, 3, "dedup") == 1_770
    assert pf.monomial_tables(20, 3, "dedup").n_features == 1_770
    # ordered tuples for 70 PCs at degree 2: 4,900 (L896); d = 25, k <= 4 ordered: 406,900
    assert pf.count_monomials(70, 2, "ordered", exact_degree=True) == 4_900
    assert pf.count_monomials(25, 4, "ordered") == 406_900
    # square-free, eq. 3.8
    assert [pf.count_monomials(20, k, "squarefree") for k in (2, 3, 4)] == [210, 1350, 6195]
    # unique pairs: (17,956 - 784)/2 + 784 = 9,370
    assert pf.count_conv2_features(28, 28, unique=True) == 784 + 9_370


def test_conv_pairs_bruteforce_small():
    H, W, r = 5, 6, 2
    ref = sorted(
        (a * W + b, c * W + d)
        for a in range(H) for b in range(W) for c in range(H) for d in range(W)
        if max(abs(a - c), abs(b - d)) <= r
    )
    got = [tuple(x) for x in pf.conv_pair_table(H, W, r).tolist()]
    assert got == ref
    per_dim = lambda n: sum(min(n - 1, i + r) - max(0, i - r) + 1 for i in range(n))  # noqa: E731
    assert len(got) == per_dim(H) * per_dim(W)


@settings(max_examples=12, deadline=None)
@given(d=st.integers(1, 6), k=st.integers(0, 4), basis=st.sampled_from(pf.BASES), n=st.integers(1, 5))
def test_lift_matches_bruteforce(d, k, basis, n):
    X = torch.randn(n, d, dtype=torch.float64, generator=torch.Generator().manual_seed(d * 10 + k))
    t = pf.monomial_tables(d, k, basis)
    assert t.n_features == pf.count_monomials(d, k, basis)
    got = pf.lift(X, t, chunk_size=2)
    torch.testing.assert_close(got, pf.lift_bruteforce(X, d, k, basis))


def test_tables_are_sorted_and_unique():
    t = pf.monomial_tables(6, 3, "dedup")
    for deg, tup in enumerate(t.tuples, 1):
        assert (tup[:, 1:] >= tup[:, :-1]).all()
        assert torch.unique(tup, dim=0).shape[0] == tup.shape[0] == math.comb(6 + deg - 1, deg)
    sf = pf.monomial_tables(6, 3, "squarefree")
    assert all((tup[:, 1:] > tup[:, :-1]).all() for tup in sf.tuples)


def test_lift_conv2_values_and_unique_scaling():
    g = torch.Generator().manual_seed(0)
    imgs = torch.randint(0, 256, (4, 6, 6), dtype=torch.uint8, generator=g)
    P = pf.conv_pair_table(6, 6)
    F = pf.lift_conv2(imgs, P, dtype=torch.float64)
    x = imgs.reshape(4, -1).double() / 255
    assert F.shape == (4, 1 + 36 + P.shape[0])
    torch.testing.assert_close(F[:, 0], torch.ones(4, dtype=torch.float64))
    torch.testing.assert_close(F[:, 1:37], x)
    torch.testing.assert_close(F[:, 37:], x[:, P[:, 0]] * x[:, P[:, 1]])
    # min-norm on ordered pairs == min-norm on sqrt2-scaled unique pairs mapped back
    Pu = pf.conv_pair_table(6, 6, unique=True)
    Fu = pf.lift_conv2(imgs, Pu, intercept=False, pair_scale=pf.unique_pair_scale(Pu), dtype=torch.float64)
    y = torch.randn(4, 2, dtype=torch.float64, generator=g)
    bo = torch.linalg.pinv(F[:, 37:]) @ y
    bu = torch.linalg.pinv(Fu[:, 36:]) @ y
    torch.testing.assert_close(pf.unique_to_ordered(bu.T, Pu, P, 36).T, bo)


def test_midpoint_map():
    P = torch.tensor([[0, 0], [0, 2], [2, 0], [7, 14]])
    m = pf.midpoint_map(torch.tensor([1.0, 2.0, 3.0, 4.0]), P, 4, 4)
    assert m[0, 0] == 1 and m[0, 1] == 5  # (0,0)&(0,2) -> (0,1) twice
    assert m[2, 2] == 4  # (1,3)&(3,2) -> (2,2)
    assert m.sum() == 10


def test_bad_input():
    with pytest.raises(ValueError, match="basis"):
        pf.monomial_tables(3, 2, "nope")
    with pytest.raises(ValueError, match="X must have shape"):
        pf.lift(torch.zeros(2, 4), pf.monomial_tables(3, 2))
    with pytest.raises(ValueError, match="radius"):
        pf.conv_pair_table(4, 4, -1)


def test_ordered_gram_from_unique_gram():
    g = torch.Generator().manual_seed(4)
    imgs = torch.rand(30, 5, 5, generator=g, dtype=torch.float64)
    Po, Pu = pf.conv_pair_table(5, 5), pf.conv_pair_table(5, 5, unique=True)
    Fo = pf.lift_conv2(imgs, Po, dtype=torch.float64)
    Fu = pf.lift_conv2(imgs, Pu, pair_scale=pf.unique_pair_scale(Pu), dtype=torch.float64)
    idx, f = pf.ordered_from_unique_columns(5, 5)
    torch.testing.assert_close(Fu[:, idx] * f, Fo)
    Gu = Fu.T @ Fu
    torch.testing.assert_close((f[:, None] * f[None, :]) * Gu[idx][:, idx], Fo.T @ Fo)
