"""Polynomial approximations of the ReLU used as activations (Poggio et al. 2018, Sec. 6.4, Figs 9–11, 17).

The paper replaces every ReLU of a deep net by "a univariate polynomial approximation of the ReLU function"
of degree 10 (fit interval and method unstated). :func:`fit_relu_poly` makes that polynomial (least squares
on a uniform grid over [−r, r], or Chebyshev interpolation), :func:`horner` evaluates it on tensors, and
:class:`PolyAct` wraps it as an ``nn.Module``. The network is then a polynomial in its inputs and weights.
"""
from __future__ import annotations

import numpy as np
import torch
from numpy.polynomial import Polynomial
from numpy.polynomial import chebyshev as C
from torch import Tensor, nn

__all__ = ["fit_relu_poly", "horner", "PolyAct", "max_error"]


def fit_relu_poly(deg: int = 10, r: float = 4.0, method: str = "lsq", n_grid: int = 2001) -> np.ndarray:
    """Monomial coefficients c (deg + 1,), lowest first, of p ≈ ReLU on [−r, r].

    method "lsq": least squares on ``n_grid`` uniform points; "cheb": interpolation at deg + 1 Chebyshev nodes."""
    if deg < 1:
        raise ValueError(f"deg must be >= 1, got {deg}")
    if r <= 0:
        raise ValueError(f"r must be > 0, got {r}")
    if method == "lsq":
        x = np.linspace(-r, r, n_grid)
        p = Polynomial.fit(x, np.maximum(x, 0), deg, domain=[-r, r], window=[-1, 1])
        return p.convert(domain=[-1, 1], window=[-1, 1]).coef[: deg + 1].copy()
    if method == "cheb":
        k = np.arange(deg + 1)
        x = r * np.cos((2 * k + 1) * np.pi / (2 * deg + 2))
        ch = C.chebfit(x / r, np.maximum(x, 0), deg)
        mono = C.cheb2poly(ch)  # in u = x / r
        return mono / r ** np.arange(deg + 1)
    raise ValueError(f"method must be 'lsq' or 'cheb', got {method!r}")


def horner(z: Tensor, coef: Tensor | np.ndarray) -> Tensor:
    """p(z) = Σ_k c_k z^k by Horner's rule, elementwise; coef (deg + 1,) lowest first."""
    cs = [float(c) for c in np.asarray(coef.detach().cpu() if isinstance(coef, Tensor) else coef)]
    out = z * cs[-1] + cs[-2]
    for c in reversed(cs[:-2]):
        out = out * z + c
    return out


def max_error(coef: np.ndarray, r: float, n: int = 4001) -> float:
    """max_{|x| ≤ r} |p(x) − ReLU(x)| on a fine grid."""
    x = np.linspace(-r, r, n)
    return float(np.abs(Polynomial(coef)(x) - np.maximum(x, 0)).max())


class PolyAct(nn.Module):
    """Activation module z ↦ p(z) (a fixed polynomial, coefficients lowest first)."""

    def __init__(self, coef: np.ndarray) -> None:
        super().__init__()
        self.register_buffer("coef", torch.as_tensor(np.asarray(coef, dtype=np.float64)))

    def forward(self, z: Tensor) -> Tensor:
        return horner(z, self.coef)
