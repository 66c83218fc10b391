"""Exact oracles for lib/kernels.py: arc-cosine closed forms vs Monte Carlo, nested KRR vs one solve per size,
ReLU Hermite coefficients vs quadrature, the plateau levels of document 002 (T2)."""
import math

import numpy as np
import pytest
import torch
from numpy.polynomial.hermite_e import hermeval
from scipy import integrate

from lib import kernels as kr


def test_arccos_kernels_match_monte_carlo():
    g = torch.Generator().manual_seed(0)
    X = torch.randn(4, 5, generator=g, dtype=torch.float64)
    W = torch.randn(5, 400_000, generator=g, dtype=torch.float64)
    H = X @ W
    mc0 = ((H > 0).double() @ (H > 0).double().T) / W.shape[1]
    mc1 = (torch.relu(H) @ torch.relu(H).T) / W.shape[1]
    Xn = X / X.norm(dim=1, keepdim=True)
    u = Xn @ Xn.T
    assert torch.allclose(kr.arccos0(u), mc0, atol=5e-3)
    assert torch.allclose(kr.relu_nngp(X, X), mc1, rtol=2e-2, atol=2e-2)
    # NTK = <x,x'> E[1 1] + E[relu relu]
    ntk_mc = (X @ X.T) * mc0 + mc1
    assert torch.allclose(kr.relu_ntk(X, X), ntk_mc, rtol=2e-2, atol=3e-2)


def test_arccos_closed_form_values():
    u = torch.tensor([-1.0, 0.0, 1.0], dtype=torch.float64)
    assert torch.allclose(kr.arccos0(u), torch.tensor([0.0, 0.25, 0.5], dtype=torch.float64))
    assert torch.allclose(kr.arccos1(u), torch.tensor([0.0, 1 / (2 * math.pi), 0.5], dtype=torch.float64))


def test_ntk_and_nngp_match_component_formula():
    g = torch.Generator().manual_seed(1)
    X, Y = torch.randn(6, 3, generator=g, dtype=torch.float64), torch.randn(5, 3, generator=g, dtype=torch.float64)
    nn = X.norm(dim=1)[:, None] * Y.norm(dim=1)[None]
    u = (X @ Y.T) / nn
    assert torch.allclose(kr.relu_ntk(X, Y), (X @ Y.T) * kr.arccos0(u) + nn * kr.arccos1(u), atol=1e-13)
    assert torch.allclose(kr.relu_nngp(X, Y), nn * kr.arccos1(u), atol=1e-13)


def test_poly_kernel_and_features():
    X = torch.tensor([[1.0, 2.0]], dtype=torch.float64)
    assert kr.poly_kernel(X, X, 2).item() == pytest.approx((1 + 5 / 2) ** 2)
    with pytest.raises(ValueError, match="p="):
        kr.poly_kernel(X, X, 0)
    F = kr.relu_features(X, torch.tensor([[1.0, -1.0], [1.0, -1.0]], dtype=torch.float64))
    assert torch.allclose(F, torch.tensor([[3.0, 0.0]], dtype=torch.float64) / math.sqrt(2))


def test_krr_nested_equals_one_solve_per_size():
    g = torch.Generator().manual_seed(2)
    X = torch.randn(3, 40, 4, generator=g, dtype=torch.float64)
    Xt = torch.randn(3, 7, 4, generator=g, dtype=torch.float64)
    y = torch.randn(3, 40, generator=g, dtype=torch.float64)
    K, Kt = kr.relu_ntk(X, X), kr.relu_ntk(Xt, X)
    sizes = [3, 10, 25, 40]
    a = kr.krr_nested(K, y, Kt, sizes, 1e-3)
    b = kr.krr_loop(K, y, Kt, sizes, 1e-3)
    assert a.shape == (4, 3, 7)
    assert torch.allclose(a, b, atol=1e-8, rtol=1e-8)
    with pytest.raises(ValueError, match="sizes"):
        kr.krr_nested(K, y, Kt, [10, 5], 1e-3)
    with pytest.raises(ValueError, match="lam"):
        kr.krr_nested(K, y, Kt, [10], 0.0)


def test_relative_mse():
    t = torch.tensor([[0.0, 2.0]])
    assert kr.relative_mse(t, t).item() == 0
    assert kr.relative_mse(torch.ones(1, 2), t).item() == pytest.approx(1.0)


def test_relu_hermite_coeffs_by_quadrature():
    c = kr.relu_hermite_coeffs(8)
    phi = lambda z: math.exp(-z * z / 2) / math.sqrt(2 * math.pi)  # noqa: E731
    for k in range(9):
        e = np.zeros(k + 1)
        e[k] = 1
        val, _ = integrate.quad(lambda z, e=e: z * hermeval(z, e) * phi(z), 0, np.inf, epsabs=1e-12, limit=200)
        assert c[k] == pytest.approx(val / math.sqrt(math.factorial(k)), abs=1e-10)
    # Parseval: sum c_k^2 -> E relu^2 = 1/2
    assert (kr.relu_hermite_coeffs(200) ** 2).sum() == pytest.approx(0.5, abs=2e-3)


def test_plateau_levels_values():
    lv = kr.plateau_levels([0, 1, 2, 3, 4, 6])
    assert lv[0] == pytest.approx(1.0)
    np.testing.assert_allclose(lv[1:], [0.2665, 0.0331, 0.0331, 0.0136, 0.0078], atol=6e-5)
    with pytest.raises(ValueError):
        kr.relu_hermite_coeffs(-1)


def test_n_star_log_interpolation():
    ns = [10, 100, 1000]
    err = np.array([[1.0, 1.0], [0.1, 1.0], [0.001, 0.01]])
    med, per = kr.n_star(ns, err, 0.1)
    assert per[0] == pytest.approx(100.0)
    assert per[1] == pytest.approx(10 ** 2.5)    # log err from 0 to -2 over one decade: -1 at half way
    assert med == pytest.approx(10 ** 2.25)    # median log10 err: 0, -0.5, -2.5 -> -1 a quarter way
    assert math.isnan(kr.n_star(ns, err, 1e-5)[0])
