"""Resumable sweeps: each expensive cell's result kept on disk by a key of its inputs.

A paper-scale chapter can run for hours on a CPU. When such a run is stopped (a timeout, a kill, a crash), the
finished sweep cells should not be computed again. A chapter wraps each expensive computation::

    R22 = ch.cached("fig-2.2", lambda: rc.recovery_grid(dims22, N22, K, T, RECIPE,
                                                        generator=ch.generator("fig-2.2"), n_test=N_TEST),
                    dims=dims22, N=N22, K=K, T=T)

and the next run of the same chapter at the same scale and seed loads the result instead of computing it.

What the key holds (a cached value is reused only when every part is equal):

- the chapter's slug, scale and seed, and the cell's ``name``;
- the keyword arguments given as ``**inputs`` (their ``repr``; arrays and tensors by a hash of their bytes): name
  every setting and every data array the computation reads;
- the compiled code of ``fn`` (its bytecode, constants and names, and those of the functions it calls that are
  defined beside it, in the chapter: editing them invalidates their entries);
- the SHA-256 of the science ``lib/`` modules that code uses (named in it, e.g. ``rc.recovery_grid``, and everything
  they import): a changed library module never feeds an old number into a new record, and a change to a module
  the cell does not use keeps its entry.

Prose edits of the chapter do not invalidate anything, which is the point: a record can be remade after a text
change by loading every sweep from disk.

Rules for ``fn``: it draws randomness only from generators it creates itself (named streams,
``ch.generator("fig-2.2")``), so that loading instead of computing leaves every other stream untouched; its
result must pickle (tensors are stored on the CPU and moved back to the chapter's device on load).

Entries travel with records: ``make record`` lists every entry the run loaded or computed (env ``DLT_CACHE_USED``
names that list), keeps the small ones in ``records/<scale>/<slug>/cells/`` and copies them back into the cache
before the next record of that chapter, on any machine. A record too long for one sitting therefore grows across
sittings; each entry says when, on which device and in how many seconds it was computed.

At ``quick`` scale nothing is cached unless ``quick=True`` is passed (or env ``DLT_CACHE_QUICK=1``, which tests
use to check that a chapter resumed from its cache gives byte-identical claims): CI re-executes every cell.
Entries live in ``<build>/cache/<slug>/<scale>-seed<seed>/<name>-<key>.pkl`` (``make clean`` removes them) and
are written atomically, so a killed run leaves no half entry. ``make record`` runs a chapter in a private build
folder but points ``DLT_CACHE_DIR`` at the repository's ``_build/cache``, so a stopped record resumes.
"""
from __future__ import annotations

import hashlib
import inspect
import os
import pickle
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import torch

from lib.book.files import ROOT, atomic_write_bytes, cache_root

T = TypeVar("T")

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,80}$")


def cache_dir(slug: str, scale: str, seed: int) -> Path:
    """The folder that holds a chapter run's cached cells."""
    return cache_root() / slug / f"{scale}-seed{seed}"


def _walk(fn: Callable[..., Any]) -> tuple[str, set[str]]:
    """Digest of ``fn``'s compiled code (bytecode, constants, names; recursively through nested code and through the
    functions defined beside it, in the chapter) and the ``lib`` modules that code refers to by name."""
    h = hashlib.sha256()
    seen: set[int] = set()
    modules: set[str] = set()

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
        for name in code.co_names + code.co_freevars:
            g = glob.get(name)
            if g is None:
                continue
            owner = g.__name__ if inspect.ismodule(g) else getattr(g, "__module__", None)
            if isinstance(owner, str) and owner.split(".")[0] == "lib":
                modules.add(owner)                      # a library module (or one of its functions) the cell uses
            elif callable(g) and owner == module and hasattr(g, "__code__"):
                add(g.__code__, _env(g), module)         # a helper defined beside fn is part of the computation

    code = getattr(fn, "__code__", None)
    if code is None:
        raise ValueError(f"fn={fn!r}: accepted values are Python functions or lambdas (their code is part of the key)")
    add(code, _env(fn), getattr(fn, "__module__", None))
    return h.hexdigest(), modules


