"""Figures: the house plotly template, the book renderer, and saving with provenance.

Chapters draw every figure with plotly and hand it to :func:`publish`, which

1. applies the house template (``"dlt"``),
2. saves it as ``figures/<chapter>/<name>.json`` + a standalone ``.html`` + a ``.provenance.json``
   sidecar (chapter, scale, seed, device, versions, commit, wall time), each written atomically,
3. displays it through the ``book`` renderer (light HTML: no embedded plotly.js, no CDN; the book
   serves ``_static/plotly.min.js`` once) followed by its caption and provenance stamp.

PNG/SVG copies are made in one batch after a run by ``python -m lib.book.figures export`` (kaleido +
Debian's chromium), so no chapter pays a browser start-up inside its time budget.
"""
from __future__ import annotations

import json
import os
import shutil
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import plotly.graph_objects as go
import plotly.io as pio
from plotly.io.base_renderers import MimetypeRenderer

if TYPE_CHECKING:
    from lib.book.runtime import Chapter
    from lib.grid import Grid

from lib.book.files import atomic_write_bytes, atomic_write_text, figures_dir  # noqa: E402

FIG_DIR = figures_dir()
#: Where the book's pages find each figure's saved JSON and provenance (relative to a page under book/).
HTML_FIGURES = "../_figures"

#: Colours of the house style (colour-blind safe, Okabe–Ito order).
PALETTE = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000"]


def _house_template() -> go.layout.Template:
    t = go.layout.Template(pio.templates["plotly_white"])
    t.layout.colorway = PALETTE
    t.layout.font = dict(family="Liberation Sans, Helvetica, Arial, sans-serif", size=13, color="#222")
    t.layout.title = dict(font=dict(size=15), x=0.0, xanchor="left")
    t.layout.margin = dict(l=60, r=20, t=50, b=50)
    t.layout.legend = dict(bgcolor="rgba(255,255,255,0.7)")
    t.layout.hovermode = "closest"
    for ax in ("xaxis", "yaxis"):
        t.layout[ax].update(showline=True, linecolor="#444", mirror=True, ticks="outside", zeroline=False)
    return t


pio.templates["dlt"] = _house_template()
pio.templates.default = "dlt"


class BookRenderer(MimetypeRenderer):
    """Emit ``text/html`` that neither embeds plotly.js nor loads plotly/MathJax from a CDN."""

    def to_mimebundle(self, fig_dict: dict) -> dict[str, str]:
        html = pio.to_html(fig_dict, include_plotlyjs=False, include_mathjax=False, full_html=False,
                           default_width="100%", default_height=460, validate=False)
        return {"text/html": html}


pio.renderers["book"] = BookRenderer()
pio.renderers.default = os.environ.get("PLOTLY_RENDERER", "book")


def plotly_js_path() -> Path:
    """The ``plotly.min.js`` shipped with the installed plotly (the book and standalone HTML serve it)."""
    return Path(pio.__file__).resolve().parent.parent / "package_data" / "plotly.min.js"


