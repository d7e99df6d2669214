"""What a study sees: :class:`Run` (one seed) and :class:`Summary` (all seeds, with intervals)."""

from __future__ import annotations

import dataclasses
import json
import math
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import jax
import ml_collections
import numpy as np

from xent_jax.eval import Interval, mean_interval
from xent_jax.train import FitResult, fit
from xent_jax.train._metrics_log import to_json

__all__ = ["Run", "Summary", "flatten_metrics"]


def _atomic_write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


@dataclasses.dataclass
class Run:
    """One seed of a study: its config, seed and key, folders, caches, ``fit`` and figures.

    Attributes:
      name: the study's name.
      size: ``"full"``, ``"quick"`` or ``"tiny"``.
      config: the resolved config (frozen; overrides applied).
      seed: the training seed (int).
      out: the study's output folder ``OUT/NAME``.
      dir: this seed's output folder ``OUT/NAME/seed_<seed>`` (figures, per-seed files).
      cache_dir: ``OUT/NAME/cache/<config hash>/seed_<seed>``: checkpoints and cached results,
        keyed by the resolved config and the seed.
      progress: whether progress bars are shown.
      fit_options: engine options from the command line (``tensorboard``, ``profile``).
    """

    name: str
    size: str
    config: ml_collections.FrozenConfigDict
    seed: int
    out: Path
    dir: Path
    cache_dir: Path
    progress: bool = True
    fit_options: dict[str, Any] = dataclasses.field(default_factory=dict)

    @property
    def key(self) -> jax.Array:
        """``jax.random.key(seed)``: the root key of this seed."""
        return jax.random.key(self.seed)

    def workdir(self, name: str) -> Path:
        """The engine folder (checkpoints, metrics log) of the training run ``name``."""
        return self.cache_dir / name

    def fit(
        self,
        step_fn: Callable,
        state: Any,
        batch_fn: Callable | None,
        *,
        name: str,
        steps: int,
        key: jax.Array | int | None = None,
        **options: Any,
    ) -> FitResult:
        """:func:`xent_jax.train.fit` in ``workdir(name)``: resumable, logged, this seed's key.

        ``key`` defaults to this seed's key (:attr:`key`); pass another (e.g.
        ``jax.random.fold_in(run.key, i)``) to separate several runs of one seed. ``tensorboard``
        and ``profile`` from the command line apply (``profile`` only to runs at least as long as
        its window); ``options`` go to :func:`~xent_jax.train.fit` (``workdir=`` replaces the
        folder, e.g. another study's :func:`~xent_jax.experiment.study_cache_dir`).
        """
        kw: dict[str, Any] = {"progress": self.progress, "desc": f"{self.name}/{name} s{self.seed}"}
        if self.fit_options.get("tensorboard"):
            kw["tensorboard"] = True
        profile = self.fit_options.get("profile")
        if profile is not None and profile[1] <= steps:
            kw["profile"] = profile
        kw["workdir"] = self.workdir(name)
        kw.update(options)
        return fit(step_fn, state, batch_fn, steps=steps, key=self.key if key is None else key,
                   **kw)  # fmt: skip

    def cached(self, name: str, compute: Callable[[], Any]) -> Any:
        """``compute()``, stored as JSON in ``cache_dir/name.json`` and read back on re-runs.

        The cache is keyed by the resolved config and the seed (it lives under
        ``cache_dir``), so another seed or an override never reuses it.
        """
        path = self.cache_dir / f"{name}.json"
        if path.exists():
            return json.loads(path.read_text(encoding="utf-8"))
        value = to_json(compute())
        _atomic_write(path, json.dumps(value))
        return json.loads(json.dumps(value))  # what a re-run would read: identical either way

    def cached_arrays(self, name: str, compute: Callable[[], Mapping[str, Any]]) -> dict:
        """Like :meth:`cached` for a dict of arrays, stored as ``cache_dir/name.npz``."""
        path = self.cache_dir / f"{name}.npz"
        if path.exists():
            with np.load(path) as data:
                return {k: data[k] for k in data.files}
        arrays = {k: np.asarray(v) for k, v in compute().items()}
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp.npz")
        np.savez(tmp, **arrays)
        os.replace(tmp, path)
        return arrays

    def save_figure(self, fig: Any, name: str) -> Path:
        """Saves ``fig`` as ``dir/name.png`` (this seed's folder)."""
        from xent_jax.experiment._figures import save_figure

        return save_figure(fig, self.dir / name)

    def print(self, *parts: Any) -> None:
        """Prints a line prefixed with the study and seed (process 0 only)."""
        if jax.process_index() == 0:
            print(f"[{self.name} s{self.seed}]", *parts, flush=True)


