"""One result schema for every benchmark in ``bench/``, the machine's measured peak, and readers of older files.

A benchmark runs a library kernel and the baseline a user would otherwise write in one process and records one
:class:`BenchResult` per (kernel, baseline, work size): both times as min / median / max over the repeats, whether
the baseline was run in full or extrapolated from a part, the threads, device, load average before and after, peak
memory, package versions and commit. A result taken while the 1-minute load was above 0.5 per core is
:attr:`BenchResult.noisy`: a ratio measured under load is not a property of the code, and the performance appendix
says so.

Files: ``bench/results/<topic>.json``. A file written through :func:`save` has ``"schema": SCHEMA`` and a
``"results"`` list; every other top-level key is the benchmark's own detail (kept as written). Files written
before this schema are read through :func:`from_legacy`, one adapter per topic plus a generic one, so the page
shows every benchmark whether or not its script has been converted.

:func:`machine_peak` measures dense float32 / float64 matmul GFLOP/s and memory bandwidth (copy, triad) on this
machine; ``python -m lib.book.benchmarks peak`` records it in ``bench/results/machine_peak.json``.
"""
from __future__ import annotations

import dataclasses
import json
import os
import platform
import resource
import statistics
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np

from lib.book.files import ROOT, atomic_write_json

SCHEMA = "dlt-bench/1"
RESULTS_DIR = ROOT / "bench" / "results"
PEAK_FILE = "machine_peak.json"
NOISY_LOAD_PER_CORE = 0.5  # 1-minute load average per core above which a timing is marked noisy


# ------------------------------------------------------------------------------------------------ the record
@dataclasses.dataclass
class Timing:
    """Wall times of ``n`` repeats of one method: best, median and worst (seconds). One number: ``n = 1``."""

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

    @property
    def spread(self) -> float:
        """(max - min) / min: how far apart the repeats were (0 for a single repeat)."""
        return (self.max_s - self.min_s) / self.min_s if self.min_s > 0 else float("nan")


@dataclasses.dataclass
class BenchResult:
    """One library kernel against one baseline at one work size, measured in one run."""

    topic: str                      # the benchmark: bench/bench_<topic>.py, bench/results/<topic>.json
    kernel: str                     # the library code timed
    baseline: str                   # what a user would otherwise write
    work: dict[str, Any]            # the sizes (models, N, d, p, bags, k, ...)
    lib_s: Timing | None
    baseline_s: Timing | None
    measured_or_extrapolated: str = "measured"   # of the baseline: "measured" | "extrapolated" | "not recorded"
    config: str = ""                # "quick" | "paper" | a series name
    threads: int | None = None      # torch / BLAS threads
    device: str = "cpu"
    device_name: str = ""
    cpu_count: int | None = None
    load_before: float | None = None  # 1-minute load average before / after the run (None: not recorded)
    load_after: float | None = None
    peak_rss_mb: float | None = None
    versions: dict[str, str] = dataclasses.field(default_factory=dict)
    commit: str | None = None
    flops: float | None = None      # arithmetic of one library call (dense kernels), for the fraction of peak
    bytes_moved: float | None = None
    dtype: str = ""                 # of the dense arithmetic: "float32" | "float64"
    note: str = ""
    source: str = "schema"          # "schema" or "legacy" (read through an adapter)
    extra: dict[str, Any] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.measured_or_extrapolated not in ("measured", "extrapolated", "not recorded"):
            raise ValueError(f"measured_or_extrapolated={self.measured_or_extrapolated!r}: accepted values are "
                             "'measured', 'extrapolated', 'not recorded'")

    @property
    def key(self) -> tuple:
        return (self.topic, self.kernel, self.baseline, self.config, self.device, self.threads,
                json.dumps(self.work, sort_keys=True, default=str))

    @property
    def ratio(self) -> float | None:
        """Best baseline time over best library time (or the recorded ratio when the times are absent)."""
        if self.lib_s is not None and self.baseline_s is not None and self.lib_s.min_s > 0:
            return self.baseline_s.min_s / self.lib_s.min_s
        r = self.extra.get("ratio")
        return float(r) if isinstance(r, (int, float)) else None

    @property
    def load_per_core(self) -> float | None:
        loads = [x for x in (self.load_before, self.load_after) if x is not None]
        if not loads or not self.cpu_count:
            return None
        return max(loads) / self.cpu_count

    @property
    def noisy(self) -> bool | None:
        """True when the 1-minute load (before or after) was above 0.5 per core; None when it was not recorded."""
        lpc = self.load_per_core
        return None if lpc is None else lpc > NOISY_LOAD_PER_CORE

    @property
    def gflops(self) -> float | None:
        """Achieved GFLOP/s of the library call (best time)."""
        if self.flops is None or self.lib_s is None or self.lib_s.min_s <= 0:
            return None
        return self.flops / self.lib_s.min_s / 1e9

    @property
    def gbs(self) -> float | None:
        if self.bytes_moved is None or self.lib_s is None or self.lib_s.min_s <= 0:
            return None
        return self.bytes_moved / self.lib_s.min_s / 1e9

    def to_dict(self) -> dict[str, Any]:
        return _jsonable(dataclasses.asdict(self))

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> BenchResult:
        d = dict(d)
        for k in ("lib_s", "baseline_s"):
            if d.get(k) is not None:
                d[k] = Timing(**d[k])
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})