def save_figure(fig: go.Figure, name: str, provenance: dict[str, Any], *, folder: Path | None = None,
                formats: Iterable[str] = ()) -> list[Path]:
    """Save ``fig`` as ``<name>.json``, ``<name>.html`` and ``<name>.provenance.json`` in ``folder``.

    ``formats`` may add ``"png"``/``"svg"``/``"pdf"`` through kaleido (needs a Chromium). Every file is
    written to a temporary name first and renamed, so a crash never leaves half a figure.
    """
    if not name or any(c in name for c in "/\\ ") or name.startswith("."):
        raise ValueError(f"name={name!r}: accepted values are plain file stems like 'fig_2_7'")
    folder = Path(folder) if folder is not None else FIG_DIR / str(provenance.get("chapter", "misc"))
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    p = folder / f"{name}.json"
    atomic_write_text(p, pio.to_json(fig, validate=False))
    out.append(p)
    p = folder / f"{name}.html"
    html = pio.to_html(fig, include_plotlyjs="directory", include_mathjax=False, full_html=True)
    atomic_write_text(p, html)
    js = folder / "plotly.min.js"
    if not js.exists():
        atomic_write_bytes(js, plotly_js_path().read_bytes())
    out.append(p)
    p = folder / f"{name}.provenance.json"
    atomic_write_text(p, json.dumps({"figure": name, **provenance}, indent=1, sort_keys=True))
    out.append(p)
    for fmt in formats:
        if fmt not in {"png", "svg", "pdf"}:
            raise ValueError(f"formats contains {fmt!r}; accepted values: png, svg, pdf")
        p = folder / f"{name}.{fmt}"
        tmp = folder / f".{name}.tmp.{fmt}"
        fig.write_image(tmp)
        os.replace(tmp, p)
        out.append(p)
    return out


def publish(fig: go.Figure, name: str, chapter: Chapter, caption: str) -> None:
    """Save ``fig`` with the chapter's provenance and display it with its caption.

    ``caption`` says what to see; the scale, seed, device and commit are appended automatically.
    Returns None (so that a cell ending in ``publish(...)`` does not display the figure twice).
    """
    if not caption.strip():
        raise ValueError("caption is empty: every figure needs a caption that says what to see")
    fig.update_layout(template="dlt")
    save_figure(fig, name, chapter.provenance())
    try:
        from IPython.display import Markdown, display
    except ImportError:  # plain Python: nothing to display
        return
    display(fig)
    data = f"{HTML_FIGURES}/{chapter.slug}/{name}"   # copied next to the HTML by the runner
    links = (f'<a href="{data}.json">data (plotly JSON)</a> · <a href="{data}.provenance.json">provenance</a>')
    display(Markdown(f"**Figure `{name}`.** {caption}  \n<small>{chapter.stamp()} · {links}</small>"))
    recorded = paper_figure_html(chapter, name)
    if recorded:
        from IPython.display import HTML
        display(HTML(recorded))


def paper_figure_html(chapter: Chapter, name: str) -> str:
    """The recorded paper-scale version of figure ``name`` in a collapsed block ('' when there is none, or when
    this run is itself at paper scale). A stale record is labelled so and greyed."""
    if chapter.scale == "paper":
        return ""
    from lib.book import records
    rec = records.load_cached(chapter.slug, "paper")
    fig = rec.figure(name) if rec is not None else None
    if fig is None:
        return ""
    body = pio.to_html(fig, include_plotlyjs=False, include_mathjax=False, full_html=False,
                       default_width="100%", default_height=460, validate=False)
    import html as _html
    stale = ' style="opacity:0.6"' if rec.is_stale else ""
    return (f'<details class="paper-figure"{stale}><summary>The same figure at paper scale '
            f"({_html.escape(rec.label())})</summary>{body}</details>")


def legend_below(fig: go.Figure, *, title: str | None = None, height: int | None = None) -> go.Figure:
    """Put the legend in a row under the axes (the book's text column is narrow) and, optionally, set the title
    above any subplot titles and the figure height. Returns ``fig``."""
    fig.update_layout(legend=dict(orientation="h", yanchor="top", y=-0.18, xanchor="left", x=0))
    if title is not None:
        fig.update_layout(title=dict(text=title, y=0.98, yanchor="top"), margin=dict(t=90))
    if height is not None:
        fig.update_layout(height=height)
    return fig


