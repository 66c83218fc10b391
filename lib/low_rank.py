"""Low-rank polynomials: F_1 vs F_2 for quadratic activations, Hermite features, QuadNTK with signed dropout.

Document 002 (Lee et al. 2020, slides), as implemented here:

* Teachers.  Rank-r quadratics f*(x) = x^T M* x, M* = U diag(a) U^T (L144-L150 with p_s = 2), and the Gaussian
  moment E[(w.x)^{2p}] = |w|^{2p} (2p-1)!! that normalises them (definition, L150).
* F_2 vs F_1 for quadratic activation (L124-L141): int rho(w) (w.x)^2 = <int rho w w^T, x x^T>, so the F_2 (l2)
  bias is the Frobenius norm of M and the F_1 (l1) bias its nuclear norm.  :func:`frob_minnorm` is the
  min-Frobenius interpolant (= ridgeless degree-2 polynomial-kernel regression) by the pseudo-inverse, and
  :func:`frob_minnorm_nested` the same solution at every size of a nested grid from one QR per data set (what
  the chapter uses: the pseudo-inverse of the stacked n x d(d+1)/2 systems needs > 16 GB at d = 80),
  :func:`nuclear_fista` the nuclear-norm-penalised least squares by accelerated proximal gradient with
  eigenvalue soft-thresholding, :func:`quad_net_fit` a quadratic-activation network trained from small
  initialisation by the batched teacher-student engine (``lib.teacher_student.train``), whose implicit bias is
  nuclear.
  :func:`quad_net_norms`: the F_1 norm sum_j |a_j| |w_j|^2 of a network and the nuclear norm of its matrix.
* Hermite features (proof sketch, L211-L218): :func:`hermite_he`, :func:`hermite_features` (orthonormal
  multivariate h_alpha, |alpha| <= k, D = C(d+k, k)), :func:`ridge_power_theta` with (beta.x)^j = theta^T g(x)
  exactly.
* QuadNTK and signed dropout (L197-L207): :func:`signed_net` f_{W0 + Z W}, :func:`quad_model` f^Q,
  :func:`sign_average` (the exact average over z in {+-1}^m, neuron by neuron), :func:`l24_penalty`
  ||W Sigma^{1/2}||_{2,4}^4, :func:`train_quad_model` (f^Q on any representation, batched over data sets).
* Weight decay gives F_1 (L84): :func:`two_layer_gd` trains stacked two-layer ReLU nets with or without weight
  decay so that balancedness |a_j| = |w_j| can be measured.
* Paper-scale cost.  The chapter stacks nested sample sizes n_1 < ... < n_S as zero-padded problems with prefix
  masks; :func:`nuclear_fista` (``counts``), :func:`train_prefix_groups` (and :func:`quad_net_fit` through it) and
  :func:`train_quad_model` evaluate each problem on its own n_s rows only (sum_s n_s instead of S n_S work, the
  same iterates up to rounding).  :func:`krr_per_dataset` runs ``lib.kernels.krr_nested`` one data set at a time
  (one N x N Gram in memory), :func:`relu_feature_gram` forms F^T F of random ReLU features in row chunks.

Used by book/low_rank_polynomials.md (T1-T7).
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import torch
from torch import Tensor

from lib import kernels as kr
from lib import teacher_student as ts

__all__ = [
    "gaussian_moment",
    "haar_frames",
    "low_rank_quadratic",
    "quad_forms",
    "frob_minnorm",
    "frob_minnorm_nested",
    "nuclear_fista",
    "matrix_rel_error",
    "quad_net_fit",
    "train_prefix_groups",
    "quad_net_norms",
    "hermite_he",
    "multi_indices",
    "hermite_features",
    "ridge_power_theta",
    "half_relu_sq",
    "signed_net",
    "quad_model",
    "sign_average",
    "l24_penalty",
    "sqrtm_psd",
    "train_quad_model",
    "quadntk_errors",
    "two_layer_gd",
    "krr_per_dataset",
    "relu_feature_gram",
]


def gaussian_moment(p: int) -> int:
    """E[z^{2p}] = (2p-1)!! for z ~ N(0,1) (so E[(w.x)^{2p}] = |w|^{2p} (2p-1)!!, definition L150)."""
    if not (isinstance(p, int) and p >= 0):
        raise ValueError(f"p={p!r}: accepted values are integers >= 0")
    return int(np.prod(np.arange(2 * p - 1, 0, -2))) if p > 0 else 1


# ------------------------------------------------------------------------------------------- teachers
def haar_frames(B: int, d: int, r: int, *, generator: torch.Generator, dtype=torch.float64) -> Tensor:
    """B Haar-random d x r matrices with orthonormal columns (QR of a Gaussian, signs fixed): (B, d, r)."""
    if not (1 <= r <= d):
        raise ValueError(f"r={r}: accepted values are 1 <= r <= d = {d}")
    G = torch.randn((B, d, r), generator=generator, device=generator.device, dtype=dtype)
    Q, R = torch.linalg.qr(G)
    return Q * torch.sign(torch.diagonal(R, dim1=-2, dim2=-1)).unsqueeze(-2)


def low_rank_quadratic(B: int, d: int, r: int, *, generator: torch.Generator, dtype=torch.float64) -> Tensor:
    """M* = U diag(1/sqrt r) U^T, U Haar (d x r): rank-r PSD, |M*|_F = 1 (T1 teacher).  Returns (B, d, d)."""
    U = haar_frames(B, d, r, generator=generator, dtype=dtype)
    return U @ U.transpose(-1, -2) / math.sqrt(r)


def quad_forms(X: Tensor, M: Tensor) -> Tensor:
    """x_i^T M x_i.  X: (B, n, d), M: (B, d, d) -> (B, n)."""
    return torch.einsum("bni,bij,bnj->bn", X, M, X)


# ------------------------------------------------------------------------------ F_2 = Frobenius, F_1 = nuclear
def _vech_index(d: int):
    return torch.triu_indices(d, d)


def frob_minnorm(X: Tensor, y: Tensor) -> Tensor:
    """The symmetric M of least Frobenius norm minimising sum_i (x_i^T M x_i - y_i)^2 (an interpolant when
    n <= d(d+1)/2 generically): least squares on vech(x x^T) with sqrt(2) on the off-diagonal, solved by the
    pseudo-inverse.  X: (B, n, d), y: (B, n) -> (B, d, d).  Zero rows of X (padding) with zero y are no-ops.
    Memory B n D and one SVD per data set: the reference for :func:`frob_minnorm_nested`, which the chapter uses."""
    B, n, d = X.shape
    i, j, w = _vech_weights(d, X.dtype, X.device)
    F = X[..., i] * X[..., j] * w                                                 # (B, n, D)
    v = (torch.linalg.pinv(F) @ y.unsqueeze(-1)).squeeze(-1)                      # (B, D) weighted coordinates
    return _sym_from_vech(v, d, i, j)


def _vech_weights(d: int, dtype, device) -> tuple[Tensor, Tensor, Tensor]:
    """(i, j, w): upper-triangle indices and the weights 1 (diagonal) / sqrt 2 (off-diagonal) that make
    <vech_w(x x^T), vech_w(z z^T)> = <x x^T, z z^T>_F = (x.z)^2."""
    i, j = _vech_index(d)
    i, j = i.to(device), j.to(device)
    return i, j, _offdiag_weights(i, j, math.sqrt(2.0), dtype)


def _offdiag_weights(i: Tensor, j: Tensor, off: float, dtype) -> Tensor:
    """1 on the diagonal pairs (i == j), ``off`` elsewhere, built in ``dtype`` (torch.where with Python scalars
    would round sqrt 2 to float32, a 1e-8 relative error in the minimised norm)."""
    w = torch.ones(i.shape, dtype=dtype, device=i.device)
    w[i != j] = off
    return w


def _sym_from_vech(v: Tensor, d: int, i: Tensor, j: Tensor) -> Tensor:
    """Symmetric (..., d, d) from its weighted upper-triangle coordinates v (..., D) (inverse of vech_w)."""
    w = _offdiag_weights(i, j, math.sqrt(2.0), v.dtype)
    M = torch.zeros(*v.shape[:-1], d, d, dtype=v.dtype, device=v.device)
    M[..., i, j] = v / w
    M[..., j, i] = v / w
    return M


def frob_minnorm_nested(X: Tensor, y: Tensor, sizes) -> Tensor:
    """:func:`frob_minnorm` on the first n samples, for every n in ``sizes``, without padding or a pseudo-inverse.

    X: (B, N, d), y: (B, N), sizes: strictly increasing ints in [1, N].  Returns M (S, B, d, d) with
    M[s, b] the symmetric matrix of least Frobenius norm among the minimisers of
    sum_{i < n_s} (x_i^T M x_i - y_i)^2, i.e. v = F_n^+ y_n in the weighted vech coordinates
    F_n = [vech_w(x_i x_i^T)]_{i < n} (n x D, D = d(d+1)/2), the same solution as :func:`frob_minnorm`.

    How (one data set at a time, so the memory is O(N D), never B x N x D):

    * n <= D (under-determined, full row rank generically).  One Householder QR of the *columns*
      F_{n_u}^T = Q R (D x n_u, n_u the largest such size) serves every such n: the first n columns of F^T are
      Q[:, :n] R[:n, :n], so the minimum-norm solution of F_n v = y_n is v_n = Q[:, :n] R[:n, :n]^{-T} y_n, and the
      forward substitution with the lower-triangular R^T only reads the first n rows, so u = R^{-T} y is shared:
      v_n = Q [u[:n]; 0].  Cost: one 2 D n_u^2 - 2 n_u^3/3 factorisation instead of an SVD per size.
    * n > D (over-determined, full column rank generically): the least-squares solution v = R^{-1} Q^T y_n from
      the QR of F_n (n x D), one per such size.
    * A size whose triangular factor is numerically singular (min |R_ii| <= 1e-10 max |R_ii|: rank-deficient data,
      e.g. repeated or zero rows) is solved by ``torch.linalg.pinv`` instead, so the result is always F_n^+ y_n.
    """
    if X.dim() != 3 or y.shape != X.shape[:2]:
        raise ValueError(f"X must be (B, N, d) and y (B, N), got {tuple(X.shape)} and {tuple(y.shape)}")
    B, N, d = X.shape
    sizes = [int(n) for n in sizes]
    if not sizes or sizes[0] < 1 or sizes[-1] > N or any(b <= a for a, b in zip(sizes, sizes[1:])):
        raise ValueError(f"sizes={sizes}: accepted values are strictly increasing integers in [1, N = {N}]")
    i, j, w = _vech_weights(d, X.dtype, X.device)
    D = len(w)
    under = [n for n in sizes if n <= D]
    over = [n for n in sizes if n > D]
    V = torch.empty(len(sizes), B, D, dtype=X.dtype, device=X.device)
    rtol = 1e-10

    def singular(Rd: Tensor) -> bool:
        a = Rd.abs()
        return bool(a.min() <= rtol * a.max()) if a.numel() else False

    for b in range(B):
        F = X[b, :, i] * X[b, :, j] * w                                              # (N, D)
        if under:
            nu = under[-1]
            A = F[:nu].T.contiguous()                                                 # (D, nu): columns = samples
            a, tau = torch.geqrf(A)
            R = torch.triu(a[:nu, :nu])
            u = torch.linalg.solve_triangular(R.T, y[b, :nu].unsqueeze(-1), upper=False).squeeze(-1)   # (nu,)
            Z = torch.zeros(D, len(under), dtype=X.dtype, device=X.device)
            for s, n in enumerate(under):
                Z[:n, s] = u[:n]
            Vu = torch.ormqr(a, tau, Z, left=True, transpose=False)                   # Q [u[:n]; 0]: (D, S_u)
            diag = torch.diagonal(R)
            for s, n in enumerate(under):
                V[s, b] = torch.linalg.pinv(F[:n]) @ y[b, :n] if singular(diag[:n]) else Vu[:, s]
        for s, n in enumerate(over, start=len(under)):
            a, tau = torch.geqrf(F[:n])                                               # (n, D)
            R = torch.triu(a[:D, :D])
            if singular(torch.diagonal(R)):
                V[s, b] = torch.linalg.pinv(F[:n]) @ y[b, :n]
                continue
            qty = torch.ormqr(a, tau, y[b, :n].unsqueeze(-1), left=True, transpose=True)[:D]     # (Q^T y)[:D]
            V[s, b] = torch.linalg.solve_triangular(R, qty, upper=True).squeeze(-1)
    return _sym_from_vech(V, d, i, j)


def _sv_threshold_sym(M: Tensor, tau: Tensor) -> Tensor:
    """Prox of tau |.|_* on symmetric matrices: eigenvalue soft-thresholding.  M: (B, d, d), tau: (B,)."""
    ev, V = torch.linalg.eigh(M)
    ev = torch.sign(ev) * (ev.abs() - tau.view(-1, 1)).clamp_min(0.0)
    return (V * ev.unsqueeze(-2)) @ V.transpose(-1, -2)


def _prefix_groups(counts, B: int, N: int) -> list[tuple[slice | Tensor, int]]:
    """Problems grouped by their number of valid leading rows: [(rows, n), ...] in order of first appearance;
    ``rows`` is a slice when the group is a contiguous run of problems (the size-major stacks of the chapter), else
    an index tensor."""
    counts = [int(c) for c in torch.as_tensor(counts).reshape(-1).tolist()]
    if len(counts) != B or min(counts) < 1 or max(counts) > N:
        raise ValueError(f"counts must hold B = {B} integers in [1, N = {N}], got {counts}")
    groups: dict[int, list[int]] = {}
    for b, c in enumerate(counts):
        groups.setdefault(c, []).append(b)
    out = []
    for n, idx in groups.items():
        rows = slice(idx[0], idx[-1] + 1) if idx == list(range(idx[0], idx[-1] + 1)) else torch.tensor(idx)
        out.append((rows, n))
    return out


def _prefix_mask_groups(mask: Tensor | None, B: int, N: int) -> list[tuple[slice | Tensor, int]] | None:
    """:func:`_prefix_groups` of a (B, N) 0/1 mask whose every row is a prefix 1...1 0...0 with at least one 1
    (a zero-padded stack of nested sample sizes); None when there is no mask or it is not of that form."""
    if mask is None:
        return None
    c = mask.sum(1).round().long()
    prefix = (torch.arange(N, device=mask.device) < c.unsqueeze(1)).to(mask.dtype)
    if not ((c >= 1).all() and torch.equal(prefix, mask)):
        return None
    return _prefix_groups(c, B, N)


def nuclear_fista(X: Tensor, y: Tensor, *, iters: int = 500, lam_final: float = 1e-6, decay: float = 0.97,
                  power_iters: int = 30, generator: torch.Generator | None = None, counts=None) -> Tensor:
    """Nuclear-norm regularised least squares  min_M 1/2 sum_i (x_i^T M x_i - y_i)^2 + lam |M|_*  by FISTA with
    step 1/L (L = |A|^2 by power iteration) and eigenvalue soft-thresholding, with continuation
    lam_k = max(lam_final, lam_0 decay^k) * |A^*(y)|_op, lam_0 = 1/2 (so lam -> 0: the minimum-nuclear-norm
    interpolant in the limit).  Batched over B independent problems: X: (B, n, d), y: (B, n) -> M (B, d, d).
    Zero rows of X with zero y (padding) contribute nothing.

    ``counts`` (B ints, optional): problem b uses only its first counts[b] rows (what follows is ignored).  The
    operators A(M)_i = x_i^T M x_i and A^*(r) = sum_i r_i x_i x_i^T, which cost O(n d^2) per problem and dominate,
    are then evaluated per group of equal counts on the valid rows only (a zero-padded stack of nested sample
    sizes n_1 < ... < n_S costs sum_s n_s instead of S n_S); the prox (eigh) stays batched over all B.  The
    iterates are those of the padded call up to rounding (zero rows add exact zeros)."""
    if not (isinstance(iters, int) and iters >= 1):
        raise ValueError(f"iters={iters!r}: accepted values are integers >= 1")
    if not (0 < decay < 1):
        raise ValueError(f"decay={decay!r}: accepted values are in (0, 1)")
    B, n, d = X.shape
    if counts is None:
        parts = [(None, X, y)]
    else:
        parts = [(rows, X[rows, :c].contiguous(), y[rows, :c].contiguous()) for rows, c in _prefix_groups(counts, B, n)]

    def A(Xg, M):  # (b, n, d), (b, d, d) -> (b, n)
        return quad_forms(Xg, M)

    def At(Xg, r):  # (b, n) -> (b, d, d)
        return torch.einsum("bn,bni,bnj->bij", r, Xg, Xg)

    def per_group(fn, M, shape):  # fn(Xg, yg, M[rows]) group by group, scattered into a (B, *shape)
        if parts[0][0] is None:
            _, Xg, yg = parts[0]
            return fn(Xg, yg, M)
        out = torch.empty((B, *shape), dtype=X.dtype, device=X.device)
        for rows, Xg, yg in parts:
            out[rows] = fn(Xg, yg, None if M is None else M[rows])
        return out

    g = generator
    P = torch.randn((B, d, d), generator=g, device=g.device, dtype=X.dtype).to(X.device) if g is not None else \
        torch.ones((B, d, d), device=X.device, dtype=X.dtype)
    P = P + P.transpose(-1, -2)
    for _ in range(power_iters):
        P = per_group(lambda Xg, yg, Pg: At(Xg, A(Xg, Pg)), P, (d, d))
        P = P / P.flatten(1).norm(dim=1).clamp_min(1e-300).view(-1, 1, 1)
    Lip = per_group(lambda Xg, yg, Pg: (A(Xg, Pg) ** 2).sum(1), P, ()).clamp_min(1e-300) * 1.05    # (B,)
    scale = torch.linalg.matrix_norm(per_group(lambda Xg, yg, _: At(Xg, yg), None, (d, d)), ord=2)  # (B,)
    M = torch.zeros(B, d, d, dtype=X.dtype, device=X.device)
    Z, t = M.clone(), 1.0
    for k in range(iters):
        lam = max(lam_final, 0.5 * decay**k) * scale
        G = per_group(lambda Xg, yg, Zg: At(Xg, A(Xg, Zg) - yg), Z, (d, d))
        M_new = _sv_threshold_sym(Z - G / Lip.view(-1, 1, 1), lam / Lip)
        t_new = (1 + math.sqrt(1 + 4 * t * t)) / 2
        Z = M_new + ((t - 1) / t_new) * (M_new - M)
        M, t = M_new, t_new
    return M


def matrix_rel_error(M: Tensor, M_star: Tensor) -> Tensor:
    """|M - M*|_F / |M*|_F, batched: (B, d, d) -> (B,).  For Gaussian x this equals the relative test error
    sqrt(E(f - f*)^2 / E(f* - E f*)^2) exactly up to the trace term; the chapter reports test errors too."""
    return torch.linalg.matrix_norm(M - M_star) / torch.linalg.matrix_norm(M_star)


def train_prefix_groups(W0: Tensor, X: Tensor, y: Tensor, train_mask: Tensor | None = None, **train_kw) -> Tensor:
    """``lib.teacher_student.train(W0, X, y, train_mask=train_mask, **train_kw).W`` for a zero-padded stack of
    nested sample sizes, at the cost of the valid rows only.

    When every row of ``train_mask`` is a prefix (model b sees its first c_b samples), the mask is not passed on:
    the models are trained group by group of equal c_b on those rows only, one engine call per group, from the
    same initial weights.  The engine's loss is a per-model mean and Adam/GD are elementwise, so each model follows
    the masked run's trajectory up to float rounding, at cost sum_b c_b instead of B n per epoch.  Any other mask
    (or none) goes to one engine call unchanged.  W0: (B, d, m), X: (B, n, d), y: (B, n) -> W (B, d, m)."""
    B, n, _ = X.shape
    groups = _prefix_mask_groups(train_mask, B, n)
    if groups is None:
        return ts.train(W0, X, y, train_mask=train_mask, **train_kw).W
    W = torch.empty_like(W0)
    for rows, cnt in groups:
        W[rows] = ts.train(W0[rows], X[rows, :cnt].contiguous(), y[rows, :cnt].contiguous(),
                           **train_kw).W.to(W.device)
    return W


def quad_net_fit(X: Tensor, y: Tensor, *, m: int, init_scale: float = 1e-3, lr: float = 0.02, epochs: int = 2000,
                 generator: torch.Generator, train_mask: Tensor | None = None) -> Tensor:
    """A quadratic-activation network f(x) = m^{-1/2} sum_j (w_j.x)^2 from small initialisation (entries
    N(0, init_scale^2)), trained by full-batch Adam on the mean squared loss with the batched teacher-student
    engine (lib.teacher_student.train, activation t -> t^2).  Output weights are +1, so the net represents
    PSD matrices, enough for the PSD teachers of T1.  X: (B, n, d), y: (B, n) -> M = W W^T / sqrt(m) (B, d, d).
    A prefix ``train_mask`` (nested sample sizes) is trained on the valid rows only (:func:`train_prefix_groups`)."""
    B, n, d = X.shape
    W0 = init_scale * torch.randn((B, d, m), generator=generator, device=generator.device, dtype=X.dtype)
    W = train_prefix_groups(W0, X, y, train_mask, optimizer="adam", lr=lr, epochs=epochs, activation=torch.square)
    return W @ W.transpose(-1, -2) / math.sqrt(m)


def quad_net_norms(a: Tensor, W: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """For f(x) = sum_j a_j (w_j.x)^2: returns (M = sum_j a_j w_j w_j^T, the network's F_1 norm
    sum_j |a_j| |w_j|^2, the nuclear norm |M|_*).  a: (B, m), W: (B, d, m).  The F_1 norm is >= |M|_* with
    equality for the eigen-decomposition (B5.1)."""
    M = torch.einsum("bj,bij,bkj->bik", a, W, W)
    f1 = (a.abs() * (W**2).sum(1)).sum(1)
    nuc = torch.linalg.matrix_norm(M, ord="nuc")
    return M, f1, nuc


# ------------------------------------------------------------------------------------------------- Hermite
def hermite_he(z: Tensor, kmax: int) -> Tensor:
    """Probabilists' Hermite polynomials He_0..He_kmax by He_{k+1} = z He_k - k He_{k-1}.  z: (...) -> (..., kmax+1)."""
    if not (isinstance(kmax, int) and kmax >= 0):
        raise ValueError(f"kmax={kmax!r}: accepted values are integers >= 0")
    H = [torch.ones_like(z), z]
    for k in range(1, kmax):
        H.append(z * H[k] - k * H[k - 1])
    return torch.stack(H[: kmax + 1], -1)


