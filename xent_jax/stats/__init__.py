"""Statistics for model comparison and evaluation."""

from xent_jax.stats.gan_eval import (
    classifier_two_sample_test,
    count_distribution,
    marginal_kl,
    mode_coverage,
    novelty,
    uniqueness,
)

__all__ = [
    "classifier_two_sample_test",
    "count_distribution",
    "marginal_kl",
    "mode_coverage",
    "novelty",
    "uniqueness",
]
