"""Tests of lib/relu_approx.py: Hermite coefficients of ReLU (closed form vs quadrature), the weighted
least-squares optimum, the L-inf optimum (LP duality and Chebyshev alternation) and the exactness of the
pruned grid search against literal enumeration."""

import math

import numpy as np
import pytest
from numpy.polynomial import hermite_e as H
from scipy import integrate

from lib import relu_approx as ra

X = ra.x_grid(601)
W = ra.normal_pdf(X)


@pytest.mark.parametrize("k", range(9))
def test_hermite_coeffs_match_quadrature(k):
    he = H.HermiteE.basis(k)
    val, _ = integrate.quad(lambda u: u * he(u) * ra.normal_pdf(u), 0, 40, epsabs=1e-13, epsrel=1e-12, limit=200)
    assert ra.hermite_relu_coeffs(k)[k] == pytest.approx(val / math.factorial(k), abs=1e-11)


def test_hermite_closed_form_values():
    c = ra.hermite_relu_coeffs(5)
    s = math.sqrt(2 * math.pi)
    np.testing.assert_allclose(c, [1 / s, 0.5, 1 / (2 * s), 0.0, -1 / (24 * s), 0.0], atol=1e-15)


@pytest.mark.parametrize("k,r", [(2, 1.0), (3, 1.0), (3, 0.577), (4, 0.577), (4, 1.7)])
def test_hermite_projection_is_gaussian_least_squares(k, r):
    # direct L2(N(0, r^2)) least squares by Gauss-Legendre on both sides of the kink
    t, wt = np.polynomial.legendre.leggauss(200)
    L = 14 * r
    xs = np.concatenate([0.5 * L * (t - 1), 0.5 * L * (t + 1)])
    q = np.concatenate([0.5 * L * wt] * 2) * np.exp(-0.5 * (xs / r) ** 2) / (r * math.sqrt(2 * math.pi))
    a = ra.weighted_ls_fit(k, xs, q)
    np.testing.assert_allclose(ra.hermite_projection(k, r), a, atol=1e-8)


def test_hermite_projection_degree3_formula():
    c0, c2 = 1 / math.sqrt(2 * math.pi), 1 / (2 * math.sqrt(2 * math.pi))
    for r in (0.3, 0.577, 1.0, 2.0):
        np.testing.assert_allclose(ra.hermite_projection(3, r), [r * (c0 - c2), 0.5, c2 / r, 0.0], atol=1e-14)
    rs = np.array([0.5, 1.0])
    assert ra.hermite_projection(3, rs).shape == (2, 4)


def test_weighted_ls_optimum():
    a = ra.weighted_ls_fit(3, X, W)
    V = ra.vander(X, 3)
    grad = V.T @ (W * (ra.relu(X) - V @ a))
    np.testing.assert_allclose(grad, 0, atol=1e-10)
    # symmetry: the odd part of relu is x/2, a polynomial -> a1 = 1/2, a3 = 0 exactly
    assert a[1] == pytest.approx(0.5, abs=1e-10) and abs(a[3]) < 1e-10
    rng = np.random.default_rng(0)
    f0 = ra.objective_value(a, "l2", X, W)
    pert = a + 1e-3 * rng.standard_normal((200, 4))
    assert np.all(ra.objective_value(pert, "l2", X, W) > f0)


def test_weighted_ls_continuous_values():
    a = ra.weighted_ls_continuous(3)
    np.testing.assert_allclose(a, [0.18990, 0.5, 0.21131, 0.0], atol=5e-5)
    # on a very wide interval it becomes the Hermite projection
    np.testing.assert_allclose(ra.weighted_ls_continuous(3, (-12, 12)), ra.hermite_projection(3, 1.0), atol=1e-9)


@pytest.mark.parametrize("degree", [1, 2, 3, 4])
def test_linf_lp_certificate(degree):
    fit = ra.linf_fit_lp(degree, X, W)
    # strong duality
    assert fit.lower_bound == pytest.approx(fit.value, rel=1e-7)
    # value is what the objective says
    assert ra.objective_value(fit.coef, "linf", X, W) == pytest.approx(fit.value, rel=1e-9)
    # Chebyshev alternation: >= degree + 2 extremal points with alternating signs
    assert len(fit.alternation) >= degree + 2
    assert np.all(fit.signs[1:] == -fit.signs[:-1])
    rng = np.random.default_rng(degree)
    pert = fit.coef + 1e-3 * rng.standard_normal((300, degree + 1))
    assert np.all(ra.objective_value(pert, "linf", X, W) >= fit.value - 1e-12)


def test_thesis_linf_is_not_optimal():
    fit = ra.linf_fit_lp(3, X, W)
    assert ra.objective_value(ra.THESIS_P_LINF, "linf", X, W) > 1.2 * fit.value


@pytest.mark.parametrize("objective", ["l2", "linf"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_grid_search_pass_equals_bruteforce(objective, seed):
    rng = np.random.default_rng(seed)
    x = np.linspace(-3, 3, 61)
    w = ra.normal_pdf(x)
    centre = ra.weighted_ls_fit(3, x, w) if objective == "l2" else ra.linf_fit_lp(3, x, w).coef
    lat = [np.sort(c + rng.uniform(-0.3, 0.3) + np.linspace(-0.5, 0.5, 11) * rng.uniform(0.3, 1.0))
           for c in centre]
    res = ra.grid_search_pass(lat, objective, x, w)
    a_bf, f_bf = ra.grid_search_bruteforce(lat, objective, x, w)
    assert res.value == pytest.approx(f_bf, rel=1e-12)
    np.testing.assert_allclose(res.coef, a_bf)
    assert res.n_evaluated <= res.n_lattice


def test_grid_search_thesis_l2_close_to_exact():
    res = ra.grid_search("l2", X, W)
    assert len(res) == 2 and res[1].value <= res[0].value
    np.testing.assert_allclose(res[1].coef, ra.weighted_ls_fit(3, X, W), atol=0.01)


def test_bad_inputs():
    with pytest.raises(ValueError, match="objective"):
        ra.objective_value(np.zeros(4), "l1", X, W)
    with pytest.raises(ValueError, match="r must be"):
        ra.hermite_projection(3, -1.0)
    with pytest.raises(ValueError, match="n_points"):
        ra.x_grid(1)
    with pytest.raises(ValueError, match="lattices"):
        ra.grid_search_pass([np.array([1.0, 0.0])] * 4, "l2", X, W)


def test_is_certified():
    import dataclasses
    fit = ra.linf_fit_lp(3, X, W)
    assert ra.is_certified(fit)
    assert not ra.is_certified(dataclasses.replace(fit, signs=np.abs(fit.signs)))            # no alternation
    assert not ra.is_certified(dataclasses.replace(fit, alternation=fit.alternation[:4]))    # too few points
    assert not ra.is_certified(dataclasses.replace(fit, lower_bound=0.9 * fit.value))        # duality gap