def multi_indices(d: int, k: int) -> np.ndarray:
    """All alpha in N^d with |alpha| <= k, graded by degree: (D, d) int, D = C(d+k, k)."""
    if d < 1 or k < 0:
        raise ValueError(f"d={d}, k={k}: accepted values are d >= 1, k >= 0")
    rows = []
    for deg in range(k + 1):
        for combo in itertools.combinations_with_replacement(range(d), deg):
            a = np.zeros(d, int)
            for i in combo:
                a[i] += 1
            rows.append(a)
    return np.array(rows)


def hermite_features(X: Tensor, k: int) -> Tensor:
    """Orthonormal multivariate Hermite features h_alpha(x) = prod_i He_{alpha_i}(x_i)/sqrt(alpha_i!), |alpha| <= k
    (E h_alpha h_beta = delta under N(0, I)).  X: (..., n, d) -> (..., n, D), D = C(d+k, k) (L213: "Hermite
    polynomial basis of degree p/2", taken as all degrees <= p/2)."""
    d = X.shape[-1]
    al = torch.as_tensor(multi_indices(d, k), device=X.device)                       # (D, d)
    fact = torch.tensor([math.sqrt(math.factorial(j)) for j in range(k + 1)], dtype=X.dtype, device=X.device)
    H = hermite_he(X, k) / fact                                                      # (..., n, d, k+1)
    idx = al.T.expand(*X.shape[:-1], d, al.shape[0])                                 # (..., n, d, D)
    return torch.gather(H, -1, idx).prod(-2)


