"""bench/_common.py: timing and atomic result files used by every benchmark."""
import json
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
from _common import timed, write_json  # noqa: E402


def test_timed_returns_best_time_and_result():
    calls = []
    t, out = timed(lambda: calls.append(1) or len(calls), repeat=3)
    assert out == 3 and len(calls) == 3 and 0 <= t < 1
    with pytest.raises(ValueError, match="repeat"):
        timed(lambda: 0, repeat=0)


def test_write_json_is_atomic_and_handles_numpy(tmp_path):
    p = write_json(tmp_path / "r" / "x.json", {"b": np.float32(1.5), "a": np.arange(3), "n": np.int64(2)})
    assert json.loads(p.read_text()) == {"a": [0, 1, 2], "b": 1.5, "n": 2}
    assert [q.name for q in p.parent.iterdir()] == ["x.json"]
