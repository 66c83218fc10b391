"""Tests of lib/sparse_coding.py against exact oracles: autograd, enumeration of supports, closed forms."""
from __future__ import annotations

import itertools
import math

import pytest
import torch

from lib import sparse_coding as sc


def gen(s: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(s)


def test_hadamard_and_id_hadamard_coherence_exact():
    for n in (1, 2, 8, 64):
        H = sc.hadamard(n)
        assert torch.equal(H @ H.T, n * torch.eye(n, dtype=H.dtype))
    for n in (4, 16, 128):
        A = sc.make_dictionary(n, 2 * n, "id_hadamard", batch=(2,))
        assert A.shape == (2, n, 2 * n)
        assert torch.allclose(A.norm(dim=-2), torch.ones(2, 2 * n, dtype=A.dtype), atol=1e-14)
        assert torch.allclose(sc.coherence(A), torch.full((2,), 1 / math.sqrt(n), dtype=A.dtype), atol=1e-14)
        xi = sc.coherence_exponent(A)
        assert torch.allclose(xi, torch.full((2,), math.log(math.sqrt(n)) / math.log(2 * n), dtype=A.dtype))
    with pytest.raises(ValueError, match="h = 2n"):
        sc.make_dictionary(4, 10, "id_hadamard")
    with pytest.raises(ValueError, match="kind"):
        sc.make_dictionary(4, 8, "bogus")


def test_gaussian_dictionary_and_coherence_bruteforce():
    A = sc.make_dictionary(7, 12, generator=gen(1), batch=(3,))
    assert torch.allclose(A.norm(dim=-2), torch.ones(3, 12, dtype=A.dtype))
    for b in range(3):
        best = max(abs(float(A[b, :, i] @ A[b, :, j])) for i, j in itertools.permutations(range(12), 2))
        assert math.isclose(float(sc.coherence(A)[b]), best, rel_tol=1e-12)


def test_codes_support_size_and_moments():
    for dist in (sc.CodeDist("uniform", 1, 10), sc.CodeDist("beta15", 1, 4)):
        X, M = sc.sample_codes(20, 3, 40000, dist, generator=gen(2))
        assert torch.equal(M.sum(0), torch.full((40000,), 3))
        assert torch.equal(X != 0, M)
        v = X[M]
        assert v.min() >= dist.a and v.max() <= dist.b
        assert abs(float(v.mean()) - dist.m1) < 0.03 * dist.m1
        assert abs(float((v * v).mean()) - dist.m2) < 0.03 * dist.m2
    assert sc.k_of(256, 0.01) == 1 and sc.k_of(4096, 0.05) == 2 and sc.k_of(256, 0.5) == 16


def test_exact_gradient_matches_autograd_batched():
    g = gen(3)
    A = sc.make_dictionary(6, 10, generator=g, batch=(2,))
    X, _ = sc.sample_codes(10, 2, 50, sc.CodeDist(), generator=g, batch=(2,))
    Y = A @ X
    W = (A.transpose(-1, -2) + 0.3 * torch.randn(2, 10, 6, generator=g, dtype=A.dtype)).requires_grad_(True)
    eps = torch.tensor([[0.5], [1.0]], dtype=A.dtype).expand(2, 10)
    L, G = sc.loss_and_grad(W.detach(), Y, eps)
    sc.loss(W, Y, eps).sum().backward()
    assert torch.allclose(G, W.grad, atol=1e-11, rtol=1e-10)
    assert torch.allclose(L, sc.loss(W.detach(), Y, eps))
    # per-sample gradients average to the batch gradient
    assert torch.allclose(sc.per_sample_grads(W.detach(), Y, eps).mean(-3), G, atol=1e-12)


def test_proxy_equals_exact_where_support_recovered():
    """T4.3: with id+Hadamard, U[1,2], W = A*ᵀ and the theorem's ε, the ReLU support equals supp x* for every
    sample, so proxy and exact gradients coincide to rounding."""
    A = sc.make_dictionary(32, 64, "id_hadamard")
    dist = sc.CodeDist("uniform", 1, 2)
    X, M = sc.sample_codes(64, 1, 300, dist, generator=gen(4))
    Y = A @ X
    W = A.T.clone()
    eps = sc.bias("theorem", m1=dist.m1, k=1, delta=0.0, mu_coh=float(sc.coherence(A)))
    rec = sc.support_recovery(W, Y, M, eps)
    assert float(rec["exact"]) == 1.0
    assert torch.allclose(sc.proxy_grad(W, Y, M, eps), sc.loss_and_grad(W, Y, eps)[1], atol=1e-12)


def _discrete_dataset(A, k, lo, hi):
    """Every k-support x every {lo, hi}^k value pattern, equally weighted: its sample mean is the exact
    expectation for uniform supports and i.i.d. two-point entries (m1 = (lo+hi)/2, m2 = (lo²+hi²)/2)."""
    h = A.shape[1]
    cols, masks = [], []
    for S in itertools.combinations(range(h), k):
        for vals in itertools.product((lo, hi), repeat=k):
            x = torch.zeros(h, dtype=A.dtype)
            x[list(S)] = torch.tensor(vals, dtype=A.dtype)
            cols.append(x)
            masks.append(x != 0)
    X, M = torch.stack(cols, 1), torch.stack(masks, 1)
    return A @ X, M


def test_lemma452_algebra_by_enumeration():
    """T4.4: the batched proxy gradient on the enumerated data set = the closed-form expectation = the printed
    G¹..G⁵ (typo fixed) = α_i W_i − β_i A*_i + e_i from the printed α, β, e, for h = 8, k = 2, n = 6."""
    g = gen(5)
    h, k, n, lo, hi = 8, 2, 6, 1.0, 3.0
    m1, m2 = (lo + hi) / 2, (lo * lo + hi * hi) / 2
    A = sc.make_dictionary(n, h, generator=g)
    W = A.T + 0.2 * torch.randn(h, n, generator=g, dtype=A.dtype)
    eps = 0.1 + torch.rand(h, generator=g, dtype=A.dtype)              # unequal biases expose the G¹ typo
    Y, M = _discrete_dataset(A, k, lo, hi)
    P = sc.proxy_grad(W, Y, M, eps)                                      # (h, n)
    for i in range(h):
        exact = sc.expected_proxy_grad(W, A, eps, m1, m2, k, i)
        assert torch.allclose(P[i], exact, atol=1e-10)
        printed = sum(sc.g_printed(W, A, eps, m1, m2, i, S) for S in sc.supports(h, k, i)) / math.comb(h, k)
        assert torch.allclose(printed, exact, atol=1e-10)
        al, be, e = sc.lemma452_coefficients(W, A, eps, m1, m2, k, i)
        assert torch.allclose(al * W[i] - be * A[:, i] + e, exact, atol=1e-10)
    typo = sum(sc.g_printed(W, A, eps, m1, m2, 0, S, typo=True) for S in sc.supports(h, k, 0)) / math.comb(h, k)
    assert (typo - sc.expected_proxy_grad(W, A, eps, m1, m2, k, 0)).norm() > 1e-3
    # with equal biases the typo is harmless
    e1 = torch.full((h,), 0.7, dtype=A.dtype)
    t1 = sum(sc.g_printed(W, A, e1, m1, m2, 0, S, typo=True) for S in sc.supports(h, k, 0)) / math.comb(h, k)
    assert torch.allclose(t1, sc.expected_proxy_grad(W, A, e1, m1, m2, k, 0), atol=1e-10)


def test_perturbation_distance_and_bias_presets():
    A = sc.make_dictionary(5, 9, generator=gen(6), batch=(2,))
    W = sc.perturb_columns(A, torch.tensor([0.1, 0.4], dtype=A.dtype), n_points=3, generator=gen(7))
    assert W.shape == (2, 3, 9, 5)
    d = sc.column_distance(W, A.unsqueeze(1))
    assert torch.allclose(d[0], torch.full((3, 9), 0.1, dtype=A.dtype)) and torch.allclose(d[1], torch.full(
        (3, 9), 0.4, dtype=A.dtype))
    assert sc.bias("theorem", m1=2, k=3, delta=0.1, mu_coh=0.2) == pytest.approx(2 * 2 * 3 * 0.3)
    assert sc.bias("delta_only", m1=2, k=3, delta=0.1) == pytest.approx(1.2)
    with pytest.raises(ValueError, match="preset"):
        sc.bias("nope", m1=1, k=1, delta=0)


def test_false_activation_impossible_for_uniform_codes():
    """With U[a,b] codes and the theorem's ε, |Z_i| ≤ b k (δ+μ) ≤ ε, so no off-support unit ever fires."""
    A = sc.make_dictionary(32, 64, "id_hadamard")
    dist = sc.CodeDist("uniform", 1, 10)
    X, M = sc.sample_codes(64, 4, 2000, dist, generator=gen(8))
    W = sc.perturb_columns(A, 0.05, n_points=1, generator=gen(9))[0]
    eps = sc.bias("theorem", m1=dist.m1, k=4, delta=0.05, mu_coh=float(sc.coherence(A)))
    assert float(sc.support_recovery(W, A @ X, M, eps)["false_rate"]) == 0.0


def test_uncorrelated_counterexample():
    """The construction is uncorrelated with mean m1 (checked by enumeration) and beats the bound for k = 16."""
    k, m1, a, tau = 8, 1.0, 0.05, 0.5
    H = sc.hadamard(k)
    d = m1 - a
    outcomes = []
    for r in range(k):
        for s in (-1, 1):
            for eta in itertools.product((-1, 1), repeat=k):
                up = (s * H[r] > 0).to(H.dtype)
                outcomes.append(m1 + d * s * H[r] + tau * torch.tensor(eta, dtype=H.dtype) * up)
    Xo = torch.stack(outcomes)                                       # equally likely
    assert Xo.min() >= a - 1e-12
    assert torch.allclose(Xo.mean(0), torch.full((k,), m1, dtype=H.dtype))
    C = torch.cov(Xo.T, correction=0)
    assert torch.allclose(C - torch.diag(torch.diag(C)), torch.zeros(k, k, dtype=H.dtype), atol=1e-12)
    p_enum = float((Xo.sum(1) > 2 * k * m1 + 1e-12).to(H.dtype).mean())
    assert sc.uncorrelated_counterexample(k, m1, a, tau)["prob"] == pytest.approx(p_enum)
    big = sc.uncorrelated_counterexample(16, m1, a, tau)
    assert big["prob"] > big["bound"]


def test_gd_armijo_decreases_loss_and_matches_single():
    g = gen(10)
    A = sc.make_dictionary(8, 16, generator=g, batch=(2,))
    X, _ = sc.sample_codes(16, 1, 200, sc.CodeDist(), generator=g, batch=(2,))
    Y = A @ X
    W0 = sc.perturb_columns(A, 0.5, n_points=1, generator=g)[:, 0]
    out = sc.gd_armijo(W0, Y, 0.0, max_iter=30)
    assert (out["loss"] < sc.loss(W0, Y, 0.0)).all()
    one = sc.gd_armijo(W0[1], Y[1], 0.0, max_iter=30)
    assert torch.allclose(one["W"], out["W"][1], atol=1e-12)


def test_bad_inputs():
    with pytest.raises(ValueError, match="kind"):
        sc.CodeDist("gauss")
    with pytest.raises(ValueError, match="k="):
        sc.sample_codes(5, 6, 3, sc.CodeDist())
    with pytest.raises(ValueError, match="power"):
        sc.hadamard(6)


def test_expected_grad_k1_matches_quadrature():
    """Exact one-sparse expectation vs the batched gradient on a data set of every support j × a fine
    midpoint grid of x in [a, b] (error O(grid step))."""
    A = sc.make_dictionary(16, 32, "id_hadamard")
    dist = sc.CodeDist("uniform", 1, 10)
    W = sc.perturb_columns(A, 0.1, n_points=1, generator=gen(11))[0]
    eps = sc.bias("theorem", m1=dist.m1, k=1, delta=0.1, mu_coh=float(sc.coherence(A)))
    Q = 4000
    x = dist.a + (torch.arange(Q, dtype=A.dtype) + 0.5) * (dist.b - dist.a) / Q
    Y = (A[:, :, None] * x).reshape(16, -1)                        # (n, h*Q): all supports, all grid values
    G = sc.loss_and_grad(W, Y, eps)[1]
    E = sc.expected_grad_k1(W, A, eps, dist)
    assert torch.allclose(G, E, rtol=1e-3, atol=1e-6)
    with pytest.raises(ValueError, match="off-support"):
        sc.expected_grad_k1(W, A, 0.0, dist)


def test_tied_training_batched_and_classifier():
    g = gen(12)
    X = torch.rand(64, 10, generator=g)
    P, curve = sc.train_tied(X, 8, "one", n_models=2, steps=60, batch=16, lr=1e-2, generator=g)
    assert curve.shape == (60, 2) and (curve[-10:].mean(0) < curve[:5].mean(0)).all()
    assert sc.tied_forward(P, X.expand(2, -1, -1), "two").min() >= 0
    ytr = torch.tensor([0, 1] * 32)
    Xtr = X + 3 * ytr[:, None]
    acc = sc.nearest_mean_accuracy(Xtr, ytr, Xtr.expand(3, -1, -1), ytr)
    assert acc.shape == (3,) and torch.all(acc == 1)


def test_blocked_gradient_with_broadcasting_matches_unblocked():
    """The cache-blocked path (tiny block) equals the one-shot path, with Y and ε broadcast over points."""
    g = gen(13)
    A = sc.make_dictionary(6, 12, generator=g, batch=(3,))
    X, _ = sc.sample_codes(12, 2, 40, sc.CodeDist(), generator=g, batch=(3,))
    Y = (A @ X).unsqueeze(1)                                           # (3, 1, n, N)
    W = sc.perturb_columns(A, 0.3, n_points=4, generator=g)            # (3, 4, h, n)
    for eps in (0.7, torch.tensor([0.2, 0.5, 0.9], dtype=A.dtype)[:, None].expand(3, 4)):
        L1, G1 = sc.loss_and_grad(W, Y, eps)
        L2, G2 = sc.loss_and_grad(W, Y, eps, block_elems=1)
        assert G1.shape == (3, 4, 12, 6) and torch.allclose(G1, G2, atol=1e-13) and torch.allclose(L1, L2)
