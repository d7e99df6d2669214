"""SEM micrographs of material microstructure with hand segmentations (NASA MicroNet benchmark).

The shared data folder holds ``micrographs/manifest.csv`` and, per material, greyscale PNGs with a
label map ``NAME_mask.png`` beside each image (Stuckner et al. 2022, npj Comput Mater):

* ``superalloy``: 23 Ni-superalloy images, 512x512; mask 0 = matrix, 1 = gamma-prime precipitates,
  2 = fine (secondary) precipitates.
* ``ebc``: 22 environmental-barrier-coating cross-sections, 1024x1024; mask 0 = background,
  1 = oxide, 2 = crack.

Images of the same specimen (e.g. ``spot1_0d_0`` and ``spot1_0d_1``) are near neighbours, so the
held-out split keeps a specimen's images together (:func:`split_by_image`); it never splits by
patch.
"""

from __future__ import annotations

import csv
import dataclasses
import re
from collections.abc import Sequence

import numpy as np

from xent_jax._paths import data_file
from xent_jax.data._report import LoadReport

MATERIALS: tuple[str, ...] = ("superalloy", "ebc")
MASK_CLASSES: dict[str, tuple[str, ...]] = {
    "superalloy": ("matrix", "gamma_prime", "fine_precipitate"),
    "ebc": ("background", "oxide", "crack"),
}


@dataclasses.dataclass(frozen=True)
class MicrographSet:
    """The micrographs of one material, stacked.

    Attributes:
      material: ``"superalloy"`` or ``"ebc"``.
      names: image file stems, length ``N``.
      images: float32 ``[N, H, W, 1]`` in ``[0, 1]`` (uint8 / 255, uint16 / 65535; no other change).
      masks: uint8 ``[N, H, W]`` label maps (see :data:`MASK_CLASSES`).
      report: the manifest rows of this material read, kept and dropped (``None`` for a set not
        read from the manifest, such as a :meth:`subset`).
    """

    material: str
    names: tuple[str, ...]
    images: np.ndarray
    masks: np.ndarray
    report: LoadReport | None = None

    def __len__(self) -> int:
        return len(self.names)

    def subset(self, indices: Sequence[int] | np.ndarray) -> MicrographSet:
        """Returns the images at ``indices`` (in that order)."""
        idx = np.asarray(indices, dtype=np.int64)
        return MicrographSet(
            material=self.material,
            names=tuple(self.names[i] for i in idx),
            images=self.images[idx],
            masks=self.masks[idx],
        )


def _check_material(material: str) -> None:
    if material not in MATERIALS:
        raise ValueError(f"material must be one of {MATERIALS}, got {material!r}")


def _read_png(path) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as im:
        arr = np.asarray(im)
    if arr.ndim != 2:
        raise ValueError(f"expected a single-channel PNG at {path}, got array shape {arr.shape}")
    return arr


def _to_unit(arr: np.ndarray, path) -> np.ndarray:
    if arr.dtype == np.uint8:
        return arr.astype(np.float32) / 255.0
    if arr.dtype == np.uint16:
        return arr.astype(np.float32) / 65535.0
    raise TypeError(f"expected a uint8 or uint16 image at {path}, got dtype {arr.dtype}")


