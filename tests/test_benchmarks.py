"""lib/book/benchmarks.py and bench/_common.py: the one result schema, its files, extrapolation, fits and peak."""
import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from lib.book import benchmarks as bm

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
from _common import Baseline, Bench, environment, result  # noqa: E402


def _r(**kw):
    base = dict(topic="t", kernel="k", baseline="b", work={"n": 10}, lib_s=bm.Timing.of([1.0, 2.0, 4.0]),
                baseline_s=bm.Timing.single(30.0), cpu_count=2, load_before=0.4, load_after=0.6, threads=1)
    base.update(kw)
    return bm.BenchResult(**base)


def _series(xs, lib, base, how=None, **kw):
    how = how or ["measured"] * len(xs)
    return [_r(work={"B": x}, sweep="B", lib_s=bm.Timing.single(lib(x)),
               baseline_s=None if h == "not recorded" else bm.Timing.single(base(x)), measured_or_extrapolated=h, **kw)
            for x, h in zip(xs, how)]


def test_timing_and_ratio_use_the_best_time():
    t = bm.Timing.of([3.0, 1.0, 2.0])
    assert (t.min_s, t.median_s, t.max_s, t.n) == (1.0, 2.0, 3.0, 3) and t.spread == 2.0
    assert t.scaled(10).min_s == 10.0 and t.scaled(10).n == 3 and bm.Timing.predicted(5.0).n == 0
    assert _r().ratio == 30.0 and _r(baseline_s=None).ratio is None
    with pytest.raises(ValueError, match="no times"):
        bm.Timing.of([])
    with pytest.raises(ValueError, match="measured_or_extrapolated"):
        _r(measured_or_extrapolated="guessed")
    with pytest.raises(ValueError, match="sweep"):
        _r(sweep="N")                                                  # the swept size must be in the work


def test_noisy_is_other_load_above_half_a_core_before_or_after():
    """The benchmark's own threads are subtracted: a 1-thread run on a quiet 2-core machine reads a load of ~1."""
    assert _r(load_before=1.4, load_after=1.9).noisy is False          # (1.9 - 1) / 2 = 0.45 per core
    assert _r(load_before=1.4, load_after=2.2).noisy is True           # 0.6 per core from other work, after
    assert _r(load_before=2.4, load_after=0.1).noisy is True           # before counts as well
    assert _r(load_before=2.9, load_after=2.9, threads=2).noisy is False   # 2 threads: 0.45 per core from others
    assert _r(load_before=None, load_after=None).noisy is None
    assert _r(cpu_count=None).noisy is None
    assert bm.load_text([_r(load_before=0.2, load_after=0.2), _r(load_before=3.0)]) == \
        "1.50/core (1.00 from other work) — NOISY"


def test_flops_give_gflops_and_fraction_of_the_matching_peak():
    r = _r(flops=4e9, dtype="float64", threads=2)                      # best 1 s -> 4 GFLOP/s
    peaks = {1: {"matmul_float32_gflops": 40.0, "matmul_float64_gflops": 20.0, "bandwidth_gbs": 5.0},
             2: {"matmul_float32_gflops": 80.0, "matmul_float64_gflops": 40.0, "bandwidth_gbs": 8.0}}
    frac, why = bm.fraction_of_peak(r, peaks)
    assert r.gflops == pytest.approx(4.0) and frac == pytest.approx(0.1) and "float64" in why
    assert bm.fraction_of_peak(_r(bytes_moved=2e9), peaks)[0] == pytest.approx(2.0 / 5.0)   # GB/s vs bandwidth
    assert bm.fraction_of_peak(_r(), peaks)[0] is None
    assert bm.fraction_of_peak(r, {})[0] is None
    row = bm.peak_rows([r], peaks)[0]
    assert row["fraction of peak"] == "10.0%" and "below the peak" in row["bound"]


