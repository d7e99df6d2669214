"""Tests for the micrograph loader and the split by image/specimen."""

from __future__ import annotations

import numpy as np
import pytest

from xent_jax.data.micrographs import (
    MASK_CLASSES,
    MicrographSet,
    _manifest_rows,
    load_micrographs,
    specimen_of,
    split_by_image,
)

EXPECTED = {"superalloy": (23, 512), "ebc": (22, 1024)}


@pytest.mark.parametrize("material", ["superalloy", "ebc"])
def test_load_real_micrographs(shared_data, material):
    shared_data("micrographs", "manifest.csv")
    ds = load_micrographs(material)
    n, side = EXPECTED[material]
    assert len(ds) == n and len(set(ds.names)) == n
    assert ds.images.shape == (n, side, side, 1) and ds.images.dtype == np.float32
    assert ds.masks.shape == (n, side, side) and ds.masks.dtype == np.uint8
    assert ds.report.as_metrics() == {"read": n, "kept": n, "dropped": 0}
    assert 0.0 <= ds.images.min() and ds.images.max() <= 1.0
    # every image uses a real range of grey levels and its mask only the documented labels
    assert np.all(ds.images.reshape(n, -1).std(axis=1) > 0.01)
    assert set(np.unique(ds.masks).tolist()) <= set(range(len(MASK_CLASSES[material])))
    sub = ds.subset([2, 0])
    assert sub.names == (ds.names[2], ds.names[0])
    np.testing.assert_array_equal(sub.masks[1], ds.masks[0])


def test_sixteen_bit_images_are_scaled_to_unit_range(shared_data):
    shared_data("micrographs", "manifest.csv")
    ds = load_micrographs("superalloy")
    i = ds.names.index("45kx_SE_15kV-etched_0")  # a uint16 PNG in the source (max 65535)
    assert ds.images[i].max() == pytest.approx(1.0)
    assert ds.images[i].min() == pytest.approx(68 / 65535, abs=1e-7)


def test_missing_data_raises_naming_the_file(empty_data, tmp_path, monkeypatch):
    from xent_jax.data import Registry, _registry

    with pytest.raises(FileNotFoundError, match="micrographs/manifest.csv"):
        load_micrographs("ebc")
    # a made-up manifest has another size than the registry's, which lookups refuse; without
    # a registry, any file is taken as it is
    monkeypatch.setattr(_registry, "_load_default", lambda: Registry([], {}))
    (tmp_path / "micrographs").mkdir()
    (tmp_path / "micrographs" / "manifest.csv").write_text(
        "group,image,mask\nebc,foo.png,foo_mask.png\n"
    )
    with pytest.raises(FileNotFoundError, match="micrographs/ebc/foo.png"):
        load_micrographs("ebc")


def test_manifest_rows_counted_or_refused_by_line(tmp_path):
    path = tmp_path / "manifest.csv"
    path.write_text(
        "group,image,mask\nebc,a.png,a_mask.png\nsuperalloy,b.png,b_mask.png\n"
        "ebc,c.png,c_mask.png\nebc,a.png,a_mask.png\n"
    )
    rows, report = _manifest_rows(path, "ebc")
    assert [r["image"] for r in rows] == ["a.png", "c.png"]
    assert (report.read, report.kept, report.dropped) == (3, 2, {"duplicate_image": 1})
    assert report.examples == {"duplicate_image": (5,)}
    path.write_text("group,image,mask\nebc,a.png,a_mask.png\nsteel,b.png,b_mask.png\n")
    with pytest.raises(ValueError, match=r"manifest.csv, line 3: group must be one of"):
        _manifest_rows(path, "ebc")
    path.write_text("group,image,mask\nebc,a.png,a_mask.png\nebc,c.png\n")
    with pytest.raises(ValueError, match=r"manifest.csv, line 3: empty image or mask"):
        _manifest_rows(path, "ebc")
    path.write_text("group,picture,mask\nebc,a.png,a_mask.png\n")
    with pytest.raises(ValueError, match=r"missing \['image'\]"):
        _manifest_rows(path, "ebc")


def test_unknown_material_raises():
    with pytest.raises(ValueError, match="material must be one of"):
        load_micrographs("steel")


def test_specimen_of():
    assert specimen_of("spot1_0d_0") == "spot1_0d"
    assert specimen_of("spot1_180d_5") == "spot1_180d"
    assert specimen_of("050317_3_S0440016") == "050317_3_S044"
    assert specimen_of("S879_062216_3-31cyc0030") == "S879_062216_3-31cyc"
    assert specimen_of("1234") == "1234"


NAMES = [f"s{k}_{f}" for k in range(6) for f in range(k % 3 + 1)]  # 6 specimens, 12 images


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_split_keeps_specimens_together(seed):
    train, test = split_by_image(NAMES, test_fraction=0.3, seed=seed)
    np.testing.assert_array_equal(np.sort(np.concatenate([train, test])), np.arange(len(NAMES)))
    assert len(test) >= 0.3 * len(NAMES) and len(train) > 0
    train_specs = {specimen_of(NAMES[i]) for i in train}
    test_specs = {specimen_of(NAMES[i]) for i in test}
    assert not train_specs & test_specs
    again = split_by_image(NAMES, test_fraction=0.3, seed=seed)
    np.testing.assert_array_equal(again[1], test)


def test_split_by_image_alone_can_separate_frames():
    names = ["a_1", "a_2", "a_3", "a_4"]
    with pytest.raises(ValueError, match="at least 2 specimens"):
        split_by_image(names, test_fraction=0.5)
    train, test = split_by_image(names, test_fraction=0.5, by_specimen=False, seed=3)
    assert len(test) == 2 and len(train) == 2


def test_split_seeds_differ_and_bad_fraction_raises():
    splits = {tuple(split_by_image(NAMES, seed=s)[1].tolist()) for s in range(6)}
    assert len(splits) > 1
    with pytest.raises(ValueError, match="test_fraction"):
        split_by_image(NAMES, test_fraction=1.0)


def test_micrograph_set_is_a_plain_container():
    ds = MicrographSet(
        "ebc", ("a", "b"), np.zeros((2, 4, 4, 1), np.float32), np.zeros((2, 4, 4), np.uint8)
    )
    assert len(ds.subset([1])) == 1
