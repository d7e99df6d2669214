"""The one PRNG-key rule (xent_jax._keys.as_key), and that the engine, attacks and eval share it."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from xent_jax._keys import as_key, is_key


def _same(a, b):
    return bool(jnp.all(jax.random.key_data(a) == jax.random.key_data(b)))


@pytest.mark.parametrize("seed", [0, 7, np.int64(3), np.uint8(5), 2**40])
def test_an_int_seed_is_exactly_jax_random_key(seed):
    k = as_key(seed)
    assert is_key(k) and k.shape == ()
    assert _same(k, jax.random.key(int(seed)))


def test_typed_and_raw_keys_pass_through():
    k = jax.random.key(4)
    assert as_key(k) is k
    raw = jax.random.PRNGKey(4)  # legacy uint32[2]
    assert _same(as_key(raw), jax.random.wrap_key_data(raw))
    assert _same(as_key(np.asarray(raw)), jax.random.wrap_key_data(raw))
    batch = jax.random.split(k, 3)
    assert as_key(batch, batched=True).shape == (3,)


@pytest.mark.parametrize(
    ("value", "error", "message"),
    [
        (None, TypeError, "got None"),
        (True, TypeError, "got True"),
        (np.bool_(False), TypeError, "False"),
        (1.0, TypeError, "got float"),
        ("0", TypeError, "got str"),
        (np.zeros(3, np.uint32), TypeError, "dtype uint32 and shape (3,)"),
        (np.zeros(2, np.int32), TypeError, "dtype int32 and shape (2,)"),
        (-1, ValueError, "must be >= 0, got -1"),
    ],
)
def test_everything_else_is_refused_by_name(value, error, message):
    with pytest.raises(error, match=r"^seed\b") as info:
        as_key(value, "seed")
    assert message in str(info.value)


def test_a_key_batch_needs_batched():
    batch = jax.random.split(jax.random.key(0), 3)
    with pytest.raises(
        ValueError, match=r"key must be a scalar key, got a key array of shape \(3,\)"
    ):
        as_key(batch)
    with pytest.raises(ValueError, match=r"\[n\] batch"):
        as_key(batch.reshape(3, 1), batched=True)


def test_the_same_rule_in_fit_the_attacks_and_eval():
    from xent_jax.attacks import pgd
    from xent_jax.eval import bootstrap_interval
    from xent_jax.train import fit

    for call in (
        lambda key: fit(lambda s, b, k: (s, {}), jnp.zeros(()), None, steps=1, key=key,
                        progress=False),
        lambda key: pgd(lambda x: x, jnp.zeros((1, 2)), jnp.zeros(1, jnp.int32), eps=0.1,
                        steps=1, key=key),
        lambda key: bootstrap_interval(lambda a: jnp.mean(a), jnp.ones(4), key=key),
    ):  # fmt: skip
        with pytest.raises(TypeError, match="key must be a PRNG key"):
            call(None)
        with pytest.raises(ValueError, match="int seed must be >= 0"):
            call(-3)
