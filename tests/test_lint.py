"""The code is linted: lib/, tests/, bench/ with ruff, and the chapters' code cells through jupytext (lib.book.lint)."""
from lib.book import lint
from lib.book.files import ROOT


def test_lib_tests_bench_are_clean():
    res = lint.ruff([ROOT / "lib", ROOT / "tests", ROOT / "bench"], ignore=())
    assert res.returncode == 0, res.stdout


def test_chapter_code_cells_are_clean(tmp_path):
    res = lint.ruff(lint.extract(out=tmp_path))
    assert res.returncode == 0, res.stdout