def lines(grid: Grid, *, x: str, series: str | None = None, err: Grid | None = None, fig: go.Figure | None = None,
          row: int | None = None, col: int | None = None, name: str = "", mode: str = "lines+markers",
          dash: str | None = None, showlegend: bool = True, err_scale: float = 1.0,
          palette_offset: int = 0) -> go.Figure:
    """One line per coordinate of ``series`` (or a single line) of a 1- or 2-axis :class:`lib.grid.Grid`
    against axis ``x``, in the house palette, with error bars ``err_scale * err`` when ``err`` (a Grid of the
    same axes, e.g. the s.e. from ``grid.mean_se(...)``) is given; ``palette_offset`` starts later in the palette
    (a second panel with other series). Returns the figure (new unless ``fig``)."""
    fig = fig if fig is not None else go.Figure()
    expected = {x} | ({series} if series else set())
    if set(grid.dims) != expected:
        raise ValueError(f"lines: the grid's axes {grid.dims} must be exactly x={x!r} and series={series!r}; "
                         "select or reduce the others first")
    keys = grid.axes[series] if series else [None]
    for i, key in enumerate(keys):
        g = grid.sel(**{series: key}) if series else grid
        e = (err.sel(**{series: key}) if series else err) if err is not None else None
        label = f"{name}{series} = {key}" if series else (name or None)
        kw: dict[str, Any] = {}
        if e is not None:
            kw["error_y"] = dict(type="data", array=err_scale * e.values, visible=True)
        colour = PALETTE[(i + palette_offset) % len(PALETTE)]
        fig.add_trace(go.Scatter(x=g.axes[x], y=g.values, mode=mode, name=label, showlegend=showlegend,
                                 line=dict(color=colour, dash=dash), marker=dict(color=colour), **kw),
                      row=row, col=col)
    return fig


def table(rows: list[dict[str, Any]], columns: list[str] | None = None, *, caption: str = "") -> str:
    """An HTML table (escaped) of ``rows`` (dicts) with ``columns`` (default: the first row's keys), for
    ``display(HTML(...))``; numbers are shown with 4 significant digits."""
    import html as _html
    if not rows:
        return "<p><i>(no rows)</i></p>"
    cols = columns or list(rows[0])

    def fmt(v: Any) -> str:
        if isinstance(v, float):
            return f"{v:.4g}"
        return str(v)

    head = "".join(f"<th>{_html.escape(str(c))}</th>" for c in cols)
    body = "".join("<tr>" + "".join(f"<td>{_html.escape(fmt(r.get(c, '')))}</td>" for c in cols) + "</tr>"
                   for r in rows)
    cap = f"<caption>{_html.escape(caption)}</caption>" if caption else ""
    return (f'<div style="overflow-x:auto"><table class="table">{cap}<thead><tr>{head}</tr></thead>'
            f"<tbody>{body}</tbody></table></div>")


def chromium_path() -> str | None:
    """Path of a Chromium kaleido can drive, or None."""
    for exe in ("chromium", "chromium-browser", "google-chrome"):
        p = shutil.which(exe)
        if p:
            return p
    return None


def export_static(folder: Path = FIG_DIR, formats: Iterable[str] = ("png",)) -> list[Path]:
    """Batch-export every saved figure JSON under ``folder`` to ``formats`` with one browser.

    Returns the written paths; raises RuntimeError naming the remedy when no Chromium is present.
    """
    if chromium_path() is None:
        raise RuntimeError("no Chromium found for PNG/SVG export: apt-get install chromium (Debian)")
    sources = sorted(p for p in Path(folder).rglob("*.json") if not p.name.endswith(".provenance.json"))
    figs, paths = [], []
    for src in sources:
        for fmt in formats:
            figs.append(pio.read_json(src))
            paths.append(src.with_suffix(f".{fmt}"))
    if figs:
        pio.write_images(figs, paths)
    return paths


def _main(argv: list[str]) -> int:
    if len(argv) >= 1 and argv[0] == "export":
        fmts = argv[1].split(",") if len(argv) > 1 else ["png"]
        paths = export_static(FIG_DIR, fmts)
        print(f"exported {len(paths)} static figure files under {FIG_DIR}")
        return 0
    print("usage: python -m lib.book.figures export [png,svg]", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
