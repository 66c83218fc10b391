"""Tests of lib/pac_bayes.py: the bound formulas on hand-computed cases, the lemmas against Monte Carlo."""
import math

import numpy as np
import pytest
import torch

from lib import mlp_geometry as mg
from lib import pac_bayes as pb


def test_margin_loss_hand_case():
    logits = torch.tensor([[2.0, 1.0, 0.0], [0.0, 0.5, 0.4], [1.0, 1.0, 3.0]])
    y = torch.tensor([0, 1, 2])
    # margins f[y] - max_{i != y} f[i] = 1.0, 0.1, 2.0
    assert pb.margin_loss(logits, y, 0.0).item() == pytest.approx(0.0)
    assert pb.margin_loss(logits, y, 0.1).item() == pytest.approx(1 / 3)  # "<=" counts the tie
    assert pb.margin_loss(logits, y, 1.5).item() == pytest.approx(2 / 3)
    batched = pb.margin_loss(torch.stack([logits, -logits]), y, torch.tensor([0.1, 0.0]))
    assert batched.shape == (2,) and batched[0].item() == pytest.approx(1 / 3) and batched[1].item() == 1.0


def test_nbs_bound_hand_computed():
    # d = 2, m = 101, B = 1, h = 1, gamma = 0.2, beta = 0.4, sum ||W||_F^2 = 0.5, L_{gamma/2} = 0.1
    r = pb.nbs_bound(0.5, 0.4, 0.2, 0.1, B=1.0, m=101, d=2, h=1)
    c = math.e  # exp(3 - 2/(d-1))
    lo, hi = math.sqrt(0.1), math.sqrt(10 * 0.2 / (4 * c))
    assert lo == pytest.approx(0.316228, rel=1e-5) and hi == pytest.approx(0.428882, rel=1e-5)
    assert r.K[()] == 2  # ceil(1 * sqrt(10 / (2e))) = ceil(1.356)
    assert r.beta_tilde[()] == pytest.approx(hi)  # 0.4 is nearer to hi than to lo
    sigma = min(0.2 / (4 * math.e ** 2 * hi), hi / math.e) / (2 * math.sqrt(2 * math.log(8)))
    assert r.sigma[()] == pytest.approx(sigma) and sigma == pytest.approx(0.0038685, rel=1e-4)
    value = 0.1 + math.sqrt((0.5 / (2 * sigma ** 2) + math.log(303 / 0.025)) / 100)
    assert r.value[()] == pytest.approx(value) and value == pytest.approx(13.0286, rel=1e-4)
    assert bool(r.gamma_branch) and bool(r.in_grid)


def test_nbs_out_of_grid_uses_raw_beta():
    r = pb.nbs_bound(1.0, 5.0, 0.2, 0.0, B=1.0, m=101, d=3, h=4)
    assert not r.in_grid and r.beta_tilde[()] == 5.0


def test_our_bound_single_cluster_hand_computed():
    gamma, beta, B, m, d, h, dmin = 0.5, 1.2, 2.0, 501, 3, 10, 1e-3
    r = pb.our_bound(np.array([[2.0]]), np.array([beta]), gamma, 0.05, B=B, m=m, d=d, h=h, d_min=dmin)
    delta = r.delta[0]
    K1 = r.K[0] / 314
    assert K1 == int(K1) and 314 * K1 * delta == pytest.approx(0.05)
    lo, hi = pb.our_interval(gamma, B=B, m=m, d=d, h=h, d_min=dmin, delta=delta)
    assert lo == pytest.approx((gamma / (2 * B)) ** (1 / 3))
    assert hi == pytest.approx((gamma * math.sqrt(1000) / (8 * B * math.e ** 3 * 3 * dmin
                                                          * math.sqrt(20 * math.log(60 / delta)))) ** 0.5)
    bt = r.beta_tilde[0]
    s = min(bt / (3 * math.exp(0.5)), gamma / (math.e ** 2 * 3 * B * bt ** 2)) / math.sqrt(20 * math.log(60 / delta))
    assert r.sigma[0] == pytest.approx(s)
    assert r.kl[0] == pytest.approx(4.0 / (2 * s * s))  # k1 = 1: KL = ||A - B||^2 / (2 sigma^2)
    assert r.value[0] == pytest.approx(0.05 + math.sqrt((r.kl[0] + math.log(3 * m / delta)) / (m - 1)))
    proof = pb.our_bound(np.array([[2.0]]), np.array([beta]), gamma, 0.05, B=B, m=m, d=d, h=h, d_min=dmin,
                         sigma_form="proof")
    assert proof.sigma[0] <= r.sigma[0]
    # below d_min the cluster net is not admissible (C3)
    far = pb.our_bound(np.array([[1e-4]]), np.array([beta]), gamma, 0.05, B=B, m=m, d=d, h=h, d_min=dmin)
    assert far.value[0] == np.inf


