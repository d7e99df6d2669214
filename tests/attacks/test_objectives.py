import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.special import logsumexp

from xent_jax.attacks import (
    attack_objective,
    ce_loss,
    dlr_loss,
    margin_loss,
    targeted_dlr_loss,
)

RNG = np.random.default_rng(0)
Z = RNG.normal(size=(16, 7)) * 3.0
Y = RNG.integers(0, 7, size=16)


def _other_max(z, y):
    masked = z.copy()
    masked[np.arange(len(y)), y] = -np.inf
    return masked.max(axis=1)


def test_ce_and_margin_match_numpy(variant):
    ce = variant(ce_loss)(jnp.asarray(Z, jnp.float32), jnp.asarray(Y))
    np.testing.assert_allclose(ce, logsumexp(Z, axis=1) - Z[np.arange(16), Y], atol=1e-5)
    m = variant(margin_loss)(jnp.asarray(Z, jnp.float32), jnp.asarray(Y))
    np.testing.assert_allclose(m, _other_max(Z, Y) - Z[np.arange(16), Y], atol=1e-5)


def test_dlr_matches_numpy(variant):
    s = -np.sort(-Z, axis=1)
    ref = (_other_max(Z, Y) - Z[np.arange(16), Y]) / (s[:, 0] - s[:, 2])
    got = variant(dlr_loss)(jnp.asarray(Z, jnp.float32), jnp.asarray(Y))
    np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-6)
    ref_t = (_other_max(Z, Y) - Z[np.arange(16), Y]) / (s[:, 0] - 0.5 * (s[:, 2] + s[:, 3]))
    got_t = variant(targeted_dlr_loss)(jnp.asarray(Z, jnp.float32), jnp.asarray(Y))
    np.testing.assert_allclose(got_t, ref_t, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("a, b", [(0.01, 0.0), (7.0, -3.0), (250.0, 40.0)])
@pytest.mark.parametrize("fn", [dlr_loss, targeted_dlr_loss])
def test_dlr_invariant_to_positive_affine_maps(fn, a, b):
    z = jnp.asarray(Z, jnp.float32)
    np.testing.assert_allclose(fn(a * z + b, Y), fn(z, Y), rtol=1e-4, atol=1e-5)


def test_margin_is_not_scale_invariant():
    z = jnp.asarray(Z, jnp.float32)
    np.testing.assert_allclose(margin_loss(3.0 * z, Y), 3.0 * margin_loss(z, Y), rtol=1e-5)


def test_dlr_needs_enough_classes():
    with pytest.raises(ValueError, match=">= 3 classes"):
        dlr_loss(jnp.zeros((2, 2)), jnp.zeros(2, jnp.int32))
    with pytest.raises(ValueError, match=">= 4 classes"):
        targeted_dlr_loss(jnp.zeros((2, 3)), jnp.zeros(2, jnp.int32))


def test_targeted_objective_is_negated_loss():
    z = jnp.asarray(Z, jnp.float32)
    np.testing.assert_allclose(attack_objective("ce", targeted=True)(z, Y), -ce_loss(z, Y))
    np.testing.assert_allclose(attack_objective("dlr", targeted=False)(z, Y), dlr_loss(z, Y))
    np.testing.assert_allclose(
        attack_objective("dlr", targeted=True)(z, Y), -targeted_dlr_loss(z, Y)
    )
    with pytest.raises(ValueError, match="loss must be one of"):
        attack_objective("hinge", targeted=False)


def test_gradients_are_finite_with_ties():
    z = jnp.zeros((3, 5))
    for fn in (ce_loss, margin_loss, dlr_loss, targeted_dlr_loss):
        g = jax.jit(jax.grad(lambda z, fn=fn: jnp.sum(fn(z, jnp.array([0, 1, 2])))))(z)
        assert bool(jnp.all(jnp.isfinite(g))), fn.__name__


@pytest.mark.parametrize("fn", [ce_loss, margin_loss, dlr_loss, targeted_dlr_loss])
def test_degenerate_inputs_are_named(fn):
    z, y = jnp.asarray(Z, jnp.float32), jnp.asarray(Y)
    with pytest.raises(TypeError, match="logits must be an array, got None"):
        fn(None, y)
    with pytest.raises(TypeError, match="labels must be an array, got None"):
        fn(z, None)
    with pytest.raises(ValueError, match="classes"):
        fn(jnp.zeros((16, 0)), y)
    with pytest.raises(ValueError, match=r"logits \[batch, classes\] and labels \[batch\]"):
        fn(z[0], y)
    with pytest.raises(ValueError, match=r"labels\[2\] = 7 is out of range"):
        fn(z, y.at[2].set(7))
    with pytest.raises(TypeError, match="labels must be integers"):
        fn(z, y.astype(jnp.float32))


def test_margin_needs_two_classes():
    # one class: the 'best other' logit would be float32's minimum, a silent -3.4e38
    with pytest.raises(ValueError, match=">= 2 classes"):
        margin_loss(jnp.zeros((2, 1)), jnp.zeros(2, jnp.int32))


@pytest.mark.parametrize("fn", [margin_loss, dlr_loss, targeted_dlr_loss])
def test_non_finite_logits_propagate(fn):
    z = jnp.asarray(Z, jnp.float32).at[3, 2].set(jnp.nan).at[5, 0].set(jnp.inf)
    out = np.asarray(fn(z, jnp.asarray(Y)))
    assert np.isnan(out[3]) and not np.isfinite(out[5])
    assert np.all(np.isfinite(np.delete(out, [3, 5])))
