"""Adversarial attacks by gradient ascent on cross-entropy, compiled end to end.

Every attack takes any function ``logits_fn: x -> logits``; none knows about model classes.
"""

from xent_jax.attacks._common import AttackResult
from xent_jax.attacks._apgd import apgd, apgd_checkpoints
from xent_jax.attacks._evaluate import RobustEvaluation, evaluate
from xent_jax.attacks._fgsm import fgsm
from xent_jax.attacks._objectives import (
    attack_objective,
    ce_loss,
    dlr_loss,
    margin_loss,
    targeted_dlr_loss,
)
from xent_jax.attacks._pgd import pgd
from xent_jax.attacks._suite import attack_suite, robustness_curves
from xent_jax.attacks.training import adversarial_training_step

__all__ = [
    "AttackResult",
    "RobustEvaluation",
    "adversarial_training_step",
    "apgd",
    "apgd_checkpoints",
    "attack_suite",
    "attack_objective",
    "ce_loss",
    "dlr_loss",
    "evaluate",
    "fgsm",
    "margin_loss",
    "pgd",
    "robustness_curves",
    "targeted_dlr_loss",
]
