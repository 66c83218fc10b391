"""Recorded runs: a chapter executed at paper scale (on a GPU or, where it fits, this CPU), kept in the repository.

``make record NAME=<slug> [SCALE=paper] [DEVICE=auto|cpu|cuda]`` runs ``python -m lib.book.records <slug> ...``,
which executes the chapter through the same runner into a private build folder and, only if the chapter
finished without an error, stores ``records/<scale>/<slug>/``:

- ``claims.json``: the chapter's claims document, exactly as the run wrote it;
- ``run.json``: :class:`RecordMeta` — wall time, device and its name, threads, peak memory, versions, the commit,
  the SHA-256 of the chapter source and of every ``lib/`` module it imports (transitively), ``partial``;
- ``plots/<name>.json.gz``: every published figure's plotly JSON, gzipped (dense traces thinned to stay small);
- ``cells/<name>-<key>.pkl``: the run's finished sweep cells (:mod:`lib.book.cache`) of at most
  :data:`MAX_CELL_BYTES` each. The next record of the chapter, on any machine, copies them into its cache first, so
  a chapter whose paper run does not fit one sitting resumes where the last record stopped. ``run.json`` lists
  every cell the run used: computed or loaded, when, on which device, in how many seconds, kept or too large.

A record is **stale** when its chapter's source or any of those ``lib/`` modules changed since it was made
(:func:`staleness`): the book still shows its values, greyed, with the commit they came from. The record is
written to a temporary folder and renamed into place, so a killed run leaves the previous record intact.
Records are data, like ``bench/results/``: committed, reviewed, never edited by hand.
"""
from __future__ import annotations

import argparse
import ast
import dataclasses
import functools
import gzip
import hashlib
import json
import os
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from lib.book.files import ROOT, atomic_write_bytes, atomic_write_json, cache_root, records_dir

#: Keep one figure's compressed JSON under this many bytes by thinning its longest traces.
MAX_FIGURE_BYTES = 400_000
#: A finished sweep cell is carried in the record (``cells/``) when its entry is at most this many bytes; larger ones
#: (trained weights, say) are listed in ``run.json`` and recomputed by the next sitting.
MAX_CELL_BYTES = 4_000_000


# ------------------------------------------------------------------------------------------ what a chapter uses
def _module_file(name: str) -> Path | None:
    """The source file of module ``lib.x.y`` inside this repository, or None."""
    parts = name.split(".")
    if parts[0] != "lib":
        return None
    base = ROOT.joinpath(*parts)
    for cand in (base.with_suffix(".py"), base / "__init__.py"):
        if cand.exists():
            return cand
    return None


def _imports(tree: ast.AST) -> set[str]:
    """Every ``lib...`` module named by the import statements of ``tree``."""
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names if a.name.split(".")[0] == "lib")
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "lib":
            out.add(node.module)
            out.update(f"{node.module}.{a.name}" for a in node.names)  # `from lib import stats` names a module
    return out


def chapter_code(src: Path) -> str:
    """The Python code of a jupytext MyST chapter (its code cells, concatenated)."""
    import jupytext

    nb = jupytext.read(src)
    return "\n".join(c.source for c in nb.cells if c.cell_type == "code" and not c.source.lstrip().startswith("%"))


def _is_machinery(rel: str) -> bool:
    """The book's machinery (``lib/book/``, ``lib/__init__.py``) formats, runs and judges but computes no
    result, so its changes do not make a record stale (a changed check lives in the chapter source)."""
    return rel.startswith("lib/book/") or rel == "lib/__init__.py"


def lib_dependencies(src: Path) -> list[Path]:
    """The ``lib/`` science modules that chapter ``src`` imports, directly or through other ``lib/`` modules (the
    machinery under ``lib/book/`` is followed but not listed)."""
    return module_closure(_imports(ast.parse(chapter_code(src))))


def module_closure(modules: Iterable[str]) -> list[Path]:
    """The files of the ``lib/`` science modules named in ``modules`` and of every ``lib/`` module they import,
    transitively (machinery under ``lib/book/`` is followed but not listed)."""
    todo = [m for m in modules if _module_file(m)]
    seen: dict[Path, None] = {}
    while todo:
        f = _module_file(todo.pop())
        if f is None or f in seen:
            continue
        seen[f] = None
        todo.extend(_imports(ast.parse(f.read_text(encoding="utf-8"))))
    return sorted(f for f in seen if not _is_machinery(str(f.relative_to(ROOT))))


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


CODE_PREFIX = "code:"


def chapter_sha(src: Path) -> str:
    """``code:<sha256>`` of the chapter's code cells (:func:`chapter_code`): what a record's numbers depend on.
    Prose, captions and headings are not in it, so a wording fix does not make hours of records stale."""
    return CODE_PREFIX + hashlib.sha256(chapter_code(src).encode("utf-8")).hexdigest()


