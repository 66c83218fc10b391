"""NAG, RMSProp and ADAM exactly as Mukherjee (2020), Ch. 5, Algorithms 5–7 (L2513–2583) write them.

Two forms of the same three update rules:

* ``torch.optim.Optimizer`` subclasses :class:`NAG`, :class:`RMSProp`, :class:`Adam` (one model, any
  parameter shapes), with the variants needed to compare against the usual software
  (``RMSProp(placement="tf1")``, ``Adam(bias_correction=False)``, ``RMSProp(lr_decay="inv_sqrt")``).
* a **batched functional** form for R stacked models (every parameter tensor has a leading run axis R):
  :class:`BatchedHyper` holds one hyper-parameter vector (R,) per name, and :func:`batched_step` applies
  each run's own algorithm (NAG, RMSProp or ADAM, chosen per run) to its slice in one tensor program.

The rules (t = 1, 2, ...; g_t the gradient; all operations coordinate-wise):

* NAG (Alg 5):  v_{t+1} = μ v_t + g_t ;  x_{t+1} = x_t − α (g_t + μ v_{t+1}),  v_1 = 0.
  This equals ``torch.optim.SGD(momentum=μ, nesterov=True, dampening=0)`` step for step.
* RMSProp (Alg 6): v_t = β₂ v_{t−1} + (1−β₂)(g_t² + ξ) ;  x_{t+1} = x_t − α V_t^{−1/2} g_t,  v_0 = 0,
  with V^{−1/2} the square root of the Penrose inverse (Def 17): coordinates with v_i = 0 get 0.
  The shift ξ sits *inside* the average, so v_t ≥ (1−β₂^t) ξ. ``torch.optim.RMSprop`` instead adds eps
  outside the square root; TF1 (``placement="tf1"``) adds it inside the root after the average.
* ADAM (Alg 7): m_t = β₁ m_{t−1} + (1−β₁) g_t ; v_t = β₂ v_{t−1} + (1−β₂) g_t² ;
  x_{t+1} = x_t − α_t (√v_t + ζ)^{−1} m_t, with the §5.D schedule α_t = α √(1−β₂^t)/(1−β₁^t) (L3233).
  ``torch.optim.Adam(eps=e)`` computes α m̂/(√v̂ + e) = α_t m/(√v + e√(1−β₂^t)): it equals Alg 7 with
  ζ = e√(1−β₂^t), i.e. the two agree only when ζ = 0 or as t → ∞.
"""
from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

__all__ = ["NAG", "RMSProp", "Adam", "pinv_rsqrt", "KINDS", "BatchedHyper", "BatchedState", "batched_init",
           "batched_step", "adam_updates_from_state"]

KINDS = ("nag", "rmsprop", "adam")


def pinv_rsqrt(v: Tensor) -> Tensor:
    """Diagonal of V^{−1/2} for V = diag(v) in the Penrose sense (Def 17, L2509): 1/√v_i where v_i > 0, else 0."""
    pos = v > 0
    return torch.where(pos, torch.rsqrt(torch.where(pos, v, torch.ones_like(v))), torch.zeros_like(v))


def _check_unit(name: str, x: float, *, closed_right: bool = False) -> None:
    ok = 0.0 <= x <= 1.0 if closed_right else 0.0 <= x < 1.0
    if not ok:
        raise ValueError(f"{name}={x!r}: accepted values are in [0, 1{']' if closed_right else ')'}")


def _check_lr(lr: float) -> None:
    if not lr > 0:
        raise ValueError(f"lr={lr!r}: accepted values are > 0")


class _Elementwise(torch.optim.Optimizer):
    """The loop every per-coordinate optimizer here shares: evaluate the closure, then call
    :meth:`_update` on each parameter that has a gradient, with its state dict and its group."""

    @torch.no_grad()
    def step(self, closure=None):  # type: ignore[override]
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    self._update(p, p.grad, self.state[p], group)
        return loss

    def _update(self, p: Tensor, g: Tensor, st: dict, group: dict) -> None:
        raise NotImplementedError


