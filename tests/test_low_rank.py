"""Exact oracles for lib/low_rank.py: Hermite orthonormality by Gauss quadrature, the exact ridge-power identity,
the nuclear prox against SVD thresholding, min-Frobenius interpolation against pinv, F_1 norm >= nuclear norm,
the signed-dropout average against f^Q, the whitened l_{2,4} penalty, balancedness under gradient flow."""
import itertools
import math

import pytest
import torch
from numpy.polynomial.hermite_e import hermegauss

from lib import low_rank as lr

D64 = torch.float64


def test_gaussian_moment():
    z, w = hermegauss(40)
    w = w / w.sum()
    for p in range(6):
        assert lr.gaussian_moment(p) == pytest.approx(float((w * z ** (2 * p)).sum()), rel=1e-10)
    assert lr.gaussian_moment(4) == 105


def test_hermite_recurrence_and_orthonormality_by_quadrature():
    z = torch.tensor([0.3, -1.2], dtype=D64)
    H = lr.hermite_he(z, 4)
    assert torch.allclose(H[:, 3], z**3 - 3 * z) and torch.allclose(H[:, 4], z**4 - 6 * z**2 + 3)
    # tensor Gauss-Hermite rule in d = 2 integrates degree <= 2*9-1 exactly
    q, w = hermegauss(10)
    w = w / w.sum()
    pts = torch.tensor(list(itertools.product(q, q)), dtype=D64)
    wts = torch.tensor([a * b for a, b in itertools.product(w, w)], dtype=D64)
    G = lr.hermite_features(pts, 3)                                      # (100, C(5,3)=10)
    assert G.shape == (100, 10)
    gram = G.T @ (G * wts[:, None])
    assert torch.allclose(gram, torch.eye(10, dtype=D64), atol=1e-12)


def test_multi_indices_count():
    assert len(lr.multi_indices(5, 2)) == math.comb(7, 2)
    assert len(lr.multi_indices(3, 4)) == math.comb(7, 4)


@pytest.mark.parametrize("j", [1, 2, 3])
def test_ridge_power_theta_is_exact(j):
    g = torch.Generator().manual_seed(j)
    d = 4
    beta = torch.randn(d, generator=g, dtype=D64)
    beta = beta / beta.norm()
    theta = lr.ridge_power_theta(beta, j)
    X = torch.randn(50, d, generator=g, dtype=D64)
    assert torch.allclose(lr.hermite_features(X, j) @ theta, (X @ beta) ** j, atol=1e-10)
    assert (theta**2).sum().item() == pytest.approx(lr.gaussian_moment(j), rel=1e-12)   # |theta|^2 = E(b.x)^{2j}


def test_prox_matches_svd_thresholding():
    g = torch.Generator().manual_seed(3)
    A = torch.randn(2, 6, 6, generator=g, dtype=D64)
    M = A + A.transpose(-1, -2)
    tau = torch.tensor([0.7, 2.0], dtype=D64)
    P = lr._sv_threshold_sym(M, tau)
    U, s, Vh = torch.linalg.svd(M)
    ref = (U * (s - tau[:, None]).clamp_min(0).unsqueeze(-2)) @ Vh
    assert torch.allclose(P, ref, atol=1e-10)


def test_frob_minnorm_interpolates_and_is_min_norm():
    g = torch.Generator().manual_seed(4)
    d, n = 4, 6
    X = torch.randn(1, n, d, generator=g, dtype=D64)
    y = torch.randn(1, n, generator=g, dtype=D64)
    M = lr.frob_minnorm(X, y)
    assert torch.allclose(M, M.transpose(-1, -2))
    assert torch.allclose(lr.quad_forms(X, M), y, atol=1e-10)
    # min-norm over all (non-symmetric) d^2 features = same (the minimiser is symmetric)
    F = torch.einsum("bni,bnj->bnij", X, X).reshape(1, n, d * d)
    Mref = (torch.linalg.pinv(F[0]) @ y[0]).reshape(d, d)
    assert torch.allclose(M[0], Mref, atol=1e-10)
    # zero-padding rows is a no-op
    Xp = torch.cat([X, torch.zeros(1, 3, d, dtype=D64)], 1)
    yp = torch.cat([y, torch.zeros(1, 3, dtype=D64)], 1)
    assert torch.allclose(lr.frob_minnorm(Xp, yp), M, atol=1e-10)


