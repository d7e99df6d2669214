"""Running a study: config and overrides, seeds and intervals, the output folder, the reports."""

from __future__ import annotations

import dataclasses
import json
import time
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import jax
import ml_collections

from xent_jax.experiment._config import (
    SIZES,
    ConfigError,
    apply_overrides,
    config_hash,
    config_to_dict,
    load_config,
)
from xent_jax.experiment._discover import Experiment
from xent_jax.experiment._run import Run, Summary, _atomic_write
from xent_jax.train import FolderLock
from xent_jax.train._metrics_log import to_json

__all__ = [
    "StudyOutcome",
    "is_missing_data",
    "prepare_config",
    "run_all",
    "run_study",
    "study_cache_dir",
]


def is_missing_data(error: BaseException) -> bool:
    """Whether ``error`` says a registered data file is absent (it names the fetch command)."""
    return isinstance(error, FileNotFoundError) and hasattr(error, "fetch_command")


def prepare_config(
    exp: Experiment, *, size: str, overrides: Sequence[str] = ()
) -> ml_collections.ConfigDict:
    """The study's config for ``size`` with ``overrides`` applied (nothing is run or written)."""
    if size not in SIZES:
        raise ConfigError(f"size must be one of {SIZES}, got {size!r}")
    if not exp.config_path.is_file():
        raise ConfigError(f"experiment {exp.name!r} has no config file {exp.config_path}")
    cfg = load_config(exp.config_path, size)
    return apply_overrides(cfg, overrides) if overrides else cfg


def _seed_list(cfg: ml_collections.ConfigDict, seeds: int | None, first_seed: int) -> list[int]:
    count = seeds if seeds is not None else int(cfg.get("seeds", 1))
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise ConfigError(f"seeds must be a positive int, got {count!r}")
    if isinstance(first_seed, bool) or not isinstance(first_seed, int) or first_seed < 0:
        raise ConfigError(f"seed must be a non-negative int, got {first_seed!r}")
    return [first_seed + i for i in range(count)]


def _hashable_config(cfg: ml_collections.ConfigDict) -> dict[str, Any]:
    # The number of seeds does not change what one seed computes: it is not part of cache keys.
    raw = config_to_dict(cfg)
    raw.pop("seeds", None)
    return raw


def study_cache_dir(
    out: str | Path, name: str, config: ml_collections.ConfigDict | Any, seed: int
) -> Path:
    """``OUT/NAME/cache/<config hash>/seed_<seed>``: where study ``name`` keeps seed ``seed``.

    The hash covers the resolved config without its ``seeds`` count. A study that reuses another
    study's training (localization reusing protein-mlm's pretraining) finds it here.

    Examples:
      >>> cfg = ml_collections.ConfigDict({"steps": 3, "seeds": 1})
      >>> path = study_cache_dir("out", "demo", cfg, 0)
      >>> path.parts[-4:] == ("demo", "cache", config_hash({"steps": 3}), "seed_0")
      True
    """
    digest = config_hash(_hashable_config(config))
    return Path(out).expanduser().resolve() / name / "cache" / digest / f"seed_{seed}"


