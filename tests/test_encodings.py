"""Tests of lib.encodings: DCT against scipy, inverse, top-k masks, encoding factor, PCA against numpy SVD."""

import numpy as np
import pytest
import scipy.fft
import torch

from lib import encodings as enc


def test_dct_matches_scipy_and_inverts():
    X = torch.rand(3, 28, 28, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    C = enc.dct2(X)
    np.testing.assert_allclose(C.numpy(), scipy.fft.dctn(X.numpy(), axes=(1, 2), norm="ortho"), atol=1e-12)
    torch.testing.assert_close(enc.idct2(C), X)


def test_topk_and_encoding_factor():
    C = torch.randn(50, 4, 4, generator=torch.Generator().manual_seed(1))
    m = enc.topk_mask(C, 3)
    assert (m.sum((1, 2)) == 3).all()
    f = enc.survival_frequency(m)
    assert float(f.sum()) == pytest.approx(3.0)
    assert enc.encoding_factor(torch.tensor([[0.0, 0.04], [0.05, 1.0]]), 0.05) == 0.5
    assert enc.encoding_factor(torch.tensor([[0.0, 0.04], [0.05, 1.0]]), 0.0) == 0.75


def test_pca_matches_svd():
    X = torch.rand(200, 6, 6, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    mu, comps = enc.pca_fit(X, 4)
    Xf = X.reshape(200, -1).numpy()
    _, _, Vt = np.linalg.svd(Xf - Xf.mean(0), full_matrices=False)
    np.testing.assert_allclose(np.abs(comps.numpy() @ Vt[:4].T), np.eye(4), atol=1e-8)
    Z = enc.pca_transform(X, mu, comps)
    assert Z.shape == (200, 4)
    assert abs(float(Z.mean(0).abs().max())) < 1e-10


def test_bad_input():
    with pytest.raises(ValueError, match="k must be"):
        enc.topk_mask(torch.zeros(2, 3, 3), 10)
    with pytest.raises(ValueError, match="p must be"):
        enc.encoding_factor(torch.zeros(2, 2), 2.0)
