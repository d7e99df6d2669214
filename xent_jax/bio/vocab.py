"""Amino-acid vocabulary: special tokens, the 20 standard residues and the rare IUPAC codes.

Token ids are fixed so that checkpoints stay readable across versions::

    0 PAD   1 MASK   2 CLS   3 EOS
    4..23   A C D E F G H I K L M N P Q R S T V W Y   (standard residues, alphabetical)
    24..28  X B Z U O                                  (rare codes: unknown, Asx, Glx, Sec, Pyl)

Rare codes get their own tokens (they are real residues, so masking may select them), and
:func:`count_residues` reports how many were seen, so nothing is dropped silently.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence

import numpy as np

PAD, MASK, CLS, EOS = 0, 1, 2, 3
SPECIAL_TOKENS: tuple[str, ...] = ("<pad>", "<mask>", "<cls>", "<eos>")
STANDARD_AMINO_ACIDS = "ACDEFGHIKLMNPQRSTVWY"
RARE_AMINO_ACIDS = "XBZUO"
ALPHABET: tuple[str, ...] = SPECIAL_TOKENS + tuple(STANDARD_AMINO_ACIDS) + tuple(RARE_AMINO_ACIDS)
VOCAB_SIZE = len(ALPHABET)
FIRST_RESIDUE = len(SPECIAL_TOKENS)
"""Id of the first residue token (``A``); residue ids are ``FIRST_RESIDUE .. VOCAB_SIZE - 1``."""
NUM_STANDARD = len(STANDARD_AMINO_ACIDS)
STANDARD_IDS = np.arange(FIRST_RESIDUE, FIRST_RESIDUE + NUM_STANDARD, dtype=np.int32)
"""Token ids of the 20 standard residues, ``[20]``."""

_CHAR_TO_ID = {c: i for i, c in enumerate(ALPHABET) if len(c) == 1}
_LOOKUP = np.full(256, -1, dtype=np.int32)
for _c, _i in _CHAR_TO_ID.items():
    _LOOKUP[ord(_c)] = _i
    _LOOKUP[ord(_c.lower())] = _i


def tokenize(
    sequence: str,
    *,
    add_cls: bool = True,
    add_eos: bool = True,
) -> np.ndarray:
    """Converts a protein sequence into token ids.

    Upper or lower case letters are accepted; a trailing ``*`` (stop codon in some FASTA files)
    is removed. Any other character raises.

    Args:
      sequence: one-letter amino-acid codes, e.g. ``"MKTAYIAK"``.
      add_cls: prepend the ``<cls>`` token (marks the true N-terminus).
      add_eos: append the ``<eos>`` token (marks the true C-terminus).

    Returns:
      int32 array ``[len(sequence) + add_cls + add_eos]``.

    Raises:
      TypeError: if ``sequence`` is not a ``str``.
      ValueError: naming the first character that is not an amino-acid code.

    Examples:
      >>> tokenize("ACX").tolist()
      [2, 4, 5, 24, 3]
    """
    if not isinstance(sequence, str):
        raise TypeError(f"sequence must be a str, got {type(sequence).__name__}")
    seq = sequence.strip().removesuffix("*")
    raw = np.frombuffer(seq.encode("ascii", errors="replace"), dtype=np.uint8)
    ids = _LOOKUP[raw]
    bad = np.flatnonzero(ids < 0)
    if bad.size:
        pos = int(bad[0])
        raise ValueError(
            f"sequence has a character that is not an amino-acid code: expected one of "
            f"{STANDARD_AMINO_ACIDS + RARE_AMINO_ACIDS}, got {seq[pos]!r} at position {pos}"
        )
    parts = []
    if add_cls:
        parts.append(np.array([CLS], np.int32))
    parts.append(ids.astype(np.int32))
    if add_eos:
        parts.append(np.array([EOS], np.int32))
    return np.concatenate(parts)


def detokenize(tokens: Sequence[int] | np.ndarray, *, keep_special: bool = False) -> str:
    """Converts token ids back into a sequence string.

    Args:
      tokens: token ids ``[length]``.
      keep_special: if True, special tokens appear as ``<pad>``, ``<mask>``, ...; by default
        they are dropped, so ``detokenize(tokenize(s)) == s.upper()``.

    Returns:
      The sequence as a string.

    Raises:
      ValueError: if a token id is outside ``[0, VOCAB_SIZE)``.

    Examples:
      >>> detokenize(tokenize("MKV"))
      'MKV'
    """
    ids = np.asarray(tokens)
    if ids.ndim != 1:
        raise ValueError(f"tokens must have rank 1, got shape {ids.shape}")
    out = []
    for t in ids.tolist():
        if not 0 <= t < VOCAB_SIZE:
            raise ValueError(f"tokens must lie in [0, {VOCAB_SIZE}), got {t}")
        if t < FIRST_RESIDUE and not keep_special:
            continue
        out.append(ALPHABET[t])
    return "".join(out)


def count_residues(sequences: Iterable[str]) -> Counter:
    """Counts residue letters (upper-cased) over sequences, rare codes included.

    Args:
      sequences: protein sequences.

    Returns:
      A Counter from one-letter code to count; letters outside the alphabet are counted too,
      so a caller can report them before :func:`tokenize` rejects them.

    Examples:
      >>> count_residues(["AAX", "B"])["X"]
      1
    """
    counts: Counter = Counter()
    for s in sequences:
        counts.update(s.upper())
    return counts


def rare_residue_report(sequences: Iterable[str]) -> dict[str, int]:
    """Returns how many of each rare code (X, B, Z, U, O) occur, zeros included."""
    counts = count_residues(sequences)
    return {c: int(counts.get(c, 0)) for c in RARE_AMINO_ACIDS}
