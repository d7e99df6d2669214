"""What a loader read, kept and dropped: one small record attached to what the loader returns."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping

__all__ = ["LoadReport"]

MAX_EXAMPLES = 5
"""How many offending line numbers a report keeps per reason."""


@dataclasses.dataclass(frozen=True)
class LoadReport:
    """Counts of the records a loader read, kept and dropped, with the first offending lines.

    Every record read is either kept or dropped for exactly one reason, so
    ``read == kept + sum(dropped.values())`` (checked on construction). Reasons are short
    snake_case names (``"duplicate_formula"``, ``"negative_amount"``); a reason may carry a
    detail after a colon, such as the symbol in ``"unknown_element:D"``.

    Attributes:
      source: the file read (a path string).
      read: records read (data rows, FASTA records, manifest rows).
      kept: records in the returned data set.
      dropped: reason -> number of records dropped for it.
      examples: reason -> the 1-based line numbers of its first few records (at most
        :data:`MAX_EXAMPLES`).

    Examples:
      >>> r = LoadReport.from_drops("a.csv", read=5, drops=[("negative_amount", 3)])
      >>> print(r)
      a.csv: read 5, kept 4, dropped 1 (negative_amount 1 [line 3])
      >>> r.as_metrics()
      {'read': 5, 'kept': 4, 'dropped': 1, 'dropped_negative_amount': 1}
    """

    source: str
    read: int
    kept: int
    dropped: Mapping[str, int] = dataclasses.field(default_factory=dict)
    examples: Mapping[str, tuple[int, ...]] = dataclasses.field(default_factory=dict)

    def __post_init__(self):
        for name in ("read", "kept"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{name} must be a non-negative int, got {value!r}")
        if any(n < 1 for n in self.dropped.values()):
            raise ValueError(f"dropped counts must be positive, got {dict(self.dropped)}")
        if self.read != self.kept + self.total_dropped:
            raise ValueError(
                f"read ({self.read}) must equal kept ({self.kept}) plus dropped "
                f"({self.total_dropped}: {dict(self.dropped)})"
            )

    @classmethod
    def from_drops(cls, source: str, *, read: int, drops: Iterable[tuple[str, int]]) -> LoadReport:
        """Builds a report from ``(reason, line)`` pairs in file order; ``kept = read - drops``."""
        dropped: dict[str, int] = {}
        examples: dict[str, list[int]] = {}
        for reason, line in drops:
            dropped[reason] = dropped.get(reason, 0) + 1
            lines = examples.setdefault(reason, [])
            if len(lines) < MAX_EXAMPLES:
                lines.append(int(line))
        kept = read - sum(dropped.values())
        return cls(str(source), read, kept, dropped, {k: tuple(v) for k, v in examples.items()})

    @property
    def total_dropped(self) -> int:
        """The number of records dropped, all reasons together."""
        return sum(self.dropped.values())

    def __str__(self) -> str:
        head = f"{self.source}: read {self.read}, kept {self.kept}, dropped {self.total_dropped}"
        if not self.dropped:
            return head
        parts = []
        for reason, count in sorted(self.dropped.items(), key=lambda kv: (-kv[1], kv[0])):
            lines = self.examples.get(reason, ())
            where = ""
            if lines:
                more = ", ..." if count > len(lines) else ""
                word = "line" if len(lines) == 1 and not more else "lines"
                where = f" [{word} {', '.join(map(str, lines))}{more}]"
            parts.append(f"{reason} {count}{where}")
        return f"{head} ({'; '.join(parts)})"

    def as_metrics(self) -> dict[str, int]:
        """The counts as a flat dict for a run's metrics: read, kept, dropped, dropped_REASON."""
        out = {"read": self.read, "kept": self.kept, "dropped": self.total_dropped}
        for reason, count in sorted(self.dropped.items()):
            out[f"dropped_{reason}"] = count
        return out