def flatten_metrics(metrics: Mapping[str, Any], prefix: str = "") -> dict[str, float]:
    """The numeric scalars of a nested metrics dict, keyed by ``/``-joined paths.

    Booleans, strings and lists are left out (lists are kept whole in ``per_seed``).

    Examples:
      >>> flatten_metrics({"a": 1, "b": {"c": 0.5, "d": "x", "e": [1, 2]}, "f": True})
      {'a': 1.0, 'b/c': 0.5}
    """
    out: dict[str, float] = {}
    for k, v in metrics.items():
        path = f"{prefix}{k}"
        if isinstance(v, Mapping):
            out.update(flatten_metrics(v, path + "/"))
        elif isinstance(v, bool | np.bool_):
            continue
        elif isinstance(v, int | float | np.integer | np.floating):
            out[path] = float(v)
    return out


@dataclasses.dataclass
class Summary:
    """All seeds of a study: per-seed metrics and a 95% interval for every numeric metric.

    Attributes:
      name, size, config, out: as in :class:`Run`.
      seeds: the training seeds run.
      per_seed: the metrics dict returned for each seed, in seed order.
      runs: the :class:`Run` of each seed.
      intervals: ``path -> Interval`` (Student-t over seeds; ``method="none"`` for one seed).
      lines: report lines a study's ``summarize`` adds to ``OUT/NAME/REPORT.md``.
      figures: figures saved by :meth:`save_figure`.
    """

    name: str
    size: str
    config: ml_collections.FrozenConfigDict
    out: Path
    seeds: list[int]
    per_seed: list[dict[str, Any]]
    runs: list[Run]
    intervals: dict[str, Interval] = dataclasses.field(default_factory=dict)
    lines: list[str] = dataclasses.field(default_factory=list)
    figures: list[str] = dataclasses.field(default_factory=list)

    def __post_init__(self):
        if not self.intervals:
            flat = [flatten_metrics(m) for m in self.per_seed]
            keys = [k for k in flat[0] if all(k in f for f in flat)] if flat else []
            self.intervals = {k: mean_interval([f[k] for f in flat]) for k in keys}

    def __contains__(self, path: str) -> bool:
        return path in self.intervals

    def interval(self, path: str) -> Interval:
        """The interval of metric ``path`` (``/``-joined keys, e.g. ``"ring/modes"``)."""
        if path not in self.intervals:
            raise KeyError(
                f"no numeric metric {path!r} in every seed; have {sorted(self.intervals)}"
            )
        return self.intervals[path]

    def mean(self, path: str) -> float:
        """The mean over seeds of metric ``path``."""
        return self.interval(path).mean

    def values(self, path: str) -> list[float]:
        """The per-seed values of metric ``path``."""
        return list(self.interval(path).values)

    @property
    def first(self) -> dict[str, Any]:
        """The metrics of the first seed (for non-numeric entries such as curves or names)."""
        return self.per_seed[0]

    def fmt(self, path: str, *, scale: float = 1.0, digits: int = 1, unit: str = "") -> str:
        """``"mean [low, high]"`` (95% interval over seeds), or ``"mean"`` for one seed.

        Examples:
          >>> s = Summary("x", "tiny", None, Path("."), [0, 1, 2], [{"a": 0.8}, {"a": 0.9},
          ...             {"a": 0.85}], [])
          >>> s.fmt("a", scale=100)
          '85.0 [72.6, 97.4]'
        """
        iv = self.interval(path)
        f = f"{{:.{digits}f}}"
        if iv.n == 1 or not math.isfinite(iv.low):
            return f.format(scale * iv.mean) + unit
        return f"{f.format(scale * iv.mean)} [{f.format(scale * iv.low)}, " \
               f"{f.format(scale * iv.high)}]{unit}"  # fmt: skip

    def save_figure(self, fig: Any, name: str) -> Path:
        """Saves ``fig`` as ``OUT/NAME/name.png`` (the study's folder) and lists it."""
        from xent_jax.experiment._figures import save_figure

        path = save_figure(fig, self.out / name)
        self.figures.append(path.name)
        return path

    def to_json(self) -> dict[str, Any]:
        return {
            "seeds": list(self.seeds),
            "summary": {k: v.to_dict() for k, v in self.intervals.items()},
            "per_seed": [to_json(m) for m in self.per_seed],
            "figures": list(self.figures),
        }
