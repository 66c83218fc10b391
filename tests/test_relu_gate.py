"""Tests of lib.relu_gate against exact oracles: closed forms, per-run loops, identities of the proofs,
exact binomial tails and the recursion iterated with equality."""
import math

import numpy as np
import pytest
import torch

from lib import relu_gate as rg

F64 = torch.float64


def _gen(seed=0):
    return torch.Generator().manual_seed(seed)


# ------------------------------------------------------------------------------------------------ Algorithm 2
def test_gaussian_contraction_closed_form_against_operator_monte_carlo():
    """E[A^T A] = (1 - eta + eta^2 (n+2)/2) I and the spectral radius of P -> E[A P A] equals the same number."""
    n, N = 4, 400_000
    x = torch.randn(N, n, generator=_gen(1), dtype=F64)
    w_star = torch.tensor([0.6, -0.8, 0.0, 0.0], dtype=F64)
    eta = 0.1
    o = rg.second_moment_operator(x, w_star, eta)
    rho = rg.gaussian_rates(n, eta)["rho_exact"]
    np.testing.assert_allclose(o["Q"], rho * np.eye(n), atol=6e-3)
    assert abs(o["rho_exact"] - rho) < 6e-3
    assert abs(o["lambda_min"] - 0.5) < 0.02 and abs(o["c1"] / (n * (n + 2) / 2) - 1) < 0.03
    g = rg.gaussian_rates(n)
    assert g["eta_thm"] == pytest.approx(1 / (n * (n + 2)))
    assert g["rho_bound"] == pytest.approx(1 - 1 / (2 * n * (n + 2)))
    assert g["rho_exact"] < g["rho_bound"]


def test_one_step_of_algorithm2_contracts_by_the_exact_factor():
    """Monte Carlo of one SGD step from a fixed error: E||e_1||^2 / ||e_0||^2 = rho_exact (within 4 s.e.)."""
    n, B = 6, 200_000
    eta = 0.05
    w_star = torch.zeros(B, n, dtype=F64)
    w_star[:, 0] = 1.0
    w1 = w_star + torch.tensor([0.3, -1.0, 0.5, 0.0, 0.2, 0.7], dtype=F64)
    res = rg.modified_sgd(w1, w_star, eta, 1, laws=["gaussian"] * B, dims=[n] * B, generator=_gen(2),
                          record_every=1, chunk=1)
    ratio = res.err2[1] / res.err2[0]
    m, se = ratio.mean(), ratio.std() / math.sqrt(B)
    assert abs(m - rg.gaussian_rates(n, eta)["rho_exact"]) < 4 * se


def test_mean_square_factor_is_unbiased_for_gaussian_inputs():
    n, B, eta = 5, 4000, 1 / 7                      # a large step: the log of the mean over runs is biased here
    w_star = torch.zeros(B, n, dtype=F64)
    w_star[:, 0] = 1.0
    res = rg.modified_sgd(-w_star, w_star, eta, 60, laws=["gaussian"] * B, dims=[n] * B, generator=_gen(13),
                          record_every=5, chunk=60)
    est = rg.mean_square_factor(res.t, res.err2)
    assert est == pytest.approx(math.log(rg.gaussian_rates(n, eta)["rho_exact"]), rel=0.02)


