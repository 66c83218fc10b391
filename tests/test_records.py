"""lib.book.records: a record is written atomically, read back, shown beside the quick verdicts, and marked stale
when its chapter (or a lib module it imports) changes."""
import json
import random

import pytest

from lib.book import claims, figures, records, runtime
from lib.book.cache import cache_dir
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


# ------------------------------------------------------------------------------------- cells carried by records
def _paper_cells(tmp_path, monkeypatch):
    """A paper-scale chapter whose cached cells are listed in a DLT_CACHE_USED file, as `record` sets it up."""
    monkeypatch.setenv("DLT_BUILD_DIR", str(tmp_path / "build"))
    monkeypatch.setenv("DLT_CACHE_USED", str(tmp_path / "used.txt"))
    return runtime.start_chapter("fx", scale="paper", seed=0, device="cpu")


def test_cells_used_by_a_run_are_listed_computed_then_loaded(tmp_path, monkeypatch):
    ch = _paper_cells(tmp_path, monkeypatch)
    ch.cached("small", lambda: list(range(10)), n=10)
    ch.cached("small", lambda: list(range(10)), n=10)           # the same key: loaded
    lines = (tmp_path / "used.txt").read_text().splitlines()
    assert [ln.split("\t")[0] for ln in lines] == ["computed", "loaded"]
    path = records.Path(lines[0].split("\t")[1])
    cache = path.parent
    assert records.run_cells(tmp_path / "used.txt", cache, [], stopped=False) == [(path, "computed")]
    row = records.cell_summary(path, "computed")
    assert row["device"].startswith("CPU") and row["kept"] and row["how"] == "computed" and row["bytes"] > 0
    with pytest.raises(ValueError, match="how='maybe'"):
        records.cell_summary(path, "maybe")


def test_a_record_carries_its_small_cells_to_the_next_run(tmp_path, monkeypatch):
    """write_record keeps the small cells and lists the large ones; the next record restores them into an empty
    cache (another machine), where the chapter loads instead of computing; a stopped run keeps what it did not
    reach, a complete run drops carried cells it did not use."""
    ch = _paper_cells(tmp_path, monkeypatch)
    ch.cached("small", lambda: list(range(10)), n=10)
    ch.cached("big", lambda: list(range(50_000)), n=50_000)
    cache = next((tmp_path / "build" / "cache").rglob("small-*.pkl")).parent
    small, big = (next(cache.glob(f"{n}-*.pkl")) for n in ("small", "big"))
    monkeypatch.setattr(records, "MAX_CELL_BYTES", small.stat().st_size + 10)
    root = tmp_path / "repo"
    (root / "book").mkdir(parents=True)
    (root / "book" / "fx.md").write_text(CHAPTER)
    build = tmp_path / "runbuild"
    (build / "claims").mkdir(parents=True)
    (build / "claims" / "fx.json").write_text(json.dumps({"chapter": "fx", "seed": 0, "claims": []}))
    cells = records.run_cells(tmp_path / "used.txt", cache, [], stopped=False)
    out = records.write_record("fx", scale="paper", build=build, figs=tmp_path / "nofigs", run={"device": "cpu"},
                               wall_s=1.0, peak_rss_mb=None, folder=tmp_path / "records", root=root, cells=cells)
    assert sorted(p.name for p in (out / "cells").iterdir()) == [small.name]
    meta = records.RecordMeta.load(out / "run.json")
    assert [(c["file"], c["how"], c["kept"]) for c in meta.cells] == [(small.name, "computed", True),
                                                                      (big.name, "computed", False)]

    monkeypatch.setenv("DLT_CACHE_DIR", str(tmp_path / "elsewhere"))   # another machine: an empty cache
    monkeypatch.setenv("DLT_CACHE_USED", str(tmp_path / "used2.txt"))
    fresh_cache = cache_dir("fx", "paper", 0)
    assert records.restore_cells(out, fresh_cache) == [small.name]
    assert (fresh_cache / small.name).read_bytes() == small.read_bytes()
    assert ch.cached("small", lambda: list(range(10)), n=10) == list(range(10))
    assert (tmp_path / "used2.txt").read_text() == f"loaded\t{fresh_cache / small.name}\n"   # not computed again
    # a run that stopped before reaching a carried cell keeps it; a complete run that did not use it drops it
    (tmp_path / "used3.txt").write_text("")
    assert records.run_cells(tmp_path / "used3.txt", fresh_cache, [small.name], stopped=True) == \
        [(fresh_cache / small.name, "not reached")]
    assert records.run_cells(tmp_path / "used3.txt", fresh_cache, [small.name], stopped=False) == []


def _record_lines(recorded, tmp_path, **changes):
    """The chapter's record line before and after ``changes`` are written into the record's run.json."""
    root, src, folder, out = recorded
    ch = runtime.start_chapter("fx", scale="quick", seed=0, device="cpu")
    reg = claims.Register(ch, folder=tmp_path / "claims", record=records.load("fx", "paper", folder=folder, root=root))
    before = reg.record_line()
    run = json.loads((out / "run.json").read_text())
    run.update(changes)
    (out / "run.json").write_text(json.dumps(run))
    reg.record = records.load("fx", "paper", folder=folder, root=root)
    return before, reg.record_line()


def test_the_record_line_says_which_cells_came_from_earlier_sittings(recorded, tmp_path):
    before, after = _record_lines(recorded, tmp_path, cells=[
        {"file": "a-1.pkl", "how": "loaded", "when": "2026-12-01 10:00 UTC", "seconds": 100.0},
        {"file": "b-2.pkl", "how": "not reached", "when": "2026-11-30 09:00 UTC", "seconds": 20.0},
        {"file": "c-3.pkl", "how": "computed", "when": "2026-12-02 10:00 UTC", "seconds": 5.0}])
    assert "earlier sittings" not in before
    assert "2 of its sweep cells were computed in earlier sittings (120 s, 2026-11-30, 2026-12-01)" in after


def test_the_record_line_says_why_a_record_is_partial(recorded, tmp_path):
    before, after = _record_lines(recorded, tmp_path, partial=True,
                                  problems=["stopped by the operator (SIGTERM) after 3600 s"])
    assert "Partial" not in before
    assert "Partial (stopped by the operator (SIGTERM) after 3600 s)" in after


def test_a_chapter_edited_during_the_run_gives_a_stale_record(tmp_path):
    """The record describes the code that ran: the fingerprint taken at the start is kept even when the chapter
    changes before the record is written (a run of hours while someone edits the chapter)."""
    root = tmp_path / "repo"
    (root / "book").mkdir(parents=True)
    src = root / "book" / "fx.md"
    src.write_text(CHAPTER)
    started = {"fingerprint": records.fingerprint(src, root), "git": {"commit": "abc", "dirty": False}}
    src.write_text(CHAPTER.replace("from lib import stats", "from lib import stats  # edited while running"))
    build = tmp_path / "build"
    (build / "claims").mkdir(parents=True)
    (build / "claims" / "fx.json").write_text(json.dumps({"chapter": "fx", "scale": "paper", "seed": 0, "claims": []}))
    records.write_record("fx", scale="paper", build=build, figs=tmp_path / "nofigs", run={"device": "cpu"},
                         wall_s=1.0, peak_rss_mb=None, folder=tmp_path / "records", root=root, started=started)
    rec = records.load("fx", "paper", folder=tmp_path / "records", root=root)
    assert rec.meta.commit == "abc" and rec.stale == ["book/fx.md"]
