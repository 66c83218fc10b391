"""The small LeNet-like CNN baseline of the thesis (000, Section 3.4.1, Table 3.3, Fig 3.5).

Architecture (L863-865): conv 5x5, 32 channels, pad 2, ReLU, max-pool 2; conv 5x5, 64 channels, pad 2,
ReLU, max-pool 2; dropout; FC 3136 -> 1000; FC 1000 -> 10 (3,199,106 parameters). The prose mentions
batch norm after each conv, the list does not: ``batch_norm=False`` by default. Unstated and chosen
here: cross-entropy loss, SGD lr 0.01 with momentum 0.9, dropout 0.5, no ReLU between the FC layers
(none is listed). Trained with explicit generators; device follows the model.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import torch
from torch import nn


class LeNetLike(nn.Module):
    """x: (n, 1, 28, 28) float in [0, 1] -> logits (n, 10)."""

    def __init__(self, batch_norm: bool = False, dropout: float = 0.5, n_classes: int = 10) -> None:
        super().__init__()
        if not 0 <= dropout < 1:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")

        def block(cin: int, cout: int) -> list[nn.Module]:
            layers: list[nn.Module] = [nn.Conv2d(cin, cout, 5, stride=1, padding=2)]
            if batch_norm:
                layers.append(nn.BatchNorm2d(cout))
            return layers + [nn.ReLU(), nn.MaxPool2d(2, 2)]

        self.features = nn.Sequential(*block(1, 32), *block(32, 64))
        self.head = nn.Sequential(nn.Flatten(), nn.Dropout(dropout), nn.Linear(3136, 1000), nn.Linear(1000, n_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


def n_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def to_input(X: torch.Tensor, device: torch.device | str | None = None) -> torch.Tensor:
    """uint8 (n, 28, 28) or float (n, 28, 28) in [0, 1] -> float (n, 1, 28, 28)."""
    if X.ndim != 3:
        raise ValueError(f"X must be (n, H, W), got shape {tuple(X.shape)}")
    Xf = X.to(torch.float32) / 255.0 if X.dtype == torch.uint8 else X.to(torch.float32)
    return Xf[:, None].to(device) if device is not None else Xf[:, None]


@torch.no_grad()
def predict(model: nn.Module, X: torch.Tensor, batch: int = 1000) -> torch.Tensor:
    """Class predictions (n,) for images X: (n, H, W) (uint8 or [0, 1] float)."""
    dev = next(model.parameters()).device
    was = model.training
    model.eval()
    out = [model(to_input(X[s : s + batch], dev)).argmax(1).cpu() for s in range(0, X.shape[0], batch)]
    model.train(was)
    return torch.cat(out)


@dataclass
class TrainLog:
    steps: list[int] = field(default_factory=list)
    test_acc: list[float] = field(default_factory=list)
    seconds: float = 0.0


def train_cnn(
    model: nn.Module,
    X: torch.Tensor,
    y: torch.Tensor,
    n_steps: int,
    generator: torch.Generator,
    batch_size: int = 100,
    lr: float = 0.01,
    momentum: float = 0.9,
    eval_every: int = 50,
    X_eval: torch.Tensor | None = None,
    y_eval: torch.Tensor | None = None,
) -> TrainLog:
    """SGD on cross-entropy for ``n_steps`` minibatches (epochs = n_steps * batch / n), reshuffled each
    epoch with ``generator``; logs accuracy on (X_eval, y_eval) every ``eval_every`` steps (Fig 3.5).
    Dropout masks draw from torch's default generator of the device (seed it via ``torch.manual_seed``
    on the caller's side if bitwise reproducibility is needed)."""
    if n_steps < 1 or batch_size < 1:
        raise ValueError(f"n_steps and batch_size must be >= 1, got {n_steps}, {batch_size}")
    dev = next(model.parameters()).device
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum)
    log = TrainLog()
    n = X.shape[0]
    perm = torch.randperm(n, generator=generator)
    pos = 0
    t0 = time.perf_counter()
    model.train()
    for step in range(1, n_steps + 1):
        if pos + batch_size > n:
            perm = torch.randperm(n, generator=generator)
            pos = 0
        idx = perm[pos : pos + batch_size]
        pos += batch_size
        xb = to_input(X[idx], dev)
        yb = y[idx].long().to(dev)
        opt.zero_grad(set_to_none=True)
        loss = nn.functional.cross_entropy(model(xb), yb)
        loss.backward()
        opt.step()
        if X_eval is not None and y_eval is not None and (step % eval_every == 0 or step == n_steps):
            acc = float((predict(model, X_eval) == y_eval.cpu()).float().mean())
            log.steps.append(step)
            log.test_acc.append(acc)
    log.seconds = time.perf_counter() - t0
    return log