def ridge_power_theta(beta: Tensor, j: int) -> Tensor:
    """theta with (beta.x)^j = theta^T g(x) exactly, g = hermite_features(., j), |beta| = 1 (L214).

    From z^j = sum_{k = j mod 2} j!/(k! m! 2^m) He_k(z), m = (j-k)/2, and
    He_k(beta.x) = sum_{|alpha|=k} k!/alpha! beta^alpha prod_i He_{alpha_i}(x_i):
    theta_alpha = j!/(k! m! 2^m) * k!/sqrt(alpha!) * beta^alpha with k = |alpha|.  beta: (d,) -> (D,)."""
    if not (isinstance(j, int) and j >= 0):
        raise ValueError(f"j={j!r}: accepted values are integers >= 0")
    d = beta.shape[-1]
    al = multi_indices(d, j)
    out = np.zeros(len(al))
    b = beta.detach().cpu().double().numpy()
    for t, a in enumerate(al):
        k = int(a.sum())
        if (j - k) % 2:
            continue
        mm = (j - k) // 2
        coef = math.factorial(j) / (math.factorial(k) * math.factorial(mm) * 2**mm)
        out[t] = coef * math.factorial(k) / math.sqrt(float(np.prod([math.factorial(x) for x in a]))) \
            * float(np.prod(b ** a))
    return torch.as_tensor(out, dtype=beta.dtype, device=beta.device)


