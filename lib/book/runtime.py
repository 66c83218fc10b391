"""Run-time context shared by every chapter: scale, device, seeding, threads and provenance.

Every chapter starts with::

    ch = runtime.start_chapter("sample_complexity", scale=scale, seed=seed, device=device)

and then reads ``ch.scale``, ``ch.seed``, ``ch.device`` and per-scale settings through
``ch.pick(quick=..., paper=...)``. Randomness is always drawn from explicit generators
— named, independent streams ``ch.rng("fig-2.7")`` / ``ch.generator("restarts")`` — never from global seeds.
"""
from __future__ import annotations

import dataclasses
import importlib.metadata
import os
import platform
import subprocess
import time
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import torch

T = TypeVar("T")

#: The scales a chapter can run at. ``quick``: CI on 2 CPU cores, <= 90 s per chapter.
#: ``paper``: the source document's configuration, designed for one GPU.
SCALES: tuple[str, ...] = ("quick", "paper")
DEVICES: tuple[str, ...] = ("auto", "cpu", "cuda")

from lib.book.files import ROOT  # noqa: E402  (re-exported: runtime.ROOT)

_VERSION_PACKAGES = ("torch", "numpy", "scipy", "plotly")


def check_scale(scale: str) -> str:
    """Return ``scale`` if it is one of :data:`SCALES`, else raise a ValueError listing them."""
    if scale not in SCALES:
        raise ValueError(f"scale={scale!r} is not a known scale; accepted values: {', '.join(SCALES)}")
    return scale


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """Map ``"auto"`` to CUDA when available, else CPU; refuse ``"cuda"`` where there is none."""
    if isinstance(device, torch.device):
        device = device.type
    if device not in DEVICES:
        raise ValueError(f"device={device!r} is not a known device; accepted values: {', '.join(DEVICES)}")
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            "device='cuda' was asked for but torch sees no CUDA device on this machine "
            f"(torch {torch.__version__}); use device='cpu' or device='auto'"
        )
    return torch.device(device)


def torch_generator(seed: int, device: str | torch.device = "cpu") -> torch.Generator:
    """A fresh ``torch.Generator`` on ``device`` seeded with ``seed`` (no global state touched)."""
    dev = resolve_device(device) if not isinstance(device, torch.device) else device
    g = torch.Generator(device=dev)
    g.manual_seed(int(seed))
    return g


def numpy_rng(seed: int) -> np.random.Generator:
    """A fresh numpy ``Generator`` (PCG64) seeded with ``seed``."""
    return np.random.default_rng(int(seed))


def _crc(text: str) -> int:
    return zlib.crc32(text.encode("utf-8"))


def stream_seed_sequence(seed: int, slug: str, name: str | int) -> np.random.SeedSequence:
    """The SeedSequence of stream ``name`` of chapter ``slug`` at ``seed`` (see :meth:`Chapter.seed_sequence`)."""
    if isinstance(name, bool) or not isinstance(name, (str, int, np.integer)) or (isinstance(name, str) and not name):
        raise ValueError(f"name={name!r}: accepted values are non-empty strings (e.g. 'fig-2.7') or integers")
    s = int(seed) % (1 << 64)
    return np.random.SeedSequence([s & 0xFFFF_FFFF, s >> 32, _crc(slug), _crc(str(name))])


def pick(scale: str, *, quick: T, paper: T) -> T:
    """The value for ``scale``: ``pick("quick", quick=3, paper=100) == 3``."""
    return quick if check_scale(scale) == "quick" else paper


def set_threads(n: int | None = None) -> int:
    """Set torch's intra-op threads: ``n``, else ``OMP_NUM_THREADS``, else leave as is. Returns the count.

    The runner executes two notebooks at once on 2 cores with ``OMP_NUM_THREADS=1``: two threads
    per notebook oversubscribe the machine (measured 2.5x slower, measured on the 2-core CI machine).
    """
    if n is None and os.environ.get("OMP_NUM_THREADS", "").isdigit():
        n = int(os.environ["OMP_NUM_THREADS"])
    if n is not None:
        if n < 1:
            raise ValueError(f"n={n} threads: accepted values are integers >= 1")
        torch.set_num_threads(n)
    return torch.get_num_threads()


def git_state(root: Path = ROOT) -> dict[str, Any]:
    """``{"commit": sha or None, "dirty": bool or None}`` of the repository at ``root``."""
    def _git(*args: str) -> str | None:
        try:
            out = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            return None
        return out.stdout.strip() if out.returncode == 0 else None

    commit = _git("rev-parse", "--short=12", "HEAD")
    status = _git("status", "--porcelain", "--untracked-files=no")
    return {"commit": commit, "dirty": None if status is None else bool(status)}


def package_versions(names: tuple[str, ...] = _VERSION_PACKAGES) -> dict[str, str]:
    """Installed versions of ``names`` (missing packages are reported as ``"absent"``)."""
    out = {}
    for n in names:
        try:
            out[n] = importlib.metadata.version(n)
        except importlib.metadata.PackageNotFoundError:
            out[n] = "absent"
    return out


