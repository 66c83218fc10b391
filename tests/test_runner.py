"""lib.book.runner on fixture notebooks: failure isolation, cells named, budgets, verdict gate, determinism."""
import json
import os
from pathlib import Path

import pytest

from lib.book import runner

FIX = Path(__file__).parent / "fixtures"


@pytest.fixture()
def build(tmp_path, monkeypatch):
    monkeypatch.setenv("DLT_BUILD_DIR", str(tmp_path / "_build"))
    yield tmp_path / "_build"
    for p in FIX.glob("*.ipynb"):
        p.unlink()


def _toc(tmp_path, names):
    toc = tmp_path / "_toc.yml"
    rest = "".join(f"  - file: tests/fixtures/{n}\n" for n in names[1:])
    toc.write_text(f"format: jb-book\nroot: tests/fixtures/{names[0]}\nchapters:\n{rest}")
    return toc


def test_toc_parsing_and_status_last(tmp_path):
    toc = tmp_path / "_toc.yml"
    toc.write_text("format: jb-book\nroot: book/intro\nparts:\n  - caption: A\n    chapters:\n"
                   "      - file: book/status\n      - file: book/pages/references\n"
                   "      - file: tests/fixtures/nb_good\n")
    assert runner.toc_files(toc) == ["book/intro", "book/status", "book/pages/references", "tests/fixtures/nb_good"]
    stems = [p.stem for p in runner.chapters(toc)]
    assert stems == ["intro", "nb_good", "status"]          # plain pages skipped, status moved last


def test_failure_isolation_budget_and_gate(tmp_path, build, capsys):
    toc = _toc(tmp_path, ["nb_good", "nb_bad", "nb_mismatch"])
    rc = runner.main(["--toc", str(toc), "--no-html", "-j", "2", "--device", "cpu"])
    out = capsys.readouterr().out
    assert rc == 1
    recs = {p.stem: json.loads(p.read_text()) for p in (build / "runs").glob("*.json")}
    assert set(recs) == {"nb_good", "nb_bad", "nb_mismatch"}
    assert recs["nb_good"]["status"] == "ok"                             # the others still ran
    assert recs["nb_good"]["claims"]["reproduced"] == 1
    bad = recs["nb_bad"]
    assert bad["status"] == "fail"
    assert 'RuntimeError: boom (code cell 3 of 3: raise RuntimeError("boom"))' in bad["problems"][0]
    assert any("one-is-two" in p and "expected reproduced" in p for p in recs["nb_mismatch"]["problems"])
    assert "RuntimeError: boom (code cell 3 of 3" in out and "1 passed, 2 failed" in out
    nb = json.loads((FIX / "nb_bad.ipynb").read_text())               # the failing notebook is kept
    assert any("boom" in json.dumps(c.get("outputs", [])) for c in nb["cells"])


def test_same_seed_gives_byte_identical_claims(tmp_path, build):
    src = FIX / "nb_good.md"
    texts = []
    for _ in range(2):
        rec = runner.run_chapter(src, scale="quick", seed=3, device="cpu", jobs=1, timeout=120, budget=None)
        assert rec["status"] == "ok", rec
        texts.append((build / "claims" / "nb_good.json").read_bytes())
    assert texts[0] == texts[1]
    assert json.loads(texts[0])["seed"] == 3


def test_over_budget_is_reported(build):
    rec = runner.run_chapter(FIX / "nb_slow.md", scale="quick", seed=0, device="cpu", jobs=1, timeout=120,
                             budget=2.0)                       # it sleeps 2.5 s on top of kernel start-up
    assert rec["status"] == "fail" and any("over budget" in p for p in rec["problems"])
    assert rec["claims"]["reproduced"] == 1                    # it ran to the end; only the budget failed


def test_cell_timeout_is_reported_with_its_cell(build, monkeypatch):
    monkeypatch.setenv("DLT_CELL_TIMEOUT", "1")                # nb_slow's cell sleeps 2.5 s
    rec = runner.run_chapter(FIX / "nb_slow.md", scale="quick", seed=0, device="cpu", jobs=1, timeout=120,
                             budget=None)
    assert rec["status"] == "fail"
    assert "code cell 2 of 2: import time" in rec["problems"][0], rec["problems"]
    assert "runner crashed" not in rec["problems"][0]


