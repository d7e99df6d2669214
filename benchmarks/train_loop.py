"""Speed of the one training loop: compiled chunks versus a call per step, seeds as a batch axis.

Run: ``.venv/bin/python benchmarks/train_loop.py [--repeats 5]`` (a few minutes on a 2-core CPU).

Measures, interleaved (each round times every variant once; medians over rounds; compilation
excluded by a warm-up run of each variant, whose compiled chunks :func:`xent_jax.train.fit`
reuses across calls):

1. steps/s of ``fit`` on a small MLP classifier (sklearn digits, 64-32-10, batch 32, Adam) with
   ``steps_per_call=1`` (one dispatch per step) versus the default chunking (50 steps per call).
   Target: chunked at least 1.5x faster on CPU.
2. the same for the rotation CNN of the rotation study (widths 16-32-64, 32 images x 4 rotations),
   on 8x8 sklearn digits (the study uses 28x28 MNIST: each step is 12x the convolution work).
3. K=3 seeds as one ``jax.vmap``-ed program (``vmap_seeds``) versus 3 sequential runs, for the small
   MLP and for the 2-D GAN of the gan-mixtures study (ring mixture, packed discriminator).

Prints the ratios against the references measured in the same run; asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import jax
import numpy as np
import optax
from flax import nnx

from xent_jax.data import load_digits
from xent_jax.models import CNN, MLP
from xent_jax.recipes import classification_step, init_classifier_state
from xent_jax.tasks import rotation_batch
from xent_jax.train import (
    fit,
    make_batch_fn,
    seed_keys,
    stack_batch_fns,
    stack_seeds,
    vmap_seeds,
)


def _rotations(x, y, key):
    del y, key
    return rotation_batch(x)


def _median_time(fn, repeats: int) -> list[float]:
    return [fn() for _ in range(repeats)]


def _timed(fn) -> float:
    t = time.perf_counter()
    out = fn()
    jax.block_until_ready(jax.tree.leaves(out.state))
    return time.perf_counter() - t


def mlp_setup(seed: int = 0):
    x, y = load_digits()
    x = np.asarray(x, np.float32).reshape(len(x), -1)
    tx = optax.adam(1e-3)
    graphdef, state = init_classifier_state(MLP(64, (32,), 10, rngs=nnx.Rngs(seed)), tx)
    return classification_step(graphdef, tx), state, make_batch_fn((x, y), batch_size=32, key=seed)


def cnn_setup(seed: int = 0):
    x, _ = load_digits()
    tx = optax.adam(1e-3)
    model = CNN(4, widths=(16, 32, 64), rngs=nnx.Rngs(seed))
    graphdef, state = init_classifier_state(model, tx)
    step = classification_step(graphdef, tx, transform=_rotations)
    dummy = np.zeros(len(x), np.int32)
    return step, state, make_batch_fn((np.asarray(x), dummy), batch_size=32, key=seed)


def chunking(name: str, setup, steps: int, repeats: int) -> float:
    step, state, batch_fn = setup()
    variants = {
        "steps_per_call=1": lambda: fit(step, state, batch_fn, steps=steps, key=0,
                                        steps_per_call=1, progress=False),
        "steps_per_call=50": lambda: fit(step, state, batch_fn, steps=steps, key=0,
                                         steps_per_call=50, progress=False),
    }  # fmt: skip
    for fn in variants.values():  # warm-up: compile every chunk length once
        fn()
    times = {k: [] for k in variants}
    for _ in range(repeats):
        for k, fn in variants.items():
            times[k].append(_timed(fn))
    med = {k: statistics.median(v) for k, v in times.items()}
    for k, v in med.items():
        print(f"  {name:<12} {k:<18} {steps / v:10.0f} steps/s  (median of {repeats})")
    ratio = med["steps_per_call=1"] / med["steps_per_call=50"]
    print(f"  {name:<12} chunked / per-step speed: {ratio:.2f}x  (target >= 1.5x)")
    return ratio


def seeds_mlp(steps: int, repeats: int) -> float:
    parts = [mlp_setup(s) for s in range(3)]
    step = parts[0][0]
    states = [p[1] for p in parts]
    fns = [p[2] for p in parts]

    def sequential():
        return [fit(step, st, f, steps=steps, key=s, progress=False)
                for s, (st, f) in enumerate(zip(states, fns, strict=True))][-1]  # fmt: skip

    def vmapped():
        return fit(vmap_seeds(step), stack_seeds(states), stack_batch_fns(fns), steps=steps,
                   key=seed_keys([0, 1, 2]), progress=False)  # fmt: skip

    return _compare("small MLP", {"3 sequential": sequential, "K=3 vmapped": vmapped}, repeats)


def seeds_gan(steps: int, repeats: int) -> float:
    """The gan-mixtures GAN (ring, MLPs 3x128, pack 4, batch 256): 3 seeds vmapped vs in turn."""
    from xent_jax.data import mixture
    from xent_jax.models import Discriminator, Generator
    from xent_jax.recipes import GANConfig, gan_step, init_gan_state, mixture_sampler

    centers, std = mixture("ring")
    config = GANConfig(batch_size=256, g_learning_rate=5e-4, d_learning_rate=5e-4)
    parts = []
    for s in range(3):
        g = Generator(16, 2, hidden=(128, 128, 128), rngs=nnx.Rngs(2 * s))
        d = Discriminator(2, hidden=(128, 128, 128), pack=4, rngs=nnx.Rngs(2 * s + 1))
        parts.append(init_gan_state(g, d, config))
    step = gan_step(parts[0][0], mixture_sampler(centers, std))  # one GAN structure, 3 states
    states = [p[1] for p in parts]

    def sequential():
        return [fit(step, st, None, steps=steps, key=s, steps_per_call=100, progress=False)
                for s, st in enumerate(states)][-1]  # fmt: skip

    def vmapped():
        return fit(vmap_seeds(step, batch_axis=None), stack_seeds(states), None, steps=steps,
                   key=seed_keys([0, 1, 2]), steps_per_call=100, progress=False)  # fmt: skip

    return _compare("2-D GAN", {"3 sequential": sequential, "K=3 vmapped": vmapped}, repeats)


def _compare(name: str, variants: dict, repeats: int) -> float:
    for fn in variants.values():
        fn()
    times = {k: [] for k in variants}
    for _ in range(repeats):
        for k, fn in variants.items():
            times[k].append(_timed(fn))
    med = {k: statistics.median(v) for k, v in times.items()}
    for k, v in med.items():
        print(f"  {name:<12} {k:<14} {v * 1e3:9.1f} ms  (median of {repeats})")
    ratio = med["3 sequential"] / med["K=3 vmapped"]
    print(f"  {name:<12} vmapped seeds / sequential speed: {ratio:.2f}x")
    return ratio


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--steps", type=int, default=500)
    args = parser.parse_args()
    print(f"jax {jax.__version__} on {jax.devices()[0].platform}, {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.2f}")  # fmt: skip
    print("1-2. fit: compiled chunks versus one call per step")
    chunking("small MLP", mlp_setup, args.steps, args.repeats)
    chunking("rotation CNN", cnn_setup, max(args.steps // 5, 50), args.repeats)
    print("3. seeds as a batch axis (K=3)")
    seeds_mlp(args.steps, args.repeats)
    seeds_gan(args.steps, args.repeats)
    print(f"load average at the end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
