"""Tests of lib/weight_matching.py: the equivalent tensor weights reproduce a polynomial-activation
network EXACTLY (with the multinomial factor in the deduplicated basis, without it in the ordered basis),
multinomial factors against brute-force enumeration, least squares recovers the exact weights, the
posterior of eq. 3.25 recovers the activation's coefficients, and the similarity measures."""

import itertools
import math
from collections import Counter

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from lib import polyfeatures as pf
from lib import weight_matching as wm
from lib.relu_approx import hermite_projection


def _rand(shape, g):
    return torch.randn(shape, generator=g, dtype=torch.float64)


@settings(max_examples=25, deadline=None)
@given(d=st.integers(1, 5), m=st.integers(1, 6), k=st.integers(1, 4), seed=st.integers(0, 10_000))
def test_equivalent_weights_reproduce_polynomial_network(d, m, k, seed):
    g = torch.Generator().manual_seed(seed)
    W, b, a = _rand((3, d, m), g), _rand((3, m), g), _rand((k + 1,), g)
    X = _rand((3, 40, d), g)
    target = wm.poly_net(W, X, a, b)
    scale = target.abs().max().item() + 1.0
    for basis, mult in (("dedup", True), ("ordered", False), ("ordered", True)):
        T = pf.monomial_tables(d, k, basis)
        v = wm.equivalent_tensor_weights(W, b, a, T, multinomial=mult)
        pred = torch.stack([pf.lift(X[i], T) @ v[i] for i in range(3)])
        assert (pred - target).abs().max().item() <= 1e-10 * scale


def test_printed_formula_without_factor_is_wrong():
    g = torch.Generator().manual_seed(0)
    d, m, k = 4, 5, 3
    W, b, a = _rand((d, m), g), _rand((m,), g), torch.tensor([0.1, 0.5, 0.3, 0.2], dtype=torch.float64)
    X = _rand((100, d), g)
    T = pf.monomial_tables(d, k, "dedup")
    v = wm.equivalent_tensor_weights(W, b, a, T, multinomial=False)
    err = (pf.lift(X, T) @ v - wm.poly_net(W, X, a, b)).abs().max().item()
    assert err > 1e-2


@pytest.mark.parametrize("d,t", [(1, 3), (3, 2), (4, 3), (3, 4), (5, 4)])
def test_multinomial_factors_bruteforce(d, t):
    T = pf.monomial_tables(d, t, "dedup")
    tup = T.tuples[t - 1]
    counts = Counter(tuple(sorted(p)) for p in itertools.product(range(d), repeat=t))
    expected = torch.tensor([counts[tuple(r.tolist())] for r in tup], dtype=torch.float64)
    assert torch.equal(wm.multinomial_factors(tup, d, "dedup"), expected)
    assert expected.sum().item() == d**t
    sq = pf.monomial_tables(d, t, "squarefree").tuples[t - 1]
    if sq.shape[0]:
        assert torch.all(wm.multinomial_factors(sq, d, "squarefree") == math.factorial(t))


def test_tensor_sums_bruteforce():
    g = torch.Generator().manual_seed(1)
    d, m, k = 3, 4, 3
    W, b = _rand((d, m), g), _rand((m,), g)
    T = pf.monomial_tables(d, k, "dedup")
    S = wm.tensor_sums(W, b, T, multinomial=False)
    for t in range(1, k + 1):
        for row, tup in enumerate(T.tuples[t - 1].tolist()):
            ref = sum(b[i].item() * math.prod(W[j, i].item() for j in tup) for i in range(m))
            assert S[t - 1][row].item() == pytest.approx(ref, rel=1e-12, abs=1e-12)


