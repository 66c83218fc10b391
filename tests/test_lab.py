"""make lab: a scripted start of JupyterLab answers its API, lists the chapters as notebooks (jupytext), and
saving a notebook writes MyST Markdown, never an .ipynb into book/."""
import json
import socket
import subprocess
import time
import urllib.request

import nbformat
import pytest

from lib.book import lab
from lib.book.files import ROOT

TOKEN = "dlt-lab-test"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _api(port, path, method="GET", body=None):
    req = urllib.request.Request(f"http://127.0.0.1:{port}/api/contents/{path}", method=method,
                                 data=None if body is None else json.dumps(body).encode(),
                                 headers={"Authorization": f"token {TOKEN}", "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read() or b"null")


@pytest.fixture(scope="module")
def server():
    port = _free_port()
    proc = subprocess.Popen(lab.lab_command(port=port, open_browser=False, token=TOKEN), env=lab.lab_env(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT)
    try:
        deadline = time.time() + 120
        while True:
            try:
                _api(port, "")
                break
            except OSError:
                if proc.poll() is not None or time.time() > deadline:
                    raise RuntimeError("JupyterLab did not start") from None
                time.sleep(0.5)
        yield port
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()


def test_chapters_are_listed_and_open_as_notebooks(server):
    listing = _api(server, "book")
    kinds = {item["name"]: item["type"] for item in listing["content"]}
    assert kinds["sample_complexity.md"] == "notebook" and kinds["intro.md"] == "notebook"
    nb = _api(server, "book/sample_complexity.md?content=1")
    assert nb["type"] == "notebook"
    tags = [c["metadata"].get("tags", []) for c in nb["content"]["cells"] if c["cell_type"] == "code"]
    assert ["parameters"] in tags


def test_saving_writes_myst_markdown_not_ipynb(server):
    name = "zz_lab_save_test"
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1")])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    try:
        _api(server, f"book/{name}.md", "PUT", {"type": "notebook", "format": "json", "content": nb})
        text = (ROOT / "book" / f"{name}.md").read_text()
        assert text.startswith("---") and "jupytext" in text and "```{code-cell}" in text and "x = 1" in text
        assert not (ROOT / "book" / f"{name}.ipynb").exists()
    finally:
        (ROOT / "book" / f"{name}.md").unlink(missing_ok=True)
        (ROOT / "book" / f"{name}.ipynb").unlink(missing_ok=True)


def test_bad_port_is_refused():
    with pytest.raises(ValueError, match="accepted values"):
        lab.lab_command(port=0)
