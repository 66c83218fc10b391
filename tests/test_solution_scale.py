"""Tests of lib.solution_scale: duplicate ordered columns are identical, the null shift reaches any scale without
changing a prediction, feature activity against brute force."""

import pytest
import torch

from lib import least_squares as ls
from lib import polyfeatures as pf
from lib import solution_scale as ss


def _imgs(n, side=8, seed=0):
    g = torch.Generator().manual_seed(seed)
    X = torch.randint(0, 256, (n, side, side), dtype=torch.uint8, generator=g)
    return X * (torch.rand(n, side, side, generator=g) < 0.4)          # sparse, like digits: many zero pixels


def test_duplicate_pairs_of_the_28x28_table():
    P = pf.conv_pair_table(28, 28)
    dup = ss.duplicate_pairs(P)
    assert dup.shape == ((17956 - 784) // 2, 2)                          # every off-diagonal pair once
    torch.testing.assert_close(P[dup[:, 0]], P[dup[:, 1]].flip(1))
    assert bool((P[dup[:, 0], 0] < P[dup[:, 0], 1]).all())


def test_null_shift_keeps_predictions_and_reaches_the_scale():
    P = pf.conv_pair_table(8, 8)
    dup = ss.duplicate_pairs(P)
    X = _imgs(50)
    assert ss.duplicate_column_gap(X, P, dup) == 0.0
    F = pf.lift_conv2(X, P).double()                                   # (50, 1 + 64 + P)
    v = ss.null_direction(dup, F.shape[1], 1 + 64, 3)
    assert float((F @ v).abs().max()) == 0.0
    beta = torch.linalg.pinv(F) @ ls.one_hot(torch.arange(50) % 3, 3).double()
    for target in (1.0, 6.9e7, 1.6e10):
        b2, t = ss.shift_to_scale(beta, v, target)
        assert ls.coefficient_scales(b2)[1] == pytest.approx(target, rel=1e-9)
        assert t > 0
        # the change of every prediction is t X v = 0; evaluated in float64, only round-off of t-sized terms remains
        bound = 64 * torch.finfo(torch.float64).eps * t * F.abs().sum(1, keepdim=True)
        assert bool(((F @ b2 - F @ beta).abs() <= bound).all())
    with pytest.raises(ValueError, match="below"):
        ss.shift_to_scale(beta, v, 1e-9)


def test_feature_activity_brute_force_and_largest():
    P = pf.conv_pair_table(6, 6)
    X = _imgs(40, side=6, seed=1)
    act = ss.feature_activity(X, P, chunk_rows=7)
    lit = (X.reshape(40, -1) > 0).double()
    expect = torch.cat([torch.ones(1, dtype=torch.float64), lit.mean(0), (lit[:, P[:, 0]] * lit[:, P[:, 1]]).mean(0)])
    torch.testing.assert_close(act, expect)
    beta = torch.zeros(act.numel(), 2, dtype=torch.float64)
    rare = torch.argsort(act[1:])[:10] + 1
    beta[rare, 1] = 5.0
    top, med = ss.activity_of_largest(beta, act, frac=0.0)
    assert top == pytest.approx(float(act[rare].median()))
    assert med == pytest.approx(float(act[1:].median()))
