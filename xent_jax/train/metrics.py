"""Append-only JSON-lines metrics log."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["MetricsLogger", "read_metrics"]


def _to_json(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _to_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_to_json(v) for v in value]
    if hasattr(value, "shape") and hasattr(value, "dtype"):
        arr = np.asarray(value)
        value = arr.item() if arr.ndim == 0 else arr.tolist()
        return _to_json(value) if isinstance(value, list) else value
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)  # JSON has no NaN/inf; keep them readable
    return value


class MetricsLogger:
    """Appends one JSON object per :meth:`log` call to a ``.jsonl`` file.

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
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path

    def log(self, record: dict[str, Any] | None = None, **fields: Any) -> None:
        """Appends ``record`` merged with ``fields`` as one line (arrays become numbers/lists)."""
        data = dict(record or {})
        data.update(fields)
        line = json.dumps(_to_json(data), sort_keys=False)
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(line + "\n")
            f.flush()
            os.fsync(f.fileno())

    def truncate_after(self, step: int) -> None:
        """Drops records whose ``step`` is greater than ``step`` (used when resuming)."""
        if not self.path.exists():
            return
        kept = [r for r in read_metrics(self.path) if int(r.get("step", -1)) <= step]
        tmp = self.path.with_suffix(self.path.suffix + ".tmp")
        tmp.write_text("".join(json.dumps(r) + "\n" for r in kept), encoding="utf-8")
        os.replace(tmp, self.path)

    def records(self) -> list[dict[str, Any]]:
        """Returns every record logged so far."""
        return read_metrics(self.path)


def read_metrics(path: str | Path) -> list[dict[str, Any]]:
    """Reads a metrics ``.jsonl`` file, skipping a truncated last line."""
    path = Path(path)
    if not path.exists():
        return []
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line:
            continue
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            continue  # a partial line written when a process was killed
    return out
