"""xent_jax: cross-entropy as the language for comparing what a model believes with the data.

The losses (``xent_jax.losses``) are re-exported here, so ``import xent_jax as xj`` then
``xj.softmax_cross_entropy_with_integer_labels(logits, labels)`` works like optax. The attacks
(``xent_jax.attacks``) are re-exported too. Subpackages that need Flax (``models``, ``train``) and
the data, task, evaluation and biology helpers load on first access: ``xent_jax.models.CNN``.
"""

from __future__ import annotations

import importlib
import types
from typing import Any

from xent_jax import attacks, losses
from xent_jax.attacks import apgd, evaluate, fgsm, pgd

# The loss family is the package's front door: every public function of xent_jax.losses.
_loss_names = sorted(
    name
    for name, obj in vars(losses).items()
    if not name.startswith("_") and not isinstance(obj, types.ModuleType)
)
globals().update({name: getattr(losses, name) for name in _loss_names})

__version__ = "0.1.0"

_LAZY = ("bio", "data", "eval", "experiment", "models", "recipes", "tasks", "train")


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        module = importlib.import_module(f"xent_jax.{name}")
        globals()[name] = module
        return module
    raise AttributeError(f"module 'xent_jax' has no attribute {name!r}")


__all__ = ["__version__", "attacks", "losses", "apgd", "evaluate", "fgsm", "pgd", *_LAZY]
__all__ += _loss_names
