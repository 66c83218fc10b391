"""Tests of lib.relu_fit: batched masked training returns exact nets matching the trained tensors."""
import numpy as np
import pytest
import torch

from lib.relu_fit import train_masked_mlps


def test_masked_training_fits_and_exports():
    x = np.linspace(-1, 1, 200)[:, None]
    y = np.abs(x[:, 0])
    nets, losses = train_masked_mlps(x, y, [(2,), (4,), (8,)], steps=300, lr=0.03,
                                     generator=torch.Generator().manual_seed(0))
    assert [n.widths for n in nets] == [[2], [4], [8]]
    for net, L in zip(nets, losses):
        assert abs(np.mean((net(x) - y) ** 2) - L) < 1e-5   # exported float64 net = trained net
    assert losses.min() < 1e-2


def test_two_hidden_layers_and_bad_input():
    X = np.random.default_rng(0).normal(size=(100, 2))
    nets, _ = train_masked_mlps(X, X.max(1), [(3, 2), (5, 4)], steps=20, lr=0.01,
                                generator=torch.Generator().manual_seed(1), loss="l1")
    assert nets[1].widths == [5, 4] and nets[0].input_dim == 2
    with pytest.raises(ValueError):
        train_masked_mlps(X, X.max(1), [(3,), (3, 3)], steps=1, lr=0.1, generator=torch.Generator())


def test_group_by_width_is_the_padded_computation():
    """Oracle: the padded batch. Same initial weights, independent nets: grouping by width changes only the float32
    summation order (padded units get zero gradient and zero Adam steps)."""
    x = np.linspace(-1, 1, 300)[:, None]
    y = np.abs(np.sin(3 * x[:, 0]))
    for widths in ([(2,), (8,), (2,), (16,)], [(3, 3), (6, 6), (3, 3)]):
        runs = [train_masked_mlps(x, y, widths, steps=80, lr=0.02, generator=torch.Generator().manual_seed(3),
                                  loss="l1", group_by_width=g) for g in (False, True)]
        for a, b in zip(runs[0][0], runs[1][0]):
            assert a.widths == b.widths
            assert max(np.abs(p - q).max() for p, q in zip(a.weights + a.biases, b.weights + b.biases)) < 1e-4
        assert np.allclose(runs[0][1], runs[1][1], atol=1e-5)
