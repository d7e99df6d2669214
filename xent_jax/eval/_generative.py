"""Evaluating generative models: mode coverage, a classifier two-sample test, set statistics.

* :func:`mode_coverage`: the VEEGAN protocol for Gaussian-mixture benchmarks. A sample is *high
  quality* when it lies within ``n_std`` (3) standard deviations of its nearest mode centre; a
  mode is *covered* when at least one high-quality sample is nearest to it.
* :func:`classifier_two_sample_test`: train a small MLP (:class:`xent_jax.models.MLP`, through the
  engine's :func:`xent_jax.train.fit`) with sigmoid cross-entropy to tell real from generated
  samples, then report its held-out accuracy and cross-entropy. A perfect
  generator leaves the classifier at chance: accuracy 0.5 and cross-entropy ``ln 2 = 0.693``.
* :func:`novelty`, :func:`uniqueness`, :func:`marginal_kl`, :func:`count_distribution`: simple
  statistics of generated discrete objects (formulas, element sets).

References:
  Srivastava et al., "VEEGAN", NeurIPS 2017; Lopez-Paz & Oquab, "Revisiting classifier
  two-sample tests", ICLR 2017.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx
from jax.typing import ArrayLike

from xent_jax._keys import as_key
from xent_jax.eval._standardize import standardize
from xent_jax.losses import sigmoid_binary_cross_entropy
from xent_jax.models import MLP

__all__ = [
    "classifier_two_sample_test",
    "count_distribution",
    "marginal_kl",
    "mode_coverage",
    "novelty",
    "uniqueness",
]


def mode_coverage(
    samples: ArrayLike, centers: ArrayLike, std: float, *, n_std: float = 3.0
) -> dict[str, float | list[int]]:
    """Modes covered and fraction of high-quality samples (VEEGAN protocol).

    Args:
      samples: generated points, shape ``[n, dim]`` (VEEGAN uses n = 2,500).
      centers: mode centres, shape ``[modes, dim]``.
      std: the modes' standard deviation.
      n_std: a sample within ``n_std * std`` of its nearest centre is high quality.

    Returns:
      A dict with ``modes`` (number of covered modes), ``high_quality`` (fraction of samples that
      are high quality, in [0, 1]) and ``counts`` (high-quality samples per mode, a list).

    Raises:
      ValueError: for bad shapes or a non-positive ``std``.

    Examples:
      >>> import numpy as np
      >>> c = np.array([[0.0, 0.0], [1.0, 0.0]])
      >>> r = mode_coverage(np.array([[0.01, 0.0], [0.5, 0.5]]), c, 0.02)
      >>> r["modes"], r["high_quality"], r["counts"]
      (1, 0.5, [1, 0])
    """
    x = np.asarray(samples, dtype=np.float64)
    c = np.asarray(centers, dtype=np.float64)
    if x.ndim != 2 or c.ndim != 2 or x.shape[1] != c.shape[1]:
        raise ValueError(
            f"samples [n, dim] and centers [modes, dim] must agree, got {x.shape} and {c.shape}"
        )
    if x.shape[0] == 0:
        raise ValueError("samples must hold at least one point, got 0")
    if not std > 0 or not n_std > 0:
        raise ValueError(f"std and n_std must be positive, got std={std!r}, n_std={n_std!r}")
    dist = np.linalg.norm(x[:, None, :] - c[None, :, :], axis=-1)
    nearest = dist.argmin(axis=1)
    hq = dist[np.arange(len(x)), nearest] <= n_std * std
    hq &= np.all(np.isfinite(x), axis=1)
    counts = np.bincount(nearest[hq], minlength=len(c))
    return {
        "modes": int(np.count_nonzero(counts)),
        "high_quality": float(hq.mean()),
        "counts": counts.tolist(),
    }


@functools.lru_cache(maxsize=16)
def _adamw(learning_rate: float, weight_decay: float) -> optax.GradientTransformation:
    # cached so equal settings give an equal (hashable) step and reuse its compiled chunks
    return optax.adamw(learning_rate, weight_decay=weight_decay)


@dataclasses.dataclass(frozen=True)
class _TwoSampleStep:
    """Full-batch AdamW step on the mean sigmoid cross-entropy; the data rides in the state."""

    graphdef: nnx.GraphDef
    tx: optax.GradientTransformation

    def __call__(self, state, batch, key):
        del batch, key  # full batch, deterministic

        def loss_fn(params):
            model = nnx.merge(self.graphdef, params, state["rest"])
            logits = model(state["x"])[:, 0]
            return jnp.mean(sigmoid_binary_cross_entropy(logits, state["y"]))

        loss, grads = jax.value_and_grad(loss_fn)(state["params"])
        updates, opt_state = self.tx.update(grads, state["opt_state"], state["params"])
        params = optax.apply_updates(state["params"], updates)
        return {**state, "params": params, "opt_state": opt_state}, {"loss": loss}


def classifier_two_sample_test(
    real: ArrayLike,
    fake: ArrayLike,
    *,
    key: Any,
    hidden: Sequence[int] = (128, 128),
    steps: int = 1000,
    learning_rate: float = 1e-3,
    weight_decay: float = 1e-4,
    test_fraction: float = 0.5,
    steps_per_call: int = 100,
) -> dict[str, float]:
    """Classifier two-sample test: how well can an MLP tell real from generated samples?

    Both sets are cut to the same size ``n`` (so chance is exactly 0.5), shuffled and split into a
    training part and a held-out part (``test_fraction``). Non-finite generated rows (a
    diverged generator) are set to 0 and counted in ``non_finite_fake``; non-finite real rows
    are an error. Features are standardised with the training part's statistics
    (:func:`xent_jax.eval.standardize`). A :class:`xent_jax.models.MLP` (ReLU ``hidden`` layers,
    one output logit) is trained full-batch with AdamW on the mean sigmoid cross-entropy
    (label 1 = real) through the engine's :func:`xent_jax.train.fit`, and scored on the held-out
    part.

    Args:
      real: held-out real samples (never seen by the generator), shape ``[n_real, dim]``.
      fake: generated samples, shape ``[n_fake, dim]``.
      key: PRNG key or int seed (subsampling, split, initialisation).
      hidden: hidden layer widths of the classifier.
      steps: full-batch AdamW steps.
      learning_rate, weight_decay: AdamW settings.
      test_fraction: share of each set held out for scoring.
      steps_per_call: steps per compiled chunk of :func:`xent_jax.train.fit`.

    Returns:
      A dict: ``accuracy`` and ``cross_entropy`` (nats, mean) on the held-out part,
      ``train_accuracy``, ``n_test``, ``chance_cross_entropy`` (``ln 2``) and
      ``non_finite_fake`` (generated rows with a NaN or inf among the ``n`` used).

    Raises:
      ValueError: for mismatched feature sizes, too few samples, a bad ``test_fraction`` or
        non-finite real samples.

    Examples:
      >>> import numpy as np
      >>> rng = np.random.default_rng(0)
      >>> r = classifier_two_sample_test(rng.normal(size=(200, 2)), rng.normal(size=(200, 2)) + 3,
      ...                                key=0, steps=200)
      >>> r["accuracy"] > 0.95
      True
    """
    from xent_jax.train import fit  # the engine; imported here so eval loads without it

    real = np.asarray(real, dtype=np.float32)
    fake = np.asarray(fake, dtype=np.float32)
    if real.ndim != 2 or fake.ndim != 2 or real.shape[1] != fake.shape[1]:
        raise ValueError(
            f"real [n, dim] and fake [m, dim] must agree in dim, got {real.shape} and {fake.shape}"
        )
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction!r}")
    bad_real = int(np.count_nonzero(~np.isfinite(real).all(axis=1)))
    if bad_real:
        raise ValueError(f"real holds {bad_real} rows with NaN or inf; real samples must be finite")
    n = min(len(real), len(fake))
    n_test = int(round(n * test_fraction))
    if n_test < 1 or n - n_test < 1:
        raise ValueError(f"need at least 2 samples of each kind, got {len(real)} and {len(fake)}")
    k_real, k_fake, k_init, k_fit = jax.random.split(as_key(key, "key"), 4)
    real = real[np.asarray(jax.random.permutation(k_real, len(real)))[:n]]
    fake = fake[np.asarray(jax.random.permutation(k_fake, len(fake)))[:n]]
    finite = np.isfinite(fake).all(axis=1)
    fake = np.where(finite[:, None], fake, 0.0).astype(np.float32)
    x_train = np.concatenate([real[n_test:], fake[n_test:]])
    y_train = np.concatenate([np.ones(n - n_test), np.zeros(n - n_test)]).astype(np.float32)
    x_test = np.concatenate([real[:n_test], fake[:n_test]])
    y_test = np.concatenate([np.ones(n_test), np.zeros(n_test)]).astype(np.float32)
    x_train, x_test = standardize(x_train, x_test)

    model = MLP(real.shape[1], tuple(hidden), 1, rngs=nnx.Rngs(params=k_init))
    graphdef, params, rest = nnx.split(model, nnx.Param, ...)
    params, rest = nnx.to_pure_dict(params), nnx.to_pure_dict(rest)
    tx = _adamw(float(learning_rate), float(weight_decay))
    state = {
        "params": params,
        "rest": rest,
        "opt_state": tx.init(params),
        "x": jnp.asarray(x_train),
        "y": jnp.asarray(y_train),
    }
    result = fit(
        _TwoSampleStep(graphdef, tx),
        state,
        None,
        steps=steps,
        key=k_fit,
        steps_per_call=steps_per_call,
        log_every=max(int(steps), 1),
        progress=False,
        desc="two-sample classifier",
    )
    model = nnx.merge(graphdef, result.state["params"], result.state["rest"])
    test_logits = model(jnp.asarray(x_test))[:, 0]
    train_logits = model(jnp.asarray(x_train))[:, 0]
    ce = float(jnp.mean(sigmoid_binary_cross_entropy(test_logits, jnp.asarray(y_test))))
    return {
        "accuracy": float(np.mean((np.asarray(test_logits) > 0) == (y_test > 0.5))),
        "cross_entropy": ce,
        "train_accuracy": float(np.mean((np.asarray(train_logits) > 0) == (y_train > 0.5))),
        "n_test": int(2 * n_test),
        "chance_cross_entropy": float(np.log(2.0)),
        "non_finite_fake": int(np.count_nonzero(~finite)),
    }


def novelty(generated: Sequence[str], reference: Sequence[str]) -> float:
    """Fraction of generated items (e.g. rounded formulas) absent from ``reference``.

    Examples:
      >>> novelty(["a", "b", "b", "c"], ["a"])
      0.75
    """
    if len(generated) == 0:
        raise ValueError("generated must not be empty")
    ref = set(reference)
    return float(np.mean([g not in ref for g in generated]))


def uniqueness(generated: Sequence[str]) -> float:
    """Fraction of distinct items among the generated ones.

    Examples:
      >>> uniqueness(["a", "b", "b", "c"])
      0.75
    """
    if len(generated) == 0:
        raise ValueError("generated must not be empty")
    return len(set(generated)) / len(generated)


def count_distribution(counts: ArrayLike, *, max_count: int) -> np.ndarray:
    """Histogram of non-negative integer counts as frequencies ``[max_count + 1]``.

    Counts above ``max_count`` go into the last bin.

    Examples:
      >>> count_distribution([1, 2, 2, 9], max_count=3).tolist()
      [0.0, 0.25, 0.5, 0.25]
    """
    c = np.minimum(np.asarray(counts, dtype=np.int64), max_count)
    if c.size == 0 or c.min() < 0:
        raise ValueError("counts must be a non-empty array of non-negative integers")
    return np.bincount(c, minlength=max_count + 1) / c.size


def marginal_kl(p: ArrayLike, q: ArrayLike, *, eps: float = 1e-6) -> float:
    """KL(p || q) between two frequency vectors, each normalised to sum 1, in nats.

    ``q`` is floored at ``eps`` (before renormalising) so a category that ``q`` never produces
    costs a large but finite amount; terms with ``p = 0`` contribute 0.

    Examples:
      >>> round(marginal_kl([0.5, 0.5], [0.5, 0.5]), 6)
      0.0
    """
    p = np.asarray(p, dtype=np.float64)
    q = np.asarray(q, dtype=np.float64)
    if p.shape != q.shape or p.ndim != 1:
        raise ValueError(f"p and q must be vectors of the same length, got {p.shape}, {q.shape}")
    if p.min() < 0 or q.min() < 0 or p.sum() <= 0:
        raise ValueError("p and q must be non-negative and p must not be all zero")
    p = p / p.sum()
    q = np.maximum(q, eps)
    q = q / q.sum()
    safe_p = np.where(p > 0, p, 1.0)
    return float(np.sum(np.where(p > 0, p * np.log(safe_p / q), 0.0)))
