"""Where the book's files live, and the one way they are written (atomically).

Every generated artefact — claims and run JSON, figures, records, data, benchmark results — goes through
:func:`atomic_write_bytes` / :func:`atomic_write_text` / :func:`atomic_write_json`: a temporary file in the
destination folder, ``fsync``, then ``os.replace``. A crash or a kill leaves either the old file or the new
one, never half of one.

Folders (each overridable by an environment variable, for tests and for re-execution elsewhere):

| constant / function | default | env |
| --- | --- | --- |
| :data:`ROOT` | the repository | — |
| :func:`build_dir` | ``<ROOT>/_build`` | ``DLT_BUILD_DIR`` |
| :func:`cache_root` | ``<build>/cache`` | ``DLT_CACHE_DIR`` |
| :func:`figures_dir` | ``<ROOT>/figures`` | ``FIG_DIR`` |
| :func:`records_dir` | ``<ROOT>/records`` | ``DLT_RECORDS_DIR`` |
"""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

_UMASK = os.umask(0)
os.umask(_UMASK)

#: The repository root (``lib/book/files.py`` → two levels up).
ROOT: Path = Path(__file__).resolve().parents[2]


def build_dir() -> Path:
    """``_build/`` (or env ``DLT_BUILD_DIR``): executed claims, run records, HTML."""
    return Path(os.environ.get("DLT_BUILD_DIR", ROOT / "_build"))


def cache_root() -> Path:
    """``_build/cache/`` (or env ``DLT_CACHE_DIR``): resumable sweep cells (:mod:`lib.book.cache`). A record runs in
    a private build folder but keeps this one, so that its finished cells outlive the run."""
    return Path(os.environ.get("DLT_CACHE_DIR", build_dir() / "cache"))


def figures_dir() -> Path:
    """``figures/`` (or env ``FIG_DIR``): every published figure as JSON + HTML + provenance."""
    return Path(os.environ.get("FIG_DIR", ROOT / "figures"))


def records_dir() -> Path:
    """``records/`` (or env ``DLT_RECORDS_DIR``): committed paper-scale runs."""
    return Path(os.environ.get("DLT_RECORDS_DIR", ROOT / "records"))


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``path`` through a temp file in the same folder, fsync, ``os.replace``; return ``path``."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=p.parent, prefix=f".{p.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o666 & ~_UMASK)   # mkstemp makes 0600; give the file the mode open() would

        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, p)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return p


def atomic_write_text(path: str | os.PathLike[str], text: str) -> Path:
    """UTF-8 text through :func:`atomic_write_bytes`."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | os.PathLike[str], doc: Any) -> Path:
    """Deterministic JSON (sorted keys, indent 1, UTF-8, trailing newline) through :func:`atomic_write_bytes`."""
    return atomic_write_text(path, json.dumps(doc, indent=1, sort_keys=True, ensure_ascii=False) + "\n")