def test_our_kl_sandwich_and_delta_fixed_point():
    rng = np.random.default_rng(0)
    dist = rng.uniform(0.5, 3.0, size=(5, 5))
    r = pb.our_bound(dist, rng.uniform(0.8, 1.5, 5), 0.3, 0.0, B=1.0, m=1000, d=4, h=50, d_min=1e-2)
    x = dist.min(1) ** 2 / (2 * r.sigma ** 2)
    assert (r.kl >= x - 1e-6 * x).all() and (r.kl <= x + math.log(5) + 1e-6 * x).all()
    for gamma in (1e-3, 0.1, 10.0):
        delta, K1, it = pb.our_delta(gamma, B=50.0, m=1000, d=5, h=800, d_min=1e-3)
        lo, hi = pb.our_interval(gamma, B=50.0, m=1000, d=5, h=800, d_min=1e-3, delta=delta)
        K1_at = pb.grid_size(lo, hi, 5) if hi > lo else 2
        assert 314 * K1_at * delta <= 0.05 * (1 + 1e-12) and it <= 3


@pytest.mark.parametrize("lo,hi,d", [(0.3, 0.9, 2), (1.0, 7.0, 3), (0.05, 2.0, 8), (2.0, 2.1, 16)])
def test_beta_grid_covers(lo, hi, d):
    K = pb.grid_size(lo, hi, d)
    x = np.linspace(lo, hi, 5001)
    bt, inside = pb.beta_grid_nearest(x, lo, hi, K)
    assert inside.all() and (np.abs(x - bt) <= x / d + 1e-12).all()
    assert (bt ** (d - 1) <= math.e * x ** (d - 1)).all() and (bt ** (d - 1) >= x ** (d - 1) / math.e).all()


def test_tropp_identity_and_monte_carlo():
    d, h, sigma = 3, 20, 0.7
    t = sigma * math.sqrt(2 * h * math.log(4 * d * h))
    assert d * pb.tropp_tail(h, sigma, t) == pytest.approx(0.5)  # eq. 6.46: 2dh exp(...) = 1/2
    g = torch.Generator().manual_seed(0)
    s = pb.spectral_norm_samples(400, h, h, sigma, generator=g).numpy()
    U = torch.randn(1, h, h, generator=g, dtype=torch.float64)
    assert pb.spectral_norm_samples(1, 5, 9, 1.0, generator=torch.Generator().manual_seed(1))[0].item() == \
        pytest.approx(np.linalg.norm(torch.randn(5, 9, generator=torch.Generator().manual_seed(1),
                                                 dtype=torch.float64).numpy(), 2))
    for tt in np.linspace(0.5, 1.5, 5) * 2 * math.sqrt(h) * sigma:
        assert (s > tt).mean() <= min(1.0, pb.tropp_tail(h, sigma, tt)) + 0.05
    del U


def test_perturbation_bound_holds():
    g = torch.Generator().manual_seed(2)
    shapes = mg.layer_shapes(6, 12, 4, 3)
    W = mg.glorot_uniform(20, shapes, generator=g)
    X = torch.randn(50, 6, generator=g)
    B = X.norm(dim=1).max().item()
    sW = mg.spectral_norms(W)
    U = [torch.randn(w.shape, generator=g) for w in W]
    U = [u / mg.spectral_norms([u])[:, 0, None, None] * sW[:, l, None, None] / 4 for l, u in enumerate(U)]
    lhs = (mg.forward([w + u for w, u in zip(W, U)], X) - mg.forward(W, X)).norm(dim=-1).amax(-1)
    assert (lhs <= pb.perturbation_rhs(W, U, B)).all()


