"""Evaluators: one per module, each a pure function of arrays, each tested against a reference.

* metrics (``_metrics.py``): :func:`accuracy`, :func:`roc_auc`, :func:`average_precision`,
  :func:`expected_calibration_error`, :func:`reliability_bins`; intervals :func:`mean_interval`
  (Student-t over seeds, :func:`t_quantile`) and :func:`bootstrap_interval` (percentile
  bootstrap over examples), both returning an :class:`Interval`.
* the one standardisation (``_standardize.py``): :func:`standardize`.
* the one linear probe (``_probe.py``): :func:`fit_linear_head` (softmax or multi-label sigmoid,
  L-BFGS), :func:`predict_head`, :func:`linear_probe` (standardise, fit, score).
* few-shot (``_fewshot.py``): :func:`fewshot_indices` (labels-per-class draws),
  :func:`fewshot_probe` (a probe over draws, with its interval).
* multi-label (``_multilabel.py``): :func:`class_sets`, :func:`sigmoid_sets`,
  :func:`set_metrics`, :func:`softmax_metrics`, :func:`f1_per_column`.
* generative models (``_generative.py``): :func:`mode_coverage`,
  :func:`classifier_two_sample_test` (a :class:`xent_jax.models.MLP` trained by the engine's
  ``fit``), :func:`novelty`, :func:`uniqueness`, :func:`count_distribution`, :func:`marginal_kl`.
* masked-LM perplexity (``_perplexity.py``): :func:`eval_batches`, :func:`masked_perplexity`
  (honest, training-style or shuffled-context; per-example sums and a bootstrap interval in
  :class:`MaskedPerplexity`), :func:`unigram_perplexity`, :func:`evaluate_heldout`.
* regression (``_regression.py``): :func:`ridge_fit`, :class:`RidgeModel`, :func:`ridge_cv`,
  :func:`group_folds`, :func:`r2_score`.
"""

from xent_jax.eval._fewshot import FewshotResult, fewshot_indices, fewshot_probe
from xent_jax.eval._generative import (
    classifier_two_sample_test,
    count_distribution,
    marginal_kl,
    mode_coverage,
    novelty,
    uniqueness,
)
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
from xent_jax.eval._multilabel import (
    class_sets,
    f1_per_column,
    set_metrics,
    sigmoid_sets,
    softmax_metrics,
)
from xent_jax.eval._perplexity import (
    EVAL_SEED,
    EvalBatch,
    MaskedPerplexity,
    eval_batches,
    evaluate_heldout,
    masked_perplexity,
    unigram_perplexity,
)
from xent_jax.eval._probe import fit_linear_head, linear_probe, predict_head
from xent_jax.eval._regression import RidgeModel, group_folds, r2_score, ridge_cv, ridge_fit
from xent_jax.eval._standardize import standardize

__all__ = [
    "EVAL_SEED",
    "EvalBatch",
    "FewshotResult",
    "Interval",
    "MaskedPerplexity",
    "ReliabilityBins",
    "RidgeModel",
    "accuracy",
    "average_precision",
    "bootstrap_interval",
    "class_sets",
    "classifier_two_sample_test",
    "count_distribution",
    "eval_batches",
    "evaluate_heldout",
    "expected_calibration_error",
    "f1_per_column",
    "fewshot_indices",
    "fewshot_probe",
    "fit_linear_head",
    "group_folds",
    "linear_probe",
    "marginal_kl",
    "masked_perplexity",
    "mean_interval",
    "mode_coverage",
    "novelty",
    "predict_head",
    "r2_score",
    "reliability_bins",
    "ridge_cv",
    "ridge_fit",
    "roc_auc",
    "set_metrics",
    "sigmoid_sets",
    "softmax_metrics",
    "standardize",
    "t_quantile",
    "unigram_perplexity",
    "uniqueness",
]
