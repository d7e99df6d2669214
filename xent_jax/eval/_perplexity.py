"""Masked-token perplexity of a masked language model, next to the unigram baseline.

The model is any logits function ``logits_fn(params, tokens) -> [rows, length, vocab]`` (for the
protein Transformer: :func:`xent_jax.recipes.mlm.mlm_logits`), never a model class. Scoring is
deterministic: sequences are cut into windows (:func:`eval_batches`), and batch ``i`` is masked
with ``fold_in(key, i)``, so every model scored with the same key is scored on the same positions.

* the honest evaluation (the default): every selected residue becomes ``<mask>``;
* ``mask_prob=0.8, random_prob=0.1``: the training corruption (unchanged and random residues let
  a model copy part of the answer, so it reads lower);
* ``shuffle_context=True``: the residues of each window are permuted first, so the model sees the
  composition but not the order (the control that tells order from composition).

Per-example sums are kept (:class:`MaskedPerplexity`), so :meth:`MaskedPerplexity.interval`
gives a percentile-bootstrap interval over test sequences (the protocol's interval when a study
has one pretraining seed).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from xent_jax._keys import as_key
from xent_jax.bio.vocab import FIRST_RESIDUE, VOCAB_SIZE
from xent_jax.data.proteins import pad_batch, shuffle_residues, split_windows, unigram_frequencies
from xent_jax.eval._metrics import Interval, bootstrap_interval
from xent_jax.tasks.masking import mask_tokens, masked_lm_loss

__all__ = [
    "EVAL_SEED",
    "EvalBatch",
    "MaskedPerplexity",
    "eval_batches",
    "evaluate_heldout",
    "masked_perplexity",
    "unigram_perplexity",
]

EVAL_SEED = 20_241_128
"""The default evaluation key (an int seed), so every model is scored on the same positions."""

LogitsFn = Callable[[Any, jax.Array], jax.Array]


class EvalBatch(NamedTuple):
    """One evaluation batch.

    Attributes:
      tokens: int32 ``[rows, length]``, right-padded windows.
      example: int32 ``[rows]``: the index of the sequence each window was cut from, ``-1`` for
        an all-padding row.
    """

    tokens: np.ndarray
    example: np.ndarray


def eval_batches(
    token_arrays: Sequence[ArrayLike],
    *,
    max_len: int,
    tokens_per_batch: int,
    boundaries: Sequence[int] | None = None,
) -> list[EvalBatch]:
    """Deterministic evaluation batches: every sequence cut into windows of at most ``max_len``.

    Windows go, in input order, to the smallest bucket length that holds them; a batch of bucket
    length ``L`` has ``max(1, tokens_per_batch // L)`` rows (the last of a bucket padded with
    all-padding rows), so only ``len(boundaries)`` shapes exist. Every token of every sequence is
    in exactly one window.

    Args:
      token_arrays: tokenised sequences (1-D int arrays).
      max_len: the window length (the model's ``max_len`` or less).
      tokens_per_batch: target tokens per batch.
      boundaries: increasing bucket lengths, the last ``>= max_len``; default
        ``(max_len // 2, max_len)``.

    Returns:
      a list of :class:`EvalBatch`, bucket by bucket.

    Raises:
      ValueError: for ``max_len`` or ``tokens_per_batch`` below 1, or boundaries that do not
        reach ``max_len``.

    Examples:
      >>> b = eval_batches([np.arange(2, 9), np.arange(2, 5)], max_len=4, tokens_per_batch=8)
      >>> [(x.tokens.shape, x.example.tolist()) for x in b]
      [((2, 4), [0, 0]), ((2, 4), [1, -1])]
    """
    for name, value in (("max_len", max_len), ("tokens_per_batch", tokens_per_batch)):
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
            raise ValueError(f"{name} must be an int >= 1, got {value!r}")
    bounds = sorted(int(b) for b in (boundaries or (max(1, max_len // 2), max_len)))
    if bounds[0] < 1 or bounds[-1] < max_len:
        raise ValueError(
            f"boundaries must be positive and reach max_len={max_len}, got {tuple(bounds)}"
        )
    per_bucket: dict[int, list[tuple[np.ndarray, int]]] = {b: [] for b in bounds}
    for i, tokens in enumerate(token_arrays):
        for window in split_windows(np.asarray(tokens), max_len):
            per_bucket[next(b for b in bounds if len(window) <= b)].append((window, i))
    batches = []
    for length in bounds:
        rows = max(1, tokens_per_batch // length)
        items = per_bucket[length]
        for start in range(0, len(items), rows):
            chunk = items[start : start + rows]
            example = np.full(rows, -1, np.int32)
            example[: len(chunk)] = [i for _, i in chunk]
            batches.append(EvalBatch(pad_batch([w for w, _ in chunk], length, rows), example))
    return batches


class MaskedPerplexity(NamedTuple):
    """The result of :func:`masked_perplexity`.

    Attributes:
      perplexity: ``exp(nll)``.
      nll: mean negative log-likelihood over the scored positions (nats per token).
      unigram_perplexity: the unigram baseline's perplexity on the same positions (NaN without
        ``log_unigram``).
      tokens: how many positions were scored.
      example_nll: float64 ``[num_examples]``: summed NLL of each sequence's scored positions.
      example_unigram_nll: float64 ``[num_examples]``: the same for the unigram baseline.
      example_tokens: int64 ``[num_examples]``: scored positions per sequence.
    """

    perplexity: float
    nll: float
    unigram_perplexity: float
    tokens: int
    example_nll: np.ndarray
    example_unigram_nll: np.ndarray
    example_tokens: np.ndarray

    def metrics(self) -> dict[str, float]:
        """``{"perplexity", "nll", "unigram_perplexity", "tokens"}`` as plain numbers."""
        return {
            "perplexity": self.perplexity,
            "nll": self.nll,
            "unigram_perplexity": self.unigram_perplexity,
            "tokens": self.tokens,
        }

    def interval(
        self,
        *,
        key: jax.Array | int,
        num_resamples: int = 1000,
        level: float = 0.95,
        baseline: bool = False,
    ) -> Interval:
        """Percentile-bootstrap interval of the perplexity over sequences (resampled whole).

        Args:
          key: PRNG key or int seed for the resamples.
          num_resamples: bootstrap replicates.
          level: confidence level.
          baseline: the interval of the unigram baseline's perplexity instead.

        Returns:
          an :class:`xent_jax.eval.Interval` (``mean`` is the perplexity on all sequences).
        """
        nll = self.example_unigram_nll if baseline else self.example_nll
        tokens = self.example_tokens.astype(np.float32)
        return bootstrap_interval(
            _pooled_perplexity,
            nll.astype(np.float32),
            tokens,
            key=key,
            num_resamples=num_resamples,
            level=level,
        )


def _pooled_perplexity(nll: jax.Array, tokens: jax.Array) -> jax.Array:
    return jnp.exp(jnp.sum(nll) / jnp.maximum(jnp.sum(tokens), 1.0))


@functools.partial(jax.jit, static_argnames=("logits_fn", "mask_rate", "mask_prob", "random_prob"))
def _score(logits_fn, params, tokens, key, log_unigram, *, mask_rate, mask_prob, random_prob):
    masked = mask_tokens(
        key, tokens, mask_rate=mask_rate, mask_prob=mask_prob, random_prob=random_prob
    )
    logits = logits_fn(params, masked.inputs)
    scored = masked.loss_mask
    nll = masked_lm_loss(logits, masked.targets, scored).sum(-1)
    uni = jnp.where(scored, -log_unigram[masked.targets], 0.0).sum(-1)
    return nll, uni, scored.sum(-1)


def masked_perplexity(
    logits_fn: LogitsFn,
    params: Any,
    batches: Sequence[EvalBatch],
    *,
    log_unigram: ArrayLike | None = None,
    mask_rate: float = 0.15,
    mask_prob: float = 1.0,
    random_prob: float = 0.0,
    shuffle_context: bool = False,
    key: jax.Array | int = EVAL_SEED,
    num_examples: int | None = None,
) -> MaskedPerplexity:
    r"""Masked-token perplexity of ``logits_fn`` over ``batches``, next to the unigram baseline.

    .. math::  \mathrm{PPL} = \exp\Big(\frac{\sum_{(s, t)\ \mathrm{scored}}
       -\log p_\theta(x_{s,t} \mid \tilde x_s)}{\#\ \mathrm{scored}}\Big)

    Batch ``i`` is masked by :func:`xent_jax.tasks.mask_tokens` with ``fold_in(key, i)``; the
    baseline ``-log_unigram[x]`` is scored at the same positions.

    Args:
      logits_fn: ``(params, tokens [rows, L]) -> logits [rows, L, vocab]``, jittable. It is a
        static argument of the compiled scorer: a module-level function or a hashable object
        (e.g. :func:`xent_jax.recipes.mlm.mlm_logits`) compiles once for every model of the
        same architecture; a new closure recompiles.
      params: the pytree ``logits_fn`` takes first.
      batches: :class:`EvalBatch` es from :func:`eval_batches`.
      log_unigram: optional ``[vocab]`` log-probabilities of the baseline.
      mask_rate: fraction of residues selected.
      mask_prob: probability a selected residue becomes ``<mask>`` (1: the honest evaluation).
      random_prob: probability it becomes a random standard residue.
      shuffle_context: permute the residues of each window first (host numpy generator seeded
        from ``key``).
      key: PRNG key or int seed of the masks (default :data:`EVAL_SEED`).
      num_examples: length of the per-example arrays (default: the largest example index + 1).

    Returns:
      a :class:`MaskedPerplexity`.

    Raises:
      TypeError: for a ``logits_fn`` that is not callable or a batch that is not an
        :class:`EvalBatch`.
      ValueError: for a ``log_unigram`` that is not ``[vocab]`` or an example index beyond
        ``num_examples``.

    Examples:
      >>> uniform = lambda params, t: jnp.zeros(t.shape + (VOCAB_SIZE,))
      >>> batches = eval_batches([np.full(40, 10, np.int32)], max_len=20, tokens_per_batch=40)
      >>> res = masked_perplexity(uniform, None, batches)
      >>> round(res.perplexity, 3) == VOCAB_SIZE, res.tokens == int(res.example_tokens.sum())
      (True, True)
    """
    if not callable(logits_fn):
        raise TypeError(f"logits_fn must be callable, got {type(logits_fn).__name__}")
    key = as_key(key, "key")
    batches = list(batches)
    for i, b in enumerate(batches):
        if not isinstance(b, EvalBatch):
            raise TypeError(
                f"batches[{i}] must be an EvalBatch (from eval_batches), got {type(b).__name__}"
            )
    if log_unigram is None:
        log_uni = jnp.zeros((VOCAB_SIZE,), jnp.float32)
    else:
        log_uni = jnp.asarray(log_unigram, jnp.float32)
        if log_uni.ndim != 1:
            raise ValueError(f"log_unigram must be [vocab], got shape {log_uni.shape}")
    seen = max((int(b.example.max()) for b in batches if b.example.size), default=-1) + 1
    n = seen if num_examples is None else int(num_examples)
    if seen > n:
        raise ValueError(f"num_examples={n}, but the batches hold example index {seen - 1}")
    entropy = [int(v) for v in np.asarray(jax.random.key_data(key)).ravel()]
    rng = np.random.default_rng(entropy)
    ex_nll, ex_uni, ex_tok = np.zeros(n), np.zeros(n), np.zeros(n, np.int64)
    for i, batch in enumerate(batches):
        tokens = batch.tokens
        if shuffle_context:
            tokens = shuffle_residues(tokens, rng, first_residue=FIRST_RESIDUE)
        nll, uni, count = jax.device_get(
            _score(
                logits_fn,
                params,
                jnp.asarray(tokens),
                jax.random.fold_in(key, i),
                log_uni,
                mask_rate=float(mask_rate),
                mask_prob=float(mask_prob),
                random_prob=float(random_prob),
            )
        )
        real = batch.example >= 0
        np.add.at(ex_nll, batch.example[real], np.asarray(nll, np.float64)[real])
        np.add.at(ex_uni, batch.example[real], np.asarray(uni, np.float64)[real])
        np.add.at(ex_tok, batch.example[real], np.asarray(count, np.int64)[real])
    total = int(ex_tok.sum())
    mean_nll = float(ex_nll.sum() / max(total, 1))
    uni_ppl = float(np.exp(ex_uni.sum() / max(total, 1))) if log_unigram is not None else np.nan
    return MaskedPerplexity(
        perplexity=float(np.exp(mean_nll)),
        nll=mean_nll,
        unigram_perplexity=uni_ppl,
        tokens=total,
        example_nll=ex_nll,
        example_unigram_nll=ex_uni,
        example_tokens=ex_tok,
    )


def _residues(token_arrays: Sequence[ArrayLike]) -> np.ndarray:
    parts = [np.asarray(t) for t in token_arrays]
    return np.concatenate([t[(t >= FIRST_RESIDUE) & (t < VOCAB_SIZE)] for t in parts] or [[]])


def unigram_perplexity(
    train_tokens: Sequence[ArrayLike], test_tokens: Sequence[ArrayLike]
) -> float:
    """Perplexity of the training residue frequencies (add-one) on every test residue.

    Args:
      train_tokens: tokenised training sequences (frequencies from their residues).
      test_tokens: tokenised test sequences (every residue scored; specials and padding not).

    Returns:
      ``exp(-mean log p(residue))``.

    Raises:
      ValueError: when the test sequences hold no residue.

    Examples:
      >>> train = [np.array([2, 4, 4, 5, 3])]  # <cls> A A C <eos>
      >>> round(unigram_perplexity(train, [np.array([4, 5])]), 3)  # 28 / sqrt(3 * 2), add-one
      11.431
    """
    freqs = unigram_frequencies(
        [np.asarray(t) for t in train_tokens], VOCAB_SIZE, eligible_from=FIRST_RESIDUE
    )
    residues = _residues(test_tokens).astype(np.int64)
    if residues.size == 0:
        raise ValueError("test_tokens must hold at least one residue, got none")
    return float(np.exp(-np.log(freqs[residues]).mean()))


def evaluate_heldout(
    logits_fn: LogitsFn,
    params: Any,
    train_tokens: Sequence[ArrayLike],
    heldout_tokens: Sequence[ArrayLike],
    *,
    max_len: int,
    tokens_per_batch: int,
    mask_rate: float = 0.15,
    key: jax.Array | int = EVAL_SEED,
) -> dict[str, MaskedPerplexity]:
    """Honest, training-style and shuffled-context masked perplexity on held-out sequences.

    The unigram baseline (add-one frequencies of ``train_tokens``) is scored at the same
    positions in each; all three use the same key, so the honest and training-style results
    select the same positions.

    Args:
      logits_fn, params: the model, as in :func:`masked_perplexity`.
      train_tokens: tokenised training sequences (for the baseline's frequencies).
      heldout_tokens: tokenised held-out sequences (one example each).
      max_len, tokens_per_batch: as in :func:`eval_batches`.
      mask_rate: fraction of residues selected.
      key: PRNG key or int seed of the masks.

    Returns:
      ``{"honest": ..., "train_style": ..., "shuffled_context": ...}`` of
      :class:`MaskedPerplexity` (per-example arrays over ``heldout_tokens``).

    Examples:
      >>> uniform = lambda params, t: jnp.zeros(t.shape + (VOCAB_SIZE,))
      >>> seqs = [np.arange(2, 27) % 25 + 4 for _ in range(3)]
      >>> out = evaluate_heldout(uniform, None, seqs, seqs, max_len=16, tokens_per_batch=32)
      >>> sorted(out), round(out["honest"].perplexity, 3) == VOCAB_SIZE
      (['honest', 'shuffled_context', 'train_style'], True)
    """
    freqs = unigram_frequencies(
        [np.asarray(t) for t in train_tokens], VOCAB_SIZE, eligible_from=FIRST_RESIDUE
    )
    log_uni = np.log(freqs + 1e-30)
    batches = eval_batches(heldout_tokens, max_len=max_len, tokens_per_batch=tokens_per_batch)
    common = dict(
        log_unigram=log_uni, mask_rate=mask_rate, key=key, num_examples=len(heldout_tokens)
    )
    return {
        "honest": masked_perplexity(logits_fn, params, batches, **common),
        "train_style": masked_perplexity(
            logits_fn, params, batches, mask_prob=0.8, random_prob=0.1, **common
        ),
        "shuffled_context": masked_perplexity(
            logits_fn, params, batches, shuffle_context=True, **common
        ),
    }
