"""Execute the book: every chapter with papermill, in parallel, within budgets; then the HTML.

Usage (the Makefile calls this)::

    python -m lib.book.runner                       # all chapters at quick scale, status page, HTML
    python -m lib.book.runner --scale paper --device cuda
    python -m lib.book.runner --only sample_complexity [--html]
    python -m lib.book.runner --html-only

Chapters are the ``_toc.yml`` entries whose source ``book/<slug>.md`` is a jupytext notebook (it has a
``kernelspec``). Each runs in its own process (``-j`` at a time, one BLAS thread each when ``-j`` > 1)
with papermill on ``jupytext.read(source)`` and the parameters ``scale``, ``seed``, ``device``; the
executed notebook is written to ``book/<slug>.ipynb`` (gitignored), a run record to
``_build/runs/<slug>.json``. A chapter fails when a cell raises (the summary names the cell and the
exception), when it runs past its timeout, when it exceeds its time budget at quick scale, or when a
claim's verdict differs from the one it declared for quick scale. A failing chapter does not stop the
others; the exit code is non-zero when any failed. ``status`` runs last, after every other chapter.
"""
from __future__ import annotations

import argparse
import contextlib
import dataclasses
import fcntl
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path
from typing import Any

from lib.book.files import ROOT, atomic_write_bytes, atomic_write_json, atomic_write_text, build_dir  # noqa: E402

BOOK = ROOT / "book"
QUICK_BUDGET_S = 90.0
DEFAULT_TIMEOUT_S = 1800.0
CELL_TIMEOUT_S = 1200  # per cell at quick scale; paper scale has only the chapter timeout (env DLT_CELL_TIMEOUT)


def is_notebook_source(path: Path) -> bool:
    """True when ``path`` is a jupytext MyST notebook (front matter with a kernelspec)."""
    if path.suffix != ".md" or not path.exists():
        return False
    head = path.read_text(encoding="utf-8")[:2000]
    return head.startswith("---") and "kernelspec:" in head.split("\n---", 1)[0]


def page_meta(src: Path) -> dict[str, Any]:
    """The ``dlt:`` block of a page's front matter: ``role`` (``chapter``, the default, registers claims;
    ``report`` reports on the book and registers none) and ``runs`` (``last``: after every other page)."""
    import yaml

    text = src.read_text(encoding="utf-8") if src.exists() else ""
    if not text.startswith("---"):
        return {"role": "chapter", "runs": "any"}
    front = yaml.safe_load(text[3:].split("\n---", 1)[0]) or {}
    meta = {"role": "chapter", "runs": "any", **(front.get("dlt") or {})}
    if meta["role"] not in ("chapter", "report") or meta["runs"] not in ("any", "last"):
        raise ValueError(f"{src}: dlt.role must be chapter|report and dlt.runs any|last, got {meta}")
    return meta


def is_report(src: Path) -> bool:
    """True for pages that report on the book (status, performance): they register no claims."""
    return page_meta(src)["role"] == "report"


def toc_files(toc: Path = ROOT / "_toc.yml") -> list[str]:
    """The ``file:`` entries of ``_toc.yml`` in reading order (``root`` first)."""
    import yaml

    doc = yaml.safe_load(toc.read_text(encoding="utf-8"))
    out = [doc["root"]]

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if "file" in node:
                out.append(node["file"])
            for key in ("chapters", "parts", "sections"):
                for child in node.get(key, []) or []:
                    walk(child)
        elif isinstance(node, list):
            for child in node:
                walk(child)

    walk({k: v for k, v in doc.items() if k in ("chapters", "parts")})
    return out


def chapters(toc: Path = ROOT / "_toc.yml") -> list[Path]:
    """Sources of the executable pages listed in the TOC, in order, ``status`` last."""
    srcs = [ROOT / f"{f}.md" for f in toc_files(toc)]
    srcs = [s for s in srcs if is_notebook_source(s)]
    return sorted(srcs, key=lambda s: page_meta(s)["runs"] == "last")  # stable: pages that run last move to the end