class NAG(_Elementwise):
    """Algorithm 5 (L2521–2531): v_{t+1} = μ v_t + g_t ; x_{t+1} = x_t − α (g_t + μ v_{t+1}), v_1 = 0."""

    def __init__(self, params: Iterable[Tensor], lr: float, momentum: float = 0.9) -> None:
        _check_lr(lr)
        _check_unit("momentum", momentum)
        super().__init__(params, dict(lr=lr, momentum=momentum))

    def _update(self, p: Tensor, g: Tensor, st: dict, group: dict) -> None:
        lr, mu = group["lr"], group["momentum"]
        if "v" not in st:
            st["v"] = torch.zeros_like(p)
        v = st["v"]
        v.mul_(mu).add_(g)
        p.sub_(lr * (g + mu * v))


class RMSProp(_Elementwise):
    """Algorithm 6 (L2537–2553) and two variants.

    ``placement="thesis"`` (default, Alg 6): v_t = β₂ v_{t−1} + (1−β₂)(g_t² + ξ), step α V_t^{−1/2} g_t
    (Penrose inverse root). ``placement="tf1"``: v_t = β₂ v_{t−1} + (1−β₂) g_t², step α g_t/√(v_t + ξ).
    ``v0``: the accumulator's start (the thesis uses 0; TF1 uses 1, §5.D L3237). ``lr_decay="inv_sqrt"``
    uses α_t = α/√t (Thm 5.4.2, L2662).
    """

    def __init__(self, params: Iterable[Tensor], lr: float, beta2: float = 0.9, shift: float = 1e-10, *,
                 placement: str = "thesis", v0: float = 0.0, lr_decay: str = "none") -> None:
        _check_lr(lr)
        _check_unit("beta2", beta2)
        if shift < 0:
            raise ValueError(f"shift={shift!r}: accepted values are >= 0")
        if placement not in ("thesis", "tf1"):
            raise ValueError(f"placement={placement!r}: accepted values are 'thesis', 'tf1'")
        if lr_decay not in ("none", "inv_sqrt"):
            raise ValueError(f"lr_decay={lr_decay!r}: accepted values are 'none', 'inv_sqrt'")
        super().__init__(params, dict(lr=lr, beta2=beta2, shift=shift, placement=placement, v0=v0,
                                      lr_decay=lr_decay))

    def _update(self, p: Tensor, g: Tensor, st: dict, group: dict) -> None:
        b2, xi = group["beta2"], group["shift"]
        if "v" not in st:
            st["v"] = torch.full_like(p, group["v0"])
            st["t"] = 0
        st["t"] += 1
        lr = group["lr"] / math.sqrt(st["t"]) if group["lr_decay"] == "inv_sqrt" else group["lr"]
        v = st["v"]
        if group["placement"] == "thesis":
            v.mul_(b2).add_((1 - b2) * (g * g + xi))
            p.sub_(lr * pinv_rsqrt(v) * g)
        else:
            v.mul_(b2).add_((1 - b2) * g * g)
            p.sub_(lr * g / torch.sqrt(v + xi))


class Adam(_Elementwise):
    """Algorithm 7 (L2557–2575) with the §5.D step schedule α_t = α √(1−β₂^t)/(1−β₁^t) (L3233).

    x_{t+1} = x_t − α_t m_t/(√v_t + ζ). ``bias_correction=False`` uses α_t = α (Alg 7 with a constant step).
    """

    def __init__(self, params: Iterable[Tensor], lr: float, beta1: float = 0.9, beta2: float = 0.999,
                 shift: float = 1e-8, *, bias_correction: bool = True) -> None:
        _check_lr(lr)
        _check_unit("beta1", beta1)
        _check_unit("beta2", beta2)
        if shift < 0:
            raise ValueError(f"shift={shift!r}: accepted values are >= 0")
        super().__init__(params, dict(lr=lr, beta1=beta1, beta2=beta2, shift=shift,
                                      bias_correction=bias_correction))

    def _update(self, p: Tensor, g: Tensor, st: dict, group: dict) -> None:
        b1, b2, zeta = group["beta1"], group["beta2"], group["shift"]
        if "m" not in st:
            st["m"], st["v"], st["t"] = torch.zeros_like(p), torch.zeros_like(p), 0
        st["t"] += 1
        t, m, v = st["t"], st["m"], st["v"]
        m.mul_(b1).add_((1 - b1) * g)
        v.mul_(b2).add_((1 - b2) * g * g)
        a_t = group["lr"] * (math.sqrt(1 - b2**t) / (1 - b1**t) if group["bias_correction"] else 1.0)
        p.sub_(a_t * m / (torch.sqrt(v) + zeta))


