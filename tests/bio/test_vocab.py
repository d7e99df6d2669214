"""Vocabulary, tokenize/detokenize and rare-residue counting."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from xent_jax import bio


def test_layout_of_ids():
    assert bio.ALPHABET[: bio.FIRST_RESIDUE] == bio.SPECIAL_TOKENS
    assert (bio.PAD, bio.MASK, bio.CLS, bio.EOS) == (0, 1, 2, 3)
    assert bio.VOCAB_SIZE == 4 + 20 + 5
    assert len(set(bio.ALPHABET)) == bio.VOCAB_SIZE
    assert "".join(bio.ALPHABET[i] for i in bio.STANDARD_IDS) == bio.STANDARD_AMINO_ACIDS


def test_tokenize_known_ids():
    toks = bio.tokenize("ACYX")
    assert toks.dtype == np.int32
    assert toks.tolist() == [bio.CLS, 4, 5, 23, 24, bio.EOS]
    assert bio.tokenize("ac", add_cls=False, add_eos=False).tolist() == [4, 5]


def test_rare_codes_get_their_own_tokens():
    toks = bio.tokenize("XBZUO", add_cls=False, add_eos=False)
    assert toks.tolist() == [24, 25, 26, 27, 28]
    assert bio.detokenize(toks) == "XBZUO"


def test_stop_symbol_and_whitespace_are_stripped():
    assert bio.tokenize(" MKV*\n", add_cls=False, add_eos=False).tolist() == (
        bio.tokenize("MKV", add_cls=False, add_eos=False).tolist()
    )


@pytest.mark.parametrize("bad, char", [("MK1V", "'1'"), ("MK-V", "'-'"), ("MKJ", "'J'")])
def test_invalid_character_raises_naming_it(bad, char):
    with pytest.raises(ValueError, match=char):
        bio.tokenize(bad)


def test_tokenize_rejects_non_string():
    with pytest.raises(TypeError, match="str"):
        bio.tokenize(b"MKV")


def test_detokenize_specials_and_range():
    toks = [bio.CLS, 4, bio.MASK, 5, bio.EOS, bio.PAD]
    assert bio.detokenize(toks) == "AC"
    assert bio.detokenize(toks, keep_special=True) == "<cls>A<mask>C<eos><pad>"
    with pytest.raises(ValueError, match="29"):
        bio.detokenize([4, 29])
    with pytest.raises(ValueError, match="rank 1"):
        bio.detokenize(np.zeros((2, 2), int))


@settings(max_examples=60, deadline=None)
@given(st.text(alphabet=bio.STANDARD_AMINO_ACIDS + bio.RARE_AMINO_ACIDS + "acdxy", max_size=60))
def test_roundtrip(seq):
    toks = bio.tokenize(seq)
    assert len(toks) == len(seq) + 2
    assert bio.detokenize(toks) == seq.upper()


def test_rare_residue_report_counts_everything():
    report = bio.rare_residue_report(["MKXX", "ub", "ACD"])
    assert report == {"X": 2, "B": 1, "Z": 0, "U": 1, "O": 0}
    assert bio.count_residues(["AAJ"])["J"] == 1  # unknown letters are counted, not dropped