def test_batched_sgd_matches_per_run_loop_and_padding():
    """sgd_chunk on (steps, B, n) equals a numpy loop run by run; a run padded to n_max equals the unpadded run."""
    g = _gen(3)
    T, B, n = 40, 5, 3
    X = torch.randn(T, B, n, generator=g, dtype=F64)
    w = torch.randn(B, n, generator=g, dtype=F64)
    ws = torch.randn(B, n, generator=g, dtype=F64)
    eta = torch.rand(B, generator=g, dtype=F64) * 0.2
    w_end, err = rg.sgd_chunk(w, ws, eta, X)
    Xn, wsn, en = X.numpy(), ws.numpy(), eta.numpy()
    for b in range(B):
        v = w[b].numpy().copy()
        ref = np.empty(T)
        for s in range(T):
            x = Xn[s, b]
            yv = max(0.0, wsn[b] @ x)
            if yv > 0:
                v = v - en[b] * (-1.0) * (yv - v @ x) * x
            ref[s] = ((v - wsn[b]) ** 2).sum()
        np.testing.assert_allclose(err[:, b].numpy(), ref, rtol=1e-12)
        np.testing.assert_allclose(w_end[b].numpy(), v, rtol=1e-12)
    Xp = torch.cat([X, torch.zeros(T, B, 2, dtype=F64)], 2)
    pad = lambda a: torch.cat([a, torch.zeros(B, 2, dtype=F64)], 1)  # noqa: E731
    w_pad, err_pad = rg.sgd_chunk(pad(w), pad(ws), eta, Xp)
    torch.testing.assert_close(err_pad, err)
    torch.testing.assert_close(w_pad[:, :n], w_end)


def test_sample_inputs_laws():
    g = _gen(4)
    x = rg.sample_inputs(["exp_mixture", "half_singular", "gaussian"], [6, 5, 3], 6, 40_000, generator=g)
    assert x.shape == (40_000, 3, 6)
    assert torch.all(x[:, 2, 3:] == 0) and torch.all(x[:, 1, 5:] == 0)
    mean = x[:, 0].mean(0)
    np.testing.assert_allclose(mean[:3].numpy(), [0.5, 0.25, 0.0], atol=0.03)   # half of mu = (1, 0.5, 0, ...)
    on = x[:, 1, 0] > 0
    assert torch.all(x[on, 1, 4] == 0) and bool((x[~on, 1, 4] != 0).all())      # x_n = 0 whenever w*.x > 0
    with pytest.raises(ValueError, match="law"):
        rg.sample_inputs(["cauchy"], [2], 2, 3, generator=g)
    with pytest.raises(ValueError, match="dims"):
        rg.sample_inputs(["gaussian"], [5], 3, 3, generator=g)


def test_relu_risk_gaussian_closed_form():
    g = _gen(5)
    w, ws = torch.tensor([0.3, -1.2, 0.5], dtype=F64), torch.tensor([1.0, 0.4, -0.2], dtype=F64)
    x = torch.randn(1_000_000, 3, generator=g, dtype=F64)
    mc = ((torch.relu(x @ w) - torch.relu(x @ ws)) ** 2).mean().item()
    assert rg.relu_risk_gaussian(w, ws).item() == pytest.approx(mc, rel=0.01)
    assert rg.relu_risk_gaussian(ws, ws).item() == pytest.approx(0.0, abs=1e-12)


def test_seed_slopes_and_steps_needed():
    t = np.arange(0, 100, 5.0)
    tr = np.stack([3.0 * np.exp(-0.02 * t), 2.0 * np.exp(-0.02 * t)])
    out = rg.seed_slopes(t, tr)
    np.testing.assert_allclose(out["slopes"], -0.02, atol=1e-12)
    T = rg.steps_needed(4.0, 1e-2, 0.1, 0.99)
    assert 0.99 ** (T - 1) * 4.0 <= 1e-4 * 0.1 < 0.99 ** (T - 2) * 4.0


# ------------------------------------------------------------------------------------------------ Algorithm 3
def test_noisy_gd_without_noise_is_plain_gd_and_lemma342_holds():
    g = _gen(6)
    S, n = 30, 4
    X = torch.randn(S, n, generator=g, dtype=F64)
    ws = torch.randn(n, generator=g, dtype=F64)
    y = torch.relu(X @ ws)
    w0 = torch.randn(3, n, generator=g, dtype=F64)
    res = rg.noisy_gd(X, y, ws, w0, 0.05, 20, S1=0.0, sigma=0.0, generator=g, record_every=20)
    w = w0.clone()
    for _ in range(20):
        u = w @ X.T
        gr = -(((y - torch.relu(u)) * (u >= 0)) @ X) / S
        w = w - 0.05 * gr
    torch.testing.assert_close(res.w[-1], w)
    res = rg.noisy_gd(X, y, ws, w0, 0.05, 200, S1=0.1, sigma=0.3, generator=g)
    assert res.min_slack.min().item() >= -1e-12


