"""One result schema for every benchmark in ``bench/``, the machine's measured peak, and the performance page's views.

A benchmark runs a library kernel and the baseline a user would otherwise write in one process, at several work
sizes (a sweep: models, samples N, features p, bags, k, ...), and records one :class:`BenchResult` per (kernel,
baseline, work size): both times as min / median / max over the repeats, whether the baseline ran in full or was
extrapolated (from a part of its work, or from the smaller sizes by their power law), the threads, device, load
average before and after, peak memory of each method, package versions and commit, and, where the arithmetic or
the memory traffic of one library call is countable, its flops or bytes. A result taken while the 1-minute load
was above 0.5 per core is :attr:`BenchResult.noisy`: a ratio measured under load is not a property of the code.

Files: ``bench/results/<topic>.json`` with ``"schema": SCHEMA`` and a ``"results"`` list; every other top-level
key is the benchmark's own detail (kept as written). A file without the schema marker is not a benchmark record
(a chapter-facing summary) and is not read here. :func:`save` replaces a whole series at once: a re-run of a sweep
(same topic, kernel, baseline, config, device, threads, swept variable) drops every point of the earlier run.

:func:`machine_peak` measures dense float32 / float64 matmul GFLOP/s and memory bandwidth (copy, triad) on this
machine; ``python -m lib.book.benchmarks peak`` records it in ``bench/results/machine_peak.json``.
"""
from __future__ import annotations

import dataclasses
import json
import os
import platform
import re
import resource
import statistics
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np

from lib.book.files import ROOT, atomic_write_json

SCHEMA = "dlt-bench/2"
RESULTS_DIR = ROOT / "bench" / "results"
PEAK_FILE = "machine_peak.json"
NOISY_LOAD_PER_CORE = 0.5  # 1-minute load average per core above which a timing is marked noisy
HOW = ("measured", "extrapolated", "not recorded")


# ------------------------------------------------------------------------------------------------ the record
@dataclasses.dataclass
class Timing:
    """Wall times of ``n`` repeats of one method: best, median and worst (seconds). ``n = 0``: not run, a
    prediction (a baseline extrapolated from the smaller sizes)."""

    min_s: float
    median_s: float
    max_s: float
    n: int = 1

    @classmethod
    def of(cls, seconds: Iterable[float]) -> Timing:
        s = [float(x) for x in seconds]
        if not s:
            raise ValueError("Timing.of: no times given")
        return cls(min(s), statistics.median(s), max(s), len(s))

    @classmethod
    def single(cls, seconds: float) -> Timing:
        return cls(float(seconds), float(seconds), float(seconds), 1)

    @classmethod
    def predicted(cls, seconds: float) -> Timing:
        return cls(float(seconds), float(seconds), float(seconds), 0)

    def scaled(self, factor: float) -> Timing:
        """The same repeats with every time multiplied by ``factor`` (a part of the work scaled to the whole)."""
        return Timing(self.min_s * factor, self.median_s * factor, self.max_s * factor, self.n)

    @property
    def spread(self) -> float:
        """(max - min) / min: how far apart the repeats were (0 for a single repeat)."""
        return (self.max_s - self.min_s) / self.min_s if self.min_s > 0 else float("nan")


