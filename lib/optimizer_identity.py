"""Is one optimizer the same update rule as another, step for step? (thesis Ch. 5, Algs 5–7 against torch.optim).

Comparing two whole trajectories cannot answer this on a large model: two orderings of the same arithmetic differ
by float64 round-off in the first step, and training amplifies that difference step after step (at the paper
scale of the adaptive-optimizers chapter, 100 NAG steps of a width-1000 autoencoder turn 1e-16 into 2e-6). An
identity between update rules is a statement about one step. :func:`one_step_gap` therefore runs the first
optimizer along its own trajectory and, at every step, applies the second optimizer once from the same
parameters, the same gradient and the equivalent state, and records how far the two results are apart.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import Tensor

StateMap = Callable[[dict], dict]


def one_step_gap(params: Sequence[Tensor], loss: Callable[[Sequence[Tensor]], Tensor],
                 ours: torch.optim.Optimizer, make_theirs: Callable[[list[Tensor]], torch.optim.Optimizer],
                 state_map: StateMap, steps: int) -> float:
    """The largest relative one-step difference ``max |θ_ours − θ_theirs| / max |θ|`` over ``steps`` steps.

    ``params``: the leaf tensors ``ours`` optimises (trained in place along ``ours``' trajectory); ``loss(params)``:
    a scalar; ``make_theirs(copies)``: the other optimizer on copies of the parameters; ``state_map(st)``: the other
    optimizer's per-parameter state equivalent to ``ours``' state ``st`` before the step ({} when it starts empty).
    Two implementations of one rule give a gap at the round-off level (about 1e-16 in float64)."""
    if steps < 1:
        raise ValueError(f"steps={steps!r}: accepted values are >= 1")
    gap = 0.0
    for _ in range(steps):
        ours.zero_grad()
        loss(params).backward()
        copies = [p.detach().clone().requires_grad_(True) for p in params]
        for c, p in zip(copies, params):
            c.grad = p.grad.detach().clone()
        theirs = make_theirs(copies)
        for c, p in zip(copies, params):
            theirs.state[c].update(state_map(ours.state[p]))
        theirs.step()
        ours.step()
        with torch.no_grad():
            scale = max(float(p.abs().max()) for p in params) or 1.0
            gap = max(gap, max(float((c - p).abs().max()) for c, p in zip(copies, params)) / scale)
    return gap
