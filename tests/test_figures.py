"""lib.book.figures: renderer output, saving with provenance, atomic writes."""
import json

import plotly.graph_objects as go
import plotly.io as pio
import pytest

from lib.book import figures, runtime


def _fig():
    return go.Figure(go.Scatter(x=[0, 1, 2], y=[1, 3, 2], name="line"))


def test_book_renderer_is_light_and_has_no_cdn():
    bundle = pio.renderers["book"].to_mimebundle(_fig().to_dict())
    html = bundle["text/html"]
    assert "Plotly.newPlot" in html
    assert len(html) < 50_000                      # plotly.js (4.8 MB) is not embedded
    assert "cdn" not in html.lower() and "https://" not in html
    assert "mathjax" not in html.lower()


def test_house_template_is_default():
    assert pio.templates.default == "dlt"
    assert list(pio.templates["dlt"].layout.colorway) == figures.PALETTE


def test_save_figure_writes_json_html_and_provenance(tmp_path):
    prov = {"chapter": "t", "scale": "quick", "seed": 0}
    paths = figures.save_figure(_fig(), "fig_a", prov, folder=tmp_path)
    names = sorted(p.name for p in paths)
    assert names == ["fig_a.html", "fig_a.json", "fig_a.provenance.json"]
    fig = pio.read_json(tmp_path / "fig_a.json")
    assert list(fig.data[0].y) == [1, 3, 2]
    side = json.loads((tmp_path / "fig_a.provenance.json").read_text())
    assert side == {"figure": "fig_a", **prov}
    html = (tmp_path / "fig_a.html").read_text()
    assert '<script charset="utf-8" src="plotly.min.js"></script>' in html or 'src="plotly.min.js"' in html
    assert (tmp_path / "plotly.min.js").stat().st_size > 1_000_000   # standalone HTML works offline
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_save_figure_is_atomic_on_failure(tmp_path, monkeypatch):
    figures.save_figure(_fig(), "fig_b", {"chapter": "t"}, folder=tmp_path)
    before = (tmp_path / "fig_b.json").read_text()

    def boom(*a, **k):
        raise RuntimeError("disk full")
    monkeypatch.setattr(figures.pio, "to_json", boom)
    with pytest.raises(RuntimeError):
        figures.save_figure(go.Figure(), "fig_b", {"chapter": "t"}, folder=tmp_path)
    assert (tmp_path / "fig_b.json").read_text() == before            # old file intact
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


@pytest.mark.parametrize("bad", ["", "a/b", ".hidden", "with space"])
def test_bad_names(tmp_path, bad):
    with pytest.raises(ValueError, match="name="):
        figures.save_figure(_fig(), bad, {}, folder=tmp_path)


def test_bad_format(tmp_path):
    with pytest.raises(ValueError, match="accepted values: png, svg, pdf"):
        figures.save_figure(_fig(), "x", {}, folder=tmp_path, formats=["gif"])


def test_publish_saves_under_the_chapter(tmp_path, monkeypatch):
    monkeypatch.setattr(figures, "FIG_DIR", tmp_path)
    ch = runtime.start_chapter("figtest", scale="quick", seed=3, device="cpu")
    assert figures.publish(_fig(), "f1", ch, "A caption.") is None
    side = json.loads((tmp_path / "figtest" / "f1.provenance.json").read_text())
    assert side["chapter"] == "figtest" and side["seed"] == 3 and side["scale"] == "quick"
    with pytest.raises(ValueError, match="caption"):
        figures.publish(_fig(), "f2", ch, "  ")
