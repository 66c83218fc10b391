"""Shared set-up of the benchmarks: arguments, threads, timing, progress lines and the result schema.

Every benchmark runs a library kernel and the baseline a user would otherwise write in the same process, at a few
work sizes, and records one :class:`lib.book.benchmarks.BenchResult` per (kernel, baseline, size) in
``bench/results/<topic>.json``, which the book's performance appendix reads. A script builds one :class:`Bench`
(its command line: ``--threads``, ``--device``, ``--config`` where it has configurations, ``--smoke``, ``--out``),
calls :meth:`Bench.point` once per size and :meth:`Bench.save` at the end::

    b = Bench("topic", __doc__, configs=CONFIGS)
    for n in b.sizes([250, 500, 1000, 2000]):
        X = ...
        b.point("kernel", dict(N=n), lambda: lib_fn(X), [Baseline("what a user writes", lambda: slow(X))],
                sweep="N", flops=..., dtype="float32")
    b.save()

:meth:`Bench.point` times each method with :func:`lib.book.benchmarks.time_repeats` (min / median / max over the
repeats), records the load before and after, the peak resident memory of each method, the threads (torch and
BLAS), versions and commit, prints one progress line, and runs the baseline's agreement check. A baseline timed on
a part of the work (``Baseline(part=...)``) is scaled to the whole and marked extrapolated; one not run at a size
(``fn=None``) is extrapolated at save time from its measured sizes by their power law. Under a 1-minute load above
0.5 per core every record is marked noisy, and the script says so first.
"""
from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import time
from collections.abc import Callable, Sequence
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
    """Best wall time of ``repeat`` calls of ``fn`` (:func:`time_repeats`) and the last result."""
    t, out = time_repeats(fn, repeat)
    return t.min_s, out


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
    load, cores, own = env.get("load_before"), env.get("cpu_count") or 1, int(env.get("threads") or 1)
    if load is not None and max(0.0, load - own) / cores > benchmarks.NOISY_LOAD_PER_CORE:
        print(f"WARNING: 1-minute load {load:.1f} on {cores} cores, {load - own:.1f} of it from other work "
              f"(> {benchmarks.NOISY_LOAD_PER_CORE} per core): these timings will be recorded as noisy; re-run on a "
              "quiet machine.", file=sys.stderr, flush=True)
        return True
    return False


def result(env: dict[str, Any], **fields: Any) -> BenchResult:
    """A :class:`BenchResult` with the environment ``env``, the load now as ``load_after``, this process's peak
    resident memory and the time now; ``fields`` give the rest (topic, kernel, baseline, work, lib_s, ...)."""
    base = {**env, "load_after": benchmarks.load_average(), "peak_rss_mb": round(benchmarks.peak_rss_mb(), 1),
            "measured_at": benchmarks.now_utc()}
    base.update(fields)
    return BenchResult(**base)


@dataclasses.dataclass
class Baseline:
    """What a user would otherwise write, at one size.

    ``fn``: runs it (None: not run at this size; extrapolated at save time from the sizes where it ran).
    ``part``: the fraction of the size's work ``fn`` does (a loop over 4 of 100 models: 0.04); below 1 its times
    are scaled by ``1 / part`` and the result is marked extrapolated, with ``note`` (default: says the fraction).
    ``check(lib_out, base_out)``: the agreement of the two results, a dict of numbers stored with the record; it
    raises when they disagree."""

    name: str
    fn: Callable[[], Any] | None = None
    part: float = 1.0
    note: str = ""
    repeat: int = 1
    warmup: int = 0
    check: Callable[[Any, Any], dict[str, Any]] | None = None


def _peak_during(fn: Callable[[], tuple[Timing, Any]]) -> tuple[Timing, Any, float]:
    benchmarks.reset_peak_rss()
    t, out = fn()
    return t, out, round(benchmarks.peak_rss_mb(), 1)


def _seconds(t: Timing | None) -> str:
    return "—" if t is None else f"{t.min_s:.4g} s"