def device_name(device: torch.device) -> str:
    """Human-readable name of ``device`` (the GPU model, or the CPU's)."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    cpu = platform.processor() or platform.machine()
    return f"CPU ({cpu}, {os.cpu_count()} cores, {torch.get_num_threads()} torch threads)"


@dataclasses.dataclass
class Chapter:
    """The execution context of one chapter.

    Attributes: ``slug`` (the chapter's file name, e.g. ``"sample_complexity"``), ``scale``,
    ``seed``, ``device`` (a resolved ``torch.device``), ``started`` (``time.perf_counter`` at start).
    """

    slug: str
    scale: str
    seed: int
    device: torch.device
    started: float = dataclasses.field(default_factory=time.perf_counter)
    _git: dict[str, Any] = dataclasses.field(default_factory=git_state, repr=False)

    def pick(self, *, quick: T, paper: T) -> T:
        """Per-scale setting: ``ch.pick(quick=3, paper=100)``."""
        return pick(self.scale, quick=quick, paper=paper)

    def seed_sequence(self, name: str | int) -> np.random.SeedSequence:
        """The :class:`numpy.random.SeedSequence` of the named stream ``name`` at this chapter's seed.

        The entropy is ``(seed, crc32(slug), crc32(name))`` hashed by SeedSequence, so different seeds, chapters or
        names give statistically independent streams: seed 1's stream ``"fig-2.7"`` shares nothing with seed 0's
        ``"fig-2.8"`` (unlike ``seed + offset``). An integer ``name`` is the stream ``str(name)``.
        """
        return stream_seed_sequence(self.seed, self.slug, name)

    def generator(self, name: str | int = "main", device: torch.device | str | None = None) -> torch.Generator:
        """A torch generator for the named stream ``name`` on ``device`` (default: the chapter's device)."""
        state = self.seed_sequence(name).generate_state(1, np.uint64)[0]
        return torch_generator(int(state) & 0x7FFF_FFFF_FFFF_FFFF,
                               device if device is not None else self.device)

    def rng(self, name: str | int = "main") -> np.random.Generator:
        """A numpy generator (PCG64) for the named stream ``name``."""
        return np.random.default_rng(self.seed_sequence(name))

    def cached(self, name: str, fn: Callable[[], T], *, quick: bool = False, **inputs: Any) -> T:
        """``fn()``, kept on disk at paper scale so that an interrupted run resumes (:mod:`lib.book.cache`).

        ``inputs`` name every setting ``fn`` reads (they are part of the key, with ``fn``'s code and the ``lib/``
        modules' hashes); ``fn`` draws only from generators it creates. At quick scale ``fn()`` is simply called.
        """
        from lib.book import cache

        return cache.cached(self.slug, self.scale, self.seed, self.device, name, fn, quick=quick, **inputs)

    @property
    def long_sweeps(self) -> bool:
        """Whether this run executes the sweeps sized for a GPU: at paper scale on CUDA, or on the CPU when the
        environment sets ``DLT_LONG_CPU=1`` (a CPU run of them can take a day). A chapter registers a skipped sweep's
        claims as not checkable and says why, so that a CPU record still reaches the cells after it."""
        return self.scale == "paper" and (self.device.type == "cuda" or os.environ.get("DLT_LONG_CPU") == "1")

    def elapsed(self) -> float:
        """Seconds since the chapter started."""
        return time.perf_counter() - self.started

    def provenance(self) -> dict[str, Any]:
        """What produced an artefact: chapter, parameters, device, versions, commit, wall time so far."""
        return {
            "chapter": self.slug,
            "scale": self.scale,
            "seed": self.seed,
            "device": self.device.type,
            "device_name": device_name(self.device),
            "commit": self._git["commit"],
            "dirty": self._git["dirty"],
            "versions": package_versions(),
            "python": platform.python_version(),
            "wall_time_s": round(self.elapsed(), 2),
        }

    def stamp(self) -> str:
        """One-line provenance for captions: ``scale quick · seed 0 · cpu · 3.1 s · commit abc123``."""
        commit = self._git["commit"] or "uncommitted"
        if self._git["dirty"]:
            commit += "+dirty"
        return (f"scale {self.scale} · seed {self.seed} · {self.device.type} · "
                f"{self.elapsed():.1f} s into the chapter · commit {commit}")


def start_chapter(slug: str, *, scale: str = "quick", seed: int = 0, device: str = "auto") -> Chapter:
    """Validate the chapter's parameters, set the thread policy and return its :class:`Chapter`.

    Raises ValueError for an unknown ``scale`` or ``device``, or ``device="cuda"`` without CUDA.
    """
    if not slug or not slug.replace("_", "").isalnum():
        raise ValueError(f"slug={slug!r}: accepted values are non-empty identifiers like 'sample_complexity'")
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool):
        raise ValueError(f"seed={seed!r}: accepted values are integers")
    ch = Chapter(slug=slug, scale=check_scale(scale), seed=int(seed), device=resolve_device(device))
    set_threads()
    return ch
