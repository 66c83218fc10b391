"""Two-dimensional slices of a one-layer network's prediction and loss (Emschwiller 2020, Figs 1.2–1.3).

Used by ``book/intro.md``. The network is the thesis's eq. 2.1, ``f(x) = m^-1/2 Σ_j ReLU(w_j·x)``
(:func:`lib.teacher_student.relu_net`). A slice varies two coordinates on a ``G × G`` grid, either with
everything else fixed, or with everything else resampled at every grid point. Convexity of a slice is
judged exactly on the grid from second differences along four directions (:func:`second_differences`).
"""
from __future__ import annotations

import torch
from torch import Tensor

from lib.teacher_student import relu_net


def _check_grid(grid: Tensor) -> None:
    if grid.ndim != 1 or grid.numel() < 3:
        raise ValueError(f"grid must be a 1-D tensor with at least 3 points, got shape {tuple(grid.shape)}")


def input_slice(W: Tensor, x0: Tensor, grid: Tensor, *, generator: torch.Generator | None = None) -> Tensor:
    """Predictions ``f(x)`` with ``(x_1, x_2)`` on ``grid × grid``.

    ``W: (d, m)``, ``x0: (d,)`` (the fixed other coordinates), ``grid: (G,)``. With ``generator`` the other
    coordinates are redrawn from N(0, 1) at every grid point (Fig 1.2, right); without, they stay ``x0``.
    Returns ``(G, G)``, indexed ``[i, j] = f(x_1 = grid[i], x_2 = grid[j], ...)``.
    """
    _check_grid(grid)
    d, _ = W.shape
    if x0.shape != (d,) or d < 3:
        raise ValueError(f"x0 must have shape ({d},) and d >= 3, got {tuple(x0.shape)}")
    G = grid.numel()
    X = x0.expand(G, G, d).clone()
    if generator is not None:
        X[..., 2:] = torch.randn(G, G, d - 2, generator=generator, dtype=W.dtype, device=W.device)
    X[..., 0] = grid[:, None]
    X[..., 1] = grid[None, :]
    return relu_net(W[None], X.reshape(1, G * G, d))[0].reshape(G, G)


def weight_slice(W: Tensor, X: Tensor, Y: Tensor, grid: Tensor, *,
                 generator: torch.Generator | None = None) -> Tensor:
    """Empirical squared loss ``mean_n (f_W(x_n) − y_n)²`` with ``(W[0,0], W[1,0])`` set to the grid.

    ``W: (d, m)``, ``X: (N, d)``, ``Y: (N,)``, ``grid: (G,)`` (offsets added to the two weights). With
    ``generator``, every other weight is redrawn from U(±1/√d) at every grid point (Fig 1.3, right).
    The ``G²`` networks are evaluated as one batch. Returns ``(G, G)``.
    """
    _check_grid(grid)
    d, m = W.shape
    if X.ndim != 2 or X.shape[1] != d or Y.shape != (X.shape[0],):
        raise ValueError(f"X must be (N, {d}) and Y (N,), got {tuple(X.shape)} and {tuple(Y.shape)}")
    G = grid.numel()
    Wb = W.expand(G, G, d, m).clone()
    if generator is not None:
        a = d ** -0.5
        Wb = (torch.rand(G, G, d, m, generator=generator, dtype=W.dtype, device=W.device) * 2 - 1) * a
    Wb[..., 0, 0] = W[0, 0] + grid[:, None]
    Wb[..., 1, 0] = W[1, 0] + grid[None, :]
    pred = relu_net(Wb.reshape(G * G, d, m), X.expand(G * G, *X.shape))
    return ((pred - Y) ** 2).mean(-1).reshape(G, G)


def second_differences(Z: Tensor) -> Tensor:
    """Second differences of a grid function along the four grid directions.

    ``Z: (G, G)`` on a uniform grid. Returns ``(4, G-2, G-2)``: along x_1, along x_2, and along the two
    diagonals, ``Z[p-u] - 2 Z[p] + Z[p+u]`` at each interior point ``p``. A convex function has every
    one ``>= 0`` (midpoint convexity on grid lines, an exact consequence of convexity); a concave one has
    every one ``<= 0``; so values of both signs certify that the slice is neither.
    """
    if Z.ndim != 2 or min(Z.shape) < 3:
        raise ValueError(f"Z must be (G, G) with G >= 3, got shape {tuple(Z.shape)}")
    c = Z[1:-1, 1:-1]
    return torch.stack([
        Z[2:, 1:-1] - 2 * c + Z[:-2, 1:-1],
        Z[1:-1, 2:] - 2 * c + Z[1:-1, :-2],
        Z[2:, 2:] - 2 * c + Z[:-2, :-2],
        Z[2:, :-2] - 2 * c + Z[:-2, 2:],
    ])


def sign_flip_rate(sd: Tensor, tol: float = 1e-12) -> float:
    """How often the curvature changes sign between neighbouring grid points: the fraction of adjacent pairs
    (along either grid axis) of second differences ``sd: (k, G', G')`` — as returned by
    :func:`second_differences` — whose signs are strictly opposite (both larger than ``tol`` in magnitude).

    A smooth surface keeps its curvature sign locally (rate near 0, creases add a few flips); independent noise
    flips it at every other pair (rate 1/2). It is the "roughness" statistic of the intro's Figs 1.2-1.3.
    """
    s = torch.sign(torch.where(sd.abs() > tol, sd, torch.zeros_like(sd)))
    pairs = [(s[..., 1:, :], s[..., :-1, :]), (s[..., :, 1:], s[..., :, :-1])]
    flips = sum(((a * b) < 0).sum().item() for a, b in pairs)
    total = sum(a.numel() for a, _ in pairs)
    return flips / total