# --------------------------------------------------------------------------------- QuadNTK, signed dropout
def half_relu_sq(t: Tensor) -> Tensor:
    """sigma(t) = relu(t)^2 / 2, so sigma' = relu and sigma'' = 1{t > 0} (the QuadNTK activation)."""
    return 0.5 * torch.relu(t) ** 2


def signed_net(Phi: Tensor, W0: Tensor, a: Tensor, W: Tensor, z: Tensor) -> Tensor:
    """f_{W0 + Z W}(x) = m^{-1/2} sum_r a_r sigma((w0_r + z_r w_r).phi), sigma = relu^2/2 (L205: signed dropout).
    Phi: (n, D), W0: (D, m), a: (m,), W: (..., D, m), z: (..., m) -> (..., n)."""
    m = W0.shape[1]
    Wz = W0 + W * z.unsqueeze(-2)
    return (half_relu_sq(Phi @ Wz) * a).sum(-1) / math.sqrt(m)


def quad_model(Phi: Tensor, W0: Tensor, a: Tensor, W: Tensor) -> Tensor:
    """f^Q(x) = (2 sqrt m)^{-1} sum_r a_r sigma''(w0_r.phi) (w_r.phi)^2, the second-order Taylor term of
    :func:`signed_net` in W (L216-L218).  Phi: (..., n, D), W0: (D, m), a: (m,), W: (..., D, m) -> (..., n)."""
    m = W0.shape[1]
    gate = (Phi @ W0 > 0).to(Phi.dtype)
    return (gate * (Phi @ W) ** 2 * a).sum(-1) / (2 * math.sqrt(m))


