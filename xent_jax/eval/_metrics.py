"""Scalar metrics and confidence intervals: accuracy, ROC-AUC, PR-AUC, calibration, intervals.

The metrics are pure ``jax.numpy`` functions of arrays (jit-able, no Python loop over examples).
The intervals are host-side summaries:

* :func:`mean_interval`: the mean of a few per-seed values with a Student-t interval (the t
  quantile is computed here, from the regularised incomplete beta function, so scipy is not
  needed at run time);
* :func:`bootstrap_interval`: a percentile bootstrap over test examples of any metric function.

References:
  Efron & Tibshirani, "An Introduction to the Bootstrap", 1993 (percentile interval);
  Guo et al., "On Calibration of Modern Neural Networks", ICML 2017 (ECE, reliability diagrams);
  Davis & Goadrich, "The Relationship Between Precision-Recall and ROC Curves", ICML 2006.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from xent_jax._keys import as_key

__all__ = [
    "Interval",
    "ReliabilityBins",
    "accuracy",
    "average_precision",
    "bootstrap_interval",
    "expected_calibration_error",
    "mean_interval",
    "reliability_bins",
    "roc_auc",
    "t_quantile",
]


class Interval(NamedTuple):
    """A point estimate with a confidence interval.

    Attributes:
      mean: the point estimate (the mean of ``values`` for :func:`mean_interval`; the metric on
        the full sample for :func:`bootstrap_interval`).
      low: lower end of the interval.
      high: upper end of the interval.
      n: number of values (seeds) or of examples the interval is over.
      values: the per-seed values (:func:`mean_interval`) or the bootstrap replicates
        (:func:`bootstrap_interval`), as a tuple of floats.
      level: the confidence level, e.g. ``0.95``.
      method: ``"student-t"``, ``"percentile-bootstrap"`` or ``"none"`` (a single value).
      note: empty, or why the interval is degenerate (a single value, non-finite values).
    """

    mean: float
    low: float
    high: float
    n: int
    values: tuple[float, ...]
    level: float
    method: str
    note: str = ""

    def to_dict(self, *, values: bool = True) -> dict[str, Any]:
        """A JSON-ready dict of the fields (``values`` dropped when ``values=False``)."""
        out = self._asdict()
        out["values"] = list(self.values)
        if not values:
            del out["values"]
        return out


def _check_level(level: Any) -> float:
    if isinstance(level, bool) or not isinstance(level, numbers.Real) or not 0 < level < 1:
        raise ValueError(f"level must be a number in (0, 1), got {level!r}")
    return float(level)


# --------------------------------------------------------------------------- Student-t quantile


def _betacf(a: float, b: float, x: float) -> float:
    """Continued fraction of the incomplete beta function (modified Lentz, Numerical Recipes)."""
    tiny, eps = 1e-300, 1e-15
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 10_000):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < eps:
            break
    return h


def _betainc(a: float, b: float, x: float) -> float:
    """Regularised incomplete beta :math:`I_x(a, b)` in float64."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    log_front = (
        math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    )
    if x < (a + 1.0) / (a + b + 2.0):
        return math.exp(log_front) * _betacf(a, b, x) / a
    return 1.0 - math.exp(log_front) * _betacf(b, a, 1.0 - x) / b


def _t_sf(t: float, df: float) -> float:
    """Upper tail :math:`P(T > t)` of Student's t for ``t >= 0``."""
    return 0.5 * _betainc(0.5 * df, 0.5, df / (df + t * t))


