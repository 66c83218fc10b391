"""Dimension-reducing encodings tried before the convolutional lifting (thesis 000, §3.4.2).

* :func:`pca_fit` / :func:`pca_transform` -- centred PCA on the training images (Figs 3.6-3.7).
* :func:`dct2` / :func:`idct2` -- orthonormal 2-D type-II DCT of each image, as a matrix product
  ``C X C^T`` (batched, torch; equals ``scipy.fft.dctn(x, norm="ortho")``).
* :func:`topk_mask` -- the per-image thresholding: keep the ``k`` coefficients of largest magnitude (Fig 3.9).
* :func:`survival_frequency` / :func:`encoding_factor` -- Fig 3.10 and Table 3.4 (eq. 3.7 with a
  minimum frequency p: the fraction of positions kept in at least a fraction p of the images).
"""

from __future__ import annotations

import math

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
