"""lib.implicit_bias, lib.poly_activations, lib.stacked_mlp against exact oracles."""
import math

import numpy as np
import pytest
import torch

from lib import implicit_bias as ib
from lib import poly_activations as pa
from lib import stacked_mlp as sm


def test_closed_form_gd_matches_explicit_loop_and_perturbation_keeps_row_part():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((3, 6, 10))
    y = rng.standard_normal((3, 6))
    r = ib.gd_linear(X, y, 0.05, 300, log_t=[0, 100, 300])
    for k in range(3):
        np.testing.assert_allclose(r.w_final[k], ib.gd_linear_loop(X[k], y[k], 0.05, 300), atol=1e-12)
    assert np.all(r.null_norm < 1e-12)  # Lemma 3
    rp = ib.gd_linear(X, y, 0.2, 20000, perturb_every=5000, sigma=0.5, rng=rng, log_t=[4999, 9999, 14999, 19999])
    assert np.all(rp.row_err < 1e-8) and np.all(np.diff(rp.null_norm, axis=1) != 0)
    with pytest.raises(ValueError, match="eta"):
        ib.gd_linear(X, y, 100.0, 10)


def test_min_norm_and_filters():
    rng = np.random.default_rng(1)
    X = rng.standard_normal((5, 12))
    y = rng.standard_normal(5)
    w = ib.min_norm(X, y)
    np.testing.assert_allclose(w, X.T @ np.linalg.solve(X @ X.T, y), atol=1e-12)
    np.testing.assert_allclose(ib.null_component(w, X), 0, atol=1e-12)
    lam = 0.3
    np.testing.assert_allclose(ib.ridge_path(X, y, [lam])[0],
                               np.linalg.solve(X.T @ X / 5 + lam * np.eye(12), X.T @ y / 5), atol=1e-10)
    assert ib.gd_filter(np.array([0.0]), 0.1, 10)[0] == 0
    np.testing.assert_allclose(ib.ridge_filter(np.array([1.0]), 1.0), 0.5)


def test_svm_and_logistic_direction():
    rng = np.random.default_rng(2)
    X = rng.standard_normal((30, 3))
    u = np.array([1.0, 0.0, 0.0])
    y = np.where(X @ u >= 0, 1.0, -1.0)
    X = X + 0.5 * y[:, None] * u
    w, a = ib.svm_hard_margin(X, y)
    assert abs((y * (X @ w)).min() - 1) < 1e-6 and np.all(a >= 0)
    np.testing.assert_allclose(w, (a * y) @ X, atol=1e-9)
    # brute-force: no random direction has a larger normalised margin (unnormalised x here)
    D = rng.standard_normal((20000, 3))
    D /= np.linalg.norm(D, axis=1, keepdims=True)
    assert (y[None] * (D @ X.T)).min(1).max() <= 1 / np.linalg.norm(w) + 1e-9
    lg = ib.logistic_gd(X, y, 1.0, 3000, rng.standard_normal((2, 3)), [10, 3000])
    Wn = lg["W"][:, -1] / np.linalg.norm(lg["W"][:, -1], axis=1, keepdims=True)
    assert np.all(Wn @ (w / np.linalg.norm(w)) > 0.99) and np.all(np.diff(lg["loss"], axis=1) < 0)


def test_margin_is_robustness_radius():
    rng = np.random.default_rng(3)
    X = rng.standard_normal((20, 4))
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    w = rng.standard_normal(4)
    y = np.sign(X @ w)
    rho = ib.normalised_margin(w, X, y)
    f = ib.flat_fraction(w, X, y, np.array([0.99 * rho, 3.0]), 2000, rng)
    assert f[0] == 1.0 and f[1] < 1.0


def test_deep_linear_hessian_blocks_match_autograd():
    from lib import hessian as hs
    rng = np.random.default_rng(4)
    d, N, dp, n = 3, 4, 2, 5
    X, W1 = rng.standard_normal((d, n)), rng.standard_normal((N, d))
    W2, Y = rng.standard_normal((dp, N)), rng.standard_normal((dp, n))
    Xt, Yt = torch.tensor(X), torch.tensor(Y)
    loss = lambda t: 0.5 * ((t[N * d:].reshape(dp, N) @ t[:N * d].reshape(N, d) @ Xt - Yt) ** 2).sum()  # noqa: E731
    H = hs.exact_hessian(loss, torch.tensor(np.r_[W1.ravel(), W2.ravel()])).numpy()
    H11, H22 = ib.deep_linear_hessian_blocks(W1, W2, X)
    np.testing.assert_allclose(H[:N * d, :N * d], H11, atol=1e-10)
    np.testing.assert_allclose(H[N * d:, N * d:], H22, atol=1e-10)


