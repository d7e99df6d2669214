"""Fused linear + softmax cross-entropy against the unfused loss: memory, speed and FLOPs.

Measures, in one run and on one machine:

* temporaries of ``jax.jit(jax.value_and_grad(loss, argnums=(0, 1)))`` from XLA's compile-time
  ``memory_analysis().temp_size_in_bytes`` (deterministic), for the unfused loss on ``x @ W.T`` and
  for :func:`linear_softmax_cross_entropy_with_integer_labels` at several chunk sizes, at V and 2V;
* forward+backward wall time, unfused and fused calls interleaved round by round, reported as
  medians with the per-round ratio's spread (the machine may be shared: ``uptime`` is printed);
* analytic FLOPs (XLA's cost analysis counts a loop body once, so it under-counts the fused loop).

Run::

    .venv/bin/python benchmarks/linear_cross_entropy.py            # N=4096, V=32768, D=256
    .venv/bin/python benchmarks/linear_cross_entropy.py --quick    # N=1024, V=8192, D=128

The issue's targets: fused temporaries <= 24 MiB at chunk 1024 and <= 1% of the unfused at chunk
256, +-5% when V doubles; fused time <= 1.25x the unfused.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import time

import jax
import jax.numpy as jnp
import numpy as np

from xent_jax.losses import (
    linear_softmax_cross_entropy_with_integer_labels,
    softmax_cross_entropy_with_integer_labels,
)

MIB = 2**20


def unfused_loss(x, w, labels):
    """The reference: materialise ``x @ W.T`` and apply the unfused integer-label loss."""
    return jnp.mean(softmax_cross_entropy_with_integer_labels(x @ w.T, labels))


def fused_loss(chunk_size: int, token_chunk_size: int | None = None):
    def loss(x, w, labels):
        return jnp.mean(
            linear_softmax_cross_entropy_with_integer_labels(
                x, w, labels, chunk_size=chunk_size, token_chunk_size=token_chunk_size
            )
        )

    return loss


def compile_step(loss_fn, n: int, v: int, d: int, dtype=jnp.float32):
    """Compiles ``value_and_grad`` w.r.t. x and W; returns the executable."""
    shapes = (
        jax.ShapeDtypeStruct((n, d), dtype),
        jax.ShapeDtypeStruct((v, d), dtype),
        jax.ShapeDtypeStruct((n,), jnp.int32),
    )
    return jax.jit(jax.value_and_grad(loss_fn, argnums=(0, 1))).lower(*shapes).compile()


def temp_mib(loss_fn, n: int, v: int, d: int, dtype=jnp.float32) -> float:
    return compile_step(loss_fn, n, v, d, dtype).memory_analysis().temp_size_in_bytes / MIB


def memory_table(n: int, v: int, d: int, chunks: list[int]) -> list[tuple[str, float, float]]:
    """Rows ``(name, temp MiB at V, temp MiB at 2V)`` for float32, plus bfloat16 rows."""
    rows = [("unfused", temp_mib(unfused_loss, n, v, d), temp_mib(unfused_loss, n, 2 * v, d))]
    for c in chunks:
        f = fused_loss(c)
        rows.append((f"fused chunk={c}", temp_mib(f, n, v, d), temp_mib(f, n, 2 * v, d)))
    bf = jnp.bfloat16
    f = fused_loss(chunks[0])
    for name, loss_fn in (("unfused bf16", unfused_loss), (f"fused bf16 chunk={chunks[0]}", f)):
        rows.append((name, temp_mib(loss_fn, n, v, d, bf), temp_mib(loss_fn, n, 2 * v, d, bf)))
    return rows


def time_interleaved(steps: dict, args, rounds: int) -> dict[str, list[float]]:
    """Times each step once per round, in rotating order, after one warm-up call each."""
    for step in steps.values():
        jax.block_until_ready(step(*args))
    times = {name: [] for name in steps}
    names = list(steps)
    for r in range(rounds):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            t0 = time.perf_counter()
            jax.block_until_ready(steps[name](*args))
            times[name].append(time.perf_counter() - t0)
    return times


def analytic_flops(n: int, v: int, d: int) -> tuple[float, float]:
    """Matmul FLOPs of forward+backward: unfused 6NVD; fused 8NVD (the backward recomputes)."""
    return 6.0 * n * v * d, 8.0 * n * v * d


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=4096)
    parser.add_argument("--v", type=int, default=32768)
    parser.add_argument("--d", type=int, default=256)
    parser.add_argument("--chunk", type=int, default=1024)
    parser.add_argument("--token-chunk", type=int, default=None)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--quick", action="store_true", help="N=1024, V=8192, D=128, 5 rounds")
    parser.add_argument("--skip-memory", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.n, args.v, args.d, args.rounds = 1024, 8192, 128, 5
    n, v, d = args.n, args.v, args.d

    print(
        f"device: {jax.devices()[0].device_kind} ({jax.default_backend()}), "
        f"cpus: {os.cpu_count()}, jax {jax.__version__}"
    )
    print("uptime:", subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip())
    print(
        f"shape: N={n} V={v} D={d} float32, chunk={args.chunk}, "
        f"token_chunk={args.token_chunk or 'default'}\n"
    )

    if not args.skip_memory:
        rows = memory_table(n, v, d, sorted({args.chunk, 256}, reverse=True))
        base = rows[0][1]
        print(
            "temporaries of jit(value_and_grad(loss, argnums=(0, 1))), MiB "
            "(memory_analysis().temp_size_in_bytes)"
        )
        print(f"{'loss':<26}{'V':>12}{'2V':>12}{'2V/V':>8}{'of unfused':>12}")
        for name, t1, t2 in rows:
            ref = base if "bf16" not in name else rows[-2][1]
            print(f"{name:<26}{t1:>12.2f}{t2:>12.2f}{t2 / t1:>8.3f}{t1 / ref:>11.2%}")
        print()

    kx, kw, ky = jax.random.split(jax.random.key(0), 3)
    x = jax.random.normal(kx, (n, d), jnp.float32)
    w = jax.random.normal(kw, (v, d), jnp.float32) / np.sqrt(d)
    y = jax.random.randint(ky, (n,), 0, v)
    steps = {
        "unfused": compile_step(unfused_loss, n, v, d),
        "fused": compile_step(fused_loss(args.chunk, args.token_chunk), n, v, d),
    }
    (l_ref, g_ref), (l_f, g_f) = steps["unfused"](x, w, y), steps["fused"](x, w, y)
    rel = max(
        float(jnp.linalg.norm(a - b) / jnp.linalg.norm(b))
        for a, b in zip(jax.tree.leaves((l_f, g_f)), jax.tree.leaves((l_ref, g_ref)), strict=True)
    )
    times = time_interleaved(steps, (x, w, y), args.rounds)
    ratios = [f / u for f, u in zip(times["fused"], times["unfused"], strict=True)]
    med_u, med_f = statistics.median(times["unfused"]), statistics.median(times["fused"])
    fl_u, fl_f = analytic_flops(n, v, d)
    print(
        f"forward+backward time, {args.rounds} interleaved rounds (max relative difference of "
        f"loss and grads vs unfused: {rel:.1e})"
    )
    print(f"{'loss':<10}{'median s':>10}{'min s':>10}{'max s':>10}{'GFLOP':>10}{'GFLOP/s':>10}")
    for name, fl in (("unfused", fl_u), ("fused", fl_f)):
        t = times[name]
        print(
            f"{name:<10}{statistics.median(t):>10.3f}{min(t):>10.3f}{max(t):>10.3f}"
            f"{fl / 1e9:>10.1f}{fl / 1e9 / statistics.median(t):>10.1f}"
        )
    print(
        f"\ntime ratio fused/unfused: median of medians {med_f / med_u:.3f}; per-round ratios "
        f"median {statistics.median(ratios):.3f}, min {min(ratios):.3f}, max {max(ratios):.3f}"
    )
    print(f"analytic FLOP ratio fused/unfused: {fl_f / fl_u:.3f} (8NVD vs 6NVD)")
    xla = [steps[k].cost_analysis() for k in ("unfused", "fused")]
    xla = [c[0] if isinstance(c, list) else c for c in xla]
    print(
        "XLA cost_analysis flops (counts a loop body once): unfused "
        f"{xla[0].get('flops', float('nan')) / 1e9:.1f} G, fused "
        f"{xla[1].get('flops', float('nan')) / 1e9:.1f} G"
    )
    print("uptime:", subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip())


if __name__ == "__main__":
    main()
