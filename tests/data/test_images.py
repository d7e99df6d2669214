"""Image loaders: shapes, dtypes, ranges, IDX parsing, missing files, split helpers."""

from __future__ import annotations

import gzip
import struct

import numpy as np
import pytest

from xent_jax.data import images as im


def _check(x, y, shape, n_classes=10):
    assert x.shape == shape and x.dtype == np.float32
    assert y.shape == shape[:1] and y.dtype == np.int32
    assert x.min() >= 0.0 and x.max() <= 1.0 and x.max() == 1.0
    assert set(np.unique(y)) == set(range(n_classes))


def test_digits():
    x, y = im.load_digits()
    _check(x, y, (1797, 8, 8, 1))
    from sklearn.datasets import load_digits

    ref = load_digits()
    np.testing.assert_allclose(x[5, :, :, 0] * 16, ref.images[5])
    x[0] = 5.0  # callers get a copy
    assert im.load_digits()[0][0].max() <= 1.0


def test_mnist5k():
    x, y = im.load_mnist5k()
    _check(x, y, (5000, 28, 28, 1))
    assert np.all(np.bincount(y) == 500)


def test_mnist10k(shared_data):
    shared_data("mnist", "t10k-images-idx3-ubyte.gz")
    x, y = im.load_mnist10k()
    _check(x, y, (10000, 28, 28, 1))
    assert y[:3].tolist() == [7, 2, 1]  # the well-known first test labels


def test_missing_file_names_it(empty_data):
    im._mnist10k.cache_clear()
    try:
        with pytest.raises(FileNotFoundError, match="t10k-images-idx3-ubyte.gz"):
            im.load_mnist10k()
    finally:
        im._mnist10k.cache_clear()


def test_read_idx_round_trip_and_bad_header(tmp_path):
    arr = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    path = tmp_path / "a.gz"
    with gzip.open(path, "wb") as f:
        f.write(bytes([0, 0, 8, 3]) + struct.pack(">3I", 2, 3, 4) + arr.tobytes())
    np.testing.assert_array_equal(im.read_idx(path), arr)
    bad = tmp_path / "b"
    bad.write_bytes(bytes([0, 0, 0x0D, 1]) + struct.pack(">I", 1) + b"\0\0\0\0")
    with pytest.raises(ValueError, match="unsigned-byte"):
        im.read_idx(bad)
    short = tmp_path / "c"
    short.write_bytes(bytes([0, 0, 8, 1]) + struct.pack(">I", 5) + b"\1\2")
    with pytest.raises(ValueError, match="header says"):
        im.read_idx(short)


def _idx(arr: np.ndarray) -> bytes:
    return bytes([0, 0, 8, arr.ndim]) + struct.pack(f">{arr.ndim}I", *arr.shape) + arr.tobytes()


def test_read_idx_gzip_by_magic_bytes(tmp_path):
    arr = np.random.default_rng(0).integers(0, 256, size=(5, 7, 3), dtype=np.uint8)
    path = tmp_path / "no-suffix-idx3-ubyte"  # gzipped, whatever its name says
    path.write_bytes(gzip.compress(_idx(arr)))
    np.testing.assert_array_equal(im.read_idx(path), arr)
    two = tmp_path / "two-members.gz"  # concatenated gzip members are one stream
    data = _idx(arr)
    two.write_bytes(gzip.compress(data[:50]) + gzip.compress(data[50:]))
    np.testing.assert_array_equal(im.read_idx(two), arr)


def test_truncated_idx_names_file_and_sizes(tmp_path):
    arr = np.random.default_rng(1).integers(0, 256, size=(300, 28, 28), dtype=np.uint8)
    data = _idx(arr)
    expected = 16 + arr.size
    raw = tmp_path / "raw-idx3-ubyte"
    raw.write_bytes(data[:-1000])
    with pytest.raises(ValueError, match=rf"raw-idx3-ubyte: truncated IDX file: header says shape "
                       rf"\(300, 28, 28\), so expected {expected} bytes \(16 header \+ "
                       rf"{arr.size} data\), found {expected - 1000}$"):  # fmt: skip
        im.read_idx(raw)
    raw.write_bytes(data + b"\0")
    with pytest.raises(ValueError, match=rf"too long IDX file.*found {expected + 1}"):
        im.read_idx(raw)
    raw.write_bytes(data[:10])
    with pytest.raises(ValueError, match="raw-idx3-ubyte: truncated IDX header: 3 dimensions need "
                       "16 header bytes, found 10"):  # fmt: skip
        im.read_idx(raw)
    raw.write_bytes(b"\0\0")
    with pytest.raises(ValueError, match="expected at least 4 header bytes, found 2"):
        im.read_idx(raw)
    gz = tmp_path / "cut-idx3-ubyte.gz"  # a download cut short: the gzip stream ends early
    whole = gzip.compress(data)
    gz.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(ValueError, match=rf"cut-idx3-ubyte.gz: truncated IDX file: .*expected "
                       rf"{expected} bytes .*found \d+ \(the gzip stream ends early"):  # fmt: skip
        im.read_idx(gz)
    gz.write_bytes(whole[:-4])  # only the size trailer missing: every byte there, still refused
    with pytest.raises(ValueError, match=rf"found {expected} \(the gzip stream ends early"):
        im.read_idx(gz)
    bad = bytearray(whole)
    bad[len(bad) // 2] ^= 0xFF
    gz.write_bytes(bytes(bad))
    with pytest.raises(ValueError, match="cut-idx3-ubyte.gz: corrupt gzip data"):
        im.read_idx(gz)


def test_train_test_split():
    x = np.arange(20, dtype=np.float32).reshape(20, 1, 1, 1)
    y = np.repeat(np.arange(4), 5).astype(np.int32)
    (xtr, ytr), (xte, yte) = im.train_test_split(x, y, n_train=15, seed=1)
    assert len(ytr) == 15 and len(yte) == 5
    assert sorted(np.concatenate([xtr, xte]).ravel().tolist()) == list(range(20))
    np.testing.assert_array_equal(xtr.ravel().astype(int) // 5, ytr)  # pairs stay together
    with pytest.raises(ValueError, match="n_train"):
        im.train_test_split(x, y, n_train=20)


def test_train_val_test_split_is_the_three_step_split_and_disjoint():
    from xent_jax.data import train_test_split, train_val_test_split

    x, y = np.arange(300.0)[:, None], np.arange(300) % 7
    fit, val, test = train_val_test_split(x, y, n_train=200, val_fraction=0.15, seed=3, n_limit=250)
    (xl, yl), _ = train_test_split(x, y, n_train=250, seed=4)
    (xtr, ytr), (xte, yte) = train_test_split(xl, yl, n_train=200, seed=3)
    (xf, yf), (xv, yv) = train_test_split(xtr, ytr, n_train=170, seed=3)
    for got, want in zip((fit, val, test), ((xf, yf), (xv, yv), (xte, yte)), strict=True):
        np.testing.assert_array_equal(got[0], want[0])
        np.testing.assert_array_equal(got[1], want[1])
    ids = [set(part[0][:, 0].tolist()) for part in (fit, val, test)]
    assert [len(i) for i in ids] == [170, 30, 50] and not (
        ids[0] & ids[1] | ids[0] & ids[2] | ids[1] & ids[2]
    )
    fit0, _, _ = train_val_test_split(x, y, n_train=200, val_fraction=0.15, seed=3)
    assert len(fit0[1]) == 170
    for bad in (0.0, 1.0, True, -0.1):
        with pytest.raises(ValueError, match="val_fraction"):
            train_val_test_split(x, y, n_train=200, val_fraction=bad)
