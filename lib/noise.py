"""Input-noise models of the robustness study (thesis 000, Section 3.6.2, Figs 3.21-3.24).

* :func:`global_noise` -- additive Gaussian pixel noise, clipped to [0, 1]: ``clip(X + sigma Z, 0, 1)``.
* :func:`patch_masks` / :func:`local_noise` -- one black rectangular patch of area ~A per image:
  centre (i, j) uniform on the integers ``[lo, hi]`` (the thesis's 6..22, read as 1-based, so 0-based
  5..21 by default), aspect ratio ``D ~ U(1/2, 2)``, width ``floor(D sqrt(A))``, height
  ``floor(sqrt(A)/D)``, rows ``i - floor(h/2) .. i - floor(h/2) + h - 1`` (same for columns),
  clipped to the image.
* :func:`relative_change` -- ``A(n)/A(0) - 1`` ("higher is better"; the thesis's
  ``(A(0) - A(n))/A(0)`` has the opposite sign).
* :func:`robustness_curves` -- accuracy of several models under one noise model, by level and draw
  (Figs 3.23-3.24); :func:`smaller_relative_drop` -- whether one model's relative change is above another's at
  every noise level (thesis L1340-1352).

All functions are vectorised over images; device follows the inputs; randomness from an explicit
``torch.Generator``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping

import numpy as np
import torch


def _as_unit_float(X: torch.Tensor) -> torch.Tensor:
    if X.dtype == torch.uint8:
        return X.to(torch.float32) / 255.0
    if not torch.is_floating_point(X):
        raise ValueError(f"X must be uint8 or floating point in [0, 1], got dtype {X.dtype}")
    return X


def global_noise(X: torch.Tensor, sigma: float, generator: torch.Generator) -> torch.Tensor:
    """X: (n, H, W) in [0, 1] (or uint8) -> clip(X + sigma * N(0, 1), 0, 1), float (Fig 3.21)."""
    if not sigma >= 0:
        raise ValueError(f"sigma must be >= 0, got {sigma}")
    X = _as_unit_float(X)
    if sigma == 0:
        return X.clone()
    Z = torch.randn(X.shape, generator=generator, device=generator.device, dtype=X.dtype).to(X.device)
    return (X + sigma * Z).clamp_(0.0, 1.0)


def patch_masks(
    n: int,
    area: float,
    generator: torch.Generator,
    height: int = 28,
    width: int = 28,
    centre_range: tuple[int, int] = (6, 22),
    one_based: bool = True,
) -> torch.Tensor:
    """Boolean masks (n, height, width), True inside each image's black patch (Fig 3.22)."""
    if not area >= 0:
        raise ValueError(f"area must be >= 0, got {area}")
    lo, hi = centre_range
    if not (isinstance(lo, int) and isinstance(hi, int) and lo <= hi):
        raise ValueError(f"centre_range must be two ints lo <= hi, got {centre_range}")
    dev = generator.device
    shift = 1 if one_based else 0
    ci = torch.randint(lo, hi + 1, (n,), generator=generator, device=dev) - shift
    cj = torch.randint(lo, hi + 1, (n,), generator=generator, device=dev) - shift
    D = 0.5 + 1.5 * torch.rand((n,), generator=generator, device=dev, dtype=torch.float64)
    s = math.sqrt(area)
    w = torch.floor(D * s).long()
    h = torch.floor(s / D).long()
    r0 = ci - torch.div(h, 2, rounding_mode="floor")
    c0 = cj - torch.div(w, 2, rounding_mode="floor")
    rows = torch.arange(height, device=dev)
    cols = torch.arange(width, device=dev)
    in_r = (rows[None, :] >= r0[:, None]) & (rows[None, :] < (r0 + h)[:, None])
    in_c = (cols[None, :] >= c0[:, None]) & (cols[None, :] < (c0 + w)[:, None])
    return in_r[:, :, None] & in_c[:, None, :]


def local_noise(X: torch.Tensor, area: float, generator: torch.Generator, **kwargs) -> torch.Tensor:
    """X: (n, H, W) -> X with one black (0) patch of area ~``area`` per image (kwargs: patch_masks)."""
    X = _as_unit_float(X)
    if X.ndim != 3:
        raise ValueError(f"X must be (n, H, W), got shape {tuple(X.shape)}")
    m = patch_masks(X.shape[0], area, generator, height=X.shape[1], width=X.shape[2], **kwargs).to(X.device)
    return X.masked_fill(m, 0.0)


def relative_change(acc: torch.Tensor, acc0: torch.Tensor | float) -> torch.Tensor:
    """A(n)/A(0) - 1: 0 without noise, negative when accuracy falls."""
    return acc / acc0 - 1.0


def robustness_curves(predictors: Mapping[str, Callable[[torch.Tensor], torch.Tensor]], X: torch.Tensor,
                      y: torch.Tensor, levels: list[float],
                      apply: Callable[[torch.Tensor, float, torch.Generator], torch.Tensor], draws: int,
                      generator: torch.Generator) -> np.ndarray:
    """Accuracy of each model under noise: ``predictors`` maps a name to ``f(noisy images (n, H, W) in [0, 1]) ->
    predicted classes (n,)``; ``apply`` is :func:`global_noise` or :func:`local_noise`. Every (level, draw) draws
    fresh noise from ``generator``, shared by all models (a paired comparison). Returns (models, levels, draws)."""
    if draws < 1 or not levels:
        raise ValueError(f"need draws >= 1 and at least one level, got {draws} and {levels}")
    acc = np.zeros((len(predictors), len(levels), draws))
    for j, lev in enumerate(levels):
        for r in range(draws):
            Xn = apply(X, lev, generator)
            for i, f in enumerate(predictors.values()):
                acc[i, j, r] = float((f(Xn).to(y.device) == y).double().mean())
    return acc


def smaller_relative_drop(acc_a: np.ndarray, acc_b: np.ndarray) -> bool:
    """Whether model a loses relatively less than model b at every noise level: ``A_a(n)/A_a(0) - 1 >=
    A_b(n)/A_b(0) - 1`` for every level after the first (the noise-free one). acc_*: (levels,)."""
    a, b = np.asarray(acc_a, float), np.asarray(acc_b, float)
    if a.shape != b.shape or a.ndim != 1 or len(a) < 2:
        raise ValueError(f"acc_a and acc_b must be 1-D of equal length >= 2, got {a.shape} and {b.shape}")
    return bool(np.all(a[1:] / a[0] - 1 >= b[1:] / b[0] - 1))