@dataclasses.dataclass
class BenchResult:
    """One library kernel against one baseline at one work size, measured in one run."""

    topic: str                      # the benchmark: bench/bench_<topic>.py, bench/results/<topic>.json
    kernel: str                     # the library code timed
    baseline: str                   # what a user would otherwise write ("none": no baseline)
    work: dict[str, Any]            # the sizes (models, N, d, p, bags, k, ...)
    lib_s: Timing | None
    baseline_s: Timing | None
    measured_or_extrapolated: str = "measured"   # of the baseline: "measured" | "extrapolated" | "not recorded"
    sweep: str = ""                 # the key of ``work`` varied in this series ("" for a single point)
    config: str = ""                # the fixed dimensions: "quick" | "paper" | ...
    threads: int | None = None      # torch and BLAS threads
    device: str = "cpu"
    device_name: str = ""
    cpu_count: int | None = None
    load_before: float | None = None  # 1-minute load average before / after the point (None: not recorded)
    load_after: float | None = None
    peak_rss_mb: float | None = None           # peak resident memory of the process while the library ran
    baseline_peak_rss_mb: float | None = None  # ... while the baseline ran
    versions: dict[str, str] = dataclasses.field(default_factory=dict)
    commit: str | None = None
    measured_at: str = ""
    flops: float | None = None      # arithmetic of one library call (dense kernels), for the fraction of peak
    bytes_moved: float | None = None  # memory traffic of one library call (memory-bound kernels)
    dtype: str = ""                 # of the dense arithmetic: "float32" | "float64"
    note: str = ""                  # how the baseline was extrapolated, what differs, ...
    extra: dict[str, Any] = dataclasses.field(default_factory=dict)  # agreement checks and other detail

    def __post_init__(self) -> None:
        if self.measured_or_extrapolated not in HOW:
            raise ValueError(f"measured_or_extrapolated={self.measured_or_extrapolated!r}: accepted values are "
                             + ", ".join(repr(h) for h in HOW))
        if self.sweep and self.sweep not in self.work:
            raise ValueError(f"sweep={self.sweep!r} is not a key of work={self.work}")

    @property
    def group(self) -> tuple:
        """The series this point belongs to: every field of :attr:`key` but the work size."""
        return (self.topic, self.kernel, self.baseline, self.config, self.device, self.threads, self.sweep)

    @property
    def key(self) -> tuple:
        return (*self.group, json.dumps(self.work, sort_keys=True, default=str))

    @property
    def x(self) -> float | None:
        """The swept work size (None for a single point)."""
        v = self.work.get(self.sweep) if self.sweep else None
        return float(v) if isinstance(v, (int, float)) else None

    @property
    def ratio(self) -> float | None:
        """Best baseline time over best library time (None without both)."""
        if self.lib_s is not None and self.baseline_s is not None and self.lib_s.min_s > 0:
            return self.baseline_s.min_s / self.lib_s.min_s
        return None

    @property
    def load_per_core(self) -> float | None:
        loads = [x for x in (self.load_before, self.load_after) if x is not None]
        if not loads or not self.cpu_count:
            return None
        return max(loads) / self.cpu_count

    @property
    def other_load_per_core(self) -> float | None:
        """The 1-minute load (the larger of before and after) minus the benchmark's own threads, per core: what
        else was running. A benchmark's own threads raise the load average it reads (it lags by about a minute),
        so the raw load of a 2-thread benchmark on 2 cores is about 1 per core on a quiet machine."""
        loads = [x for x in (self.load_before, self.load_after) if x is not None]
        if not loads or not self.cpu_count:
            return None
        return max(0.0, max(loads) - (self.threads or 1)) / self.cpu_count

    @property
    def noisy(self) -> bool | None:
        """True when the load from other work (:attr:`other_load_per_core`) was above 0.5 per core; None when the
        load was not recorded."""
        olc = self.other_load_per_core
        return None if olc is None else olc > NOISY_LOAD_PER_CORE

    @property
    def gflops(self) -> float | None:
        """Achieved GFLOP/s of the library call (best time)."""
        if self.flops is None or self.lib_s is None or self.lib_s.min_s <= 0:
            return None
        return self.flops / self.lib_s.min_s / 1e9

    @property
    def gbs(self) -> float | None:
        """Achieved GB/s of the library call (best time)."""
        if self.bytes_moved is None or self.lib_s is None or self.lib_s.min_s <= 0:
            return None
        return self.bytes_moved / self.lib_s.min_s / 1e9

    def to_dict(self) -> dict[str, Any]:
        return to_jsonable(dataclasses.asdict(self))

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> BenchResult:
        d = dict(d)
        for k in ("lib_s", "baseline_s"):
            if d.get(k) is not None:
                d[k] = Timing(**d[k])
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})


