"""lib.hessian: exact Hessian, Gauss–Newton, HVP and Lanczos agree with each other and with closed forms."""
import numpy as np
import pytest
import torch
from torch import nn

from lib import hessian as hs


@pytest.fixture(autouse=True)
def _float64():
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(old)


def _quadratic(P=7, seed=0):
    g = torch.Generator().manual_seed(seed)
    A = torch.randn(P, P, generator=g)
    A = A @ A.T - 2.0 * torch.eye(P)  # indefinite
    b = torch.randn(P, generator=g)
    return A, b, (lambda t: 0.5 * t @ A @ t + b @ t)


def _small_net(seed=0, act=torch.tanh):
    g = torch.Generator().manual_seed(seed)
    net = nn.Sequential(nn.Linear(3, 4), nn.Tanh() if act is torch.tanh else nn.ReLU(), nn.Linear(4, 2)).double()
    for p in net.parameters():
        p.data = torch.randn(p.shape, generator=g, dtype=torch.float64) * 0.7
    X = torch.randn(5, 3, generator=g)
    Y = torch.randn(5, 2, generator=g)
    return net, X, Y


def test_exact_hessian_of_quadratic_is_A():
    A, _, f = _quadratic()
    theta = torch.randn(7)
    assert torch.allclose(hs.exact_hessian(f, theta), A, atol=1e-12)
    assert torch.allclose(hs.naive_hessian(f, theta), A, atol=1e-12)


def test_hvp_and_operator_match_exact_on_net():
    net, X, Y = _small_net()
    loss_fn, theta = hs.functional_loss(net, lambda o, y: 0.5 * ((o - y) ** 2).sum(), X, Y)
    H = hs.exact_hessian(loss_fn, theta)
    assert torch.allclose(H, hs.naive_hessian(loss_fn, theta), atol=1e-10)
    assert torch.allclose(H, H.T, atol=1e-10)
    v = torch.randn(theta.numel())
    assert torch.allclose(hs.hvp(loss_fn, theta, v), H @ v, atol=1e-10)
    op = hs.hvp_operator(loss_fn, theta)
    assert op.shape == (theta.numel(), theta.numel())
    np.testing.assert_allclose(op @ v.numpy(), (H @ v).numpy(), atol=1e-10)


@pytest.mark.parametrize("which", ["SA", "LA"])
def test_lanczos_extremes_match_eigvalsh(which):
    net, X, Y = _small_net(seed=1)
    loss_fn, theta = hs.functional_loss(net, lambda o, y: 0.5 * ((o - y) ** 2).sum(), X, Y)
    ev = torch.linalg.eigvalsh(hs.exact_hessian(loss_fn, theta)).numpy()
    got = hs.extreme_eigenvalues(loss_fn, theta, k=2, which=which)
    want = ev[:2] if which == "SA" else ev[-2:]
    np.testing.assert_allclose(got, want, atol=1e-8)


def test_gauss_newton_equals_hessian_at_zero_residual_and_rank_bound():
    # targets = the net's own outputs: a zero-loss minimum, so H = JᵀJ and rank ≤ n·k (Theorem 3)
    net, X, _ = _small_net(seed=2)
    f, theta = hs.functional_outputs(net, X)
    Y = f(theta).detach()
    loss_fn = lambda t: 0.5 * ((f(t) - Y) ** 2).sum()  # noqa: E731
    H = hs.exact_hessian(loss_fn, theta)
    G = hs.gauss_newton(lambda t: f(t) - Y, theta)
    assert torch.allclose(H, G, atol=1e-12)
    n_k = Y.numel()
    assert hs.count_nonzero_eigenvalues(H) == torch.linalg.matrix_rank(hs.jacobian(lambda t: f(t), theta)) <= n_k
    assert theta.numel() == 26 and hs.count_nonzero_eigenvalues(H) == 10


def test_gauss_newton_differs_away_from_minimum():
    net, X, Y = _small_net(seed=3)
    f, theta = hs.functional_outputs(net, X)
    H = hs.exact_hessian(lambda t: 0.5 * ((f(t) - Y) ** 2).sum(), theta)
    G = hs.gauss_newton(lambda t: f(t) - Y, theta)
    assert (H - G).norm() > 1e-3 * H.norm()
    assert torch.linalg.eigvalsh(G).min() > -1e-10  # JᵀJ is PSD


def test_flatten_unflatten_roundtrip_and_errors():
    net, X, _ = _small_net()
    theta, spec = hs.flatten_params(net)
    parts = hs.unflatten(theta, spec)
    for name, p in net.named_parameters():
        assert torch.equal(parts[name], p.detach())
    with pytest.raises(ValueError, match="theta"):
        hs.unflatten(theta[:-1], spec)
    with pytest.raises(ValueError, match="which"):
        hs.extreme_eigenvalues(lambda t: (t ** 2).sum(), torch.zeros(5), which="XX")
    with pytest.raises(ValueError, match="theta"):
        hs.exact_hessian(lambda t: (t ** 2).sum(), torch.zeros(2, 2))
    with pytest.raises(ValueError, match="v must"):
        hs.hvp(lambda t: (t ** 2).sum(), torch.zeros(3), torch.zeros(4))


def test_tiny_problem_falls_back_to_exact():
    A, _, f = _quadratic(P=3)
    got = hs.extreme_eigenvalues(f, torch.zeros(3), k=2, which="LA")
    np.testing.assert_allclose(got, torch.linalg.eigvalsh(A).numpy()[-2:], atol=1e-12)
