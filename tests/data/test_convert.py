"""Conversions from upstream files, on small files made here (and the shared PNGs when present)."""

from __future__ import annotations

import hashlib
import io
import struct

import numpy as np
import pytest
from PIL import Image

from xent_jax import _paths
from xent_jax.data import _convert as cv
from xent_jax.data import load_registry

SHARED = (_paths.REPO_ROOT.parent / "shared" / "data").resolve()


def make_tiff(arr: np.ndarray, *, big_endian: bool = False, strips: int = 1, compression=1):
    """A baseline uncompressed chunky TIFF of ``arr`` ([H, W, S] uint8/uint16), written by hand."""
    bo = ">" if big_endian else "<"
    h, w, spp = arr.shape
    pixels = arr.astype(arr.dtype.newbyteorder(bo)).tobytes()
    rows = -(-h // strips)
    row_bytes = w * spp * arr.dtype.itemsize
    chunks = [pixels[i * rows * row_bytes : (i + 1) * rows * row_bytes] for i in range(strips)]
    bits = 8 * arr.dtype.itemsize
    head = 8
    offsets, pos = [], head
    for c in chunks:
        offsets.append(pos)
        pos += len(c)
    extra = bytearray()
    ext_at = pos

    def longs(values):  # inline if one value, else stored after the pixel data
        nonlocal extra
        if len(values) == 1:
            return struct.pack(bo + "I", values[0])
        at = ext_at + len(extra)
        extra += struct.pack(bo + "I" * len(values), *values)
        return struct.pack(bo + "I", at)

    def shorts(values):
        nonlocal extra
        if len(values) <= 2:
            return struct.pack(bo + "H" * len(values), *values).ljust(4, b"\0")
        at = ext_at + len(extra)
        extra += struct.pack(bo + "H" * len(values), *values)
        return struct.pack(bo + "I", at)

    entries = [
        (256, 4, 1, longs([w])), (257, 4, 1, longs([h])),
        (258, 3, spp, shorts([bits] * spp)), (259, 3, 1, shorts([compression])),
        (262, 3, 1, shorts([2 if spp >= 3 else 1])),
        (273, 4, strips, longs(offsets)), (277, 3, 1, shorts([spp])),
        (278, 4, 1, longs([rows])), (279, 4, strips, longs([len(c) for c in chunks])),
        (284, 3, 1, shorts([1])),
    ]  # fmt: skip
    ifd_at = ext_at + len(extra)
    ifd = struct.pack(bo + "H", len(entries))
    for tag, typ, n, value in entries:
        ifd += struct.pack(bo + "HHI", tag, typ, n) + value
    ifd += struct.pack(bo + "I", 0)
    magic = b"MM\0*" if big_endian else b"II*\0"
    return magic + struct.pack(bo + "I", ifd_at) + b"".join(chunks) + bytes(extra) + ifd


def decode_png(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)))


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
@pytest.mark.parametrize("big_endian", [False, True])
@pytest.mark.parametrize("strips", [1, 3])
def test_read_tiff(dtype, big_endian, strips):
    rng = np.random.default_rng(0)
    arr = rng.integers(0, np.iinfo(dtype).max, size=(7, 5, 3), endpoint=True).astype(dtype)
    got = cv.read_tiff(make_tiff(arr, big_endian=big_endian, strips=strips))
    assert got.dtype == dtype and got.dtype.byteorder in "=|"
    np.testing.assert_array_equal(got, arr)


def test_read_tiff_refuses_what_it_cannot_decode():
    arr = np.zeros((2, 2, 1), np.uint8)
    with pytest.raises(ValueError, match="uncompressed TIFF.*got 5"):
        cv.read_tiff(make_tiff(arr, compression=5))
    with pytest.raises(ValueError, match="classic TIFF header"):
        cv.read_tiff(b"\x89PNG....")


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_tiff_to_png_keeps_channel_zero(dtype):
    grey = np.arange(12 * 9, dtype=dtype).reshape(12, 9) * (300 if dtype == np.uint16 else 2)
    rgb = np.repeat(grey[..., None], 3, axis=-1)
    png = cv.tiff_to_png(make_tiff(rgb))
    got = decode_png(png)
    assert got.dtype == dtype
    np.testing.assert_array_equal(got, grey)
    assert png == cv.encode_png(grey)  # deterministic bytes
    rgb[0, 0, 1] += 1
    with pytest.raises(ValueError, match="channels are all equal"):
        cv.tiff_to_png(make_tiff(rgb))