class Bench:
    """One run of one benchmark script: its arguments, threads, environment, records and progress lines."""

    def __init__(self, topic: str, doc: str, *, configs: dict[str, Any] | None = None, threads: int = 1,
                 add_args: Callable[[argparse.ArgumentParser], None] | None = None,
                 argv: Sequence[str] | None = None):
        ap = argparse.ArgumentParser(description=doc.strip().splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
        ap.add_argument("--threads", type=int, default=threads, help=f"torch and BLAS threads (default {threads})")
        ap.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
        if configs:
            ap.add_argument("--config", choices=sorted(configs), default="quick", help="fixed dimensions")
        ap.add_argument("--smoke", action="store_true",
                        help="the three smallest sizes of each sweep, one repeat: checks that the script runs "
                             "(its records replace those of a full run)")
        ap.add_argument("--out", default=str(RESULTS), help="the results folder")
        if add_args:
            add_args(ap)
        self.args = a = ap.parse_args(argv)
        self.topic = topic
        self.config = a.config if configs else "quick"
        self.c = configs[a.config] if configs else None
        self.smoke = a.smoke
        self.device = a.device
        torch.set_num_threads(a.threads)
        self.blas_limits = benchmarks.limit_blas_threads(a.threads)   # numpy / scipy BLAS: the same threads as torch
        self.env = environment(a.device)
        self.results: list[BenchResult] = []
        self.t0 = time.perf_counter()
        print(f"[{topic}] config {self.config}{' (smoke)' if self.smoke else ''}, {self.env['device']} "
              f"({self.env['device_name']}), {a.threads} thread(s), load {self.env['load_before']}", flush=True)
        warn_if_loaded(self.env)

    def sizes(self, sizes: Sequence[T]) -> list[T]:
        """The sizes of a sweep (the three smallest under ``--smoke``)."""
        return list(sizes[:3] if self.smoke else sizes)

    def repeat(self, n: int) -> int:
        return 1 if self.smoke else n

    def point(self, kernel: str, work: dict[str, Any], lib: Callable[[], Any],
              baselines: Sequence[Baseline] = (), *, sweep: str = "", repeat: int = 3, warmup: int = 1,
              flops: float | None = None, bytes_moved: float | None = None, dtype: str = "", note: str = "",
              extra: dict[str, Any] | None = None, config: str | None = None) -> list[BenchResult]:
        """Time ``lib`` (``warmup`` untimed calls, then ``repeat`` timed) and each baseline at one size; record one
        result per baseline (one with baseline "none" when there is none) and print a progress line. ``config``:
        the fixed dimensions of this series (default: the script's ``--config``)."""
        load0 = benchmarks.load_average()
        lib_t, lib_out, lib_rss = _peak_during(lambda: time_repeats(lib, self.repeat(repeat), warmup))
        common = dict(topic=self.topic, kernel=kernel, work=dict(work), lib_s=lib_t, sweep=sweep,
                      config=config or self.config, flops=flops, bytes_moved=bytes_moved, dtype=dtype,
                      peak_rss_mb=lib_rss)
        out, parts = [], []
        for b in baselines or [Baseline("none")]:
            fields: dict[str, Any] = dict(baseline=b.name, baseline_s=None, measured_or_extrapolated="not recorded",
                                          note=note, extra={**(extra or {}), **({"smoke": True} if self.smoke else {})})
            if b.fn is not None:
                t, base_out, rss = _peak_during(lambda b=b: time_repeats(b.fn, self.repeat(b.repeat), b.warmup))
                fields.update(baseline_s=t, measured_or_extrapolated="measured", baseline_peak_rss_mb=rss)
                if b.part != 1.0:
                    fields.update(baseline_s=t.scaled(1 / b.part), measured_or_extrapolated="extrapolated",
                                  note=b.note or f"baseline timed on {b.part:.2%} of the work, scaled linearly")
                    fields["extra"]["baseline_part"] = b.part
                if b.check is not None:
                    fields["extra"]["agreement"] = b.check(lib_out, base_out)
            r = BenchResult(**{**self.env, **common, **fields, "load_before": load0,
                               "load_after": benchmarks.load_average(), "measured_at": benchmarks.now_utc()})
            out.append(r)
            if b.name != "none":
                ratio = f" → {r.ratio:,.1f}×" if r.ratio is not None else ""
                how = {"measured": "", "extrapolated": " extrapolated"}.get(r.measured_or_extrapolated, " not run")
                parts.append(f"{b.name}: {_seconds(r.baseline_s)}{how}{ratio}")
        self.results += out
        r = out[0]
        rate = (f", {r.gflops:.2f} GFLOP/s" if r.gflops is not None else
                f", {r.gbs:.2f} GB/s" if r.gbs is not None else "")
        print(f"[{self.topic}] {kernel} · {benchmarks.fmt_work(work)}: lib {_seconds(lib_t)}{rate}"
              + "".join(f" | {p}" for p in parts) + (" (NOISY)" if r.noisy else "")
              + f"  [{time.perf_counter() - self.t0:.0f} s]", flush=True)
        return out

    def save(self, detail: dict[str, Any] | None = None, path: str | os.PathLike[str] | None = None) -> Path:
        """Extrapolate the baselines not run at some sizes (:func:`lib.book.benchmarks.extrapolate_baselines`) and
        write the records (and the script's own ``detail`` keys) to ``<out>/<topic>.json`` (or ``path``)."""
        benchmarks.extrapolate_baselines(self.results)
        p = benchmarks.save(Path(path) if path else Path(self.args.out) / f"{self.topic}.json", self.results,
                            detail)
        n_noisy = sum(bool(r.noisy) for r in self.results)
        print(f"[{self.topic}] {len(self.results)} records ({n_noisy} noisy) → {p} "
              f"in {time.perf_counter() - self.t0:.0f} s", flush=True)
        return p