def fingerprint(src: Path, root: Path = ROOT) -> dict[str, str]:
    """``{path: sha}`` of the chapter (relative to ``root``; :func:`chapter_sha`, its code cells) and the sha256 of
    every ``lib/`` module it depends on (relative to the repository)."""
    out = {str(src.relative_to(root)): chapter_sha(src)}
    out.update({str(p.relative_to(ROOT)): _sha(p) for p in lib_dependencies(src)})
    return out


# ------------------------------------------------------------------------------------------------ the record
@dataclasses.dataclass(frozen=True)
class RecordMeta:
    """``run.json`` of a record."""

    chapter: str
    scale: str
    seed: int
    device: str
    device_name: str
    threads: int
    wall_s: float
    peak_rss_mb: float | None
    commit: str | None
    dirty: bool | None
    recorded: str              # UTC date-time
    versions: dict[str, str]
    fingerprint: dict[str, str]
    partial: bool
    problems: list[str]
    cells: list[dict[str, Any]] | None = None   # the cache entries the run used (see :func:`cell_summary`)

    @classmethod
    def load(cls, path: Path) -> RecordMeta:
        doc = json.loads(path.read_text(encoding="utf-8"))
        return cls(**{f.name: doc.get(f.name) for f in dataclasses.fields(cls)})


@dataclasses.dataclass(frozen=True)
class Record:
    """A record as the book reads it: its metadata, claims by id, and whether it is stale (and why)."""

    folder: Path
    meta: RecordMeta
    claims: dict[str, dict[str, Any]]
    stale: list[str]           # files changed since the record was made (empty: current)

    @property
    def is_stale(self) -> bool:
        return bool(self.stale)

    def label(self) -> str:
        """``paper scale · cpu (…) · 2026-12-02 · commit abc123`` (+ ``· partial`` / ``· STALE``)."""
        bits = [f"{self.meta.scale} scale", self.meta.device_name or self.meta.device,
                self.meta.recorded[:10], f"commit {self.meta.commit or 'unknown'}"]
        if self.meta.partial:
            bits.append("partial")
        if self.stale:
            bits.append("stale")
        return " · ".join(bits)

    def figure(self, name: str) -> dict[str, Any] | None:
        """The recorded plotly figure dict ``name``, or None."""
        p = self.folder / "plots" / f"{name}.json.gz"
        return json.loads(gzip.decompress(p.read_bytes())) if p.exists() else None


def staleness(meta: RecordMeta, root: Path = ROOT) -> list[str]:
    """Files whose content differs from the record's fingerprint (or that the chapter now imports anew)."""
    src = root / "book" / f"{meta.chapter}.md"
    if not src.exists():
        return [f"book/{meta.chapter}.md (missing)"]
    now = fingerprint(src, root)
    then = {k: v for k, v in (meta.fingerprint or {}).items() if not _is_machinery(k)}
    key = str(src.relative_to(root))
    if key in then and not then[key].startswith(CODE_PREFIX):     # a record made before chapter_sha: whole file
        now[key] = _sha(src)
    return sorted(k for k in set(now) | set(then) if now.get(k) != then.get(k))


@functools.lru_cache(maxsize=64)
def load_cached(slug: str, scale: str = "paper") -> Record | None:
    """:func:`load` from the default records folder, computed once per process (a chapter asks many times)."""
    return load(slug, scale)


def load(slug: str, scale: str = "paper", folder: Path | None = None, root: Path = ROOT) -> Record | None:
    """The record of chapter ``slug`` at ``scale`` (under ``folder``, default ``records/``), or None."""
    base = (folder or records_dir()) / scale / slug
    if not (base / "run.json").exists() or not (base / "claims.json").exists():
        return None
    meta = RecordMeta.load(base / "run.json")
    doc = json.loads((base / "claims.json").read_text(encoding="utf-8"))
    return Record(folder=base, meta=meta, claims={c["id"]: c for c in doc.get("claims", [])},
                  stale=staleness(meta, root))


# ------------------------------------------------------------------------------------------- carried cells
def restore_cells(record_folder: Path, cache: Path) -> list[str]:
    """Copy a record's ``cells/*.pkl`` into the cache folder ``cache`` where absent; return the names of all the
    record's cells (copied now or already there)."""
    out = []
    for f in sorted((record_folder / "cells").glob("*.pkl")):
        if not (cache / f.name).exists():
            atomic_write_bytes(cache / f.name, f.read_bytes())
        out.append(f.name)
    return out


