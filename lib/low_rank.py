"""Low-rank polynomials: F_1 vs F_2 for quadratic activations, Hermite features, QuadNTK with signed dropout.

Document 002 (Lee et al. 2020, slides), as implemented here:

* Teachers.  Rank-r quadratics f*(x) = x^T M* x, M* = U diag(a) U^T (L144-L150 with p_s = 2), and the Gaussian
  moment E[(w.x)^{2p}] = |w|^{2p} (2p-1)!! that normalises them (definition, L150).
* F_2 vs F_1 for quadratic activation (L124-L141): int rho(w) (w.x)^2 = <int rho w w^T, x x^T>, so the F_2 (l2)
  bias is the Frobenius norm of M and the F_1 (l1) bias its nuclear norm.  :func:`frob_minnorm` is the
  min-Frobenius interpolant (= ridgeless degree-2 polynomial-kernel regression), :func:`nuclear_fista` the
  nuclear-norm-penalised least squares by accelerated proximal gradient with eigenvalue soft-thresholding,
  :func:`quad_net_fit` a quadratic-activation network trained from small initialisation by the batched
  teacher-student engine (``lib.teacher_student.train``), whose implicit bias is nuclear.
  :func:`quad_net_norms`: the F_1 norm sum_j |a_j| |w_j|^2 of a network and the nuclear norm of its matrix.
* Hermite features (proof sketch, L211-L218): :func:`hermite_he`, :func:`hermite_features` (orthonormal
  multivariate h_alpha, |alpha| <= k, D = C(d+k, k)), :func:`ridge_power_theta` with (beta.x)^j = theta^T g(x)
  exactly.
* QuadNTK and signed dropout (L197-L207): :func:`signed_net` f_{W0 + Z W}, :func:`quad_model` f^Q,
  :func:`sign_average` (the exact average over z in {+-1}^m, neuron by neuron), :func:`l24_penalty`
  ||W Sigma^{1/2}||_{2,4}^4, :func:`train_quad_model` (f^Q on any representation, batched over data sets).
* Weight decay gives F_1 (L84): :func:`two_layer_gd` trains stacked two-layer ReLU nets with or without weight
  decay so that balancedness |a_j| = |w_j| can be measured.

Used by book/low_rank_polynomials.md (T1, T4, T5, T6, T7).
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import torch
from torch import Tensor

from lib import teacher_student as ts

__all__ = [
    "gaussian_moment",
    "haar_frames",
    "low_rank_quadratic",
    "quad_forms",
    "frob_minnorm",
    "nuclear_fista",
    "matrix_rel_error",
    "quad_net_fit",
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
    pseudo-inverse.  X: (B, n, d), y: (B, n) -> (B, d, d).  Zero rows of X (padding) with zero y are no-ops."""
    B, n, d = X.shape
    i, j = _vech_index(d)
    w = torch.where(i == j, 1.0, math.sqrt(2.0)).to(X.dtype)
    F = X[..., i] * X[..., j] * w                                                 # (B, n, D)
    v = (torch.linalg.pinv(F) @ y.unsqueeze(-1)).squeeze(-1) * w                  # (B, D) entries M_ij
    M = torch.zeros(B, d, d, dtype=X.dtype, device=X.device)
    M[:, i, j] = v / torch.where(i == j, 1.0, 2.0).to(X.dtype)
    return M + M.transpose(-1, -2) - torch.diag_embed(torch.diagonal(M, dim1=-2, dim2=-1))


def _sv_threshold_sym(M: Tensor, tau: Tensor) -> Tensor:
    """Prox of tau |.|_* on symmetric matrices: eigenvalue soft-thresholding.  M: (B, d, d), tau: (B,)."""
    ev, V = torch.linalg.eigh(M)
    ev = torch.sign(ev) * (ev.abs() - tau.view(-1, 1)).clamp_min(0.0)
    return (V * ev.unsqueeze(-2)) @ V.transpose(-1, -2)


