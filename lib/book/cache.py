"""Resumable sweeps: each expensive cell's result kept on disk by a key of its inputs.

A paper-scale chapter can run for hours on a CPU. When such a run is stopped (a timeout, a kill, a crash), the
finished sweep cells should not be computed again. A chapter wraps each expensive computation::

    R22 = ch.cached("fig-2.2", lambda: rc.recovery_grid(dims22, N22, K, T, RECIPE,
                                                        generator=ch.generator("fig-2.2"), n_test=N_TEST),
                    dims=dims22, N=N22, K=K, T=T)

and the next run of the same chapter at the same scale and seed loads the result instead of computing it.

What the key holds (a cached value is reused only when every part is equal):

- the chapter's slug, scale and seed, and the cell's ``name``;
- the keyword arguments given as ``**inputs`` (their ``repr``: name every setting the computation reads);
- the compiled code of ``fn`` (its bytecode, constants and names, and those of the functions it calls that are
  defined beside it, in the chapter: editing them invalidates their entries);
- the SHA-256 of every science ``lib/`` module the chapter imports — the same fingerprint that marks a record
  stale (:func:`lib.book.records.fingerprint`), so a changed library never feeds an old number into a new record.

Prose edits of the chapter do not invalidate anything, which is the point: a record can be remade after a text
change by loading every sweep from disk.

Rules for ``fn``: it draws randomness only from generators it creates itself (named streams,
``ch.generator("fig-2.2")``), so that loading instead of computing leaves every other stream untouched; its
result must pickle (tensors are stored on the CPU and moved back to the chapter's device on load).

At ``quick`` scale nothing is cached unless ``quick=True`` is passed (or env ``DLT_CACHE_QUICK=1``, which tests
use to check that a chapter resumed from its cache gives byte-identical claims): CI re-executes every cell.
Entries live in ``<build>/cache/<slug>/<scale>-seed<seed>/<name>-<key>.pkl`` (``make clean`` removes them) and
are written atomically, so a killed run leaves no half entry.
"""
from __future__ import annotations

import functools
import os
import hashlib
import pickle
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import torch

from lib.book.files import ROOT, atomic_write_bytes, build_dir

T = TypeVar("T")

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,80}$")


def cache_dir(slug: str, scale: str, seed: int) -> Path:
    """The folder that holds a chapter run's cached cells."""
    return build_dir() / "cache" / slug / f"{scale}-seed{seed}"


def code_digest(fn: Callable[..., Any]) -> str:
    """A digest of ``fn``'s compiled code: bytecode, constants (recursively for nested code) and names."""
    h = hashlib.sha256()
    seen: set[int] = set()

    def add(code: Any, glob: dict[str, Any], module: str | None) -> None:
        if id(code) in seen:
            return
        seen.add(id(code))
        h.update(code.co_code)
        h.update(repr(code.co_names).encode())
        for c in code.co_consts:
            if hasattr(c, "co_code"):
                add(c, glob, module)
            else:
                h.update(repr(c).encode())
        for name in code.co_names:  # helpers defined beside fn (in the chapter) are part of the computation
            g = glob.get(name)
            if callable(g) and getattr(g, "__module__", None) == module and hasattr(g, "__code__"):
                add(g.__code__, g.__globals__, module)

    code = getattr(fn, "__code__", None)
    if code is None:
        raise ValueError(f"fn={fn!r}: accepted values are Python functions or lambdas (their code is part of the key)")
    add(code, getattr(fn, "__globals__", {}), getattr(fn, "__module__", None))
    return h.hexdigest()


@functools.lru_cache(maxsize=32)
def _lib_digest(slug: str) -> str:
    from lib.book import records

    src = ROOT / "book" / f"{slug}.md"
    if not src.exists():  # a chapter run from elsewhere (tests): key on nothing from lib/
        return "no-chapter-source"
    fp = records.fingerprint(src)
    fp.pop(str(src.relative_to(ROOT)), None)  # the chapter's own prose does not invalidate
    return hashlib.sha256(repr(sorted(fp.items())).encode()).hexdigest()


def _to_cpu(x: Any) -> Any:
    if isinstance(x, torch.Tensor):
        return x.detach().cpu()
    if isinstance(x, dict):
        return {k: _to_cpu(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)) and type(x) in (list, tuple):
        return type(x)(_to_cpu(v) for v in x)
    return x


def _to_device(x: Any, device: torch.device) -> Any:
    if isinstance(x, torch.Tensor):
        return x.to(device)
    if isinstance(x, dict):
        return {k: _to_device(v, device) for k, v in x.items()}
    if isinstance(x, (list, tuple)) and type(x) in (list, tuple):
        return type(x)(_to_device(v, device) for v in x)
    return x


def cached(slug: str, scale: str, seed: int, device: torch.device, name: str, fn: Callable[[], T], *,
           quick: bool = False, **inputs: Any) -> T:
    """``fn()``, computed once per key and then loaded from disk (see the module docstring for the key).

    Returns what ``fn`` returns (tensors on ``device``). Prints one line saying whether the value was computed
    (and in how many seconds) or loaded (and when it was computed), so a reader of the log knows which.
    """
    if not _NAME.match(name):
        raise ValueError(f"name={name!r}: accepted values are 1-81 characters of letters, digits, '_', '.', '-'")
    if scale == "quick" and not (quick or os.environ.get("DLT_CACHE_QUICK") == "1"):
        return fn()
    key = hashlib.sha256(repr((slug, scale, seed, name, sorted((k, repr(v)) for k, v in inputs.items()),
                               code_digest(fn), _lib_digest(slug))).encode()).hexdigest()[:16]
    path = cache_dir(slug, scale, seed) / f"{name}-{key}.pkl"
    if path.exists():
        entry = pickle.loads(path.read_bytes())
        print(f"[cache] {name}: loaded (computed {entry['when']} in {entry['seconds']:.0f} s)", flush=True)
        return _to_device(entry["value"], device)
    t0 = time.perf_counter()
    value = fn()
    seconds = time.perf_counter() - t0
    entry = dict(value=_to_cpu(value), seconds=seconds, when=time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()))
    atomic_write_bytes(path, pickle.dumps(entry, protocol=pickle.HIGHEST_PROTOCOL))
    print(f"[cache] {name}: computed in {seconds:.0f} s, kept for a resumed run", flush=True)
    return value
