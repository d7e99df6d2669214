"""Study logic as step functions and small builders, run by the engine (:func:`xent_jax.train.fit`).

- :mod:`xent_jax.recipes.classifier`: NNX classifier state, the cross-entropy step, batched
  prediction and evaluation, :func:`classifier_training` (a run for ``fit``),
  :func:`train_classifier`.
- :mod:`xent_jax.recipes.rotation`: RotNet pretraining (:func:`rotation_training`,
  :func:`pretrain_rotation`), rotation accuracy, frozen features.
- :mod:`xent_jax.recipes.adversarial_training`: the PGD adversarial-training step and
  :func:`adversarial_training` (a PGD-AT run for ``fit``).
- :mod:`xent_jax.recipes.gan`: the alternating GAN step (:func:`gan_step`, two Adam optimisers,
  R1, instance noise, label smoothing, cosine decay) with :func:`init_gan_state`, real-data
  samplers drawn in the step (:func:`data_sampler`, :func:`mixture_sampler`) and :func:`sample`.
- :mod:`xent_jax.recipes.mlm`: the protein masked-LM step, its bucketed batches, validation hook
  and builders (:func:`mlm_training` assembles a run for ``fit``), :func:`embed_sequences`.
"""

from xent_jax.recipes.adversarial_training import (
    AdversarialTrainingStep,
    adversarial_training,
    adversarial_training_step,
)
from xent_jax.recipes.classifier import (
    ClassifierTraining,
    apply_batched,
    choose_steps,
    classification_step,
    classifier_training,
    evaluate_classifier,
    init_classifier_state,
    merge_model,
    predict,
    train_classifier,
)
from xent_jax.recipes.gan import (
    GAN,
    GANConfig,
    GANStep,
    data_sampler,
    gan_step,
    init_gan_state,
    mixture_sampler,
    sample,
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
from xent_jax.recipes.rotation import (
    extract_features,
    pretrain_rotation,
    rotation_accuracy,
    rotation_training,
)

__all__ = [
    "GAN",
    "GANConfig",
    "GANStep",
    "data_sampler",
    "gan_step",
    "init_gan_state",
    "mixture_sampler",
    "sample",
    "MLMTraining",
    "embed_sequences",
    "mlm_batch_fn",
    "mlm_logits",
    "mlm_step",
    "mlm_training",
    "residue_count",
    "AdversarialTrainingStep",
    "ClassifierTraining",
    "adversarial_training",
    "adversarial_training_step",
    "apply_batched",
    "classification_step",
    "choose_steps",
    "classifier_training",
    "evaluate_classifier",
    "extract_features",
    "init_classifier_state",
    "merge_model",
    "predict",
    "pretrain_rotation",
    "rotation_accuracy",
    "rotation_training",
    "train_classifier",
]
