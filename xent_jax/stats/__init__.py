"""Statistics for model comparison and evaluation."""

from xent_jax.stats.gan_eval import (
    classifier_two_sample_test,
    count_distribution,
    marginal_kl,
    mode_coverage,
    novelty,
    uniqueness,
)
from xent_jax.stats.regression import RidgeModel, group_folds, r2_score, ridge_cv, ridge_fit

__all__ = [
    "classifier_two_sample_test",
    "count_distribution",
    "marginal_kl",
    "mode_coverage",
    "novelty",
    "uniqueness",
    "RidgeModel",
    "group_folds",
    "r2_score",
    "ridge_cv",
    "ridge_fit",
]