def t_quantile(q: float, df: float) -> float:
    r"""Quantile (inverse CDF) of Student's t distribution with ``df`` degrees of freedom.

    Uses :math:`P(T > t) = \tfrac12 I_{\nu/(\nu+t^2)}(\nu/2, 1/2)` (regularised incomplete beta,
    continued fraction) and bisection to float64 precision; ``df = 1`` and ``2`` use their closed
    forms. Matches ``scipy.stats.t.ppf`` to about 1e-10.

    Args:
      q: probability in (0, 1).
      df: degrees of freedom, > 0.

    Returns:
      ``t`` with :math:`P(T \le t) = q`.

    Examples:
      >>> round(t_quantile(0.975, 4), 6)
      2.776445
      >>> round(t_quantile(0.5, 7), 12)
      0.0
    """
    if not 0.0 < q < 1.0:
        raise ValueError(f"q must be in (0, 1), got {q!r}")
    if not df > 0:
        raise ValueError(f"df must be > 0, got {df!r}")
    q, df = float(q), float(df)
    if q < 0.5:
        return -t_quantile(1.0 - q, df)
    if q == 0.5:
        return 0.0
    if df == 1.0:
        return math.tan(math.pi * (q - 0.5))
    if df == 2.0:
        a = 4.0 * q * (1.0 - q)
        return (2.0 * q - 1.0) * math.sqrt(2.0 / a)
    tail = 1.0 - q
    lo, hi = 0.0, 1.0
    while _t_sf(hi, df) > tail:
        lo, hi = hi, 2.0 * hi
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if _t_sf(mid, df) > tail:
            lo = mid
        else:
            hi = mid
        if hi - lo <= 1e-15 * max(1.0, hi):
            break
    return 0.5 * (lo + hi)


# --------------------------------------------------------------------------- intervals


def mean_interval(values: ArrayLike | Sequence[float], level: float = 0.95) -> Interval:
    r"""Mean of per-seed values with a Student-t confidence interval.

    :math:`\bar x \pm t_{(1+\text{level})/2,\,n-1}\, s/\sqrt n` with :math:`s` the sample
    standard deviation (``ddof=1``). With a single value there is no spread to estimate: ``low``
    and ``high`` equal the mean and ``note`` says so (``method="none"``), never NaN. Non-finite
    values propagate (the mean and both ends become NaN or inf) and ``note`` names how many.

    Args:
      values: ``[n]`` per-seed values (any float-convertible sequence), ``n >= 1``.
      level: confidence level in (0, 1).

    Returns:
      An :class:`Interval` (``method="student-t"``).

    Examples:
      >>> r = mean_interval([0.81, 0.84, 0.83])
      >>> round(r.mean, 4), round(r.low, 4), round(r.high, 4), r.n
      (0.8267, 0.7887, 0.8646, 3)
      >>> one = mean_interval([0.5])
      >>> one.low == one.high == 0.5, one.note
      (True, 'n=1: a single value has no spread, so low = high = mean (no interval)')
    """
    level = _check_level(level)
    x = np.asarray(values, dtype=np.float64)
    if x.ndim == 0:
        x = x[None]
    if x.ndim != 1 or x.size == 0:
        raise ValueError(f"values must be a non-empty 1-D sequence, got shape {x.shape}")
    n = int(x.size)
    mean = float(x.mean())
    vals = tuple(float(v) for v in x)
    bad = int(np.count_nonzero(~np.isfinite(x)))
    if n == 1:
        note = "n=1: a single value has no spread, so low = high = mean (no interval)"
        return Interval(mean, mean, mean, 1, vals, level, "none", note)
    half = t_quantile(0.5 + level / 2, n - 1) * float(x.std(ddof=1)) / math.sqrt(n)
    note = f"{bad} of {n} values are not finite" if bad else ""
    return Interval(mean, mean - half, mean + half, n, vals, level, "student-t", note)


def _resample_indices(key: jax.Array, n: int, num_resamples: int) -> jax.Array:
    """``[num_resamples, n]`` example indices drawn with replacement (one row per replicate)."""
    return jax.random.randint(key, (num_resamples, n), 0, n)


