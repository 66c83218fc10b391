"""lib.nuclear_interp: the minimum-nuclear-norm interpolant and its certificate, against exact oracles (a unique
interpolant above the Frobenius threshold, exact rank-one recovery, weak duality for every interpolant)."""
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from lib import low_rank as lr
from lib import nuclear_interp as ni

D64 = torch.float64



def test_nuclear_min_interp_exact_above_frobenius_threshold_and_rank_one():
    # n >= d(d+1)/2: the interpolant is unique, so the solver must return M* itself; n = 4d rank one: recovered exactly
    g = torch.Generator().manual_seed(50)
    d = 6
    Ms = lr.low_rank_quadratic(3, d, 2, generator=g)
    X = torch.randn(3, d * (d + 1) // 2 + 2, d, generator=g, dtype=D64)
    s = ni.nuclear_min_interp(X, lr.quad_forms(X, Ms), iters=2000, generator=g)
    assert (lr.matrix_rel_error(s.M, Ms) < 1e-6).all() and (s.resid < 1e-7).all()
    d = 12
    Ms = lr.low_rank_quadratic(3, d, 1, generator=g)
    X = torch.randn(3, 4 * d, d, generator=g, dtype=D64)
    s = ni.nuclear_min_interp(X, lr.quad_forms(X, Ms), iters=2000, generator=g)
    assert (lr.matrix_rel_error(s.M, Ms) < 1e-8).all()
    assert torch.allclose(s.nuc, torch.linalg.matrix_norm(Ms, ord="nuc"), atol=1e-8)
    assert ((s.nuc - s.lower).abs() / s.nuc < 1e-8).all()          # converged: the certificate is tight


@settings(max_examples=8, deadline=None)
@given(seed=st.integers(0, 10_000), d=st.integers(3, 7), r=st.integers(1, 3), frac=st.floats(0.2, 1.0))
def test_nuclear_min_interp_lower_bound_is_a_lower_bound(seed, d, r, frac):
    # weak duality: the certificate bounds the nuclear norm of EVERY interpolant from below, the teacher included,
    # whatever the number of iterations and whether or not the solve has converged
    g = torch.Generator().manual_seed(seed)
    Ms = lr.low_rank_quadratic(2, d, min(r, d), generator=g)
    n = max(2, int(frac * d * (d + 1) / 2))
    X = torch.randn(2, n, d, generator=g, dtype=D64)
    y = lr.quad_forms(X, Ms)
    for iters in (30, 300):
        s = ni.nuclear_min_interp(X, y, iters=iters, inner=30, generator=g)
        assert (s.lower <= torch.linalg.matrix_norm(Ms, ord="nuc") * (1 + 1e-9)).all()
        assert torch.allclose(s.resid, (lr.quad_forms(X, s.M) - y).norm(dim=1) / y.norm(dim=1))


def test_nuclear_min_interp_counts_equals_padded_stack_and_rejects_bad_input():
    g = torch.Generator().manual_seed(51)
    d, ns = 5, [4, 8, 13]
    Ms = lr.low_rank_quadratic(2, d, 1, generator=g)
    X = torch.randn(2, ns[-1], d, generator=g, dtype=D64)
    # the chapter's zero-padded stack of nested sample sizes, with its prefix masks
    mk = torch.stack([(torch.arange(ns[-1]) < n) for n in ns]).to(D64).repeat_interleave(2, 0)
    Xp, yp = X.repeat(len(ns), 1, 1) * mk.unsqueeze(-1), lr.quad_forms(X, Ms).repeat(len(ns), 1) * mk
    ref = ni.nuclear_min_interp(Xp, yp, iters=200, inner=50, generator=torch.Generator().manual_seed(1))
    got = ni.nuclear_min_interp(Xp, yp, iters=200, inner=50, generator=torch.Generator().manual_seed(1),
                                counts=mk.sum(1))
    for a, b in zip(ref, got):
        assert torch.allclose(a, b, rtol=1e-9, atol=1e-10)
    for kw, name in (({"iters": 0}, "iters"), ({"iters": 10, "inner": 20}, "inner"), ({"lam": 0.0}, "lam")):
        with pytest.raises(ValueError, match=name):
            ni.nuclear_min_interp(Xp, yp, **kw)
