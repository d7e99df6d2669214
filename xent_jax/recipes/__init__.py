"""Study logic as step functions and small builders, run by the one engine (:func:`xent_jax.train.fit`).

- :mod:`xent_jax.recipes.classifier`: NNX classifier state, the cross-entropy step, batched
  prediction and evaluation, :func:`train_classifier`.
- :mod:`xent_jax.recipes.rotation`: RotNet pretraining, rotation accuracy, frozen features.
- :mod:`xent_jax.recipes.mlm`: the protein masked-LM step, its bucketed batches, validation hook
  and builders (:func:`mlm_training` assembles a run for ``fit``), :func:`embed_sequences`.
"""

from xent_jax.recipes.classifier import (
    apply_batched,
    classification_step,
    evaluate_classifier,
    init_classifier_state,
    merge_model,
    predict,
    train_classifier,
)
from xent_jax.recipes.mlm import (
    MLMTraining,
    embed_sequences,
    mlm_batch_fn,
    mlm_logits,
    mlm_step,
    mlm_training,
    residue_count,
)
from xent_jax.recipes.rotation import extract_features, pretrain_rotation, rotation_accuracy

__all__ = [
    "MLMTraining",
    "embed_sequences",
    "mlm_batch_fn",
    "mlm_logits",
    "mlm_step",
    "mlm_training",
    "residue_count",
    "apply_batched",
    "classification_step",
    "evaluate_classifier",
    "extract_features",
    "init_classifier_state",
    "merge_model",
    "predict",
    "pretrain_rotation",
    "rotation_accuracy",
    "train_classifier",
]