def bootstrap_interval(
    metric_fn: Callable[..., ArrayLike],
    *arrays: ArrayLike,
    key: Any,
    num_resamples: int = 1000,
    level: float = 0.95,
    batch_size: int | None = 100,
) -> Interval:
    """Percentile bootstrap interval of a metric over examples.

    Draws ``num_resamples`` resamples of the examples (rows of every array together, with
    replacement), evaluates ``metric_fn`` on each (``jax.vmap`` in chunks of ``batch_size``
    replicates, under ``jax.jit``), and returns the ``(1 - level) / 2`` and ``(1 + level) / 2``
    quantiles of the replicates around the metric on the full sample.

    Args:
      metric_fn: ``(*arrays) -> scalar``, a jax-traceable function (e.g. :func:`roc_auc`).
      *arrays: arrays sharing the leading example axis ``[n, ...]``.
      key: PRNG key or int seed (:func:`xent_jax._keys.as_key`).
      num_resamples: number of bootstrap replicates (>= 2).
      level: confidence level in (0, 1).
      batch_size: replicates evaluated per vmapped chunk (memory bound); ``None`` for all at once.

    Returns:
      An :class:`Interval` with ``mean`` = ``metric_fn(*arrays)``, ``n`` = number of examples and
      ``values`` = the replicates (``method="percentile-bootstrap"``).

    Examples:
      >>> import numpy as np
      >>> y = np.array([0, 1] * 50); s = y + np.linspace(-1.2, 1.2, 100)
      >>> r = bootstrap_interval(roc_auc, s, y, key=0, num_resamples=200)
      >>> round(r.mean, 4), r.low < r.mean < r.high, r.n
      (0.8376, True, 100)
    """
    level = _check_level(level)
    if not callable(metric_fn):
        raise TypeError(f"metric_fn must be callable, got {type(metric_fn).__name__}")
    if not arrays:
        raise ValueError("bootstrap_interval needs at least one array after metric_fn")
    if isinstance(num_resamples, bool) or not isinstance(num_resamples, numbers.Integral):
        raise TypeError(f"num_resamples must be an int, got {num_resamples!r}")
    if num_resamples < 2:
        raise ValueError(f"num_resamples must be >= 2, got {num_resamples}")
    key = as_key(key, "key")
    xs = [jnp.asarray(a) for a in arrays]
    for i, a in enumerate(xs):
        if a.ndim == 0:
            raise ValueError(f"arrays[{i}] must have a leading example axis, got a scalar")
    n = int(xs[0].shape[0])
    if any(a.shape[0] != n for a in xs):
        raise ValueError(f"arrays must share the example axis, got {[a.shape for a in xs]}")
    if n < 1:
        raise ValueError("arrays must hold at least one example, got 0")
    point = jnp.asarray(metric_fn(*xs))
    if point.shape != ():
        raise ValueError(f"metric_fn must return a scalar, got shape {point.shape}")
    idx = _resample_indices(key, n, int(num_resamples))

    @jax.jit
    def replicates(idx, xs):
        def one(i):
            return jnp.asarray(metric_fn(*(a[i] for a in xs)), jnp.float32)

        return jax.lax.map(one, idx, batch_size=batch_size)

    reps = np.asarray(replicates(idx, xs), np.float64)
    low, high = np.quantile(reps, [0.5 - level / 2, 0.5 + level / 2])
    bad = int(np.count_nonzero(~np.isfinite(reps)))
    note = f"{bad} of {reps.size} replicates are not finite" if bad else ""
    return Interval(
        float(point),
        float(low),
        float(high),
        n,
        tuple(float(r) for r in reps),
        level,
        "percentile-bootstrap",
        note,
    )


# --------------------------------------------------------------------------- metrics


def _is_concrete(x: Any) -> bool:
    return not isinstance(x, jax.core.Tracer)