def test_timeout_is_reported(tmp_path, build):
    rec = runner.run_chapter(FIX / "nb_slow.md", scale="quick", seed=0, device="cpu", jobs=1, timeout=1.0,
                             budget=None)
    assert rec["status"] == "fail" and "timed out" in rec["problems"][0]
    assert rec["peak_rss_mb"] is not None and rec["peak_rss_mb"] > 1   # read from /proc before the kill


def test_sigterm_stops_a_stoppable_run_and_is_reported(build):
    import signal
    import threading
    threading.Timer(1.0, os.kill, (os.getpid(), signal.SIGTERM)).start()   # mid-run: start-up + 2.5 s sleep
    before = signal.getsignal(signal.SIGTERM)
    rec = runner.run_chapter(FIX / "nb_slow.md", scale="quick", seed=0, device="cpu", jobs=1, timeout=120,
                             budget=None, stoppable=True)
    assert rec["status"] == "fail" and "stopped by the operator (SIGTERM)" in rec["problems"][0], rec["problems"]
    assert rec["wall_s"] < 60                                   # stopped, not waited out
    assert signal.getsignal(signal.SIGTERM) is before           # the usual meaning is restored


def test_tree_peak_rss_sees_a_grandchild_in_its_own_session():
    import subprocess
    import sys
    import time
    code = ("import subprocess, sys, time; subprocess.Popen([sys.executable, '-c', "
            "'x = bytearray(200_000_000); import time; time.sleep(30)'], start_new_session=True); time.sleep(30)")
    p = subprocess.Popen([sys.executable, "-c", code])
    try:
        for _ in range(200):                                  # until the grandchild's allocation is resident
            peak = runner.tree_peak_rss_mb(p.pid)
            if peak and peak > 190:
                break
            time.sleep(0.05)
        assert peak is not None and 190 < peak < 400
    finally:
        for child in Path("/proc").glob("[0-9]*/status"):   # the grandchild, then the child
            try:
                if f"PPid:\t{p.pid}\n" in child.read_text():
                    os.kill(int(child.parent.name), 9)
            except OSError:
                pass
        p.kill()
        p.wait()
    assert runner.tree_peak_rss_mb(p.pid) is None             # the process is gone


def test_cli_rejects_bad_arguments(tmp_path, capsys):
    toc = _toc(tmp_path, ["nb_good"])
    for args, msg in ((["--scale", "huge"], "invalid choice"), (["--only", "nope"], "accepted values: nb_good"),
                      (["-j", "0"], "accepted values are integers >= 1")):
        with pytest.raises(SystemExit):
            runner.main(["--toc", str(toc), *args])
        assert msg in capsys.readouterr().err


def test_summary_table_names_problems():
    rec = {"chapter": "x", "status": "fail", "wall_s": 3.0, "claims": None, "problems": ["KeyError: 'a' (cell 4)"]}
    table = runner.summary_table([rec])
    assert "x" in table and "fail" in table and "KeyError: 'a' (cell 4)" in table


def test_reader_view_folds_setup_claims_and_long_cells():
    assert runner.reader_tags("x = 1", ["parameters"]) == ["parameters", "remove-cell"]
    assert runner.reader_tags("import numpy as np\nfrom lib import stats\nx = 1", []) == ["hide-input"]
    assert runner.reader_tags('reg.claim("a", ...)', []) == ["hide-input"]
    assert runner.reader_tags("\n".join(f"x{i} = {i}" for i in range(13)), []) == ["hide-input"]
    assert runner.reader_tags("fig = lib.plot(g)\nfigures.publish(fig, 'a', ch, 'c')", []) == []
    assert runner.reader_tags('reg.claim("a", ...)', ["show-input"]) == ["show-input"]
    assert runner.reader_tags("import x", ["remove-input"]) == ["remove-input"]
