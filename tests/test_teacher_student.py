"""Tests of lib/teacher_student.py: forward pass, batched gradients, batched vs one-at-a-time training."""

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from lib import teacher_student as ts

DT = torch.float64


def _gen(seed=0):
    return torch.Generator().manual_seed(seed)


def _problem(K=2, T=3, d=4, m=3, N=17, seed=0, dtype=DT):
    g = _gen(seed)
    Ws = ts.sample_teachers(K, d, m, generator=g, dtype=dtype)
    X = ts.gaussian_inputs(K, N, d, generator=g, dtype=dtype)
    Y = ts.relu_net(Ws, X)
    W0 = ts.sample_teachers(K * T, d, m, generator=g, dtype=dtype)
    return Ws, X, Y, W0


def test_relu_net_matches_explicit_sum():
    g = _gen()
    W = ts.sample_teachers(3, 4, 5, generator=g, dtype=DT)
    X = ts.gaussian_inputs(3, 7, 4, generator=g, dtype=DT)
    out = ts.relu_net(W, X)
    for b in range(3):
        for n in range(7):
            ref = sum(max(float(W[b, :, j] @ X[b, n]), 0.0) for j in range(5)) / math.sqrt(5)
            assert abs(float(out[b, n]) - ref) < 1e-12


def test_grouped_and_expanded_data_equal_copies():
    g = _gen(1)
    K, T, N, d, m = 2, 3, 9, 4, 5
    W = ts.sample_teachers(K * T, d, m, generator=g, dtype=DT)
    X = ts.gaussian_inputs(K, N, d, generator=g, dtype=DT)
    full = X.repeat_interleave(T, 0)
    torch.testing.assert_close(ts.relu_net(W, X), ts.relu_net(W, full))
    X1 = X[:1]
    torch.testing.assert_close(ts.relu_net(W, X1.expand(K * T, N, d)), ts.relu_net(W, X1.repeat(K * T, 1, 1)))


def test_teacher_distributions():
    g = _gen(2)
    W = ts.sample_teachers(50, 9, 40, generator=g)
    assert W.abs().max() <= 1 / 3 + 1e-7
    assert abs(W.var().item() - 1 / 27) < 3e-3  # U(±1/sqrt d): variance 1/(3d)
    Wn = ts.sample_teachers(50, 9, 40, generator=g, dist="normal")
    assert abs(Wn.var().item() - 1 / 9) < 5e-3


