"""make pdf: Chromium prints a page with a plotly figure (drawn, not a blank box) and typeset text; pages merge
with an outline."""
import plotly.graph_objects as go
import plotly.io as pio
import pytest
from pypdf import PdfReader

from lib.book import figures, pdf

pytestmark = pytest.mark.skipif(figures.chromium_path() is None, reason="needs Debian's chromium (CI installs it)")


def _page(tmp_path, name, title, axis):
    fig = go.Figure(go.Scatter(x=[1, 2, 3], y=[3, 1, 2]), layout=dict(title=dict(text=title),
                                                                          xaxis_title=axis))
    body = pio.to_html(fig, include_plotlyjs=True, full_html=False)
    p = tmp_path / f"{name}.html"
    p.write_text(f"<html><head><title>{name} — Deep Learning Theory, Executed</title></head>"
                 f"<body><h1>Heading {name}</h1>{body}</body></html>")
    return p


def test_a_page_prints_with_its_figure_and_pages_merge_with_an_outline(tmp_path):
    a = pdf.print_page(_page(tmp_path, "alpha", "Quartz figure title", "zeta axis"), tmp_path / "a.pdf")
    text = "".join(pg.extract_text() for pg in PdfReader(a).pages)
    assert "Heading alpha" in text
    assert "Quartz figure title" in text and "zeta axis" in text    # drawn by plotly's JS before printing
    b = pdf.print_page(_page(tmp_path, "beta", "Second", "y"), tmp_path / "b.pdf")
    out = pdf.merge([(pdf.page_title(tmp_path / "alpha.html"), a), ("beta", b)], tmp_path / "book.pdf")
    r = PdfReader(out)
    assert len(r.pages) == len(PdfReader(a).pages) + len(PdfReader(b).pages)
    assert [o.title for o in r.outline] == ["alpha", "beta"]


def test_missing_page_says_how_to_build(tmp_path):
    with pytest.raises(FileNotFoundError, match="build the book first"):
        pdf.print_page(tmp_path / "nope.html", tmp_path / "x.pdf")
