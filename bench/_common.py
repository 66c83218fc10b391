"""Shared helpers of the benchmarks: timing, the result schema and the one atomic JSON writer.

Every benchmark runs a library kernel and the baseline a user would otherwise write in the same process, and
records both in ``bench/results/<topic>.json``, which the book's performance appendix reads. The typed record
(:class:`lib.book.benchmarks.BenchResult`: min / median / max over repeats, measured or extrapolated, threads,
device, load before and after, peak memory, versions, commit) and :func:`save_results` are the schema; a result
taken while the 1-minute load is above 0.5 per core is marked noisy, and :func:`warn_if_loaded` says so first.
"""
from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from lib.book import benchmarks  # noqa: E402
from lib.book.benchmarks import BenchResult, Timing, time_repeats  # noqa: E402,F401
from lib.book.files import atomic_write_json  # noqa: E402

T = TypeVar("T")
RESULTS = Path(__file__).resolve().parent / "results"


def timed(fn: Callable[[], T], repeat: int = 1) -> tuple[float, T]:
    """Best wall time of ``repeat`` calls of ``fn`` (CUDA synchronised) and the last result."""
    if repeat < 1:
        raise ValueError(f"repeat={repeat}: accepted values are integers >= 1")
    best, out = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        best = min(best, time.perf_counter() - t0)
    return best, out  # type: ignore[return-value]


def write_json(path: str | os.PathLike[str], doc: dict[str, Any]) -> Path:
    """Write ``doc`` (numpy values converted) with the book's one atomic writer,
    :func:`lib.book.files.atomic_write_json` (sorted keys, indent 1, temp file + fsync + ``os.replace``)."""
    return atomic_write_json(path, benchmarks.to_jsonable(doc))


def environment(device: str = "cpu") -> dict[str, Any]:
    """Threads, device and its name, cores, 1-minute load now, versions, commit: the :class:`BenchResult` fields
    that say where a result was measured (call it just before the timed runs)."""
    return benchmarks.environment(device)


def warn_if_loaded(env: dict[str, Any]) -> bool:
    """Print a warning and return True when the load recorded in ``env`` makes the timings noisy."""
    load, cores = env.get("load_before"), env.get("cpu_count") or 1
    if load is not None and load / cores > benchmarks.NOISY_LOAD_PER_CORE:
        print(f"WARNING: 1-minute load {load:.1f} on {cores} cores (> {benchmarks.NOISY_LOAD_PER_CORE} per core): "
              "these timings will be recorded as noisy; re-run on a quiet machine.", file=sys.stderr)
        return True
    return False


def result(env: dict[str, Any], **fields: Any) -> BenchResult:
    """A :class:`BenchResult` with the environment ``env``, the load now as ``load_after`` and this process's peak
    resident memory; ``fields`` give the rest (topic, kernel, baseline, work, lib_s, baseline_s, ...)."""
    base = {**env, "load_after": benchmarks.load_average(), "peak_rss_mb": round(benchmarks.peak_rss_mb(), 1)}
    base.update(fields)
    return BenchResult(**base)


def save_results(topic: str, results: list[BenchResult], detail: dict[str, Any] | None = None) -> Path:
    """Merge ``results`` (and the benchmark's own ``detail`` keys) into ``bench/results/<topic>.json``."""
    path = benchmarks.save(RESULTS / f"{topic}.json", results, detail)
    for r in results:
        ratio = f"{r.ratio:,.1f}x" if r.ratio is not None else "—"
        print(f"[{topic}] {r.kernel} vs {r.baseline} {r.work}: {ratio} ({r.measured_or_extrapolated}"
              f"{', NOISY' if r.noisy else ''})")
    return path


def emit_schema(path: str | os.PathLike[str], topic: str, doc: dict[str, Any], env: dict[str, Any],
                only: tuple[str, ...] | None = None) -> Path:
    """Write a benchmark's own result ``doc`` and, read from it, its typed :class:`BenchResult` records (with the
    environment ``env`` taken before the timed runs and the load now) to ``path`` in the schema. For the
    benchmarks whose logic predates the schema: one timing per method (``Timing.single``, the best of the
    script's repeats). ``only``: the keys of ``doc`` this run measured (the others were recorded before and stay
    as they are)."""
    doc = benchmarks.to_jsonable(doc)
    if doc.get("schema") == benchmarks.SCHEMA:
        doc = {k: v for k, v in doc.items() if k not in ("schema", "results")}
    detail = {("detail" if k == "results" else k): v for k, v in doc.items()}
    results = benchmarks.from_legacy(topic, {k: doc[k] for k in only} if only else doc)
    after = benchmarks.load_average()
    for r in results:
        r.source, r.load_after = "schema", after
        r.load_before = env.get("load_before", r.load_before)  # before the timed runs (scripts log it after)
        r.cpu_count = r.cpu_count or env.get("cpu_count")
        r.device_name = env["device_name"] if r.device == env.get("device") else r.device_name
        r.versions, r.commit = env["versions"], env["commit"]
        r.threads = env["threads"] if r.threads is None else r.threads
        r.peak_rss_mb = r.peak_rss_mb if r.peak_rss_mb is not None else round(benchmarks.peak_rss_mb(), 1)
    path = benchmarks.save(path, results, detail)
    for r in results:
        ratio = f"{r.ratio:,.1f}x" if r.ratio is not None else "—"
        print(f"[{topic}] {r.kernel} vs {r.baseline}: {ratio} ({r.measured_or_extrapolated}"
              f"{', NOISY' if r.noisy else ''})")
    return path