def nuclear_fista(X: Tensor, y: Tensor, *, iters: int = 500, lam_final: float = 1e-6, decay: float = 0.97,
                  power_iters: int = 30, generator: torch.Generator | None = None) -> Tensor:
    """Nuclear-norm regularised least squares  min_M 1/2 sum_i (x_i^T M x_i - y_i)^2 + lam |M|_*  by FISTA with
    step 1/L (L = |A|^2 by power iteration) and eigenvalue soft-thresholding, with continuation
    lam_k = max(lam_final, lam_0 decay^k) * |A^*(y)|_op, lam_0 = 1/2 (so lam -> 0: the minimum-nuclear-norm
    interpolant in the limit).  Batched over B independent problems: X: (B, n, d), y: (B, n) -> M (B, d, d).
    Zero rows of X with zero y (padding) contribute nothing."""
    if not (isinstance(iters, int) and iters >= 1):
        raise ValueError(f"iters={iters!r}: accepted values are integers >= 1")
    if not (0 < decay < 1):
        raise ValueError(f"decay={decay!r}: accepted values are in (0, 1)")
    B, n, d = X.shape

    def A(M):  # (B, d, d) -> (B, n)
        return quad_forms(X, M)

    def At(r):  # (B, n) -> (B, d, d)
        return torch.einsum("bn,bni,bnj->bij", r, X, X)

    g = generator
    P = torch.randn((B, d, d), generator=g, device=g.device, dtype=X.dtype).to(X.device) if g is not None else \
        torch.ones((B, d, d), device=X.device, dtype=X.dtype)
    P = P + P.transpose(-1, -2)
    for _ in range(power_iters):
        P = At(A(P))
        P = P / P.flatten(1).norm(dim=1).clamp_min(1e-300).view(-1, 1, 1)
    Lip = (A(P) ** 2).sum(1).clamp_min(1e-300) * 1.05                                # (B,)
    scale = torch.linalg.matrix_norm(At(y), ord=2)                                   # (B,)
    M = torch.zeros(B, d, d, dtype=X.dtype, device=X.device)
    Z, t = M.clone(), 1.0
    for k in range(iters):
        lam = max(lam_final, 0.5 * decay**k) * scale
        G = At(A(Z) - y)
        M_new = _sv_threshold_sym(Z - G / Lip.view(-1, 1, 1), lam / Lip)
        t_new = (1 + math.sqrt(1 + 4 * t * t)) / 2
        Z = M_new + ((t - 1) / t_new) * (M_new - M)
        M, t = M_new, t_new
    return M


def matrix_rel_error(M: Tensor, M_star: Tensor) -> Tensor:
    """|M - M*|_F / |M*|_F, batched: (B, d, d) -> (B,).  For Gaussian x this equals the relative test error
    sqrt(E(f - f*)^2 / E(f* - E f*)^2) exactly up to the trace term; the chapter reports test errors too."""
    return torch.linalg.matrix_norm(M - M_star) / torch.linalg.matrix_norm(M_star)


def quad_net_fit(X: Tensor, y: Tensor, *, m: int, init_scale: float = 1e-3, lr: float = 0.02, epochs: int = 2000,
                 generator: torch.Generator, train_mask: Tensor | None = None) -> Tensor:
    """A quadratic-activation network f(x) = m^{-1/2} sum_j (w_j.x)^2 from small initialisation (entries
    N(0, init_scale^2)), trained by full-batch Adam on the mean squared loss with the batched teacher-student
    engine (lib.teacher_student.train, activation t -> t^2).  Output weights are +1, so the net represents
    PSD matrices, enough for the PSD teachers of T1.  X: (B, n, d), y: (B, n) -> M = W W^T / sqrt(m) (B, d, d)."""
    B, n, d = X.shape
    W0 = init_scale * torch.randn((B, d, m), generator=generator, device=generator.device, dtype=X.dtype)
    res = ts.train(W0, X, y, optimizer="adam", lr=lr, epochs=epochs, activation=torch.square, train_mask=train_mask)
    W = res.W
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
    Phi: (B, n, D), y: (B, n), train_mask: (B, n) of 0/1 -> (W0 (D, m), a (m,), W (B, D, m))."""
    if m % 2:
        raise ValueError(f"m={m}: accepted values are even integers (symmetric pairs)")
    B, n, D = Phi.shape
    dev, dt = Phi.device, Phi.dtype
    half = torch.randn((D, m // 2), generator=generator, device=generator.device, dtype=dt).to(dev) / math.sqrt(D)
    W0 = torch.cat([half, half], 1)
    a = torch.cat([torch.ones(m // 2), -torch.ones(m // 2)]).to(dev, dt)
    h = init_scale * torch.randn((B, D, m // 2), generator=generator, device=generator.device, dtype=dt).to(dev)
    W = torch.cat([h, h], 2).requires_grad_(True)
    mask = torch.ones_like(y) if train_mask is None else train_mask.to(dt)
    cnt = mask.sum(1).clamp_min(1)
    gate = (Phi @ W0 > 0).to(dt)                                                     # (B, n, m)
    opt = torch.optim.Adam([W], lr=lr)
    for _ in range(steps):
        f = (gate * (Phi @ W) ** 2 * a).sum(-1) / (2 * math.sqrt(m))
        loss = (((f - y) ** 2 * mask).sum(1) / cnt).sum()
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
    data set, in ONE call of :func:`train_quad_model` (sizes x data sets stacked, padded by masks).

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
