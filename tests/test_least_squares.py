"""Tests of lib.least_squares: dual == primal min-norm, streamed == direct, bagging bookkeeping."""

import pytest
import torch

from lib import least_squares as ls


def _rand(*shape, seed=0):
    return torch.randn(*shape, dtype=torch.float64, generator=torch.Generator().manual_seed(seed))


def test_dual_equals_pinv_min_norm():
    X, Y = _rand(3, 20, 50), _rand(3, 20, 4, seed=1)
    beta = ls.min_norm_dual(X, Y, rel_jitter=1e-14)
    ref = torch.linalg.pinv(X) @ Y
    torch.testing.assert_close(beta, ref, atol=1e-8, rtol=1e-8)
    torch.testing.assert_close(X @ beta, Y, atol=1e-8, rtol=1e-8)  # interpolates


def test_dual_matches_primal_lstsq_gelsd():
    X, Y = _rand(1, 15, 40, seed=2), _rand(1, 15, 3, seed=3)
    ref = torch.linalg.lstsq(X[0], Y[0], driver="gelsd").solution
    torch.testing.assert_close(ls.min_norm_dual(X, Y, rel_jitter=1e-14)[0], ref, atol=1e-8, rtol=1e-8)


def test_streamed_equals_direct_and_min_norm():
    X = _rand(300, 12)
    X[:, 5] = 0.0  # an all-zero column (border pixel): min-norm must give it weight 0
    X[:, 7] = X[:, 6]  # duplicate columns (ordered pairs)
    Y = _rand(300, 3, seed=4)
    ne = ls.streamed_normal_equations(ls.iter_chunks(X, Y, 37), lambda x: x)
    torch.testing.assert_close(ne.XtX, X.T @ X)
    torch.testing.assert_close(ne.XtY, X.T @ Y)
    sol = ls.solve_normal_equations(ne, "eigh")
    torch.testing.assert_close(sol.beta, torch.linalg.pinv(X) @ Y, atol=1e-9, rtol=1e-9)
    assert sol.rank == 10
    assert sol.beta[5].abs().max() < 1e-12
    torch.testing.assert_close(sol.beta[6], sol.beta[7])


def test_bagged_and_running_average():
    g = torch.Generator().manual_seed(0)
    X, Y = _rand(100, 30, seed=5), _rand(100, 2, seed=6)
    fit = ls.bagged_least_squares(X, Y, lambda x: x, n_bags=5, bag_size=10, generator=g, bags_per_group=2,
                                  rel_jitter=1e-14)
    assert fit.betas.shape == (5, 30, 2) and fit.bags.shape == (5, 10)
    for b in range(5):
        rows = fit.bags[b]
        assert rows.unique().numel() == 10
        torch.testing.assert_close(fit.betas[b], torch.linalg.pinv(X[rows]) @ Y[rows], atol=1e-8, rtol=1e-8)
    ra = ls.running_average(fit.betas)
    torch.testing.assert_close(ra[2], fit.betas[:3].mean(0))
    torch.testing.assert_close(ra[-1], fit.beta)


def test_one_vs_all_accuracy_and_scales():
    y = torch.tensor([0, 1, 2, 1])
    Yh = ls.one_hot(y, 3)
    F = torch.eye(4)
    beta = Yh.clone()
    assert float(ls.accuracy(F, beta, y)) == 1.0
    assert ls.accuracy(F, torch.stack([beta, -beta]), y).shape == (2,)
    l1, l2 = ls.coefficient_scales(torch.tensor([1.0, 2.0, 3.0, 10.0]))
    assert l1 == pytest.approx((1 + 0 + 1 + 8) / 4)  # torch.median takes the lower median (2)
    assert l2 == pytest.approx(float(torch.tensor([1.0, 2.0, 3.0, 10.0]).std(correction=0)))


def test_bad_input():
    with pytest.raises(ValueError, match="bag_size"):
        ls.draw_bags(10, 2, 11, torch.Generator())
    with pytest.raises(ValueError, match="solver"):
        ne = ls.streamed_normal_equations([(torch.ones(2, 2), torch.ones(2, 1))], lambda x: x)
        ls.solve_normal_equations(ne, "qr")
    with pytest.raises(ValueError, match="X must be"):
        ls.min_norm_dual(torch.zeros(2, 3), torch.zeros(2, 3))