#: How a record's run met a cell: it computed it, loaded it (from this machine's cache or the previous record), or
#: stopped before reaching a cell carried in from the previous record (kept so that no finished work is lost).
CELL_HOW = ("computed", "loaded", "not reached")


def cell_summary(path: Path, how: str) -> dict[str, Any]:
    """One ``run.json`` row for cache entry ``path``: its file, ``how`` (:data:`CELL_HOW`), when, on which device
    and in how many seconds it was computed, its size and whether it is small enough to carry."""
    import pickle

    if how not in CELL_HOW:
        raise ValueError(f"how={how!r}: accepted values are {', '.join(CELL_HOW)}")
    entry = pickle.loads(path.read_bytes())
    size = path.stat().st_size
    return {"file": path.name, "how": how, "when": entry.get("when"), "device": entry.get("device"),
            "seconds": round(float(entry.get("seconds", 0.0)), 1), "bytes": size, "kept": size <= MAX_CELL_BYTES}


def run_cells(used_list: Path, cache: Path, restored: Iterable[str], *, stopped: bool) -> list[tuple[Path, str]]:
    """The cells a record keeps: the distinct entries named in the run's ``DLT_CACHE_USED`` list (``used_list``),
    in order, as computed or loaded, and, when the run ``stopped`` early, every cell ``restored`` from the previous
    record that the run did not reach. A complete run drops carried cells it did not use (an old key)."""
    seen: dict[Path, str] = {}
    text = used_list.read_text(encoding="utf-8") if used_list.exists() else ""
    before = set(restored)
    for line in text.splitlines():
        how, _, name = line.partition("\t")
        p = Path(name)
        if how in CELL_HOW and p.exists() and p not in seen:
            seen[p] = how
    if stopped:
        for name in sorted(before):
            if (cache / name).exists() and (cache / name) not in seen:
                seen[cache / name] = "not reached"
    return list(seen.items())


# ----------------------------------------------------------------------------------------------- writing
def _thin(fig: dict[str, Any], max_bytes: int = MAX_FIGURE_BYTES) -> bytes:
    """Gzipped JSON of ``fig``; traces with long x/y arrays are decimated (every k-th point) until it fits."""
    blob = gzip.compress(json.dumps(fig, separators=(",", ":")).encode(), mtime=0)
    step = 2
    while len(blob) > max_bytes and step <= 64:
        for tr in fig.get("data", []):
            for key in ("x", "y", "z", "customdata", "text"):
                v = tr.get(key)
                if isinstance(v, list) and len(v) > 200 and not isinstance(v[0], list):
                    tr[key] = v[::2]
        blob = gzip.compress(json.dumps(fig, separators=(",", ":")).encode(), mtime=0)
        step *= 2
    return blob


def write_record(slug: str, *, scale: str, build: Path, figs: Path, run: dict[str, Any], wall_s: float,
                 peak_rss_mb: float | None, folder: Path | None = None, root: Path = ROOT,
                 cells: list[tuple[Path, str]] | None = None, started: dict[str, Any] | None = None) -> Path:
    """Assemble ``records/<scale>/<slug>/`` from a finished run's build and figure folders, atomically.

    ``cells``: the cache entries to keep, each with how the run met it (:func:`run_cells`); those of at most
    :data:`MAX_CELL_BYTES` are copied into ``cells/``. ``started``: the ``fingerprint`` and ``git`` state taken
    when the run began (:func:`record` passes them). The record must describe the code that ran: a chapter or
    library edited during a run of hours would otherwise lend the old numbers a fresh fingerprint."""
    from lib.book.runtime import device_name, git_state, package_versions, resolve_device

    src = root / "book" / f"{slug}.md"
    claims_doc = build / "claims" / f"{slug}.json"
    if not claims_doc.exists():
        raise RuntimeError(f"{slug}: the run wrote no claims ({claims_doc}); nothing to record")
    doc = json.loads(claims_doc.read_text(encoding="utf-8"))
    dev = resolve_device(run.get("device", "auto"))
    git = (started or {}).get("git") or git_state()
    fp = (started or {}).get("fingerprint") or fingerprint(src, root)
    meta = RecordMeta(chapter=slug, scale=scale, seed=int(doc.get("seed", 0)), device=dev.type,
                      device_name=device_name(dev), threads=int(os.environ.get("OMP_NUM_THREADS", "0") or 0),
                      wall_s=round(wall_s, 1), peak_rss_mb=peak_rss_mb, commit=git["commit"], dirty=git["dirty"],
                      recorded=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), versions=package_versions(),
                      fingerprint=fp, partial=bool(run.get("problems")),
                      problems=[re.sub(r" \(log: [^)]*\)", "", p) for p in run.get("problems", [])],
                      cells=[cell_summary(p, how) for p, how in cells or []])
    root = (folder or records_dir()) / scale
    root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=root, prefix=f".{slug}."))
    try:
        atomic_write_json(tmp / "claims.json", doc)
        atomic_write_json(tmp / "run.json", dataclasses.asdict(meta))
        for f in sorted((figs / slug).glob("*.json")):
            if f.name.endswith(".provenance.json"):
                continue
            atomic_write_bytes(tmp / "plots" / f"{f.stem}.json.gz", _thin(json.loads(f.read_text())))
        for p, _ in cells or []:
            if p.stat().st_size <= MAX_CELL_BYTES:
                atomic_write_bytes(tmp / "cells" / p.name, p.read_bytes())
        final = root / slug
        old = root / f".{slug}.old"
        shutil.rmtree(old, ignore_errors=True)
        if final.exists():
            os.replace(final, old)
        os.replace(tmp, final)
        shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final


