"""Benchmark: integer-label softmax cross-entropy vs optax and a bare logsumexp pass.

Run with ``make bench`` or ``python benchmarks/losses.py [--rounds N] [--shapes 8192x1000 ...]``.
For each shape (float32 logits) it times, interleaved round by round so that machine load hits
every contender alike, the jitted forward (per-example losses) of xent_jax and of optax, a bare
``jax.nn.logsumexp`` over the same logits, and the forward+backward (gradient of the summed loss
with respect to the logits) of xent_jax and optax. It prints median times and the median (with
quartiles) of the per-round paired ratios ``ours / logsumexp`` (forward; target <= 1.1) and
``ours / optax`` (forward+backward; target <= 1.05).
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


def bench_shape(shape: tuple[int, int], rounds: int, seed: int = 0) -> dict[str, list[float]]:
    """Seconds per call of each contender at ``shape``, one entry per interleaved round."""
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
    return times


def paired_ratio(num: list[float], den: list[float]) -> tuple[float, float, float]:
    """Median and quartiles of the per-round ratios ``num[r] / den[r]``.

    Pairing the two timings of one round cancels most of the load that other processes put on a
    shared machine; the quartiles show the spread that remains.
    """
    ratios = sorted(a / b for a, b in zip(num, den, strict=True))
    q1, med, q3 = np.quantile(ratios, [0.25, 0.5, 0.75])
    return float(med), float(q1), float(q3)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--shapes", nargs="*", default=["8192x1000", "2048x32000"])
    args = parser.parse_args(argv)
    print(
        f"jax {jax.__version__}, optax {optax.__version__}, device {jax.devices()[0]}, "
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}, {args.rounds} rounds"
    )
    print(
        f"{'shape':>12} {'lse':>8} {'optax':>8} {'ours':>8} {'optax':>8} {'ours':>8}   "
        f"{'fwd: ours/lse':>20} {'fwd: ours/optax':>20} {'f+b: ours/optax':>20}"
    )
    print(
        f"{'':>12} {'fwd ms':>8} {'fwd ms':>8} {'fwd ms':>8} {'f+b ms':>8} {'f+b ms':>8}   "
        f"{'median [q1, q3]':>20} {'median [q1, q3]':>20} {'median [q1, q3]':>20}"
    )
    for text in args.shapes:
        shape = tuple(int(v) for v in text.lower().split("x"))
        t = bench_shape(shape, args.rounds)
        ms = {k: 1e3 * statistics.median(v) for k, v in t.items()}
        cells = []
        for num, den in (
            ("fwd/xent_jax", "fwd/logsumexp"),
            ("fwd/xent_jax", "fwd/optax"),
            ("fwd+bwd/xent_jax", "fwd+bwd/optax"),
        ):
            med, q1, q3 = paired_ratio(t[num], t[den])
            cells.append(f"{med:.3f} [{q1:.2f}, {q3:.2f}]".rjust(20))
        print(
            f"{text:>12} {ms['fwd/logsumexp']:8.2f} {ms['fwd/optax']:8.2f} "
            f"{ms['fwd/xent_jax']:8.2f} {ms['fwd+bwd/optax']:8.2f} {ms['fwd+bwd/xent_jax']:8.2f}   "
            + " ".join(cells)
        )
    print(
        "targets: fwd ours/lse <= 1.1, f+b ours/optax <= 1.05 (median of per-round paired ratios, "
        "interleaved in one process)"
    )


if __name__ == "__main__":
    main()