def test_streamed_scores_match_direct():
    X, beta = _rand(50, 6, seed=8), _rand(3, 6, 4, seed=9)
    y = torch.randint(0, 4, (50,), generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(ls.scores_streamed(X, beta, lambda x: x, 7), ls.predict_scores(X, beta))
    torch.testing.assert_close(ls.accuracy_streamed(X, y, beta, lambda x: x, 7), ls.accuracy(X, beta, y))


def test_dual_with_unpenalised_intercept_matches_centred_pinv():
    X = _rand(2, 12, 30, seed=10)
    X[:, :, 0] = 1.0
    Y = _rand(2, 12, 3, seed=11)
    beta = ls.min_norm_dual(X, Y, rel_jitter=1e-14, intercept_col=0)
    for g in range(2):
        Xc = X[g, :, 1:] - X[g, :, 1:].mean(0)
        b = torch.linalg.pinv(Xc) @ (Y[g] - Y[g].mean(0))
        torch.testing.assert_close(beta[g, 1:], b, atol=1e-8, rtol=1e-8)
        torch.testing.assert_close(X[g] @ beta[g], Y[g], atol=1e-8, rtol=1e-8)  # still interpolates


def test_eigh_path_matches_solve_and_truncates():
    X = _rand(200, 8, seed=12)
    X[:, 7] = X[:, 6] + 1e-4 * _rand(200, seed=13)  # a nearly duplicated column
    Y = _rand(200, 2, seed=14)
    ne = ls.streamed_normal_equations(ls.iter_chunks(X, Y, 64), lambda x: x)
    path = ls.eigh_path(ne, [1e-6, 1e-12])
    torch.testing.assert_close(path.betas[1], torch.linalg.lstsq(X, Y).solution, atol=1e-6, rtol=1e-6)
    assert path.ranks == [7, 8]
    assert path.betas[1].abs().max() > 100 * path.betas[0].abs().max()   # the near-duplicate direction blows up


def test_streamed_gram_syrk_equals_direct():
    X, Y = _rand(257, 19), _rand(257, 3, seed=1)
    ne = ls.streamed_gram(ls.iter_chunks(X, Y, 50), lambda x: x)
    torch.testing.assert_close(ne.XtX, X.T @ X, atol=1e-10, rtol=1e-12)
    torch.testing.assert_close(ne.XtY, X.T @ Y)
    assert torch.equal(ne.XtX, ne.XtX.T) and ne.n == 257
    ne32 = ls.streamed_gram(ls.iter_chunks(X.float(), Y, 50), lambda x: x)   # float32 rows, float64 accumulation
    assert ne32.XtX.dtype == torch.float64


def test_solve_min_norm_cholesky_and_eigh_fallback_match_existing_path():
    # full rank: Cholesky, same predictions as the eigh path to 1e-8
    X, Y = _rand(400, 30), _rand(400, 4, seed=2)
    ne = ls.streamed_gram(ls.iter_chunks(X, Y, 64), lambda x: x)
    sol = ls.solve_min_norm(ne)
    ref = ls.solve_normal_equations(ls.streamed_normal_equations(ls.iter_chunks(X, Y, 64), lambda x: x), "eigh")
    assert sol.solver == "cholesky" and sol.rank == 30
    ev = torch.linalg.eigvalsh(X.T @ X)
    # Rayleigh quotients: lam_min_est >= lambda_min (within the 10x margin), lam_max_est <= lambda_max
    assert float(ev[0]) * (1 - 1e-9) <= sol.lam_min_est < 1.1 * float(ev[0])
    assert 0.9 * float(ev[-1]) < sol.lam_max_est <= float(ev[-1]) * (1 + 1e-9)
    torch.testing.assert_close(X @ sol.beta, X @ ref.beta, atol=1e-8, rtol=0)
    # rank-deficient (zero and duplicate columns, like the ordered pixel pairs): eigh fallback = pinv
    X[:, 5] = 0.0
    X[:, 7] = X[:, 6]
    ne = ls.streamed_gram(ls.iter_chunks(X, Y, 64), lambda x: x)
    sol = ls.solve_min_norm(ne)
    assert sol.solver == "eigh" and sol.rank == 28
    torch.testing.assert_close(sol.beta, torch.linalg.pinv(X) @ Y, atol=1e-9, rtol=1e-9)
    # nearly singular (a column at 1e-9 of the others): not safely positive definite -> eigh
    X[:, 5] = 1e-9 * _rand(400, seed=5)
    sol = ls.solve_min_norm(ls.streamed_gram(ls.iter_chunks(X, Y, 64), lambda x: x))
    assert sol.solver == "eigh"


def test_solve_min_norm_drops_zero_columns_and_plain_inverse():
    X, Y = _rand(300, 15), _rand(300, 2, seed=3)
    X[:, 4] = 0.0                                            # a never-lit pixel: exact null direction, coefficient 0
    ne = ls.streamed_gram(ls.iter_chunks(X, Y, 100), lambda x: x)
    sol = ls.solve_min_norm(ne)
    assert sol.solver == "cholesky" and sol.rank == 14
    torch.testing.assert_close(sol.beta, torch.linalg.pinv(X) @ Y, atol=1e-10, rtol=1e-10)
    b_lu = ls.plain_inverse_solution(ne)
    torch.testing.assert_close(b_lu, sol.beta, atol=1e-10, rtol=1e-10)   # full rank after the zero column: same fit
    X[:, 6] = X[:, 5]                                        # duplicate column: exactly singular, LU may fail or not
    ne = ls.streamed_gram(ls.iter_chunks(X, Y, 100), lambda x: x)
    b_lu = ls.plain_inverse_solution(ne)
    if b_lu is not None:                                     # a least-squares solution, not the min-norm one
        torch.testing.assert_close(X @ b_lu, X @ ls.solve_min_norm(ne).beta, atol=1e-6, rtol=0)


def test_min_norm_from_path_equals_solve_min_norm():
    X, Y = _rand(200, 12), _rand(200, 2, seed=6)
    X[:, 3] = X[:, 2]                                        # rank-deficient
    ne = ls.streamed_gram(ls.iter_chunks(X, Y, 64), lambda x: x)
    assert ls.solve_min_norm(ne, fallback=False) is None
    p = ne.XtX.shape[0]
    sol = ls.min_norm_from_path(ls.eigh_path(ne, [1e-6, p * torch.finfo(torch.float64).eps]))
    ref = ls.solve_min_norm(ne)
    assert sol.rank == ref.rank == 11
    torch.testing.assert_close(X @ sol.beta, X @ ref.beta, atol=1e-8, rtol=0)


def test_row_gram_lower_matches_bmm_on_the_lower_triangle():
    g = torch.Generator().manual_seed(3)
    for dtype in (torch.float32, torch.float64):
        X = torch.randn(3, 7, 11, generator=g, dtype=dtype)
        K = ls.row_gram_lower(X)
        ref = torch.bmm(X, X.transpose(1, 2))
        tol = 1e-5 if dtype == torch.float32 else 1e-12
        assert torch.allclose(torch.tril(K), torch.tril(ref), atol=tol, rtol=tol)


def test_min_norm_dual_rank_deficient_falls_back_to_pinv():
    """Duplicate rows make the Gram singular; the fallback must still give the pseudo-inverse solution."""
    g = torch.Generator().manual_seed(4)
    X = torch.randn(1, 4, 9, generator=g, dtype=torch.float64)
    X[0, 3] = X[0, 2]
    Y = torch.randn(1, 4, 2, generator=g, dtype=torch.float64)
    Y[0, 3] = Y[0, 2]
    beta = ls.min_norm_dual(X, Y, rel_jitter=0.0)
    ref = torch.linalg.pinv(X[0]) @ Y[0]
    assert torch.allclose(beta[0], ref, atol=1e-8)
