"""Dimension-reducing encodings tried before the convolutional lifting (thesis 000, §3.4.2).

* :func:`pca_fit` / :func:`pca_transform` -- centred PCA on the training images (Figs 3.6-3.7).
* :func:`dct2` / :func:`idct2` -- orthonormal 2-D type-II DCT of each image, as a matrix product
  ``C X C^T`` (batched, torch; equals ``scipy.fft.dctn(x, norm="ortho")``).
* :func:`topk_mask` -- the per-image thresholding: keep the ``k`` coefficients of largest magnitude (Fig 3.9).
* :func:`survival_frequency` / :func:`encoding_factor` -- Fig 3.10 and Table 3.4 (eq. 3.7 with a
  minimum frequency p: the fraction of positions kept in at least a fraction p of the images);
  :func:`encoding_factor_curve` -- the factor against the number of coefficients kept per image.
* :func:`pca_pr_accuracy` -- Fig 3.6: PCA to k components, degree-2 PR (one-vs-all least squares) on the scores;
  :func:`concavity` -- the shape of its accuracy curve (thesis L896-904).

Used by the chapter ``polynomial_regression_images``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch


def _unit(X: torch.Tensor) -> torch.Tensor:
    return X.to(torch.float32) / 255.0 if X.dtype == torch.uint8 else X


def pca_fit(X: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Top-k principal axes of images X: (n, H, W) or (n, D): returns (mean (D,), components (k, D))."""
    Xf = _unit(X).reshape(X.shape[0], -1).to(torch.float64)
    if not 1 <= k <= min(Xf.shape):
        raise ValueError(f"k must be in [1, {min(Xf.shape)}], got {k}")
    mu = Xf.mean(0)
    C = (Xf - mu).T @ (Xf - mu)  # (D, D): cheaper than an SVD of the n x D matrix for n >> D
    evals, V = torch.linalg.eigh(C)
    comps = V[:, torch.argsort(evals, descending=True)[:k]].T
    # fix the sign (largest |entry| positive) so components are deterministic
    sgn = torch.sign(comps.gather(1, comps.abs().argmax(1, keepdim=True)))
    return mu, comps * sgn


def pca_transform(X: torch.Tensor, mean: torch.Tensor, components: torch.Tensor) -> torch.Tensor:
    """Scores (n, k) of X: (n, H, W) or (n, D) on ``components``: (k, D)."""
    Xf = _unit(X).reshape(X.shape[0], -1).to(components.dtype)
    return (Xf - mean) @ components.T


