"""Benchmark: integer-label softmax cross-entropy vs optax and a bare logsumexp pass.

Run with ``make bench`` or ``python benchmarks/losses.py [--rounds N] [--shapes 8192x1000 ...]``.
For each shape (float32 logits) it times, interleaved round by round so that machine load hits
every contender alike, the jitted forward (per-example losses) of xent_jax and of optax, a bare
``jax.nn.logsumexp`` over the same logits, and the forward+backward (gradient of the summed loss
with respect to the logits) of xent_jax and optax. It prints median times and the ratios
``ours / logsumexp`` (forward; target <= 1.1) and ``ours / optax`` (forward+backward;
target <= 1.05).
No number is asserted: the ratios are for reading.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax

from xent_jax.losses import softmax_cross_entropy_with_integer_labels


def _contenders() -> dict:
    def ours(z, y):
        return softmax_cross_entropy_with_integer_labels(z, y)

    def theirs(z, y):
        return optax.softmax_cross_entropy_with_integer_labels(z, y)

    def lse(z, y):
        return jax.nn.logsumexp(z, axis=-1)

    return {
        "fwd/logsumexp": jax.jit(lse),
        "fwd/optax": jax.jit(theirs),
        "fwd/xent_jax": jax.jit(ours),
        "fwd+bwd/optax": jax.jit(jax.grad(lambda z, y: theirs(z, y).sum())),
        "fwd+bwd/xent_jax": jax.jit(jax.grad(lambda z, y: ours(z, y).sum())),
    }


def bench_shape(shape: tuple[int, int], rounds: int, seed: int = 0) -> dict[str, float]:
    """Median seconds per call for each contender at ``shape``, interleaved over ``rounds``."""
    key_z, key_y = jax.random.split(jax.random.key(seed))
    z = jax.random.normal(key_z, shape, jnp.float32) * 3
    y = jax.random.randint(key_y, shape[:1], 0, shape[1])
    fns = _contenders()
    for fn in fns.values():  # compile and warm up
        jax.block_until_ready(fn(z, y))
        jax.block_until_ready(fn(z, y))
    times: dict[str, list[float]] = {name: [] for name in fns}
    order = list(fns)
    rng = np.random.default_rng(seed)
    for _ in range(rounds):
        rng.shuffle(order)
        for name in order:
            start = time.perf_counter()
            jax.block_until_ready(fns[name](z, y))
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(ts) for name, ts in times.items()}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--shapes", nargs="*", default=["8192x1000", "2048x32000"])
    args = parser.parse_args(argv)
    print(
        f"jax {jax.__version__}, optax {optax.__version__}, device {jax.devices()[0]}, "
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}, {args.rounds} rounds"
    )
    header = (
        f"{'shape':>12} {'lse ms':>8} {'optax fwd':>9} {'ours fwd':>9} {'optax f+b':>9} "
        f"{'ours f+b':>9} {'fwd/lse':>8} {'fwd/optax':>9} {'f+b/optax':>9}"
    )
    print(header)
    for text in args.shapes:
        shape = tuple(int(v) for v in text.lower().split("x"))
        t = bench_shape(shape, args.rounds)
        ms = {k: 1e3 * v for k, v in t.items()}
        print(
            f"{text:>12} {ms['fwd/logsumexp']:8.2f} {ms['fwd/optax']:9.2f} "
            f"{ms['fwd/xent_jax']:9.2f} {ms['fwd+bwd/optax']:9.2f} {ms['fwd+bwd/xent_jax']:9.2f} "
            f"{t['fwd/xent_jax'] / t['fwd/logsumexp']:8.3f} "
            f"{t['fwd/xent_jax'] / t['fwd/optax']:9.3f} "
            f"{t['fwd+bwd/xent_jax'] / t['fwd+bwd/optax']:9.3f}"
        )
    print("targets: fwd/lse <= 1.1, f+b/optax <= 1.05 (medians, interleaved, same process)")


if __name__ == "__main__":
    main()
