"""A small, strict FASTA reader that reports malformed records with their line number."""

from __future__ import annotations

import dataclasses
import gzip
import os
import zlib
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


def _text_lines(path: str | os.PathLike) -> Iterator[str]:
    """The lines of a UTF-8 text file, gunzipped when it starts with the gzip magic bytes.

    A UTF-8 byte-order mark at the start is dropped. Text that is not UTF-8 raises
    :class:`FastaFormatError` naming the file, line and byte; a truncated or corrupt gzip file
    raises it naming the file and the line where the data stop.
    """
    source = str(path)
    with open(path, "rb") as fh:
        gz = fh.read(2) == b"\x1f\x8b"
    lineno = 0
    try:
        with gzip.open(path, "rb") if gz else open(path, "rb") as fh:
            for lineno, raw in enumerate(fh, start=1):
                try:
                    yield raw.decode("utf-8-sig" if lineno == 1 else "utf-8")
                except UnicodeDecodeError as err:
                    raise FastaFormatError(
                        f"not UTF-8 text: byte {raw[err.start]:#04x} at byte {err.start + 1} of "
                        f"the line ({err.reason}); convert the file to UTF-8",
                        line=lineno,
                        source=source,
                    ) from None
    except (EOFError, gzip.BadGzipFile, zlib.error) as err:
        raise FastaFormatError(
            f"the gzip data stop or break here ({err}); is the file truncated?",
            line=lineno + 1,
            source=source,
        ) from None


def read_fasta(path: str | os.PathLike) -> list[FastaRecord]:
    """Reads every record of a FASTA file, plain or gzip-compressed.

    Compression is detected from the file's first bytes (the gzip magic ``1f 8b``), not from
    its name. The text must be UTF-8 (ASCII is).

    Args:
      path: the file path.

    Returns:
      The records in file order.

    Raises:
      FileNotFoundError: if the file does not exist.
      FastaFormatError: (a ``ValueError``) for a malformed record (see :func:`parse_fasta`), text
        that is not UTF-8 or a truncated gzip file, naming the file and line.

    Examples:
      >>> import gzip, pathlib, tempfile
      >>> p = pathlib.Path(tempfile.mkdtemp()) / "x.fasta"
      >>> _ = p.write_text(">P1 Nucleus-S\\nMKV\\n")
      >>> read_fasta(p)[0].description
      'Nucleus-S'
      >>> _ = p.write_bytes(gzip.compress(b">P2 Cytoplasm-U\\nMW\\n"))
      >>> read_fasta(p)[0].sequence
      'MW'
    """
    return list(parse_fasta(_text_lines(path), source=str(path)))
