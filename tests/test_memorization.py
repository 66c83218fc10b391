"""Tests of lib/memorization.py against exact oracles (quadrature, closed forms, loops, brute force)."""
import math

import numpy as np
import pytest
import torch

from lib import memorization as mm


def gen(s=0):
    return torch.Generator().manual_seed(s)


@pytest.mark.parametrize("omega", [1.0, 5.0, 20.0, 50.0])
def test_cosine_relu_identity_by_quadrature(omega):
    t = np.linspace(-1, 1, 101)
    for psi in (0.0, 0.7, -2.1):
        err = np.abs(mm.cosine_relu_quadrature(t, omega, psi) - np.cos(omega * t + psi)).max()
        assert err < 1e-8


def test_eta_zero_on_top_piece_and_bad_t():
    eta = mm.eta_coefficients(torch.tensor([1.0, 1.5]), torch.tensor(1.0), torch.tensor(0.3), torch.tensor(3.0))
    assert torch.all(eta == 0)
    with pytest.raises(ValueError, match="t"):
        mm.cosine_relu_quadrature(np.array([1.5]), 1.0, 0.0)


def test_sphere_pairs_geometry():
    X, y = mm.sphere_pairs(12, 6, torch.tensor([0.5, 0.25]), B=2, generator=gen())
    assert X.shape == (2, 12, 6) and y.shape == (2, 12)
    assert torch.allclose(X.norm(dim=-1), torch.ones(2, 12, dtype=X.dtype))
    assert torch.allclose(mm.min_sep(X), torch.tensor([0.5, 0.25], dtype=X.dtype))
    assert torch.all(y.reshape(2, 6, 2).sum(-1) == 0)
    with pytest.raises(ValueError, match="n="):
        mm.sphere_pairs(7, 6, 0.5, generator=gen())
    with pytest.raises(ValueError, match="theta"):
        mm.sphere_pairs(8, 6, 3.0, generator=gen())


def test_min_sep_bruteforce():
    X = mm.uniform_sphere(2, 7, 3, generator=gen(1))
    for b in range(2):
        d = min(float((X[b, i] - X[b, j]).norm()) for i in range(7) for j in range(7) if i != j)
        assert abs(d - float(mm.min_sep(X)[b])) < 1e-12


def test_stage_mean_is_gaussian_kernel():
    """Many independent stages (batched) average to G r within 4 standard errors (claim: E ŷ = G r)."""
    X, y = mm.sphere_pairs(6, 4, 0.6, B=1, generator=gen(2))
    sig = mm.default_sigma(6, 0.6)
    Xb, yb = X.expand(200, -1, -1).contiguous(), y.expand(200, -1).contiguous()
    st = mm.corrective_stage(Xb, yb, 500, sig, generator=gen(3))
    Gy = (mm.gaussian_kernel(X, sig) @ y[..., None])[0, :, 0]
    m, se = st["yhat"].mean(0), st["yhat"].std(0) / math.sqrt(200)
    assert torch.all((m - Gy).abs() < 4 * se + 1e-12)


def test_stage_batched_equals_network_and_unbatched():
    X, y = mm.sphere_pairs(6, 4, 0.5, B=2, generator=gen(4))
    st = mm.corrective_stage(X, y, 300, 3.0, generator=gen(5), chunk=70, return_net=True)
    out = mm.network_output(X, st["W"], st["T"], st["kappa"])
    assert torch.allclose(out, st["yhat"], atol=1e-9 * st["yhat"].abs().max())
    one = mm.corrective_stage(X[1:], y[1:], 300, 3.0, generator=gen(5), chunk=300, return_net=True)
    assert torch.allclose(mm.network_output(X[1:], one["W"], one["T"], one["kappa"]), one["yhat"], rtol=1e-8,
                          atol=1e-8 * one["yhat"].abs().max())


def test_batched_vs_loop_same_draws():
    """The batched construction equals the per-neuron numpy loop when fed the same (ξ, T) draws."""
    X, y = mm.sphere_pairs(4, 3, 0.5, B=1, generator=gen(6))
    sig, N0 = 2.0, 50
    rng = np.random.default_rng(0)
    ref = mm.corrective_memorize_loop(X[0].numpy(), y[0].numpy(), N0, 2, sig, rng)
    rng = np.random.default_rng(0)
    r = y.clone()
    for s in range(2):
        draws = [(sig * rng.standard_normal(3), rng.uniform(-2, 2)) for _ in range(N0)]
        xi = torch.tensor(np.array([a for a, _ in draws]))[None]
        T = torch.tensor([b for _, b in draws])[None]
        c, _, _ = mm._stage_terms(X, r, xi, T)
        r = r - c.mean(1)
        assert np.allclose(r[0].numpy(), ref[s + 1], rtol=1e-6, atol=1e-6)  # sums of ~1e3-sized terms


