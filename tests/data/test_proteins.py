"""Protein data: SCL2205 splits and targets, DeepLoc FASTA, bucketing, cropping, windows."""

from __future__ import annotations

import gzip

import numpy as np
import pytest

from xent_jax import bio
from xent_jax.data import proteins as P


@pytest.fixture(scope="module")
def scl():
    pytest.importorskip("scldata")
    return {s: P.load_scl(s) for s in P.SCL_SPLITS}


def test_scl_split_sizes_and_classes(scl):
    assert [len(scl[s][0]) for s in P.SCL_SPLITS] == [15183, 1260, 2631]
    assert set(scl["train"][1]) == set(P.SCL_CLASSES)
    assert len(P.SCL_CLASSES) == 13 and len(P.SCL_LOCATIONS) == 12
    assert sum(";" in c for c in P.SCL_CLASSES) == 4


def test_scl_targets(scl):
    classes = scl["eval"][1]
    ids, hot = P.scl_targets(classes)
    assert ids.dtype == np.int32 and hot.shape == (1260, 12)
    for c, i, h in zip(classes[:50], ids[:50], hot[:50], strict=True):
        assert P.SCL_CLASSES[i] == c
        assert {P.SCL_LOCATIONS[j] for j in np.flatnonzero(h)} == set(c.split(";"))
    with pytest.raises(ValueError, match="Golgi"):
        P.scl_targets(["Golgi"])
    with pytest.raises(ValueError, match="split"):
        P.load_scl("test")


def test_unigram_baseline_matches_reference(scl):
    """Train frequencies scored on heldout residues give the documented 18.12."""
    train = P.tokenize_all(scl["train"][0])
    held = P.tokenize_all(scl["heldout"][0])
    f = P.unigram_frequencies(train, bio.VOCAB_SIZE, eligible_from=bio.FIRST_RESIDUE)
    assert f[: bio.FIRST_RESIDUE].sum() == 0 and abs(f.sum() - 1) < 1e-12
    res = np.concatenate([t[t >= bio.FIRST_RESIDUE] for t in held])
    ppl = np.exp(-np.log(f[res]).mean())
    assert abs(ppl - 18.12) < 0.01
    assert ppl < 20.0  # better than uniform over the 20 residues


def test_deeploc(shared_data):
    shared_data("deeploc1", "deeploc_test_set.fasta")
    test = P.load_deeploc("test")
    assert len(test.ids) == 2768
    assert test.report.as_metrics() == {"read": 2768, "kept": 2768, "dropped": 0}
    assert len(set(test.locations)) == 10 and set(test.membrane) == {"M", "S", "U"}
    assert set(P.DEEPLOC_TO_SCL.values()) <= set(P.SCL_CLASSES)
    with pytest.raises(ValueError, match="name"):
        P.load_deeploc("train")


def test_deeploc_counts_duplicates_and_names_bad_text(tmp_path):
    path = tmp_path / "setHARD.fasta"
    text = ">A1 Nucleus-U\nMKV\n>B2 Cytoplasm-S\nMW\n>A1 Nucleus-U\nMKV\n"
    path.write_bytes(gzip.compress(text.encode()))  # gzip, whatever the name says
    hard = P.load_deeploc(path=path)
    assert (hard.ids, hard.locations, hard.membrane) == (["A1", "B2"], ["Nucleus", "Cytoplasm"],
                                                         ["U", "S"])  # fmt: skip
    assert hard.report.dropped == {"duplicate_id": 1}
    assert hard.report.examples == {"duplicate_id": (5,)}
    path.write_bytes(">A1 Nucleus-U\nMKV\n>B2 Noyau-S \xe9\nMW\n".encode("latin-1"))
    with pytest.raises(ValueError, match="setHARD.fasta, line 3: not UTF-8"):
        P.load_deeploc(path=path)


def test_deeploc_missing_file_names_it(empty_data):
    with pytest.raises(FileNotFoundError, match="deeploc_test_set.fasta"):
        P.load_deeploc("test")