def test_frobenius_threshold_is_exact():
    g = torch.Generator().manual_seed(5)
    d = 5
    D = d * (d + 1) // 2
    Ms = lr.low_rank_quadratic(2, d, 1, generator=g)
    X = torch.randn(2, D, d, generator=g, dtype=D64)
    y = lr.quad_forms(X, Ms)
    assert (lr.matrix_rel_error(lr.frob_minnorm(X, y), Ms) < 1e-8).all()
    assert (lr.matrix_rel_error(lr.frob_minnorm(X[:, :-1], y[:, :-1]), Ms) > 1e-3).all()


def test_nuclear_fista_recovers_rank_one_below_frobenius_threshold():
    g = torch.Generator().manual_seed(6)
    d = 8
    Ms = lr.low_rank_quadratic(2, d, 1, generator=g)
    X = torch.randn(2, 4 * d, d, generator=g, dtype=D64)
    M = lr.nuclear_fista(X, lr.quad_forms(X, Ms), iters=250, generator=g)
    assert (lr.matrix_rel_error(M, Ms) < 1e-2).all()
    with pytest.raises(ValueError, match="iters"):
        lr.nuclear_fista(X, lr.quad_forms(X, Ms), iters=0)


def test_quad_net_norms_f1_at_least_nuclear_with_equality_for_eigendecomposition():
    g = torch.Generator().manual_seed(7)
    a = torch.randn(3, 9, generator=g, dtype=D64)
    W = torch.randn(3, 4, 9, generator=g, dtype=D64)
    M, f1, nuc = lr.quad_net_norms(a, W)
    assert (f1 >= nuc - 1e-10).all()
    ev, V = torch.linalg.eigh(M)
    _, f1e, nuce = lr.quad_net_norms(ev, V)
    assert torch.allclose(f1e, nuc) and torch.allclose(nuce, nuc)
    # identity of the slides: sum_j a_j (w_j.x)^2 = <M, x x^T>
    x = torch.randn(3, 5, 4, generator=g, dtype=D64)
    lhs = (torch.einsum("bnd,bdj->bnj", x, W) ** 2 * a.unsqueeze(1)).sum(-1)
    assert torch.allclose(lhs, lr.quad_forms(x, M), atol=1e-10)


def test_sign_average_equals_f0_plus_fq_without_kink_crossing():
    g = torch.Generator().manual_seed(8)
    n, D, m = 20, 5, 16
    Phi = torch.randn(n, D, generator=g, dtype=D64)
    W0 = torch.randn(D, m, generator=g, dtype=D64)
    a = torch.where(torch.rand(m, generator=g) < 0.5, -1.0, 1.0).to(D64)
    W = 1e-3 * torch.randn(D, m, generator=g, dtype=D64)
    U, V = Phi @ W0, Phi @ W
    assert (V.abs() < U.abs()).all()           # no kink crossing: the expansion is exact for relu^2/2
    f0 = lr.signed_net(Phi, W0, a, torch.zeros_like(W), torch.ones(m, dtype=D64))
    avg = lr.sign_average(Phi, W0, a, W)
    assert torch.allclose(avg - f0, lr.quad_model(Phi, W0, a, W), atol=1e-12, rtol=1e-6)
    # the exact average equals brute force over all sign vectors for a tiny m
    m2 = 4
    W0s, as_, Ws = W0[:, :m2], a[:m2], 0.5 * torch.randn(D, m2, generator=g, dtype=D64)
    zs = torch.tensor(list(itertools.product([-1.0, 1.0], repeat=m2)), dtype=D64)
    brute = torch.stack([lr.signed_net(Phi, W0s, as_, Ws, z) for z in zs]).mean(0)
    assert torch.allclose(brute, lr.sign_average(Phi, W0s, as_, Ws), atol=1e-12)


