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