def record(slug: str, *, scale: str = "paper", device: str = "auto", seed: int = 0, timeout: float | None = None,
           folder: Path | None = None) -> Path:
    """Execute chapter ``slug`` at ``scale`` through the runner in a private build folder, then record it.

    A run that raised is recorded only when it registered claims (then ``partial`` is set and the problems are
    kept); a run with no claims records nothing and raises. To stop a long sitting and keep what it finished,
    send SIGTERM (or Ctrl-C) to this process: the run is recorded as partial, "stopped by the operator".
    """
    from lib.book import runner

    srcs = {s.stem: s for s in runner.chapters()}
    if slug not in srcs:
        raise ValueError(f"slug={slug!r} is not a chapter; accepted values: {', '.join(sorted(srcs))}")
    with tempfile.TemporaryDirectory(prefix=f"dlt-record-{slug}-") as work:
        build, figs = Path(work) / "_build", Path(work) / "figures"
        os.environ["DLT_CACHE_DIR"] = str(cache_root())   # finished sweep cells outlive the private build folder
        from lib.book.cache import cache_dir

        restored = restore_cells((folder or records_dir()) / scale / slug, cache_dir(slug, scale, seed))
        if restored:
            print(f"{slug}: the previous record carries {len(restored)} finished cells; they are in the cache",
                  flush=True)
        used = Path(work) / "cells-used.txt"
        os.environ["DLT_CACHE_USED"] = str(used)
        os.environ["DLT_BUILD_DIR"], os.environ["FIG_DIR"] = str(build), str(figs)
        print(f"{slug} at {scale} scale: progress and cell output in {build / 'logs' / f'{slug}.log'} (tail -f it)",
              flush=True)
        from lib.book.runtime import git_state

        started = {"fingerprint": fingerprint(ROOT / "book" / f"{slug}.md"), "git": git_state()}
        t0 = time.perf_counter()
        run = runner.run_chapter(srcs[slug], scale=scale, seed=seed, device=device, jobs=1,
                                 timeout=timeout or runner.DEFAULT_TIMEOUT_S * 4, budget=None,
                                 out=Path(work) / f"{slug}.ipynb", stoppable=True)
        wall = time.perf_counter() - t0
        changed = sorted(k for k, v in fingerprint(ROOT / "book" / f"{slug}.md").items()
                         if started["fingerprint"].get(k) != v)
        if changed:
            print(f"{slug}: {', '.join(changed)} changed during the run; the record keeps the fingerprint of the code "
                  "that ran, so it will read as stale", flush=True)
        if run["claims"] is None:
            raise RuntimeError(f"{slug} at {scale} scale registered no claims: {run['problems']}; nothing recorded")
        return write_record(slug, scale=scale, build=build, figs=figs, run=run, wall_s=wall,
                            peak_rss_mb=run.get("peak_rss_mb"), folder=folder, started=started,
                            cells=run_cells(used, cache_dir(slug, scale, seed), restored,
                                            stopped=bool(run.get("problems"))))


def main(argv: list[str] | None = None) -> int:
    from lib.book.runtime import DEVICES, SCALES

    ap = argparse.ArgumentParser(prog="python -m lib.book.records", description="record a chapter's run")
    ap.add_argument("slug")
    ap.add_argument("--scale", default="paper", choices=SCALES)
    ap.add_argument("--device", default="auto", choices=DEVICES)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--timeout", type=float, default=None, help="seconds (default: the runner's paper timeout)")
    a = ap.parse_args(argv)
    out = record(a.slug, scale=a.scale, device=a.device, seed=a.seed, timeout=a.timeout)
    meta = RecordMeta.load(out / "run.json")
    print(f"recorded {out.relative_to(ROOT)}: {meta.wall_s:.0f} s on {meta.device_name}, peak {meta.peak_rss_mb} MB, "
          f"partial={meta.partial}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