def test_gm_kl_upper_is_exact_variational_form_and_bounds_monte_carlo():
    rng = np.random.default_rng(0)
    A, Bs, a = rng.normal(size=2), rng.normal(size=(3, 2)), np.array([0.2, 0.3, 0.5])
    for sf, sg in ((0.6, 0.6), (0.4, 0.9)):
        n = 2
        kl_r = 0.5 * n * (sf ** 2 / sg ** 2 - 1) + n * math.log(sg / sf) + ((A - Bs) ** 2).sum(1) / (2 * sg ** 2)
        var = -math.log((a * np.exp(-kl_r)).sum())
        up = pb.gm_kl_upper(A, Bs, a, sf, sg)
        assert up == pytest.approx(var)
        mc, se = pb.gm_kl_monte_carlo(A, Bs, a, sf, sg, 40_000, rng)
        assert mc <= up + 4 * se


def test_noise_resilience_sigma_formula():
    s = pb.noise_resilience_sigma(np.array([1.0, 2.0]), np.array([0.5, 0.5]), 0.3, B=4.0, d=3, h=10, delta=0.05)
    t = min(1 / 3, 0.3 / (2 * math.e * 3 * 4 * 0.5 * 1), 2 / 3, 0.3 / (2 * math.e * 3 * 4 * 0.5 * 4))
    assert s == pytest.approx(t / math.sqrt(20 * math.log(2 * 3 * 10 * 2 / 0.05)))


def test_two_clusters_matches_rejection_sampler():
    rng = np.random.default_rng(5)
    for a in (2.0, 6.0):
        X, y = pb.two_clusters(30_000, 3, a, rng)
        X2, y2 = pb.two_clusters_rejection(30_000, 3, a, rng)
        for c in (0, 1):
            assert np.allclose(X[y == c].mean(0), X2[y2 == c].mean(0), atol=0.02)
            assert np.allclose(X[y == c].std(0), X2[y2 == c].std(0), atol=0.02)
        assert np.minimum(np.abs(X - 1).max(1), np.abs(X - a).max(1)).max() <= 1.0


def test_bad_input():
    with pytest.raises(ValueError, match="d="):
        pb.nbs_bound(1.0, 1.0, 0.1, 0.0, B=1.0, m=10, d=1, h=3)
    with pytest.raises(ValueError, match="sigma_form"):
        pb.our_bound(np.ones((1, 1)), np.ones(1), 0.1, 0.0, B=1.0, m=10, d=2, h=3, d_min=1e-3, sigma_form="x")
    with pytest.raises(ValueError, match="mode"):
        pb.effective_h(10, 20, 2, "max")


def test_binomial_upper_and_margin_transfer():
    assert pb.binomial_upper(0, 300, 0.95) == pytest.approx(1 - 0.05 ** (1 / 300))
    g = torch.Generator().manual_seed(4)
    W = mg.glorot_uniform(1, mg.layer_shapes(4, 8, 3, 3), generator=g)
    X = torch.randn(60, 4, generator=g)
    y = torch.randint(0, 3, (60,), generator=g)
    scale = torch.logspace(-3, 0, 200)[:, None, None]
    Wp = [w + scale * torch.randn((200, *w.shape[1:]), generator=g) for w in W]
    prem, fail = pb.margin_transfer(W, Wp, X, y, 0.2)
    assert prem.any() and not fail.any()
    dev = pb.output_deviation(W, Wp, X)
    assert dev.shape == (200,) and (dev[:20] < dev[-20:].min()).all()
    S = pb.sample_mixture([w.expand(3, *w.shape[1:]) for w in W], 0.0, 5, generator=g)
    assert torch.equal(S[0], W[0].expand(5, *W[0].shape[1:]))


def test_mixture_deviation_chunks_and_zero_noise():
    g = torch.Generator().manual_seed(7)
    W = mg.glorot_uniform(3, mg.layer_shapes(4, 6, 2, 2), generator=g)
    X = torch.randn(10, 4, generator=g)
    WA = [w[:1] for w in W]
    d0 = pb.mixture_deviation(WA, WA, 0.0, 7, X, generator=g, chunk=3)
    assert d0.shape == (7,) and (d0 == 0).all()
    d = pb.mixture_deviation(WA, W, 0.0, 50, X, generator=g, chunk=8)
    own = pb.output_deviation(WA, W, X)
    assert torch.isin(d, own).all()  # zero noise: each draw is one of the centres
