"""Cross-entropy, entropy, KL and negative log-likelihood of univariate Gaussians.

Elementwise by default; pass ``axis`` to sum over it, which gives the diagonal multivariate
form. Every function takes variances, or log-variances with ``log_variance=True``; the log form
never exponentiates a log-variance on its own (only differences such as
:math:`\\log\\sigma_p^2 - \\log\\sigma_q^2`), so log-variances of magnitude 100 or more do not
overflow. Negative variances raise ``ValueError`` when the input is concrete and give NaN under
``jit`` (with a checkify check that :func:`xent_jax.losses.checked` turns into an error).
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

from xent_jax.losses._checks import as_float_array, canonical_axis, check_nonnegative, compute_dtype

__all__ = ["gaussian_cross_entropy", "gaussian_entropy", "gaussian_kl", "gaussian_nll"]

_LOG_2PI = math.log(2.0 * math.pi)


def _prepare(arrays: dict[str, jax.typing.ArrayLike], log_variance: bool, variances: tuple):
    values = {name: as_float_array(value, name) for name, value in arrays.items()}
    try:
        shape = np.broadcast_shapes(*[v.shape for v in values.values()])
    except ValueError:
        shapes = ", ".join(f"{n} {v.shape}" for n, v in values.items())
        raise ValueError(f"the arguments must have broadcastable shapes, got {shapes}") from None
    dtype = compute_dtype(*[v.dtype for v in values.values()])
    out = {}
    for name, value in values.items():
        if name in variances and not log_variance:
            check_nonnegative(value, name)
        out[name] = jnp.broadcast_to(value.astype(dtype), shape)
    return out


def _scaled_square(diff: jax.Array, log_var: jax.Array) -> jax.Array:
    """``diff**2 / exp(log_var)`` without forming ``exp(-log_var)`` (which can overflow)."""
    zero = diff == 0
    log_abs = jnp.log(jnp.abs(jnp.where(zero, 1.0, diff)))
    return jnp.where(zero, 0.0, jnp.exp(2.0 * log_abs - log_var))


def _over_var(diff: jax.Array, var: jax.Array) -> jax.Array:
    """``diff**2 / var`` as ``(diff / sqrt(var))**2``: no overflow of ``diff**2`` (|diff| > 1e19 in
    float32) where the quotient is representable."""
    return jnp.square(diff / jnp.sqrt(var))


def _reduce(values: jax.Array, axis: int | None) -> jax.Array:
    if axis is None:
        return values
    return jnp.sum(values, axis=canonical_axis(axis, values.ndim))


def gaussian_kl(
    mean_p: jax.typing.ArrayLike,
    var_p: jax.typing.ArrayLike,
    mean_q: jax.typing.ArrayLike,
    var_q: jax.typing.ArrayLike,
    *,
    log_variance: bool = False,
    axis: int | None = None,
) -> jax.Array:
    r""":math:`KL(\mathcal N(\mu_p, \sigma_p^2) \| \mathcal N(\mu_q, \sigma_q^2))`.

    .. math::
      \tfrac12\left(\log\frac{\sigma_q^2}{\sigma_p^2} + \frac{\sigma_p^2 + (\mu_p - \mu_q)^2}
      {\sigma_q^2} - 1\right)

    Args:
      mean_p, var_p, mean_q, var_q: broadcastable arrays; variances (or log-variances).
      log_variance: when True, ``var_p`` and ``var_q`` are log-variances.
      axis: optional axis to sum over (diagonal multivariate Gaussians).

    Returns:
      The broadcast shape, without ``axis`` when given.

    Examples:
      >>> from xent_jax.losses import gaussian_kl
      >>> print(round(float(gaussian_kl(0.0, 1.0, 1.0, 2.0)), 4))
      0.3466
    """
    a = _prepare(
        {"mean_p": mean_p, "var_p": var_p, "mean_q": mean_q, "var_q": var_q},
        log_variance,
        ("var_p", "var_q"),
    )
    diff = a["mean_p"] - a["mean_q"]
    if log_variance:
        lv_p, lv_q = a["var_p"], a["var_q"]
        values = 0.5 * (lv_q - lv_p + jnp.exp(lv_p - lv_q) + _scaled_square(diff, lv_q) - 1.0)
    else:
        v_p, v_q = a["var_p"], a["var_q"]
        values = 0.5 * (jnp.log(v_q) - jnp.log(v_p) + v_p / v_q + _over_var(diff, v_q) - 1.0)
    return _reduce(values, axis)


def gaussian_cross_entropy(
    mean_p: jax.typing.ArrayLike,
    var_p: jax.typing.ArrayLike,
    mean_q: jax.typing.ArrayLike,
    var_q: jax.typing.ArrayLike,
    *,
    log_variance: bool = False,
    axis: int | None = None,
) -> jax.Array:
    r"""Cross-entropy :math:`H(p, q) = -E_p[\log q]` of two Gaussians (nats).

    .. math::
      \tfrac12\left(\log(2\pi\sigma_q^2) + \frac{\sigma_p^2 + (\mu_p - \mu_q)^2}{\sigma_q^2}\right)
      = H(p) + KL(p \| q)

    Args:
      mean_p, var_p, mean_q, var_q: broadcastable arrays; variances (or log-variances).
      log_variance: when True, ``var_p`` and ``var_q`` are log-variances.
      axis: optional axis to sum over (diagonal multivariate Gaussians).

    Examples:
      >>> from xent_jax.losses import gaussian_cross_entropy
      >>> print(round(float(gaussian_cross_entropy(0.0, 1.0, 0.0, 1.0)), 4))
      1.4189
    """
    a = _prepare(
        {"mean_p": mean_p, "var_p": var_p, "mean_q": mean_q, "var_q": var_q},
        log_variance,
        ("var_p", "var_q"),
    )
    diff = a["mean_p"] - a["mean_q"]
    if log_variance:
        lv_p, lv_q = a["var_p"], a["var_q"]
        values = 0.5 * (_LOG_2PI + lv_q + jnp.exp(lv_p - lv_q) + _scaled_square(diff, lv_q))
    else:
        v_p, v_q = a["var_p"], a["var_q"]
        values = 0.5 * (_LOG_2PI + jnp.log(v_q) + v_p / v_q + _over_var(diff, v_q))
    return _reduce(values, axis)


def gaussian_entropy(
    var: jax.typing.ArrayLike, *, log_variance: bool = False, axis: int | None = None
) -> jax.Array:
    r"""Differential entropy :math:`\tfrac12 \log(2\pi e \sigma^2)` of a Gaussian (nats).

    Args:
      var: variances (or log-variances with ``log_variance=True``).
      log_variance: when True, ``var`` holds log-variances.
      axis: optional axis to sum over (diagonal multivariate Gaussian).

    Examples:
      >>> from xent_jax.losses import gaussian_entropy
      >>> print(round(float(gaussian_entropy(1.0)), 4))
      1.4189
    """
    a = _prepare({"var": var}, log_variance, ("var",))
    log_var = a["var"] if log_variance else jnp.log(a["var"])
    return _reduce(0.5 * (_LOG_2PI + 1.0 + log_var), axis)


def gaussian_nll(
    mean: jax.typing.ArrayLike,
    var: jax.typing.ArrayLike,
    targets: jax.typing.ArrayLike,
    *,
    log_variance: bool = False,
    axis: int | None = None,
) -> jax.Array:
    r"""Negative log-likelihood of ``targets`` under :math:`\mathcal N(\mu, \sigma^2)`.

    For heteroscedastic regression (the model predicts a mean and a variance per output):

    .. math::
      \tfrac12\left(\log(2\pi\sigma^2) + \frac{(y - \mu)^2}{\sigma^2}\right)

    This is PyTorch's ``GaussianNLLLoss(full=True, eps=0, reduction="none")``; with
    ``log_variance=True`` the network can output an unconstrained log-variance.

    Args:
      mean: predicted means.
      var: predicted variances (or log-variances).
      targets: observed values; all three broadcastable.
      log_variance: when True, ``var`` holds log-variances.
      axis: optional axis to sum over.

    Examples:
      >>> from xent_jax.losses import gaussian_nll
      >>> print(round(float(gaussian_nll(0.0, 1.0, 1.0)), 4))
      1.4189
    """
    a = _prepare({"mean": mean, "var": var, "targets": targets}, log_variance, ("var",))
    diff = a["targets"] - a["mean"]
    if log_variance:
        values = 0.5 * (_LOG_2PI + a["var"] + _scaled_square(diff, a["var"]))
    else:
        values = 0.5 * (_LOG_2PI + jnp.log(a["var"]) + _over_var(diff, a["var"]))
    return _reduce(values, axis)
