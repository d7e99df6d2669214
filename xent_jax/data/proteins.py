"""Protein data: SCL2205 localisation splits (``p-scldata``), DeepLoc 1.0 FASTA, length bucketing.

* :func:`load_scl` reads ``scldata.loader.load(split)`` (pin ``p-scldata==2025.6.0``): 15,183 /
  1,260 / 2,631 homology-reduced UniProt proteins with 13 classes (4 of them multi-location names
  joined by ``;``). :func:`scl_targets` turns them into 13-way class ids and a 12-way multi-hot.
* :func:`load_deeploc` reads the DeepLoc 1.0 FASTA files from the shared data folder.
* :func:`bucket_batches` crops tokenised sequences to a maximum length and groups them into
  fixed-shape batches by length, so padding stays small and ``jit`` compiles once per bucket.
* :func:`composition_features` (amino-acid frequencies, the baseline features) and
  :func:`terminal_windows` (the N- and C-terminal windows that carry localisation signals).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence

import numpy as np

from xent_jax._paths import data_file
from xent_jax.bio.fasta import read_fasta
from xent_jax.bio.vocab import FIRST_RESIDUE, NUM_STANDARD, PAD, tokenize
from xent_jax.data._report import LoadReport

SCL_SPLITS = ("train", "eval", "heldout")
SCL_CLASSES: tuple[str, ...] = (
    "Cell projection",
    "Centrosome;Cytoplasm;Cytoskeleton;Microtubule organizing center",
    "Cytoplasm",
    "Cytoplasm;Cytoskeleton",
    "Cytoplasm;Membrane",
    "Cytoplasm;Nucleus",
    "ER",
    "Membrane",
    "Mitochondrion",
    "Nucleus",
    "Peroxisome",
    "Plastid",
    "Secreted",
)
"""The 13 SCL2205 classes as given (sorted)."""
SCL_LOCATIONS: tuple[str, ...] = tuple(sorted({p for c in SCL_CLASSES for p in c.split(";")}))
"""The 12 single locations obtained by splitting the class names on ``;`` (sorted)."""

DEEPLOC_FILES = {
    "test": "deeploc_test_set.fasta",
    "val": "deeploc_our_val_set.fasta",
    "hard": "setHARD.fasta",
}
DEEPLOC_TO_SCL = {
    "Cell.membrane": "Membrane",
    "Cytoplasm": "Cytoplasm",
    "Endoplasmic.reticulum": "ER",
    "Extracellular": "Secreted",
    "Mitochondrion": "Mitochondrion",
    "Nucleus": "Nucleus",
    "Peroxisome": "Peroxisome",
    "Plastid": "Plastid",
}
"""DeepLoc locations that have a single-location SCL2205 class (Golgi and Lysosome do not)."""


def load_scl(split: str) -> tuple[list[str], list[str]]:
    """Loads one SCL2205 split from ``p-scldata``.

    Args:
      split: ``"train"``, ``"eval"`` or ``"heldout"``.

    Returns:
      ``(sequences, classes)``: lists of equal length, in the package's order.

    Raises:
      ValueError: for an unknown split.
      ImportError: if ``p-scldata`` is not installed (``pip install p-scldata==2025.6.0``).

    Examples:
      >>> seqs, classes = load_scl("eval")
      >>> len(seqs)
      1260
    """
    if split not in SCL_SPLITS:
        raise ValueError(f"split must be one of {SCL_SPLITS}, got {split!r}")
    try:
        from scldata import loader
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError(
            "load_scl needs the package p-scldata==2025.6.0 (pip install 'xent-jax[experiments]')"
        ) from err
    frame = loader.load(split)
    if len(frame) == 0:
        raise ValueError(
            f"p-scldata returned an empty {split!r} split; pin p-scldata==2025.6.0 (newer is empty)"
        )
    return [str(s) for s in frame["seq"]], [str(c) for c in frame["scl"]]


def scl_targets(classes: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Turns SCL class names into softmax and multi-label targets.

    Args:
      classes: class names, each one of :data:`SCL_CLASSES`.

    Returns:
      ``(class_ids int32 [N], multi_hot float32 [N, 12])`` over :data:`SCL_CLASSES` and
      :data:`SCL_LOCATIONS`.

    Raises:
      ValueError: naming the first unknown class.

    Examples:
      >>> ids, hot = scl_targets(["Cytoplasm;Nucleus"])
      >>> int(ids[0]), int(hot.sum())
      (5, 2)
    """
    index = {c: i for i, c in enumerate(SCL_CLASSES)}
    loc_index = {c: i for i, c in enumerate(SCL_LOCATIONS)}
    ids = np.empty(len(classes), np.int32)
    hot = np.zeros((len(classes), len(SCL_LOCATIONS)), np.float32)
    for row, name in enumerate(classes):
        if name not in index:
            raise ValueError(f"classes[{row}] must be one of {SCL_CLASSES}, got {name!r}")
        ids[row] = index[name]
        for part in name.split(";"):
            hot[row, loc_index[part]] = 1.0
    return ids, hot


