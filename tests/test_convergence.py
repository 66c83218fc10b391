"""lib.convergence: constants of the test functions, the theorems' per-step inequalities, iteration bounds."""
import math

import numpy as np
import pytest

from lib import convergence as cv


@pytest.mark.parametrize("kind", ["log", "rational"])
def test_constants_by_grid(kind):
    f = cv.TestFunction(np.array([1.0, 0.5]), kind=kind)
    x = np.linspace(-20, 20, 200001)
    X = np.stack([x, np.zeros_like(x)], 1)
    g = f.grad(X)[:, 0]
    assert abs(np.abs(g).max() - f.sigma_coord) < 1e-6
    # second derivative by finite differences bounded by L
    h = x[1] - x[0]
    f2 = np.diff(g) / h
    assert np.abs(f2).max() <= f.L + 1e-3 and np.abs(f2).max() > f.L - 1e-2
    # gradient by finite differences
    e = 1e-6
    x0 = np.array([[0.7, -1.3]])
    num = np.array([(f.value(x0 + e * np.eye(2)[i]) - f.value(x0 - e * np.eye(2)[i]))[0] / (2 * e) for i in range(2)])
    assert np.allclose(num, f.grad(x0)[0], atol=1e-8)


def test_thm541_per_step_and_T():
    f = cv.TestFunction(np.ones(10))
    x1 = np.random.default_rng(0).uniform(-5, 5, (8, 10))
    r = cv.rmsprop_thm541(f, x1, beta2=0.9, xi=1.0, steps=800)
    assert r["slack"].max() <= 1e-12
    T = cv.T_thm541(f, f.value(x1), beta2=0.9, xi=1.0, eps=0.1)
    assert ((r["gnorm"] <= 0.1).any(0)).all() and (T > 800).all()


def test_thm543_per_step_and_T_versions():
    f = cv.TestFunction(np.ones(10))
    x1 = np.random.default_rng(1).uniform(-5, 5, (4, 10))
    r = cv.adam_thm543(f, x1, eps=0.5, beta2=0.999, steps=3000)
    G = r["gnorm"]
    mask = G[1:-1] > 0.5
    assert np.where(mask, r["slack"][1:], -np.inf).max() <= 1e-12
    gap = 2.0
    a, b, c = (cv.T_thm543(2, 3, 0.5, gap, version=v) for v in ("thesis", "intermediate", "rederived"))
    assert a < b < c
    assert math.isclose(c, 1 + 9 * 2 * (0.5 + 6) ** 4 / (2 * 0.5**6) * gap)
    with pytest.raises(ValueError, match="version"):
        cv.T_thm543(2, 3, 0.5, gap, version="x")


def test_lemma_5A1_exact_and_finite_sum():
    rng = np.random.default_rng(2)
    C = rng.uniform(0.5, 1.5, (4, 6))
    r = cv.rmsprop_finite_sum(C, rng.uniform(-3, 3, 6), R=20, beta2=0.9, xi=1.0, alpha=0.01, steps=300, rng=rng)
    assert r["lemma_slack"].min() >= -1e-12
    assert r["gn2"].shape == (301, 20)


def test_thm542_bound_and_thesis_sum_error():
    f = cv.TestFunction(np.ones(5), kind="rational")
    x1 = np.random.default_rng(3).uniform(-2, 2, (4, 5))
    r = cv.rmsprop_noshift(f, x1, beta2=0.9, alpha=0.05, steps=2000)
    mins = np.minimum.accumulate(r["gn2"][:-1], axis=0)
    T = np.arange(1, 2001)
    b = cv.bound_thm542(T, sigma=f.sigma_coord, alpha=0.05, L=f.L, d=5, beta2=0.9, B_l=0.0, B_u=f.B_u)
    assert (mins <= b[:, None]).all()
    Ts = np.arange(2, 100)
    assert (cv.sum_inv_sqrt(Ts) > cv.thesis_sum_inv_sqrt_bound(Ts)).all()
    assert math.isclose(cv.sum_inv_sqrt(3)[0], 1 / math.sqrt(2) + 1 / math.sqrt(3))


def test_def19_jensen_threshold():
    rng = np.random.default_rng(4)
    k, d = 10, 30
    A, b = rng.standard_normal((k, d)), rng.standard_normal(k)
    r = cv.interpolating_oracle(A, b, np.zeros(d), beta2=0.9, xi=1e-2, alpha=1e-2, steps=200, batch=1, rng=rng,
                                zeta_bar=1e-2, cs=(4.0,))
    holds = r["lhs"] <= r["rhs"][0]
    thr = cv.def19_threshold(d, 1e-2, 4.0)
    assert (r["gnorm"][holds] >= thr).all()
    assert cv.def19_threshold(d, 1.0, 1.0) == math.inf
