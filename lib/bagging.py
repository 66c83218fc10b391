"""Batched linear regression on lifted images: the readings of its unstated recipe, and its learning curves.

Used by the chapter ``polynomial_regression_images`` (thesis 000, §3.4.3, eqs. 3.14-3.16, L1013-1053). The
kernel -- one minimum-norm fit per bag through the B x B dual -- is :func:`lib.least_squares.min_norm_dual`; this
module says *which* problem each bag solves and measures what the average does.

* :class:`Recipe` -- one reading of what the thesis leaves open: bags drawn with or without replacement, the pixel
  scale, centring, a penalised or unpenalised intercept, and the basis (ordered pairs, i.e. the sqrt2-scaled unique
  pairs with the same minimum-norm fit, or plain unique pairs as a deduplicating library would build them).
* :func:`lifter` -- the recipe's map from raw images (n, H, W) uint8 to lifted rows (n, p) float32 (eq. 3.13).
* :func:`draw_bags` -- bag row indices, with or without replacement.
* :func:`fit_bags` -- one min-norm fit per bag; a bag with repeated rows is solved on its distinct rows, which is the
  same minimum-norm least-squares solution when the bag interpolates (B < p, rows in general position).
* :func:`learning_curves` -- Figs 3.11-3.12: test accuracy of each bag and of the running average (eq. 3.16), and
  in-sample accuracy of the running average on rows of the bags averaged so far.
* :func:`jackknife_accuracy` -- accuracy of the bagged estimator and its leave-one-bag-out standard error: how much
  the final accuracy moves with the draw of the bags.

Randomness from explicit ``torch.Generator`` arguments; device follows the inputs.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from lib import least_squares as ls
from lib import polyfeatures as pf

LiftFn = Callable[[torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class Recipe:
    """One reading of the batched-LR recipe (thesis L1013-1041 leaves each of these open)."""

    name: str
    replacement: bool = False        # bags drawn with replacement (bootstrap) instead of B distinct rows
    pixel_scale: float = 1 / 255     # pixels multiplied by this (1/255: [0, 1]; 1.0: raw 0..255)
    centre: bool = False             # subtract the training mean image (after scaling) before lifting
    intercept: str = "penalised"     # "penalised": part of the min-norm objective; "unpenalised": as scikit-learn
    basis: str = "ordered"           # "ordered": the thesis's 18,741 columns (as sqrt2-scaled unique pairs); "unique"

    def __post_init__(self) -> None:
        if self.intercept not in ("penalised", "unpenalised"):
            raise ValueError(f"intercept must be 'penalised' or 'unpenalised', got {self.intercept!r}")
        if self.basis not in ("ordered", "unique"):
            raise ValueError(f"basis must be 'ordered' or 'unique', got {self.basis!r}")
        if not self.pixel_scale > 0:
            raise ValueError(f"pixel_scale must be > 0, got {self.pixel_scale}")

    @property
    def intercept_col(self) -> int | None:
        """The column whose coefficient is left out of the norm (:func:`lib.least_squares.min_norm_dual`)."""
        return 0 if self.intercept == "unpenalised" else None


def lifter(recipe: Recipe, pairs_unique: torch.Tensor, mean_image: torch.Tensor | None = None) -> LiftFn:
    """The recipe's features of images: (n, H, W) uint8 (0..255) or float in [0, 1] (e.g. noisy images) ->
    (n, 1 + H*W + P) float32 (eq. 3.13 on the unique pairs ``pairs_unique``: (P, 2)). ``mean_image`` (H, W) or
    (H*W,) in raw pixel units (0..255) is needed when ``recipe.centre``. The baseline recipe gives exactly
    :func:`lib.polyfeatures.lift_conv2` of the uint8 images with the sqrt2 pair scale."""
    if recipe.centre and mean_image is None:
        raise ValueError("a centred recipe needs mean_image (the training mean, raw pixel units)")
    scale = pf.unique_pair_scale(pairs_unique) if recipe.basis == "ordered" else None
    factor = recipe.pixel_scale * 255.0                              # from [0, 1] units to the recipe's units
    rescale = abs(factor - 1.0) > 1e-12
    mu = None if mean_image is None else mean_image.reshape(-1).to(torch.float32) * recipe.pixel_scale

    def lift(x: torch.Tensor) -> torch.Tensor:
        z = x.reshape(x.shape[0], -1)
        z = z.to(torch.float32) / 255.0 if z.dtype == torch.uint8 else z.to(torch.float32)
        if rescale:
            z = z * factor
        if recipe.centre:
            z = z - mu.to(z.device)
        return pf.lift_conv2(z, pairs_unique, pair_scale=scale)

    return lift


def draw_bags(n: int, n_bags: int, bag_size: int, generator: torch.Generator,
              replacement: bool = False) -> torch.Tensor:
    """Row indices (N_B, B) long of independent bags: B distinct rows each (:func:`lib.least_squares.draw_bags`), or
    B rows drawn uniformly with replacement."""
    if not replacement:
        return ls.draw_bags(n, n_bags, bag_size, generator)
    if n_bags < 1 or bag_size < 1:
        raise ValueError(f"n_bags and bag_size must be >= 1, got {n_bags}, {bag_size}")
    return torch.randint(0, n, (n_bags, bag_size), generator=generator, device=generator.device).cpu()


def fit_bags(X: torch.Tensor, Y: torch.Tensor, lift: LiftFn, bags: torch.Tensor, *, intercept_col: int | None = None,
             bags_per_group: int = 2, rel_jitter: float = 1e-7) -> torch.Tensor:
    """One minimum-norm least-squares fit per bag: X (n, ...) raw rows, Y (n, c), bags (N_B, B) -> betas (N_B, p, c).

    Bags of distinct rows are lifted and solved ``bags_per_group`` at a time (as
    :func:`lib.least_squares.bagged_least_squares`); a bag with repeated rows is solved alone on its distinct rows.
    """
    if bags.ndim != 2:
        raise ValueError(f"bags must be (N_B, B), got shape {tuple(bags.shape)}")
    distinct = [int(torch.unique(b).numel()) == b.numel() for b in bags]
    out: list[torch.Tensor | None] = [None] * bags.shape[0]
    plain = [i for i, ok in enumerate(distinct) if ok]
    for g in range(0, len(plain), bags_per_group):
        ids = plain[g: g + bags_per_group]
        idx = bags[ids]
        F = lift(X[idx.reshape(-1).to(X.device)]).reshape(len(ids), idx.shape[1], -1)
        Yg = Y[idx.reshape(-1).to(Y.device)].reshape(len(ids), idx.shape[1], -1).to(F.dtype)
        for i, beta in zip(ids, ls.min_norm_dual(F, Yg, rel_jitter=rel_jitter, intercept_col=intercept_col)):
            out[i] = beta
    for i, ok in enumerate(distinct):
        if not ok:
            rows = torch.unique(bags[i]).to(X.device)
            F = lift(X[rows])[None]
            out[i] = ls.min_norm_dual(F, Y[rows.to(Y.device)][None].to(F.dtype), rel_jitter=rel_jitter,
                                      intercept_col=intercept_col)[0]
    return torch.stack(out)  # type: ignore[arg-type]


@dataclass
class Curves:
    """Figs 3.11-3.12, each (N_B,): test accuracy of bag b alone (``each``) and of the running average of bags 1..b
    (``avg``); ``avg_in``: accuracy of the running average on ``n_in`` random rows of the union of bags 1..b."""

    each: np.ndarray
    avg: np.ndarray
    avg_in: np.ndarray


def learning_curves(betas: torch.Tensor, bags: torch.Tensor, lift: LiftFn, X_tr: torch.Tensor, y_tr: torch.Tensor,
                    X_te: torch.Tensor, y_te: torch.Tensor, n_in: int, generator: torch.Generator) -> Curves:
    """Figs 3.11-3.12 (thesis L1040-1053): betas (N_B, p, c), bags (N_B, B) row indices into X_tr."""
    F_te = lift(X_te)
    avg = ls.running_average(betas)
    each = ls.accuracy(F_te, betas, y_te).cpu().numpy()
    avg_te = ls.accuracy(F_te, avg, y_te).cpu().numpy()
    del F_te
    acc_in = []
    for b in range(betas.shape[0]):
        seen = bags[: b + 1].reshape(-1).unique()
        rows = seen[torch.randperm(seen.numel(), generator=generator, device=generator.device)[:n_in].cpu()]
        rows = rows.to(X_tr.device)
        acc_in.append(float(ls.accuracy_streamed(X_tr[rows], y_tr[rows], avg[b], lift)))
    return Curves(each=each, avg=avg_te, avg_in=np.array(acc_in))


def jackknife_accuracy(betas: torch.Tensor, lift: LiftFn, X: torch.Tensor, y: torch.Tensor) -> tuple[float, float]:
    """Accuracy of the bagged estimator mean(betas) on (X, y) and its jackknife standard error over the bags,
    ``sqrt((N-1)/N sum_i (a_(-i) - mean a_(-i))^2)`` with ``a_(-i)`` the accuracy of the average without bag i.
    Scores are linear in beta, so each leave-one-out score is ``(N S - s_i) / (N - 1)`` from the per-bag scores.
    betas: (N_B, p, c) with N_B >= 2."""
    nb = betas.shape[0]
    if nb < 2:
        raise ValueError(f"the jackknife needs at least 2 bags, got {nb}")
    s = ls.scores_streamed(X, betas, lift).to(torch.float64)          # (N_B, n, c)
    total = s.sum(0)
    yy = y.to(s.device)
    acc = float((total.argmax(-1) == yy).double().mean())
    loo = torch.stack([((total - s[i]).argmax(-1) == yy).double().mean() for i in range(nb)]).cpu().numpy()
    se = math.sqrt((nb - 1) / nb * float(((loo - loo.mean()) ** 2).sum()))
    return acc, se
