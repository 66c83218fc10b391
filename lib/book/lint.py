"""Lint the chapters' code cells: each ``book/*.md`` notebook source is converted by jupytext to a percent
script under ``.cache/lint/`` and checked with ruff (the repository's configuration; E402 is allowed since the
``parameters`` cell comes before the imports, and each cell may import where it is needed; E501 is not enforced
in chapter cells, whose long lines are prose strings — captions, claim statements and notes).

``python -m lib.book.lint`` (``make lint``) exits non-zero on any finding; ``tests/test_lint.py`` runs it.
"""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from lib.book.files import ROOT, atomic_write_text

LINT_DIR = ROOT / ".cache" / "lint"
#: Rules that do not fit notebook code: imports below the parameters cell (E402), and the line length (E501):
#: chapter cells carry captions, claim statements and notes as prose strings, and the book shows code folded.
NOTEBOOK_IGNORES = ("E402", "E501")


def extract(sources: list[Path] | None = None, out: Path = LINT_DIR) -> list[Path]:
    """Write every chapter's code cells as ``<out>/<slug>.py`` (jupytext percent format); return the paths."""
    import jupytext

    from lib.book.runner import is_notebook_source

    srcs = sources if sources is not None else sorted((ROOT / "book").glob("*.md"))
    paths = []
    for src in srcs:
        if not is_notebook_source(src):
            continue
        nb = jupytext.read(src)
        nb.cells = [c for c in nb.cells if c.cell_type == "code"]
        paths.append(atomic_write_text(out / f"{src.stem}.py", jupytext.writes(nb, fmt="py:percent")))
    return paths


def ruff(paths: list[Path], *, ignore: tuple[str, ...] = NOTEBOOK_IGNORES) -> subprocess.CompletedProcess[str]:
    """``ruff check`` on ``paths`` with the repository's configuration (plus ``ignore``)."""
    exe = shutil.which("ruff", path=str(Path(sys.executable).parent)) or "ruff"
    cmd = [exe, "check", "--config", str(ROOT / "pyproject.toml"), "--no-cache", "--output-format", "concise",
           *(["--extend-ignore", ",".join(ignore)] if ignore else []), *map(str, paths)]
    return subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)


def main(argv: list[str] | None = None) -> int:
    paths = extract()
    res = ruff(paths)
    print(res.stdout.replace(str(LINT_DIR) + "/", "book/<code of> ").rstrip() or "chapters: no lint findings")
    return res.returncode


if __name__ == "__main__":
    sys.exit(main())
