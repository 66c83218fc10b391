"""Tests of lib.erm: exact ERM (Alg 1) against brute force and gradient descent."""
import itertools
import math

import numpy as np
import pytest
import torch

from lib.erm import (
    bruteforce_alg1_1d,
    bruteforce_pwl1d,
    dichotomy_count,
    erm_pwl1d_exact,
    erm_two_layer_exact,
    gd_baseline,
    hyperplane_dichotomies,
    network_loss,
)


@pytest.mark.parametrize("D,n", [(5, 1), (8, 1), (5, 2), (6, 2), (8, 2), (6, 3)])
def test_dichotomy_counts(D, n):
    X = np.random.default_rng(D + n).normal(size=(D, n))
    assert hyperplane_dichotomies(X).shape[0] == dichotomy_count(D, n)


def test_dichotomies_complete_by_sampling():
    """Every dichotomy induced by a random affine function is enumerated."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(7, 2))
    P = {tuple(r) for r in hyperplane_dichotomies(X)}
    for _ in range(20000):
        a, b = rng.normal(size=2), rng.normal() * 3
        assert tuple(X @ a + b > 0) in P


def test_exact_erm_n2_certified_and_below_gd():
    rng = np.random.default_rng(0)
    X, y = rng.uniform(-1, 1, (6, 2)), rng.normal(size=6)
    r = erm_two_layer_exact(X, y, 2)
    assert r["n_subproblems"] == 2080 and r["n_dichotomies"] == 32
    assert abs(r["loss_net"] - r["opt"]) < 1e-8 and r["max_violation"] < 1e-8
    full = erm_two_layer_exact(X, y, 2, prune=False)
    assert abs(full["opt"] - r["opt"]) < 1e-9
    L = gd_baseline(X, y, 2, R=50, steps=400, lr=0.05, generator=torch.Generator().manual_seed(0))
    assert L.min() >= r["opt"] - 1e-7


def test_exact_erm_n1_vs_grid_brute_force():
    rng = np.random.default_rng(2)
    x = np.sort(rng.uniform(-1, 1, 8))
    y = rng.normal(size=8)
    for w in (1, 2):
        opt = erm_two_layer_exact(x[:, None], y, w)["opt"]
        gaps = [bruteforce_alg1_1d(x, y, w, np.linspace(-1.5, 1.5, G)) - opt for G in (31, 301)]
        assert min(gaps) >= -1e-9
        assert gaps[1] <= gaps[0] + 1e-12


def test_pwl1d_exact_and_sandwich():
    rng = np.random.default_rng(4)
    x = np.sort(rng.uniform(-1, 1, 8))
    y = rng.normal(size=8)
    pw = {p: erm_pwl1d_exact(x, y, p)["opt"] for p in (1, 2, 3, 4)}
    for p in (1, 2, 3):
        assert pw[p] <= bruteforce_pwl1d(x, y, p, np.linspace(-1.2, 1.2, 121)) + 1e-9
    for w in (2, 3):
        a1 = erm_two_layer_exact(x[:, None], y, w)["opt"]
        assert pw[w + 1] <= a1 + 1e-9 and a1 <= pw[w - 1] + 1e-9
    assert erm_pwl1d_exact(x, y, 3)["n_qp"] == 45 * 4  # C(D+p-2, p-1) 2^{p-1}


def test_tiny_instance_vs_exhaustive_grid():
    """n = 2, D = 4, w = 1: the optimum is ≤ every gridded network's loss and matched by a fine grid."""
    rng = np.random.default_rng(7)
    X, y = rng.normal(size=(4, 2)), rng.normal(size=4)
    r = erm_two_layer_exact(X, y, 1)
    best = np.inf
    for th in itertools.product(np.linspace(-3, 3, 25), repeat=3):
        theta = np.array(th)[None]
        for s in (1.0, -1.0):
            # the output scale is free: fit it exactly (|scale| absorbed into θ)
            h = np.maximum(np.c_[X, np.ones(4)] @ theta.T, 0)[:, 0]
            c = max(0.0, s * (h @ y) / (h @ h)) if h @ h > 0 else 0.0
            best = min(best, network_loss(X, y, c * theta, np.array([s])))
    assert r["opt"] <= best + 1e-9
    assert best - r["opt"] < 0.05


# ---------------------------------------------------------------------------------------- studies
def test_reach_rate_by_hand():
    from lib.erm import reach_rate

    y = np.array([1.0, -1.0, 2.0, 0.0])                          # mean(y²) = 1.5
    losses = np.array([0.1, 0.1 + 1e-5, 0.1 + 1.5e-4 - 1e-9, 0.1 + 1.5e-4 + 1e-9, 0.5])
    assert reach_rate(losses, 0.1, y) == pytest.approx(3 / 5)   # within 1e-4 · 1.5 of OPT: the first three


def test_subproblem_scaling_counts_and_slopes():
    """Oracle: the count is the multiset number C(2Q + w − 1, w) with Cover's Q; for n = w = 1, Q = 2D, so the count
    4D has log-log slope exactly 1."""
    from lib.erm import subproblem_scaling

    scal, slopes = subproblem_scaling([(1, 1), (1, 2), (2, 1)], [4, 6, 8], np.random.default_rng(3))
    assert scal.shape == (9, 7)
    assert np.array_equal(scal[:, 3], scal[:, 4])
    assert np.array_equal(scal[:3, 3], [16, 24, 32])                           # 4D
    assert scal[3, 3] == math.comb(2 * 8 + 1, 2)                               # n = 1, w = 2, D = 4: Q = 8
    assert slopes[(1, 1)] == pytest.approx(1.0, abs=1e-9)
    assert slopes[(1, 2)] == pytest.approx(np.log(math.comb(33, 2) / math.comb(25, 2)) / np.log(8 / 6))


def test_erm_1d_study():
    from lib.erm import erm_1d_study

    rng = np.random.default_rng(4)
    x, y = np.sort(rng.uniform(-1, 1, 8)), rng.normal(size=8)
    e = erm_1d_study(x, y)
    assert e["sandwich"] and min(e["grid_gap"].values()) >= -1e-9
    assert e["alg1"][3] <= e["alg1"][2] <= e["alg1"][1] + 1e-12
    assert all(e["pwl"][p] <= e["pwl_brute"][p] + 1e-9 for p in (2, 3))
    assert e["pwl"][1] == pytest.approx(float(np.mean((np.polyval(np.polyfit(x, y, 1), x) - y) ** 2)), abs=1e-9)
    assert e["pwl_printed"][3] == pytest.approx(e["pwl"][1], abs=1e-8)          # printed (2.7): the affine fit
