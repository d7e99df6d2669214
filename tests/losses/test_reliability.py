"""Issue 12 for the losses: NaN in -> NaN out, no overflow where the loss is representable, and a
checked mode that names what is wrong. Each test here failed on the code before the fix (noted
per test); masked-out entries stay ignored."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.experimental import checkify
from jax.scipy.special import logsumexp

import xent_jax.losses as xl
from xent_jax.losses import checked

NAN = np.nan
Z = np.array([[1.0, -0.5, 2.0], [0.3, 0.2, -1.0]], np.float32)
T = np.array([[0.2, 0.3, 0.5], [1.0, 0.0, 0.0]], np.float32)
Y = np.array([2, 0], np.int32)


def _with_nan(x, index=(0, 1)):
    x = np.array(x, copy=True)
    x[index] = NAN
    return x


# Every public loss (and the reduction helper) called on inputs with one NaN in row 0: the
# affected values must be NaN, never a number. (The softmax CEs used to return 0.0 for a NaN row:
# the "no valid entries" guard tested ``total > 0``, which is False for NaN.)
NAN_CASES = {
    "softmax_cross_entropy_with_integer_labels": lambda: (
        xl.softmax_cross_entropy_with_integer_labels(jnp.full((2, 3), NAN), Y),
        [0, 1],
    ),
    "softmax_cross_entropy(all NaN row)": lambda: (
        xl.softmax_cross_entropy(np.where([[True], [False]], NAN, Z), T),
        [0],
    ),
    "softmax_cross_entropy(NaN label)": lambda: (xl.softmax_cross_entropy(Z, _with_nan(T)), [0]),
    "safe_softmax_cross_entropy": lambda: (xl.safe_softmax_cross_entropy(_with_nan(Z), T), [0]),
    "poly_loss_cross_entropy": lambda: (xl.poly_loss_cross_entropy(_with_nan(Z), T), [0]),
    "sigmoid_binary_cross_entropy": lambda: (
        xl.sigmoid_binary_cross_entropy(_with_nan(Z), T)[:, 1],
        [0],
    ),
    "multilabel_sigmoid_cross_entropy": lambda: (
        xl.multilabel_sigmoid_cross_entropy(_with_nan(Z), T),
        [0],
    ),
    "sigmoid_focal_loss": lambda: (xl.sigmoid_focal_loss(_with_nan(Z), T)[:, 1], [0]),
    "sparsemax_loss": lambda: (xl.sparsemax_loss(_with_nan(Z), T > 0.25)[:, 1], [0]),
    "multiclass_sparsemax_loss": lambda: (xl.multiclass_sparsemax_loss(_with_nan(Z), Y), [0]),
    "kl_divergence": lambda: (xl.kl_divergence(np.log(T + 0.1), _with_nan(T)), [0]),
    "kl_divergence_with_log_targets": lambda: (
        xl.kl_divergence_with_log_targets(_with_nan(Z), np.log(T + 0.1)),
        [0],
    ),
    "generalized_kl_divergence": lambda: (
        xl.generalized_kl_divergence(_with_nan(Z), T),
        [0],
    ),
    "cross_entropy": lambda: (xl.cross_entropy(T, _with_nan(T)), [0]),
    "entropy": lambda: (xl.entropy(_with_nan(T)), [0]),
    "relative_entropy": lambda: (xl.relative_entropy(_with_nan(T), T), [0]),
    "cross_entropy_from_log_probs": lambda: (
        xl.cross_entropy_from_log_probs(np.log(T + 0.1), _with_nan(Z)),
        [0],
    ),
    "entropy_from_log_probs": lambda: (xl.entropy_from_log_probs(_with_nan(Z)), [0]),
    "relative_entropy_from_log_probs": lambda: (
        xl.relative_entropy_from_log_probs(_with_nan(Z), Z),
        [0],
    ),
    "smooth_labels": lambda: (xl.smooth_labels(_with_nan(T), 0.1)[:, 1], [0]),
    "make_fenchel_young_loss": lambda: (
        xl.make_fenchel_young_loss(logsumexp)(_with_nan(Z), T),
        [0],
    ),
    "ranking_softmax_loss": lambda: (
        xl.ranking_softmax_loss(_with_nan(Z), T, reduce_fn=None),
        [0],
    ),
    "ranking_softmax_loss(mean)": lambda: (xl.ranking_softmax_loss(_with_nan(Z), T)[None], [0]),
    "ntxent": lambda: (xl.ntxent(_with_nan(Z), np.array([0, 0]))[None], [0]),
    "ctc_loss": lambda: (
        xl.ctc_loss(
            _with_nan(np.stack([Z, Z]), (0, 0, 1)),
            np.zeros((2, 2)),
            np.ones((2, 1), int),
            np.zeros((2, 1)),
        ),
        [0],
    ),
    "gaussian_nll": lambda: (xl.gaussian_nll(_with_nan(Z), 1.0, 0.0)[:, 1], [0]),
    "gaussian_kl": lambda: (xl.gaussian_kl(_with_nan(Z), 1.0, 0.0, 2.0)[:, 1], [0]),
    "gaussian_cross_entropy": lambda: (
        xl.gaussian_cross_entropy(0.0, 1.0, _with_nan(Z), 2.0)[:, 1],
        [0],
    ),
    "gaussian_entropy": lambda: (xl.gaussian_entropy(_with_nan(T + 0.5))[:, 1], [0]),
    "gan_discriminator_loss": lambda: (xl.gan_discriminator_loss(_with_nan(Z), Z)[:, 1], [0]),
    "gan_generator_loss": lambda: (xl.gan_generator_loss(_with_nan(Z))[:, 1], [0]),
    "linear_softmax_cross_entropy_with_integer_labels": lambda: (
        xl.linear_softmax_cross_entropy_with_integer_labels(
            _with_nan(np.ones((2, 4), np.float32)), np.ones((3, 4), np.float32), Y
        ),
        [0],
    ),
    "reduce_loss(mean)": lambda: (xl.reduce_loss(_with_nan(Z))[None], [0]),
    "reduce_loss(sum)": lambda: (xl.reduce_loss(_with_nan(Z), reduction="sum")[None], [0]),
    # NaN weights used to give a mean of 0 (the denominator test was ``> 0``)
    "reduce_loss(NaN weights)": lambda: (
        xl.reduce_loss(Z[0], weights=np.array([1.0, NAN, 1.0], np.float32))[None],
        [0],
    ),
    "information_identity_error": lambda: (
        xl.information_identity_error(_with_nan(T), T)[None],
        [0],
    ),
}


@pytest.mark.parametrize("case", sorted(NAN_CASES))
def test_nan_in_nan_out(case):
    values, nan_rows = NAN_CASES[case]()
    values = np.asarray(values, np.float64)
    assert np.isnan(values[nan_rows]).all(), (case, values)
    others = [i for i in range(values.shape[0]) if i not in nan_rows]
    assert np.isfinite(values[others]).all(), (case, values)


def test_nan_logits_gave_zero_before():
    """The reported bug: NaN logits gave a loss of 0.0; now NaN, eagerly and under jit."""
    z = jnp.full((1, 4), jnp.nan)
    for fn in (
        xl.softmax_cross_entropy_with_integer_labels,
        jax.jit(xl.softmax_cross_entropy_with_integer_labels),
    ):
        assert np.isnan(fn(z, jnp.array([1])))[0]
    soft = jax.nn.one_hot(jnp.array([1]), 4)
    assert np.isnan(xl.softmax_cross_entropy(z, soft))[0]
    assert np.isnan(jax.jit(xl.softmax_cross_entropy)(z, soft))[0]
    # and the reductions keep it
    assert np.isnan(xl.reduce_loss(xl.softmax_cross_entropy_with_integer_labels(z, jnp.array([1]))))


@pytest.mark.parametrize("use_where", [False, True])
def test_masked_nan_is_still_ignored(use_where):
    z = Z.copy()
    z[0, 1] = NAN
    t = T.copy()
    t[0, 1] = NAN
    where = np.array([[True, False, True], [True, True, True]])
    expected_int = xl.softmax_cross_entropy_with_integer_labels(np.where(where, Z, -np.inf), Y)
    expected_soft = xl.softmax_cross_entropy(np.where(where, Z, -np.inf), np.where(where, T, 0.0))
    if use_where:
        got_int = xl.softmax_cross_entropy_with_integer_labels(z, Y, where=where)
        got_soft = xl.softmax_cross_entropy(z, t, where=where)
    else:  # per-example masks: a NaN row that is masked out entirely gives 0
        per_example = np.array([False, True])
        got_int = xl.softmax_cross_entropy_with_integer_labels(z, Y, where=per_example)
        got_soft = xl.softmax_cross_entropy(z, t, where=per_example)
        expected_int = np.where(per_example, expected_int, 0.0)
        expected_soft = np.where(per_example, expected_soft, 0.0)
        expected_int[1] = xl.softmax_cross_entropy_with_integer_labels(Z, Y)[1]
        expected_soft[1] = xl.softmax_cross_entropy(Z, T)[1]
    np.testing.assert_allclose(got_int, expected_int, rtol=1e-6)
    np.testing.assert_allclose(got_soft, expected_soft, rtol=1e-6)
    g = jax.grad(lambda z: xl.softmax_cross_entropy(z, t, where=where).sum())(jnp.asarray(z))
    assert np.isfinite(g).all() and g[0, 1] == 0.0
    # reductions and the sigmoid, KL and ranking masks too
    assert np.isfinite(xl.reduce_loss(z[0], where=np.array([True, False, True])))
    assert np.isfinite(xl.multilabel_sigmoid_cross_entropy(z, t, where=where)).all()
    assert np.isfinite(xl.kl_divergence(jnp.log(T), t, where=where)).all()
    assert np.isfinite(xl.ranking_softmax_loss(z, t, where=where))


def test_no_overflow_near_float32_max_with_label_smoothing():
    """Logits +-3e38 with smoothing: the loss (about eps/2 * 6e38) is representable. The old code
    formed ``shift - z = 6e38`` and returned inf."""
    z = jnp.array([[3e38, -3e38]], jnp.float32)
    for eps in (0.1, 0.5):
        ref = eps / 2 * 6e38  # -log p = 0 for class 0, 6e38 for class 1
        got = xl.softmax_cross_entropy_with_integer_labels(z, jnp.array([0]), label_smoothing=eps)
        np.testing.assert_allclose(got, [ref], rtol=1e-6)
        soft = xl.softmax_cross_entropy(z, jnp.array([[1.0, 0.0]]), label_smoothing=eps)
        np.testing.assert_allclose(soft, [ref], rtol=1e-6)
        jitted = jax.jit(
            lambda z, eps=eps: xl.softmax_cross_entropy(
                z, jnp.array([[1.0, 0.0]]), label_smoothing=eps
            )
        )(z)
        np.testing.assert_allclose(jitted, [ref], rtol=1e-6)
    # where the true loss is not representable it is inf, not NaN
    assert np.isposinf(xl.softmax_cross_entropy_with_integer_labels(z, jnp.array([1])))


# ----------------------------------------------------------------------------- checked mode


def _raises(fn, *args, match):
    with pytest.raises(checkify.JaxRuntimeError, match=match):
        checked(fn)(*args)


def test_checked_mode_is_off_by_default_and_on_inside_checked():
    f = jax.jit(
        checkify.checkify(xl.softmax_cross_entropy_with_integer_labels, errors=checkify.user_checks)
    )
    err, _ = f(jnp.zeros((2, 3)), jnp.array([0, 7]))
    assert err.get() is None  # no check recorded: plain jit pays nothing
    with checked():
        err, _ = f(jnp.zeros((2, 3)), jnp.array([0, 7]))
    assert "labels out of range" in err.get()


def test_checked_traced_label_smoothing_outside_unit_interval():
    """Under jit a traced smoothing of 1.5 used to pass silently."""
    z, y = jnp.zeros((2, 3)), jnp.array([0, 1])
    fn = jax.jit(
        lambda z, y, eps: xl.softmax_cross_entropy_with_integer_labels(z, y, label_smoothing=eps)
    )
    _raises(fn, z, y, 1.5, match=r"label_smoothing out of range: .* = 1\.5.*\[0, 1\]")
    _raises(fn, z, y, -0.1, match="label_smoothing out of range")
    soft = jax.jit(
        lambda z, eps: xl.softmax_cross_entropy(z, jnp.ones((2, 3)) / 3, label_smoothing=eps)
    )
    _raises(soft, z, 2.0, match="label_smoothing out of range")
    assert np.isfinite(checked(fn)(z, y, 0.3)).all()
    smooth = jax.jit(xl.smooth_labels)
    _raises(smooth, jnp.ones(3) / 3, 1.2, match="alpha out of range")


def test_checked_negative_weights():
    """Traced negative class weights (and any negative pos_weight) used to pass unchecked."""
    z, y = jnp.zeros((2, 3)), jnp.array([0, 1])
    fn = jax.jit(lambda w: xl.softmax_cross_entropy_with_integer_labels(z, y, class_weights=w))
    _raises(
        fn, jnp.array([1.0, -2.0, 1.0]), match=r"class_weights must be non-negative.*index 1.*-2"
    )
    bce = jax.jit(lambda pw: xl.sigmoid_binary_cross_entropy(z, jnp.ones((2, 3)), pos_weight=pw))
    _raises(bce, jnp.array([1.0, 1.0, -0.5]), match="pos_weight must be non-negative")
    with pytest.raises(ValueError, match="pos_weight must be non-negative"):
        xl.sigmoid_binary_cross_entropy(z, jnp.ones((2, 3)), pos_weight=jnp.array([-1.0, 1.0, 1.0]))
    red = jax.jit(lambda w: xl.reduce_loss(jnp.ones(3), weights=w))
    _raises(red, jnp.array([1.0, -1.0, 1.0]), match="weights must be non-negative")
    focal = jax.jit(lambda g: xl.sigmoid_focal_loss(z, jnp.ones((2, 3)), gamma=g))
    _raises(focal, -1.0, match="gamma must be non-negative")


def test_checked_non_finite_inputs_named():
    z = jnp.array([[0.0, jnp.nan, 1.0], [0.0, -jnp.inf, 1.0]])
    _raises(
        xl.softmax_cross_entropy_with_integer_labels,
        z,
        jnp.array([0, 2]),
        match=r"non-finite input: logits\[\[0 1\]\] = nan, expected finite or -inf",
    )
    _raises(xl.softmax_cross_entropy, z, jnp.ones((2, 3)) / 3, match="non-finite input: logits")
    _raises(xl.sigmoid_binary_cross_entropy, z, jnp.ones((2, 3)), match="non-finite input: logits")
    _raises(xl.kl_divergence, jnp.log(jnp.ones((2, 3)) / 3), z, match=r"targets out of range")
    _raises(xl.ntxent, z, jnp.array([0, 0]), match="non-finite input: embeddings")
    # -inf logits are the "absent class" convention, not an error; masked NaN is not checked
    ok = checked(xl.softmax_cross_entropy_with_integer_labels)(
        z, jnp.array([0, 2]), where=jnp.array([[True, False, True], [True, True, True]])
    )
    assert np.isfinite(ok).all()


def test_checked_out_of_range_labels_everywhere():
    _raises(
        xl.multiclass_sparsemax_loss,
        jnp.zeros((2, 3)),
        jnp.array([0, 3]),
        match=r"labels out of range: labels\[1\] = 3",
    )
    _raises(
        xl.sigmoid_binary_cross_entropy,
        jnp.zeros(3),
        jnp.array([0.0, 1.5, 1.0]),
        match="labels out of range",
    )
    _raises(xl.sparsemax_loss, jnp.zeros(3), jnp.array([0, 2, 1]), match="labels 0 or 1")
    logits = jnp.zeros((1, 4, 3))
    _raises(
        xl.ctc_loss,
        logits,
        jnp.zeros((1, 4)),
        jnp.array([[1, 5]]),
        jnp.zeros((1, 2)),
        match=r"labels out of range: labels\[\[0 1\]\] = 5",
    )
    # padded labels are not checked
    ok = checked(xl.ctc_loss)(
        logits, jnp.zeros((1, 4)), jnp.array([[1, 5]]), jnp.array([[0.0, 1.0]])
    )
    assert np.isfinite(ok).all()


def _public_losses():
    import inspect

    skip = {"checked", "make_fenchel_young_loss"}  # take functions, not arrays
    for name in sorted(dir(xl)):
        fn = getattr(xl, name)
        if name.startswith("_") or name in skip or not inspect.isfunction(fn):
            continue
        params = inspect.signature(fn).parameters.values()
        required = [
            p.name for p in params if p.default is p.empty and p.kind <= p.POSITIONAL_OR_KEYWORD
        ]
        for i, arg in enumerate(required):
            yield pytest.param(name, len(required), i, arg, id=f"{name}-{arg}")


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.parametrize(("name", "count", "index", "arg"), list(_public_losses()))
def test_none_for_any_array_argument_is_refused_by_name(name, count, index, arg):
    args = [np.ones((2, 3), np.float32) for _ in range(count)]
    args[index] = None
    with pytest.raises(TypeError, match=rf"^{arg} must be"):
        getattr(xl, name)(*args)
