"""lib.landscapes: slices of a one-layer net and the exact convexity test on a grid."""
import pytest
import torch

from lib import landscapes
from lib.book import runtime
from lib.teacher_student import relu_net, sample_teachers


def test_second_differences_exact_on_quadratics():
    g = torch.linspace(-1, 1, 11, dtype=torch.float64)
    h = float(g[1] - g[0])
    Z = g[:, None] ** 2 - 3 * g[None, :] ** 2 + g[:, None] * g[None, :]
    sd = landscapes.second_differences(Z)
    assert torch.allclose(sd[0], torch.full_like(sd[0], 2 * h * h))          # along x: 2h²
    assert torch.allclose(sd[1], torch.full_like(sd[1], -6 * h * h))         # along y: -6h²
    assert torch.allclose(sd[2], torch.full_like(sd[2], (2 - 6 + 2) * h * h))  # diagonal (h, h)
    assert torch.allclose(sd[3], torch.full_like(sd[3], (2 - 6 - 2) * h * h))  # anti-diagonal (h, -h)


def test_input_slice_of_relu_net_is_convex_and_matches_forward():
    gen = runtime.torch_generator(0)
    W = sample_teachers(1, 6, 8, generator=gen)[0].double()
    x0 = torch.randn(6, generator=gen, dtype=torch.float64)
    grid = torch.linspace(-2, 2, 9, dtype=torch.float64)
    Z = landscapes.input_slice(W, x0, grid)
    x = x0.clone()
    x[0], x[1] = grid[3], grid[5]
    assert torch.allclose(Z[3, 5], relu_net(W[None], x[None, None])[0, 0])
    assert landscapes.second_differences(Z).min() >= -1e-12


def test_weight_slice_matches_direct_loss():
    gen = runtime.torch_generator(1)
    W = sample_teachers(1, 4, 3, generator=gen)[0].double()
    X = torch.randn(20, 4, generator=gen, dtype=torch.float64)
    Y = torch.randn(20, generator=gen, dtype=torch.float64)
    grid = torch.linspace(-1, 1, 5, dtype=torch.float64)
    L = landscapes.weight_slice(W, X, Y, grid)
    W2 = W.clone()
    W2[0, 0] += grid[1]
    W2[1, 0] += grid[4]
    assert torch.allclose(L[1, 4], ((relu_net(W2[None], X[None])[0] - Y) ** 2).mean())


def test_bad_inputs():
    with pytest.raises(ValueError, match="grid"):
        landscapes.input_slice(torch.zeros(4, 2), torch.zeros(4), torch.zeros(2))
    with pytest.raises(ValueError, match="x0"):
        landscapes.input_slice(torch.zeros(4, 2), torch.zeros(3), torch.zeros(5))
    with pytest.raises(ValueError, match="G >= 3"):
        landscapes.second_differences(torch.zeros(2, 5))


def test_sign_flip_rate_smooth_vs_noise():
    g = torch.linspace(-1, 1, 41, dtype=torch.float64)
    bowl = g[:, None] ** 2 + g[None, :] ** 2
    assert landscapes.sign_flip_rate(landscapes.second_differences(bowl)) == 0.0     # constant curvature
    saddle = g[:, None] ** 2 - g[None, :] ** 2                                        # both signs, no flips
    assert landscapes.sign_flip_rate(landscapes.second_differences(saddle)) == 0.0
    noise = torch.randn(41, 41, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    r = landscapes.sign_flip_rate(landscapes.second_differences(noise))
    assert 0.3 < r < 0.8                                   # noise flips curvature at a large fraction of steps
    checker = torch.tensor([[(-1.0) ** (i + j) for j in range(3)] for i in range(3)])
    sd = checker[None]                                     # every neighbouring pair has opposite signs
    assert landscapes.sign_flip_rate(sd) == 1.0
