"""The resumable-sweep cache (lib.book.cache): a value is reused exactly when its key is unchanged."""
from __future__ import annotations

import pytest
import torch

from lib.book import cache, runtime


@pytest.fixture()
def build(tmp_path, monkeypatch):
    monkeypatch.setenv("DLT_BUILD_DIR", str(tmp_path))
    return tmp_path


def _counting():
    calls = []

    def fn():
        calls.append(1)
        return {"x": torch.arange(3.0), "n": len(calls)}
    return fn, calls


def test_paper_scale_computes_once_and_loads_after(build):
    ch = runtime.start_chapter("cachetest", scale="paper", device="cpu")
    fn, calls = _counting()
    a = ch.cached("cell", fn, K=3)
    b = ch.cached("cell", fn, K=3)
    assert len(calls) == 1 and a["n"] == b["n"] == 1
    assert torch.equal(a["x"], b["x"])
    assert len(list((build / "cache" / "cachetest" / "paper-seed0").glob("cell-*.pkl"))) == 1


def test_key_changes_with_inputs_seed_and_code(build):
    fn, calls = _counting()
    ch = runtime.start_chapter("cachetest", scale="paper", device="cpu")
    ch.cached("cell", fn, K=3)
    ch.cached("cell", fn, K=4)                                   # another input
    runtime.start_chapter("cachetest", scale="paper", seed=1, device="cpu").cached("cell", fn, K=3)  # another seed
    ch.cached("cell", lambda: fn(), K=3)                         # other code
    assert len(calls) == 4


def test_called_helpers_are_part_of_the_code_key():
    def helper_a():
        return 1

    def helper_b():
        return 2
    # two lambdas with the same text calling differently-defined module-level helpers differ in digest
    ga = {"h": helper_a, "__name__": __name__}
    gb = {"h": helper_b, "__name__": __name__}
    fa = eval("lambda: h()", ga)
    fb = eval("lambda: h()", gb)
    helper_a.__module__ = helper_b.__module__ = fa.__module__ = fb.__module__ = "chapter"
    assert cache.code_digest(fa) != cache.code_digest(fb)
    fa2 = eval("lambda: h()", ga)
    fa2.__module__ = "chapter"
    assert cache.code_digest(fa) == cache.code_digest(fa2)


def test_quick_scale_never_caches(build):
    ch = runtime.start_chapter("cachetest", scale="quick", device="cpu")
    fn, calls = _counting()
    ch.cached("cell", fn)
    ch.cached("cell", fn)
    assert len(calls) == 2 and not (build / "cache").exists()


def test_bad_name_is_refused(build):
    ch = runtime.start_chapter("cachetest", scale="paper", device="cpu")
    with pytest.raises(ValueError, match="name="):
        ch.cached("a b/c", lambda: 1)


def test_a_killed_write_leaves_no_entry(build, monkeypatch):
    ch = runtime.start_chapter("cachetest", scale="paper", device="cpu")

    def boom(*a, **k):
        raise KeyboardInterrupt
    monkeypatch.setattr(cache, "atomic_write_bytes", boom)
    with pytest.raises(KeyboardInterrupt):
        ch.cached("cell", lambda: 1)
    assert not list(build.rglob("*.pkl"))


def test_lib_modules_used_by_the_cell_are_in_the_key():
    from lib import grid, recovery
    from lib.book import records

    def uses_recovery():
        return recovery.Recipe()

    def uses_nothing():
        return 1
    files = {f.name for f in records.module_closure(cache._walk(uses_recovery)[1])}
    assert {"recovery.py", "teacher_student.py", "grid.py"} <= files       # recovery imports both
    assert cache._walk(uses_nothing)[1] == set()
    assert cache.lib_digest(uses_recovery) != cache.lib_digest(uses_nothing)
    assert grid  # imported for the closure check above


def test_arrays_are_keyed_by_content_not_by_their_elided_repr():
    import numpy as np
    a = np.zeros(5000)
    b = a.copy()
    b[2500] = 1.0                       # repr(a) == repr(b): numpy elides the middle of long arrays
    assert repr(a) == repr(b)
    assert cache._key_repr(a) != cache._key_repr(b)
    assert cache._key_repr([a, {"x": torch.zeros(3)}]) == cache._key_repr([a.copy(), {"x": torch.zeros(3)}])


def test_values_without_arrays_keep_their_plain_repr():
    for v in ([1, 2], (3, "a"), {"k": [1.5]}, "s", 4):
        assert cache._key_repr(v) == repr(v)
