"""lib.optimizers against hand computation, torch.optim, and the batched form against the single-model form."""
import math

import pytest
import torch

from lib import optimizers as opt


def _quad(p):
    """A loss with a non-constant gradient: Σ p⁴/4 + p²."""
    return (p**4 / 4 + p**2).sum()


def _run(cls, steps, p0, **kw):
    p = p0.clone().requires_grad_(True)
    o = cls([p], **kw)
    traj = []
    for _ in range(steps):
        o.zero_grad()
        _quad(p).backward()
        o.step()
        traj.append(p.detach().clone())
    return torch.stack(traj)


def test_nag_by_hand_two_steps():
    x = torch.tensor([1.0], dtype=torch.float64)
    lr, mu = 0.1, 0.9
    g1 = x**3 + 2 * x                      # ∇ of p⁴/4 + p²
    v2 = g1
    x2 = x - lr * (g1 + mu * v2)
    g2 = x2**3 + 2 * x2
    v3 = mu * v2 + g2
    x3 = x2 - lr * (g2 + mu * v3)
    traj = _run(opt.NAG, 2, x, lr=lr, momentum=mu)
    assert torch.allclose(traj[0], x2, atol=1e-15) and torch.allclose(traj[1], x3, atol=1e-15)


def test_nag_equals_torch_sgd_nesterov():
    p0 = torch.linspace(-2, 2, 7, dtype=torch.float64)
    a = _run(opt.NAG, 100, p0, lr=0.01, momentum=0.9)
    b = _run(torch.optim.SGD, 100, p0, lr=0.01, momentum=0.9, nesterov=True)
    assert (a - b).abs().max() < 1e-12


def test_rmsprop_by_hand_and_shift_floor():
    x = torch.tensor([0.5, -1.0], dtype=torch.float64)
    lr, b2, xi = 0.01, 0.9, 0.3
    g = x**3 + 2 * x
    v1 = (1 - b2) * (g * g + xi)
    x2 = x - lr * g / v1.sqrt()
    traj = _run(opt.RMSProp, 1, x, lr=lr, beta2=b2, shift=xi)
    assert torch.allclose(traj[0], x2, atol=1e-15)
    # v_t >= (1 - b2^t) xi (used by every proof)
    p = x.clone().requires_grad_(True)
    o = opt.RMSProp([p], lr=lr, beta2=b2, shift=xi)
    for t in range(1, 30):
        o.zero_grad()
        _quad(p).backward()
        o.step()
        assert (o.state[p]["v"] >= (1 - b2**t) * xi - 1e-15).all()


def test_rmsprop_pinv_zero_coordinate():
    v = torch.tensor([0.0, 4.0])
    assert torch.equal(opt.pinv_rsqrt(v), torch.tensor([0.0, 0.5]))
    p = torch.tensor([0.0, 1.0], dtype=torch.float64, requires_grad=True)   # ∂_0 = 0 at 0
    o = opt.RMSProp([p], lr=0.1, beta2=0.9, shift=0.0)
    _quad(p).backward()
    o.step()
    assert p[0].item() == 0.0 and torch.isfinite(p).all()


def test_rmsprop_tf1_differs_from_thesis_and_torch_matches_tf1_form_without_eps():
    p0 = torch.linspace(-1, 1, 4, dtype=torch.float64)
    a = _run(opt.RMSProp, 50, p0, lr=1e-2, beta2=0.9, shift=0.0, placement="tf1")
    b = _run(torch.optim.RMSprop, 50, p0, lr=1e-2, alpha=0.9, eps=0.0)
    assert (a - b).abs().max() < 1e-12          # same rule when the shift is 0 (and p0 ≠ 0)
    c = _run(opt.RMSProp, 50, p0, lr=1e-2, beta2=0.9, shift=0.1)
    d = _run(torch.optim.RMSprop, 50, p0, lr=1e-2, alpha=0.9, eps=0.1)
    assert (c - d).abs().max() > 1e-4           # shift inside the average vs eps outside the root