@pytest.mark.parametrize("activation", [torch.relu, torch.tanh])
@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_batched_gradient_equals_autograd_single(activation, reduction):
    _, X, Y, W0 = _problem()
    T = 3
    B, d, m = W0.shape
    scale = torch.full((B,), 1 / math.sqrt(m), dtype=DT)
    count = torch.full((B,), float(X.shape[1]), dtype=DT)
    loss, grad = ts._loss_and_grad(W0, X, Y, None, count, scale, T, activation, reduction)
    for b in range(B):
        w = W0[b].clone().requires_grad_(True)
        f = activation(X[b // T] @ w).sum(-1) / math.sqrt(m)
        sq = ((f - Y[b // T]) ** 2)
        lb = sq.mean() if reduction == "mean" else sq.sum()
        lb.backward()
        assert abs(lb.item() - loss[b].item()) < 1e-10
        torch.testing.assert_close(grad[b], w.grad, atol=1e-10, rtol=1e-9)


@pytest.mark.parametrize("optimizer", ["adam", "gd"])
def test_batched_training_equals_torch_optim_loop(optimizer):
    _, X, Y, W0 = _problem(N=23)
    T = 3
    lr = 0.02 if optimizer == "adam" else 0.3
    res = ts.train(W0, X, Y, optimizer=optimizer, lr=lr, epochs=40)
    for b in range(W0.shape[0]):
        w = torch.nn.Parameter(W0[b].clone())
        opt = torch.optim.Adam([w], lr=lr) if optimizer == "adam" else torch.optim.SGD([w], lr=lr)
        for _ in range(40):
            opt.zero_grad()
            loss = ((torch.relu(X[b // T] @ w).sum(-1) / math.sqrt(w.shape[1]) - Y[b // T]) ** 2).mean()
            loss.backward()
            opt.step()
        torch.testing.assert_close(res.W[b], w.detach(), atol=1e-9, rtol=1e-7)
        final = ((torch.relu(X[b // T] @ w).sum(-1) / math.sqrt(w.shape[1]) - Y[b // T]) ** 2).mean()
        assert abs(final.item() - res.train_loss[b].item()) < 1e-9


def test_train_reports_r2_and_history():
    Ws, X, Y, W0 = _problem(N=50)
    g = _gen(3)
    Xt = ts.gaussian_inputs(2, 30, 4, generator=g, dtype=DT)
    Yt = ts.relu_net(Ws, Xt)
    res = ts.train(W0, X, Y, epochs=10, X_test=Xt, Y_test=Yt, record_every=5)
    pred = ts.relu_net(res.W, Xt)
    torch.testing.assert_close(res.test_r2, ts.r2(pred, Yt.repeat_interleave(3, 0)))
    assert res.history["train_loss"].shape == (2, 6)
    assert res.history["epoch"].tolist() == [5, 10]


def test_masks_equal_truncated_data():
    _, X, Y, W0 = _problem(K=2, T=2, N=20)
    Nv = torch.tensor([12, 20])
    mask = (torch.arange(20).view(1, -1) < Nv.view(-1, 1)).to(DT)
    res = ts.train(W0, X, Y, epochs=15, train_mask=mask)
    for k in range(2):
        n = int(Nv[k])
        r_k = ts.train(W0[2 * k:2 * k + 2], X[k:k + 1, :n], Y[k:k + 1, :n], epochs=15)
        torch.testing.assert_close(res.W[2 * k:2 * k + 2], r_k.W)
        torch.testing.assert_close(res.train_loss[2 * k:2 * k + 2], r_k.train_loss)


def test_zero_padding_in_d_and_m_is_exact():
    g = _gen(4)
    d, m, dp, mp, N = 3, 2, 6, 5, 25
    Ws = ts.sample_teachers(1, d, m, generator=g, dtype=DT)
    X = ts.gaussian_inputs(1, N, d, generator=g, dtype=DT)
    Y = ts.relu_net(Ws, X)
    W0 = ts.sample_teachers(2, d, m, generator=g, dtype=DT)
    ref = ts.train(W0, X, Y, epochs=30)
    Wp = torch.zeros(2, dp, mp, dtype=DT)
    Wp[:, :d, :m] = W0
    Xp = torch.zeros(1, N, dp, dtype=DT)
    Xp[..., :d] = X
    res = ts.train(Wp, Xp, Y, epochs=30, out_scale=torch.full((2,), 1 / math.sqrt(m), dtype=DT))
    torch.testing.assert_close(res.W[:, :d, :m], ref.W)
    assert res.W[:, d:].abs().max() == 0 and res.W[:, :, m:].abs().max() == 0


def test_minibatch_full_size_equals_full_batch():
    _, X, Y, W0 = _problem(N=16)
    a = ts.train(W0, X, Y, epochs=5, optimizer="gd", lr=0.1)
    b = ts.train(W0, X, Y, epochs=5, optimizer="gd", lr=0.1, batch_size=16, generator=_gen())
    torch.testing.assert_close(a.W, b.W)
    c = ts.train(W0, X, Y, epochs=5, optimizer="gd", lr=0.1, batch_size=4, generator=_gen())
    assert not torch.allclose(a.W, c.W)


def test_sample_students_padding():
    g = _gen(5)
    d = torch.tensor([2, 5])
    m = torch.tensor([3, 1])
    W = ts.sample_students(2, 5, 3, d, m, generator=g)
    assert W[0, 2:].abs().max() == 0 and W[1, :, 1:].abs().max() == 0
    assert W[0].abs().max() <= 1 / math.sqrt(2) + 1e-6 and W[1].abs().max() <= 1 / math.sqrt(5) + 1e-6


def test_r2_definitions():
    y = torch.tensor([[1.0, 2.0, 3.0, 6.0]])
    assert ts.r2(y, y).item() == pytest.approx(1.0)
    assert ts.r2(torch.full_like(y, y.mean().item()), y).item() == pytest.approx(0.0, abs=1e-7)
    assert ts.r2(torch.zeros_like(y), y).item() < 0


@settings(max_examples=8, deadline=None)
@given(st.integers(1, 6), st.integers(1, 8), st.integers(0, 1000))
def test_label_variance_formula_is_close_to_monte_carlo(d, m, seed):
    g = _gen(seed)
    W = ts.sample_teachers(300, d, m, generator=g, dtype=DT)
    X = ts.gaussian_inputs(300, 1000, d, generator=g, dtype=DT)
    mc = ts.relu_net(W, X).var(1).mean().item()
    # leading-order formula; the rho^4 terms it drops are at most a few per cent of the total at small d
    assert mc == pytest.approx(ts.label_variance(m, d), rel=0.15)


def test_bad_arguments():
    g = _gen()
    with pytest.raises(ValueError, match="d must be a positive integer"):
        ts.sample_teachers(2, 0, 3, generator=g)
    with pytest.raises(ValueError, match="dist"):
        ts.sample_teachers(2, 2, 3, generator=g, dist="he")
    _, X, Y, W0 = _problem()
    with pytest.raises(ValueError, match="optimizer"):
        ts.train(W0, X, Y, optimizer="sgd-momentum")
    with pytest.raises(ValueError, match="input dimension"):
        ts.train(W0, X[..., :3], Y)
    with pytest.raises(ValueError, match="divide"):
        ts.train(W0[:5], X, Y)
    with pytest.raises(ValueError, match="Y must have shape"):
        ts.train(W0, X, Y[:, :5])
    with pytest.raises(ValueError, match="batch_size"):
        ts.train(W0, X, Y, batch_size=10**6, generator=g)
    with pytest.raises(ValueError, match="X_test and Y_test"):
        ts.train(W0, X, Y, X_test=X)
    with pytest.raises(ValueError, match="same shape"):
        ts.r2(torch.zeros(3), torch.zeros(4))


@settings(max_examples=30, deadline=None)
@given(K=st.integers(1, 3), T=st.integers(1, 4), d=st.integers(1, 4), m=st.integers(1, 4))
def test_grouped_layout_round_trip_and_forward(K, T, d, m):
    """The unit-major grouped layout is a permutation: it round-trips, and its forward pass is eq. 2.1."""
    g = _gen(K * 100 + T * 10 + d + m)
    W = ts.sample_teachers(K * T, d, m, generator=g, dtype=DT)
    X = ts.gaussian_inputs(K, 6, d, generator=g, dtype=DT)
    Wg = ts._to_groups(W, T)
    assert Wg.shape == (K, d, m * T)
    torch.testing.assert_close(ts._from_groups(Wg, T), W, rtol=0, atol=0)
    # column j*T + t of group k is unit j of student k*T + t
    assert torch.equal(Wg[K - 1, :, (m - 1) * T + (T - 1)], W[K * T - 1, :, m - 1])
    scale = torch.full((K, 1, T), 1 / math.sqrt(m), dtype=DT)
    out, _ = ts._grouped_forward(Wg, X, scale, T, torch.relu)
    torch.testing.assert_close(out.permute(0, 2, 1).reshape(K * T, 6), ts.relu_net(W, X), rtol=0, atol=1e-13)


def test_adam_fallback_equals_fused_and_torch_optim(monkeypatch):
    """Both Adam paths (torch's fused kernel and the explicit single-tensor formula) are torch.optim.Adam."""
    _, X, Y, W0 = _problem(N=19)
    fused = ts.train(W0, X, Y, optimizer="adam", lr=0.02, epochs=25)
    monkeypatch.delattr(torch, "_fused_adam_")
    plain = ts.train(W0, X, Y, optimizer="adam", lr=0.02, epochs=25)
    torch.testing.assert_close(fused.W, plain.W, atol=1e-12, rtol=1e-10)
    w = torch.nn.Parameter(W0[4].clone())
    opt = torch.optim.Adam([w], lr=0.02)
    for _ in range(25):
        opt.zero_grad()
        ((torch.relu(X[1] @ w).sum(-1) / math.sqrt(w.shape[1]) - Y[1]) ** 2).mean().backward()
        opt.step()
    torch.testing.assert_close(plain.W[4], w.detach(), atol=1e-12, rtol=1e-10)


def test_minibatch_non_relu_equals_single_model_autograd():
    """Minibatch SGD with a smooth activation (the autograd branch) on per-model targets equals the loop."""
    _, X, _, W0 = _problem(K=2, T=2, N=12)
    g = _gen(7)
    Yb = torch.randn(4, 12, generator=g, dtype=DT)  # per-model targets (B, N)
    res = ts.train(W0, X, Yb, optimizer="gd", lr=0.05, epochs=3, batch_size=4, generator=_gen(9),
                   activation=torch.tanh)
    for b in range(4):
        w = W0[b].clone().requires_grad_(True)
        gp = _gen(9)
        for _ in range(3):
            perm = torch.randperm(12, generator=gp)
            for i in range(3):
                idx = perm[4 * i:4 * i + 4]
                loss = ((torch.tanh(X[b // 2, idx] @ w).sum(-1) / math.sqrt(3) - Yb[b, idx]) ** 2).mean()
                (gw,) = torch.autograd.grad(loss, w)
                with torch.no_grad():
                    w -= 0.05 * gw
        torch.testing.assert_close(res.W[b], w.detach(), atol=1e-12, rtol=1e-10)


@pytest.mark.parametrize("T", [1, 3])
def test_train_leaves_initial_weights_untouched(T):
    """W0 is an input: training (one data set per model, T = 1, or shared, T = 3) never writes it, and the
    returned weights do not alias it."""
    _, X, Y, W0 = _problem(K=2, T=3, N=15)
    if T == 1:
        X, Y = X.repeat_interleave(3, 0), Y.repeat_interleave(3, 0)
    keep = W0.clone()
    res = ts.train(W0, X, Y, epochs=5)
    assert torch.equal(W0, keep)
    assert res.W.data_ptr() != W0.data_ptr() and not torch.equal(res.W, W0)
