"""lib/book/benchmarks.py: the one result schema, its files, the legacy readers and the machine peak."""
import json
import sys
from pathlib import Path

import numpy as np
import pytest

from lib.book import benchmarks as bm

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
from _common import emit_schema, environment, result  # noqa: E402


def _r(**kw):
    base = dict(topic="t", kernel="k", baseline="b", work={"n": 10}, lib_s=bm.Timing.of([1.0, 2.0, 4.0]),
                baseline_s=bm.Timing.single(30.0), cpu_count=2, load_before=0.4, load_after=0.6, threads=1)
    base.update(kw)
    return bm.BenchResult(**base)


def test_timing_and_ratio_use_the_best_time():
    t = bm.Timing.of([3.0, 1.0, 2.0])
    assert (t.min_s, t.median_s, t.max_s, t.n) == (1.0, 2.0, 3.0, 3) and t.spread == 2.0
    assert _r().ratio == 30.0
    assert _r(lib_s=None, baseline_s=None, extra={"ratio": 5}).ratio == 5.0
    with pytest.raises(ValueError, match="no times"):
        bm.Timing.of([])
    with pytest.raises(ValueError, match="measured_or_extrapolated"):
        _r(measured_or_extrapolated="guessed")


def test_noisy_is_load_above_half_a_core_before_or_after():
    assert _r(load_before=0.4, load_after=0.9).noisy is False          # 0.45 per core
    assert _r(load_before=0.4, load_after=1.2).noisy is True           # 0.6 per core after
    assert _r(load_before=None, load_after=None).noisy is None
    assert _r(cpu_count=None).noisy is None


def test_flops_give_gflops_and_fraction_of_the_matching_peak():
    r = _r(flops=4e9, dtype="float64", threads=2)                      # best 1 s -> 4 GFLOP/s
    peaks = {1: {"matmul_float32_gflops": 40.0, "matmul_float64_gflops": 20.0, "bandwidth_gbs": 5.0},
             2: {"matmul_float32_gflops": 80.0, "matmul_float64_gflops": 40.0, "bandwidth_gbs": 8.0}}
    frac, why = bm.fraction_of_peak(r, peaks)
    assert r.gflops == pytest.approx(4.0) and frac == pytest.approx(0.1) and "float64" in why
    assert bm.fraction_of_peak(_r(), peaks)[0] is None
    assert bm.fraction_of_peak(r, {})[0] is None


def test_save_merges_by_key_and_load_prefers_the_schema(tmp_path):
    p = tmp_path / "teacher_student.json"
    legacy = {"quick_cpu_1threads": {"config": "quick", "models": 100, "N": 200, "d": 5, "m": 5, "epochs": 300,
                                     "batched_s": 0.5, "loop_s": 50.0, "loop_extrapolated": True, "torch_threads": 1,
                                     "device": "cpu", "load_average_1min": 3.4, "cpu_count": 2}}
    p.write_text(json.dumps(legacy))
    (old,) = bm.load(p)
    assert old.source == "legacy" and old.ratio == 100.0 and old.measured_or_extrapolated == "extrapolated"
    assert old.noisy is True and old.flops == 6.0 * 200 * 5 * 5 * 100 * 300
    new = bm.BenchResult(**{**bm.BenchResult.to_dict(old), "source": "schema",
                            "lib_s": bm.Timing.single(1.0), "baseline_s": bm.Timing.single(50.0)})
    bm.save(p, [new], detail=legacy)
    bm.save(p, [new])                                                  # same key: replaced, not duplicated
    doc = json.loads(p.read_text())
    assert doc["schema"] == bm.SCHEMA and len(doc["results"]) == 1 and "quick_cpu_1threads" in doc
    (got,) = bm.load(p)
    assert got.source == "schema" and got.ratio == 50.0
    assert bm.BenchResult.from_dict(json.loads(json.dumps(got.to_dict()))) == got