def test_round_trip_and_save_replaces_a_whole_series(tmp_path):
    p = tmp_path / "t.json"
    old = _series([100, 200, 400], lambda x: 1e-3 * x, lambda x: 1e-2 * x)
    other = _r(kernel="another kernel")
    bm.save(p, old + [other], detail={"what": "x"})
    assert json.loads(p.read_text())["schema"] == bm.SCHEMA
    got = bm.load(p)
    assert got == old + [other]                                        # dataclass equality: a lossless round trip
    assert bm.BenchResult.from_dict(json.loads(json.dumps(got[0].to_dict()))) == got[0]
    new = _series([50, 100], lambda x: 2e-3 * x, lambda x: 1e-2 * x)   # a re-run of the series at other sizes
    bm.save(p, new)
    got = bm.load(p)
    assert sorted(r.x for r in got if r.kernel == "k") == [50, 100] and other in got
    assert json.loads(p.read_text())["what"] == "x"                    # detail kept unless rewritten


def test_a_full_run_drops_smoke_records_and_old_files_are_replaced(tmp_path):
    p = tmp_path / "t.json"
    p.write_text(json.dumps({"quick_cpu_1threads": {"batched_s": 1.0, "loop_s": 2.0}}))   # before the schema
    assert bm.load(p) == []                                            # not a benchmark record: not read
    smoke = _r(threads=1, extra={"smoke": True})
    bm.save(p, [smoke])
    assert bm.load(p) == [smoke] and "quick_cpu_1threads" not in json.loads(p.read_text())
    full = _r(threads=2)                                               # another group, but a full run
    bm.save(p, [full])
    assert bm.load(p) == [full]


def test_scaling_fit_recovers_the_exponent_of_a_synthetic_power_law():
    pts = _series([400, 100, 200, 800, 1600], lambda x: 3e-7 * x**2.0, lambda x: 5e-4 * x**1.0)
    (g, ser), = bm.series(pts + [_r()]).items()
    assert [r.x for r in ser] == [100, 200, 400, 800, 1600]
    fit = bm.scaling_fit(ser, "lib")
    assert fit.slope == pytest.approx(2.0) and fit.r2 == pytest.approx(1.0)
    assert bm.scaling_fit(ser, "baseline").slope == pytest.approx(1.0)
    assert bm.scaling_fit(ser, "lib", last=3).slope == pytest.approx(2.0)
    assert bm.scaling_fit(ser[:2], "lib") is None
    # noisy but exact in expectation: the exponent of t = C x^1.5 (1 +- 5 %) is found to within 0.05
    rng = np.random.default_rng(0)
    noisy = _series([2**k for k in range(4, 12)], lambda x: 1e-6 * x**1.5 * (1 + 0.05 * rng.uniform(-1, 1)),
                    lambda x: 1.0)
    assert bm.scaling_fit(noisy, "lib").slope == pytest.approx(1.5, abs=0.05)
    rows = bm.fit_rows(ser)
    assert [r["exponent"] for r in rows] == [2.0, 1.0] and rows[0]["sizes"] == "100, 200, 400, 800, 1,600"


def test_extrapolated_baselines_are_marked_and_left_out_of_the_fit():
    pts = _series([100, 200, 400, 800], lambda x: 1e-3 * x, lambda x: 2e-6 * x**2,
                  how=["measured", "measured", "measured", "not recorded"])
    assert bm.extrapolate_baselines(pts) == 1
    last = pts[-1]
    assert last.measured_or_extrapolated == "extrapolated" and last.baseline_s.n == 0
    assert last.baseline_s.min_s == pytest.approx(2e-6 * 800**2) and "B = 100, 200, 400" in last.note
    assert bm.scaling_fit(pts, "baseline").n == 3                      # the prediction is not fitted again
    few = _series([100, 800], lambda x: 1.0, lambda x: 1.0, how=["measured", "not recorded"])
    assert bm.extrapolate_baselines(few) == 0 and few[1].measured_or_extrapolated == "not recorded"
    (row,) = bm.glance_rows(pts)
    assert row["speed-up"] == f"{2e-6 * 800**2 / 0.8:,.1f}×" and row["baseline run"].startswith("extrapolated: ")
    assert row["over the sweep"] == "0.2× – 1.6×" and row["noisy"] == "no"          # 0.3 per core


