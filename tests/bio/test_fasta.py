"""FASTA reader: records, comments, and line-numbered errors."""

from __future__ import annotations

import gzip

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


def test_gzip_is_read_by_its_magic_bytes(tmp_path):
    plain = tmp_path / "a.fasta"
    plain.write_text(GOOD)
    expected = read_fasta(plain)
    for name in ("a.fasta.gz", "a.fasta"):  # with or without the .gz suffix
        path = tmp_path / "gz" / name
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(gzip.compress(GOOD.encode()))
        assert read_fasta(path) == expected
    # the line numbers count the decompressed text
    bad = tmp_path / "bad.fa.gz"
    bad.write_bytes(gzip.compress(b">P1\nMK\nM1K\n"))
    with pytest.raises(FastaFormatError, match=r"bad.fa.gz, line 3: invalid residue"):
        read_fasta(bad)


def test_truncated_gzip_names_file(tmp_path):
    text = "".join(f">P{i} Nucleus-S\n{'MKVLAW' * (i % 7 + 1)}\n" for i in range(3000))
    data = gzip.compress(text.encode())
    path = tmp_path / "cut.fasta.gz"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(FastaFormatError, match=r"cut.fasta.gz, line \d+: the gzip data stop"):
        read_fasta(path)


def test_latin1_text_names_file_and_line(tmp_path):
    path = tmp_path / "latin1.fasta"
    path.write_bytes(">P1 Nucleus-S\nMKV\n>P2 Noyau-S caf\xe9\nMW\n".encode("latin-1"))
    with pytest.raises(ValueError, match=r"latin1.fasta, line 3: not UTF-8 text: byte 0xe9") as e:
        read_fasta(path)
    assert isinstance(e.value, FastaFormatError) and e.value.line == 3
    # the same file in UTF-8 reads, and a byte-order mark is not taken for sequence data
    path.write_bytes("\ufeff>P1 Nucleus-S\nMKV\n>P2 Noyau-S caf\xe9\nMW\n".encode("utf-8"))
    assert [r.description for r in read_fasta(path)] == ["Nucleus-S", "Noyau-S caf\xe9"]


def test_reads_shared_deeploc_file(shared_data):
    path = shared_data("deeploc1", "setHARD.fasta")
    recs = read_fasta(path)
    assert len(recs) == 490
    assert all(r.sequence and r.description.split()[0].rpartition("-")[2] in "MSU" for r in recs)