# ------------------------------------------------------------------------------------------- batched form
@dataclass(frozen=True)
class BatchedHyper:
    """Hyper-parameters of R runs, one (R,) tensor each. ``kind[r]`` indexes :data:`KINDS`.

    Fields unused by a run's algorithm are ignored (``momentum`` only for NAG, ``beta1`` only for ADAM,
    ``beta2``/``shift`` for RMSProp and ADAM)."""

    kind: Tensor
    lr: Tensor
    momentum: Tensor
    beta1: Tensor
    beta2: Tensor
    shift: Tensor

    @property
    def R(self) -> int:
        return int(self.kind.numel())

    @classmethod
    def from_configs(cls, configs: Sequence[dict], *, dtype: torch.dtype = torch.float32,
                     device: torch.device | str = "cpu") -> BatchedHyper:
        """Build from a list of dicts like ``{"kind": "adam", "lr": 1e-3, "beta1": 0.99}``; defaults are
        momentum 0.9, beta1 0.9, beta2 0.999 (ADAM) / 0.9 (RMSProp), shift 1e-8 (ADAM) / 1e-10 (RMSProp)."""
        if not configs:
            raise ValueError("configs: accepted values are a non-empty list of dicts")
        cols: dict[str, list[float]] = {k: [] for k in ("kind", "lr", "momentum", "beta1", "beta2", "shift")}
        allowed = set(cols)
        for c in configs:
            if c.get("kind") not in KINDS:
                raise ValueError(f"kind={c.get('kind')!r}: accepted values are {', '.join(KINDS)}")
            if extra := set(c) - allowed:
                raise ValueError(f"unknown keys {sorted(extra)}: accepted keys are {sorted(allowed)}")
            k = c["kind"]
            _check_lr(float(c.get("lr", 0.0)))
            cols["kind"].append(KINDS.index(k))
            cols["lr"].append(float(c["lr"]))
            cols["momentum"].append(float(c.get("momentum", 0.9)))
            cols["beta1"].append(float(c.get("beta1", 0.9)))
            cols["beta2"].append(float(c.get("beta2", 0.9 if k == "rmsprop" else 0.999)))
            cols["shift"].append(float(c.get("shift", 1e-10 if k == "rmsprop" else 1e-8)))
        for name in ("momentum", "beta1", "beta2"):
            for x in cols[name]:
                _check_unit(name, x)
        return cls(kind=torch.tensor(cols["kind"], dtype=torch.long, device=device),
                   **{k: torch.tensor(cols[k], dtype=dtype, device=device) for k in cols if k != "kind"})

    def select(self, idx: Tensor | Sequence[int]) -> BatchedHyper:
        """The sub-batch of runs ``idx``."""
        idx = torch.as_tensor(idx, dtype=torch.long, device=self.kind.device)
        return BatchedHyper(**{k: getattr(self, k)[idx] for k in ("kind", "lr", "momentum", "beta1", "beta2",
                                                                 "shift")})


@dataclass
class BatchedState:
    """Optimizer state of R runs: step counter t and two buffers per parameter (same shapes as the params)."""

    t: int
    m: list[Tensor]   # NAG: v (Alg 5); ADAM: m (Alg 7); unused by RMSProp
    v: list[Tensor]   # RMSProp / ADAM: v; unused by NAG


def batched_init(params: Sequence[Tensor]) -> BatchedState:
    """Zero state (v_1 = 0 for NAG, v_0 = m_0 = 0 for RMSProp/ADAM) for stacked params, each (R, ...)."""
    return BatchedState(t=0, m=[torch.zeros_like(p) for p in params], v=[torch.zeros_like(p) for p in params])