def test_glance_lists_every_series_and_panels_group_the_baselines():
    a = _series([1, 2, 4], lambda x: x, lambda x: 3 * x)
    b = _series([1, 2, 4], lambda x: x, lambda x: 5 * x, baseline="other")
    none = [_r(baseline="none", baseline_s=None, measured_or_extrapolated="not recorded", kernel="cost only")]
    entries = bm.glance(a + b + none)
    assert len(entries) == 3 and {e[0].x for e in entries if e[0].sweep} == {4.0}
    assert [row["speed-up"] for row in bm.glance_rows(a + b + none)] == ["—", "3.0×", "5.0×"]   # by kernel name
    (topic, pans), = bm.panels(a + b).items()
    assert topic == "t" and list(pans.values())[0].keys() == {"b", "other"}


def test_bench_point_times_checks_extrapolates_and_saves(tmp_path):
    threads = torch.get_num_threads()
    b = Bench("t", "A test benchmark.\n\nMore.", argv=["--out", str(tmp_path), "--threads", str(threads)])
    try:
        checked = []
        for n in (10, 20, 40, 80):
            rs = b.point("sum", dict(n=n), lambda n=n: sum(range(n)), [
                Baseline("loop", (lambda n=n: sum(i for i in range(n))) if n < 80 else None,
                         check=lambda a, c: checked.append(a == c) or {"same": a == c}),
                Baseline("half of the loop", lambda n=n: sum(i for i in range(n // 2)), part=0.5)],
                sweep="n", repeat=2, flops=float(n))
            assert [r.baseline for r in rs] == ["loop", "half of the loop"]
        assert checked == [True] * 3
        half = [r for r in b.results if r.baseline == "half of the loop"]
        assert all(r.measured_or_extrapolated == "extrapolated" and "50.00%" in r.note for r in half)
        assert b.results[0].lib_s.n == 2 and b.results[0].peak_rss_mb > 0 and b.results[0].load_after is not None
        p = b.save({"what": "test"})
    finally:
        b.blas_limits.restore_original_limits()
        torch.set_num_threads(threads)
    got = {(r.baseline, r.x): r for r in bm.load(p)}
    assert got[("loop", 80.0)].measured_or_extrapolated == "extrapolated"     # from n = 10, 20, 40
    assert got[("loop", 10.0)].extra["agreement"] == {"same": True}
    assert got[("loop", 10.0)].commit == environment()["commit"] and got[("loop", 10.0)].gflops is not None


def test_result_helper_records_the_environment():
    env = environment("cpu")
    assert env["cpu_count"] and env["versions"]["torch"] and env["threads"] >= 1
    r = result(env, topic="t", kernel="k", baseline="b", work={"n": 1}, lib_s=bm.Timing.single(1.0),
               baseline_s=bm.Timing.single(2.0))
    assert r.load_after is not None and r.peak_rss_mb > 0 and r.ratio == 2.0 and r.measured_at


def test_every_recorded_result_file_reads():
    for p in sorted(bm.RESULTS_DIR.glob("*.json")):
        doc = json.loads(p.read_text())
        if p.name == bm.PEAK_FILE or doc.get("schema") != bm.SCHEMA:
            continue                                                   # the peak; chapter-facing summaries
        rs = bm.load(p)
        assert rs, f"{p.name}: no result read"
        assert all(r.ratio is None or r.ratio > 0 for r in rs)
        assert all(r.measured_or_extrapolated != "extrapolated" or r.note for r in rs), p.name


def test_machine_peak_measures_and_records(tmp_path):
    pk = bm.machine_peak(threads=1, n_matmul=128, mb=4, repeat=2)
    assert pk["matmul_float32_gflops"] > 0 and pk["matmul_float64_gflops"] > 0 and pk["bandwidth_gbs"] > 0
    assert isinstance(pk["noisy"], bool) and pk["threads"] == 1
    bm.record_machine_peak(tmp_path, [1], n_matmul=64, mb=2, repeat=1)
    assert set(bm.load_machine_peak(tmp_path)) == {1} and bm.load_machine_peak(tmp_path / "none") == {}
