"""Protein sequences: amino-acid vocabulary, tokenizer and FASTA reader."""

from xent_jax.bio.fasta import FastaFormatError, FastaRecord, parse_fasta, read_fasta
from xent_jax.bio.vocab import (
    ALPHABET,
    CLS,
    EOS,
    FIRST_RESIDUE,
    MASK,
    NUM_STANDARD,
    PAD,
    RARE_AMINO_ACIDS,
    SPECIAL_TOKENS,
    STANDARD_AMINO_ACIDS,
    STANDARD_IDS,
    VOCAB_SIZE,
    count_residues,
    detokenize,
    rare_residue_report,
    tokenize,
)

__all__ = [
    "ALPHABET",
    "CLS",
    "EOS",
    "FIRST_RESIDUE",
    "MASK",
    "NUM_STANDARD",
    "PAD",
    "RARE_AMINO_ACIDS",
    "SPECIAL_TOKENS",
    "STANDARD_AMINO_ACIDS",
    "STANDARD_IDS",
    "VOCAB_SIZE",
    "FastaFormatError",
    "FastaRecord",
    "count_residues",
    "detokenize",
    "parse_fasta",
    "rare_residue_report",
    "read_fasta",
    "tokenize",
]