def test_deep_linear_gd_matches_autograd_step():
    rng = np.random.default_rng(5)
    X, Y = rng.standard_normal((1, 4, 6)), rng.standard_normal((1, 1, 6))
    W1, W2 = rng.standard_normal((1, 3, 4)), rng.standard_normal((1, 1, 3))
    out = ib.deep_linear_gd(X, Y, W1, W2, 0.01, 1, [1])
    t1, t2 = torch.tensor(W1[0], requires_grad=True), torch.tensor(W2[0], requires_grad=True)
    L = ((t2 @ t1 @ torch.tensor(X[0]) - torch.tensor(Y[0])) ** 2).sum() / (2 * 6)
    g1, g2 = torch.autograd.grad(L, [t1, t2])
    np.testing.assert_allclose(out["W1"][0], W1[0] - 0.01 * g1.numpy(), atol=1e-12)
    np.testing.assert_allclose(out["W2"][0], W2[0] - 0.01 * g2.numpy(), atol=1e-12)


def test_homogeneous_rank_and_poly_features():
    rng = np.random.default_rng(6)
    assert ib.homogeneous_power_rank(3, 4, 40, 40, rng) == math.comb(6, 4)
    x = np.linspace(-1, 1, 7)
    np.testing.assert_allclose(ib.poly_features(x, 3, "mono")[:, 3], x ** 3)
    np.testing.assert_allclose(ib.poly_features(x, 2, "legendre")[:, 2], 1.5 * x ** 2 - 0.5)
    with pytest.raises(ValueError, match="basis"):
        ib.poly_features(x, 2, "hermite")
    assert np.all(np.abs(ib.chebyshev_nodes(5)) < 1)


def test_poly_activation_fits_relu():
    c = pa.fit_relu_poly(10, 4.0)
    assert pa.max_error(c, 4.0) < 0.15
    z = torch.linspace(-4, 4, 101, dtype=torch.float64)
    np.testing.assert_allclose(pa.horner(z, c).numpy(), np.polynomial.Polynomial(c)(z.numpy()), atol=1e-10)
    cc = pa.fit_relu_poly(10, 4.0, method="cheb")
    assert pa.max_error(cc, 4.0) < 0.3
    with pytest.raises(ValueError, match="method"):
        pa.fit_relu_poly(10, 4.0, method="x")


