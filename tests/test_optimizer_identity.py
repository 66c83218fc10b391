"""lib.optimizer_identity: NAG (Alg 5) is torch's Nesterov SGD step for step; a different rule is caught."""
import pytest
import torch

from lib import optimizers as opt
from lib.optimizer_identity import one_step_gap


def _problem(seed=0):
    g = torch.Generator().manual_seed(seed)
    A = torch.randn(30, 8, generator=g, dtype=torch.float64)
    b = torch.randn(30, generator=g, dtype=torch.float64)
    W = torch.randn(8, 5, generator=g, dtype=torch.float64).requires_grad_(True)
    v = torch.randn(5, generator=g, dtype=torch.float64).requires_grad_(True)
    return [W, v], lambda ps: ((torch.tanh(A @ ps[0]) @ ps[1] - b) ** 2).mean()


def _nag_state(st):
    return {"momentum_buffer": st["v"].clone()} if "v" in st else {}


def test_nag_is_torch_nesterov_step_for_step():
    ps, loss = _problem()
    nag = opt.NAG(ps, lr=0.05, momentum=0.9)
    gap = one_step_gap(ps, loss, nag, lambda c: torch.optim.SGD(c, lr=0.05, momentum=0.9, nesterov=True),
                       _nag_state, steps=50)
    assert gap < 1e-14


def test_a_different_rule_is_caught():
    ps, loss = _problem(1)
    nag = opt.NAG(ps, lr=0.05, momentum=0.9)
    plain = one_step_gap(ps, loss, nag, lambda c: torch.optim.SGD(c, lr=0.05, momentum=0.9, nesterov=False),
                         _nag_state, steps=20)
    assert plain > 1e-6                         # heavy-ball momentum is not Nesterov's


def test_state_is_transferred():
    ps, loss = _problem(2)                      # without the state, torch's step restarts its momentum
    nag = opt.NAG(ps, lr=0.05, momentum=0.9)
    gap = one_step_gap(ps, loss, nag, lambda c: torch.optim.SGD(c, lr=0.05, momentum=0.9, nesterov=True),
                       lambda st: {}, steps=10)
    assert gap > 1e-6


def test_bad_steps():
    ps, loss = _problem()
    with pytest.raises(ValueError, match="steps"):
        one_step_gap(ps, loss, opt.NAG(ps, lr=0.1), lambda c: torch.optim.SGD(c, lr=0.1), _nag_state, 0)