# --------------------------------------------------------------------------- one chapter (child process)

def execute_one(src: Path, params: dict[str, Any], out: Path) -> dict[str, Any]:
    """Execute ``src`` with papermill into ``out``; return ``{"error": None | str, "cell": int | None}``."""
    import jupytext
    import nbformat
    import papermill as pm

    nb = jupytext.read(src)
    err: dict[str, Any] = {"error": None, "cell": None}
    env_timeout = os.environ.get("DLT_CELL_TIMEOUT", "")
    cell_timeout = (int(env_timeout) if env_timeout.isdigit()
                    else None if params.get("scale") == "paper" else CELL_TIMEOUT_S)
    try:
        long_run = params.get("scale") == "paper"   # paper scale: a progress bar and the cells' output in the log
        if long_run:
            import logging
            logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
        pm.execute_notebook(nb, str(out), parameters=params, cwd=str(src.parent), kernel_name="python3",
                            progress_bar=long_run, log_output=long_run, execution_timeout=cell_timeout,
                            start_timeout=180)  # a loaded machine can take > 60 s to start a kernel
    except pm.PapermillExecutionError as e:  # papermill still writes the failing notebook
        err = {"error": f"{e.ename}: {e.evalue}".strip()[:500], "cell": None}
    except Exception as e:  # a cell timeout or a dead kernel: report it, never crash the runner
        err = {"error": f"{type(e).__name__}: {str(e).strip().splitlines()[0] if str(e).strip() else ''}"[:500],
               "cell": None}
    if not out.exists():
        return err
    done = nbformat.read(out, as_version=4)
    if err["error"]:  # name the failing cell by its position among the source's code cells
        code = [c for c in done.cells if c.cell_type == "code"
                and "injected-parameters" not in c.metadata.get("tags", [])]
        for i, c in enumerate(code, 1):
            ex = c.metadata.get("execution", {})
            unfinished = "iopub.execute_input" in ex and "shell.execute_reply" not in ex   # timed out / died
            if unfinished or any(o.get("output_type") == "error" for o in c.get("outputs", [])):
                first = next((ln for ln in c.source.splitlines() if ln.strip()), "")[:60]
                err["cell"] = f"code cell {i} of {len(code)}: {first}"
                break
    for c in done.cells:
        if c.cell_type == "code":
            c.metadata["tags"] = reader_tags(c.source, c.metadata.get("tags", []))
    atomic_write_text(out, nbformat.writes(done))
    return err


#: A code cell longer than this many non-blank lines is folded in the book (input behind a "show code" toggle).
FOLD_LINES = 12
_VIEW_TAGS = frozenset({"hide-input", "remove-input", "remove-cell", "hide-cell", "show-input"})


