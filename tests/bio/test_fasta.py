"""FASTA reader: records, comments, and line-numbered errors."""

from __future__ import annotations

import pytest

from xent_jax.bio import FastaFormatError, parse_fasta, read_fasta

GOOD = """; a comment
>P1 Nucleus-S test
MKV
ayc

>P2
W*
"""


def test_parses_records_with_line_numbers():
    recs = list(parse_fasta(GOOD.splitlines()))
    assert [(r.id, r.description, r.sequence, r.line) for r in recs] == [
        ("P1", "Nucleus-S test", "MKVAYC", 2),
        ("P2", "", "W", 6),
    ]


@pytest.mark.parametrize(
    "text, line, what",
    [
        ("MKV\n>P1\nMK\n", 1, "before the first"),
        (">P1\nMK\n>\nMK\n", 3, "empty header"),
        (">P1\n>P2\nMK\n", 1, "no sequence"),
        (">P1\nMK\nM1K\n", 3, "invalid residue '1' at column 2"),
        (">P1\nMK*\nMK\n", 3, "after '\\*'"),
        (">P1\nMK\n>P2\n\n", 3, "no sequence"),
    ],
)
def test_malformed_records_report_line(text, line, what):
    with pytest.raises(FastaFormatError, match=what) as err:
        list(parse_fasta(text.splitlines(), source="x.fa"))
    assert err.value.line == line
    assert f"x.fa, line {line}:" in str(err.value)


def test_read_fasta_file(tmp_path):
    path = tmp_path / "a.fasta"
    path.write_text(GOOD)
    assert [r.id for r in read_fasta(path)] == ["P1", "P2"]
    with pytest.raises(FileNotFoundError):
        read_fasta(tmp_path / "missing.fasta")


def test_reads_shared_deeploc_file(shared_data):
    path = shared_data("deeploc1", "setHARD.fasta")
    recs = read_fasta(path)
    assert len(recs) == 490
    assert all(r.sequence and r.description.split()[0].rpartition("-")[2] in "MSU" for r in recs)