def accuracy(predictions: ArrayLike, labels: ArrayLike) -> jax.Array:
    """Fraction of examples whose prediction equals the label.

    Args:
      predictions: int class predictions ``[n]``, or scores/logits/probabilities ``[n, classes]``
        (their argmax is the prediction).
      labels: int ``[n]``.

    Returns:
      scalar float32 in [0, 1]; NaN when a prediction or score is NaN (never a finite count of
      NaN rows as wrong or right).

    Examples:
      >>> logits = jnp.array([[2.0, 1.0], [0.0, 3.0], [1.0, 0.0]])
      >>> round(float(accuracy(logits, jnp.array([0, 1, 1]))), 6)
      0.666667
    """
    predictions, labels = jnp.asarray(predictions), jnp.asarray(labels)
    if labels.ndim != 1:
        raise ValueError(f"labels must be [n], got shape {labels.shape}")
    poisoned = _any_nan(predictions)
    if predictions.ndim == 2:
        predictions = jnp.argmax(predictions, axis=-1)
    if predictions.shape != labels.shape:
        raise ValueError(
            f"predictions must be [n] or [n, classes] with n={labels.shape[0]}, "
            f"got shape {predictions.shape}"
        )
    return jnp.where(poisoned, jnp.nan, jnp.mean((predictions == labels).astype(jnp.float32)))


def _any_nan(x: jax.Array) -> jax.Array:
    """True when a floating ``x`` holds a NaN (False for integer arrays)."""
    if not jnp.issubdtype(x.dtype, jnp.inexact):
        return jnp.bool_(False)
    return jnp.any(jnp.isnan(x))


def _binary(scores: ArrayLike, labels: ArrayLike, fn: str) -> tuple[jax.Array, jax.Array]:
    s, y = jnp.asarray(scores), jnp.asarray(labels)
    if s.ndim != 1 or y.shape != s.shape:
        raise ValueError(f"{fn}: scores and labels must both be [n], got {s.shape} and {y.shape}")
    if not jnp.issubdtype(s.dtype, jnp.floating):
        s = s.astype(jnp.float32)
    if _is_concrete(y):
        values = np.unique(np.asarray(y))
        if not set(values.tolist()) <= {0, 1}:
            raise ValueError(f"{fn}: labels must be 0/1 (or bool), got values {values[:10]}")
        if values.size < 2:
            raise ValueError(f"{fn}: labels must contain both classes, got only {values}")
    return s, y.astype(bool)


def roc_auc(scores: ArrayLike, labels: ArrayLike) -> jax.Array:
    r"""Area under the ROC curve of a binary scorer (ties count one half).

    Computed as the Mann-Whitney statistic: with average ranks :math:`r_i` of the scores (ties
    share their mean rank), :math:`\mathrm{AUC} = (\sum_{y_i=1} r_i - P(P+1)/2) / (P N)` for
    :math:`P` positives and :math:`N` negatives. Equals
    ``sklearn.metrics.roc_auc_score(labels, scores)``.

    Args:
      scores: float ``[n]``, higher means more likely positive.
      labels: 0/1 or bool ``[n]``. Eagerly, both classes must be present (ValueError); under
        ``jit`` a missing class gives NaN.

    Returns:
      scalar in [0, 1]; NaN when a score is NaN.

    Examples:
      >>> float(roc_auc(jnp.array([0.1, 0.4, 0.35, 0.8]), jnp.array([0, 0, 1, 1])))
      0.75
    """
    s, y = _binary(scores, labels, "roc_auc")
    ordered = jnp.sort(s)
    lo = jnp.searchsorted(ordered, s, side="left")
    hi = jnp.searchsorted(ordered, s, side="right")
    rank = (lo + hi + 1).astype(jnp.float32) / 2  # 1-based average rank
    pos = jnp.sum(y).astype(jnp.float32)
    neg = jnp.float32(s.shape[0]) - pos
    rank_sum = jnp.sum(jnp.where(y, rank, 0.0))
    auc = (rank_sum - pos * (pos + 1) / 2) / (pos * neg)
    return jnp.where(_any_nan(s), jnp.nan, auc)