def test_crop_and_windows():
    a = np.arange(10)
    assert P.crop(a, 20) is a
    rng = np.random.default_rng(0)
    starts = {int(P.crop(a, 4, rng)[0]) for _ in range(200)}
    assert starts == set(range(7))  # every window position is reachable
    w = P.split_windows(a, 4)
    np.testing.assert_array_equal(np.concatenate(w), a)
    assert [len(x) for x in w] == [4, 4, 2]


def test_bucket_batches_shapes_and_coverage():
    rng = np.random.default_rng(1)
    arrays = [np.full(int(n), 5, np.int32) for n in rng.integers(1, 100, size=300)]
    batches = P.bucket_batches(arrays, boundaries=(16, 32, 64), tokens_per_batch=256)
    shapes = {b.shape for b in batches}
    assert shapes <= {(16, 16), (8, 32), (4, 64)}
    # deterministic mode keeps every (cropped) token exactly once
    total = sum(min(len(a), 64) for a in arrays)
    assert sum(int((b != bio.PAD).sum()) for b in batches) == total
    # padding is small: each sequence sits in the smallest bucket that holds it
    for b in batches:
        lengths = (b != bio.PAD).sum(1)
        real = lengths[lengths > 0]
        assert real.max() <= b.shape[1] and (b.shape[1] == 16 or real.min() > b.shape[1] // 2)


def test_bucket_batches_random_drop_last_and_seeded():
    arrays = [np.arange(1, n + 1, dtype=np.int32) for n in range(1, 200)]
    a = P.bucket_batches(
        arrays,
        boundaries=(32, 64),
        tokens_per_batch=128,
        rng=np.random.default_rng(5),
        drop_last=True,
    )
    b = P.bucket_batches(
        arrays,
        boundaries=(32, 64),
        tokens_per_batch=128,
        rng=np.random.default_rng(5),
        drop_last=True,
    )
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    assert all((x != bio.PAD).any(axis=1).all() for x in a)  # no all-padding rows
    with pytest.raises(ValueError, match="tokens_per_batch"):
        P.bucket_batches(arrays, tokens_per_batch=0)


def test_shuffle_residues_keeps_composition_and_specials():
    rng = np.random.default_rng(0)
    batch = np.array([[2, 4, 5, 6, 7, 8, 9, 3, 0, 0]] * 4, np.int32)
    out = P.shuffle_residues(batch, rng, first_residue=bio.FIRST_RESIDUE)
    np.testing.assert_array_equal(out[:, [0, 7, 8, 9]], batch[:, [0, 7, 8, 9]])
    np.testing.assert_array_equal(np.sort(out, axis=1), np.sort(batch, axis=1))
    assert not np.array_equal(out, batch)


def test_composition_features_matches_counts():
    toks = [bio.tokenize("AACX"), bio.tokenize("W"), bio.tokenize("")]
    f = P.composition_features(toks)
    assert f.shape == (3, 20) and f.dtype == np.float32
    np.testing.assert_allclose(f.sum(1), [1.0, 1.0, 0.0])
    ref = np.zeros(20)
    ref[[bio.STANDARD_AMINO_ACIDS.index("A"), bio.STANDARD_AMINO_ACIDS.index("C")]] = [2, 1]
    np.testing.assert_allclose(f[0], ref / 3, atol=1e-7)  # X (rare) and specials not counted
    assert f[1, bio.STANDARD_AMINO_ACIDS.index("W")] == 1.0
    with pytest.raises(ValueError, match="token_arrays\\[0\\]"):
        P.composition_features([np.zeros((2, 2), np.int32)])


def test_terminal_windows():
    toks = [np.arange(10), np.arange(3)]
    first, last = P.terminal_windows(toks, n_term=4, c_term=2)
    assert [a.tolist() for a in first] == [[0, 1, 2, 3], [0, 1, 2]]
    assert [a.tolist() for a in last] == [[8, 9], [1, 2]]
    with pytest.raises(ValueError, match="c_term"):
        P.terminal_windows(toks, n_term=4, c_term=0)
