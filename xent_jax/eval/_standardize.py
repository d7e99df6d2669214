"""The one feature standardisation: centre and scale by the training split's mean and std.

Every read-out in :mod:`xent_jax.eval` (linear probes, few-shot probes, ridge, the two-sample
classifier) standardises with these statistics, so a feature set is scaled the same way wherever
it is evaluated.
"""

from __future__ import annotations

import numpy as np
from jax.typing import ArrayLike

__all__ = ["standardize"]


def _float_dtype(x: np.ndarray) -> np.dtype:
    return np.dtype(np.float64) if x.dtype == np.float64 else np.dtype(np.float32)


def _mean_scale(train: ArrayLike, name: str = "train") -> tuple[np.ndarray, np.ndarray]:
    """Float64 column means ``[d]`` and scales ``[d]`` of ``train [n, d]`` (see standardize)."""
    x = np.asarray(train)
    if x.ndim != 2:
        raise ValueError(f"{name} must be [n, d], got shape {x.shape}")
    if x.shape[0] < 1:
        raise ValueError(f"{name} must hold at least one row, got shape {x.shape}")
    eps = np.finfo(_float_dtype(x)).eps
    x64 = x.astype(np.float64)
    mean = x64.mean(axis=0)
    std = x64.std(axis=0)
    constant = std <= 10 * eps * np.maximum(np.abs(mean), 1.0)
    return mean, np.where(constant, 1.0, std)


def standardize(train: ArrayLike, *others: ArrayLike) -> tuple[np.ndarray, ...]:
    r"""Centres and scales features by the column mean and std of ``train`` (computed once).

    :math:`z = (x - \mu_{\text{train}}) / \sigma_{\text{train}}` column-wise, with the population
    std (``ddof=0``, as ``sklearn.preprocessing.StandardScaler``). A column that is constant on
    ``train`` (std at most ``10 * eps * max(|mean|, 1)`` of the input's float type, i.e. zero up to
    rounding) keeps scale 1, so it maps to 0 instead of being blown up. Statistics are computed
    in float64; the outputs are float64 for float64 ``train`` and float32 otherwise.

    Args:
      train: ``[n, d]`` features whose statistics are used.
      *others: further ``[m, d]`` feature arrays (validation, test) scaled with the same
        statistics.

    Returns:
      a tuple ``(train_z, *others_z)`` of the same shapes.

    Examples:
      >>> tr, te = standardize(np.array([[0.0, 5.0], [2.0, 5.0]]), np.array([[4.0, 6.0]]))
      >>> tr.tolist(), te.tolist()
      ([[-1.0, 0.0], [1.0, 0.0]], [[3.0, 1.0]])
    """
    x = np.asarray(train)
    mean, scale = _mean_scale(x)
    dtype = _float_dtype(x)
    out = []
    for i, a in enumerate((x, *others)):
        a = np.asarray(a)
        if a.ndim != 2 or a.shape[1] != mean.shape[0]:
            name = "train" if i == 0 else f"others[{i - 1}]"
            raise ValueError(f"{name} must be [m, {mean.shape[0]}], got shape {a.shape}")
        out.append(((a.astype(np.float64) - mean) / scale).astype(dtype))
    return tuple(out)
