"""Tests of lib.sparse_teachers (thesis §3.2): teacher structure and an exact PR oracle on +-1 inputs."""

import math

import pytest
import torch

from lib import polyfeatures as pf
from lib import sparse_teachers as st


def test_teacher_windows_are_contiguous():
    g = torch.Generator().manual_seed(0)
    W = st.sparse_teacher(4, 12, 7, 5, g)
    nz = W != 0
    assert (nz.sum(1) == 5).all()
    for k in range(4):
        for i in range(7):
            idx = torch.nonzero(nz[k, :, i]).flatten()
            assert (idx.diff() == 1).all()


def test_rademacher_inputs():
    X = st.rademacher(2, 100, 6, torch.Generator().manual_seed(1))
    assert set(X.unique().tolist()) == {-1.0, 1.0}


def test_degree_k_fits_k_bit_teacher_exactly():
    # with +-1 inputs, square-free degree k represents any function of k coordinates exactly (Walsh basis)
    g = torch.Generator().manual_seed(2)
    res = st.run_config(3, 8, 5, 400, 3, g, activation="relu", s=3)
    torch.testing.assert_close(res.r2_out, torch.ones(3, dtype=torch.float64), atol=1e-8, rtol=0)
    assert res.p == 1 + 8 + 28 + 56


def test_interpolation_below_n_equals_p():
    g = torch.Generator().manual_seed(3)
    res = st.run_config(2, 10, 5, 30, 2, g)  # p = 56 > n = 30
    torch.testing.assert_close(res.r2_in, torch.ones(2, dtype=torch.float64), atol=1e-8, rtol=0)


def test_bad_input():
    with pytest.raises(ValueError, match="s must be"):
        st.sparse_teacher(1, 4, 2, 5, torch.Generator())
    with pytest.raises(ValueError, match="activation"):
        st.teacher_output(torch.zeros(1, 3, 2), torch.zeros(1, 4, 3), "tanh")


def test_walsh_energy_matches_projection_and_parity():
    import itertools
    g = torch.Generator().manual_seed(3)
    d = 6
    W = st.sparse_teacher(2, d, 5, 4, g)
    X = torch.tensor(list(itertools.product([1.0, -1.0], repeat=d)), dtype=torch.float64)      # the whole cube
    for act in ("relu", "sigmoid"):
        E = st.walsh_energy_by_degree(W, act)                                                   # (2, d + 1)
        Y = st.teacher_output(W, X.expand(2, -1, -1), act)
        assert torch.allclose(E.sum(1), (Y**2).mean(1), atol=1e-12)                           # Parseval
        for t in (1, 2, 3):
            tab = pf.monomial_tables(d, t, "squarefree")
            F = torch.cat([torch.ones(len(X), 1, dtype=X.dtype), pf.lift(X, tab, intercept=False)], 1)
            for k in range(2):
                beta = torch.linalg.lstsq(F, Y[k, :, None]).solution
                r2_proj = 1 - ((F @ beta)[:, 0] - Y[k]).pow(2).sum() / (Y[k] - Y[k].mean()).pow(2).sum()
                assert abs(float(r2_proj) - float(E[k, 1 : t + 1].sum() / E[k, 1:].sum())) < 1e-10
    # parity x -> -x: relu = z/2 + |z|/2 has no odd part beyond degree 1; sigmoid - 1/2 is odd
    assert st.walsh_energy_by_degree(W, "relu")[:, 3::2].abs().max() < 1e-14
    assert st.walsh_energy_by_degree(W, "sigmoid")[:, 2::2].abs().max() < 1e-14


def test_wrong_parity_share_is_zero_and_right_parity_is_not():
    g = torch.Generator().manual_seed(4)
    W = st.sparse_teacher(3, 8, 6, 5, g)
    assert float(st.wrong_parity_share(W, "relu").max()) < 1e-14
    assert float(st.wrong_parity_share(W, "sigmoid").max()) < 1e-14
    E = st.walsh_energy_by_degree(W, "relu")
    assert float(E[:, 2].min()) > 1e-4                       # ReLU does have an even (degree-2) part
    E = st.walsh_energy_by_degree(W, "sigmoid")
    assert float(E[:, 3].min()) > 1e-6                       # sigmoid does have a degree-3 part
    with pytest.raises(ValueError, match="activation"):
        st.wrong_parity_share(W, "tanh")


def test_degree_medians_match_run_config():
    g1, g2 = torch.Generator().manual_seed(5), torch.Generator().manual_seed(5)
    med = st.degree_medians(("relu",), (1, 2), [4], [3], 60, 2, g1)
    expect = []
    for deg in (1, 2):
        seed = int(torch.randint(0, 2**31, (1,), generator=g2))
        expect.append(st.run_config(2, 4, 3, 60, deg, torch.Generator().manual_seed(seed), "relu").r2_out.median())
    torch.testing.assert_close(med[0], torch.stack(expect))


def test_settling_point():
    x = [0.5, 1.0, 2.0, 4.0]
    assert st.settling_point(x, [0.9, 0.05, 0.2, 0.01], 0.1) == 4.0
    assert st.settling_point(x, [0.9, 0.05, 0.02, 0.01], 0.1) == 1.0
    assert st.settling_point(x, [0.0, 0.0, 0.0, 0.0], 0.1) == 0.5
    assert math.isnan(st.settling_point(x, [0.0, 0.0, 0.0, 0.5], 0.1))
    with pytest.raises(ValueError, match="ascending"):
        st.settling_point([1.0, 1.0], [0.0, 0.0], 0.1)