def test_l24_penalty_is_whitened_row_norm():
    g = torch.Generator().manual_seed(9)
    A = torch.randn(6, 6, generator=g, dtype=D64)
    Sigma = A @ A.T / 6
    W = torch.randn(6, 5, generator=g, dtype=D64)
    R = W.T @ lr.sqrtm_psd(Sigma)               # rows = whitened neurons
    ref = (R.norm(dim=1) ** 4).sum()
    assert lr.l24_penalty(W, Sigma).item() == pytest.approx(ref.item(), rel=1e-10)


def test_two_layer_gd_balance_conserved_without_wd_and_balanced_with_wd():
    g = torch.Generator().manual_seed(10)
    X = torch.randn(30, 3, generator=g, dtype=D64)
    y = torch.relu(X[:, 0]) - torch.relu(X[:, 1])
    out = lr.two_layer_gd(X, y, m=8, wd=0.0, steps=100, lr=3e-3, generator=g, B=2)
    bal = out["a"] ** 2 - (out["W"] ** 2).sum(1)
    assert (bal - out["balance0"]).abs().max() < 1e-3
    out = lr.two_layer_gd(X, y, m=8, wd=0.2, steps=600, lr=0.1, generator=g, B=2)
    bal = out["a"] ** 2 - (out["W"] ** 2).sum(1)
    assert bal.abs().max() < 1e-3


def test_two_layer_gd_gradient_matches_autograd():
    g = torch.Generator().manual_seed(12)
    X = torch.randn(10, 3, generator=g, dtype=D64)
    y = torch.randn(10, generator=g, dtype=D64)
    g1 = torch.Generator().manual_seed(5)
    out = lr.two_layer_gd(X, y, m=4, wd=0.1, steps=1, lr=1.0, generator=g1)
    g1 = torch.Generator().manual_seed(5)
    st = lr.two_layer_gd(X, y, m=4, wd=0.1, steps=0, lr=1.0, generator=g1)
    a, W = st["a"].clone().requires_grad_(True), st["W"].clone().requires_grad_(True)
    f = (torch.relu(X @ W) * a.unsqueeze(1)).sum(-1)
    loss = ((f - y) ** 2).mean(1).sum() / 2 + 0.1 / 2 * ((a**2).sum() + (W**2).sum())
    ga, gW = torch.autograd.grad(loss, (a, W))
    assert torch.allclose(out["a"], st["a"] - ga, atol=1e-12) and torch.allclose(out["W"], st["W"] - gW, atol=1e-12)


def test_quad_net_fit_learns_rank_one_psd():
    g = torch.Generator().manual_seed(11)
    d = 5
    Ms = lr.low_rank_quadratic(1, d, 1, generator=g).float()
    X = torch.randn(1, 6 * d, d, generator=g)
    M = lr.quad_net_fit(X, lr.quad_forms(X, Ms), m=2 * d, epochs=800, lr=0.01, generator=g)
    assert lr.matrix_rel_error(M, Ms).item() < 0.05


def test_bad_inputs():
    g = torch.Generator().manual_seed(0)
    with pytest.raises(ValueError, match="r="):
        lr.haar_frames(1, 3, 4, generator=g)
    with pytest.raises(ValueError, match="m="):
        lr.train_quad_model(torch.zeros(1, 2, 3), torch.zeros(1, 2), m=3, steps=1, lr=0.1, generator=g)


def test_quadntk_errors_learns_a_quadratic_for_every_size():
    g = torch.Generator().manual_seed(13)
    d, N = 4, 200
    X = torch.randn(2, N, d, generator=g)
    Xt = torch.randn(2, 300, d, generator=g)
    y, yt = X[..., 0] ** 2, Xt[..., 0] ** 2
    err = lr.quadntk_errors(X, y, Xt, yt, [20, 200], m=32, steps=150, lr=0.05,
                            generator=torch.Generator().manual_seed(0))
    assert err.shape == (2, 2)
    assert (err[1] < 0.2).all() and (err[1] < err[0]).all()
    with pytest.raises(ValueError, match="sizes"):
        lr.quadntk_errors(X, y, Xt, yt, [300], m=8, steps=1, lr=0.1, generator=g)