@pytest.mark.parametrize("topic,doc,want", [
    ("relu_weight_matching", {"threads": 1, "results": {
        "grid_search": {"library_s": 0.5, "baseline_s_extrapolated": 500.0, "extrapolated": True, "ratio": 1000.0},
        "pr_fit": {"library_s": 1.0, "baseline_s": 3.0, "N": 100, "n_features": 10}}},
     [("extrapolated", 1000.0), ("measured", 3.0)]),
    ("least_squares", {"bag_size": 100, "n_features": 1785, "torch_threads": 2,
                       "timings_s": {"fit_dual": 1.0, "fit_primal_gelsd": 4.0, "fit_sklearn_linreg": 5.0,
                                     "fit_dual_unique": 0.5, "lift_conv2": 1.0, "fit_sklearn_pipeline_14x14": 4.0}},
     [("measured", 4.0), ("measured", 5.0), ("measured", 2.0), ("measured", 2.0)]),
    ("some_new_topic", {"a": {"batched_s": 1.0, "loop_s": 7.0, "models": 3}, "b": {"ratio_x": 2.5}},
     [("measured", 7.0), ("not recorded", 2.5)]),
])
def test_legacy_readers(topic, doc, want):
    got = sorted((r.measured_or_extrapolated, round(r.ratio, 6)) for r in bm.from_legacy(topic, doc))
    assert got == sorted(want)


def test_every_recorded_result_file_reads():
    for p in sorted(bm.RESULTS_DIR.glob("*.json")):
        if p.name != bm.PEAK_FILE:
            rs = bm.load(p)
            assert rs, f"{p.name}: no result read"
            assert all(r.ratio is None or r.ratio > 0 for r in rs)


def test_machine_peak_measures_and_records(tmp_path):
    pk = bm.machine_peak(threads=1, n_matmul=128, mb=4, repeat=2)
    assert pk["matmul_float32_gflops"] > 0 and pk["matmul_float64_gflops"] > 0 and pk["bandwidth_gbs"] > 0
    assert isinstance(pk["noisy"], bool) and pk["threads"] == 1
    bm.record_machine_peak(tmp_path, [1], n_matmul=64, mb=2, repeat=1)
    assert set(bm.load_machine_peak(tmp_path)) == {1} and bm.load_machine_peak(tmp_path / "none") == {}


def test_scaling_fit_recovers_the_exponent_and_series_are_grouped():
    pts = [_r(work={"B": b}, lib_s=bm.Timing.single(1e-6 * b**2), config="series: bag size B")
           for b in (400, 100, 200, 800)]
    ser = bm.series(pts + [_r()])
    assert list(ser) == [("k", "series: bag size B")] and [r.work["B"] for r in ser[list(ser)[0]]] == [100, 200,
                                                                                                     400, 800]
    assert bm.series_axis("series: bag size B") == "B"
    assert bm.scaling_fit(pts, "B").slope == pytest.approx(2.0)
    assert bm.scaling_fit(pts[:2], "B") is None
    assert [row["#"] for row in bm.glance_rows(pts + [_r()])] == [1]


def test_bench_common_result_and_emit_schema(tmp_path):
    env = environment("cpu")
    assert env["cpu_count"] and env["versions"]["torch"] and env["threads"] >= 1
    r = result(env, topic="t", kernel="k", baseline="b", work={"n": 1}, lib_s=bm.Timing.single(1.0),
               baseline_s=bm.Timing.single(2.0))
    assert r.load_after is not None and r.peak_rss_mb > 0 and r.ratio == 2.0
    doc = {"erm": {"n": 2, "D": 6, "subproblems": 10, "seconds": {"lib": np.float64(0.5), "slsqp": 5.0}},
           "cpu_count": 2, "omp_num_threads": "1", "device": "cpu"}
    p = emit_schema(tmp_path / "exact.json", "exact", doc, env)
    (got,) = bm.load(p)
    assert got.source == "schema" and got.ratio == 10.0 and got.commit == env["commit"]
    assert json.loads(p.read_text())["erm"]["seconds"]["lib"] == 0.5
