"""Weight-tied deep ReLU autoencoders (Mukherjee 2020, §5.5, L2676–2680), batched over R runs.

Architecture (depth 2ℓ−1 hidden layers, all of width h; encoder W_1 ∈ R^{h×d}, W_i ∈ R^{h×h}):

    a   = σ(W_ℓ σ(… σ(W_1 y + b_1) …) + b_ℓ)                      (ℓ encoder layers)
    ŷ   = W_1ᵀ σ(… σ(W_ℓᵀ a + b_{ℓ+1}) …) + b_{2ℓ}                (decoder: the transposes, linear output)

σ = ReLU, Glorot-uniform weights (limit √(6/(fan_in+fan_out)), L2678), zero biases. Loss: ½‖ŷ − y‖² per
sample, averaged over samples (eq. 4.1). A batch of R runs is a dict of stacked tensors
``{"W1": (R,h,d), "W2": (R,h,h), …, "b1": (R,h), …, "b{2ℓ}": (R,d)}``; every function is one tensor program
over the R runs (per-run gradients come from one backward pass of the sum of the R losses, since the runs
share no parameters).

:func:`train` runs R configurations of :mod:`lib.optimizers` (NAG / RMSProp / ADAM, any mix) side by side,
full batch or mini-batch, and records training loss, test loss and the full-training-set gradient norm.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from lib import optimizers as opt

__all__ = ["Arch", "init_params", "forward", "losses", "loss_and_grads", "grad_norms", "flat_loss_fn",
           "History", "train", "prepare_images", "n_params", "sweep", "tune"]


@dataclass(frozen=True)
class Arch:
    """A tied autoencoder R^d → R^d with ℓ encoder layers of width h (2ℓ−1 hidden layers)."""

    d: int
    h: int
    ell: int

    def __post_init__(self) -> None:
        for name in ("d", "h", "ell"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name}={getattr(self, name)!r}: accepted values are integers >= 1")

    def shapes(self) -> dict[str, tuple[int, ...]]:
        """Parameter name → shape of one run (no R axis)."""
        s: dict[str, tuple[int, ...]] = {"W1": (self.h, self.d)}
        for i in range(2, self.ell + 1):
            s[f"W{i}"] = (self.h, self.h)
        for i in range(1, 2 * self.ell):
            s[f"b{i}"] = (self.h,)
        s[f"b{2 * self.ell}"] = (self.d,)
        return s

    def label(self) -> str:
        return f"{self.d}→" + "→".join([str(self.h)] * (2 * self.ell - 1)) + f"→{self.d}"


def n_params(arch: Arch) -> int:
    """Number of trainable parameters of one run."""
    return int(sum(math.prod(s) for s in arch.shapes().values()))


def init_params(arch: Arch, R: int, *, generator: torch.Generator, dtype: torch.dtype = torch.float32,
                device: torch.device | str = "cpu") -> dict[str, Tensor]:
    """Glorot-uniform weights and zero biases for R runs (L2678): {name: (R, *shape)}, leaf tensors."""
    if R < 1:
        raise ValueError(f"R={R!r}: accepted values are integers >= 1")
    out = {}
    for name, shp in arch.shapes().items():
        if name.startswith("W"):
            lim = math.sqrt(6.0 / (shp[0] + shp[1]))
            u = torch.rand((R,) + shp, generator=generator, dtype=dtype, device=device)
            out[name] = (2 * u - 1) * lim
        else:
            out[name] = torch.zeros((R,) + shp, dtype=dtype, device=device)
    return out


def _ell(params: dict[str, Tensor]) -> int:
    return sum(1 for k in params if k.startswith("W"))


def forward(params: dict[str, Tensor], X: Tensor) -> Tensor:
    """ŷ for R runs. X: (N, d) shared by all runs or (R, N, d) per run; returns (R, N, d)."""
    ell = _ell(params)
    W1 = params["W1"]
    R, h, d = W1.shape
    if X.ndim == 2:                       # shared inputs: one GEMM (N, d) @ (d, R·h) for the first layer
        z = (X @ W1.reshape(R * h, d).T).reshape(X.shape[0], R, h).transpose(0, 1)
    else:
        z = torch.bmm(X, W1.transpose(1, 2))
    a = torch.relu(z + params["b1"].unsqueeze(1))
    for i in range(2, ell + 1):                                    # encoder
        W, b = params[f"W{i}"], params[f"b{i}"]
        a = torch.relu(torch.bmm(a, W.transpose(1, 2)) + b.unsqueeze(1))
    for j, i in enumerate(range(ell, 0, -1)):                      # decoder: W_ℓᵀ … W_1ᵀ
        W, b = params[f"W{i}"], params[f"b{ell + 1 + j}"]
        z = torch.baddbmm(b.unsqueeze(1), a, W)
        a = torch.relu(z) if i > 1 else z
    return a


def losses(params: dict[str, Tensor], X: Tensor) -> Tensor:
    """Per-run loss (R,): mean over the N samples of ½‖ŷ − y‖² (eq. 4.1). X: (N, d) or (R, N, d)."""
    Y = X if X.ndim == 3 else X.unsqueeze(0)
    return 0.5 * ((forward(params, X) - Y) ** 2).sum(-1).mean(-1)


def loss_and_grads(params: dict[str, Tensor], X: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
    """(losses (R,), {name: ∂loss_r/∂param_r stacked (R, ...)}), one backward pass of Σ_r loss_r."""
    leaves = {k: v.detach().requires_grad_(True) for k, v in params.items()}
    L = losses(leaves, X)
    gs = torch.autograd.grad(L.sum(), list(leaves.values()))
    return L.detach(), dict(zip(leaves.keys(), gs))


def grad_norms(params: dict[str, Tensor], X: Tensor) -> tuple[Tensor, Tensor]:
    """(losses (R,), gradient norms (R,)): the ℓ2 norm over all parameters of ∇loss_r on X."""
    L, g = loss_and_grads(params, X)
    sq = sum(gi.reshape(gi.shape[0], -1).pow(2).sum(1) for gi in g.values())
    return L, torch.sqrt(sq)


def flat_loss_fn(arch: Arch, params: dict[str, Tensor], r: int, X: Tensor
                 ) -> tuple[Callable[[Tensor], Tensor], Tensor]:
    """(loss_fn, theta) for run r: loss_fn maps a flat vector (P,) to that run's scalar loss on X (N, d), in
    theta's dtype (use float64 for Hessians); theta (P,) is run r's parameters in :meth:`Arch.shapes` order."""
    shapes = arch.shapes()
    theta = torch.cat([params[k][r].detach().reshape(-1) for k in shapes]).double()
    Xd = X.double()

    def loss_fn(th: Tensor) -> Tensor:
        out, i = {}, 0
        for k, s in shapes.items():
            n = math.prod(s)
            out[k] = th[i:i + n].reshape((1,) + s)
            i += n
        return losses(out, Xd.to(th.dtype))[0]

    return loss_fn, theta


@dataclass
class History:
    """Curves of R runs at the evaluation steps: ``step`` (E,), ``train_loss``/``test_loss``/``grad_norm``
    (E, R) numpy arrays (training loss and gradient norm on the full training set); ``params`` final."""

    step: np.ndarray
    train_loss: np.ndarray
    test_loss: np.ndarray
    grad_norm: np.ndarray
    params: dict[str, Tensor]
    extra: dict[str, np.ndarray]


def _eval_steps(steps: int, n_eval: int) -> list[int]:
    pts = np.unique(np.round(np.geomspace(1, steps, n_eval)).astype(int))
    return [0] + [int(p) for p in pts]


def train(arch: Arch, hyper: opt.BatchedHyper, X_train: Tensor, X_test: Tensor, steps: int, *,
          generator: torch.Generator, batch_size: int | None = None, n_eval: int = 20,
          init_generator: torch.Generator | None = None, params: dict[str, Tensor] | None = None,
          callback: Callable[[int, dict[str, Tensor]], dict[str, float | np.ndarray]] | None = None,
          eval_on: Tensor | None = None, eval_at: list[int] | None = None) -> History:
    """Train R = ``hyper.R`` tied autoencoders side by side for ``steps`` iterations.

    ``X_train`` (N, d), ``X_test`` (M, d). ``batch_size=None``: full batch (deterministic gradient);
    otherwise each run draws its own shuffled mini-batches (a fresh permutation per epoch) from
    ``generator``. Initial weights from ``init_generator`` (default ``generator``) unless ``params`` is given.
    Metrics are evaluated at log-spaced steps (``n_eval`` points plus step 0). ``callback(step, params)`` is
    called at those steps and may return extra per-run measurements (arrays (R,)). ``eval_on`` (default
    ``X_train``): the set on which the training loss and gradient norm are recorded; ``eval_at``: explicit
    evaluation steps instead of the log-spaced ones.
    """
    R = hyper.R
    if steps < 1:
        raise ValueError(f"steps={steps!r}: accepted values are integers >= 1")
    N = X_train.shape[0]
    if batch_size is not None and not 1 <= batch_size <= N:
        raise ValueError(f"batch_size={batch_size!r}: accepted values are None or 1..{N}")
    if params is None:
        params = init_params(arch, R, generator=init_generator or generator, dtype=X_train.dtype,
                             device=X_train.device)
    params = {k: v.detach().clone() for k, v in params.items()}
    names = list(params)
    state = opt.batched_init([params[k] for k in names])
    evals = set(_eval_steps(steps, n_eval)) if eval_at is None else {int(e) for e in eval_at if 0 <= e <= steps}
    rec: dict[str, list] = {"step": [], "train": [], "test": [], "gn": []}
    extra: dict[str, list] = {}
    perm, pos = None, N

    def evaluate(s: int) -> None:
        Ltr, gn = grad_norms(params, X_train if eval_on is None else eval_on)
        with torch.no_grad():
            Lte = losses(params, X_test)
        rec["step"].append(s)
        rec["train"].append(Ltr.cpu().numpy())
        rec["test"].append(Lte.cpu().numpy())
        rec["gn"].append(gn.cpu().numpy())
        if callback is not None:
            for k, val in callback(s, params).items():
                extra.setdefault(k, []).append(np.asarray(val))

    for s in range(steps + 1):
        if s in evals:
            evaluate(s)
        if s == steps:
            break
        if batch_size is None:
            Xb = X_train
        else:
            if pos + batch_size > N:
                perm = torch.argsort(torch.rand(R, N, generator=generator, device=X_train.device), dim=1)
                pos = 0
            idx = perm[:, pos:pos + batch_size]
            pos += batch_size
            Xb = X_train[idx]                                      # (R, B, d)
        _, g = loss_and_grads(params, Xb)
        opt.batched_step([params[k] for k in names], [g[k] for k in names], state, hyper)
    return History(step=np.array(rec["step"]), train_loss=np.stack(rec["train"]), test_loss=np.stack(rec["test"]),
                   grad_norm=np.stack(rec["gn"]), params=params,
                   extra={k: np.stack(v) for k, v in extra.items()})


def prepare_images(images: np.ndarray, size: int, *, mode: str = "resize") -> np.ndarray:
    """MNIST uint8 images (n, 28, 28) → float32 (n, size²) in [0, 1] (§5.5 L2684, §5.F.2 L3272).

    ``mode="crop"``: remove (28−size)/2 pixels from each side (the thesis's 22×22); ``mode="resize"``:
    bilinear resize from 28×28 (``torch.nn.functional.interpolate``, align_corners=False, antialias off;
    TF1's ``resize_images`` differs by the half-pixel convention)."""
    if images.ndim != 3 or images.shape[1:] != (28, 28):
        raise ValueError(f"images: accepted shape is (n, 28, 28), got {images.shape}")
    if mode not in ("crop", "resize"):
        raise ValueError(f"mode={mode!r}: accepted values are 'crop', 'resize'")
    x = images.astype(np.float32) / 255.0
    if mode == "crop":
        if not (1 <= size <= 28 and (28 - size) % 2 == 0):
            raise ValueError(f"size={size!r}: crop needs an even margin (size in 2, 4, ..., 28)")
        k = (28 - size) // 2
        x = x[:, k:28 - k, k:28 - k]
    else:
        t = torch.nn.functional.interpolate(torch.from_numpy(x).unsqueeze(1), size=(size, size), mode="bilinear",
                                            align_corners=False)
        x = t.squeeze(1).numpy()
    return np.ascontiguousarray(x.reshape(x.shape[0], -1))


def sweep(arch: Arch, rows: list[dict], X_train: Tensor, X_test: Tensor, steps: int, *, n_seeds: int,
          generator: torch.Generator, init_generator: torch.Generator, batch_size: int | None = None,
          n_eval: int = 12, X_eval: Tensor | None = None, eval_at: list[int] | None = None,
          callback: Callable[[int, dict[str, Tensor]], dict[str, float | np.ndarray]] | None = None) -> History:
    """Train every row of ``rows`` as one batched program. A row is ``{"curve": str, "seed": int, **config}``
    with ``config`` a :meth:`lib.optimizers.BatchedHyper.from_configs` entry. Runs with the same ``seed`` start
    from the same Glorot draw (common random numbers across optimizers); ``n_seeds`` draws come from
    ``init_generator``. ``X_eval`` (default ``X_train``): the set on which training loss and gradient norm
    are recorded (the full training set, §6 B7)."""
    if not rows:
        raise ValueError("rows: accepted values are a non-empty list of dicts")
    seeds = [int(r["seed"]) for r in rows]
    if min(seeds) < 0 or max(seeds) >= n_seeds:
        raise ValueError(f"row seeds must be in 0..{n_seeds - 1}")
    cfgs = [{k: v for k, v in r.items() if k not in ("curve", "seed")} for r in rows]
    hyper = opt.BatchedHyper.from_configs(cfgs, dtype=X_train.dtype, device=X_train.device)
    P = init_params(arch, n_seeds, generator=init_generator, dtype=X_train.dtype, device=X_train.device)
    idx = torch.tensor(seeds, device=X_train.device)
    P = {k: v[idx] for k, v in P.items()}
    return train(arch, hyper, X_train, X_test, steps, generator=generator, batch_size=batch_size, n_eval=n_eval,
                 params=P, callback=callback, eval_on=X_eval, eval_at=eval_at)


def tune(final_train_loss: np.ndarray, rows: list[dict]) -> dict[str, np.ndarray]:
    """The thesis's selection rule (L2676, §5.D): per curve, the hyper-parameters with the lowest final
    training loss (mean over seeds; diverged runs count as +inf). Returns {curve: run indices (n_seeds,),
    ordered by seed}."""
    vals = np.where(np.isfinite(final_train_loss), final_train_loss, np.inf)
    groups: dict[str, dict[tuple, list[int]]] = {}
    for i, r in enumerate(rows):
        key = tuple(sorted((k, v) for k, v in r.items() if k not in ("curve", "seed")))
        groups.setdefault(r["curve"], {}).setdefault(key, []).append(i)
    out = {}
    for curve, cfgs in groups.items():
        best = min(cfgs.values(), key=lambda ix: float(np.mean(vals[ix])))
        out[curve] = np.array(sorted(best, key=lambda i: rows[i]["seed"]))
    return out
