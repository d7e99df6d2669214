"""Conversions from upstream files to the files the loaders read (bytes in, bytes out).

Each registry entry whose ``conversion`` is set is made by the function of that name in
:data:`CONVERSIONS` from the upstream file's bytes; ``xent-jax data fetch`` (without ``--mirror``)
downloads the upstream file, checks its sha256, converts it and checks our sha256, so a fetch from
the sources reproduces our files byte for byte.

* ``tiff_to_png``: an uncompressed TIFF whose three channels are equal (8- or 16-bit) to a lossless
  single-channel PNG of channel 0 (the NASA MicroNet micrographs).
* ``label_tiff_to_png``: a one-channel 8-bit TIFF label map to PNG, values unchanged (EBC masks).
* ``paint_to_labels_png``: an RGB(A) TIFF painted pure blue (1, gamma-prime) and pure red (2, fine
  precipitates) over a grey image (0, matrix) to a PNG label map (superalloy masks).
* ``igor_params``: IGoR ``model_parms.txt`` with the commas in IMGT gene names replaced by spaces
  (OLGA splits on commas).
* ``igor_anchors``: IGoR ``gene;anchor_index`` anchor files to OLGA's ``gene,anchor_index,function``
  (function is the 4th ``|``-separated field of the IMGT name; commas in names become spaces).
* ``micrograph_manifest`` (:func:`micrograph_manifest`): ``micrographs/manifest.csv``, generated
  from the registry's micrograph entries and the PNG files.

PNGs are written by Pillow with ``optimize=True`` (zlib level 9, adaptive filters), as ours were.
"""

from __future__ import annotations

import csv
import io
import struct
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np

__all__ = [
    "CONVERSIONS",
    "encode_png",
    "igor_anchors",
    "igor_params",
    "label_tiff_to_png",
    "micrograph_manifest",
    "paint_to_labels_png",
    "read_tiff",
    "tiff_to_png",
]

_TIFF_TYPES = {1: "B", 3: "H", 4: "I", 16: "Q"}  # BYTE, SHORT, LONG, LONG8 (BigTIFF, unused)


def read_tiff(data: bytes) -> np.ndarray:
    """Decodes the first image of a baseline, uncompressed, chunky TIFF.

    Args:
      data: the TIFF file's bytes (little- or big-endian; 8- or 16-bit samples; strips).

    Returns:
      ``[height, width, samples]`` uint8 or uint16 array.

    Raises:
      ValueError: for anything else (compression, planar layout, tiles, other sample sizes).

    Examples:
      >>> a = np.arange(6, dtype=np.uint8).reshape(2, 3, 1)
      >>> from PIL import Image
      >>> buf = io.BytesIO(); Image.fromarray(a[..., 0]).save(buf, format="TIFF")
      >>> read_tiff(buf.getvalue())[..., 0].tolist()
      [[0, 1, 2], [3, 4, 5]]
    """
    if data[:4] not in (b"II*\x00", b"MM\x00*"):
        raise ValueError(f"expected a classic TIFF header (II*/MM*), got {data[:4]!r}")
    bo = "<" if data[:2] == b"II" else ">"
    (ifd,) = struct.unpack(bo + "I", data[4:8])
    (count,) = struct.unpack(bo + "H", data[ifd : ifd + 2])
    tags: dict[int, tuple[int, ...]] = {}
    for k in range(count):
        e = data[ifd + 2 + 12 * k : ifd + 14 + 12 * k]
        tag, typ, n = struct.unpack(bo + "HHI", e[:8])
        if typ not in _TIFF_TYPES:
            continue  # rationals, ASCII, ...: not needed to decode the pixels
        nbytes = struct.calcsize(_TIFF_TYPES[typ]) * n
        if nbytes <= 4:
            raw = e[8 : 8 + nbytes]
        else:
            (at,) = struct.unpack(bo + "I", e[8:12])
            raw = data[at : at + nbytes]
        tags[tag] = struct.unpack(bo + _TIFF_TYPES[typ] * n, raw)
    width, height = tags[256][0], tags[257][0]
    spp = tags.get(277, (1,))[0]
    bits = set(tags.get(258, (1,)))
    compression = tags.get(259, (1,))[0]
    planar = tags.get(284, (1,))[0]
    if compression != 1:
        raise ValueError(f"expected an uncompressed TIFF (compression 1), got {compression}")
    if planar != 1 and spp > 1:
        raise ValueError(f"expected chunky samples (PlanarConfiguration 1), got {planar}")
    if len(bits) != 1 or next(iter(bits)) not in (8, 16):
        raise ValueError(f"expected 8- or 16-bit samples, got BitsPerSample {sorted(bits)}")
    if 273 not in tags:
        raise ValueError("expected a stripped TIFF (StripOffsets), got none (tiled?)")
    dtype = np.dtype(bo + ("u1" if bits == {8} else "u2"))
    pixels = b"".join(data[o : o + c] for o, c in zip(tags[273], tags[279], strict=True))
    need = width * height * spp * dtype.itemsize
    if len(pixels) < need:
        raise ValueError(f"TIFF strips hold {len(pixels)} bytes, the image needs {need}")
    arr = np.frombuffer(pixels[:need], dtype).reshape(height, width, spp)
    return arr.astype(dtype.newbyteorder("="))