def _col(x: Tensor, like: Tensor) -> Tensor:
    return x.to(like.dtype).reshape((-1,) + (1,) * (like.ndim - 1))


@torch.no_grad()
def batched_step(params: Sequence[Tensor], grads: Sequence[Tensor], state: BatchedState, hyper: BatchedHyper
                 ) -> None:
    """One step of every run, in place. ``params[i]``, ``grads[i]``: (R, ...) with run r's slice [r].

    Run r applies Alg 5, 6 or 7 (``hyper.kind[r]``) with its own (lr, momentum, beta1, beta2, shift); the
    result equals R separate :class:`NAG` / :class:`RMSProp` / :class:`Adam` optimizers (unit-tested)."""
    if len(params) != len(grads) or len(params) != len(state.m):
        raise ValueError("params, grads and state must have the same number of tensors")
    state.t += 1
    t = state.t
    k = hyper.kind
    is_nag, is_rms, is_adam = k == 0, k == 1, k == 2
    b1 = hyper.beta1
    # per-run coefficients, (R,): buffer 1 (NAG v: μ, 1; ADAM m: β1, 1−β1), numerator g·cg + m·cm, shift in the
    # denominator (RMSProp: inside the average, so 0 here; ADAM: ζ); NAG has no preconditioner.
    a1 = torch.where(is_nag, hyper.momentum, b1)
    c1 = torch.where(is_nag, torch.ones_like(b1), 1 - b1)
    cg = (~is_adam).to(b1.dtype)
    cm = torch.where(is_nag, hyper.momentum, torch.where(is_adam, torch.sqrt(1 - hyper.beta2**t) / (1 - b1**t),
                                                         torch.zeros_like(b1)))
    xi_in = torch.where(is_rms, hyper.shift, torch.zeros_like(b1))
    zc = torch.where(is_adam, hyper.shift, torch.zeros_like(b1))
    for p, g, m, v in zip(params, grads, state.m, state.v):
        if p.shape[0] != hyper.R or g.shape != p.shape:
            raise ValueError(f"param {tuple(p.shape)} / grad {tuple(g.shape)}: leading axis must be R={hyper.R}")
        col = [_col(x, p) for x in (a1, c1, hyper.beta2, xi_in, cg, cm, zc, hyper.lr)]
        a1_, c1_, b2_, xi_, cg_, cm_, zc_, lr_ = col
        nag_ = is_nag.reshape(a1_.shape)
        m.mul_(a1_).add_(c1_ * g)
        v.mul_(b2_).add_((1 - b2_) * (g * g + xi_))
        den = torch.sqrt(v) + zc_
        pre = torch.where(den > 0, 1.0 / torch.where(den > 0, den, torch.ones_like(den)), torch.zeros_like(den))
        pre = torch.where(nag_, torch.ones_like(pre), pre)
        p.sub_(lr_ * (cg_ * g + cm_ * m) * pre)


def adam_updates_from_state(p: Tensor, g: Tensor, m: Tensor, v: Tensor, t: int, *, lr: float, beta1: float,
                            beta2: float, shift: float) -> tuple[Tensor, Tensor]:
    """One ADAM step from the same state, two ways: (Δx by Alg 7 with α_t = α√(1−β₂^t)/(1−β₁^t), Δx by a real
    ``torch.optim.Adam(eps=shift)`` step). ``m``, ``v``: the moments after step t−1 (shape of p); ``g``: g_t."""
    if t < 1:
        raise ValueError(f"t={t!r}: accepted values are integers >= 1")
    m1 = beta1 * m + (1 - beta1) * g
    v1 = beta2 * v + (1 - beta2) * g * g
    u_thesis = -lr * math.sqrt(1 - beta2**t) / (1 - beta1**t) * m1 / (torch.sqrt(v1) + shift)
    q = p.detach().clone().requires_grad_(True)
    o = torch.optim.Adam([q], lr=lr, betas=(beta1, beta2), eps=shift)
    o.state[q] = {"step": torch.tensor(float(t - 1)), "exp_avg": m.clone(), "exp_avg_sq": v.clone()}
    q.grad = g.clone()
    o.step()
    return u_thesis, (q.detach() - p.detach())