@dataclasses.dataclass(frozen=True)
class DeepLocSet:
    """A DeepLoc 1.0 FASTA file as arrays.

    Attributes:
      ids: UniProt accessions.
      sequences: amino-acid sequences.
      locations: DeepLoc location names (10 classes, e.g. ``"Cell.membrane"``).
      membrane: ``"M"``, ``"S"`` or ``"U"`` (membrane-bound, soluble, unknown).
      report: records read, kept and dropped by reason (``None`` when not read from a file).
    """

    ids: list[str]
    sequences: list[str]
    locations: list[str]
    membrane: list[str]
    report: LoadReport | None = None


def load_deeploc(name: str = "test", *, path: str | os.PathLike | None = None) -> DeepLocSet:
    """Reads a DeepLoc 1.0 FASTA file from ``$XENT_DATA/deeploc1`` (plain or gzip-compressed).

    A record whose accession was already read is dropped and counted in the report as
    ``duplicate_id`` (the first one is kept); the shared files have none.

    Args:
      name: ``"test"``, ``"val"`` or ``"hard"``.
      path: a DeepLoc-format FASTA file to read instead of the shared one (then ``name`` is
        not used).

    Returns:
      A :class:`DeepLocSet` with its ``report``.

    Raises:
      ValueError: for an unknown name, a header without ``Location-{M,S,U}``, a malformed record
        or text that is not UTF-8 (naming the file and line).
      FileNotFoundError: naming the file when the shared data is absent.
    """
    if path is None:
        if name not in DEEPLOC_FILES:
            raise ValueError(f"name must be one of {tuple(DEEPLOC_FILES)}, got {name!r}")
        path = data_file("deeploc1", DEEPLOC_FILES[name], what="DeepLoc 1.0 FASTA")
    records = read_fasta(path)
    ids, sequences, locations, membrane = [], [], [], []
    drops, seen = [], set()
    for rec in records:
        label = rec.description.split()[0] if rec.description else ""
        loc, _, mem = label.rpartition("-")
        if not loc or mem not in ("M", "S", "U"):
            raise ValueError(
                f"{path}, line {rec.line}: expected a header '>ID Location-M|S|U', "
                f"got {rec.description!r}"
            )
        if rec.id in seen:
            drops.append(("duplicate_id", rec.line))
            continue
        seen.add(rec.id)
        ids.append(rec.id)
        sequences.append(rec.sequence)
        locations.append(loc)
        membrane.append(mem)
    report = LoadReport.from_drops(str(path), read=len(records), drops=drops)
    return DeepLocSet(ids, sequences, locations, membrane, report)


def tokenize_all(sequences: Sequence[str]) -> list[np.ndarray]:
    """Tokenises each sequence with ``<cls>`` and ``<eos>`` (see :func:`xent_jax.bio.tokenize`)."""
    return [tokenize(s) for s in sequences]


def crop(tokens: np.ndarray, max_len: int, rng: np.random.Generator | None = None) -> np.ndarray:
    """Crops a token array to at most ``max_len`` tokens.

    A random window if ``rng`` is given, else the first ``max_len`` tokens (deterministic, for
    evaluation). Shorter arrays are returned unchanged.

    Examples:
      >>> crop(np.arange(10), 4).tolist()
      [0, 1, 2, 3]
    """
    if max_len < 1:
        raise ValueError(f"max_len must be >= 1, got {max_len}")
    n = len(tokens)
    if n <= max_len:
        return tokens
    start = int(rng.integers(0, n - max_len + 1)) if rng is not None else 0
    return tokens[start : start + max_len]


