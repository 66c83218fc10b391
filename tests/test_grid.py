"""lib.grid: labelled selection, reductions against numpy, serialisation round trip, sweep."""
import json

import numpy as np
import pytest
import torch

from lib.grid import Grid, sweep


@pytest.fixture
def g():
    return Grid(np.arange(24.0).reshape(2, 3, 4), {"N": [10, 20], "d": [1, 2, 3], "seed": range(4)})


def test_sel_by_value_and_isel_by_position(g):
    assert np.array_equal(g.sel(N=20, d=3).values, g.values[1, 2])
    assert g.sel(N=20).dims == ("d", "seed")
    assert np.array_equal(g.sel(d=[3, 1]).values, g.values[:, [2, 0]])
    assert g.sel(d=[3, 1]).axes["d"] == [3, 1]
    assert np.array_equal(g.isel(N=[1, 0], d=[0, 2]).values, g.values[[1, 0]][:, [0, 2]])
    assert g.sel(N=10, d=1, seed=3).item() == 3.0
    with pytest.raises(KeyError, match="coordinates"):
        g.sel(N=15)
    with pytest.raises(KeyError, match="axes are"):
        g.sel(width=1)


def test_reductions_match_numpy(g):
    assert np.array_equal(g.mean("seed").values, g.values.mean(2))
    assert np.array_equal(g.median("d").values, np.median(g.values, 1))
    mu, se = g.mean_se("seed")
    assert np.allclose(se.values, g.values.std(2, ddof=1) / 2)
    assert np.allclose(g.quantile(0.5, "seed").values, np.median(g.values, 2))
    assert g.mean("seed").mean("d").dims == ("N",)
    assert np.array_equal(g.map(lambda v: v > 5).values, g.values > 5)
    assert g.transpose("seed", "N", "d").shape == (4, 2, 3)


def test_float_coordinates_match_within_rounding():
    h = Grid(np.arange(3.0), {"lr": [0.1, 0.2, 0.30000000000000004]})
    assert h.sel(lr=0.3).item() == 2.0


def test_serialisation_round_trip_with_nan(g):
    h = g.map(lambda v: np.where(v == 5, np.nan, v))
    doc = json.loads(json.dumps(h.to_dict()))
    assert Grid.from_dict(doc) == h
    assert Grid.from_dict(json.loads(json.dumps(g.to_dict()))) == g


def test_torch_values_and_shape_validation():
    t = Grid(torch.ones(2, 3), {"a": [0, 1], "b": [0, 1, 2]})
    assert isinstance(t.values, np.ndarray)
    with pytest.raises(ValueError, match="coordinates"):
        Grid(np.ones((2, 3)), {"a": [0, 1], "b": [0, 1]})
    with pytest.raises(ValueError, match="dimensions"):
        Grid(np.ones((2, 3)), {"a": [0, 1]})


def test_sweep_cartesian_product_and_array_outputs():
    s = sweep(lambda a, b: a * 10 + b, a=[1, 2], b=[0, 1, 2])
    assert s.dims == ("a", "b") and np.array_equal(s.values, [[10, 11, 12], [20, 21, 22]])
    v = sweep(lambda n: np.arange(3) * n, n=[1, 2])
    assert v.dims == ("n", "out0") and v.shape == (2, 3)


def test_unstack_splits_a_product_axis():
    g = Grid(np.arange(12.0).reshape(2, 6), {"N": [1, 2], "config": [(d, m) for d in (1, 2, 3) for m in (5, 7)]})
    u = g.unstack("config", d=[1, 2, 3], m=[5, 7])
    assert u.dims == ("N", "d", "m") and u.sel(N=2, d=3, m=5).item() == g.values[1, 4]
    with pytest.raises(ValueError, match="multiply"):
        g.unstack("config", d=[1, 2], m=[5, 7])