def test_stacked_mlp_equals_separate_models_and_masks_are_inert():
    g = torch.Generator().manual_seed(0)
    X = torch.randn(40, 5, generator=g)
    Y = torch.randint(0, 3, (2, 40), generator=g)
    net = sm.init_stacked(2, 5, [6], 3, generator=g, widths=torch.tensor([[6], [2]]))
    W0 = [w.detach().clone() for w in net.Ws]
    mask = torch.ones(2, 40)
    mask[1, 20:] = 0
    sm.train_stacked(net, X, Y, steps=5, lr=0.1, momentum=0.9, sample_mask=mask, log_every=5)
    # model 1: masked units untouched; reference torch.optim run on its 2 units and 20 samples
    assert torch.equal(net.Ws[0][1, :, 2:], W0[0][1, :, 2:])
    A = W0[0][1, :, :2].clone().requires_grad_(True)
    a = torch.zeros(2, requires_grad=True)
    B = W0[1][1, :2, :].clone().requires_grad_(True)
    b = torch.zeros(3, requires_grad=True)
    opt = torch.optim.SGD([A, B, a, b], lr=0.1, momentum=0.9)
    for _ in range(5):
        opt.zero_grad()
        out = torch.relu(X[:20] @ A + a) @ B + b
        torch.nn.functional.cross_entropy(out, Y[1, :20]).backward()
        opt.step()
    torch.testing.assert_close(net.Ws[0][1, :, :2].detach(), A.detach(), atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(net.Ws[1][1, :2].detach(), B.detach(), atol=1e-5, rtol=1e-5)
    assert sm.n_params(net).tolist() == [5 * 6 + 6 + 6 * 3 + 3, 5 * 2 + 2 + 2 * 3 + 3]


@pytest.mark.parametrize("bn", [False, True])
def test_grouped_widths_train_the_same_models_as_the_padded_stack(bn):
    """group_widths=True (each width its own trimmed stack) against the padded program: the same curves, the same
    trained weights up to float32 rounding, the padding untouched; models in an interleaved order, two layers."""
    g = torch.Generator().manual_seed(3)
    X, Xt = torch.randn(60, 7, generator=g), torch.randn(30, 7, generator=g)
    Y, Yt = torch.randint(0, 4, (6, 60), generator=g), torch.randint(0, 4, (30,), generator=g)
    widths = torch.tensor([[5, 2], [1, 3], [5, 2], [3, 3], [1, 3], [5, 1]])
    pad = sm.init_stacked(6, 7, [5, 3], 4, generator=torch.Generator().manual_seed(9), widths=widths)
    grp = sm.StackedMLP([w.detach().clone().requires_grad_(True) for w in pad.Ws],
                        [b.detach().clone().requires_grad_(True) for b in pad.bs], [m.clone() for m in pad.width_masks])
    kw = dict(steps=12, lr=0.05, momentum=0.9, X_test=Xt, Y_test=Yt, log_every=4, bn=bn, act=torch.tanh)
    lp = sm.train_stacked(pad, X, Y, **kw).stacked()
    lg = sm.train_stacked(grp, X, Y, group_widths=True, **kw).stacked()
    assert lp.keys() == lg.keys() and torch.equal(lp["steps"], lg["steps"])
    for k in lp:
        torch.testing.assert_close(lg[k].float(), lp[k].float(), atol=2e-5, rtol=2e-5)
    for P, Q in zip(pad.params(), grp.params()):
        torch.testing.assert_close(Q.detach(), P.detach(), atol=2e-5, rtol=2e-5)
    assert len(sm.width_groups(pad)) == 4 and torch.equal(sm.n_params(grp), sm.n_params(pad))
    with pytest.raises(ValueError, match="group_widths"):
        sm.train_stacked(grp, X, Y, steps=1, lr=0.1, group_widths=True,
                         perturb={"every": 1, "frac": 0.1, "generator": g})


def test_perturb_scales_with_layer_std():
    g = torch.Generator().manual_seed(1)
    net = sm.init_stacked(2, 50, [40], 10, generator=g)
    before = [w.detach().clone() for w in net.Ws]
    sm.perturb_(net, 0.25, g, which=torch.tensor([True, False]))
    d0 = (net.Ws[0] - before[0])[0].std() / before[0][0].std()
    assert abs(float(d0) - 0.25) < 0.02
    assert torch.equal(net.Ws[0][1], before[0][1])


def _sphere_sgd_moment_by_quadrature(D: int, n: int, eta: float, w_star: np.ndarray, noise_var: float) -> float:
    """E‖w_T − w*‖² from the full second-moment recursion C ← E[(I − ηxxᵀ)C(I − ηxxᵀ)] + η²σ² E[xxᵀ], with the
    expectation over x on S^{D−1} taken *exactly*: D = 1 is {±1}; D = 2 uses 16 equispaced angles, exact for the
    degree-4 trigonometric polynomials that appear."""
    if D == 1:
        xs = np.array([[1.0], [-1.0]])
    else:
        th = 2 * np.pi * np.arange(16) / 16
        xs = np.stack([np.cos(th), np.sin(th)], 1)
    P = [np.eye(D) - eta * np.outer(x, x) for x in xs]
    S = np.mean([np.outer(x, x) for x in xs], 0)
    C = np.outer(w_star, w_star)
    for _ in range(n):
        C = np.mean([p @ C @ p for p in P], 0) + eta ** 2 * noise_var * S
    return float(np.trace(C))


@pytest.mark.parametrize("D", [1, 2])
def test_one_pass_sgd_error_matches_the_exact_second_moment_recursion(D):
    w_star = np.array([0.3, -0.4])[:D]
    for n, eta in [(0, 0.5), (1, 0.5), (7, 0.3), (40, 0.05), (25, 1.5)]:
        exact = _sphere_sgd_moment_by_quadrature(D, n, eta, w_star, 1 / 12)
        closed = ib.one_pass_sgd_sphere_error(n, eta, D, float(w_star @ w_star), 1 / 12)
        assert closed == pytest.approx(exact, rel=1e-12, abs=1e-15)


def test_one_pass_sgd_simulation_agrees_with_its_expectation_and_the_rate_is_exactly_half():
    rng = np.random.default_rng(3)
    D, n = 5, 60
    w_star = np.full(D, 0.2)
    u = ib.one_pass_sgd_sphere(w_star, n, 1 / math.sqrt(n), 4000, rng)
    err = (u ** 2).sum(1)
    exact = ib.one_pass_sgd_sphere_error(n, 1 / math.sqrt(n), D, float(w_star @ w_star), 1 / 12)
    assert abs(err.mean() - exact) < 4 * err.std() / math.sqrt(err.size)
    ns = np.array([1e4, 1e6, 1e8])
    sq = np.sqrt(ns) * ib.one_pass_sgd_sphere_error(ns, 1 / np.sqrt(ns), D, 1.0, 1 / 12) / D
    np.testing.assert_allclose(sq, 1 / 24, rtol=2e-2)                         # √n · excess → σ²/2
    with pytest.raises(ValueError, match="eta"):
        ib.one_pass_sgd_sphere_error(10, 2.5, D, 1.0, 1.0)
