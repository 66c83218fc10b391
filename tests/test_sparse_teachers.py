"""Tests of lib.sparse_teachers (thesis §3.2): teacher structure and an exact PR oracle on +-1 inputs."""

import pytest
import torch

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