def encode_png(image: np.ndarray) -> bytes:
    """A lossless single-channel PNG of a 2-D uint8 or uint16 array (Pillow, ``optimize=True``).

    Examples:
      >>> from PIL import Image
      >>> png = encode_png(np.array([[0, 65535]], np.uint16))
      >>> np.asarray(Image.open(io.BytesIO(png))).tolist()
      [[0, 65535]]
    """
    from PIL import Image

    if image.ndim != 2 or image.dtype not in (np.uint8, np.uint16):
        raise ValueError(f"expected a 2-D uint8 or uint16 array, got {image.dtype} {image.shape}")
    img = Image.fromarray(image)
    buf = io.BytesIO()
    img.save(buf, format="PNG", optimize=True)
    return buf.getvalue()


def tiff_to_png(data: bytes) -> bytes:
    """A TIFF with equal channels (8- or 16-bit) to a greyscale PNG of channel 0."""
    arr = read_tiff(data)
    if not (arr == arr[..., :1]).all():
        raise ValueError("expected a TIFF whose channels are all equal (greyscale), they differ")
    return encode_png(np.ascontiguousarray(arr[..., 0]))


def label_tiff_to_png(data: bytes) -> bytes:
    """A one-channel 8-bit TIFF label map to a PNG with the same values."""
    arr = read_tiff(data)
    if arr.shape[-1] != 1 or arr.dtype != np.uint8:
        raise ValueError(f"expected a one-channel 8-bit label TIFF, got {arr.dtype} {arr.shape}")
    return encode_png(np.ascontiguousarray(arr[..., 0]))


def paint_to_labels_png(data: bytes) -> bytes:
    """An RGB(A) TIFF painted blue/red over grey to a PNG label map (0 grey, 1 blue, 2 red).

    Pure blue ``(0, 0, max)`` is 1 (gamma-prime), pure red ``(max, 0, 0)`` is 2 (fine secondary
    precipitates), grey (``R == G == B``) is 0 (matrix), with ``max`` 255 for 8-bit and 65535
    for 16-bit samples; alpha is ignored.

    Raises:
      ValueError: when a pixel is none of these (naming how many).
    """
    arr = read_tiff(data)
    if arr.shape[-1] not in (3, 4):
        raise ValueError(f"expected an RGB(A) TIFF, got {arr.dtype} {arr.shape}")
    full = np.iinfo(arr.dtype).max
    r, g, b = (arr[..., i] for i in range(3))
    blue = (r == 0) & (g == 0) & (b == full)
    red = (r == full) & (g == 0) & (b == 0)
    grey = (r == g) & (g == b)
    other = ~(blue | red | grey)
    if other.any():
        raise ValueError(f"{int(other.sum())} pixels are neither pure blue, pure red nor grey")
    labels = np.where(blue, 1, np.where(red, 2, 0)).astype(np.uint8)
    return encode_png(labels)


def igor_params(data: bytes) -> bytes:
    """IGoR ``model_parms.txt``: commas (inside IMGT gene names) replaced by spaces.

    Examples:
      >>> igor_params(b"%X|TRBV7-2*05| Edited, partial| |;ACGT;1\\n")
      b'%X|TRBV7-2*05| Edited  partial| |;ACGT;1\\n'
    """
    return data.replace(b",", b" ")


def igor_anchors(data: bytes) -> bytes:
    """IGoR ``gene;anchor_index`` rows to OLGA's ``gene,anchor_index,function``.

    Examples:
      >>> igor_anchors(b"gene;anchor_index\\nK1|TRBJ1-1*01|Homo sapiens|F|J-REGION|, x|;17\\n")
      b'gene,anchor_index,function\\nK1|TRBJ1-1*01|Homo sapiens|F|J-REGION|  x|,17,F\\n'
    """
    lines = data.decode("utf-8").split("\n")
    if lines[0].strip() != "gene;anchor_index":
        raise ValueError(f"expected the header 'gene;anchor_index', got {lines[0][:40]!r}")
    out = ["gene,anchor_index,function"]
    for line in lines[1:]:
        if not line:
            continue
        gene, sep, index = line.rpartition(";")
        fields = gene.split("|")
        if not sep or len(fields) < 4:
            raise ValueError(f"expected 'IMGT|name|species|function|...;index', got {line[:60]!r}")
        out.append(f"{gene.replace(',', ' ')},{index},{fields[3]}")
    return ("\n".join(out) + "\n").encode("utf-8")


CONVERSIONS: Mapping[str, Callable[[bytes], bytes]] = {
    "tiff_to_png": tiff_to_png,
    "label_tiff_to_png": label_tiff_to_png,
    "paint_to_labels_png": paint_to_labels_png,
    "igor_params": igor_params,
    "igor_anchors": igor_anchors,
}

_MANIFEST_FIELDS = [
    "group", "image", "mask", "shape", "dtype", "mask_values", "source_paths", "source_mask",
]  # fmt: skip


def micrograph_manifest(
    pairs: Sequence[tuple[str, Path, Sequence[str], Path, Sequence[str]]],
) -> bytes:
    """``micrographs/manifest.csv`` for (group, image PNG, its upstream paths, mask PNG, ...).

    Args:
      pairs: one ``(group, image_path, image_upstream_paths, mask_path, mask_upstream_paths)`` per
        micrograph, in manifest order.

    Returns:
      The CSV bytes: ``group,image,mask,shape,dtype,mask_values,source_paths,source_mask``.
    """
    from PIL import Image

    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(_MANIFEST_FIELDS)
    for group, image, image_up, mask, mask_up in pairs:
        img = np.asarray(Image.open(image))
        values = np.unique(np.asarray(Image.open(mask)))
        writer.writerow(
            [group, Path(image).name, Path(mask).name, f"{img.shape[0]}x{img.shape[1]}",
             str(img.dtype), " ".join(str(v) for v in values), "|".join(image_up),
             "|".join(mask_up)]
        )  # fmt: skip
    return buf.getvalue().encode("utf-8")
