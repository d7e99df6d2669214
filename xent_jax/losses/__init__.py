"""Cross-entropy losses in pure ``jax.numpy`` (no Flax): per-example outputs, keyword-only options.

See :mod:`xent_jax.losses.softmax` for the masking rules and the out-of-range label policy (NaN
loss and gradient under ``jit``; :func:`checked` raises with the offending index).
"""

from xent_jax.losses._checks import checked as checked
from xent_jax.losses.gan import gan_discriminator_loss as gan_discriminator_loss
from xent_jax.losses.gan import gan_generator_loss as gan_generator_loss
from xent_jax.losses.gaussian import gaussian_cross_entropy as gaussian_cross_entropy
from xent_jax.losses.gaussian import gaussian_entropy as gaussian_entropy
from xent_jax.losses.gaussian import gaussian_kl as gaussian_kl
from xent_jax.losses.gaussian import gaussian_nll as gaussian_nll
from xent_jax.losses.information import cross_entropy as cross_entropy
from xent_jax.losses.information import (
    cross_entropy_from_log_probs as cross_entropy_from_log_probs,
)
from xent_jax.losses.information import entropy as entropy
from xent_jax.losses.information import entropy_from_log_probs as entropy_from_log_probs
from xent_jax.losses.information import kl_divergence as kl_divergence
from xent_jax.losses.information import (
    kl_divergence_with_log_targets as kl_divergence_with_log_targets,
)
from xent_jax.losses.information import relative_entropy as relative_entropy
from xent_jax.losses.information import (
    relative_entropy_from_log_probs as relative_entropy_from_log_probs,
)
from xent_jax.losses.linear_cross_entropy import (
    linear_softmax_cross_entropy_with_integer_labels as linear_softmax_cross_entropy_with_integer_labels,  # noqa: E501
)
from xent_jax.losses.reduction import reduce_loss as reduce_loss
from xent_jax.losses.reduction import target_weights as target_weights
from xent_jax.losses.sigmoid import (
    multilabel_sigmoid_cross_entropy as multilabel_sigmoid_cross_entropy,
)
from xent_jax.losses.sigmoid import sigmoid_binary_cross_entropy as sigmoid_binary_cross_entropy
from xent_jax.losses.softmax import softmax_cross_entropy as softmax_cross_entropy
from xent_jax.losses.softmax import (
    softmax_cross_entropy_with_integer_labels as softmax_cross_entropy_with_integer_labels,
)