def reader_tags(source: str, tags: list[str]) -> list[str]:
    """The reader view of a code cell: the parameter cells are removed; a cell that sets up (imports), registers
    claims or is longer than :data:`FOLD_LINES` lines gets ``hide-input`` (its output stays, its code is one click
    away); a cell tagged ``show-input`` (or with its own view tag) is left as its author set it."""
    tags = list(tags)
    if "injected-parameters" in tags or "parameters" in tags:
        return tags if "remove-cell" in tags else [*tags, "remove-cell"]
    if _VIEW_TAGS & set(tags):
        return tags
    lines = [ln for ln in source.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    setup = bool(lines) and all(ln.startswith(("import ", "from ")) or "start_chapter(" in ln
                                or "Register(" in ln for ln in lines[: max(1, len(lines) // 2)])
    if len(lines) > FOLD_LINES or "reg.claim(" in source or setup:
        return [*tags, "hide-input"]
    return tags


def tree_peak_rss_mb(root_pid: int) -> float | None:
    """The largest peak resident set (``VmHWM``, MB) among ``root_pid`` and its live descendants — the kernel's peak
    when a timed-out run is about to be killed (``RUSAGE_CHILDREN`` only counts waited-for children, and the kernel
    runs in a session of its own). None where ``/proc`` is unavailable or the process is gone."""
    parent, peak = {}, {}
    for status in Path("/proc").glob("[0-9]*/status"):
        with contextlib.suppress(OSError, ValueError):
            fields = dict(ln.split(":", 1) for ln in status.read_text().splitlines() if ":" in ln)
            pid = int(status.parent.name)
            parent[pid] = int(fields["PPid"])
            if "VmHWM" in fields:
                peak[pid] = int(fields["VmHWM"].split()[0]) / 1024
    tree, frontier = set(), {root_pid} & set(parent)
    while frontier:
        tree |= frontier
        frontier = {pid for pid, pp in parent.items() if pp in frontier} - tree
    peaks = [peak[pid] for pid in tree if pid in peak]
    return round(max(peaks), 1) if peaks else None


def _child_main(argv: list[str]) -> int:
    src, params = Path(argv[0]), json.loads(argv[1])
    res = execute_one(src, params, Path(argv[2]) if len(argv) > 2 else src.with_suffix(".ipynb"))
    import resource  # the kernel is this process's child: its peak resident memory, in MB (Linux: KiB units)
    res["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1)
    print("RESULT " + json.dumps(res))
    return 0


# --------------------------------------------------------------------------- orchestration

def claims_summary(slug: str, scale: str) -> dict[str, Any]:
    """Counts by verdict and quick-scale mismatches from ``_build/claims/<slug>.json`` (None if absent)."""
    p = build_dir() / "claims" / f"{slug}.json"
    if not p.exists():
        return {"counts": None, "mismatches": []}
    doc = json.loads(p.read_text(encoding="utf-8"))
    from lib.book.claims import is_mismatch
    mism = [f"{c['id']}: {c['verdict']} (expected {c['expected_quick']})" for c in doc["claims"]
            if is_mismatch(c["verdict"], c["expected_quick"], scale, c.get("unavailable", ""))]
    return {"counts": doc["counts"], "mismatches": mism}


@dataclasses.dataclass(frozen=True)
class RunRecord:
    """``_build/runs/<chapter>.json``: how one chapter's execution went (written by the runner, read by the status
    page). ``claims`` holds the counts by verdict (None when the chapter registered none)."""

    chapter: str
    scale: str
    seed: int
    device: str
    wall_s: float
    budget_s: float | None
    status: str                      # "ok" | "fail"
    problems: list[str]
    claims: dict[str, int] | None
    finished: str                    # UTC date-time
    peak_rss_mb: float | None = None
    threads: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def save(self) -> Path:
        return atomic_write_json(build_dir() / "runs" / f"{self.chapter}.json", self.as_dict())

    @classmethod
    def load(cls, slug: str) -> RunRecord | None:
        """The record of the chapter's last run in this build folder, or None."""
        p = build_dir() / "runs" / f"{slug}.json"
        if not p.exists():
            return None
        doc = json.loads(p.read_text(encoding="utf-8"))
        return cls(**{f.name: doc.get(f.name) for f in dataclasses.fields(cls)})


class _Stopped(Exception):
    """SIGTERM or SIGINT reached a stoppable run (see ``run_chapter``)."""


def _raise_stopped(signum: int, frame: Any) -> None:
    raise _Stopped(signal.Signals(signum).name)


def run_chapter(src: Path, *, scale: str, seed: int, device: str, jobs: int, timeout: float,
                budget: float | None, out: Path | None = None, stoppable: bool = False) -> dict[str, Any]:
    """Run one chapter in a child process and return (and write) its run record.

    With ``stoppable`` (the records tool), SIGTERM or SIGINT sent to this process stops the chapter like its
    timeout does: the kernel is killed and the run is reported as "stopped by the operator", so that what it
    finished can still be recorded. Without it, the signals keep their usual meaning.
    """
    slug = src.stem
    out = out or src.with_suffix(".ipynb")   # the executed notebook (a record executes elsewhere)
    for stale in (build_dir() / "claims" / f"{slug}.json", build_dir() / "data" / f"{slug}.json", out):
        stale.unlink(missing_ok=True)
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")
    if jobs > 1:
        env["OMP_NUM_THREADS"] = env["MKL_NUM_THREADS"] = "1"
    params = {"scale": scale, "seed": seed, "device": device}
    t0 = time.perf_counter()
    # The child runs in its own session, so that a timeout stops the kernel too (the kernel is a grandchild).
    # Its stderr (papermill's cell progress and, at paper scale, every cell's output) goes to a log: tail -f it.
    log = build_dir() / "logs" / f"{slug}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    stopped = None                                            # why the run was cut short, if it was
    handlers = {s: signal.signal(s, _raise_stopped) for s in (signal.SIGTERM, signal.SIGINT)} if stoppable else {}
    with open(log, "w", encoding="utf-8") as log_fh:
        proc = subprocess.Popen([sys.executable, "-m", "lib.book.runner", "_exec", str(src), json.dumps(params),
                                 str(out)], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=log_fh, text=True,
                                start_new_session=True)
        try:
            stdout, _ = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            stopped = f"timed out after {timeout:.0f} s"
        except _Stopped as e:
            stopped = f"stopped by the operator ({e}) after {time.perf_counter() - t0:.0f} s"
        finally:
            for s, h in handlers.items():
                signal.signal(s, h)
        if stopped:
            killed_peak_mb = tree_peak_rss_mb(proc.pid)      # read before the kill: rusage never sees it
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            stdout, _ = proc.communicate()
    wall = time.perf_counter() - t0
    line = next((ln for ln in reversed(stdout.splitlines()) if ln.startswith("RESULT ")), None)
    if stopped:
        res = {"error": f"{stopped} (log: {log})", "cell": None, "peak_rss_mb": killed_peak_mb}
    elif line is None:
        tail = log.read_text(encoding="utf-8", errors="replace").strip()[-400:]
        res = {"error": f"runner crashed (exit {proc.returncode}): {tail}", "cell": None}
    else:
        res = json.loads(line[len("RESULT "):])
    cs = claims_summary(slug, scale)
    problems = []
    if res["error"]:
        where = f" ({res['cell']})" if res["cell"] is not None else ""
        problems.append(f"{res['error']}{where}")
    if budget is not None and wall > budget:
        problems.append(f"over budget: {wall:.1f} s > {budget:.0f} s")
    if cs["mismatches"]:
        problems.append("verdict mismatch: " + "; ".join(cs["mismatches"]))
    if not is_report(src) and cs["counts"] is None and not res["error"]:
        problems.append("no claims registered (reg.show() / reg.save() never ran)")
    rec = RunRecord(chapter=slug, scale=scale, seed=seed, device=device, wall_s=round(wall, 1), budget_s=budget,
                    status="fail" if problems else "ok", problems=problems, claims=cs["counts"],
                    finished=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), peak_rss_mb=res.get("peak_rss_mb"),
                    threads=int(env.get("OMP_NUM_THREADS", "0") or 0) or None)
    rec.save()
    return rec.as_dict()


def run_all(srcs: list[Path], *, scale: str, seed: int, device: str, jobs: int, timeout: float,
            budget: float | None) -> list[dict[str, Any]]:
    """Run chapters ``jobs`` at a time (``status`` after all others) with a progress bar."""
    from tqdm import tqdm

    last = [s for s in srcs if page_meta(s)["runs"] == "last"]
    main = [s for s in srcs if s not in last]
    kw = dict(scale=scale, seed=seed, device=device, jobs=jobs, timeout=timeout, budget=budget)
    records: list[dict[str, Any]] = []
    with tqdm(total=len(srcs), desc="chapters", unit="ch", file=sys.stdout, dynamic_ncols=True) as bar:
        with ThreadPoolExecutor(max(1, jobs)) as ex:
            futs = {ex.submit(run_chapter, s, **kw): s for s in main}
            for f in as_completed(futs):
                rec = f.result()
                records.append(rec)
                bar.set_postfix_str(f"{rec['chapter']} {rec['status']} {rec['wall_s']}s")
                bar.update()
        for s in last:
            rec = run_chapter(s, **{**kw, "jobs": 1})
            records.append(rec)
            bar.update()
    order = {s.stem: i for i, s in enumerate(srcs)}
    return sorted(records, key=lambda r: order[r["chapter"]])


def summary_table(records: list[dict[str, Any]]) -> str:
    """The end-of-run table: chapter, status, wall time, claims by verdict, problems."""
    from lib.book.claims import VERDICTS

    short = {"reproduced": "repr", "not reproduced": "not", "paper error": "err", "deviation": "dev",
             "not checkable at this scale": "n/c"}
    head = f"{'chapter':28} {'status':6} {'wall':>7}  " + " ".join(f"{short[v]:>4}" for v in VERDICTS)
    lines = [head, "-" * len(head)]
    for r in records:
        counts = r["claims"] or {}
        cells = " ".join(f"{counts.get(v, 0) if r['claims'] else '-':>4}" for v in VERDICTS)
        lines.append(f"{r['chapter']:28} {r['status']:6} {r['wall_s']:6.1f}s  {cells}")
        for p in r["problems"]:
            lines.append(f"    ! {p}")
    return "\n".join(lines)


# --------------------------------------------------------------------------- HTML

@contextlib.contextmanager
def _lock(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def prepare_static() -> None:
    """Copy plotly.min.js into ``book/_static`` (it must match the installed plotly); check MathJax."""
    from lib.book.figures import plotly_js_path

    static = BOOK / "_static"
    static.mkdir(parents=True, exist_ok=True)
    src = plotly_js_path()
    dst = static / "plotly.min.js"
    if not dst.exists() or dst.stat().st_size != src.stat().st_size:
        shutil.copyfile(src, dst)
    if not (static / "mathjax" / "tex-chtml.js").exists():
        raise RuntimeError("book/_static/mathjax/tex-chtml.js is missing: run `make static` "
                           "(it installs mathjax@3 from the npm registry and copies it into book/_static)")


def write_placeholder(src: Path, *, missing: bool = False) -> None:
    """A notebook that says plainly that ``src`` was not executed in this build (never stale output), or, with
    ``missing``, that the chapter's source does not exist yet."""
    import nbformat

    why = ("The source of this chapter has not been written yet." if missing else
           f"This chapter was not executed in this build. Run `make chapter NAME={src.stem}` or `make book`.")
    # keep the page's cross-reference target so that links to it still resolve: its first "(label)=" line
    text = src.read_text(encoding="utf-8") if src.exists() else ""
    label = next((ln.strip()[1:-2] for ln in text.splitlines() if ln.startswith("(") and ln.strip().endswith(")=")),
                 f"ch-{src.stem}")
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell(
        f"({label})=\n# {src.stem.replace('_', ' ').capitalize()}\n\n```{{warning}}\n{why}\n```\n")]
    atomic_write_text(src.with_suffix(".ipynb"), nbformat.writes(nb))


def build_html() -> int:
    """``jupyter-book build`` (warnings are errors) from the executed notebooks; returns its exit code."""
    prepare_static()
    for src in chapters():
        if not src.with_suffix(".ipynb").exists():
            write_placeholder(src)
    for f in toc_files():  # a TOC entry whose source is not written yet still gets a page that says so
        src = ROOT / f"{f}.md"
        if not src.exists() and not src.with_suffix(".ipynb").exists():
            write_placeholder(src, missing=True)
    jb = Path(sys.executable).parent / "jupyter-book"
    cmd = [str(jb) if jb.exists() else "jupyter-book", "build", str(ROOT), "-W", "-n", "--keep-going"]
    with _lock(build_dir() / ".html.lock"):
        proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    if proc.returncode != 0:
        print(proc.stdout[-6000:])
        print(proc.stderr[-4000:], file=sys.stderr)
    else:
        n = publish_figure_data(build_dir() / "html" / "_figures")
        print(f"HTML: {build_dir() / 'html' / 'index.html'} ({n} figure data files linked from the captions)")
    return proc.returncode


def publish_figure_data(dest: Path) -> int:
    """Copy every saved figure's JSON and provenance sidecar next to the HTML (the captions link to them)."""
    from lib.book.files import figures_dir

    n = 0
    for f in sorted(figures_dir().glob("*/*.json")):
        target = dest / f.parent.name / f.name
        if not target.exists() or target.stat().st_mtime < f.stat().st_mtime:
            atomic_write_bytes(target, f.read_bytes())
        n += 1
    return n


# --------------------------------------------------------------------------- CLI

def main(argv: list[str] | None = None) -> int:
    from lib.book.runtime import DEVICES, SCALES

    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "_exec":
        return _child_main(argv[1:])
    ap = argparse.ArgumentParser(prog="python -m lib.book.runner", description=__doc__.split("\n")[0])
    ap.add_argument("--scale", default="quick", choices=SCALES)
    ap.add_argument("--device", default="auto", choices=DEVICES)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("-j", "--jobs", type=int, default=2)
    ap.add_argument("--only", nargs="+", metavar="SLUG", help="run only these chapters")
    ap.add_argument("--html", dest="html", action="store_true", default=None, help="build the HTML")
    ap.add_argument("--no-html", dest="html", action="store_false")
    ap.add_argument("--html-only", action="store_true", help="build the HTML from existing notebooks")
    ap.add_argument("--budget", type=float, default=None,
                    help=f"per-chapter budget in s (default {QUICK_BUDGET_S:.0f} at quick scale, none at paper)")
    ap.add_argument("--timeout", type=float, default=None, help="per-chapter timeout in s")
    ap.add_argument("--toc", type=Path, default=ROOT / "_toc.yml", help="table of contents to read chapters from")
    a = ap.parse_args(argv)
    if a.jobs < 1:
        ap.error(f"-j/--jobs={a.jobs}: accepted values are integers >= 1")
    if a.html_only:
        return build_html()
    if not a.toc.exists():
        ap.error(f"--toc {a.toc}: no such file")
    srcs = chapters(a.toc)
    if a.only:
        known = {s.stem: s for s in srcs}
        unknown = [n for n in a.only if n not in known]
        if unknown:
            ap.error(f"--only {' '.join(unknown)}: not a chapter in _toc.yml; accepted values: {', '.join(known)}")
        srcs = [known[n] for n in a.only]
    budget = a.budget if a.budget is not None else (QUICK_BUDGET_S if a.scale == "quick" else None)
    timeout = a.timeout if a.timeout is not None else (max(3 * QUICK_BUDGET_S, 300.0) if a.scale == "quick"
                                                       else DEFAULT_TIMEOUT_S * 4)
    t0 = time.perf_counter()
    records = run_all(srcs, scale=a.scale, seed=a.seed, device=a.device, jobs=a.jobs, timeout=timeout,
                      budget=budget)
    print()
    print(summary_table(records))
    failed = sum(r["status"] != "ok" for r in records)
    print(f"chapters: {time.perf_counter() - t0:.1f} s wall, {a.jobs} job(s), scale {a.scale}")
    rc = 1 if failed else 0
    html = a.html if a.html is not None else not a.only
    if html:
        t1 = time.perf_counter()
        hrc = build_html()
        print(f"html: {'ok' if hrc == 0 else 'FAILED'} in {time.perf_counter() - t1:.1f} s")
        rc = rc or (1 if hrc else 0)
    print(f"chapters: {len(records) - failed} passed, {failed} failed")
    return rc


if __name__ == "__main__":
    sys.exit(main())