def to_jsonable(o: Any) -> Any:
    """``o`` with numpy scalars and arrays turned into Python numbers and lists (recursively), anything else
    unknown into ``str``: the converter of every result writer."""
    if isinstance(o, dict):
        return {str(k): to_jsonable(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [to_jsonable(v) for v in o]
    if isinstance(o, (np.floating, np.integer, np.bool_)):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if o is None or isinstance(o, (str, int, float, bool)):
        return o
    return str(o)


# ------------------------------------------------------------------------------------------------ environment
def load_average() -> float | None:
    """The 1-minute load average (None where the platform has none)."""
    try:
        return float(os.getloadavg()[0])
    except (AttributeError, OSError):
        return None


def peak_rss_mb() -> float:
    """Peak resident memory of this process since the last :func:`reset_peak_rss` (MiB): ``VmHWM`` on Linux, else
    the peak since the start (``ru_maxrss``)."""
    try:
        m = re.search(r"VmHWM:\s+(\d+) kB", Path("/proc/self/status").read_text())
        if m:
            return int(m.group(1)) / 1024
    except OSError:
        pass
    kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kb / 1024 if sys.platform != "darwin" else kb / 2**20


def reset_peak_rss() -> bool:
    """Reset the process's peak resident memory to the current one (Linux ``clear_refs``); False where unsupported."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def environment(device: str = "cpu") -> dict[str, Any]:
    """The fields of a :class:`BenchResult` that describe where and with what it ran (load measured now)."""
    import torch

    from lib.book import runtime

    dev = torch.device(device)
    name = (torch.cuda.get_device_name(dev) if dev.type == "cuda" else _cpu_name())
    git = runtime.git_state()
    commit = git["commit"] + ("-dirty" if git.get("dirty") else "") if git["commit"] else None
    versions = {"python": platform.python_version(),
                **{k: v for k, v in runtime.package_versions(("torch", "numpy", "scipy", "scikit-learn")).items()
                   if v != "absent"}}
    return dict(threads=torch.get_num_threads(), device=dev.type, device_name=name, cpu_count=os.cpu_count(),
                load_before=load_average(), versions=versions, commit=commit)


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def now_utc() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def time_repeats(fn: Callable[[], Any], repeat: int = 3, warmup: int = 0) -> tuple[Timing, Any]:
    """Run ``fn`` ``warmup`` times untimed, then ``repeat`` times timed (CUDA synchronised); the timing and the
    last result. The one way every benchmark times."""
    import torch

    if repeat < 1:
        raise ValueError(f"repeat={repeat}: accepted values are integers >= 1")
    out = None
    for _ in range(warmup):
        out = fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
    return Timing.of(times), out


# ------------------------------------------------------------------------------------------------ files
def save(path: str | os.PathLike[str], results: Iterable[BenchResult], detail: dict[str, Any] | None = None) -> Path:
    """Write ``results`` into the schema file at ``path`` atomically. A series in ``results`` replaces every point
    of the same series (:attr:`BenchResult.group`) recorded before, so a re-run with other sizes leaves no stale
    point, and a full run (records without ``extra["smoke"]``) drops every smoke record of its topic; other series
    stay. ``detail``: the benchmark's own top-level keys, merged over those in the file. A file
    without the schema marker is replaced."""
    path = Path(path)
    results = list(results)
    doc = json.loads(path.read_text()) if path.exists() else {}
    if doc.get("schema") != SCHEMA:
        doc = {}
    new_groups = {r.group for r in results}
    full_run = {r.topic for r in results if not r.extra.get("smoke")}   # a full run replaces every smoke record
    merged = {r.key: r for r in (BenchResult.from_dict(d) for d in doc.get("results", []))
              if r.group not in new_groups and not (r.extra.get("smoke") and r.topic in full_run)}
    for r in results:
        merged[r.key] = r
    doc.update(to_jsonable(detail or {}))
    doc["schema"] = SCHEMA
    doc["results"] = [r.to_dict() for r in merged.values()]
    return atomic_write_json(path, doc)


def load(path: str | os.PathLike[str]) -> list[BenchResult]:
    """Every result of one schema file ([] for a file without the schema marker: not a benchmark record)."""
    doc = json.loads(Path(path).read_text())
    if not isinstance(doc, dict) or doc.get("schema") != SCHEMA:
        return []
    return [BenchResult.from_dict(d) for d in doc.get("results", [])]


def load_all(folder: str | os.PathLike[str] = RESULTS_DIR) -> list[BenchResult]:
    """:func:`load` of every ``*.json`` in ``folder`` except the machine peak."""
    res: list[BenchResult] = []
    for p in sorted(Path(folder).glob("*.json")):
        if p.name != PEAK_FILE:
            res.extend(load(p))
    return res


# ------------------------------------------------------------------------------------------------ machine peak
def limit_blas_threads(threads: int) -> Any:
    """Limit every BLAS of the process (torch's and the OpenBLAS that numpy and scipy ship) to ``threads``;
    returns the threadpoolctl limiter. numpy and scipy's BLAS are imported first: threadpoolctl only limits the
    libraries already loaded, and scipy.linalg.blas (the ``syrk`` kernels) loads its own OpenBLAS lazily — left
    unloaded, a '1 thread' benchmark ran its syrk on every core."""
    import numpy  # noqa: F401
    import scipy.linalg.blas  # noqa: F401
    import torch
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(threads)
    return threadpool_limits(threads)


def machine_peak(threads: int | None = None, n_matmul: int = 2048, mb: int = 256, repeat: int = 5) -> dict[str, Any]:
    """Measured peak of this machine: dense matmul GFLOP/s (float32, float64; ``n_matmul``² matrices, best of
    ``repeat``) and memory bandwidth in GB/s (copy ``b = a``: 2 arrays of ``mb`` MiB moved; triad
    ``a = b + s c``: 3), with the threads, load before/after and the machine. The matmul is timed in each BLAS the
    kernels use — torch's (``torch.mm``) and scipy's OpenBLAS (``?gemm``, which runs the ``syrk`` Grams) — and the
    peak is the faster (both are recorded: on an AMD EPYC, OpenBLAS's sgemm ran 10-20 % faster than torch.mm). A
    ceiling to compare kernels with, not a vendor number: on a loaded machine it is low, and ``noisy`` says so."""
    import numpy as np
    import torch
    from scipy.linalg.blas import dgemm, sgemm

    limiter = limit_blas_threads(threads) if threads is not None else None
    env = environment("cpu")
    out: dict[str, Any] = {k: env[k] for k in ("threads", "device", "device_name", "cpu_count", "load_before",
                                                "versions", "commit")}
    g = torch.Generator().manual_seed(0)
    n = n_matmul
    for dt, gemm in ((torch.float32, sgemm), (torch.float64, dgemm)):
        a = torch.randn(n, n, generator=g, dtype=dt)
        b = torch.randn(n, n, generator=g, dtype=dt)
        c = torch.empty(n, n, dtype=dt)
        name = str(dt).removeprefix("torch.")
        t, _ = time_repeats(lambda a=a, b=b, c=c: torch.mm(a, b, out=c), repeat=repeat, warmup=1)
        an, bn = np.asfortranarray(a.numpy()), np.asfortranarray(b.numpy())
        t2, _ = time_repeats(lambda an=an, bn=bn, gemm=gemm: gemm(1.0, an, bn), repeat=repeat, warmup=1)
        rates = {"torch.mm": 2 * n**3 / t.min_s / 1e9, "scipy gemm (OpenBLAS)": 2 * n**3 / t2.min_s / 1e9}
        best = max(rates, key=rates.get)
        out[f"matmul_{name}_gflops"] = rates[best]
        out[f"matmul_{name}_by_blas"] = rates
        out[f"matmul_{name}_blas"] = best
        out[f"matmul_{name}_timing"] = dataclasses.asdict(t if best == "torch.mm" else t2)
        print(f"[machine_peak] {out['threads']} thread(s), {name} matmul {n}²: "
              + ", ".join(f"{k} {v:.1f}" for k, v in rates.items()) + " GFLOP/s", flush=True)
    m = mb * 2**20 // 8
    a = torch.ones(m, dtype=torch.float64)
    b = torch.ones(m, dtype=torch.float64)
    c = torch.ones(m, dtype=torch.float64)
    t, _ = time_repeats(lambda: b.copy_(a), repeat=repeat, warmup=1)
    out["copy_gbs"] = 2 * m * 8 / t.min_s / 1e9
    t, _ = time_repeats(lambda: torch.add(b, c, alpha=3.0, out=a), repeat=repeat, warmup=1)
    out["triad_gbs"] = 3 * m * 8 / t.min_s / 1e9
    out["bandwidth_gbs"] = max(out["copy_gbs"], out["triad_gbs"])
    out["n_matmul"], out["array_mb"] = n, mb
    out["load_after"] = load_average()
    loads = [x for x in (out["load_before"], out["load_after"]) if x is not None]
    own = int(out.get("threads") or 1)                          # the peak's own threads raise the load it reads
    out["noisy"] = bool(loads and max(0.0, max(loads) - own) / (out["cpu_count"] or 1) > NOISY_LOAD_PER_CORE)
    out["measured_at"] = now_utc()
    if limiter is not None:
        limiter.restore_original_limits()
    return out


def record_machine_peak(folder: str | os.PathLike[str] = RESULTS_DIR, thread_counts: Iterable[int] | None = None,
                        **kw: Any) -> Path:
    """Measure :func:`machine_peak` at each thread count (default 1 and every core) and record it in
    ``<folder>/machine_peak.json`` as ``{"by_threads": {"1": {...}, "2": {...}}}``."""
    counts = sorted(set(thread_counts or (1, os.cpu_count() or 1)))
    doc = {"schema": SCHEMA, "by_threads": {str(t): machine_peak(t, **kw) for t in counts}}
    return atomic_write_json(Path(folder) / PEAK_FILE, to_jsonable(doc))


def load_machine_peak(folder: str | os.PathLike[str] = RESULTS_DIR) -> dict[int, dict[str, Any]]:
    """The recorded peaks by thread count ({} when none is recorded)."""
    p = Path(folder) / PEAK_FILE
    if not p.exists():
        return {}
    return {int(k): v for k, v in json.loads(p.read_text()).get("by_threads", {}).items()}


def fraction_of_peak(r: BenchResult, peaks: dict[int, dict[str, Any]]) -> tuple[float | None, str]:
    """The library call's achieved GFLOP/s (or GB/s) over the machine's peak at the same thread count (the nearest
    recorded one) and dtype; ``(None, why)`` when the kernel records no arithmetic or no peak is recorded."""
    if r.gflops is None and r.gbs is None:
        return None, "no flop / byte count"
    if not peaks:
        return None, "no machine peak recorded"
    t = min(peaks, key=lambda k: abs(k - (r.threads or 1)))
    pk = peaks[t]
    if r.gflops is not None:
        dt = r.dtype or "float32"
        peak = pk[f"matmul_{dt}_gflops"]
        return r.gflops / peak, f"{peak:.0f} GFLOP/s ({dt} matmul, {t} thr.)"
    return r.gbs / pk["bandwidth_gbs"], f"{pk['bandwidth_gbs']:.1f} GB/s (copy/triad, {t} thr.)"


# ------------------------------------------------------------------------------------------------ series
def series(results: Iterable[BenchResult]) -> dict[tuple, list[BenchResult]]:
    """The swept series, ``{group: [results sorted by the swept size]}`` (single points left out)."""
    out: dict[tuple, list[BenchResult]] = {}
    for r in results:
        if r.sweep and r.x is not None:
            out.setdefault(r.group, []).append(r)
    return {g: sorted(v, key=lambda r: r.x) for g, v in out.items()}


def scaling_fit(points: list[BenchResult], which: str = "lib", last: int | None = None) -> Any:
    """Power-law fit ``time = C x^p`` (:func:`lib.stats.power_law_fit`) of the best times of ``which`` ("lib" or
    "baseline", measured baselines only) against the swept size, over the points that recorded it (only the
    ``last`` largest when given: the regime where the work dominates the fixed costs); None with fewer than 3."""
    from lib.stats import power_law_fit

    xs, ys = [], []
    for r in sorted(points, key=lambda r: r.x or 0):
        t = r.lib_s if which == "lib" else (r.baseline_s if r.measured_or_extrapolated == "measured" else None)
        if t is not None and r.x:
            xs.append(r.x)
            ys.append(t.min_s)
    if last is not None:
        xs, ys = xs[-last:], ys[-last:]
    return power_law_fit(xs, ys) if len(xs) >= 3 else None


def extrapolate_baselines(results: list[BenchResult], min_points: int = 3) -> int:
    """Fill, in place, the baseline time of every swept point that did not run its baseline (``"not recorded"``,
    baseline other than "none") from the power law ``C x^p`` fitted to the measured baseline points of its series
    (at least ``min_points``); those points become ``"extrapolated"`` and their note names the sizes. Returns how
    many were filled."""
    filled = 0
    for pts in series(results).values():
        meas = [r for r in pts if r.measured_or_extrapolated == "measured" and r.baseline_s is not None]
        todo = [r for r in pts if r.measured_or_extrapolated == "not recorded" and r.baseline != "none"]
        if not todo or len(meas) < min_points:
            continue
        lx = np.log([r.x for r in meas])
        ly = np.log([r.baseline_s.min_s for r in meas])
        p, logc = np.polyfit(lx, ly, 1)
        sizes = ", ".join(_num(r.x) for r in meas)
        for r in todo:
            r.baseline_s = Timing.predicted(float(np.exp(logc + p * np.log(r.x))))
            r.measured_or_extrapolated = "extrapolated"
            r.note = (f"baseline not run at this size: power law C·{r.sweep}^{p:.2f} fitted to its measured "
                      f"{r.sweep} = {sizes}")
            filled += 1
    return filled


def _num(x: float) -> str:
    return f"{int(x):,}" if float(x).is_integer() else f"{x:g}"


# ------------------------------------------------------------------------------------------------ the page's views
def fmt_work(work: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v:,}" if isinstance(v, int) else f"{k}={v}" for k, v in work.items() if v is not None)


def load_text(rs: BenchResult | Iterable[BenchResult]) -> str:
    """The highest 1-minute load per core of ``rs`` and the noisy flag."""
    rs = [rs] if isinstance(rs, BenchResult) else list(rs)
    lpcs = [r.load_per_core for r in rs if r.load_per_core is not None]
    olcs = [r.other_load_per_core for r in rs if r.other_load_per_core is not None]
    if not lpcs:
        return "not recorded"
    return (f"{max(lpcs):.2f}/core ({max(olcs):.2f} from other work)"
            + (" — NOISY" if max(olcs) > NOISY_LOAD_PER_CORE else ""))


def glance(results: Iterable[BenchResult]) -> list[tuple[BenchResult, list[BenchResult]]]:
    """One entry per series (and per single point): ``(headline, points)``, the headline being the largest size of
    the series that has a ratio (the largest size when the kernel has no baseline), in the page's order (topic,
    kernel, baseline, config, threads)."""
    groups: dict[tuple, list[BenchResult]] = {}
    for r in results:
        groups.setdefault(r.group if r.sweep else r.key, []).append(r)
    out = []
    for pts in groups.values():
        pts = sorted(pts, key=lambda r: r.x or 0)
        with_ratio = [r for r in pts if r.ratio is not None]
        out.append(((with_ratio or pts)[-1], pts))
    return sorted(out, key=lambda e: (e[0].topic, e[0].kernel, e[0].baseline, e[0].config, e[0].threads or 0))


def glance_rows(results: Iterable[BenchResult], peaks: dict[int, dict[str, Any]] | None = None) -> list[dict]:
    """One row per entry of :func:`glance`: the ratio at the largest size with its baseline marked measured /
    extrapolated, the range over the sweep, the machine, the load, the noisy flag and the fraction of the peak."""
    rows = []
    for i, (r, pts) in enumerate(glance(results), start=1):
        frac, _ = fraction_of_peak(r, peaks or {})
        ratios = [p.ratio for p in pts if p.ratio is not None]
        noisy = [p.noisy for p in pts]
        how = r.measured_or_extrapolated if r.baseline != "none" else "no baseline (a cost measurement)"
        rows.append({
            "#": i, "benchmark": r.topic, "kernel": r.kernel, "baseline": r.baseline, "config": r.config,
            "speed-up": "—" if r.ratio is None else f"{r.ratio:,.1f}×",
            "over the sweep": (f"{min(ratios):,.1f}× – {max(ratios):,.1f}×" if len(ratios) > 1 else "—"),
            "at": fmt_work(r.work), "swept": r.sweep or "—",
            "baseline run": how + (f": {r.note}" if r.note and how == "extrapolated" else ""),
            "threads": r.threads if r.threads else "?",
            "machine": f"{r.device} ({r.device_name or '?'})",
            "load": load_text(pts),
            "noisy": "yes" if any(noisy) else ("not recorded" if all(n is None for n in noisy) else "no"),
            "of peak": "—" if frac is None else f"{frac:.1%}",
        })
    return rows


def panels(results: Iterable[BenchResult]) -> dict[str, dict[tuple, dict[str, list[BenchResult]]]]:
    """The swept series arranged for the cost-vs-work figures: ``{topic: {(kernel, config, sweep, device, threads):
    {baseline: [points sorted by size]}}}`` (one panel per library kernel and sweep, one line per baseline)."""
    out: dict[str, dict[tuple, dict[str, list[BenchResult]]]] = {}
    for g, pts in series(results).items():
        topic, kernel, baseline, config, device, threads, sweep = g
        out.setdefault(topic, {}).setdefault((kernel, config, sweep, device, threads), {})[baseline] = pts
    return out


def fit_rows(results: Iterable[BenchResult]) -> list[dict]:
    """The fitted exponent of every series, library and measured baseline."""
    rows, seen = [], set()
    for g, pts in sorted(series(results).items(), key=lambda kv: kv[0][:3]):
        for which, name in (("lib", pts[0].kernel), ("baseline", pts[0].baseline)):
            fit = scaling_fit(pts, which)
            ident = (g[0], name, g[3], g[4], g[5], g[6]) if which == "lib" else g
            if fit is None or ident in seen:
                continue
            seen.add(ident)
            tail = scaling_fit(pts, which, last=3)
            lo, hi = fit.slope_ci
            xs = [r.x for r in pts if (r.lib_s if which == "lib" else
                                       (r.baseline_s if r.measured_or_extrapolated == "measured" else None))]
            rows.append({"benchmark": g[0], "method": ("library: " if which == "lib" else "baseline: ") + name,
                         "swept": g[6], "sizes": ", ".join(_num(x) for x in xs), "exponent": round(fit.slope, 2),
                         "95% interval": f"[{lo:.2f}, {hi:.2f}]",
                         "exponent (3 largest)": round(tail.slope, 2) if tail is not None and fit.n > 3 else "—",
                         "points": fit.n, "noisy": "yes" if any(r.noisy for r in pts) else "no"})
    return rows


def peak_rows(results: Iterable[BenchResult], peaks: dict[int, dict[str, Any]]) -> list[dict]:
    """One row per library kernel that records its arithmetic (or memory traffic): the achieved rate and the
    fraction of the measured peak at its largest size, and the range over its sweep."""
    best: dict[tuple, list[BenchResult]] = {}
    for r in results:
        if r.gflops is not None or r.gbs is not None:
            best.setdefault((r.topic, r.kernel, r.config, r.device, r.threads, r.sweep), []).append(r)
    rows = []
    for (topic, kernel, config, _dev, threads, _sweep), pts in sorted(best.items()):
        uniq = {json.dumps(p.work, sort_keys=True): p for p in pts}
        pts = sorted(uniq.values(), key=lambda p: p.x or 0)
        r = pts[-1]
        frac, why = fraction_of_peak(r, peaks)
        fr = [f for f in (fraction_of_peak(p, peaks)[0] for p in pts) if f is not None]
        rate = f"{r.gflops:.2f} GFLOP/s" if r.gflops is not None else f"{r.gbs:.2f} GB/s"
        rows.append({"benchmark": topic, "kernel": kernel, "config": config, "at": fmt_work(r.work), "achieved": rate,
                     "fraction of peak": "—" if frac is None else f"{frac:.1%}",
                     "over the sweep": f"{min(fr):.1%} – {max(fr):.1%}" if len(fr) > 1 else "—",
                     "bound": _bound(frac), "peak": why, "threads": threads, "load": load_text(pts)})
    return rows


def _bound(frac: float | None) -> str:
    """A reading of a fraction of peak: near the ceiling, or how many times below it."""
    if frac is None:
        return "—"
    if frac >= 0.5:
        return "near the peak: arithmetic-bound"
    if frac >= 0.2:
        return f"{1 / frac:.1f}× below the peak"
    return f"{1 / frac:,.0f}× below the peak: overhead- or memory-bound"


def main(argv: list[str] | None = None) -> int:
    import argparse

    ap = argparse.ArgumentParser(description="Record the machine's measured peak (matmul GFLOP/s, bandwidth).")
    ap.add_argument("what", choices=["peak"])
    ap.add_argument("--threads", type=int, nargs="*", help="thread counts (default: 1 and every core)")
    ap.add_argument("--out", default=str(RESULTS_DIR))
    a = ap.parse_args(argv)
    p = record_machine_peak(a.out, a.threads)
    for t, pk in load_machine_peak(a.out).items():
        print(f"{t} thread(s): float32 {pk['matmul_float32_gflops']:.1f} GFLOP/s, float64 "
              f"{pk['matmul_float64_gflops']:.1f} GFLOP/s, copy {pk['copy_gbs']:.1f} GB/s, triad "
              f"{pk['triad_gbs']:.1f} GB/s; load {pk['load_before']:.1f}→{pk['load_after']:.1f}"
              f"{' (noisy)' if pk['noisy'] else ''}")
    print(f"wrote {p}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
