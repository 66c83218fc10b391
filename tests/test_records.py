"""lib.book.records: a record is written atomically, read back, shown beside the quick verdicts, and marked stale
when its chapter (or a lib module it imports) changes."""
import json
import random

import pytest

from lib.book import claims, figures, records, runtime
from lib.book.files import ROOT

CHAPTER = """---
jupytext:
  text_representation:
    extension: .md
    format_name: myst
kernelspec:
  display_name: Python 3
  language: python
  name: python3
---

# Fixture

```{code-cell} ipython3
from lib import stats
from lib.book import claims, runtime
```
"""


@pytest.fixture
def recorded(tmp_path):
    root = tmp_path / "repo"
    (root / "book").mkdir(parents=True)
    src = root / "book" / "fx.md"
    src.write_text(CHAPTER)
    build, figs = tmp_path / "build", tmp_path / "figs"
    doc = {"chapter": "fx", "scale": "paper", "seed": 0, "claims": [
        {"id": "a", "verdict": claims.NOT_REPRODUCED, "measured": "0.42"}]}
    (build / "claims").mkdir(parents=True)
    (build / "claims" / "fx.json").write_text(json.dumps(doc))
    (figs / "fx").mkdir(parents=True)
    rnd = random.Random(0)                                    # incompressible: gzip alone cannot bring it under the cap
    dense = {"data": [{"type": "scatter", "x": [rnd.random() for _ in range(100_000)],
                       "y": [rnd.random() for _ in range(100_000)]}],
             "layout": {"title": {"text": "dense"}}}
    (figs / "fx" / "curve.json").write_text(json.dumps(dense))
    (figs / "fx" / "curve.provenance.json").write_text("{}")
    out = records.write_record("fx", scale="paper", build=build, figs=figs, run={"device": "cpu", "problems": []},
                               wall_s=12.3, peak_rss_mb=456.0, folder=tmp_path / "records", root=root)
    return root, src, tmp_path / "records", out


def test_record_layout_fingerprint_and_figures(recorded):
    root, src, folder, out = recorded
    assert sorted(p.name for p in out.iterdir()) == ["claims.json", "plots", "run.json"]
    meta = records.RecordMeta.load(out / "run.json")
    assert meta.wall_s == 12.3 and meta.peak_rss_mb == 456.0 and meta.device == "cpu" and not meta.partial
    # the chapter and the lib modules it imports, transitively (lib.stats; lib.book.claims imports lib.book.files)
    assert "book/fx.md" in meta.fingerprint and "lib/stats.py" in meta.fingerprint
    assert not any(k.startswith("lib/book/") for k in meta.fingerprint)   # machinery does not make records stale
    assert not list(folder.glob("paper/.fx.*"))              # no temporary folder left behind
    rec = records.load("fx", "paper", folder=folder, root=root)
    assert rec is not None and not rec.is_stale and rec.claims["a"]["measured"] == "0.42"
    fig = rec.figure("curve")
    assert fig["layout"]["title"]["text"] == "dense" and 0 < len(fig["data"][0]["x"]) < 100_000   # thinned
    assert len((out / "plots" / "curve.json.gz").read_bytes()) <= records.MAX_FIGURE_BYTES


def test_touching_the_chapter_makes_the_record_stale_and_the_page_says_so(recorded, tmp_path):
    root, src, folder, _ = recorded
    ch = runtime.start_chapter("fx", scale="quick", seed=0, device="cpu")
    fresh = records.load("fx", "paper", folder=folder, root=root)
    reg = claims.Register(ch, folder=tmp_path / "claims", record=fresh)
    reg.claim("a", source="s", statement="t", paper=1, measured=0.9, check=claims.at_least(0.9, 0.5),
              expected_quick=claims.REPRODUCED, kind=claims.EMPIRICAL)
    page = reg.record_line() + reg.to_html()
    assert "paper scale" in page and "0.42" in page and "not reproduced" in page and "Stale" not in page

    src.write_text(CHAPTER + "\nA paragraph of prose, a fixed typo.\n")   # prose only: the numbers cannot change
    assert not records.load("fx", "paper", folder=folder, root=root).is_stale
    src.write_text(CHAPTER.replace("from lib import stats", "from lib import stats\nx = 1"))   # the code changed
    stale = records.load("fx", "paper", folder=folder, root=root)
    assert stale.is_stale and stale.stale == ["book/fx.md"]
    reg.record = stale
    page = reg.record_line() + reg.to_html()
    assert "Stale" in page and "book/fx.md" in page and "opacity:0.5" in page and "0.42" in page
    assert "stale" in stale.label()


def test_a_record_fingerprinted_by_the_whole_file_keeps_that_rule(recorded):
    """Records made before the code-only chapter fingerprint hold the file's sha256: any edit makes them stale."""
    root, src, folder, out = recorded
    run = json.loads((out / "run.json").read_text())
    run["fingerprint"]["book/fx.md"] = records._sha(src)
    (out / "run.json").write_text(json.dumps(run))
    assert not records.load("fx", "paper", folder=folder, root=root).is_stale
    src.write_text(CHAPTER + "\nprose\n")
    assert records.load("fx", "paper", folder=folder, root=root).stale == ["book/fx.md"]


def test_a_missing_record_says_so(tmp_path):
    ch = runtime.start_chapter("nothing_recorded", scale="quick", seed=0, device="cpu")
    reg = claims.Register(ch, folder=tmp_path, record=None)
    assert "No paper-scale record" in reg.record_line() and "make record NAME=nothing_recorded" in reg.record_line()
    assert records.load("nothing_recorded", "paper", folder=tmp_path) is None
    assert figures.paper_figure_html(ch, "anything") == ""


def test_lib_dependencies_follow_imports_transitively():
    deps = {p.relative_to(ROOT).as_posix() for p in records.lib_dependencies(ROOT / "book" / "sample_complexity.md")}
    assert {"lib/recovery.py", "lib/teacher_student.py", "lib/stats.py", "lib/grid.py"} <= deps
    assert not any(d.startswith("lib/book/") for d in deps)
