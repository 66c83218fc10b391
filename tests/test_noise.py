"""Tests of lib.noise: invariants of the global and local noise models (thesis Figs 3.21-3.22)."""

import math

import pytest
import torch

from lib import noise


def _imgs(n=50):
    return torch.randint(0, 256, (n, 28, 28), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))


def test_global_noise_invariants():
    X = _imgs()
    g = torch.Generator().manual_seed(1)
    torch.testing.assert_close(noise.global_noise(X, 0.0, g), X.float() / 255)
    Z = noise.global_noise(X, 0.3, g)
    assert Z.min() >= 0 and Z.max() <= 1 and Z.shape == X.shape
    # mid-grey pixels are barely clipped: the residual std is close to sigma
    mid = torch.full((200, 28, 28), 0.5)
    assert abs(float((noise.global_noise(mid, 0.1, g) - 0.5).std()) - 0.1) < 0.005
    # same generator state -> same noise
    a = noise.global_noise(X, 0.2, torch.Generator().manual_seed(7))
    b = noise.global_noise(X, 0.2, torch.Generator().manual_seed(7))
    torch.testing.assert_close(a, b)


def test_patch_masks_geometry():
    g = torch.Generator().manual_seed(2)
    A = 100.0
    m = noise.patch_masks(2000, A, g)
    areas = m.sum((1, 2)).double()
    assert areas.max() <= A + 1e-9  # floor(D s) * floor(s / D) <= s^2 (before clipping)
    # each mask is one axis-aligned rectangle
    rows, cols = m.any(2), m.any(1)
    assert torch.equal(areas, (rows.sum(1) * cols.sum(1)).double())
    # mean area: E[floor(D s) floor(s/D)] is a bit below A; centres keep most patches inside
    assert 0.75 * A < float(areas.mean()) <= A
    assert torch.equal(noise.patch_masks(10, 0.0, g).any(), torch.tensor(False))


def test_local_noise_only_blackens_patch():
    X = _imgs(20).float() / 255 + 0.01
    g = torch.Generator().manual_seed(3)
    Z = noise.local_noise(X.clamp(max=1), 64.0, g)
    changed = Z != X.clamp(max=1)
    assert (Z[changed] == 0).all()
    assert changed.sum((1, 2)).max() <= 64


def test_relative_change_sign():
    assert float(noise.relative_change(torch.tensor(0.8), 0.9)) == pytest.approx(0.8 / 0.9 - 1)
    assert float(noise.relative_change(torch.tensor(0.9), 0.9)) == 0.0
    assert math.isclose(float(noise.relative_change(torch.tensor(0.45), 0.9)), -0.5)


def test_bad_input():
    with pytest.raises(ValueError, match="sigma"):
        noise.global_noise(_imgs(2), -1.0, torch.Generator())
    with pytest.raises(ValueError, match="area"):
        noise.patch_masks(2, -1.0, torch.Generator())


def test_robustness_curves_paired_and_shaped():
    X = _imgs(40)
    y = (X.float().mean((1, 2)) > 127).long()
    preds = {"constant": lambda Xn: torch.ones(len(Xn), dtype=torch.long),
             "brightness": lambda Xn: (Xn.mean((1, 2)) > 127 / 255).long()}
    acc = noise.robustness_curves(preds, X, y, [0.0, 0.5, 1.0], noise.global_noise, 2, torch.Generator().manual_seed(2))
    assert acc.shape == (2, 3, 2)
    assert (acc[0] == float((y == 1).double().mean())).all()                  # ignores its input
    assert (acc[1, 0] == 1.0).all()                                           # exact without noise
    assert noise.smaller_relative_drop(acc[0].mean(1), acc[1].mean(1))


def test_smaller_relative_drop():
    assert noise.smaller_relative_drop([0.8, 0.78, 0.7], [0.9, 0.85, 0.7])
    assert not noise.smaller_relative_drop([0.8, 0.7, 0.7], [0.9, 0.85, 0.7])
    with pytest.raises(ValueError, match="equal length"):
        noise.smaller_relative_drop([0.8], [0.9])