def test_stopped_process_freezes_outside_the_ball():
    g = _gen(7)
    X = torch.randn(10, 3, generator=g, dtype=F64)
    ws = torch.zeros(3, dtype=F64)
    res = rg.noisy_gd(X, torch.relu(X @ ws), ws, torch.zeros(50, 3, dtype=F64), 0.5, 100, S1=0.0, sigma=1.0,
                      generator=g, record_every=1, stop_radius=0.5, C_L=1.0)
    d = (res.w - ws).norm(dim=2)                                                     # (K, B)
    first = (d >= 0.5).float().argmax(0)
    for b in range(50):
        k = int(first[b])
        if d[k, b] >= 0.5:
            assert torch.all(res.w[k:, b] == res.w[k, b])
    assert bool((d[-1] >= 0.5).any()) and res.truncated.sum().item() > 0


def test_confinement_radius_is_the_remarks_fixed_point():
    kw = dict(i_max=1000, eta=2e-3, C=1.0, S1=0.1, n=10, C_L=3.0, tail=1e-12, d0sq=1.0)
    out = rg.confinement_bound(np.array([1.0, 50.0, 400.0]), **kw)
    r2 = out["r"] ** 2
    rhs = out["lam"] + 1.0 + 1000 * (2 * 2e-3**2 * (r2 + 0.1**2) + 2e-3 * 10)
    np.testing.assert_allclose(r2, rhs, rtol=1e-12)
    sq = rg.confinement_bound(out["lam"], square_k=True, **kw)
    assert np.all((sq["bound"] >= out["bound"]) == (out["K"] >= 1))
    m1, m2 = rg.minimal_radius(0.1, **kw), rg.minimal_radius(0.1, square_k=True, **kw)
    assert m2["r"] > m1["r"] > 1.0
    with pytest.raises(ValueError, match="eta"):
        rg.confinement_bound(1.0, **{**kw, "eta": 0.1})


# ------------------------------------------------------------------------------------------------ Algorithm 4
def test_gate_lipschitz_from_pwl_against_finite_differences():
    z = torch.linspace(-4, 4, 80_001, dtype=F64)
    for name in list(rg.GATES) + ["linear 2.5"]:
        L, mono = rg.gate_lipschitz(name)
        s = rg.gate_apply(z[None], rg.gate_params([name]))[0]
        d = torch.diff(s) / torch.diff(z)
        assert d.abs().max().item() == pytest.approx(L, rel=1e-3) and mono == bool((d >= -1e-12).all())
    with pytest.raises(ValueError, match="gate"):
        rg.gate_lipschitz("swish")


def _glm_problem(seed, B=6, S=40, n=5, theta=0.05):
    g = _gen(seed)
    X = torch.randn(B, S, n, generator=g, dtype=F64)
    X = X / X.norm(dim=2, keepdim=True) * torch.rand(B, S, 1, generator=g, dtype=F64)
    ws = torch.randn(B, n, generator=g, dtype=F64) * 2
    names = (list(rg.GATES) * 2)[:B]
    xi = (2 * torch.rand(B, S, generator=g, dtype=F64) - 1) * theta
    y = rg.gate_apply(torch.einsum("bsn,bn->bs", X, ws), rg.gate_params(names)) + xi
    return X, y, ws, names


def test_lemma351_identity_and_inequality():
    """eq. 3.21 is an identity; Lemma 3.5.1's inequality holds at every step, for every gate, with noise."""
    X, y, ws, names = _glm_problem(8)
    res = rg.glmtron(X, y, ws, names, 200)
    assert res.identity_gap.max() < 1e-10
    assert res.slack.min() >= -1e-10
    L = torch.tensor([rg.gate_lipschitz(nm)[0] for nm in names], dtype=F64)
    o = rg.lemma351_terms(torch.randn_like(ws), ws, X, y, rg.gate_params(names), L)
    torch.testing.assert_close(o["decrease"], o["identity_rhs"])
    assert bool((o["slack"] >= -1e-10).all())