def run_study(
    exp: Experiment,
    out: str | Path,
    *,
    size: str = "full",
    overrides: Sequence[str] = (),
    seeds: int | None = None,
    first_seed: int = 0,
    progress: bool = True,
    fit_options: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Runs one study for every seed and writes ``OUT/NAME/{config,metrics}.json`` and REPORT.md.

    The config and overrides are resolved first; an unknown key or a value of the wrong type
    raises before anything is written. The folder ``OUT/NAME`` is locked for the run.

    Args:
      exp: the experiment (from :func:`xent_jax.experiment.discover`).
      out: the output root; the study writes into ``out/NAME``.
      size: ``"full"``, ``"quick"`` or ``"tiny"``.
      overrides: ``KEY=VALUE`` strings.
      seeds: how many training seeds (default: the config's ``seeds``, else 1).
      first_seed: the first seed; seeds are ``first_seed, first_seed + 1, ...``.
      progress: show progress bars.
      fit_options: engine options for every ``run.fit`` (``tensorboard``, ``profile``).

    Returns:
      the metrics written to ``metrics.json``.
    """
    cfg = prepare_config(exp, size=size, overrides=overrides)
    seed_list = _seed_list(cfg, seeds, first_seed)
    if "seeds" in cfg:
        cfg.seeds = len(seed_list)  # config.json records the count that ran (--seeds K)
    module = exp.load()
    out = Path(out).expanduser()
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {out} exists and is not a folder")
    study_dir = (out / exp.name).resolve()
    frozen = ml_collections.FrozenConfigDict(cfg)
    digest = config_hash(_hashable_config(cfg))
    is_main = jax.process_index() == 0
    start = time.perf_counter()
    lock = FolderLock(study_dir) if is_main else None
    if lock is not None:
        lock.acquire()
    try:
        if is_main:
            resolved = {
                "experiment": exp.name,
                "size": size,
                "overrides": list(overrides),
                "seeds": seed_list,
                "config_hash": digest,
                "config": config_to_dict(cfg),
            }
            _atomic_write(study_dir / "config.json", json.dumps(resolved, indent=2) + "\n")
        runs = [
            Run(
                name=exp.name,
                size=size,
                config=frozen,
                seed=s,
                out=study_dir,
                dir=study_dir / f"seed_{s}",
                cache_dir=study_dir / "cache" / digest / f"seed_{s}",
                progress=progress,
                fit_options=dict(fit_options or {}),
            )  # fmt: skip
            for s in seed_list
        ]
        for r in runs:
            r.dir.mkdir(parents=True, exist_ok=True)
        if len(runs) > 1 and callable(getattr(module, "run_seeds", None)):
            per_seed = list(module.run_seeds(runs))
        else:
            per_seed = [module.run(r) for r in runs]
        if len(per_seed) != len(runs) or not all(isinstance(m, dict) for m in per_seed):
            raise TypeError(f"{exp.path.name}: run() must return a dict per seed")
        summary = Summary(
            name=exp.name, size=size, config=frozen, out=study_dir, seeds=seed_list,
            per_seed=per_seed, runs=runs,
        )  # fmt: skip
        if callable(getattr(module, "summarize", None)):
            module.summarize(summary)
        headline = str(module.headline(summary))
        metrics = {
            "experiment": exp.name,
            "description": exp.description,
            "size": size,
            "config_hash": digest,
            "headline": headline,
            **summary.to_json(),
            "wall_seconds": round(time.perf_counter() - start, 2),
        }
        if is_main:
            _atomic_write(study_dir / "metrics.json", json.dumps(to_json(metrics), indent=2) + "\n")
            _write_study_report(study_dir, exp, summary, headline)
        return metrics
    finally:
        if lock is not None:
            lock.release()


def _write_study_report(study_dir: Path, exp: Experiment, summary: Summary, headline: str) -> None:
    seeds = summary.seeds
    lines = [
        f"# {exp.name}: {exp.description}",
        "",
        f"Size `{summary.size}`, {len(seeds)} seed(s) {seeds}; config in `config.json`.",
        "",
        f"**{headline}**",
        "",
    ]
    if summary.lines:
        lines += list(summary.lines) + [""]
    if summary.intervals:
        level = next(iter(summary.intervals.values())).level
        lines += [
            f"| metric | mean | {int(100 * level)}% interval | per seed |",
            "|---|---|---|---|",
        ]
        for path, iv in summary.intervals.items():
            ci = f"[{iv.low:.4g}, {iv.high:.4g}]" if iv.n > 1 else "(one seed)"
            per = ", ".join(f"{v:.4g}" for v in iv.values)
            lines.append(f"| `{path}` | {iv.mean:.4g} | {ci} | {per} |")
        lines.append("")
    for name in summary.figures:
        lines += [f"![{name}]({name})", ""]
    _atomic_write(study_dir / "REPORT.md", "\n".join(lines))


@dataclasses.dataclass
class StudyOutcome:
    """One row of ``xent-jax run all``: ``status`` is ``ok``, ``skipped`` or ``failed``."""

    experiment: Experiment
    status: str
    metrics: dict[str, Any] | None = None
    reason: str = ""
    fetch_command: str = ""


def run_all(
    experiments: Sequence[Experiment],
    out: str | Path,
    *,
    size: str = "full",
    overrides: Sequence[str] = (),
    seeds: int | None = None,
    first_seed: int = 0,
    progress: bool = True,
    fit_options: dict[str, Any] | None = None,
) -> list[StudyOutcome]:
    """Runs every study; a failing or data-less study does not stop the others.

    A study whose data files are absent (an error carrying ``fetch_command``) is ``skipped``;
    ``OUT/REPORT.md`` lists it with the files it needs and the command that fetches them.
    """
    out = Path(out)
    outcomes = []
    for exp in experiments:
        print(f"== {exp.name}: {exp.description} [{size}]", flush=True)
        try:
            metrics = run_study(
                exp, out, size=size, overrides=overrides, seeds=seeds, first_seed=first_seed,
                progress=progress, fit_options=fit_options,
            )  # fmt: skip
        except Exception as e:  # one failed study must not hide the others
            if is_missing_data(e):
                print(f"-> skipped: {e}", flush=True)
                outcomes.append(StudyOutcome(exp, "skipped", None, str(e), e.fetch_command))
                continue
            traceback.print_exc()
            outcomes.append(StudyOutcome(exp, "failed", None, f"{type(e).__name__}: {e}"))
            continue
        print(f"-> {metrics['headline']}  ({metrics['wall_seconds']:.1f} s)", flush=True)
        outcomes.append(StudyOutcome(exp, "ok", metrics))
    if jax.process_index() == 0:
        write_summary_report(out, outcomes, size=size)
    return outcomes


def write_summary_report(out: Path, outcomes: Sequence[StudyOutcome], *, size: str) -> Path:
    """Writes ``out/REPORT.md``: one table over the studies, then the skipped ones and why."""

    def cell(text: str) -> str:
        return text.replace("|", "\\|").replace("\n", " ")

    lines = [
        "# xent_jax report",
        "",
        f"Size `{size}`. Each study's folder holds its `REPORT.md`, `metrics.json` (per-seed "
        "values and 95% intervals) and `config.json`.",
        "",
        "| experiment | what it shows | headline | seconds |",
        "|---|---|---|---|",
    ]
    for o in outcomes:
        if o.status == "ok":
            head, secs = o.metrics["headline"], f"{o.metrics['wall_seconds']:.1f}"
        elif o.status == "skipped":
            head, secs = "SKIPPED: data not present (see below)", "-"
        else:
            head, secs = f"FAILED: {o.reason}", "-"
        name = (
            f"[`{o.experiment.name}`]({o.experiment.name}/REPORT.md)"
            if o.status == "ok"
            else (f"`{o.experiment.name}`")
        )
        lines.append(f"| {name} | {cell(o.experiment.description)} | {cell(head)} | {secs} |")
    skipped = [o for o in outcomes if o.status == "skipped"]
    if skipped:
        lines += ["", "## Skipped studies", ""]
        for o in skipped:
            lines += [
                f"- `{o.experiment.name}`: {cell(o.reason)}",
                f"  fetch with: `{o.fetch_command}`",
            ]
    path = Path(out) / "REPORT.md"
    _atomic_write(path, "\n".join(lines) + "\n")
    return path
