"""Append-only JSON-lines metrics log, written by process 0 only.

Each record is one JSON object on one line. Non-finite floats are written as the JSON extensions
``NaN``/``Infinity`` that Python's :mod:`json` reads back as floats, so a NaN loss stays a number
(and visible) instead of becoming a string or vanishing.
"""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path
from typing import Any

import jax
import numpy as np

__all__ = ["MetricsLogger", "MalformedLogError", "read_metrics", "to_json"]


class MalformedLogError(ValueError):
    """A metrics log line that is not a JSON object (named by file and line number)."""


def to_json(value: Any) -> Any:
    """Converts arrays and numpy scalars inside ``value`` to Python numbers and lists.

    Examples:
      >>> to_json({"a": np.float32(0.5), "b": np.arange(2), "c": [np.int64(3)]})
      {'a': 0.5, 'b': [0, 1], 'c': [3]}
    """
    if isinstance(value, dict):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_json(v) for v in value]
    if hasattr(value, "shape") and hasattr(value, "dtype"):
        arr = np.asarray(value)
        return arr.item() if arr.ndim == 0 else arr.tolist()
    return value


class MetricsLogger:
    """Appends one JSON object per :meth:`log` call to a ``.jsonl`` file.

    Only process 0 (``jax.process_index() == 0``) writes; on other processes :meth:`log` and
    :meth:`truncate_after` do nothing, so multi-host code needs no guards.

    Args:
      path: the file (a folder is given ``metrics.jsonl`` inside it). Parent folders are created.

    Examples:
      >>> import tempfile, pathlib
      >>> log = MetricsLogger(pathlib.Path(tempfile.mkdtemp()) / "metrics.jsonl")
      >>> log.log({"step": 1, "loss": 0.5})
      >>> read_metrics(log.path)
      [{'step': 1, 'loss': 0.5}]
    """

    def __init__(self, path: str | Path):
        path = Path(path)
        if path.is_dir():
            path = path / "metrics.jsonl"
        self.path = path
        self.enabled = jax.process_index() == 0
        if self.enabled:
            path.parent.mkdir(parents=True, exist_ok=True)

    def log(self, record: dict[str, Any] | None = None, **fields: Any) -> None:
        """Appends ``record`` merged with ``fields`` as one line (arrays become numbers/lists)."""
        if not self.enabled:
            return
        data = dict(record or {})
        data.update(fields)
        line = json.dumps(to_json(data))
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(line + "\n")
            f.flush()
            os.fsync(f.fileno())

    def truncate_after(self, step: int) -> None:
        """Drops records whose ``step`` is greater than ``step`` (used when resuming)."""
        if not self.enabled or not self.path.exists():
            return
        kept = [r for r in read_metrics(self.path) if int(r.get("step", -1)) <= step]
        tmp = self.path.with_suffix(self.path.suffix + ".tmp")
        tmp.write_text("".join(json.dumps(r) + "\n" for r in kept), encoding="utf-8")
        os.replace(tmp, self.path)

    def records(self) -> list[dict[str, Any]]:
        """Returns every record logged so far."""
        return read_metrics(self.path)


def read_metrics(path: str | Path, *, split: str | None = None) -> list[dict[str, Any]]:
    """Reads a metrics ``.jsonl`` file.

    A last line without its newline is a write cut short by a killed process: it is reported with
    a ``RuntimeWarning`` and left out. Any other line that is not a JSON object raises.

    Args:
      path: the file (or a folder holding ``metrics.jsonl``).
      split: keep only records with this ``"split"`` (e.g. ``"train"``, ``"eval"``).

    Returns:
      the records, in file order (empty when the file does not exist).

    Raises:
      MalformedLogError: naming the file and line of a malformed record.
    """
    path = Path(path)
    if path.is_dir():
        path = path / "metrics.jsonl"
    if not path.exists():
        return []
    text = path.read_text(encoding="utf-8")
    lines = text.split("\n")
    complete, tail = lines[:-1], lines[-1]
    out = []
    for number, line in enumerate(complete, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as e:
            raise MalformedLogError(f"{path}:{number}: not a JSON record ({e.msg})") from None
        if not isinstance(record, dict):
            raise MalformedLogError(f"{path}:{number}: expected a JSON object, got {line[:40]!r}")
        out.append(record)
    if tail.strip():
        warnings.warn(
            f"{path}:{len(lines)}: ignoring an incomplete last line (a write cut short)",
            RuntimeWarning,
            stacklevel=2,
        )
    if split is not None:
        out = [r for r in out if r.get("split") == split]
    return out
