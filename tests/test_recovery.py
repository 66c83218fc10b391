"""Tests of lib/recovery.py: Algorithms 2 and 4 on synthetic procedures with a known threshold, and the
batched Algorithm 1."""

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from lib import recovery as rc


def _step(thresholds):
    """Synthetic training procedure: success probability 1 iff N >= threshold of the problem."""
    th = torch.as_tensor(thresholds, dtype=torch.float64)
    calls = []

    def prob(idx, N):
        calls.append(len(idx))
        return (N.double() >= th[idx]).double()

    return prob, calls


@settings(max_examples=50, deadline=None)
@given(st.lists(st.integers(1, 3000), min_size=1, max_size=8))
def test_algorithm2_returns_next_power_of_two(ths):
    prob, calls = _step(ths)
    n = rc.sample_complexity(prob, len(ths))
    for t, v in zip(ths, n.tolist()):
        assert v == 2 ** math.ceil(math.log2(t))
    assert len(calls) == max(math.ceil(math.log2(t)) for t in ths) + 1  # one batched call per round


@settings(max_examples=50, deadline=None)
@given(st.lists(st.integers(1, 3000), min_size=1, max_size=8))
def test_algorithm4_deep_bisection_finds_exact_threshold(ths):
    prob, _ = _step(ths)
    n = rc.sample_complexity_dichotomy(prob, len(ths), depth=20)
    assert n.tolist() == [float(t) for t in ths]


def test_algorithm4_depth_bounds_error():
    ths = [37, 100, 513, 5]
    prob, _ = _step(ths)
    for depth in range(0, 5):
        n = rc.sample_complexity_dichotomy(prob, len(ths), depth=depth)
        high2 = torch.tensor([2.0 ** math.ceil(math.log2(t)) for t in ths])
        err = n - torch.tensor(ths, dtype=n.dtype)
        assert (err >= 0).all()
        assert (err <= torch.clamp(high2 / 2 / 2**depth, min=1)).all()


def test_cap_gives_inf_and_probability_threshold():
    prob, _ = _step([10, 10**6])
    n = rc.sample_complexity(prob, 2, n_max=1024)
    assert n[0] == 16 and math.isinf(n[1])

    def half(idx, N):  # p-hat = 0.5 exactly is a success (p-hat >= p_recovery)
        return torch.full((len(idx),), 0.5)

    assert rc.sample_complexity(half, 3).tolist() == [1.0, 1.0, 1.0]
    assert math.isinf(rc.sample_complexity(half, 1, p_recovery=0.6, n_max=8)[0])


def test_teacher_sweep_easy_problem_recovers_and_shapes():
    g = torch.Generator().manual_seed(0)
    sw = rc.TeacherSweep.draw([(1, 2), (3, 4)], K=2, T=4, recipe=rc.Recipe(epochs=150), generator=g, n_test=200)
    assert sw.teachers.shape == (4, 3, 4)
    assert sw.teachers[:2, 1:].abs().max() == 0 and sw.teachers[:2, :, 2:].abs().max() == 0
    loss = sw.evaluate(torch.arange(4), torch.tensor([64, 64, 200, 100]))
    assert loss.shape == (4, 4)
    assert (loss[:2] < 0.05).float().mean() >= 0.5  # d = 1: trivially recoverable
    r2 = rc.recovery_r2(sw, torch.arange(4), torch.tensor([64, 64, 200, 100]))
    assert r2.shape == (4,) and (r2 <= 1).all()


def test_teacher_sweep_chunks_respect_memory_bound():
    g = torch.Generator().manual_seed(1)
    sw = rc.TeacherSweep.draw([(2, 3)], K=4, T=2, recipe=rc.Recipe(epochs=3), generator=g, n_test=50,
                              max_elems=2 * 60 * 2 * 3)
    sw.evaluate(torch.arange(4), torch.tensor([30, 40, 50, 60]))
    assert [c["n_problems"] for c in sw.calls] == [2, 2]
    sw.calls.clear()
    sw.max_elems = 10**9
    sw.evaluate(torch.arange(4), torch.tensor([10, 12, 30, 40]))  # pad only within a factor 1.5
    assert [c["N"] for c in sw.calls] == [[10, 12], [30, 40]]


