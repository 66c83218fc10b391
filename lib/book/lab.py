"""``make lab``: open the chapters as live notebooks in JupyterLab, in the project's environment.

The server runs from the repository root with jupytext's contents manager, so ``book/<slug>.md`` opens as a
notebook (its ``parameters`` cell editable), saving writes the ``.md`` source back — never an ``.ipynb`` into
``book/`` (no pairing is configured) — and ``lib`` is importable (``PYTHONPATH``). The thread and device policy
is the runner's: ``runtime.start_chapter`` reads ``OMP_NUM_THREADS`` when it is set, and ``device="auto"``
picks CUDA when there is one.

    python -m lib.book.lab [--port 8888] [--no-browser] [--token TOKEN]
"""
from __future__ import annotations

import argparse
import os
import sys

from lib.book.files import ROOT


def lab_command(*, port: int = 8888, open_browser: bool = True, token: str | None = None) -> list[str]:
    """The ``jupyter lab`` command line (run with this interpreter's environment)."""
    if not 1 <= port <= 65535:
        raise ValueError(f"port={port}: accepted values are 1..65535")
    cmd = [sys.executable, "-m", "jupyterlab", f"--ServerApp.root_dir={ROOT}", f"--ServerApp.port={port}",
           "--ServerApp.port_retries=0", "--ServerApp.contents_manager_class=jupytext.TextFileContentsManager",
           "--ContentsManager.preferred_jupytext_formats_save=md:myst", "--LabApp.default_url=/lab/tree/book"]
    if not open_browser:
        cmd.append("--no-browser")
    if hasattr(os, "geteuid") and os.geteuid() == 0:   # containers and CI run as root; JupyterLab refuses without
        cmd.append("--allow-root")
    if token is not None:
        cmd.append(f"--IdentityProvider.token={token}")
    return cmd


def lab_env() -> dict[str, str]:
    """The environment of the server and its kernels: ``lib`` importable from the repository."""
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m lib.book.lab", description="open the chapters in JupyterLab")
    ap.add_argument("--port", type=int, default=8888)
    ap.add_argument("--no-browser", action="store_true")
    ap.add_argument("--token", default=None, help="access token (default: JupyterLab generates one)")
    a = ap.parse_args(argv)
    cmd = lab_command(port=a.port, open_browser=not a.no_browser, token=a.token)
    os.execve(cmd[0], cmd, lab_env())   # replace this process: Ctrl-C stops the server directly
    return 0  # not reached


if __name__ == "__main__":
    sys.exit(main())
