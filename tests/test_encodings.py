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


def test_encoding_factor_curve_matches_loop_and_grows():
    X = torch.randint(0, 256, (40, 8, 8), dtype=torch.uint8, generator=torch.Generator().manual_seed(3))
    f, freqs = enc.encoding_factor_curve(X, [4, 8, 16], 0.05)
    C = enc.dct2(X)
    for i, k in enumerate((4, 8, 16)):
        assert f[i] == enc.encoding_factor(enc.survival_frequency(enc.topk_mask(C, k)), 0.05)
        assert float(freqs[i].sum()) == pytest.approx(k)
    assert np.all(np.diff(f) >= 0)


def test_pca_pr_accuracy_matches_pinv_oracle():
    g = torch.Generator().manual_seed(4)
    X = torch.rand(300, 5, 5, dtype=torch.float64, generator=g)
    y = (X[:, 0, 0] + X[:, 2, 2] ** 2 > 0.8).long() + (X[:, 4, 4] > 0.5).long()
    Xt = torch.rand(100, 5, 5, dtype=torch.float64, generator=g)
    yt = (Xt[:, 0, 0] + Xt[:, 2, 2] ** 2 > 0.8).long() + (Xt[:, 4, 4] > 0.5).long()
    acc, comps = enc.pca_pr_accuracy(X, y, Xt, yt, [2, 4], chunk_rows=70)
    assert comps.shape == (4, 25)
    mu, V = enc.pca_fit(X, 4)
    for i, k in enumerate((2, 4)):
        def feats(Z, k=k):
            Z = Z[:, :k]
            iu = torch.triu_indices(k, k)
            return torch.cat([torch.ones(len(Z), 1, dtype=Z.dtype), Z, Z[:, iu[0]] * Z[:, iu[1]]], 1)
        F, Ft = feats(enc.pca_transform(X, mu, V)), feats(enc.pca_transform(Xt, mu, V))
        B = torch.linalg.pinv(F) @ torch.nn.functional.one_hot(y, 10).double()
        assert acc[i, 0] == pytest.approx(float(((F @ B).argmax(1) == y).double().mean()))
        assert acc[i, 1] == pytest.approx(float(((Ft @ B).argmax(1) == yt).double().mean()))


def test_concavity():
    x = [1.0, 2.0, 4.0, 8.0]
    c = enc.concavity(x, np.sqrt(x), np.array(x))
    assert c.chord_gap > 0 and c.first_gain > c.last_gain and c.min_train_step > 0
    c = enc.concavity(x, np.array(x) ** 2, -np.array(x))
    assert c.chord_gap < 0 and c.first_gain < c.last_gain and c.min_train_step < 0
    with pytest.raises(ValueError, match="length"):
        enc.concavity([1.0, 2.0], np.zeros(2), np.zeros(2))
