import jax
import numpy as np
import optax
import pytest
from flax import nnx
from sklearn.datasets import load_digits

from xent_jax.attacks import adversarial_training_step, pgd
from xent_jax.models import MLP
from xent_jax.train import (
    classification_step,
    fit,
    init_classifier_state,
    make_batch_fn,
    merge_model,
)

EPS = 0.1


@pytest.fixture(scope="module")
def trained():  # used by slow tests only
    """The same linear model trained normally and with PGD-AT, through the engine's ``fit``."""
    d = load_digits()
    x = (d.images / 16.0).astype(np.float32)[..., None]
    y = d.target.astype(np.int32)
    train, test = (x[:1400], y[:1400]), (x[1400:1600], y[1400:1600])
    batches = make_batch_fn(train, batch_size=100, seed=0)
    tx = optax.adam(1e-2)
    out = {}
    for name in ("standard", "adversarial"):
        graphdef, state = init_classifier_state(MLP(64, (), 10, flatten=True, rngs=nnx.Rngs(0)), tx)
        if name == "standard":
            step = classification_step(graphdef, tx)
        else:

            def apply(params, state, x, graphdef=graphdef):
                return nnx.merge(graphdef, params, state["rest"])(x)

            step = adversarial_training_step(apply, tx, eps=EPS, steps=3)
        result = fit(step, state, batches, num_steps=150, key=0, progress=False)
        model = merge_model(graphdef, result.state)
        model.eval()
        out[name] = (model, result)
    return out, test


def _robust_accuracy(model, x, y):
    r = pgd(model, x, y, eps=EPS, steps=5, key=jax.random.key(0))
    return 1.0 - float(np.mean(np.asarray(r.success)))


def test_step_plugs_into_fit_and_lowers_the_adversarial_loss(digits):
    """A few jitted steps through ``fit`` on a dict-of-arrays linear model."""

    def apply(params, state, x):
        return x.reshape(x.shape[0], -1) @ params["w"] + params["b"][None, :]

    tx = optax.adam(5e-2)
    params = {"w": np.zeros((64, 10), np.float32), "b": np.zeros(10, np.float32)}
    state = {"params": params, "opt_state": tx.init(params)}
    step = adversarial_training_step(apply, tx, eps=EPS, steps=2, adversarial_weight=0.5)
    batch = (digits.x, digits.y)
    result = fit(step, state, lambda s: batch, num_steps=12, key=0, progress=False)
    assert set(result.train) == {"loss", "clean_accuracy", "adv_accuracy"}
    assert result.train["adv_accuracy"] <= result.train["clean_accuracy"]
    _, first = jax.jit(step)(state, batch, jax.random.key(0))
    assert result.train["loss"] < float(first["loss"]) - 0.5
    assert np.abs(np.asarray(result.state["params"]["w"])).max() > 0


@pytest.mark.slow
def test_adversarial_training_raises_robust_accuracy(trained):
    out, (x, y) = trained
    standard = _robust_accuracy(out["standard"][0], x, y)
    robust = _robust_accuracy(out["adversarial"][0], x, y)
    clean = float(np.mean(np.argmax(np.asarray(out["adversarial"][0](x)), -1) == y))
    # measured: standard 0.53, adversarially trained 0.65 on these 200 test digits
    assert robust > standard + 0.05, (standard, robust)
    assert clean > 0.7


def test_bad_arguments():
    tx = optax.sgd(0.1)
    with pytest.raises(ValueError, match="eps"):
        adversarial_training_step(lambda p, s, x: x, tx, eps=-1.0)
    with pytest.raises(ValueError, match="adversarial_weight"):
        adversarial_training_step(lambda p, s, x: x, tx, eps=0.1, adversarial_weight=2.0)