def test_label_tiff_to_png():
    labels = np.array([[0, 1, 2], [2, 1, 0]], np.uint8)
    np.testing.assert_array_equal(
        decode_png(cv.label_tiff_to_png(make_tiff(labels[..., None]))), labels
    )
    with pytest.raises(ValueError, match="one-channel 8-bit"):
        cv.label_tiff_to_png(make_tiff(np.zeros((2, 2, 3), np.uint8)))


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_paint_to_labels(dtype):
    m = np.iinfo(dtype).max
    rgba = np.array(
        [[[0, 0, m, m], [m, 0, 0, m], [7, 7, 7, m]], [[0, 0, 0, 0], [m, m, m, m], [0, 0, m, 0]]],
        dtype,
    )
    got = decode_png(cv.paint_to_labels_png(make_tiff(rgba)))
    np.testing.assert_array_equal(got, [[1, 2, 0], [0, 0, 1]])
    rgba[0, 2] = [0, m, 0, m]  # green is none of the paints
    with pytest.raises(ValueError, match="1 pixels are neither"):
        cv.paint_to_labels_png(make_tiff(rgba))


def test_igor_text_conversions():
    up = b"gene;anchor_index\nK1|TRBJ1-1*01|Homo sapiens|F|J, x|;17\nK2|TRBJ2*01|H|ORF|J|;5\n"
    assert cv.igor_anchors(up) == (
        b"gene,anchor_index,function\n"
        b"K1|TRBJ1-1*01|Homo sapiens|F|J  x|,17,F\nK2|TRBJ2*01|H|ORF|J|,5,ORF\n"
    )
    with pytest.raises(ValueError, match="header"):
        cv.igor_anchors(b"gene,anchor_index\n")
    assert cv.igor_params(b"@Event\n%a,b;1\n") == b"@Event\n%a b;1\n"


def test_manifest_from_pngs(tmp_path):
    (tmp_path / "ebc").mkdir()
    img, mask = tmp_path / "ebc" / "a.png", tmp_path / "ebc" / "a_mask.png"
    img.write_bytes(cv.encode_png(np.zeros((3, 4), np.uint16)))
    mask.write_bytes(cv.encode_png(np.array([[0, 2, 2, 0]] * 3, np.uint8)))
    got = cv.micrograph_manifest([("ebc", img, ["x/a.tif", "y/a.tif"], mask, ["x/a_annot.tif"])])
    assert got.decode() == (
        "group,image,mask,shape,dtype,mask_values,source_paths,source_mask\r\n"
        "ebc,a.png,a_mask.png,3x4,uint16,0 2,x/a.tif|y/a.tif,x/a_annot.tif\r\n"
    )


def _shared_or_skip():
    if not (SHARED / "micrographs" / "manifest.csv").is_file():
        pytest.skip(f"needs the shared micrographs at {SHARED}")
    return load_registry()


@pytest.mark.parametrize(
    "name",
    ["micrographs/ebc/070516_1_S1160030.png",  # 8-bit image
     "micrographs/superalloy/45kx_SE_15kV-etched_0.png",  # 16-bit image
     "micrographs/superalloy/spot1_0d_0_mask.png", "micrographs/ebc/070516_1_S1160030_mask.png"],
)  # fmt: skip
def test_encoder_reproduces_our_png_bytes(name):
    """Our PNGs' pixels, encoded again, give our bytes: the conversion's encoder is the one used."""
    reg = _shared_or_skip()
    png = cv.encode_png(decode_png((SHARED / name).read_bytes()))
    assert hashlib.sha256(png).hexdigest() == reg[name].sha256


def test_manifest_reproduces_ours():
    reg = _shared_or_skip()
    pngs = [f for f in reg.dataset_files("micrographs") if f.name.endswith(".png")]
    pairs = [
        (i.name.split("/")[1], SHARED / i.name, i.extra["upstream_paths"], SHARED / m.name,
         m.extra["upstream_paths"])
        for i, m in zip(pngs[::2], pngs[1::2], strict=True)
    ]  # fmt: skip
    got = cv.micrograph_manifest(pairs)
    assert hashlib.sha256(got).hexdigest() == reg["micrographs/manifest.csv"].sha256