def test_glmtron_linear_gate_is_a_matrix_power():
    """sigma(z) = L z, realizable: w_t - w* = (I - L Sigma_hat)^(t-1) (w_1 - w*) with w_1 = 0."""
    g = _gen(9)
    B, S, n, L = 2, 30, 4, 2.1
    X = torch.randn(B, S, n, generator=g, dtype=F64) / 3
    ws = torch.randn(B, n, generator=g, dtype=F64)
    y = L * torch.einsum("bsn,bn->bs", X, ws)
    res = rg.glmtron(X, y, ws, [f"linear {L}"] * B, 15)
    for b in range(B):
        Sig = X[b].T @ X[b] / S
        e = torch.linalg.matrix_power(torch.eye(n, dtype=F64) - L * Sig, 15) @ (-ws[b])
        torch.testing.assert_close(res.w[b] - ws[b], e)


def test_glmtron_realizable_telescoping():
    """theta = 0: sum_t L~_S(h_t) <= ||w*||^2 L/(2-L) (Lemma 3.5.1 summed)."""
    X, y, ws, names = _glm_problem(10, theta=0.0)
    res = rg.glmtron(X, y, ws, names, 300)
    L = np.array([rg.gate_lipschitz(nm)[0] for nm in names])
    assert np.all(res.Ltilde.sum(0) <= (ws**2).sum(1).numpy() * L / (2 - L) + 1e-9)


# ----------------------------------------------------------------------------------- Thm 3.D.1 and Lemma 3.E.1
def test_rademacher_tail_against_enumeration_and_azuma():
    n, c = 10, 3.0
    signs = np.array(np.meshgrid(*[[-1, 1]] * n)).reshape(n, -1).T
    sums = c * signs.sum(1)
    lam = np.array([0.0, 3.0, 6.0, 12.0, 18.0, 30.0])
    brute = np.array([(sums >= v).mean() for v in lam])
    np.testing.assert_allclose(rg.rademacher_tail(lam, n, c), brute, rtol=1e-12)
    assert np.all(brute <= rg.azuma_bound(lam, n, c) + 1e-15)


def test_bounded_walk_tail_is_below_azuma():
    lam = np.array([5.0, 10.0, 15.0])
    p = rg.bounded_walk_tail(lam, 50, 1.0, 0.0, 40_000, generator=_gen(11))
    assert np.all(p <= rg.azuma_bound(lam, 50, 1.0))
    assert p[0] > 0.01


def test_recursion_T_is_tight_when_iterated_with_equality():
    for case, kw in ((1, dict(b=1.0, c1=2.0, C=5.0, eps=0.01)), (2, dict(b=1.0, c1=2.0, c2=0.5, C=5.0, eps=0.3))):
        o = rg.recursion_T(case, **kw)
        T = math.ceil(o["T"])
        X = rg.iterate_recursion(o["eta"], b=kw["b"], c1=kw["c1"], c2=kw.get("c2", 0.0), C=kw["C"], T=T)
        assert X[T - 1] <= kw["eps"] ** 2 * (1 + 1e-12)
        assert X[T - 2] > kw["eps"] ** 2
    with pytest.raises(ValueError, match="case"):
        rg.recursion_T(3, b=1.0, c1=1.0, C=1.0, eps=0.1)


def test_glmtron_log_matches_lemma351_terms():
    """The in-loop bookkeeping of glmtron equals lemma351_terms evaluated at the same iterate."""
    X, y, ws, names = _glm_problem(12)
    r5 = rg.glmtron(X, y, ws, names, 5)
    r6 = rg.glmtron(X, y, ws, names, 6)
    L = torch.tensor([rg.gate_lipschitz(nm)[0] for nm in names], dtype=F64)
    o = rg.lemma351_terms(r5.w, ws, X, y, rg.gate_params(names), L)
    np.testing.assert_allclose(r6.slack[5], o["slack"].numpy(), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(r6.Ltilde[5], o["Ltilde"].numpy(), rtol=1e-9, atol=1e-15)
    np.testing.assert_allclose(r6.eta, o["eta"].numpy(), rtol=1e-12)
