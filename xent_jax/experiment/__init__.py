"""The experiment kit: configs and overrides, seeds and intervals, output folders, figures, reports.

A study is a script ``experiments/NAME.py`` (see :mod:`xent_jax.experiment._discover` for what it
defines) with its config in ``experiments/configs/NAME.py``; ``xent-jax run NAME`` (or
:func:`run_study` from Python or a notebook) resolves the config, runs every seed with a
:class:`Run`, aggregates the metrics into a :class:`Summary` with 95% intervals and writes
``OUT/NAME/config.json``, ``metrics.json`` and ``REPORT.md``.
"""

from xent_jax.experiment._config import (
    SIZES,
    ConfigError,
    apply_overrides,
    config_hash,
    config_to_dict,
    load_config,
)
from xent_jax.experiment._discover import (
    Experiment,
    ExperimentsNotFound,
    discover,
    experiments_dir,
)
from xent_jax.experiment._figures import figure, save_figure
from xent_jax.experiment._run import Run, Summary, flatten_metrics
from xent_jax.experiment._runner import (
    StudyOutcome,
    is_missing_data,
    prepare_config,
    run_all,
    run_study,
    study_cache_dir,
    write_summary_report,
)

__all__ = [
    "SIZES",
    "ConfigError",
    "Experiment",
    "ExperimentsNotFound",
    "Run",
    "StudyOutcome",
    "Summary",
    "apply_overrides",
    "config_hash",
    "config_to_dict",
    "discover",
    "experiments_dir",
    "figure",
    "flatten_metrics",
    "is_missing_data",
    "load_config",
    "prepare_config",
    "run_all",
    "run_study",
    "save_figure",
    "study_cache_dir",
    "write_summary_report",
]