def dct_matrix(n: int, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """Orthonormal DCT-II matrix C: (n, n), ``C[k, i] = s_k cos(pi (2i + 1) k / (2n))``."""
    i = torch.arange(n, dtype=dtype)
    C = torch.cos(math.pi * (2 * i[None, :] + 1) * i[:, None] / (2 * n)) * math.sqrt(2.0 / n)
    C[0] /= math.sqrt(2.0)
    return C


def dct2(X: torch.Tensor) -> torch.Tensor:
    """Orthonormal 2-D DCT of images X: (n, H, W) -> (n, H, W) (Fig 3.8)."""
    Xf = _unit(X).to(torch.float64)
    Ch, Cw = dct_matrix(Xf.shape[-2]).to(Xf.device), dct_matrix(Xf.shape[-1]).to(Xf.device)
    return Ch @ Xf @ Cw.T


def idct2(Y: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`dct2`."""
    Ch, Cw = dct_matrix(Y.shape[-2]).to(Y.device, Y.dtype), dct_matrix(Y.shape[-1]).to(Y.device, Y.dtype)
    return Ch.T @ Y @ Cw


def topk_mask(coeffs: torch.Tensor, k: int) -> torch.Tensor:
    """Boolean (n, H, W): the k entries of largest |coefficient| of each image (Fig 3.9)."""
    flat = coeffs.reshape(coeffs.shape[0], -1)
    if not 1 <= k <= flat.shape[1]:
        raise ValueError(f"k must be in [1, {flat.shape[1]}], got {k}")
    idx = flat.abs().topk(k, dim=1).indices
    mask = torch.zeros_like(flat, dtype=torch.bool)
    mask.scatter_(1, idx, True)
    return mask.reshape(coeffs.shape)


def survival_frequency(masks: torch.Tensor) -> torch.Tensor:
    """F(i, j) = (1/N) sum_X 1[(i, j) in S_X]: (N, H, W) bool -> (H, W) (Fig 3.10)."""
    return masks.to(torch.float64).mean(0)


def encoding_factor(freq: torch.Tensor, p: float = 0.05) -> float:
    """Fraction of positions kept in at least a fraction p of the images (Table 3.4; eq. 3.7 is p -> 0)."""
    if not 0 <= p <= 1:
        raise ValueError(f"p must be in [0, 1], got {p}")
    return float((freq >= p).to(torch.float64).mean()) if p > 0 else float((freq > 0).to(torch.float64).mean())


def encoding_factor_curve(X: torch.Tensor, keep: list[int], p: float = 0.05) -> tuple[np.ndarray, torch.Tensor]:
    """Table 3.4 against the kept count: for each k in ``keep``, the encoding factor (:func:`encoding_factor`) of the
    per-image top-k DCT masks of images X: (n, H, W). Returns (factors (len(keep),), frequencies (len(keep), H, W))."""
    C = dct2(X)
    freqs = torch.stack([survival_frequency(topk_mask(C, k)) for k in keep])
    return np.array([encoding_factor(f, p) for f in freqs]), freqs


def pca_pr_accuracy(X_tr: torch.Tensor, y_tr: torch.Tensor, X_te: torch.Tensor, y_te: torch.Tensor,
                    ks: list[int], chunk_rows: int = 5000) -> tuple[np.ndarray, torch.Tensor]:
    """Fig 3.6 (thesis L890-904): PCA of the training images to k components, then degree-2 PR on the scores.

    Features: intercept, the k scores and their deduplicated products (``1 + k + k(k+1)/2``; the span of the
    thesis's k^2 ordered products plus the degree-1 terms), one-vs-all least squares streamed over row chunks and
    solved min-norm (``least_squares.solve_normal_equations``, eigh). X_tr: (n, H, W) images, y_tr: (n,) classes.
    Returns (accuracy (len(ks), 2) with columns [in-sample, out-of-sample], principal axes (max(ks), H*W)).
    """
    from lib import least_squares as ls
    from lib import polyfeatures as pf

    if not ks or any(k < 1 for k in ks):
        raise ValueError(f"ks must be a non-empty list of positive ints, got {ks}")
    mu, comps = pca_fit(X_tr, max(ks))
    Z_tr, Z_te = pca_transform(X_tr, mu, comps), pca_transform(X_te, mu, comps)
    rows = []
    for k in ks:
        tab = pf.monomial_tables(k, 2, "dedup")

        def lift(z: torch.Tensor, tab: pf.MonomialTables = tab, k: int = k) -> torch.Tensor:
            return pf.lift(z[:, :k], tab)

        ne = ls.streamed_normal_equations(ls.iter_chunks(Z_tr, ls.one_hot(y_tr).to(Z_tr.dtype), chunk_rows), lift)
        beta = ls.solve_normal_equations(ne, "eigh").beta
        rows.append((float(ls.accuracy(lift(Z_tr), beta, y_tr)), float(ls.accuracy(lift(Z_te), beta, y_te))))
    return np.array(rows), comps


@dataclass(frozen=True)
class Concavity:
    """Shape of an accuracy curve ``y_test(x)`` (x ascending): ``chord_gap`` = min over interior points of
    (y - the chord between the end points), >= 0 for a concave curve; ``first_gain`` / ``last_gain`` = the slope of
    the first and the last step; ``min_train_step`` = the smallest step of ``y_train`` (>= 0: never decreasing)."""

    chord_gap: float
    first_gain: float
    last_gain: float
    min_train_step: float


def concavity(x: list[float], y_test: np.ndarray, y_train: np.ndarray) -> Concavity:
    """Fig 3.6's shape (thesis L896-898): concave test accuracy, increasing in-sample accuracy. Needs >= 3 points."""
    x_, yt, yr = np.asarray(x, float), np.asarray(y_test, float), np.asarray(y_train, float)
    if x_.ndim != 1 or len(x_) < 3 or yt.shape != x_.shape or yr.shape != x_.shape:
        raise ValueError(f"x, y_test, y_train must be 1-D of the same length >= 3, got {x_.shape}, {yt.shape}, "
                         f"{yr.shape}")
    if np.any(np.diff(x_) <= 0):
        raise ValueError("x must be strictly ascending")
    chord = np.interp(x_[1:-1], x_[[0, -1]], yt[[0, -1]])
    slopes = np.diff(yt) / np.diff(x_)
    return Concavity(chord_gap=float((yt[1:-1] - chord).min()), first_gain=float(slopes[0]),
                     last_gain=float(slopes[-1]), min_train_step=float(np.diff(yr).min()))
