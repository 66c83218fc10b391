"""Tests of lib.cnn: the Table 3.3 architecture (shapes, parameter count) and one training step."""

import pytest
import torch

from lib import cnn


def test_shapes_and_parameter_count():
    m = cnn.LeNetLike()
    assert cnn.n_parameters(m) == 3_199_106  # Table 3.3's layers counted, vs PR's 187,410
    x = torch.rand(3, 1, 28, 28)
    assert m(x).shape == (3, 10)
    assert cnn.LeNetLike(batch_norm=True)(x).shape == (3, 10)


def test_one_step_lowers_loss_on_its_batch():
    torch.manual_seed(0)
    m = cnn.LeNetLike(dropout=0.0)
    g = torch.Generator().manual_seed(0)
    X = torch.randint(0, 256, (20, 28, 28), dtype=torch.uint8, generator=g)
    y = torch.randint(0, 10, (20,), generator=g)
    xin = cnn.to_input(X)
    with torch.no_grad():
        before = float(torch.nn.functional.cross_entropy(m(xin), y))
    log = cnn.train_cnn(m, X, y, n_steps=3, generator=g, batch_size=20, lr=0.01, eval_every=1, X_eval=X, y_eval=y)
    with torch.no_grad():
        after = float(torch.nn.functional.cross_entropy(m(xin), y))
    assert after < before
    assert log.steps == [1, 2, 3] and len(log.test_acc) == 3
    assert cnn.predict(m, X).shape == (20,)


def test_bad_input():
    with pytest.raises(ValueError, match="dropout"):
        cnn.LeNetLike(dropout=1.0)
    with pytest.raises(ValueError, match="X must be"):
        cnn.to_input(torch.zeros(2, 28))