def test_from_draws_matches_loop():
    X, y = mm.sphere_pairs(4, 3, 0.5, B=2, generator=gen(12))
    rng = np.random.default_rng(1)
    xi = 2.0 * rng.standard_normal((2, 2, 40, 3))
    T = rng.uniform(-2, 2, (2, 2, 40))
    batched = mm.corrective_memorize_from_draws(X, y, torch.tensor(xi), torch.tensor(T)).numpy()
    for b in range(2):
        ref = mm.corrective_memorize_loop(X[b].numpy(), y[b].numpy(), 40, 2, 2.0, draws=(xi[b], T[b]))
        assert np.allclose(batched[b], ref, rtol=1e-6, atol=1e-6)
    with pytest.raises(ValueError, match="exactly one"):
        mm.corrective_memorize_loop(X[0].numpy(), y[0].numpy(), 4, 1, 2.0)


def test_gd_exact_path_matches_loop_and_steps():
    Phi = torch.randn(6, 9, generator=gen(7), dtype=torch.float64)
    y = torch.randn(6, generator=gen(8), dtype=torch.float64)
    loop = mm.gd_loop_residual(Phi, y, 40)
    exact = mm.gd_residual_norms((Phi @ Phi.T)[None], y[None], np.arange(41))[0]
    assert torch.allclose(loop, exact, rtol=1e-8)
    # a threshold strictly between two iterates (loop[25] itself is a rounding tie between the loop and the exact
    # path: 25 or 26 depending on the BLAS)
    assert float(loop[24]) > float(loop[25]) * (1 + 1e-6)
    eps = math.sqrt(float(loop[24]) * float(loop[25]))
    t = int(mm.gd_steps_to_eps((Phi @ Phi.T)[None], y[None], eps)[0])
    assert t == int(torch.nonzero(loop <= eps)[0]) == 25
    sing = torch.zeros(1, 3, 3, dtype=torch.float64)
    sing[0, 0, 0] = 1
    assert math.isinf(float(mm.gd_steps_to_eps(sing, torch.ones(1, 3, dtype=torch.float64), 0.1, t_max=1000)[0]))


def test_lstsq_rank_bound():
    """Rademacher labels: E min‖Φκ − y‖² = n − rank(Φ), exact by enumerating all 2^n sign vectors."""
    n, N = 6, 4
    Phi = torch.randn(1, n, N, generator=gen(9), dtype=torch.float64)
    signs = torch.tensor(np.array(np.meshgrid(*[[-1.0, 1.0]] * n)).reshape(n, -1), dtype=torch.float64)
    res = mm.lstsq_residual(Phi, signs[None])
    assert abs(float(res.mean()) - (n - N)) < 1e-10


def test_lattice_closed_form_vs_monte_carlo():
    m = np.arange(0, 65)
    c = (1 + m) ** -3.0
    q = (1 + m) ** -1.5
    q = q / q.sum()
    rng = np.random.default_rng(0)
    mc = mm.lattice_corrective(c, q, 200, 3, 4000, rng)
    ex = mm.lattice_expected_error(c, q, 200, np.arange(1, 4))
    se = mc.std(0) / math.sqrt(4000)
    assert np.all(np.abs(mc.mean(0) - ex) < 5 * se)
    # a = 1 with K = 1 by enumeration: E = Σ_m q_m ‖c − c_m e_m/q_m‖²
    c2, q2 = np.array([0.5, -1.0, 2.0]), np.array([0.2, 0.3, 0.5])
    enum = sum(qm * (np.sum(c2**2) - c2[i] ** 2 + (c2[i] - c2[i] / qm) ** 2) for i, qm in enumerate(q2))
    assert abs(mm.lattice_expected_error(c2, q2, 1, 1) - enum) < 1e-12
    with pytest.raises(ValueError, match="q"):
        mm.lattice_expected_error(c2, np.array([0.5, 0.5, 0.5]), 1, 1)


