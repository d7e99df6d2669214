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


def test_missing_file_names_it(tmp_path, monkeypatch):
    monkeypatch.setenv("XENT_DATA", str(tmp_path))
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


def test_train_test_split():
    x = np.arange(20, dtype=np.float32).reshape(20, 1, 1, 1)
    y = np.repeat(np.arange(4), 5).astype(np.int32)
    (xtr, ytr), (xte, yte) = im.train_test_split(x, y, n_train=15, seed=1)
    assert len(ytr) == 15 and len(yte) == 5
    assert sorted(np.concatenate([xtr, xte]).ravel().tolist()) == list(range(20))
    np.testing.assert_array_equal(xtr.ravel().astype(int) // 5, ytr)  # pairs stay together
    with pytest.raises(ValueError, match="n_train"):
        im.train_test_split(x, y, n_train=20)
