"""Tests of lib/mlp_geometry.py: batched training against a per-model torch.optim loop, norms against numpy."""
import math

import numpy as np
import pytest
import torch

from lib import mlp_geometry as mg


def _problem(M=3, n=5, width=7, depth=3, k=3, m=40, seed=0):
    g = torch.Generator().manual_seed(seed)
    shapes = mg.layer_shapes(n, width, depth, k)
    W = mg.glorot_uniform(M, shapes, generator=g)
    X = torch.randn(m, n, generator=g)
    y = torch.randint(0, k, (m,), generator=g)
    return g, shapes, W, X, y


def test_batched_adam_equals_per_model_loop():
    g, shapes, W, X, y = _problem()
    steps = mg.minibatch_indices(3, 40, 8, 3, generator=g)  # includes full batches only
    steps += mg.minibatch_indices(3, 40, 12, 1, generator=g)  # and a remainder batch of 4
    A = mg.train_adam(W, X, y, steps, lr=3e-3)
    A_loop = mg.train_adam_loop(W, X, y, steps, lr=3e-3)
    for a, b in zip(A, A_loop):
        assert torch.allclose(a, b, atol=1e-6, rtol=1e-5)
    assert not torch.allclose(A[0], W[0])  # it trained


def test_forward_matches_sequential_and_shapes():
    _, shapes, W, X, _ = _problem()
    out = mg.forward(W, X)
    assert out.shape == (3, 40, 3)
    h = X
    for l, w in enumerate(W):
        h = h @ w[1].T
        h = torch.relu(h) if l < len(W) - 1 else h
    assert torch.allclose(out[1], h, atol=1e-6)
    assert shapes == [(7, 5), (7, 7), (3, 7)]


def test_glorot_bounds():
    g = torch.Generator().manual_seed(1)
    W = mg.glorot_uniform(50, [(30, 20)], generator=g)[0]
    a = math.sqrt(6 / 50)
    assert W.abs().max() <= a and W.abs().max() > 0.95 * a
    assert abs(W.var().item() - a * a / 3) < 0.05 * a * a / 3


def test_spectral_and_frobenius_against_numpy():
    _, shapes, W, _, _ = _problem()
    s = mg.spectral_norms(W)
    for l, w in enumerate(W):
        for j in range(3):
            assert s[j, l].item() == pytest.approx(np.linalg.norm(w[j].numpy().astype(float), 2), rel=1e-5)
    flat = mg.flatten(W)
    assert torch.allclose(mg.frobenius_sq(W), (flat ** 2).sum(1), rtol=1e-5)
    back = mg.unflatten(flat, shapes)
    assert all(torch.equal(a, b) for a, b in zip(back, W))


def test_rebalance_keeps_function_and_equalises_norms():
    _, _, W, X, _ = _problem()
    R = mg.rebalance(W)
    assert torch.allclose(mg.forward(R, X), mg.forward(W, X), atol=1e-5)
    s = mg.spectral_norms(R)
    assert torch.allclose(s, s[:, :1].expand_as(s), rtol=1e-4)
    assert torch.allclose(s.prod(-1), mg.spectral_norms(W).prod(-1), rtol=1e-4)


def test_angle_and_cone_cluster():
    assert mg.angle(torch.tensor([1.0, 0.0]), torch.tensor([0.0, 2.0])).item() == pytest.approx(math.pi / 2)
    g = torch.Generator().manual_seed(3)
    B = torch.randn(4, 50, generator=g, dtype=torch.float64)
    theta = torch.tensor([0.05, 0.1, 0.5, 1.0], dtype=torch.float64)
    C = mg.cone_cluster(B, theta, 6, generator=g)
    assert torch.allclose(C.norm(dim=-1), B.norm(dim=1)[:, None].expand(4, 6))
    assert torch.allclose(mg.angle(C, B[:, None]), theta[:, None].expand(4, 6), atol=1e-9)
    U = mg.cone_cluster(B, theta, 6, generator=g, placement="uniform")
    assert (mg.angle(U, B[:, None]) <= theta[:, None] + 1e-9).all()
    with pytest.raises(ValueError, match="placement"):
        mg.cone_cluster(B, theta, 6, generator=g, placement="edge")


def test_niceness_hand_case():
    fA = torch.tensor([[[3.0, 4.0], [1.0, 0.0]]])  # norms 5 and 1
    fAi = torch.tensor([[[[3.0, 4.5], [1.0, 0.0]], [[3.0, 4.0], [1.2, 0.0]]]])  # rel 0.1 and 0.2
    eps, gamma = mg.niceness(fA, fAi, slack=0.0)
    assert eps.item() == pytest.approx(0.2)
    assert gamma.item() == pytest.approx(0.2 * 5)


def test_minibatches_are_permutations():
    g = torch.Generator().manual_seed(0)
    steps = mg.minibatch_indices(2, 10, 4, 1, generator=g)
    assert [s.shape[1] for s in steps] == [4, 4, 2]
    full = torch.cat(steps, dim=1)
    assert all(sorted(r.tolist()) == list(range(10)) for r in full)


def test_bad_input():
    with pytest.raises(ValueError, match="depth"):
        mg.layer_shapes(3, 4, 1, 2)
    with pytest.raises(ValueError, match="M="):
        mg.glorot_uniform(0, [(2, 2)], generator=torch.Generator())
    with pytest.raises(ValueError, match="flat"):
        mg.unflatten(torch.zeros(2, 5), [(2, 2)])
