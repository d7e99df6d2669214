"""BERT/ESM masking: rates (statistically), padding and specials untouched, loss reference."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from xent_jax import bio
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


@pytest.mark.parametrize("variant", [jax.jit], ids=["jit"])
def test_masked_lm_loss_matches_numpy(variant):
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(3, 7, bio.VOCAB_SIZE)).astype(np.float32)
    targets = rng.integers(0, bio.VOCAB_SIZE, size=(3, 7)).astype(np.int32)
    mask = rng.random((3, 7)) < 0.4
    loss, count = variant(masked_lm_loss)(logits, targets, mask)
    z = logits.astype(np.float64)
    lse = np.log(np.exp(z - z.max(-1, keepdims=True)).sum(-1)) + z.max(-1)
    nll = lse - np.take_along_axis(z, targets[..., None], -1)[..., 0]
    np.testing.assert_allclose(float(loss), nll[mask].mean(), rtol=1e-5, atol=1e-5)
    assert int(count) == mask.sum()
    # gradient: (softmax - onehot) / count at masked positions, zero elsewhere
    g = jax.jit(jax.grad(lambda x: masked_lm_loss(x, targets, mask)[0]))(jnp.asarray(logits))
    p = np.exp(z - lse[..., None])
    expected = (p - np.eye(bio.VOCAB_SIZE)[targets]) * mask[..., None] / mask.sum()
    np.testing.assert_allclose(np.asarray(g), expected, atol=1e-6)


def test_masked_lm_loss_empty_mask_is_zero_and_shape_checked():
    loss, count = jax.jit(masked_lm_loss)(
        jnp.zeros((1, 3, 5)), jnp.zeros((1, 3), int), jnp.zeros((1, 3))
    )
    assert float(loss) == 0.0 and int(count) == 0
    with pytest.raises(ValueError, match="loss_mask"):
        masked_lm_loss(jnp.zeros((1, 3, 5)), jnp.zeros((1, 3), int), jnp.zeros((1, 4), bool))
