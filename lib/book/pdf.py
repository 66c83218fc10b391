"""``make pdf``: the built book as one PDF, offline, in reading order, with a clickable outline.

Headless Chromium (Debian's ``chromium``, the browser of the site check) prints every page of ``_build/html`` in
``_toc.yml`` order, after giving MathJax and plotly time to typeset and draw (``--virtual-time-budget``); the
print style sheet (``book/_static/book.css``) hides the navigation. :mod:`pypdf` merges the pages and adds one
outline entry per page. Progress is shown per page; the PDF is written atomically to ``_build/pdf/book.pdf``.

    python -m lib.book.pdf [--html _build/html] [--out _build/pdf/book.pdf]
"""
from __future__ import annotations

import argparse
import html as _html
import re
import subprocess
import sys
import tempfile
from pathlib import Path

from lib.book.files import atomic_write_bytes, build_dir

#: Milliseconds of virtual time Chromium lets scripts run before printing (MathJax + plotly need ~1-3 s).
VIRTUAL_TIME_MS = 20_000


def chromium() -> str:
    """Path of a headless-capable Chromium; RuntimeError naming the remedy when there is none."""
    from lib.book.figures import chromium_path

    exe = chromium_path()
    if exe is None:
        raise RuntimeError("no Chromium to print the book with: apt-get install chromium fonts-liberation (Debian)")
    return exe


def print_page(html: Path, pdf: Path, *, timeout: float = 180) -> Path:
    """Print one HTML page to ``pdf`` with headless Chromium (scripts run first); return ``pdf``."""
    if not html.exists():
        raise FileNotFoundError(f"{html} does not exist: build the book first (make book or make html)")
    cmd = [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--no-pdf-header-footer",
           "--run-all-compositor-stages-before-draw", f"--virtual-time-budget={VIRTUAL_TIME_MS}",
           f"--print-to-pdf={pdf}", html.resolve().as_uri()]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if res.returncode != 0 or not pdf.exists() or pdf.stat().st_size == 0:
        raise RuntimeError(f"Chromium could not print {html}: {res.stderr.strip()[-300:]}")
    return pdf


def page_title(html: Path) -> str:
    """The page's ``<title>`` without the book's suffix."""
    m = re.search(r"<title>(.*?)</title>", html.read_text(encoding="utf-8", errors="replace"), re.S)
    title = _html.unescape(m.group(1)).strip() if m else html.stem
    return re.sub(r"\s+[—–-]\s+Deep Learning Theory, Executed$", "", title)


def merge(parts: list[tuple[str, Path]], out: Path) -> Path:
    """Concatenate ``(title, pdf)`` parts into ``out`` with one outline entry per part (atomic write)."""
    import io

    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter()
    for title, path in parts:
        start = len(writer.pages)
        for page in PdfReader(path).pages:
            writer.add_page(page)
        writer.add_outline_item(title=title, page_number=start)
    buf = io.BytesIO()
    writer.write(buf)
    return atomic_write_bytes(out, buf.getvalue())


def build_pdf(html_root: Path | None = None, out: Path | None = None) -> Path:
    """Print every TOC page of the built HTML and merge them into one PDF; return its path."""
    from tqdm import tqdm

    from lib.book.runner import toc_files

    html_root = html_root or build_dir() / "html"
    out = out or build_dir() / "pdf" / "book.pdf"
    pages = [html_root / f"{f}.html" for f in toc_files()]
    missing = [p for p in pages if not p.exists()]
    if missing:
        raise FileNotFoundError(f"{len(missing)} pages are not built (e.g. {missing[0]}): run `make book` first")
    with tempfile.TemporaryDirectory(prefix="dlt-pdf-") as tmp:
        parts = []
        for i, page in enumerate(tqdm(pages, desc="pdf", unit="page", file=sys.stdout)):
            parts.append((page_title(page), print_page(page, Path(tmp) / f"{i:03d}.pdf")))
        return merge(parts, out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m lib.book.pdf", description=__doc__.split("\n")[0])
    ap.add_argument("--html", type=Path, default=None, help="the built HTML (default _build/html)")
    ap.add_argument("--out", type=Path, default=None, help="the PDF (default _build/pdf/book.pdf)")
    a = ap.parse_args(argv)
    path = build_pdf(a.html, a.out)
    from pypdf import PdfReader

    n = len(PdfReader(path).pages)
    print(f"PDF: {path} ({n} pages, {path.stat().st_size / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
