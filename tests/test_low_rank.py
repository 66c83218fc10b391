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


def _frob_oracle(X, y):
    """min-norm least squares over ALL d x d matrices (features x x^T, d^2 of them) by torch.linalg.pinv: the
    minimiser is symmetric, so this is the min-Frobenius fit without any vech weights."""
    B, n, d = X.shape
    F = torch.einsum("bni,bnj->bnij", X, X).reshape(B, n, d * d)
    return (torch.linalg.pinv(F) @ y.unsqueeze(-1)).reshape(B, d, d)


@pytest.mark.parametrize("d", [3, 5, 7])
def test_frob_minnorm_nested_equals_pinv_at_every_size(d):
    g = torch.Generator().manual_seed(20 + d)
    D = d * (d + 1) // 2
    N = D + 9
    X = torch.randn(3, N, d, generator=g, dtype=D64)
    y = torch.randn(3, N, generator=g, dtype=D64)          # generic y: no interpolant once n > D (least squares)
    sizes = [1, 2, D // 2, D - 1, D, D + 1, N]
    M = lr.frob_minnorm_nested(X, y, sizes)
    assert M.shape == (len(sizes), 3, d, d)
    for s, n in enumerate(sizes):
        ref = _frob_oracle(X[:, :n], y[:, :n])
        assert torch.allclose(M[s], ref, rtol=1e-9, atol=1e-9 * ref.abs().max().item()), n
        assert torch.allclose(M[s], lr.frob_minnorm(X[:, :n], y[:, :n]), rtol=1e-9, atol=1e-9)
        if n <= D:   # under-determined: interpolates
            assert torch.allclose(lr.quad_forms(X[:, :n], M[s]), y[:, :n], atol=1e-9)


def test_frob_minnorm_nested_rank_deficient_falls_back_to_pinv(monkeypatch):
    g = torch.Generator().manual_seed(30)
    d = 4
    D = d * (d + 1) // 2
    X = torch.randn(2, D + 4, d, generator=g, dtype=D64)
    y = torch.randn(2, D + 4, generator=g, dtype=D64)
    X[:, 4] = X[:, 1]                                       # a repeated point with a different label: no interpolant
    X[:, 6] = 0.0                                           # and a zero row
    calls = []
    pinv = torch.linalg.pinv
    monkeypatch.setattr(torch.linalg, "pinv", lambda A, *a, **k: calls.append(A.shape) or pinv(A, *a, **k))
    sizes = [3, 6, D, D + 4]
    M = lr.frob_minnorm_nested(X, y, sizes)
    assert calls, "the rank-deficient sizes must be solved by pinv"
    monkeypatch.setattr(torch.linalg, "pinv", pinv)
    for s, n in enumerate(sizes):
        assert torch.allclose(M[s], _frob_oracle(X[:, :n], y[:, :n]), atol=1e-9), n


def test_frob_minnorm_nested_threshold_and_inputs():
    g = torch.Generator().manual_seed(31)
    d = 6
    D = d * (d + 1) // 2
    Ms = lr.low_rank_quadratic(2, d, 2, generator=g)
    X = torch.randn(2, D + 5, d, generator=g, dtype=D64)
    M = lr.frob_minnorm_nested(X, lr.quad_forms(X, Ms), [D - 1, D, D + 5])
    err = lr.matrix_rel_error(M.flatten(0, 1), Ms.repeat(3, 1, 1)).view(3, 2)
    assert (err[0] > 1e-3).all() and (err[1:] < 1e-10).all()
    for bad in ([], [0], [5, 5], [D + 6]):
        with pytest.raises(ValueError, match="sizes"):
            lr.frob_minnorm_nested(X, lr.quad_forms(X, Ms), bad)


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


def _nested_stack(X, y, ns):
    """The chapter's zero-padded stack of nested sample sizes: (S*B, N, d), (S*B, N), prefix masks (S*B, N)."""
    N = X.shape[1]
    mk = torch.stack([(torch.arange(N) < n) for n in ns]).to(X.dtype).repeat_interleave(X.shape[0], 0)
    return X.repeat(len(ns), 1, 1) * mk.unsqueeze(-1), y.repeat(len(ns), 1) * mk, mk


def test_nuclear_fista_counts_equals_padded_stack():
    g = torch.Generator().manual_seed(40)
    d, ns = 6, [5, 9, 14, 20]
    Ms = lr.low_rank_quadratic(3, d, 2, generator=g)
    X = torch.randn(3, ns[-1], d, generator=g, dtype=D64)
    Xp, yp, mk = _nested_stack(X, lr.quad_forms(X, Ms), ns)
    ref = lr.nuclear_fista(Xp, yp, iters=60, generator=torch.Generator().manual_seed(1))
    M = lr.nuclear_fista(Xp, yp, iters=60, generator=torch.Generator().manual_seed(1), counts=mk.sum(1))
    assert torch.allclose(M, ref, rtol=0, atol=1e-11 * ref.abs().max().item())
    # non-contiguous groups (problems interleaved) and garbage beyond the counts are handled the same way
    perm = torch.randperm(len(Xp), generator=g)
    Xg = Xp[perm] + (1 - mk[perm]).unsqueeze(-1) * 7.0
    M2 = lr.nuclear_fista(Xg, yp[perm], iters=60, generator=torch.Generator().manual_seed(1), counts=mk.sum(1)[perm])
    assert torch.allclose(M2, lr.nuclear_fista(Xp[perm], yp[perm], iters=60,
                                               generator=torch.Generator().manual_seed(1)), atol=1e-11)
    with pytest.raises(ValueError, match="counts"):
        lr.nuclear_fista(Xp, yp, iters=1, counts=mk.sum(1)[1:])


def test_quad_net_fit_prefix_groups_equal_masked_engine():
    # a prefix mask is trained group by group on the valid rows; shuffling the rows of every data set (same loss,
    # a non-prefix mask) forces the engine's masked path: both must agree to float64 rounding
    g = torch.Generator().manual_seed(41)
    d, ns = 4, [6, 11, 18]
    Ms = lr.low_rank_quadratic(2, d, 1, generator=g)
    X = torch.randn(2, ns[-1], d, generator=g, dtype=D64)
    Xp, yp, mk = _nested_stack(X, lr.quad_forms(X, Ms), ns)
    perm = torch.randperm(ns[-1], generator=g)
    M = lr.quad_net_fit(Xp, yp, m=8, epochs=60, lr=0.01, generator=torch.Generator().manual_seed(2), train_mask=mk)
    ref = lr.quad_net_fit(Xp[:, perm], yp[:, perm], m=8, epochs=60, lr=0.01, generator=torch.Generator().manual_seed(2),
                          train_mask=mk[:, perm])
    assert torch.allclose(M, ref, rtol=1e-9, atol=1e-12)


def test_train_quad_model_prefix_groups_equal_masked_loss():
    g = torch.Generator().manual_seed(42)
    D, ns, B = 5, [7, 12, 30], 2
    Phi = torch.randn(B, ns[-1], D, generator=g, dtype=D64)
    y = torch.randn(B, ns[-1], generator=g, dtype=D64)
    Pp, yp, mk = _nested_stack(Phi, y, ns)
    perm = torch.randperm(ns[-1], generator=g)
    Sig = Phi[0].T @ Phi[0] / ns[-1]
    for lam in (0.0, 1e-2):
        out = lr.train_quad_model(Pp, yp, m=16, steps=40, lr=0.01, generator=torch.Generator().manual_seed(3),
                                  train_mask=mk, lam=lam, Sigma=Sig)
        ref = lr.train_quad_model(Pp[:, perm], yp[:, perm], m=16, steps=40, lr=0.01,
                                  generator=torch.Generator().manual_seed(3), train_mask=mk[:, perm], lam=lam,
                                  Sigma=Sig)
        assert torch.equal(out[0], ref[0]) and torch.allclose(out[2], ref[2], rtol=1e-9, atol=1e-12)


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


def test_krr_per_dataset_equals_batched_krr_nested():
    from lib import kernels as kr
    g = torch.Generator().manual_seed(50)
    X = torch.randn(3, 40, 4, generator=g, dtype=D64)
    Xt = torch.randn(3, 25, 4, generator=g, dtype=D64)
    y = torch.randn(3, 40, generator=g, dtype=D64)
    kern = lambda A, B: kr.poly_kernel(A, B, 2)   # noqa: E731
    ref = kr.krr_nested(kern(X, X), y, kern(Xt, X), [5, 17, 40], 1e-2)     # well conditioned: compare to 1e-10
    out = lr.krr_per_dataset(kern, X, y, Xt, [5, 17, 40], 1e-2)
    assert out.shape == ref.shape == (3, 3, 25)
    assert torch.allclose(out, ref, rtol=1e-10, atol=1e-10)
    with pytest.raises(ValueError, match="expected"):
        lr.krr_per_dataset(kern, X, y[:, :5], Xt, [5], 1e-6)


@pytest.mark.parametrize("row_chunk,col_block", [(7, 5), (100, 64), (1, 1)])
def test_relu_feature_gram_equals_direct_products(row_chunk, col_block):
    from lib import kernels as kr
    g = torch.Generator().manual_seed(51)
    n, d, N = 53, 3, 23
    X = torch.randn(n, d, generator=g, dtype=D64)
    W = torch.randn(d, N, generator=g, dtype=D64)
    b = torch.randn(N, generator=g, dtype=D64)
    y = torch.randn(n, generator=g, dtype=D64)
    F = kr.relu_features(X, W, b)
    G, Fy = lr.relu_feature_gram(X, W, b, y, row_chunk=row_chunk, col_block=col_block)
    assert torch.allclose(G, F.T @ F, rtol=1e-12, atol=1e-13) and torch.allclose(Fy, F.T @ y, rtol=1e-12, atol=1e-13)
    assert torch.allclose(G, G.T, rtol=1e-14, atol=1e-14)
    with pytest.raises(ValueError, match="expected"):
        lr.relu_feature_gram(X, W, b[:3], y)


def test_train_prefix_groups_relu_equals_masked_engine():
    from lib import teacher_student as ts
    g = torch.Generator().manual_seed(52)
    d, m, ns = 3, 5, [4, 9, 15]
    X = torch.randn(2, ns[-1], d, generator=g, dtype=D64)
    y = torch.relu(X[..., 0]) + 0.1 * X[..., 1]
    Xp, yp, mk = _nested_stack(X, y, ns)
    W0 = torch.randn(len(Xp), d, m, generator=g, dtype=D64)
    kw = dict(optimizer="adam", lr=0.01, epochs=50)
    W0c = W0.clone()
    W = lr.train_prefix_groups(W0, Xp, yp, mk, **kw)
    assert torch.equal(W0, W0c)                                   # the initial weights are left alone
    ref = ts.train(W0.clone(), Xp, yp, train_mask=mk, **kw).W     # the engine's own masked run
    assert not torch.allclose(ref, W0) and torch.allclose(W, ref, rtol=1e-10, atol=1e-12)
    assert torch.equal(lr.train_prefix_groups(W0, Xp, yp, None, **kw), ts.train(W0.clone(), Xp, yp, **kw).W)
