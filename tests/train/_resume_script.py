"""A tiny training run used by test_loop.py: killed and resumed from a subprocess.

usage: python _resume_script.py OUT DELAY STEPS_PER_CALL [PAUSE_AT]

With PAUSE_AT, fetching the batch of that step waits (up to 2 minutes) for the test's signal, so
that an interruption cannot come too late on a fast machine.
"""

import json
import signal
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np

from xent_jax.train import fit, make_batch_fn

# Ctrl-C raises KeyboardInterrupt here even when the parent ignores SIGINT (a job started with
# `&` from a non-interactive shell passes SIG_IGN on to every child).
signal.signal(signal.SIGINT, signal.default_int_handler)
out, delay, spc = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
pause_at = int(sys.argv[4]) if len(sys.argv) > 4 else -1
rng = np.random.default_rng(0)
x = rng.normal(size=(256, 16)).astype(np.float32)
y = (x[:, :4].argmax(1)).astype(np.int32)
data_fn = make_batch_fn((x, y), batch_size=32, key=3)


def batch_fn(step):
    time.sleep(delay)  # slow enough that the test can interrupt it mid-run
    if step == pause_at:
        time.sleep(120)  # the test interrupts the run here
    return data_fn(step)


def step_fn(state, batch, key):
    xb, yb = batch

    def loss_fn(w):
        logits = xb @ w
        return jnp.mean(jax.nn.logsumexp(logits, -1) - logits[jnp.arange(len(yb)), yb])

    loss, g = jax.value_and_grad(loss_fn)(state["w"])
    noise = 1e-3 * jax.random.normal(key, state["w"].shape)
    m = 0.9 * state["m"] + g
    return {"w": state["w"] - 0.1 * m + noise, "m": m}, {"loss": loss, "gnorm": jnp.linalg.norm(g)}


res = fit(
    step_fn,
    {"w": jnp.zeros((16, 4)), "m": jnp.zeros((16, 4))},
    batch_fn,
    steps=40,
    key=7,
    steps_per_call=spc,
    workdir=out,
    checkpoint_every=5,
    log_every=4,
    eval_fn=lambda s: {"w_sum": jnp.sum(s["w"])},
    eval_every=10,
    progress=False,
)
np.savez(f"{out}/final.npz", *[np.asarray(v) for v in jax.tree.leaves(res.state)])
with open(f"{out}/final.json", "w") as f:
    json.dump({"metrics": res.metrics, "resumed_from": res.resumed_from}, f)