def sign_average(Phi: Tensor, W0: Tensor, a: Tensor, W: Tensor) -> Tensor:
    """E_z f_{W0+ZW}(x) over z uniform in {+-1}^m, exactly: the net is a sum over neurons, so the average is
    m^{-1/2} sum_r a_r [sigma(u_r + v_r) + sigma(u_r - v_r)] / 2 with u = W0.phi, v = W.phi.  Odd orders in W
    (the NTK / linear term) cancel.  Phi: (n, D), W: (D, m) -> (n,)."""
    m = W0.shape[1]
    U, V = Phi @ W0, Phi @ W
    return ((half_relu_sq(U + V) + half_relu_sq(U - V)) / 2 * a).sum(-1) / math.sqrt(m)


def l24_penalty(W: Tensor, Sigma: Tensor) -> Tensor:
    """||W^T Sigma^{1/2}||_{2,4}^4 = sum_r (w_r^T Sigma w_r)^2 (the whitened regulariser of L203; rows of the
    slide's W are the neurons w_r = columns here).  W: (..., D, m), Sigma: (D, D) PSD -> (...)."""
    q = torch.einsum("...ir,ij,...jr->...r", W, Sigma, W)
    return (q**2).sum(-1)


def sqrtm_psd(S: Tensor) -> Tensor:
    """Symmetric square root of a PSD matrix (clipped eigenvalues).  (D, D) -> (D, D)."""
    ev, V = torch.linalg.eigh(S)
    return (V * ev.clamp_min(0).sqrt()) @ V.T