def average_precision(scores: ArrayLike, labels: ArrayLike) -> jax.Array:
    r"""Average precision (area under the precision-recall curve, step-wise), binary.

    :math:`\mathrm{AP} = \sum_k (R_k - R_{k-1}) P_k` over the distinct score thresholds, which
    equals the mean over positives :math:`i` of the precision among examples scoring at least
    :math:`s_i`. Equals ``sklearn.metrics.average_precision_score(labels, scores)`` (no
    interpolation).

    Args:
      scores: float ``[n]``, higher means more likely positive.
      labels: 0/1 or bool ``[n]``. Eagerly, both classes must be present (ValueError); under
        ``jit`` no positives gives NaN.

    Returns:
      scalar in [0, 1]; NaN when a score is NaN.

    Examples:
      >>> round(float(average_precision(jnp.array([0.1, 0.4, 0.35, 0.8]),
      ...                               jnp.array([0, 0, 1, 1]))), 6)
      0.833333
    """
    s, y = _binary(scores, labels, "average_precision")
    n = s.shape[0]
    ordered = jnp.sort(s)
    at_least = n - jnp.searchsorted(ordered, s, side="left")  # examples scoring >= s_i
    # positives scoring >= s_i: sort the positives' scores, negatives pushed below everything
    pos_sorted = jnp.sort(jnp.where(y, s, -jnp.inf))
    pos_at_least = n - jnp.searchsorted(pos_sorted, s, side="left")
    precision = pos_at_least.astype(jnp.float32) / at_least.astype(jnp.float32)
    pos = jnp.sum(y).astype(jnp.float32)
    ap = jnp.sum(jnp.where(y, precision, 0.0)) / pos
    return jnp.where(_any_nan(s), jnp.nan, ap)


class ReliabilityBins(NamedTuple):
    """Per-bin calibration statistics (equal-width confidence bins on [0, 1]).

    Attributes:
      edges: ``[num_bins + 1]`` bin edges; bin ``b`` holds confidences in
        ``(edges[b], edges[b + 1]]`` (the first bin also holds 0).
      confidence: ``[num_bins]`` mean confidence in each bin (NaN where the bin is empty).
      accuracy: ``[num_bins]`` accuracy in each bin (NaN where the bin is empty).
      counts: ``[num_bins]`` number of examples in each bin (rows with a NaN probability are in
        no bin, and then every bin's confidence and accuracy is NaN).
    """

    edges: jax.Array
    confidence: jax.Array
    accuracy: jax.Array
    counts: jax.Array


def _confidence_correct(probs: ArrayLike, labels: ArrayLike) -> tuple[jax.Array, jax.Array]:
    p, y = jnp.asarray(probs), jnp.asarray(labels)
    if not jnp.issubdtype(p.dtype, jnp.floating):
        raise TypeError(f"probs must be floating point, got dtype {p.dtype}")
    if y.ndim != 1:
        raise ValueError(f"labels must be [n], got shape {y.shape}")
    if _is_concrete(p):
        arr = np.asarray(p)
        outside = np.isfinite(arr) & ((arr < 0) | (arr > 1))
        if outside.any():
            bad = np.argwhere(outside)[0].tolist()
            raise ValueError(
                f"probs must lie in [0, 1], got {arr[tuple(bad)]!r} at index {bad} "
                "(pass probabilities, e.g. jax.nn.softmax(logits), not logits)"
            )
    if p.ndim == 1 and p.shape == y.shape:  # binary: p = P(y = 1)
        conf = jnp.maximum(p, 1 - p)
        correct = (p > 0.5) == y.astype(bool)
    elif p.ndim == 2 and p.shape[0] == y.shape[0]:
        conf = jnp.max(p, axis=-1)
        correct = jnp.argmax(p, axis=-1) == y
    else:
        raise ValueError(
            f"probs must be [n, classes] or binary [n] with n={y.shape[0]}, got shape {p.shape}"
        )
    return conf, correct.astype(p.dtype)