def test_adam_matches_torch_optim():
    """The written-out Adam of train_two_layer_min_width equals torch.optim.Adam (one width, one seed)."""
    X = mm.uniform_sphere(1, 6, 3, generator=gen(13))[0]
    y = torch.tensor([1.0, -1, 1, -1, 1, -1], dtype=torch.float64)
    g1 = gen(14)
    # replicate the initialisation and run torch.optim.Adam for 5 steps, then compare success of eps=huge/tiny
    W = ((torch.rand(1, 4, 3, generator=g1, dtype=torch.float32) * 2 - 1) / math.sqrt(3)).requires_grad_()
    b = ((torch.rand(1, 4, generator=g1, dtype=torch.float32) * 2 - 1) / math.sqrt(3)).requires_grad_()
    a = ((torch.rand(1, 4, generator=g1, dtype=torch.float32) * 2 - 1) / 2.0).requires_grad_()
    opt = torch.optim.Adam([W, b, a], lr=0.05)
    errs = []
    for _ in range(30):
        f = torch.bmm(torch.relu(torch.matmul(X.float(), W.transpose(1, 2)) + b[:, None, :]), a[..., None])[..., 0]
        errs.append(float((f - y.float()).abs().amax().detach()))
        loss = ((f - y.float()) ** 2).mean(-1).sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
    best = min(errs)
    ok_hi = mm.train_two_layer_min_width(X, y, [4], 1, steps=30, lr=0.05, eps=best + 1e-5, generator=gen(14))
    ok_lo = mm.train_two_layer_min_width(X, y, [4], 1, steps=30, lr=0.05, eps=best - 1e-5, generator=gen(14))
    assert bool(ok_hi.all()) and not bool(ok_lo.any())


def test_min_width_training_smoke():
    X = mm.uniform_sphere(1, 8, 4, generator=gen(10))[0]
    y = torch.tensor([1.0, -1] * 4, dtype=torch.float64)
    ok = mm.train_two_layer_min_width(X, y, [1, 16], 2, steps=600, lr=1e-2, generator=gen(11))
    assert ok.shape == (2, 2) and bool(ok[1].all())


@pytest.mark.parametrize("k", [0, 1, 2])
def test_srelu_is_smoothed_relu(k):
    """SReLU_k = E[ReLU(t − hS)] (quadrature), = ReLU outside (−h, h), and its derivative of order 2k+1 is
    continuous at ±h while the (2k+2)-th jumps (finite differences of the polynomial piece)."""
    h = 0.5
    t = torch.linspace(-1, 1, 81, dtype=torch.float64)
    x, w = np.polynomial.legendre.leggauss(40)
    _, lam = mm.srelu_coefficients(k)
    ref = []
    for tt in t.numpy():          # ∫_{−1}^{min(1, t/h)} (t − h s) λ(s) ds: a polynomial integrand, exact quadrature
        b = min(1.0, tt / h)
        if b <= -1:
            ref.append(0.0)
            continue
        s = (b + 1) / 2 * x + (b - 1) / 2
        ref.append((b + 1) / 2 * np.sum(w * (tt - h * s) * np.polynomial.polynomial.polyval(s, lam)))
    ref = np.array(ref)
    assert np.allclose(mm.srelu(t, k, h).numpy(), ref, atol=1e-10)
    out = t.abs() >= h
    assert torch.allclose(mm.srelu(t, k, h)[out], torch.relu(t)[out])
    coef, _ = mm.srelu_coefficients(k)
    P = np.polynomial.Polynomial(coef)
    # at u = 1 the piece must match t = h·u (value 1·h, slope 1, higher derivatives 0) up to order 2k+1
    derivs = [P.deriv(j)(1.0) if j else P(1.0) for j in range(2 * k + 3)]
    target = [1.0, 1.0] + [0.0] * (2 * k + 1)
    assert np.allclose(derivs[: 2 * k + 2], target[: 2 * k + 2], atol=1e-9)
    assert abs(derivs[2 * k + 2]) > 1e-6


def test_sparse_features_and_ridge():
    X = torch.rand(200, 6, generator=gen(20), dtype=torch.float64) * 2 - 1
    Phi = mm.sparse_rf_features(X, 50, 2, 1, generator=gen(21))
    assert Phi.shape == (200, 50)
    y = Phi[:, :5].sum(1)                           # exactly representable target
    assert mm.ridge_test_error(Phi, y, Phi, y, rel_lambda=1e-12) < 1e-8
    with pytest.raises(ValueError, match="q="):
        mm.sparse_rf_features(X, 5, 7, None, generator=gen(22))