def test_adam_by_hand_and_torch_relation():
    x = torch.tensor([0.3, -2.0], dtype=torch.float64)
    lr, b1, b2, z = 1e-2, 0.9, 0.999, 1e-3
    g = x**3 + 2 * x
    m, v = (1 - b1) * g, (1 - b2) * g * g
    x2 = x - lr * math.sqrt(1 - b2) / (1 - b1) * m / (v.sqrt() + z)
    assert torch.allclose(_run(opt.Adam, 1, x, lr=lr, beta1=b1, beta2=b2, shift=z)[0], x2, atol=1e-15)
    # ζ = 0: identical to torch.optim.Adam(eps=0)
    a = _run(opt.Adam, 200, x, lr=lr, beta1=b1, beta2=b2, shift=0.0)
    b = _run(torch.optim.Adam, 200, x, lr=lr, betas=(b1, b2), eps=0.0)
    assert (a - b).abs().max() < 1e-12
    # ζ > 0: torch's eps equals ζ√(1−β2^t), so they differ at small t
    a = _run(opt.Adam, 5, x, lr=lr, beta1=b1, beta2=b2, shift=1.0)
    b = _run(torch.optim.Adam, 5, x, lr=lr, betas=(b1, b2), eps=1.0)
    assert (a - b).abs().max() > 1e-4


@pytest.mark.parametrize("seed", [0, 1])
def test_batched_equals_single(seed):
    gen = torch.Generator().manual_seed(seed)
    cfgs = [dict(kind="nag", lr=0.05, momentum=0.9), dict(kind="rmsprop", lr=0.01, beta2=0.9, shift=0.1),
            dict(kind="adam", lr=0.02, beta1=0.99, beta2=0.999, shift=1e-3), dict(kind="rmsprop", lr=1e-3)]
    hyp = opt.BatchedHyper.from_configs(cfgs, dtype=torch.float64)
    P0 = torch.randn(len(cfgs), 3, 2, generator=gen, dtype=torch.float64)
    P = P0.clone()
    st = opt.batched_init([P])
    for _ in range(40):
        G = P**3 + 2 * P
        opt.batched_step([P], [G], st, hyp)
    singles = []
    for r, c in enumerate(cfgs):
        kw = {k: v for k, v in c.items() if k != "kind"}
        cls = {"nag": opt.NAG, "rmsprop": opt.RMSProp, "adam": opt.Adam}[c["kind"]]
        singles.append(_run(cls, 40, P0[r], **kw)[-1])
    assert (P - torch.stack(singles)).abs().max() < 1e-12


def test_bad_inputs():
    p = [torch.zeros(2, requires_grad=True)]
    with pytest.raises(ValueError, match="momentum"):
        opt.NAG(p, lr=0.1, momentum=1.0)
    with pytest.raises(ValueError, match="placement"):
        opt.RMSProp(p, lr=0.1, placement="torch")
    with pytest.raises(ValueError, match="lr"):
        opt.Adam(p, lr=0.0)
    with pytest.raises(ValueError, match="kind"):
        opt.BatchedHyper.from_configs([dict(kind="sgd", lr=0.1)])


def test_adam_updates_from_state():
    gen = torch.Generator().manual_seed(5)
    p, g = torch.randn(6, generator=gen, dtype=torch.float64), torch.randn(6, generator=gen, dtype=torch.float64)
    m, v = 0.1 * torch.randn(6, generator=gen, dtype=torch.float64), torch.rand(6, generator=gen, dtype=torch.float64)
    a, b = opt.adam_updates_from_state(p, g, m, v, 7, lr=1e-2, beta1=0.9, beta2=0.999, shift=0.0)
    assert (a - b).abs().max() < 1e-15
    a, b = opt.adam_updates_from_state(p, g, m, v, 7, lr=1e-2, beta1=0.9, beta2=0.999, shift=0.5)
    c = -1e-2 * math.sqrt(1 - 0.999**7) / (1 - 0.9**7) * (0.9 * m + 0.1 * g) / (
        torch.sqrt(0.999 * v + 0.001 * g * g) + 0.5 * math.sqrt(1 - 0.999**7))
    assert (b - c).abs().max() < 1e-15 and (a - b).abs().max() > 1e-6
