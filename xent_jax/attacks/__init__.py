"""Adversarial attacks by gradient ascent on cross-entropy, compiled end to end.

Every attack takes any function ``logits_fn: x -> logits``; none knows about model classes.
Public names are re-exported here only; the implementation lives in private modules
(``_fgsm``, ``_pgd``, ``_apgd``, ``_evaluate``, ``_objectives``, ``_suite``, ``_common``), so
``xent_jax.attacks.pgd`` is always the function.

Guarantees (each tested in ``tests/attacks``): returned points lie in the eps-ball and the box;
a model's NaN/inf logits are never a "success"; :func:`evaluate` re-checks every attack point
against its ball and box and refuses non-finite logits (or counts them with
``nonfinite="count"``); bad arguments raise ``ValueError``/``TypeError`` naming the argument; PRNG
keys follow :func:`xent_jax._keys.as_key` (``None`` refused, an int seed is
``jax.random.key(seed)``).
"""

from xent_jax.attacks._apgd import apgd, apgd_checkpoints
from xent_jax.attacks._common import AttackResult
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

__all__ = [
    "AttackResult",
    "RobustEvaluation",
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
