"""Check the built book: every _toc.yml page has HTML; executed pages show plotly figures that render.

Headless Chromium loads each executed page from disk with the network off and dumps the DOM after
scripts ran: a rendered plotly figure has an ``svg.main-svg`` and a modebar; typeset math has
``mjx-container`` elements. Exits non-zero naming every page that fails.
"""
from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from lib.book.runner import chapters, is_report, toc_files  # noqa: E402

HTML = ROOT / "_build" / "html"


def dump_dom(page: Path) -> str:
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    with tempfile.TemporaryDirectory() as prof:
        cmd = [exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync",
               f"--user-data-dir={prof}", "--virtual-time-budget=15000", "--dump-dom", page.as_uri()]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=120).stdout


def main() -> int:
    bad = []
    for f in toc_files():
        page = HTML / f"{f}.html"
        if not page.exists() or page.stat().st_size == 0:
            bad.append(f"{f}: no HTML page")
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    for src in chapters():
        rel = src.relative_to(ROOT).with_suffix("")
        page = HTML / f"{rel}.html"
        if not page.exists():
            continue
        text = page.read_text(encoding="utf-8")
        if "This chapter was not executed in this build" in text:
            bad.append(f"{rel}: not executed")
            continue
        needs_fig = src.stem != "performance"
        if needs_fig and "Plotly.newPlot" not in text:
            bad.append(f"{rel}: no plotly figure in the HTML")
            continue
        if browser is None:
            print(f"{rel}: HTML ok (no Chromium: rendering not checked)")
            continue
        dom = dump_dom(page)
        figs = dom.count('class="main-svg"')
        math = dom.count("<mjx-container")
        modebar = "modebar" in dom
        print(f"{rel}: {figs} rendered plotly svg layers, modebar={modebar}, {math} typeset formulas")
        if needs_fig and (figs == 0 or not modebar):
            bad.append(f"{rel}: plotly figures did not render")
        if not is_report(src) and math == 0:
            bad.append(f"{rel}: no typeset math")
    for b in bad:
        print("FAIL", b)
    print(f"site: {len(bad)} problem(s)")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
