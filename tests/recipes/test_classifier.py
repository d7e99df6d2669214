"""recipes.classifier: the cross-entropy step, batched prediction, run builder, train_classifier."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx

from xent_jax.models import MLP
from xent_jax.recipes import (
    ClassifierTraining,
    classification_step,
    classifier_training,
    evaluate_classifier,
    init_classifier_state,
    merge_model,
    predict,
    train_classifier,
)
from xent_jax.train import fit


def _bits(tree):
    return [np.asarray(x).tobytes() for x in jax.tree.leaves(tree)]


@pytest.fixture(scope="module")
def tiny_classifier():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(96, 5)).astype(np.float32)
    y = (x[:, 0] + x[:, 1] > 0).astype(np.int32)
    model, res = train_classifier(
        MLP(5, (8,), 2, rngs=nnx.Rngs(0)),
        x,
        y,
        steps=60,
        key=0,
        batch_size=32,
        learning_rate=3e-2,
        eval_data=(x, y),
        progress=False,
    )
    return model, res, x, y


def test_train_classifier_learns_and_evaluates(tiny_classifier):
    model, res, x, y = tiny_classifier
    assert res.eval["accuracy"] > 0.9
    logits = np.asarray(model(jnp.asarray(x)))
    assert res.eval["accuracy"] == pytest.approx(np.mean(logits.argmax(-1) == y))
    lse = np.log(np.exp(logits.astype(np.float64)).sum(-1))
    ref_loss = np.mean(lse - logits[np.arange(len(y)), y])
    assert res.eval["loss"] == pytest.approx(ref_loss, rel=1e-4)


def test_classifier_state_round_trip_and_predict_padding(tiny_classifier):
    model, _, x, y = tiny_classifier
    tx = optax.sgd(0.1)
    graphdef, state = init_classifier_state(model, tx)
    np.testing.assert_array_equal(merge_model(graphdef, state)(x), model(x))
    out = predict(lambda b: model(b), x, batch_size=40)  # 96 = 40 + 40 + 16 (padded)
    np.testing.assert_allclose(out, np.asarray(model(x)), rtol=1e-6, atol=1e-6)
    ev = evaluate_classifier(graphdef, state, x, y, batch_size=40)
    assert ev["accuracy"] == pytest.approx(np.mean(out.argmax(-1) == y))
    # One classification step equals a hand-written SGD step on the mean cross-entropy.
    step = classification_step(graphdef, tx)
    new, m = jax.jit(step)(state, (x[:8], y[:8]), jax.random.key(0))

    def loss(params):
        logits = nnx.merge(graphdef, params, state["rest"])(x[:8])
        return jnp.mean(jax.nn.logsumexp(logits, -1) - logits[jnp.arange(8), y[:8]])

    grads = jax.grad(loss)(state["params"])
    want = jax.tree.map(lambda p, g: p - 0.1 * g, state["params"], grads)
    for a, b in zip(jax.tree.leaves(new["params"]), jax.tree.leaves(want), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    assert float(m["loss"]) == pytest.approx(float(loss(state["params"])), rel=1e-5)


def test_step_gradient_matches_the_closed_form_for_softmax_regression():
    """A linear model (MLP without hidden layers): the update is -lr X^T (softmax - onehot) / N."""
    rng = np.random.default_rng(1)
    x = rng.normal(size=(16, 4)).astype(np.float32)
    y = rng.integers(0, 3, size=16).astype(np.int32)
    tx = optax.sgd(1.0)
    graphdef, state = init_classifier_state(MLP(4, (), 3, rngs=nnx.Rngs(2)), tx)
    new, m = jax.jit(classification_step(graphdef, tx))(state, (x, y), jax.random.key(0))
    kernel = np.asarray(state["params"]["layers"][0]["kernel"], np.float64)
    bias = np.asarray(state["params"]["layers"][0]["bias"], np.float64)
    z = x.astype(np.float64) @ kernel + bias
    p = np.exp(z - z.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    g = (p - np.eye(3)[y]) / len(y)
    layer = new["params"]["layers"][0]
    np.testing.assert_allclose(layer["kernel"], kernel - x.T.astype(np.float64) @ g, atol=1e-5)
    np.testing.assert_allclose(layer["bias"], bias - g.sum(0), atol=1e-6)
    ref = np.mean(np.log(np.exp(z).sum(1)) - z[np.arange(16), y])
    assert float(m["loss"]) == pytest.approx(ref, rel=1e-5)
    assert float(m["accuracy"]) == pytest.approx(np.mean(z.argmax(1) == y))


def test_classifier_training_is_what_train_classifier_runs():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(40, 5)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int32)
    kw = dict(key=4, batch_size=16, learning_rate=1e-2, eval_data=(x[:8], y[:8]), eval_every=5)
    job = classifier_training(MLP(5, (8,), 2, rngs=nnx.Rngs(0)), x, y, **kw)
    assert isinstance(job, ClassifierTraining)
    res = fit(job.step, job.state, job.batch_fn, steps=10, key=4, progress=False,
              **job.fit_options)  # fmt: skip
    model, ref = train_classifier(MLP(5, (8,), 2, rngs=nnx.Rngs(0)), x, y, steps=10,
                                  progress=False, **kw)  # fmt: skip
    assert _bits(res.state) == _bits(ref.state)
    assert res.eval == ref.eval == job.evaluate(res.state, x[:8], y[:8])
    np.testing.assert_array_equal(job.model(res.state)(x), model(x))
    # logits_fn: the same function as a partial over host arrays, static part compared by value
    fn, again_fn = job.logits_fn(res.state), job.logits_fn(job.state)
    np.testing.assert_allclose(fn(x), model(x), rtol=1e-6, atol=1e-6)
    assert fn.func == again_fn.func and hash(fn.func) == hash(again_fn.func)
    assert all(isinstance(a, np.ndarray) for a in jax.tree.leaves(fn.args))
    # equal settings give equal (hashable) steps: compiled chunks are shared across runs
    again = classifier_training(MLP(5, (8,), 2, rngs=nnx.Rngs(1)), x, y, **kw)
    assert again.step == job.step and hash(again.step) == hash(job.step)
    # the batches are a pure function of the step and of the key
    np.testing.assert_array_equal(job.batch_fn(7)[0], again.batch_fn(7)[0])
    other = classifier_training(MLP(5, (8,), 2, rngs=nnx.Rngs(0)), x, y, **{**kw, "key": 5})
    assert not np.array_equal(job.batch_fn(0)[0], other.batch_fn(0)[0])


def test_predict_refuses_empty_input():
    with pytest.raises(ValueError, match="at least one"):
        predict(lambda b: b, np.zeros((0, 2)))
    with pytest.raises(ValueError, match="batch_size"):
        predict(lambda b: b, np.zeros((3, 2)), batch_size=0)