def train_quad_model(Phi: Tensor, y: Tensor, *, m: int, steps: int, lr: float, generator: torch.Generator,
                     train_mask: Tensor | None = None, lam: float = 0.0, Sigma: Tensor | None = None,
                     init_scale: float = 1e-3) -> tuple[Tensor, Tensor, Tensor]:
    """Train the QuadNTK model f^Q on features Phi for B data sets at once (full-batch Adam, mean squared loss
    over the valid samples + lam * l24_penalty(W, Sigma) / m).  W0 has pairs of equal columns with a = +1, -1
    (so the full net is 0 at initialisation, as in AzLL / Bai & Lee); W starts at init_scale with equal pairs.
    Phi: (B, n, D), y: (B, n), train_mask: (B, n) of 0/1 -> (W0 (D, m), a (m,), W (B, D, m)).

    A ``train_mask`` whose rows are prefixes (data set b uses its first c_b samples: the zero-padded stack of nested
    sample sizes that :func:`quadntk_errors` builds) is not applied by multiplication: the loss of each group of
    equal c_b is evaluated on those c_b rows only, so the (B, n, m) gated activations shrink to sum_b c_b rows (the
    cost and memory of a geometric size grid drop 4-5x).  The loss, hence every Adam step (one optimiser over the
    whole W, elementwise), is that of the masked run up to float rounding.  Any other mask is multiplied in."""
    if m % 2:
        raise ValueError(f"m={m}: accepted values are even integers (symmetric pairs)")
    B, n, D = Phi.shape
    dev, dt = Phi.device, Phi.dtype
    half = torch.randn((D, m // 2), generator=generator, device=generator.device, dtype=dt).to(dev) / math.sqrt(D)
    W0 = torch.cat([half, half], 1)
    a = torch.cat([torch.ones(m // 2), -torch.ones(m // 2)]).to(dev, dt)
    h = init_scale * torch.randn((B, D, m // 2), generator=generator, device=generator.device, dtype=dt).to(dev)
    W = torch.cat([h, h], 2).requires_grad_(True)
    groups = _prefix_mask_groups(None if train_mask is None else train_mask.to(dt), B, n)
    if groups is None:
        mask = torch.ones_like(y) if train_mask is None else train_mask.to(dt)
        parts = [(slice(None), Phi, y, mask, mask.sum(1).clamp_min(1))]
    else:
        parts = [(rows, Phi[rows, :c].contiguous(), y[rows, :c].contiguous(), None, float(c)) for rows, c in groups]
    gates = [(P_ @ W0 > 0).to(dt) for _, P_, _, _, _ in parts]                       # (b, n_g, m) each
    opt = torch.optim.Adam([W], lr=lr)
    for _ in range(steps):
        loss = 0.0
        for (rows, P_, y_, mk, cnt), gate in zip(parts, gates):
            f = (gate * (P_ @ W[rows]) ** 2 * a).sum(-1) / (2 * math.sqrt(m))
            r2 = (f - y_) ** 2 if mk is None else (f - y_) ** 2 * mk
            loss = loss + (r2.sum(1) / cnt).sum()
        if lam > 0:
            S_ = Sigma if Sigma is not None else torch.eye(D, dtype=dt, device=dev)
            loss = loss + lam * l24_penalty(W, S_).sum() / m
        opt.zero_grad()
        loss.backward()
        opt.step()
    return W0, a, W.detach()


def quadntk_errors(Phi: Tensor, y: Tensor, Phi_t: Tensor, y_t: Tensor, sizes, *, m: int, steps: int, lr: float,
                   generator: torch.Generator, lam: float = 0.0, whiten: bool = False) -> Tensor:
    """Relative test error of the QuadNTK model trained on the first n samples, for every n in ``sizes`` and every
    data set, in ONE call of :func:`train_quad_model` (sizes x data sets stacked, padded by prefix masks, which
    that function evaluates on the valid rows only).

    Phi: (B, N, D) training features, y: (B, N), Phi_t: (B, M, D), y_t: (B, M).  ``whiten``: penalise with the
    empirical covariance Sigma_hat = Phi^T Phi / N of the first data set's features (Step 1, L199) and weight lam.
    Returns (S, B) relative test errors (T5, T6 at paper scale)."""
    B, N, D = Phi.shape
    sizes = [int(n) for n in sizes]
    if not sizes or sizes[-1] > N or any(b <= a for a, b in zip(sizes, sizes[1:])):
        raise ValueError(f"sizes={sizes}: accepted values are strictly increasing integers <= N = {N}")
    S = len(sizes)
    mask = torch.stack([(torch.arange(N, device=Phi.device) < n) for n in sizes]).to(Phi.dtype)    # (S, N)
    mask = mask.repeat_interleave(B, 0)                                                              # (S*B, N)
    Sigma = Phi[0].T @ Phi[0] / N if whiten else None
    W0, a, W = train_quad_model(Phi.repeat(S, 1, 1), y.repeat(S, 1), m=m, steps=steps, lr=lr, generator=generator,
                                train_mask=mask, lam=lam, Sigma=Sigma)
    pred = quad_model(Phi_t.repeat(S, 1, 1), W0, a, W)                                              # (S*B, M)
    yt = y_t.repeat(S, 1)
    err = ((pred - yt) ** 2).mean(-1) / yt.var(-1, unbiased=False).clamp_min(1e-300)
    return err.view(S, B)


# ------------------------------------------------------------------------------ weight decay gives F_1 (T7)
def two_layer_gd(X: Tensor, y: Tensor, *, m: int, wd: float, steps: int, lr: float, generator: torch.Generator,
                 B: int = 1, init_scale: float = 0.5) -> dict[str, Tensor]:
    """B two-layer ReLU nets f(x) = sum_j a_j relu(w_j.x) trained by full-batch GD on
    1/(2n) sum (f - y)^2 + wd/2 (|a|^2 + |W|_F^2), all at once.  X: (n, d), y: (n,).  Returns a (B, m),
    W (B, d, m), and the initial balance a_j^2 - |w_j|^2 (B, m) ("balance0") for the conservation check."""
    n, d = X.shape
    W = init_scale * torch.randn((B, d, m), generator=generator, device=generator.device, dtype=X.dtype) / math.sqrt(d)
    a = init_scale * torch.randn((B, m), generator=generator, device=generator.device, dtype=X.dtype) / math.sqrt(m)
    bal0 = a**2 - (W**2).sum(1)
    for _ in range(steps):  # hand-written gradients (checked against autograd in tests/test_low_rank.py)
        H = X @ W                                                                       # (B, n, m)
        A = torch.relu(H)
        r = ((A * a.unsqueeze(1)).sum(-1) - y) / n                                      # (B, n)
        ga = torch.einsum("bn,bnm->bm", r, A) + wd * a
        gW = torch.einsum("nd,bnm->bdm", X, r.unsqueeze(-1) * (H > 0).to(X.dtype) * a.unsqueeze(1)) + wd * W
        a = a - lr * ga
        W = W - lr * gW
    return {"a": a, "W": W, "balance0": bal0}


# ------------------------------------------------------------------ memory-bounded kernel regression (T2-T5)
def krr_per_dataset(kernel, X: Tensor, y: Tensor, X_test: Tensor, sizes, lam: float) -> Tensor:
    """``kr.krr_nested(kernel(X, X), y, kernel(X_test, X), sizes, lam)`` one data set at a time, so that only one
    (N, N) Gram (and its Cholesky factor) is in memory instead of B of them; the arithmetic per data set is the
    same.  kernel: (b, n1, p), (b, n2, p) -> (b, n1, n2).  X: (B, N, p), y: (B, N), X_test: (B, M, p) ->
    predictions (S, B, M) for the sizes of the nested grid (lib.kernels.krr_nested)."""
    if X.dim() != 3 or y.shape != X.shape[:2] or X_test.dim() != 3 or X_test.shape[0] != X.shape[0]:
        raise ValueError(f"X (B, N, p), y (B, N), X_test (B, M, p) expected, got {tuple(X.shape)}, {tuple(y.shape)}, "
                         f"{tuple(X_test.shape)}")
    out = []
    for b in range(X.shape[0]):
        Xb = X[b:b + 1]
        out.append(kr.krr_nested(kernel(Xb, Xb), y[b:b + 1], kernel(X_test[b:b + 1], Xb), sizes, lam))
    return torch.cat(out, 1)


def relu_feature_gram(X: Tensor, W: Tensor, b: Tensor, y: Tensor, *, row_chunk: int = 4096,
                      col_block: int = 1024) -> tuple[Tensor, Tensor]:
    """(F^T F, F^T y) for the random ReLU features F = relu(X W + b) / sqrt(N) of ``kr.relu_features`` without
    forming F: rows are taken ``row_chunk`` at a time (memory row_chunk x N, not n x N), and of the symmetric
    F^T F only the blocks on and above the diagonal (``col_block`` columns wide) are multiplied, then mirrored
    (about (k+1)/(2k) of the flops of F^T F with k = N / col_block blocks).  Equal to the direct products up to
    float rounding.  X: (n, d), W: (d, N), b: (N,), y: (n,) -> ((N, N), (N,))."""
    if X.dim() != 2 or W.dim() != 2 or X.shape[1] != W.shape[0] or b.shape != (W.shape[1],) or y.shape != X.shape[:1]:
        raise ValueError(f"X (n, d), W (d, N), b (N,), y (n,) expected, got {tuple(X.shape)}, {tuple(W.shape)}, "
                         f"{tuple(b.shape)}, {tuple(y.shape)}")
    if row_chunk < 1 or col_block < 1:
        raise ValueError(f"row_chunk={row_chunk}, col_block={col_block}: accepted values are positive integers")
    n, N = X.shape[0], W.shape[1]
    G = torch.zeros(N, N, dtype=X.dtype, device=X.device)
    Fy = torch.zeros(N, dtype=X.dtype, device=X.device)
    edges = list(range(0, N, col_block)) + [N]
    blocks = [(lo, hi) for lo, hi in zip(edges, edges[1:])]
    for r0 in range(0, n, row_chunk):
        F = kr.relu_features(X[r0:r0 + row_chunk], W, b)                          # (chunk, N)
        Fy += F.T @ y[r0:r0 + row_chunk]
        for i, (a0, a1) in enumerate(blocks):
            Fa = F[:, a0:a1].T
            for c0, c1 in blocks[i:]:
                G[a0:a1, c0:c1] += Fa @ F[:, c0:c1]
    for i, (a0, a1) in enumerate(blocks):
        for c0, c1 in blocks[i + 1:]:
            G[c0:c1, a0:a1] = G[a0:a1, c0:c1].T
    return G, Fy
