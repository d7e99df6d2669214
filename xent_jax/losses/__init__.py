"""Cross-entropy losses in pure ``jax.numpy`` (no Flax): per-example outputs, optax's signatures.

Every function that optax 0.2.8 also has keeps optax's signature exactly (names, order, kinds,
defaults, accepted shapes and dtype rules), so ``optax.losses.X`` can be swapped for
``xent_jax.losses.X``; our extra options come after optax's and are keyword-only. The
implementation lives in private modules (one per family); this package is the public path.
Checked mode (:func:`checked`) turns value checks (label range, smoothing, weights, non-finite
inputs) into errors; it is off by default and costs nothing then.
"""

from xent_jax.losses._checks import checked as checked
from xent_jax.losses._ctc import ctc_loss as ctc_loss
from xent_jax.losses._ctc import ctc_loss_with_forward_probs as ctc_loss_with_forward_probs
from xent_jax.losses._diagnostics import information_identity_error as information_identity_error
from xent_jax.losses._diagnostics import softmax_regression_gradient as softmax_regression_gradient
from xent_jax.losses._fenchel_young import make_fenchel_young_loss as make_fenchel_young_loss
from xent_jax.losses._gan import gan_discriminator_loss as gan_discriminator_loss
from xent_jax.losses._gan import gan_generator_loss as gan_generator_loss
from xent_jax.losses._gaussian import gaussian_cross_entropy as gaussian_cross_entropy
from xent_jax.losses._gaussian import gaussian_entropy as gaussian_entropy
from xent_jax.losses._gaussian import gaussian_kl as gaussian_kl
from xent_jax.losses._gaussian import gaussian_nll as gaussian_nll
from xent_jax.losses._information import convex_kl_divergence as convex_kl_divergence
from xent_jax.losses._information import cross_entropy as cross_entropy
from xent_jax.losses._information import (
    cross_entropy_from_log_probs as cross_entropy_from_log_probs,
)
from xent_jax.losses._information import entropy as entropy
from xent_jax.losses._information import entropy_from_log_probs as entropy_from_log_probs
from xent_jax.losses._information import generalized_kl_divergence as generalized_kl_divergence
from xent_jax.losses._information import kl_divergence as kl_divergence
from xent_jax.losses._information import (
    kl_divergence_with_log_targets as kl_divergence_with_log_targets,
)
from xent_jax.losses._information import relative_entropy as relative_entropy
from xent_jax.losses._information import (
    relative_entropy_from_log_probs as relative_entropy_from_log_probs,
)
from xent_jax.losses._linear_cross_entropy import (
    linear_softmax_cross_entropy_with_integer_labels as linear_softmax_cross_entropy_with_integer_labels,  # noqa: E501
)
from xent_jax.losses._ranking import ranking_softmax_loss as ranking_softmax_loss
from xent_jax.losses._reduction import reduce_loss as reduce_loss
from xent_jax.losses._reduction import target_weights as target_weights
from xent_jax.losses._self_supervised import ntxent as ntxent
from xent_jax.losses._sigmoid import (
    multilabel_sigmoid_cross_entropy as multilabel_sigmoid_cross_entropy,
)
from xent_jax.losses._sigmoid import sigmoid_binary_cross_entropy as sigmoid_binary_cross_entropy
from xent_jax.losses._sigmoid import sigmoid_focal_loss as sigmoid_focal_loss
from xent_jax.losses._smoothing import smooth_labels as smooth_labels
from xent_jax.losses._softmax import poly_loss_cross_entropy as poly_loss_cross_entropy
from xent_jax.losses._softmax import safe_softmax_cross_entropy as safe_softmax_cross_entropy
from xent_jax.losses._softmax import softmax_cross_entropy as softmax_cross_entropy
from xent_jax.losses._softmax import (
    softmax_cross_entropy_with_integer_labels as softmax_cross_entropy_with_integer_labels,
)
from xent_jax.losses._sparsemax import multiclass_sparsemax_loss as multiclass_sparsemax_loss
from xent_jax.losses._sparsemax import sparsemax_loss as sparsemax_loss
