"""BERT/ESM masking: rates (statistically), padding and specials untouched; the per-token loss."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import jax.test_util
import numpy as np
import pytest

from xent_jax import bio
from xent_jax.losses import reduce_loss
from xent_jax.tasks.masking import mask_all_selected, mask_tokens, masked_lm_loss, residue_mask


def _batch(rows=64, length=400, seed=0):
    """Residue rows with <cls>/<eos> and right padding of random length."""
    rng = np.random.default_rng(seed)
    out = np.full((rows, length), bio.PAD, np.int32)
    for r in range(rows):
        n = int(rng.integers(length // 4, length - 2))
        out[r, 0] = bio.CLS
        out[r, 1 : n + 1] = rng.integers(bio.FIRST_RESIDUE, bio.VOCAB_SIZE, size=n)
        out[r, n + 1] = bio.EOS
    return out


@pytest.fixture(scope="module")
def draws():
    tokens = jnp.asarray(_batch())
    fn = jax.jit(jax.vmap(lambda k: mask_tokens(k, tokens)))
    out = fn(jax.random.split(jax.random.key(0), 20))
    return np.asarray(tokens), jax.tree.map(np.asarray, out)


def _within(p_hat, p, n, sigmas=5.0):
    return abs(p_hat - p) <= sigmas * np.sqrt(p * (1 - p) / n)


def test_selection_rate_and_80_10_10(draws):
    tokens, out = draws
    eligible = np.broadcast_to(tokens >= bio.FIRST_RESIDUE, out.loss_mask.shape)
    n_eligible = eligible.sum()
    sel = out.loss_mask
    assert _within(sel.sum() / n_eligible, 0.15, n_eligible)
    n_sel = sel.sum()
    inp, tgt = out.inputs[sel], out.targets[sel]
    masked = inp == bio.MASK
    same = inp == tgt
    other = ~masked & ~same
    assert _within(masked.mean(), 0.8, n_sel)
    # a random amino acid equals the original with probability 1/20 (the target is standard
    # 20/25 of the time here), so 'changed' is slightly below 10% and 'unchanged' above.
    p_std = 20 / 25
    p_same_random = 0.1 * p_std / 20
    assert _within(other.mean(), 0.1 - p_same_random, n_sel)
    assert _within(same.mean(), 0.1 + p_same_random, n_sel)
    replaced = inp[other]
    assert replaced.min() >= bio.FIRST_RESIDUE
    assert replaced.max() < bio.FIRST_RESIDUE + bio.NUM_STANDARD  # random = standard residues
    counts = np.bincount(replaced - bio.FIRST_RESIDUE, minlength=20)
    assert counts.min() > 0.5 * counts.mean()


def test_never_touches_padding_or_specials(draws):
    tokens, out = draws
    fixed = np.broadcast_to(tokens < bio.FIRST_RESIDUE, out.inputs.shape)
    assert not out.loss_mask[fixed].any()
    np.testing.assert_array_equal(out.inputs[fixed], np.broadcast_to(tokens, fixed.shape)[fixed])
    np.testing.assert_array_equal(out.targets, np.broadcast_to(tokens, out.targets.shape))
    # unselected residues are unchanged too
    keep = ~out.loss_mask
    np.testing.assert_array_equal(out.inputs[keep], out.targets[keep])


def test_same_key_same_result_eager_and_jit(variant):
    tokens = jnp.asarray(_batch(rows=4, length=60))
    key = jax.random.key(3)
    a = mask_tokens(key, tokens)
    b = variant(lambda k, t: mask_tokens(k, t))(key, tokens)
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))
    c = mask_tokens(jax.random.key(4), tokens)
    assert not np.array_equal(np.asarray(a.loss_mask), np.asarray(c.loss_mask))


def test_honest_mask_replaces_every_selected_position():
    tokens = jnp.asarray(_batch(rows=16, length=200))
    out = jax.jit(lambda k, t: mask_all_selected(k, t, mask_rate=0.3))(jax.random.key(1), tokens)
    np.testing.assert_array_equal(np.asarray(out.inputs == bio.MASK), np.asarray(out.loss_mask))
    assert 0.2 < float(out.loss_mask.sum() / residue_mask(tokens).sum()) < 0.4


def test_eligible_restricts_selection():
    tokens = jnp.asarray(_batch(rows=8, length=100))
    eligible = jnp.zeros(tokens.shape, bool).at[:, :50].set(True)
    out = jax.jit(lambda k, t, e: mask_tokens(k, t, mask_rate=1.0, eligible=e))(
        jax.random.key(0), tokens, eligible
    )
    np.testing.assert_array_equal(
        np.asarray(out.loss_mask), np.asarray(eligible & residue_mask(tokens))
    )


@pytest.mark.parametrize(
    "kwargs, err, match",
    [
        (dict(mask_rate=1.5), ValueError, "mask_rate"),
        (dict(mask_prob=0.9, random_prob=0.2), ValueError, "mask_prob \\+ random_prob"),
        (dict(random_prob=-0.1), ValueError, "random_prob"),
        (dict(mask_rate=jnp.float32(0.1)), TypeError, "mask_rate"),
        (dict(eligible=jnp.ones((2, 3), bool)), ValueError, "eligible"),
    ],
)
def test_bad_arguments_raise(kwargs, err, match):
    with pytest.raises(err, match=match):
        mask_tokens(jax.random.key(0), jnp.ones((2, 5), jnp.int32) * 5, **kwargs)


def test_float_tokens_raise():
    with pytest.raises(TypeError, match="integer"):
        mask_tokens(jax.random.key(0), jnp.ones((2, 5)))


def _numpy_nll(logits, targets):
    z = np.asarray(logits, np.float64)
    lse = np.log(np.exp(z - z.max(-1, keepdims=True)).sum(-1)) + z.max(-1)
    return lse - np.take_along_axis(z, targets[..., None], -1)[..., 0], lse


def test_masked_lm_loss_is_per_token_and_matches_numpy(variant):
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(3, 7, bio.VOCAB_SIZE)).astype(np.float32)
    targets = rng.integers(0, bio.VOCAB_SIZE, size=(3, 7)).astype(np.int32)
    mask = rng.random((3, 7)) < 0.4
    losses = variant(masked_lm_loss)(logits, targets, mask)
    nll, _ = _numpy_nll(logits, targets)
    assert losses.shape == (3, 7)
    np.testing.assert_allclose(np.asarray(losses), np.where(mask, nll, 0.0), atol=1e-5)
    # the caller reduces: reduce_loss(where=mask) is the mean over the masked tokens
    mean = variant(lambda x: reduce_loss(masked_lm_loss(x, targets, mask), where=mask))(logits)
    np.testing.assert_allclose(float(mean), nll[mask].mean(), rtol=1e-5, atol=1e-5)


def test_masked_lm_loss_gradient_is_softmax_minus_onehot_at_masked_positions():
    rng = np.random.default_rng(1)
    logits = rng.normal(size=(2, 9, bio.VOCAB_SIZE)).astype(np.float32)
    targets = rng.integers(0, bio.VOCAB_SIZE, size=(2, 9)).astype(np.int32)
    mask = rng.random((2, 9)) < 0.5
    fn = lambda x: reduce_loss(masked_lm_loss(x, targets, mask), where=mask)  # noqa: E731
    g = jax.jit(jax.grad(fn))(jnp.asarray(logits))
    _, lse = _numpy_nll(logits, targets)
    p = np.exp(logits.astype(np.float64) - lse[..., None])
    expected = (p - np.eye(bio.VOCAB_SIZE)[targets]) * mask[..., None] / mask.sum()
    np.testing.assert_allclose(np.asarray(g), expected, atol=1e-6)
    jax.test_util.check_grads(
        lambda x: masked_lm_loss(x, targets, mask).sum(), (jnp.asarray(logits),), order=1,
        modes=["rev"], atol=1e-2, rtol=1e-2,
    )  # fmt: skip


def test_masked_lm_loss_ignores_unscored_positions_and_propagates_nan():
    logits = jnp.zeros((1, 3, 5))
    targets = jnp.array([[1, 99, -100]])  # out-of-range targets where nothing is scored
    mask = jnp.array([[True, False, False]])
    losses = jax.jit(masked_lm_loss)(logits, targets, mask)
    np.testing.assert_allclose(np.asarray(losses), [[np.log(5.0), 0.0, 0.0]], rtol=1e-6)
    g = jax.grad(lambda x: masked_lm_loss(x, targets, mask).sum())(logits)
    assert np.isfinite(np.asarray(g)).all() and not np.asarray(g)[0, 1:].any()
    bad = logits.at[0, 0, 2].set(jnp.nan)
    assert np.isnan(np.asarray(masked_lm_loss(bad, targets, mask))[0, 0])
    # nothing masked: every loss 0, the reduced mean 0 (not NaN)
    none = jnp.zeros((1, 3), bool)
    assert float(reduce_loss(masked_lm_loss(logits, jnp.zeros((1, 3), int), none), where=none)) == 0


@pytest.mark.parametrize(
    "shape, name", [((1, 4), "loss_mask"), ((1, 3), "targets")], ids=["mask", "targets"]
)
def test_masked_lm_loss_shape_checked(shape, name):
    logits, targets, mask = jnp.zeros((1, 3, 5)), jnp.zeros((1, 3), int), jnp.ones((1, 3), bool)
    if name == "loss_mask":
        mask = jnp.ones(shape, bool)
    else:
        targets = jnp.zeros((1, 2), int)
    with pytest.raises(ValueError, match=name):
        masked_lm_loss(logits, targets, mask)
