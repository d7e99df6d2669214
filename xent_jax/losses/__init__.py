"""Cross-entropy losses in pure ``jax.numpy`` (no Flax): per-example outputs, keyword-only options.

See :mod:`xent_jax.losses.softmax` for the masking rules and the out-of-range label policy (NaN
loss and gradient under ``jit``; :func:`checked` raises with the offending index).
"""

from xent_jax.losses._checks import checked as checked
from xent_jax.losses.softmax import softmax_cross_entropy as softmax_cross_entropy
from xent_jax.losses.softmax import (
    softmax_cross_entropy_with_integer_labels as softmax_cross_entropy_with_integer_labels,
)