def pad_batch(arrays: Sequence[np.ndarray], length: int, rows: int | None = None) -> np.ndarray:
    """Stacks token arrays into ``[rows, length]`` int32, right-padded with ``PAD``.

    Extra rows (when ``rows > len(arrays)``) are all padding.
    """
    rows = len(arrays) if rows is None else rows
    out = np.full((rows, length), PAD, np.int32)
    for i, a in enumerate(arrays):
        if len(a) > length:
            raise ValueError(f"arrays[{i}] has length {len(a)}, longer than the batch {length}")
        out[i, : len(a)] = a
    return out


def bucket_batches(
    token_arrays: Sequence[np.ndarray],
    *,
    boundaries: Sequence[int] = (64, 128, 256, 512),
    tokens_per_batch: int = 8192,
    rng: np.random.Generator | None = None,
    drop_last: bool = False,
) -> list[np.ndarray]:
    """Crops sequences to ``max(boundaries)`` and groups them by length into padded batches.

    Each sequence goes to the smallest bucket length that holds it (after cropping); a batch of
    bucket length ``L`` has ``tokens_per_batch // L`` rows, so every batch has about the same
    number of tokens and only ``len(boundaries)`` distinct shapes exist (one ``jit`` compile
    each). With ``rng``, crops are random windows and sequences and batches are shuffled;
    without, the order is deterministic and crops take the start.

    Args:
      token_arrays: tokenised sequences (1-D int arrays).
      boundaries: increasing bucket lengths.
      tokens_per_batch: target tokens per batch (rows = this // bucket length, at least 1).
      rng: numpy Generator for cropping and shuffling, or None.
      drop_last: drop each bucket's last incomplete batch (training); otherwise it is padded
        with all-padding rows to the fixed shape.

    Returns:
      A list of int32 arrays ``[rows_L, L]``.

    Examples:
      >>> batches = bucket_batches([np.ones(5, np.int32)] * 3, boundaries=(8, 16),
      ...                          tokens_per_batch=16)
      >>> [b.shape for b in batches]
      [(2, 8), (2, 8)]
    """
    bounds = sorted(int(b) for b in boundaries)
    if not bounds or bounds[0] < 1:
        raise ValueError(f"boundaries must be positive integers, got {tuple(boundaries)}")
    if tokens_per_batch < 1:
        raise ValueError(f"tokens_per_batch must be >= 1, got {tokens_per_batch}")
    max_len = bounds[-1]
    order = np.arange(len(token_arrays))
    if rng is not None:
        rng.shuffle(order)
    per_bucket: dict[int, list[np.ndarray]] = {b: [] for b in bounds}
    for i in order:
        a = crop(np.asarray(token_arrays[i]), max_len, rng)
        length = next(b for b in bounds if len(a) <= b)
        per_bucket[length].append(a)
    batches = []
    for length in bounds:
        rows = max(1, tokens_per_batch // length)
        items = per_bucket[length]
        for start in range(0, len(items), rows):
            chunk = items[start : start + rows]
            if len(chunk) < rows and drop_last:
                continue
            batches.append(pad_batch(chunk, length, rows))
    if rng is not None:
        perm = rng.permutation(len(batches))
        batches = [batches[i] for i in perm]
    return batches


def unigram_frequencies(
    token_arrays: Sequence[np.ndarray], vocab_size: int, *, eligible_from: int
) -> np.ndarray:
    """Frequencies of token ids ``>= eligible_from`` (residues) with add-one smoothing.

    Returns:
      float64 ``[vocab_size]`` summing to one, zero below ``eligible_from``.
    """
    counts = np.zeros(vocab_size, np.float64)
    for a in token_arrays:
        counts += np.bincount(np.asarray(a), minlength=vocab_size)[:vocab_size]
    counts[:eligible_from] = 0.0
    counts[eligible_from:] += 1.0
    return counts / counts.sum()


def split_windows(tokens: np.ndarray, max_len: int) -> list[np.ndarray]:
    """Cuts a token array into consecutive windows of at most ``max_len`` (for evaluation).

    Examples:
      >>> [w.tolist() for w in split_windows(np.arange(5), 2)]
      [[0, 1], [2, 3], [4]]
    """
    if max_len < 1:
        raise ValueError(f"max_len must be >= 1, got {max_len}")
    tokens = np.asarray(tokens)
    return [tokens[i : i + max_len] for i in range(0, len(tokens), max_len)]


def shuffle_residues(
    batch: np.ndarray, rng: np.random.Generator, *, first_residue: int
) -> np.ndarray:
    """Permutes the residue tokens within each row, leaving padding and specials in place.

    The composition of every row is kept, its order is destroyed: the shuffled-context control
    for a masked language model.

    Args:
      batch: int ``[rows, length]``.
      rng: numpy Generator.
      first_residue: ids ``>= first_residue`` are residues (see ``xent_jax.bio.FIRST_RESIDUE``).

    Returns:
      A shuffled copy ``[rows, length]``.
    """
    out = np.array(batch, copy=True)
    for row in out:
        pos = np.flatnonzero(row >= first_residue)
        row[pos] = row[rng.permutation(pos)]
    return out


def composition_features(token_arrays: Sequence[np.ndarray]) -> np.ndarray:
    """Amino-acid composition: the 20 standard-residue frequencies of each tokenised sequence.

    Rare residues (``X``, ``U``, ...), padding and special tokens are not counted; a sequence
    without standard residues gives a row of zeros. The simplest baseline for sequence-level
    tasks such as localisation.

    Args:
      token_arrays: tokenised sequences (1-D int arrays, see :func:`tokenize_all`).

    Returns:
      float32 ``[num_sequences, 20]``, rows summing to 1 (or 0), columns in the order of
      ``xent_jax.bio.STANDARD_AMINO_ACIDS``.

    Examples:
      >>> f = composition_features([tokenize("AAC"), tokenize("W")])
      >>> f.shape, float(f[0].sum()), round(float(f[0].max()), 3)
      ((2, 20), 1.0, 0.667)
    """
    out = np.zeros((len(token_arrays), NUM_STANDARD), np.float32)
    for i, t in enumerate(token_arrays):
        t = np.asarray(t)
        if t.ndim != 1 or not np.issubdtype(t.dtype, np.integer):
            raise ValueError(f"token_arrays[{i}] must be a 1-D int array, got {t.dtype} {t.shape}")
        std = t[(t >= FIRST_RESIDUE) & (t < FIRST_RESIDUE + NUM_STANDARD)] - FIRST_RESIDUE
        counts = np.bincount(std, minlength=NUM_STANDARD).astype(np.float32)
        out[i] = counts / max(counts.sum(), 1.0)
    return out


def terminal_windows(
    token_arrays: Sequence[np.ndarray], *, n_term: int, c_term: int
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """The first ``n_term`` and the last ``c_term`` tokens of each tokenised sequence.

    Localisation signals sit mostly at the termini (signal and transit peptides at the
    N-terminus, peroxisomal and ER-retention motifs at the C-terminus), so pooled embeddings of
    both windows are a cheap summary of long proteins. A sequence shorter than a window is
    returned whole for it.

    Args:
      token_arrays: tokenised sequences (1-D int arrays, ``<cls>`` first and ``<eos>`` last).
      n_term: tokens kept from the start (``<cls>`` included).
      c_term: tokens kept from the end (``<eos>`` included).

    Returns:
      ``(first, last)``: two lists of 1-D arrays, in the input order.

    Examples:
      >>> first, last = terminal_windows([np.arange(6)], n_term=2, c_term=3)
      >>> first[0].tolist(), last[0].tolist()
      ([0, 1], [3, 4, 5])
    """
    for name, value in (("n_term", n_term), ("c_term", c_term)):
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
            raise ValueError(f"{name} must be an int >= 1, got {value!r}")
    first = [np.asarray(t)[:n_term] for t in token_arrays]
    last = [np.asarray(t)[-c_term:] for t in token_arrays]
    return first, last
