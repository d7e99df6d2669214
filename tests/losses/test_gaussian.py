"""Gaussian cross-entropy, entropy, KL and NLL vs scipy and closed forms; log-variance inputs."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.stats
from jax.experimental import checkify

from xent_jax.losses import (
    checked,
    gaussian_cross_entropy,
    gaussian_entropy,
    gaussian_kl,
    gaussian_nll,
)


@pytest.fixture(scope="module")
def params():
    rng = np.random.default_rng(0)
    mp, mq = rng.normal(size=(2, 3, 4)).astype(np.float32)
    vp, vq = rng.uniform(0.1, 3.0, size=(2, 3, 4)).astype(np.float32)
    return mp, vp, mq, vq


def kl64(mp, vp, mq, vq):
    mp, vp, mq, vq = (np.asarray(a, np.float64) for a in (mp, vp, mq, vq))
    return 0.5 * (np.log(vq / vp) + (vp + (mp - mq) ** 2) / vq - 1)


def test_match_scipy_and_closed_forms(variant, params):
    mp, vp, mq, vq = params
    h = variant(gaussian_entropy)(vp)
    np.testing.assert_allclose(
        h, scipy.stats.norm(scale=np.sqrt(vp.astype(np.float64))).entropy(), 1e-6
    )
    kl = variant(gaussian_kl)(mp, vp, mq, vq)
    np.testing.assert_allclose(kl, kl64(mp, vp, mq, vq), rtol=1e-5, atol=1e-6)
    ce = variant(gaussian_cross_entropy)(mp, vp, mq, vq)
    np.testing.assert_allclose(ce, np.asarray(h, np.float64) + kl64(mp, vp, mq, vq), rtol=1e-5)
    y = mp
    nll = variant(gaussian_nll)(mq, vq, y)
    ref = -scipy.stats.norm(mq.astype(np.float64), np.sqrt(vq.astype(np.float64))).logpdf(y)
    np.testing.assert_allclose(nll, ref, rtol=1e-5)


def test_cross_entropy_by_quadrature():
    x = np.linspace(-30, 30, 200_001)
    p = scipy.stats.norm(0.3, 0.8)
    q = scipy.stats.norm(-0.5, 1.7)
    numeric = -np.trapezoid(p.pdf(x) * q.logpdf(x), x)
    assert float(gaussian_cross_entropy(0.3, 0.64, -0.5, 1.7**2)) == pytest.approx(
        numeric, rel=1e-6
    )


def test_log_variance_matches_and_does_not_overflow(params):
    mp, vp, mq, vq = params
    for fn, args in [
        (gaussian_kl, (mp, vp, mq, vq)),
        (gaussian_cross_entropy, (mp, vp, mq, vq)),
    ]:
        direct = fn(*args)
        logs = fn(args[0], np.log(args[1]), args[2], np.log(args[3]), log_variance=True)
        np.testing.assert_allclose(logs, direct, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(
        gaussian_nll(mq, np.log(vq), mp, log_variance=True), gaussian_nll(mq, vq, mp), rtol=1e-5
    )
    np.testing.assert_allclose(
        gaussian_entropy(np.log(vp), log_variance=True), gaussian_entropy(vp), rtol=1e-6
    )
    # log-variances far outside float32's exp range: exact closed form, finite gradients
    lv_p = jnp.array([200.0, -200.0, 150.0])
    lv_q = jnp.array([199.0, -201.0, 150.0])
    kl = gaussian_kl(0.0, lv_p, 0.0, lv_q, log_variance=True)
    d = np.float64(1.0)
    np.testing.assert_allclose(kl[:2], 0.5 * (-d + np.exp(d) - 1), rtol=1e-6)
    assert kl[2] == 0.0
    g = jax.grad(lambda lv: gaussian_nll(0.0, lv, 1.0, log_variance=True).sum())(lv_p)
    assert np.isfinite(g[:1]).all()


def test_diagonal_multivariate_axis(params):
    mp, vp, mq, vq = params
    kl = gaussian_kl(mp, vp, mq, vq, axis=-1)
    assert kl.shape == (3,)
    np.testing.assert_allclose(kl, kl64(mp, vp, mq, vq).sum(-1), rtol=1e-5)
    cov_p, cov_q = np.diag(vp[0].astype(np.float64)), np.diag(vq[0].astype(np.float64))
    h = gaussian_entropy(vp, axis=-1)
    mvn = scipy.stats.multivariate_normal(mp[0].astype(np.float64), cov_p)
    np.testing.assert_allclose(h[0], mvn.entropy(), rtol=1e-6)
    nll = gaussian_nll(mq, vq, mp, axis=-1)
    ref = -scipy.stats.multivariate_normal(mq[0].astype(np.float64), cov_q).logpdf(mp[0])
    np.testing.assert_allclose(nll[0], ref, rtol=1e-5)


def test_negative_variance_raises_eagerly_and_is_checked_under_jit():
    with pytest.raises(ValueError, match="var_q must be non-negative"):
        gaussian_kl(0.0, 1.0, 0.0, jnp.array([1.0, -0.5]))
    with pytest.raises(ValueError, match="var must be non-negative"):
        gaussian_nll(0.0, -1.0, 0.0)
    out = jax.jit(gaussian_nll)(0.0, jnp.array([1.0, -1.0]), 0.0)
    assert np.isnan(out[1]) and np.isfinite(out[0])
    with pytest.raises(checkify.JaxRuntimeError, match=r"var must be non-negative.*index 1"):
        checked(jax.jit(gaussian_nll))(0.0, jnp.array([1.0, -1.0]), 0.0)


def test_bad_shapes_and_dtypes():
    with pytest.raises(ValueError, match="broadcastable shapes"):
        gaussian_kl(jnp.zeros(3), jnp.ones(3), jnp.zeros(4), jnp.ones(4))
    with pytest.raises(TypeError, match="mean must have a floating dtype"):
        gaussian_nll(jnp.zeros(3, int), jnp.ones(3), jnp.zeros(3))
