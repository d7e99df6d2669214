"""A small, strict FASTA reader that reports malformed records with their line number."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterable, Iterator

from xent_jax.bio.vocab import RARE_AMINO_ACIDS, STANDARD_AMINO_ACIDS

_ALLOWED = frozenset(STANDARD_AMINO_ACIDS + RARE_AMINO_ACIDS)


class FastaFormatError(ValueError):
    """A malformed FASTA record; ``line`` is the 1-based line number of the problem."""

    def __init__(self, message: str, *, line: int, source: str = "<lines>"):
        super().__init__(f"{source}, line {line}: {message}")
        self.line = line
        self.source = source


@dataclasses.dataclass(frozen=True)
class FastaRecord:
    """One FASTA record.

    Attributes:
      id: the first word of the header (after ``>``).
      description: the rest of the header line (may be empty).
      sequence: the upper-cased sequence, lines joined, trailing ``*`` removed.
      line: the 1-based line number of the header.
    """

    id: str
    description: str
    sequence: str
    line: int


def parse_fasta(lines: Iterable[str], *, source: str = "<lines>") -> Iterator[FastaRecord]:
    """Parses FASTA text line by line.

    Blank lines and ``;`` comment lines are skipped. Sequence letters must be amino-acid codes
    (20 standard plus X, B, Z, U, O, any case); a ``*`` is allowed only as the last character
    of a record.

    Args:
      lines: the text lines (with or without newlines).
      source: a name for error messages (the file path).

    Yields:
      :class:`FastaRecord` in file order.

    Raises:
      FastaFormatError: for sequence data before the first header, an empty header, a record
        without sequence, or an invalid character, naming the line number.

    Examples:
      >>> [r.sequence for r in parse_fasta([">a x", "MK", "v", ">b", "W"])]
      ['MKV', 'W']
    """
    header: tuple[str, str, int] | None = None
    chunks: list[str] = []
    stopped_at: int | None = None

    def finish() -> FastaRecord:
        assert header is not None
        seq = "".join(chunks)
        if not seq:
            raise FastaFormatError(
                f"record {header[0]!r} has no sequence", line=header[2], source=source
            )
        return FastaRecord(id=header[0], description=header[1], sequence=seq, line=header[2])

    for lineno, raw in enumerate(lines, start=1):
        text = raw.strip()
        if not text or text.startswith(";"):
            continue
        if text.startswith(">"):
            if header is not None:
                yield finish()
            fields = text[1:].strip().split(maxsplit=1)
            if not fields:
                raise FastaFormatError("empty header after '>'", line=lineno, source=source)
            header = (fields[0], fields[1] if len(fields) > 1 else "", lineno)
            chunks = []
            stopped_at = None
            continue
        if header is None:
            raise FastaFormatError(
                f"sequence data before the first '>' header: {text[:20]!r}",
                line=lineno,
                source=source,
            )
        if stopped_at is not None:
            raise FastaFormatError(
                f"sequence continues after '*' (stop) on line {stopped_at}",
                line=lineno,
                source=source,
            )
        upper = text.upper()
        if upper.endswith("*"):
            upper = upper[:-1]
            stopped_at = lineno
        for col, ch in enumerate(upper, start=1):
            if ch not in _ALLOWED:
                raise FastaFormatError(
                    f"invalid residue {ch!r} at column {col} in record {header[0]!r} "
                    f"(expected one of {STANDARD_AMINO_ACIDS + RARE_AMINO_ACIDS})",
                    line=lineno,
                    source=source,
                )
        chunks.append(upper)
    if header is not None:
        yield finish()


def read_fasta(path: str | os.PathLike) -> list[FastaRecord]:
    """Reads every record of a FASTA file.

    Args:
      path: the file path.

    Returns:
      The records in file order.

    Raises:
      FileNotFoundError: if the file does not exist.
      FastaFormatError: for a malformed record (see :func:`parse_fasta`).

    Examples:
      >>> import pathlib, tempfile
      >>> p = pathlib.Path(tempfile.mkdtemp()) / "x.fasta"
      >>> _ = p.write_text(">P1 Nucleus-S\\nMKV\\n")
      >>> read_fasta(p)[0].description
      'Nucleus-S'
    """
    with open(path, encoding="utf-8") as fh:
        return list(parse_fasta(fh, source=str(path)))