def _jsonable(o: Any) -> Any:
    """``o`` with numpy scalars and arrays turned into Python numbers and lists (recursively)."""
    if isinstance(o, dict):
        return {str(k): _jsonable(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [_jsonable(v) for v in o]
    if isinstance(o, (np.floating, np.integer, np.bool_)):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if o is None or isinstance(o, (str, int, float, bool)):
        return o
    return str(o)


def to_jsonable(o: Any) -> Any:
    """Public alias of the converter used by every result writer (numpy → Python, anything else → ``str``)."""
    return _jsonable(o)


# ------------------------------------------------------------------------------------------------ environment
def load_average() -> float | None:
    """The 1-minute load average (None where the platform has none)."""
    try:
        return float(os.getloadavg()[0])
    except (AttributeError, OSError):
        return None


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far (MiB; ``ru_maxrss``)."""
    kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kb / 1024 if sys.platform != "darwin" else kb / 2**20


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


def time_repeats(fn: Callable[[], Any], repeat: int = 3, warmup: int = 0) -> tuple[Timing, Any]:
    """Run ``fn`` ``warmup`` times untimed, then ``repeat`` times timed (CUDA synchronised); the timing and the
    last result."""
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
    """Merge ``results`` into the schema file at ``path`` (a result replaces an earlier one with the same key:
    topic, kernel, baseline, config, device, threads, work) and write it atomically. ``detail``: the benchmark's
    own top-level keys, merged over those already in the file."""
    path = Path(path)
    doc = json.loads(path.read_text()) if path.exists() else {}
    old = [BenchResult.from_dict(d) for d in doc.get("results", [])] if doc.get("schema") == SCHEMA else []
    merged = {r.key: r for r in old}
    for r in results:
        merged[r.key] = r
    doc.update(_jsonable(detail or {}))
    doc["schema"] = SCHEMA
    doc["results"] = [r.to_dict() for r in merged.values()]
    return atomic_write_json(path, doc)


def load(path: str | os.PathLike[str]) -> list[BenchResult]:
    """Every result in one file: the schema's ``results`` and, for the keys the benchmark wrote before it was
    converted, what the topic's legacy adapter reads (a schema result wins over a legacy one with the same key)."""
    path = Path(path)
    doc = json.loads(path.read_text())
    topic = path.stem
    schema = doc.get("schema") == SCHEMA
    legacy_doc = {k: v for k, v in doc.items() if not (schema and k in ("schema", "results"))}
    out = {r.key: r for r in from_legacy(topic, legacy_doc)}
    if schema:
        for d in doc.get("results", []):
            r = BenchResult.from_dict(d)
            out[r.key] = r
    return list(out.values())


def load_all(folder: str | os.PathLike[str] = RESULTS_DIR) -> list[BenchResult]:
    """:func:`load` of every ``*.json`` in ``folder`` except the machine peak."""
    res: list[BenchResult] = []
    for p in sorted(Path(folder).glob("*.json")):
        if p.name != PEAK_FILE:
            res.extend(load(p))
    return res


# ------------------------------------------------------------------------------------------------ machine peak
def machine_peak(threads: int | None = None, n_matmul: int = 2048, mb: int = 256, repeat: int = 5) -> dict[str, Any]:
    """Measured peak of this machine: dense matmul GFLOP/s (float32, float64; ``n_matmul``² matrices, best of
    ``repeat``) and memory bandwidth in GB/s (copy ``b = a``: 2 arrays of ``mb`` MiB moved; triad
    ``a = b + s c``: 3), with the threads, load before/after and the machine. A ceiling to compare kernels with,
    not a vendor number: on a loaded machine it is low, and ``noisy`` says so."""
    import torch

    if threads is not None:
        torch.set_num_threads(threads)
    env = environment("cpu")
    out: dict[str, Any] = {k: env[k] for k in ("threads", "device", "device_name", "cpu_count", "load_before",
                                                "versions", "commit")}
    g = torch.Generator().manual_seed(0)
    n = n_matmul
    for dt in (torch.float32, torch.float64):
        a = torch.randn(n, n, generator=g, dtype=dt)
        b = torch.randn(n, n, generator=g, dtype=dt)
        c = torch.empty(n, n, dtype=dt)
        t, _ = time_repeats(lambda a=a, b=b, c=c: torch.mm(a, b, out=c), repeat=repeat, warmup=1)
        name = str(dt).removeprefix("torch.")
        out[f"matmul_{name}_gflops"] = 2 * n**3 / t.min_s / 1e9
        out[f"matmul_{name}_timing"] = dataclasses.asdict(t)
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
    out["noisy"] = bool(loads and max(loads) / (out["cpu_count"] or 1) > NOISY_LOAD_PER_CORE)
    out["measured_at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    return out


def record_machine_peak(folder: str | os.PathLike[str] = RESULTS_DIR, thread_counts: Iterable[int] | None = None,
                        **kw: Any) -> Path:
    """Measure :func:`machine_peak` at each thread count (default 1 and every core) and record it in
    ``<folder>/machine_peak.json`` as ``{"by_threads": {"1": {...}, "2": {...}}}``."""
    counts = sorted(set(thread_counts or (1, os.cpu_count() or 1)))
    doc = {"schema": SCHEMA, "by_threads": {str(t): machine_peak(t, **kw) for t in counts}}
    return atomic_write_json(Path(folder) / PEAK_FILE, _jsonable(doc))


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
        return None, "no flop / byte count (not a dense kernel)"
    if not peaks:
        return None, "no machine peak recorded"
    t = min(peaks, key=lambda k: abs(k - (r.threads or 1)))
    pk = peaks[t]
    if r.gflops is not None:
        dt = r.dtype or "float32"
        peak = pk[f"matmul_{dt}_gflops"]
        return r.gflops / peak, f"{peak:.0f} GFLOP/s ({dt}, {t} thr.)"
    return r.gbs / pk["bandwidth_gbs"], f"{pk['bandwidth_gbs']:.1f} GB/s ({t} thr.)"


# ------------------------------------------------------------------------------------------------ legacy readers
def _t(x: Any) -> Timing | None:
    return Timing.single(x) if isinstance(x, (int, float)) and x > 0 else None


def _threads(doc: dict) -> int | None:
    for k in ("torch_threads", "threads", "omp_num_threads"):
        v = doc.get(k)
        if v is not None:
            try:
                return int(v)
            except (TypeError, ValueError):
                pass
    return None


def _common(doc: dict, top: dict, topic: str, config: str) -> dict[str, Any]:
    """The environment fields a legacy entry (``doc``, falling back to the file's top level ``top``) recorded."""
    both = {**top, **doc}
    versions = {k: str(both[k]) for k in ("torch", "numpy", "python") if k in both}
    return dict(topic=topic, config=config, threads=_threads(both), device=str(both.get("device", "cpu")),
                device_name=str(both.get("device_name", both.get("machine", ""))),
                cpu_count=both.get("cpu_count"), load_before=both.get("load_average_1min"), versions=versions,
                source="legacy")


def _config_entries(doc: dict) -> Iterable[tuple[str, dict]]:
    """``(config, entry)`` of files keyed ``<config>_<device>_<n>threads``."""
    for k, v in doc.items():
        if isinstance(v, dict) and k.endswith("threads"):
            yield v.get("config", k.split("_")[0]), v


def _ts_flops(e: dict) -> float:
    # per model and step: forward X W (2Ndm), backward X^T G (2Ndm), input-side and elementwise terms (~2Ndm)
    return 6.0 * e["N"] * e["d"] * e["m"] * e["models"] * e["epochs"]


def _legacy_teacher_student(doc: dict) -> list[BenchResult]:
    out = []
    for cfg, e in _config_entries(doc):
        rss = e.get("peak_rss_mb_during_run", {}).get("batched")
        out.append(BenchResult(
            kernel="batched teacher–student engine (teacher_student.train)", baseline="per-model torch.optim loop",
            work={k: e[k] for k in ("models", "N", "d", "m", "epochs") if k in e},
            lib_s=_t(e.get("batched_s")), baseline_s=_t(e.get("loop_s")),
            measured_or_extrapolated="extrapolated" if e.get("loop_extrapolated") else "measured",
            peak_rss_mb=rss, flops=_ts_flops(e), dtype="float32",
            note=(f"loop timed on {e.get('loop_models_timed')} of {e.get('models')} models"
                  if e.get("loop_extrapolated") else ""),
            **_common(e, doc, "teacher_student", cfg)))
    return out


def _legacy_stacked(topic: str, kernel: str, baseline: str, sizes: tuple[str, ...]) -> Callable[[dict], list]:
    def read(doc: dict) -> list[BenchResult]:
        out = []
        for cfg, e in _config_entries(doc):
            extrap = bool(e.get("loop_extrapolated")) or (
                "loop_models_timed" in e and "models" in e and e["loop_models_timed"] < e["models"])
            out.append(BenchResult(kernel=kernel, baseline=baseline, work={k: e[k] for k in sizes if k in e},
                                   lib_s=_t(e.get("batched_s")), baseline_s=_t(e.get("loop_s")),
                                   measured_or_extrapolated="extrapolated" if extrap else "measured",
                                   **_common(e, doc, topic, cfg)))
        return out
    return read


def _legacy_relu_gate(doc: dict) -> list[BenchResult]:
    out = []
    for cfg, e in _config_entries(doc):
        for alg, B, n, T in (("sgd", "B", "n", "T"), ("glmtron", "B_glm", "n_glm", "T_glm")):
            timed_runs = e.get(f"{alg}_loop_runs_timed")
            extrap = timed_runs is not None and timed_runs < e.get(B, 0)
            out.append(BenchResult(
                kernel=f"batched {'Algorithm 2 (modified SGD)' if alg == 'sgd' else 'GLM-Tron'} over runs",
                baseline="per-run loop", work={"runs": e.get(B), "n": e.get(n), "steps": e.get(T)},
                lib_s=_t(e.get(f"{alg}_batched_s")), baseline_s=_t(e.get(f"{alg}_loop_s")),
                measured_or_extrapolated="extrapolated" if extrap else "measured",
                note=f"loop timed on {timed_runs} of {e.get(B)} runs" if extrap else "",
                **_common(e, doc, "relu_gate", cfg)))
    return out


def _legacy_least_squares(doc: dict) -> list[BenchResult]:
    T = doc.get("timings_s", {})
    B, p = doc.get("bag_size", 2000), doc.get("n_features", 18741)
    p_u = 785 + (p - 785 + 28 * 28) // 2 if p else None  # the unique-pair basis (10,155 columns at 28x28)
    c = _common(doc, {}, "least_squares", "quick")
    c["device_name"] = c["device_name"] or ""
    c["load_before"] = None

    def dual_flops(pp: int) -> float:
        return 2.0 * B * B * pp + B**3 / 3 + 2.0 * B * pp * 10

    out = [
        BenchResult(kernel="dual min-norm solve (B×B Gram + Cholesky)", baseline="torch.linalg.lstsq (gelsd, SVD)",
                    work={"B": B, "p": p}, lib_s=_t(T.get("fit_dual")), baseline_s=_t(T.get("fit_primal_gelsd")),
                    flops=dual_flops(p), dtype="float32", **c),
        BenchResult(kernel="dual min-norm solve (B×B Gram + Cholesky)",
                    baseline="sklearn LinearRegression on the lifted bag", work={"B": B, "p": p},
                    lib_s=_t(T.get("fit_dual")), baseline_s=_t(T.get("fit_sklearn_linreg")),
                    flops=dual_flops(p), dtype="float32", **c),
        BenchResult(kernel="dual solve, unique-pair basis", baseline="dual solve, ordered-pair basis",
                    work={"B": B, "p": p_u}, lib_s=_t(T.get("fit_dual_unique")), baseline_s=_t(T.get("fit_dual")),
                    flops=dual_flops(p_u), dtype="float32", **c),
        BenchResult(kernel="lift_conv2 + dual solve", baseline="sklearn PolynomialFeatures(2) + LinearRegression "
                    "(14×14 pooled, 19,503 features)", work={"B": B, "p": p},
                    lib_s=_t((T.get("lift_conv2") or 0) + (T.get("fit_dual") or 0)),
                    baseline_s=_t(T.get("fit_sklearn_pipeline_14x14")), **c),
    ]
    if "all_60_bags_fit" in T:
        out.append(BenchResult(kernel="60 bags of 2,000, unique basis (bagged_least_squares)", baseline="none",
                               work={"bags": 60, "B": 2000, "p": p_u}, lib_s=_t(T["all_60_bags_fit"]),
                               baseline_s=None, measured_or_extrapolated="not recorded",
                               flops=60 * dual_flops(p_u), dtype="float32", **c))
    return out


def _legacy_exact(doc: dict) -> list[BenchResult]:
    out = []
    e = doc.get("erm")
    if e:
        s = e["seconds"]
        w = {"n": e.get("n"), "D": e.get("D"), "subproblems": e.get("subproblems")}
        out.append(BenchResult(kernel="exact ERM (erm, closed-form subproblems)", baseline="scipy SLSQP per subproblem",
                               work=w, lib_s=_t(s.get("lib")), baseline_s=_t(s.get("slsqp")),
                               **_common(e, doc, "exact", "quick")))
    z = doc.get("zigzag")
    if z:
        cmp = z["compare"]
        lib = _t(cmp["lib"]["seconds"])
        for b, name in (("python_lists", "pure-Python piece lists"), ("dense_sampling", "dense sampling")):
            if b in cmp:
                out.append(BenchResult(kernel="exact zig-zag composition (vectorised)", baseline=name,
                                       work={"k": z.get("compare_k"), "pieces": z.get("compare_pieces_true")},
                                       lib_s=lib, baseline_s=_t(cmp[b]["seconds"]),
                                       **_common(z, doc, "exact", "quick")))
        out.append(BenchResult(kernel="exact zig-zag composition (vectorised)", baseline="none",
                               work={"k": z.get("k"), "pieces": z.get("pieces")}, lib_s=_t(z.get("seconds_lib")),
                               baseline_s=None, measured_or_extrapolated="not recorded",
                               **_common(z, doc, "exact", "quick")))
    return out


def _legacy_results_dict(topic: str, lib_keys: tuple[str, ...], base_keys: tuple[str, ...]) -> Callable:
    def read(doc: dict) -> list[BenchResult]:
        out = []
        cfg = str(doc.get("config", "quick"))
        for name, e in doc.get("results", {}).items():
            if not isinstance(e, dict):
                continue
            lib = next((e[k] for k in lib_keys if k in e), None)
            base = next((e[k] for k in base_keys if k in e), None)
            extrap = bool(e.get("extrapolated"))
            work = {k: v for k, v in {**e.get("config", {}), **{k: e[k] for k in ("N", "R", "n_features",
                    "n_monomials", "problems", "lattice_points_per_pass") if k in e}}.items()
                    if isinstance(v, (int, float))}
            out.append(BenchResult(kernel=name.replace("_", " "), baseline="baseline of bench_" + topic,
                                   work=work, lib_s=_t(lib), baseline_s=_t(base),
                                   measured_or_extrapolated="extrapolated" if extrap else "measured",
                                   note=("baseline timed on a slice and extrapolated" if extrap else ""),
                                   **_common(e, doc, topic, cfg)))
        return out
    return read


_RWM_NAMES = {"grid_search": ("exact grid search by sublevel-box pruning (relu_approx.grid_search)",
                              "numpy enumeration of the 150⁴ lattice"),
              "pr_fit": ("degree-3 polynomial regression, one float64 Gram for all targets",
                         "sklearn PolynomialFeatures(3) + LinearRegression per target"),
              "tensor_sums": ("equivalent tensor weights (weight_matching.tensor_sums)",
                              "Python loop over monomials")}
_KERNEL_NAMES = {"fista_batched_vs_loop": ("batched FISTA over problems", "per-problem FISTA loop"),
                 "krr_nested_vs_solve_loop": ("nested kernel ridge (one factorisation)", "a solve per size")}


def _renamed(read: Callable, names: dict[str, tuple[str, str]]) -> Callable:
    def wrapped(doc: dict) -> list[BenchResult]:
        out = read(doc)
        for r in out:
            k = r.kernel.replace(" ", "_")
            if k == "pr_fit" and "N" in r.work and "n_features" in r.work:
                # normal equations: the Gram F^T F (2 N p^2) dominates; float64
                r.flops, r.dtype = 2.0 * r.work["N"] * r.work["n_features"] ** 2, "float64"
            if k in names:
                r.kernel, r.baseline = names[k]
        return out
    return wrapped


def _legacy_sparse_coding(doc: dict) -> list[BenchResult]:
    out = []
    for cfg in ("quick", "many_small"):
        e = doc.get(cfg)
        if not isinstance(e, dict):
            continue
        s = e.get("seconds", {})
        for b, name in (("autograd", "autograd gradient"), ("autograd_loop", "autograd, loop over points")):
            if b in s:
                out.append(BenchResult(kernel="closed-form sparse-coding gradient (batched)", baseline=name,
                                       work={k: e[k] for k in ("B", "N", "n", "h") if k in e},
                                       lib_s=_t(s.get("lib")), baseline_s=_t(s[b]), dtype=str(e.get("dtype", "")),
                                       **_common(e, doc, "sparse_coding", cfg)))
    return out


def _legacy_optimizers(doc: dict) -> list[BenchResult]:
    e = doc.get("quick_sweep")
    if not isinstance(e, dict):
        return []
    return [BenchResult(kernel="batched optimiser sweep (runs stacked)", baseline="per-run loop",
                        work={k: e[k] for k in ("runs", "steps", "N", "d", "h") if k in e},
                        lib_s=_t(e.get("batched_s")), baseline_s=_t(e.get("loop_s")),
                        **_common(e, doc, "optimizers", "quick"))]


def _legacy_hessian(doc: dict) -> list[BenchResult]:
    out = []
    e = doc.get("hessian_spectrum")
    if isinstance(e, dict):
        for b, name in (("naive_s", "naive per-entry Hessian"),):
            for k, kname in (("exact_s", "exact Hessian (batched)"), ("lanczos_s", "top-k Lanczos")):
                if k in e and b in e:
                    out.append(BenchResult(kernel=kname, baseline=name, work={"P": e.get("P"), "k": e.get("k")},
                                           lib_s=_t(e[k]), baseline_s=_t(e[b]),
                                           **_common(e, doc, "hessian", "quick")))
    e = doc.get("w_sweep")
    if isinstance(e, dict):
        out.append(BenchResult(kernel="batched width sweep", baseline="per-model loop",
                               work={"models": e.get("models"), "steps": e.get("steps")},
                               lib_s=_t(e.get("batched_s")), baseline_s=_t(e.get("loop_s")),
                               **_common(e, doc, "hessian", "quick")))
    return out


def _generic(topic: str, doc: dict) -> list[BenchResult]:
    """Any dict with (``batched_s``, ``loop_s``) or (``library_s``/``lib_s``, ``baseline_s``), else any recorded
    ``speedup``/``ratio*`` number (times not recorded)."""
    out: list[BenchResult] = []

    def walk(d: dict, path: str) -> None:
        lib = next((d[k] for k in ("batched_s", "library_s", "lib_s") if isinstance(d.get(k), (int, float))), None)
        base = next((d[k] for k in ("loop_s", "baseline_s") if isinstance(d.get(k), (int, float))), None)
        if lib is not None and base is not None:
            out.append(BenchResult(kernel=path or topic, baseline="baseline of bench_" + topic,
                                   work={k: v for k, v in d.items() if isinstance(v, int) and not isinstance(v, bool)
                                         and k not in ("cpu_count", "torch_threads", "threads")},
                                   lib_s=_t(lib), baseline_s=_t(base),
                                   measured_or_extrapolated="extrapolated" if d.get("loop_extrapolated")
                                   or d.get("extrapolated") else "measured",
                                   **_common(d, doc, topic, str(d.get("config", "")))))
            return
        found = False
        for k, v in d.items():
            if isinstance(v, dict):
                walk(v, f"{path} · {k}" if path else k)
            elif (k == "speedup" or k.startswith("ratio")) and isinstance(v, (int, float)) and not found:
                found = True
                out.append(BenchResult(kernel=f"{path} · {k}" if path else k, baseline="baseline of bench_" + topic,
                                       work={}, lib_s=None, baseline_s=None, measured_or_extrapolated="not recorded",
                                       extra={"ratio": float(v)}, **_common(d, doc, topic, str(d.get("config", "")))))
    walk(doc, "")
    return out


_LEGACY: dict[str, Callable[[dict], list[BenchResult]]] = {
    "teacher_student": _legacy_teacher_student,
    "memorization": _legacy_stacked("memorization", "batched corrective construction over data sets",
                                    "per-data-set loop", ("B", "N0", "L", "n", "d")),
    "pac_bayes": _legacy_stacked("pac_bayes", "stacked k1-cluster MLP training (ADAM)", "per-net loop",
                                 ("models", "m", "n", "depth", "width", "steps")),
    "relu_gate": _legacy_relu_gate,
    "least_squares": _legacy_least_squares,
    "exact": _legacy_exact,
    "relu_weight_matching": _renamed(_legacy_results_dict("relu_weight_matching", ("library_s",),
                                                          ("baseline_s_extrapolated", "baseline_s")), _RWM_NAMES),
    "kernels": _renamed(_legacy_results_dict("kernels", ("batched_s",), ("loop_s",)), _KERNEL_NAMES),
    "sparse_coding": _legacy_sparse_coding,
    "optimizers": _legacy_optimizers,
    "hessian": _legacy_hessian,
}


def from_legacy(topic: str, doc: dict[str, Any]) -> list[BenchResult]:
    """The results a benchmark recorded before the schema (its topic's adapter, else the generic reader)."""
    try:
        return _LEGACY[topic](doc) if topic in _LEGACY else _generic(topic, doc)
    except (KeyError, TypeError, ValueError, AttributeError):
        return _generic(topic, doc)


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


# ------------------------------------------------------------------------------------------------ the page's views
def _fmt_work(work: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v:,}" if isinstance(v, int) else f"{k}={v}" for k, v in work.items() if v is not None)


def _load_text(r: BenchResult) -> str:
    lpc = r.load_per_core
    if lpc is None:
        return "not recorded"
    return f"{lpc:.2f}/core" + (" — NOISY" if r.noisy else "")


def glance(results: Iterable[BenchResult]) -> list[BenchResult]:
    """The results outside the scaling series that have a ratio, in the page's order (topic, kernel, baseline,
    config, threads); row ``i`` of :func:`glance_rows` is labelled ``#i+1`` in the speed-up figure."""
    return sorted((r for r in results if not r.config.startswith("series") and r.ratio is not None),
                  key=lambda r: (r.topic, r.kernel, r.baseline, r.config, r.threads or 0))


def glance_rows(results: Iterable[BenchResult], peaks: dict[int, dict[str, Any]] | None = None) -> list[dict]:
    """One row per result of :func:`glance`: the ratio with its baseline marked measured / extrapolated, the
    machine, the load, and the fraction of the peak."""
    rows = []
    for i, r in enumerate(glance(results), start=1):
        frac, _ = fraction_of_peak(r, peaks or {})
        rows.append({
            "#": i, "kernel — vs baseline (benchmark)": f"{r.kernel} — vs {r.baseline} ({r.topic})",
            "config · work": f"{r.config} · {_fmt_work(r.work)}",
            "speed-up": f"{r.ratio:,.1f}×",
            "baseline": r.measured_or_extrapolated + (f" ({r.note})" if r.note else ""),
            "library s": "—" if r.lib_s is None else f"{r.lib_s.min_s:.4g}",
            "machine": f"{r.device} ({r.device_name or '?'}), "
                       + (f"{r.threads} thread(s)" if r.threads else "threads not recorded"),
            "load": _load_text(r),
            "of peak": "—" if frac is None else f"{frac:.0%}",
        })
    return rows


def series(results: Iterable[BenchResult]) -> dict[tuple[str, str], list[BenchResult]]:
    """The scaling series, ``{(kernel, config): [results sorted by work]}`` (configs named ``series: <x>``)."""
    out: dict[tuple[str, str], list[BenchResult]] = {}
    for r in results:
        if r.config.startswith("series"):
            out.setdefault((r.kernel, r.config), []).append(r)
    for k, v in out.items():
        x = k[1].removeprefix("series: ").split()[-1]
        out[k] = sorted(v, key=lambda r: r.work.get(x, 0))
    return out


def series_axis(config: str) -> str:
    """The work variable of a series config: ``"series: bag size B"`` → ``"B"``."""
    return config.removeprefix("series: ").split()[-1]


def scaling_fit(points: list[BenchResult], x: str, which: str = "lib", last: int | None = None) -> Any:
    """Power-law fit ``time = C x^p`` (:func:`lib.stats.power_law_fit`) of the best times of ``which`` ("lib" or
    "baseline") over the points that recorded it (only the ``last`` largest when given: the regime where the work
    dominates the fixed costs); None with fewer than 3 points."""
    from lib.stats import power_law_fit

    xs, ys = [], []
    for r in points:
        t = r.lib_s if which == "lib" else r.baseline_s
        if t is not None and r.work.get(x):
            xs.append(float(r.work[x]))
            ys.append(t.min_s)
    if last is not None:
        xs, ys = xs[-last:], ys[-last:]
    return power_law_fit(xs, ys) if len(xs) >= 3 else None