def _manifest_rows(manifest, material: str) -> tuple[list[dict[str, str]], LoadReport]:
    """The manifest rows of ``material`` (first of each image) and the report on them.

    Raises:
      ValueError: naming the manifest (and line) for a missing column, a row of an unknown
        group, an empty file name, or no row for ``material``.
    """
    with open(manifest, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        missing = [c for c in ("group", "image", "mask") if c not in (reader.fieldnames or ())]
        if missing:
            raise ValueError(f"{manifest}: expected columns group, image, mask; missing {missing}")
        rows, drops, seen, read = [], [], set(), 0
        for row in reader:
            line = reader.line_num
            group = row["group"]
            if group not in MATERIALS:
                raise ValueError(
                    f"{manifest}, line {line}: group must be one of {MATERIALS}, got {group!r}"
                )
            if group != material:
                continue
            read += 1
            if not row["image"] or not row["mask"]:
                raise ValueError(f"{manifest}, line {line}: empty image or mask file name")
            if row["image"] in seen:
                drops.append(("duplicate_image", line))
                continue
            seen.add(row["image"])
            rows.append(row)
    if not rows:
        raise ValueError(f"{manifest} lists no images for material {material!r}")
    return rows, LoadReport.from_drops(str(manifest), read=read, drops=drops)


def load_micrographs(material: str) -> MicrographSet:
    """Loads every micrograph of one material with its label mask, in manifest order.

    A manifest row repeating an image already listed is dropped and counted in the report as
    ``duplicate_image`` (the shared manifest has none).

    Args:
      material: ``"superalloy"`` or ``"ebc"``.

    Returns:
      A :class:`MicrographSet` with images ``[N, H, W, 1]`` float32 in ``[0, 1]``, masks
      ``[N, H, W]`` uint8 and the ``report`` on the manifest rows.

    Raises:
      ValueError: for an unknown material, or a manifest row of an unknown group, with an empty
        file name, or a missing column (naming the manifest and line).
      FileNotFoundError: naming the manifest or the image/mask file that is missing.

    Examples:
      >>> ds = load_micrographs("superalloy")  # doctest: +SKIP
      >>> ds.images.shape, ds.masks.shape  # doctest: +SKIP
      ((23, 512, 512, 1), (23, 512, 512))
    """
    _check_material(material)
    manifest = data_file("micrographs", "manifest.csv", what="micrograph manifest")
    rows, report = _manifest_rows(manifest, material)
    names, images, masks = [], [], []
    for row in rows:
        img_path = data_file("micrographs", material, row["image"], what=f"{material} micrograph")
        mask_path = data_file("micrographs", material, row["mask"], what=f"{material} mask")
        img = _to_unit(_read_png(img_path), img_path)
        mask = _read_png(mask_path).astype(np.uint8)
        if img.shape != mask.shape:
            raise ValueError(f"{img_path} has shape {img.shape} but its mask has {mask.shape}")
        names.append(row["image"].removesuffix(".png"))
        images.append(img)
        masks.append(mask)
    shapes = {im.shape for im in images}
    if len(shapes) != 1:
        raise ValueError(f"{material} images must share one shape, got {sorted(shapes)}")
    return MicrographSet(
        material=material,
        names=tuple(names),
        images=np.stack(images)[..., None],
        masks=np.stack(masks),
        report=report,
    )


_FRAME = re.compile(r"_?\d{1,4}$")


def specimen_of(name: str) -> str:
    """Returns the specimen key of an image name: the name without its trailing frame number.

    Examples:
      >>> specimen_of("spot1_0d_3"), specimen_of("050317_3_S0440016")
      ('spot1_0d', '050317_3_S044')
    """
    key = _FRAME.sub("", name)
    return key or name


def split_by_image(
    names: Sequence[str],
    *,
    test_fraction: float = 0.3,
    seed: int = 0,
    by_specimen: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """Splits images (never patches) into train and held-out index sets.

    With ``by_specimen`` the unit is the specimen (:func:`specimen_of`), so frames of one specimen
    land on the same side. Units are shuffled with ``seed`` and taken into the held-out set until it
    holds at least ``test_fraction`` of the images; both sides are non-empty.

    Args:
      names: image names, length ``N >= 2``.
      test_fraction: target held-out share of images, in ``(0, 1)``.
      seed: shuffling seed; same seed, same split.
      by_specimen: keep each specimen's images together.

    Returns:
      ``(train_idx, test_idx)``, sorted int64 arrays partitioning ``range(N)``.

    Examples:
      >>> tr, te = split_by_image(["a_1", "a_2", "b_1", "c_1"], test_fraction=0.25, seed=0)
      >>> sorted(tr.tolist() + te.tolist())
      [0, 1, 2, 3]
    """
    names = list(names)
    if len(names) < 2:
        raise ValueError(f"names must hold at least 2 images, got {len(names)}")
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction}")
    keys = [specimen_of(n) if by_specimen else n for n in names]
    units = sorted(set(keys))
    if len(units) < 2:
        raise ValueError(f"need at least 2 specimens to split, got {units}")
    order = np.random.default_rng(seed).permutation(len(units))
    target = test_fraction * len(names)
    test_units: set[str] = set()
    count = 0
    for u in order[:-1]:  # the last unit always stays in train
        if count >= target:
            break
        test_units.add(units[u])
        count += keys.count(units[u])
    test = np.array([i for i, k in enumerate(keys) if k in test_units], dtype=np.int64)
    train = np.array([i for i, k in enumerate(keys) if k not in test_units], dtype=np.int64)
    return train, test