def reliability_bins(probs: ArrayLike, labels: ArrayLike, *, num_bins: int = 15) -> ReliabilityBins:
    """Reliability-diagram statistics: accuracy versus confidence in equal-width bins.

    The confidence of an example is its top class probability (``probs [n, classes]``) or
    ``max(p, 1 - p)`` for binary ``probs [n]`` holding :math:`P(y=1)`; it is correct when the
    argmax (binary: ``p > 0.5``) equals the label.

    Args:
      probs: ``[n, classes]`` class probabilities, or binary ``[n]``.
      labels: int ``[n]`` (binary: 0/1).
      num_bins: number of equal-width bins on [0, 1].

    Returns:
      A :class:`ReliabilityBins`.

    Examples:
      >>> p = jnp.array([[0.9, 0.1], [0.8, 0.2], [0.3, 0.7]])
      >>> r = reliability_bins(p, jnp.array([0, 1, 1]), num_bins=2)
      >>> r.counts.tolist(), [round(a, 4) for a in r.accuracy.tolist()]
      ([0, 3], [nan, 0.6667])
    """
    if isinstance(num_bins, bool) or not isinstance(num_bins, numbers.Integral) or num_bins < 1:
        raise ValueError(f"num_bins must be a positive int, got {num_bins!r}")
    conf, correct = _confidence_correct(probs, labels)
    edges = jnp.linspace(0.0, 1.0, num_bins + 1, dtype=conf.dtype)
    which = jnp.searchsorted(edges[1:-1], conf, side="left")  # (edges[b], edges[b+1]] -> b
    nan_row = jnp.isnan(conf)
    which = jnp.where(nan_row, num_bins, which)  # out of range: dropped by .at[].add
    counts = jnp.zeros((num_bins,), jnp.int32).at[which].add(1, mode="drop")
    conf_sum = jnp.zeros((num_bins,), conf.dtype).at[which].add(conf, mode="drop")
    acc_sum = jnp.zeros((num_bins,), conf.dtype).at[which].add(correct, mode="drop")
    safe = jnp.maximum(counts, 1).astype(conf.dtype)
    empty = (counts == 0) | jnp.any(nan_row)
    return ReliabilityBins(
        edges=edges,
        confidence=jnp.where(empty, jnp.nan, conf_sum / safe),
        accuracy=jnp.where(empty, jnp.nan, acc_sum / safe),
        counts=counts,
    )


def expected_calibration_error(
    probs: ArrayLike, labels: ArrayLike, *, num_bins: int = 15
) -> jax.Array:
    r"""Expected calibration error with equal-width confidence bins.

    :math:`\mathrm{ECE} = \sum_b \frac{|B_b|}{n} |\mathrm{acc}(B_b) - \mathrm{conf}(B_b)|` over the
    bins of :func:`reliability_bins` (empty bins contribute 0).

    Args:
      probs: ``[n, classes]`` class probabilities, or binary ``[n]`` holding :math:`P(y=1)`.
      labels: int ``[n]``.
      num_bins: number of bins (15 as in Guo et al. 2017).

    Returns:
      scalar in [0, 1]; NaN when a probability is NaN. Eagerly, probabilities outside [0, 1]
      raise ``ValueError``.

    Examples:
      >>> p = jnp.array([[0.9, 0.1], [0.8, 0.2], [0.3, 0.7]])
      >>> round(float(expected_calibration_error(p, jnp.array([0, 1, 1]), num_bins=2)), 6)
      0.133333
    """
    bins = reliability_bins(probs, labels, num_bins=num_bins)
    n = jnp.sum(bins.counts).astype(bins.confidence.dtype)
    gap = jnp.where(bins.counts > 0, jnp.abs(bins.accuracy - bins.confidence), 0.0)
    poisoned = jnp.any(jnp.isnan(bins.confidence) & (bins.counts > 0)) | (n == 0)
    return jnp.where(poisoned, jnp.nan, jnp.sum(bins.counts * gap) / jnp.maximum(n, 1))
