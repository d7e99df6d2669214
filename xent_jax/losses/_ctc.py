"""Connectionist temporal classification (optax's ``ctc_loss`` and ``ctc_loss_with_forward_probs``).

The forward recursion is optax's (Graves et al. 2006, blank/label alpha split, ``log_epsilon`` as
the stand-in for ``log 0``), so values and forward probabilities agree with optax; what differs
is the numerics around it: log-probabilities in float32 (at least) for bf16/f16 logits, label
emissions gathered (optax multiplies by a one-hot, so a ``-inf`` logit anywhere gives NaN), and
padded frames replaced before the recursion (optax mixes them in as ``pad * prev + (1 - pad) *
next``, so a NaN in a padded frame poisons the loss and every gradient).
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from xent_jax.losses._checks import (
    as_array,
    as_float_array,
    check_finite,
    check_labels_in_range,
    compute_dtype,
    value_check,
)

__all__ = ["ctc_loss", "ctc_loss_with_forward_probs"]


def ctc_loss_with_forward_probs(
    logits: jax.typing.ArrayLike,
    logit_paddings: jax.typing.ArrayLike,
    labels: jax.typing.ArrayLike,
    label_paddings: jax.typing.ArrayLike,
    *,
    blank_id: int = 0,
    log_epsilon: jax.typing.ArrayLike = -1e5,
) -> tuple[jax.Array, jax.Array, jax.Array]:
    r"""CTC loss and its forward (alpha) log-probabilities.

    .. math::
      \ell_b = -\log \sum_{\pi \in \mathcal B^{-1}(y_b)} \prod_t p(\pi_t \mid x_b, t)

    over all alignments :math:`\pi` that collapse (merge repeats, drop blanks) to the label
    sequence. Returns the blank and label alpha log-probabilities as optax does:
    :math:`\log\alpha_{\mathrm{BLANK}}(t, n)` and :math:`\log\alpha_{\mathrm{LABEL}}(t, n)`.

    Args:
      logits: ``[B, T, K]`` logits, ``K`` including the blank.
      logit_paddings: ``[B, T]``, 1.0 for padded frames, 0.0 otherwise. Padded frames never
        reach the loss or its gradient (a NaN there is ignored).
      labels: ``[B, N]`` integer labels, right-padded.
      label_paddings: ``[B, N]``, 1.0 for padded labels (a run of ones at the end of each row).
      blank_id: index of the blank class.
      log_epsilon: the finite stand-in for ``log 0`` in the recursion (optax's default -1e5).

    Returns:
      ``(loss [B], logalpha_blank [T, B, N + 1], logalpha_label [T, B, N])``, float32 (float64
      for float64 logits). An impossible alignment (more labels than frames) gives a loss of
      about ``-log_epsilon``, as in optax.

    Checked mode (:func:`xent_jax.losses.checked`): raises for unpadded labels outside
    ``[0, K)``, paddings other than 0 and 1, and NaN or ``+inf`` logits in unpadded frames.

    Examples:
      >>> import jax.numpy as jnp
      >>> from xent_jax.losses import ctc_loss_with_forward_probs
      >>> logits = jnp.zeros((1, 3, 4))
      >>> loss, blank, label = ctc_loss_with_forward_probs(
      ...     logits, jnp.zeros((1, 3)), jnp.array([[1, 2]]), jnp.zeros((1, 2)))
      >>> print(f"{float(loss[0]):.4f}", blank.shape, label.shape)  # -log(5 / 64)
      2.5494 (3, 1, 3) (3, 1, 2)

    References:
      Graves et al., "Connectionist temporal classification: labelling unsegmented sequence data
      with recurrent neural networks", ICML 2006.
    """
    logits = as_float_array(logits, "logits")
    logit_paddings = as_array(logit_paddings, "logit_paddings")
    labels = as_array(labels, "labels")
    label_paddings = as_array(label_paddings, "label_paddings")
    if logits.ndim != 3:
        raise ValueError(f"logits must have shape [B, T, K] (rank 3), got shape {logits.shape}")
    if labels.ndim != 2:
        raise ValueError(f"labels must have shape [B, N] (rank 2), got shape {labels.shape}")
    if not jnp.issubdtype(labels.dtype, jnp.integer):
        raise TypeError(f"labels must have an integer dtype, got dtype {labels.dtype}")
    if label_paddings.shape != labels.shape:
        raise ValueError(
            f"label_paddings must have the shape of labels {labels.shape}, got "
            f"{label_paddings.shape}"
        )
    if logit_paddings.shape != logits.shape[:2]:
        raise ValueError(
            f"logit_paddings must have shape {logits.shape[:2]} (logits without the class "
            f"axis), got {logit_paddings.shape}"
        )
    batch, steps, num_classes = logits.shape
    if labels.shape[0] != batch:
        raise ValueError(f"Expected `labels` to have batch size {batch}, got {labels.shape[0]}.")
    if steps == 0 or num_classes == 0 or labels.shape[1] == 0:
        raise ValueError(
            f"ctc needs at least one frame, one class and one label slot, got logits "
            f"{logits.shape} and labels {labels.shape}"
        )
    if isinstance(blank_id, bool) or not isinstance(blank_id, int | np.integer):
        raise TypeError(f"blank_id must be an int, got {blank_id!r}")
    if not 0 <= blank_id < num_classes:
        raise ValueError(f"blank_id must be in [0, {num_classes}), got {blank_id}")
    return _ctc_core(logits, logit_paddings, labels, label_paddings, log_epsilon, blank_id)


@functools.partial(jax.jit, static_argnums=(5,))
def _ctc_core(logits, logit_paddings, labels, label_paddings, log_epsilon, blank_id):
    """The recursion, jitted once per shape (eager calls do not dispatch op by op)."""
    batch, steps, num_classes = logits.shape
    max_label_len = labels.shape[1]
    dtype = compute_dtype(logits.dtype)
    frame_pad = logit_paddings != 0  # [B, T]
    label_pad = label_paddings != 0
    value_check(
        jnp.all((logit_paddings == 0) | (logit_paddings == 1))
        & jnp.all((label_paddings == 0) | (label_paddings == 1)),
        "logit_paddings and label_paddings must hold only 0 and 1",
    )
    z = jnp.where(frame_pad[..., None], 0.0, logits.astype(dtype))
    check_finite(z, "logits", allow_neg_inf=True)
    check_labels_in_range(jnp.where(label_pad, 0, labels), num_classes)
    log_eps = jnp.asarray(log_epsilon, dtype)

    logprobs = jax.nn.log_softmax(z, axis=-1)  # [B, T, K]
    label_lens = max_label_len - jnp.sum(label_pad, axis=1).astype(jnp.int32)  # [B]
    repeat = (labels[:, :-1] == labels[:, 1:]).astype(dtype)
    repeat = jnp.pad(repeat, ((0, 0), (0, 1)))  # [B, N]

    logprobs_phi = jnp.transpose(logprobs[:, :, blank_id : blank_id + 1], (1, 0, 2))  # [T, B, 1]
    in_range = (labels >= 0) & (labels < num_classes)
    index = jnp.broadcast_to(
        jnp.clip(labels, 0, num_classes - 1)[:, None, :], (batch, steps, max_label_len)
    )
    emit = jnp.take_along_axis(logprobs, index, axis=-1)  # [B, T, N]
    emit = jnp.where(in_range[:, None, :], emit, 0.0)  # optax's one-hot gives 0 here
    logprobs_emit = jnp.transpose(emit, (1, 0, 2))  # [T, B, N]

    init_phi = jnp.full((batch, max_label_len + 1), log_eps, dtype).at[:, 0].set(0.0)
    init_emit = jnp.full((batch, max_label_len), log_eps, dtype)

    def add_to_phi(phi, score):
        return jnp.concatenate([phi[:, :1], jnp.logaddexp(phi[:, 1:], score)], axis=-1)

    def step(carry, xs):
        prev_phi, prev_emit = carry
        lp_emit, lp_phi, pad = xs
        prev_phi_orig = prev_phi
        prev_phi = add_to_phi(prev_phi, prev_emit + log_eps * repeat)
        next_emit = jnp.logaddexp(prev_phi[:, :-1] + lp_emit, prev_emit + lp_emit)
        next_phi = prev_phi + lp_phi
        next_phi = add_to_phi(next_phi, prev_emit + lp_phi + log_eps * (1.0 - repeat))
        pad = pad[:, None]
        next_emit = jnp.where(pad, prev_emit, next_emit)
        next_phi = jnp.where(pad, prev_phi_orig, next_phi)
        return (next_phi, next_emit), (next_phi, next_emit)

    xs = (logprobs_emit, logprobs_phi, jnp.transpose(frame_pad, (1, 0)))
    _, (logalpha_phi, logalpha_emit) = jax.lax.scan(step, (init_phi, init_emit), xs)
    last_phi = add_to_phi(logalpha_phi[-1], logalpha_emit[-1])
    logalpha_phi = logalpha_phi.at[-1].set(last_phi)
    loss = -jnp.take_along_axis(last_phi, label_lens[:, None], axis=-1)[:, 0]
    return loss, logalpha_phi, logalpha_emit


def ctc_loss(
    logits: jax.typing.ArrayLike,
    logit_paddings: jax.typing.ArrayLike,
    labels: jax.typing.ArrayLike,
    label_paddings: jax.typing.ArrayLike,
    *,
    blank_id: int = 0,
    log_epsilon: jax.typing.ArrayLike = -1e5,
) -> jax.Array:
    r"""CTC loss per sequence; see :func:`ctc_loss_with_forward_probs` for the arguments.

    Args:
      logits: ``[B, T, K]`` logits including the blank class.
      logit_paddings: ``[B, T]`` frame paddings (1.0 = padded).
      labels: ``[B, N]`` integer labels, right-padded.
      label_paddings: ``[B, N]`` label paddings (1.0 = padded).
      blank_id: index of the blank class.
      log_epsilon: the finite stand-in for ``log 0``.

    Returns:
      ``[B]`` losses, float32 (float64 for float64 logits).

    Checked mode: as :func:`ctc_loss_with_forward_probs`.

    Examples:
      >>> import jax.numpy as jnp
      >>> from xent_jax.losses import ctc_loss
      >>> loss = ctc_loss(jnp.zeros((1, 3, 4)), jnp.zeros((1, 3)), jnp.array([[1, 2]]),
      ...                 jnp.zeros((1, 2)))
      >>> print(f"{float(loss[0]):.4f}")
      2.5494
    """
    loss, _, _ = ctc_loss_with_forward_probs(
        logits,
        logit_paddings,
        labels,
        label_paddings,
        blank_id=blank_id,
        log_epsilon=log_epsilon,
    )
    return loss