def _env(fn: Any) -> dict[str, Any]:
    """The names ``fn`` can see: its globals, and its closure's cells (nested functions, lambdas in loops)."""
    env = dict(getattr(fn, "__globals__", {}))
    for name, cell in zip(fn.__code__.co_freevars, fn.__closure__ or ()):
        try:
            env[name] = cell.cell_contents
        except ValueError:  # an empty cell
            pass
    return env


def code_digest(fn: Callable[..., Any]) -> str:
    """A digest of ``fn``'s compiled code, and of the chapter-defined functions it calls (see :func:`_walk`)."""
    return _walk(fn)[0]


def lib_digest(fn: Callable[..., Any]) -> str:
    """SHA-256 over the ``lib/`` science modules that ``fn`` uses (by name, directly or through the chapter's own
    helpers) and everything they import: a changed module invalidates exactly the cells that depend on it."""
    from lib.book import records

    files = records.module_closure(_walk(fn)[1])
    return hashlib.sha256(repr([(str(f.relative_to(ROOT)), hashlib.sha256(f.read_bytes()).hexdigest())
                                for f in files]).encode()).hexdigest()


def _holds_array(v: Any) -> bool:
    if isinstance(v, (torch.Tensor, np.ndarray)):
        return True
    if isinstance(v, dict):
        return any(_holds_array(x) for x in v.values())
    if isinstance(v, (list, tuple)):
        return any(_holds_array(x) for x in v)
    return False


def _key_repr(v: Any) -> str:
    """``repr`` for the key, except that arrays and tensors (whose ``repr`` elides the middle) are represented by
    their shape, dtype and a SHA-256 of their bytes. Values holding no array keep their plain ``repr``."""
    if not _holds_array(v):
        return repr(v)
    if isinstance(v, torch.Tensor):
        v = v.detach().cpu().numpy()
    if isinstance(v, np.ndarray):
        return f"ndarray{v.shape}{v.dtype}:{hashlib.sha256(np.ascontiguousarray(v).tobytes()).hexdigest()}"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{k!r}: {_key_repr(x)}" for k, x in v.items()) + "}"
    if isinstance(v, (list, tuple)):
        return type(v).__name__ + "[" + ", ".join(_key_repr(x) for x in v) + "]"
    return repr(v)


def _map_tensors(x: Any, fn: Callable[[torch.Tensor], torch.Tensor]) -> Any:
    """``x`` with ``fn`` applied to every tensor inside plain dicts, lists and tuples (other values as they are)."""
    if isinstance(x, torch.Tensor):
        return fn(x)
    if isinstance(x, dict):
        return {k: _map_tensors(v, fn) for k, v in x.items()}
    if isinstance(x, (list, tuple)) and type(x) in (list, tuple):
        return type(x)(_map_tensors(v, fn) for v in x)
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
    key = hashlib.sha256(repr((slug, scale, seed, name, sorted((k, _key_repr(v)) for k, v in inputs.items()),
                               code_digest(fn), lib_digest(fn))).encode()).hexdigest()[:16]
    path = cache_dir(slug, scale, seed) / f"{name}-{key}.pkl"
    if path.exists():
        entry = pickle.loads(path.read_bytes())
        _note_used(path, "loaded")
        on = f" on {entry['device']}" if entry.get("device") else ""
        print(f"[cache] {name}: loaded (computed {entry['when']}{on} in {entry['seconds']:.0f} s)", flush=True)
        return _map_tensors(entry["value"], lambda t: t.to(device))
    from lib.book.runtime import device_name

    t0 = time.perf_counter()
    value = fn()
    seconds = time.perf_counter() - t0
    entry = dict(value=_map_tensors(value, lambda t: t.detach().cpu()), seconds=seconds,
                 when=time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), device=device_name(device))
    atomic_write_bytes(path, pickle.dumps(entry, protocol=pickle.HIGHEST_PROTOCOL))
    _note_used(path, "computed")
    print(f"[cache] {name}: computed in {seconds:.0f} s, kept for a resumed run", flush=True)
    return value


def _note_used(path: Path, how: str) -> None:
    """Append ``how<TAB>path`` (``how``: computed or loaded) to the list named by env ``DLT_CACHE_USED`` (a record's
    run sets it), if any."""
    used = os.environ.get("DLT_CACHE_USED")
    if used:
        with open(used, "a", encoding="utf-8") as f:
            f.write(f"{how}\t{path}\n")
