"""Evaluators: one per module, each a pure function of arrays, each tested against a reference.

* metrics (``_metrics.py``): :func:`accuracy`, :func:`roc_auc`, :func:`average_precision`,
  :func:`expected_calibration_error`, :func:`reliability_bins`; intervals :func:`mean_interval`
  (Student-t over seeds) and :func:`bootstrap_interval` (percentile bootstrap over examples).
"""

from xent_jax.eval._metrics import (
    Interval,
    ReliabilityBins,
    accuracy,
    average_precision,
    bootstrap_interval,
    expected_calibration_error,
    mean_interval,
    reliability_bins,
    roc_auc,
    t_quantile,
)

__all__ = [
    "Interval",
    "ReliabilityBins",
    "accuracy",
    "average_precision",
    "bootstrap_interval",
    "expected_calibration_error",
    "mean_interval",
    "reliability_bins",
    "roc_auc",
    "t_quantile",
]
