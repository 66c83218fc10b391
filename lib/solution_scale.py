"""The scale of "exact" least-squares coefficients on the image lifting (thesis 000, Table 3.7, L1085-1105).

Used by the chapter ``polynomial_regression_images``. In the thesis's basis of ordered pixel pairs the columns
``X_i X_j`` and ``X_j X_i`` are the same column, bit for bit. So the least-squares solutions form an affine set
``beta_min_norm + null(X)`` that contains ``+t`` on ``(i, j)`` and ``-t`` on ``(j, i)`` for every t: the coefficient
scale of an "exact" fit is unbounded, and what a solver reports is set by the solver, not by the data.

* :func:`duplicate_pairs` -- positions of the ordered pairs (i, j) and (j, i), i < j, in a pair table.
* :func:`duplicate_column_gap` -- the largest difference between the two columns of each duplicate pair on data
  (0.0 exactly: floating-point multiplication commutes).
* :func:`null_direction` / :func:`shift_to_scale` -- a null-space direction of the ordered lifting and the shift
  along it that gives the coefficients any L2 scale (eq. 3.18) at least the minimum, with the same predictions.
* :func:`feature_activity` / :func:`activity_of_largest` -- how often each lifted feature is non-zero, and the
  median activity of the features carrying the largest coefficients (the thesis's explanation: rarely lit pixels).
"""
from __future__ import annotations

import math

import numpy as np
import torch

from lib import polyfeatures as pf


def duplicate_pairs(pairs: torch.Tensor) -> torch.Tensor:
    """pairs: (P, 2) ordered pixel pairs -> (M, 2) long positions ``[a, b]`` with ``pairs[a] = (i, j)``, ``i < j``, and
    ``pairs[b] = (j, i)``; every off-diagonal pair of a symmetric table appears once."""
    if pairs.ndim != 2 or pairs.shape[1] != 2:
        raise ValueError(f"pairs must be (P, 2), got shape {tuple(pairs.shape)}")
    key = {(int(i), int(j)): k for k, (i, j) in enumerate(pairs.tolist())}
    out = [(k, key[(j, i)]) for (i, j), k in key.items() if i < j and (j, i) in key]
    return torch.tensor(out, dtype=torch.long).reshape(-1, 2)


def duplicate_column_gap(images: torch.Tensor, pairs: torch.Tensor, dup: torch.Tensor) -> float:
    """max |X_i X_j - X_j X_i| over the rows of ``images`` (n, H, W) and the duplicate pairs ``dup`` of ``pairs``, with
    the products formed as the fit forms them (:func:`lib.polyfeatures.lift_conv2`, no intercept, in chunks)."""
    npx = images[0].numel()
    gap = 0.0
    for s in range(0, images.shape[0], 2048):
        F = pf.lift_conv2(images[s: s + 2048], pairs, intercept=False)[:, npx:]
        gap = max(gap, float((F[:, dup[:, 0].to(F.device)] - F[:, dup[:, 1].to(F.device)]).abs().max()))
    return gap


def null_direction(dup: torch.Tensor, n_features: int, offset: int, n_classes: int,
                   dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """v: (n_features, n_classes) with +1 at ``offset + dup[:, 0]`` and -1 at ``offset + dup[:, 1]`` (every class):
    ``X v = 0`` for the ordered lifting whose pair columns start at ``offset``."""
    v = torch.zeros((n_features, n_classes), dtype=dtype)
    v[offset + dup[:, 0]] = 1.0
    v[offset + dup[:, 1]] = -1.0
    return v


def shift_to_scale(beta: torch.Tensor, v: torch.Tensor, target_l2: float) -> tuple[torch.Tensor, float]:
    """``beta + t v`` with the smallest t >= 0 that makes the population standard deviation of all its entries
    (eq. 3.18, the thesis's L2 scale) equal ``target_l2``: the quadratic ``var(beta) + 2 t cov(beta, v) +
    t^2 var(v) = target^2``. beta, v: (p, c). Raises when the target is below what the direction can reach."""
    b, w = beta.reshape(-1).to(torch.float64), v.reshape(-1).to(torch.float64)
    a = float(w.var(correction=0))
    bb = 2 * float(((b - b.mean()) * (w - w.mean())).mean())
    c = float(b.var(correction=0)) - target_l2**2
    disc = bb * bb - 4 * a * c
    if a <= 0 or disc < 0 or (-bb + math.sqrt(disc)) < 0:
        raise ValueError(f"target_l2={target_l2:.3g} is below the smallest scale reachable along v")
    t = (-bb + math.sqrt(disc)) / (2 * a)
    return beta.to(torch.float64) + t * v.to(torch.float64), t


def feature_activity(images: torch.Tensor, pairs: torch.Tensor, chunk_rows: int = 4096) -> torch.Tensor:
    """Fraction of images in which each lifted feature ``[1, X_i, X_i X_j]`` is non-zero: (n, H, W) -> (1 + H*W + P,)
    float64 (the lifting of the 0/1 'lit' images is the indicator that every factor is lit)."""
    total = None
    for s in range(0, images.shape[0], chunk_rows):
        lit = (images[s: s + chunk_rows] > 0).to(torch.float32)
        part = pf.lift_conv2(lit, pairs).to(torch.float64).sum(0)
        total = part if total is None else total + part
    if total is None:
        raise ValueError("images is empty")
    return total / images.shape[0]


def activity_of_largest(beta: torch.Tensor, activity: torch.Tensor, frac: float = 0.01) -> tuple[float, float]:
    """Median activity of the features (intercept excluded) with the largest ``max_c |beta[:, c]|`` -- the top
    ``frac`` of them, at least 10 -- and the median activity of all features. beta: (p, c), activity: (p,)."""
    if beta.shape[0] != activity.shape[0]:
        raise ValueError(f"beta has {beta.shape[0]} rows but activity {activity.shape[0]} entries")
    mag = beta[1:].abs().amax(1).to(torch.float64).cpu()
    act = activity[1:].to(torch.float64).cpu()
    top = torch.topk(mag, max(10, int(np.floor(frac * mag.numel())))).indices
    return float(act[top].median()), float(act.median())
