"""lib.autoencoders: the tied forward pass by hand, per-run gradients vs separate autograd, Glorot limits,
training = separate torch optimizers, image preparation."""
import math

import numpy as np
import pytest
import torch

from lib import autoencoders as ae
from lib import optimizers as opt


def test_forward_by_hand_ell2():
    arch = ae.Arch(d=5, h=4, ell=2)
    g = torch.Generator().manual_seed(0)
    P = ae.init_params(arch, 2, generator=g, dtype=torch.float64)
    for k in P:
        if k.startswith("b"):
            P[k] = torch.randn(P[k].shape, generator=g, dtype=torch.float64)
    X = torch.rand(7, 5, generator=g, dtype=torch.float64)
    out = ae.forward(P, X)
    r = 1
    a = torch.relu(X @ P["W1"][r].T + P["b1"][r])
    a = torch.relu(a @ P["W2"][r].T + P["b2"][r])
    a = torch.relu(a @ P["W2"][r] + P["b3"][r])
    y = a @ P["W1"][r] + P["b4"][r]
    assert torch.allclose(out[r], y, atol=1e-13)
    assert ae.n_params(arch) == 4 * 5 + 16 + 3 * 4 + 5


def test_glorot_limits_and_zero_bias():
    arch = ae.Arch(d=30, h=20, ell=2)
    P = ae.init_params(arch, 50, generator=torch.Generator().manual_seed(1))
    assert P["W1"].abs().max() <= math.sqrt(6 / 50) and P["W1"].abs().max() > 0.9 * math.sqrt(6 / 50)
    assert P["W2"].abs().max() <= math.sqrt(6 / 40)
    assert all((P[k] == 0).all() for k in P if k.startswith("b"))


def test_per_run_gradients_match_separate_autograd():
    arch = ae.Arch(d=6, h=5, ell=2)
    P = ae.init_params(arch, 3, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    X = torch.rand(9, 6, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    L, G = ae.loss_and_grads(P, X)
    for r in range(3):
        single = {k: v[r:r + 1].clone().requires_grad_(True) for k, v in P.items()}
        lr_ = ae.losses(single, X)[0]
        gs = torch.autograd.grad(lr_, list(single.values()))
        assert abs(lr_.item() - L[r].item()) < 1e-13
        for k, gk in zip(single, gs):
            assert torch.allclose(gk[0], G[k][r], atol=1e-12)


def test_flat_loss_fn_matches():
    arch = ae.Arch(d=4, h=3, ell=1)
    P = ae.init_params(arch, 2, generator=torch.Generator().manual_seed(4), dtype=torch.float64)
    X = torch.rand(5, 4, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    fn, th = ae.flat_loss_fn(arch, P, 1, X)
    assert th.numel() == ae.n_params(arch)
    assert abs(fn(th).item() - ae.losses(P, X)[1].item()) < 1e-14


def test_train_full_batch_equals_torch_optimizers():
    arch = ae.Arch(d=6, h=4, ell=1)
    X = torch.rand(10, 6, generator=torch.Generator().manual_seed(6), dtype=torch.float64)
    cfgs = [dict(kind="nag", lr=0.05, momentum=0.9), dict(kind="rmsprop", lr=1e-2, beta2=0.9, shift=1e-10),
            dict(kind="adam", lr=1e-2, beta1=0.99)]
    hyp = opt.BatchedHyper.from_configs(cfgs, dtype=torch.float64)
    P0 = ae.init_params(arch, 3, generator=torch.Generator().manual_seed(7), dtype=torch.float64)
    H = ae.train(arch, hyp, X, X, 30, generator=torch.Generator().manual_seed(8), params=P0, n_eval=5)
    for r, c in enumerate(cfgs):
        single = {k: v[r:r + 1].clone().requires_grad_(True) for k, v in P0.items()}
        kw = {k: v for k, v in c.items() if k != "kind"}
        o = {"nag": opt.NAG, "rmsprop": opt.RMSProp, "adam": opt.Adam}[c["kind"]](single.values(), **kw)
        for _ in range(30):
            o.zero_grad()
            ae.losses(single, X)[0].backward()
            o.step()
        with torch.no_grad():
            assert abs(ae.losses(single, X)[0].item() - H.train_loss[-1, r]) < 1e-10
    assert H.step[0] == 0 and H.step[-1] == 30


def test_minibatch_runs_and_reduces_loss():
    arch = ae.Arch(d=6, h=8, ell=1)
    X = torch.rand(200, 6, generator=torch.Generator().manual_seed(9))
    hyp = opt.BatchedHyper.from_configs([dict(kind="adam", lr=1e-2, beta1=0.9)] * 2)
    H = ae.train(arch, hyp, X, X[:50], 100, generator=torch.Generator().manual_seed(10), batch_size=20)
    assert (H.train_loss[-1] < H.train_loss[0]).all()
    assert not np.allclose(H.train_loss[-1, 0], H.train_loss[-1, 1])   # different init / batches per run


def test_prepare_images():
    imgs = np.zeros((2, 28, 28), np.uint8)
    imgs[:, 3:25, 3:25] = 255
    x = ae.prepare_images(imgs, 22, mode="crop")
    assert x.shape == (2, 484) and x.min() == 1.0
    y = ae.prepare_images(np.full((1, 28, 28), 255, np.uint8), 12)
    assert y.shape == (1, 144) and np.allclose(y, 1.0)
    with pytest.raises(ValueError, match="mode"):
        ae.prepare_images(imgs, 12, mode="nearest")
    with pytest.raises(ValueError, match="ell"):
        ae.Arch(4, 3, 0)


def test_sweep_common_init_and_tune():
    arch = ae.Arch(d=5, h=4, ell=1)
    X = torch.rand(20, 5, generator=torch.Generator().manual_seed(11))
    rows = [dict(curve="A", seed=s, kind="adam", lr=lr) for lr in (1e-3, 1e-1) for s in range(2)]
    H = ae.sweep(arch, rows, X, X, 3, n_seeds=2, generator=torch.Generator().manual_seed(0),
                 init_generator=torch.Generator().manual_seed(1), n_eval=2)
    assert H.train_loss[0, 0] == H.train_loss[0, 2] and H.train_loss[0, 0] != H.train_loss[0, 1]
    final = np.array([3.0, 3.0, 1.0, np.nan])
    assert list(ae.tune(final, rows)["A"]) == [0, 1]          # NaN counts as +inf
    final = np.array([3.0, 3.0, 1.0, 2.0])
    assert list(ae.tune(final, rows)["A"]) == [2, 3]