def test_bad_arguments():
    g = torch.Generator().manual_seed(0)
    with pytest.raises(ValueError, match="positive"):
        rc.TeacherSweep.draw([(0, 3)], K=1, T=1, recipe=rc.Recipe(), generator=g)
    with pytest.raises(ValueError, match="p_recovery"):
        rc.sample_complexity(lambda i, n: torch.ones(len(i)), 1, p_recovery=0)
    with pytest.raises(ValueError, match="depth"):
        rc.sample_complexity_dichotomy(lambda i, n: torch.ones(len(i)), 1, depth=-1)
    sw = rc.TeacherSweep.draw([(2, 2)], K=1, T=1, recipe=rc.Recipe(epochs=1), generator=g)
    with pytest.raises(ValueError, match="N must be >= 1"):
        sw.evaluate(torch.tensor([0]), torch.tensor([0]))


def test_teacher_sweep_groups_calls_by_width():
    g = torch.Generator().manual_seed(2)
    sw = rc.TeacherSweep.draw([(2, 2), (3, 5)], K=2, T=2, recipe=rc.Recipe(epochs=2), generator=g, n_test=20)
    sw.evaluate(torch.arange(4), torch.tensor([8, 8, 8, 8]))
    assert sorted(c["n_problems"] for c in sw.calls) == [2, 2]


def test_loo_sq_errors_and_paired_z():
    import numpy as np

    from lib.recovery import loo_sq_errors, paired_z
    rng = np.random.default_rng(0)
    x = np.linspace(1, 10, 12)
    y = 3 * x + rng.normal(scale=0.1, size=x.size)
    lin = loo_sq_errors(lambda t, a, b: a + b * t, x, y, p0=(0.0, 1.0))
    for i in (0, 5, 11):                                               # against a refit by np.polyfit
        keep = np.arange(x.size) != i
        b, a = np.polyfit(x[keep], y[keep], 1)
        assert lin[i] == pytest.approx((y[i] - a - b * x[i]) ** 2, rel=1e-5, abs=1e-10)
    wrong = loo_sq_errors(lambda t, a, p: a * np.log(t) ** p, x, y, p0=(1.0, 1.0))
    assert paired_z(wrong, lin) > 2                                    # a wrong law is distinguishable
    assert paired_z(lin, lin) == 0.0
    with pytest.raises(ValueError, match="at least"):
        loo_sq_errors(lambda t, a, b: a + b * t, x[:3], y[:3], p0=(0.0, 1.0))


def test_n_opt_grid_matches_the_two_algorithms_on_the_same_draw():
    """n_opt_grid is Algorithm 2 / 4 on TeacherSweep.draw with the same generator state, laid out (config, teacher)."""
    dims, K, T, rec = [(1, 2), (2, 2)], 2, 3, rc.Recipe(epochs=40)
    for depth in (None, 2):
        G, sw = rc.n_opt_grid(dims, K, T, rec, generator=torch.Generator().manual_seed(5), n_test=100, depth=depth)
        ref_sw = rc.TeacherSweep.draw(dims, K, T, rec, generator=torch.Generator().manual_seed(5), n_test=100)
        ref = (rc.sample_complexity(ref_sw.success_prob, ref_sw.P) if depth is None else
               rc.sample_complexity_dichotomy(ref_sw.success_prob, ref_sw.P, depth=depth))
        assert G.dims == ("config", "teacher") and G.shape == (2, 2)
        assert [tuple(c) for c in G.coords("config")] == dims
        np.testing.assert_array_equal(G.values.reshape(-1), ref.numpy())
        assert len(sw.calls) == len(ref_sw.calls)