def test_least_squares_recovers_exact_weights_and_posterior():
    g = torch.Generator().manual_seed(2)
    d, m, k, R = 4, 6, 3, 3
    W, b = _rand((R, d, m), g), torch.full((R, m), m**-0.5, dtype=torch.float64)
    a = torch.tensor([0.114, 0.498, 0.352, -1.1e-3], dtype=torch.float64)
    X = _rand((500, d), g)
    T = pf.monomial_tables(d, k)
    Y = wm.poly_net(W, X.expand(R, -1, -1), a, b)
    fit = wm.fit_polynomial_regression(X, Y, T)
    v = wm.equivalent_tensor_weights(W, b, a, T)
    torch.testing.assert_close(fit.beta, v, atol=1e-9, rtol=1e-9)
    torch.testing.assert_close(wm.pr_predict(X, fit.beta, T), Y, atol=1e-9, rtol=1e-9)
    post = wm.posterior_coefficients(fit.beta, wm.tensor_sums(W, b, T), b.sum(-1))
    torch.testing.assert_close(post, a.expand(R, -1), atol=1e-9, rtol=1e-9)
    torch.testing.assert_close(wm.weights_from_sums(post, wm.tensor_sums(W, b, T), b.sum(-1)), v)
    ident, pear = wm.similarity(fit.beta[..., 1:], v[..., 1:])
    torch.testing.assert_close(ident, torch.ones(R, dtype=torch.float64))
    torch.testing.assert_close(pear, torch.ones(R, dtype=torch.float64))


def test_similarity_measures():
    x = torch.tensor([1.0, -2.0, 3.0, 0.5], dtype=torch.float64)
    ident, pear = wm.similarity(x, 2 * x)
    assert pear.item() == pytest.approx(1.0)
    assert ident.item() < 1.0
    ident0, pear0 = wm.similarity(x, torch.zeros_like(x))
    assert pear0.item() == 0.0
    assert ident0.item() == pytest.approx(1 - (x**2).sum().item() / ((x - x.mean()) ** 2).sum().item())


def test_hermite_pr_weights_single_unit():
    # one unit in d = 1: the PR weights are the 1-D Hermite projection at r = |w|, times w^t
    w, k = -0.7, 4
    T = pf.monomial_tables(1, k)
    v = wm.hermite_pr_weights(torch.tensor([[[w]]], dtype=torch.float64), torch.ones(1, 1, dtype=torch.float64), T)
    ref = hermite_projection(k, abs(w)) * w ** np.arange(k + 1)
    np.testing.assert_allclose(v[0].numpy(), ref, atol=1e-14)


def test_bad_inputs():
    T = pf.monomial_tables(3, 2)
    with pytest.raises(ValueError, match="N ="):
        wm.fit_polynomial_regression(torch.zeros(5, 3), torch.zeros(1, 5), T)
    with pytest.raises(ValueError, match="W must"):
        wm.tensor_sums(torch.zeros(4, 2), torch.zeros(2), T)
    with pytest.raises(ValueError, match="basis"):
        wm.multinomial_factors(T.tuples[0], 3, "bogus")


def test_match_weights_exact_prior_and_posterior():
    g = torch.Generator().manual_seed(3)
    d, m, k, R = 3, 5, 3, 2
    W, b = _rand((R, d, m), g), torch.full((R, m), m**-0.5, dtype=torch.float64)
    a = np.array([0.1, 0.5, 0.35, 0.05])
    X = _rand((300, d), g)
    T = pf.monomial_tables(d, k)
    Y = wm.poly_net(W, X.expand(R, -1, -1), a, b)
    beta = wm.fit_polynomial_regression(X, Y, T).beta
    res = wm.match_weights(beta, W, b, T, {"true": a, "wrong": a * np.array([1, 1, 0.5, 1])})
    for name in ("true", "posterior"):
        torch.testing.assert_close(res[name].identity_r2, torch.ones(R, k, dtype=torch.float64))
    torch.testing.assert_close(res["posterior"].coef, torch.as_tensor(a).expand(R, -1))
    assert torch.all(res["wrong"].identity_r2[:, 1] < 0.99)
    assert torch.all(res["wrong"].pearson_r2[:, 1] > 1 - 1e-9)
