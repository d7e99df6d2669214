"""Benchmark: every cross-entropy-family function xent_jax shares with optax, against optax.

Run with ``make bench`` or ``python benchmarks/losses.py [--rounds N] [--only NAME ...]
[--shapes 2048x32000 8192x1024] [--dtypes float32 bfloat16]``.

For each function, shape and dtype it jits four contenders, ours and optax's, forward (the
per-example losses) and forward+backward (the gradient of their sum with respect to the first
floating input), plus, for the softmax cross-entropies, a bare ``jax.nn.logsumexp`` over the same
logits. The contenders of one group are timed interleaved, in a fresh random order every round,
so that the load other processes put on a shared machine hits all of them alike; a ratio is the
median of the per-round paired ratios (quartiles in brackets). Targets (issue 13): softmax
cross-entropies forward <= 1.1x one logsumexp pass; every function <= 1.05x its optax twin,
forward and forward+backward. The machine's load average is printed at the start and the end.
No number is asserted: the ratios are for reading.

Shapes: the ``[N, K]`` shapes apply to every function of logits (or scores) with a class,
label or list axis, except ``multiclass_sparsemax_loss`` at 2048x32000 (optax's sort-based
projection takes about 20 s per call there; it runs at 8192x1024 only); ``ctc_loss`` runs at
``[B, T, K] = [16, 128, 512]`` with 32 labels and ``ntxent`` at ``[N, D] = [512, 128]`` (optax
materialises an ``[N, N, D]`` array, so the large shapes do not apply to it).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
import warnings
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.scipy.special import logsumexp

import xent_jax.losses as xl

warnings.filterwarnings("ignore", category=DeprecationWarning)  # optax's convex_kl_divergence


def _nk_inputs(kind: str):
    """Input builders for ``[N, K]`` functions: returns ``make(shape, dtype, key) -> args``."""

    def make(shape, dtype, key):
        k1, k2, k3 = jax.random.split(key, 3)
        z = (jax.random.normal(k1, shape) * 3).astype(dtype)
        if kind == "int":
            return (z, jax.random.randint(k2, shape[:1], 0, shape[1]))
        if kind == "soft":
            return (z, jax.nn.softmax(jax.random.normal(k2, shape)).astype(dtype))
        if kind == "binary":
            return (z, jax.random.uniform(k2, shape).astype(dtype))
        if kind == "hard":
            return (z, (jax.random.uniform(k2, shape) > 0.5).astype(dtype))
        if kind == "log":
            log_q = jax.nn.log_softmax(z.astype(jnp.float32)).astype(dtype)
            return (log_q, jax.nn.softmax(jax.random.normal(k2, shape)).astype(dtype))
        if kind == "loglog":
            log_q = jax.nn.log_softmax(z.astype(jnp.float32)).astype(dtype)
            log_t = jax.nn.log_softmax(jax.random.normal(k2, shape)).astype(dtype)
            return (log_q, log_t)
        if kind == "labels":
            return (
                jax.nn.one_hot(jax.random.randint(k2, shape[:1], 0, shape[1]), shape[1]).astype(
                    dtype
                ),
            )
        raise ValueError(kind)

    return make


def _ctc_inputs(shape, dtype, key):
    b, t, k, n = 16, 128, 512, 32
    k1, k2 = jax.random.split(key)
    logits = jax.random.normal(k1, (b, t, k)).astype(dtype)
    labels = jax.random.randint(k2, (b, n), 1, k)
    return (logits, jnp.zeros((b, t)), labels, jnp.zeros((b, n)))


def _ntxent_inputs(shape, dtype, key):
    n, d = 512, 128
    e = jax.random.normal(key, (n, d)).astype(dtype)
    return (e, jnp.arange(n) // 2)


FY_OURS = xl.make_fenchel_young_loss(logsumexp)
FY_OPTAX = optax.losses.make_fenchel_young_loss(logsumexp)

# name: (ours, optax, input builder, applies to the [N, K] shapes, softmax family)
CASES: dict[str, tuple[Callable, Callable, Callable, bool, bool]] = {
    "softmax_cross_entropy_with_integer_labels": (
        xl.softmax_cross_entropy_with_integer_labels,
        optax.losses.softmax_cross_entropy_with_integer_labels,
        _nk_inputs("int"),
        True,
        True,
    ),
    "softmax_cross_entropy": (
        xl.softmax_cross_entropy,
        optax.losses.softmax_cross_entropy,
        _nk_inputs("soft"),
        True,
        True,
    ),
    "safe_softmax_cross_entropy": (
        xl.safe_softmax_cross_entropy,
        optax.losses.safe_softmax_cross_entropy,
        _nk_inputs("soft"),
        True,
        True,
    ),
    "poly_loss_cross_entropy": (
        xl.poly_loss_cross_entropy,
        optax.losses.poly_loss_cross_entropy,
        _nk_inputs("soft"),
        True,
        True,
    ),
    "sigmoid_binary_cross_entropy": (
        xl.sigmoid_binary_cross_entropy,
        optax.losses.sigmoid_binary_cross_entropy,
        _nk_inputs("binary"),
        True,
        False,
    ),
    "sigmoid_focal_loss": (
        xl.sigmoid_focal_loss,
        optax.losses.sigmoid_focal_loss,
        _nk_inputs("hard"),
        True,
        False,
    ),
    "kl_divergence": (xl.kl_divergence, optax.losses.kl_divergence, _nk_inputs("log"), True, False),
    "kl_divergence_with_log_targets": (
        xl.kl_divergence_with_log_targets,
        optax.losses.kl_divergence_with_log_targets,
        _nk_inputs("loglog"),
        True,
        False,
    ),
    "generalized_kl_divergence": (
        xl.generalized_kl_divergence,
        optax.losses.generalized_kl_divergence,
        _nk_inputs("log"),
        True,
        False,
    ),
    "convex_kl_divergence": (
        xl.convex_kl_divergence,
        optax.losses.convex_kl_divergence,
        _nk_inputs("log"),
        True,
        False,
    ),
    "smooth_labels": (
        lambda y: xl.smooth_labels(y, 0.1),
        lambda y: optax.losses.smooth_labels(y, 0.1),
        _nk_inputs("labels"),
        True,
        False,
    ),
    "sparsemax_loss": (
        xl.sparsemax_loss,
        optax.losses.sparsemax_loss,
        _nk_inputs("hard"),
        True,
        False,
    ),
    "multiclass_sparsemax_loss": (
        xl.multiclass_sparsemax_loss,
        optax.losses.multiclass_sparsemax_loss,
        _nk_inputs("int"),
        True,
        False,
    ),
    "make_fenchel_young_loss(logsumexp)": (FY_OURS, FY_OPTAX, _nk_inputs("soft"), True, False),
    "ranking_softmax_loss": (
        xl.ranking_softmax_loss,
        optax.losses.ranking_softmax_loss,
        _nk_inputs("soft"),
        True,
        False,
    ),
    "ctc_loss": (xl.ctc_loss, optax.losses.ctc_loss, _ctc_inputs, False, False),
    "ctc_loss_with_forward_probs": (
        lambda *a: xl.ctc_loss_with_forward_probs(*a)[0],
        lambda *a: optax.losses.ctc_loss_with_forward_probs(*a)[0],
        _ctc_inputs,
        False,
        False,
    ),
    "ntxent": (xl.ntxent, optax.losses.ntxent, _ntxent_inputs, False, False),
}


def _grad_of_sum(fn):
    return jax.grad(lambda x, *rest: jnp.sum(fn(x, *rest).astype(jnp.float32)))


def contenders(name: str) -> dict[str, Callable]:
    ours, theirs, _, _, softmax = CASES[name]
    fns = {
        "fwd/optax": jax.jit(theirs),
        "fwd/ours": jax.jit(ours),
        "f+b/optax": jax.jit(_grad_of_sum(theirs)),
        "f+b/ours": jax.jit(_grad_of_sum(ours)),
    }
    if softmax:
        fns["fwd/lse"] = jax.jit(lambda z, *rest: jax.nn.logsumexp(z, axis=-1))
    return fns


def time_group(
    fns: dict[str, Callable], args, rounds: int, seed: int, failed: dict[str, str]
) -> dict[str, list[float]]:
    """Seconds per call of each contender, one entry per interleaved round.

    A contender that raises (optax's ``multiclass_sparsemax_loss`` gradient does for bf16) is
    dropped and its error recorded in ``failed``.
    """
    for name, fn in list(fns.items()):  # compile and warm up
        try:
            jax.block_until_ready(fn(*args))
            jax.block_until_ready(fn(*args))
        except Exception as err:  # noqa: BLE001 - reported in the table
            failed[name] = f"{type(err).__name__}"
            del fns[name]
    times: dict[str, list[float]] = {k: [] for k in fns}
    order = list(fns)
    rng = np.random.default_rng(seed)
    for _ in range(rounds):
        rng.shuffle(order)
        for k in order:
            start = time.perf_counter()
            jax.block_until_ready(fns[k](*args))
            times[k].append(time.perf_counter() - start)
    return times


def paired_ratio(num: list[float], den: list[float]) -> tuple[float, float, float]:
    """Median and quartiles of the per-round ratios ``num[r] / den[r]``."""
    ratios = sorted(a / b for a, b in zip(num, den, strict=True))
    q1, med, q3 = np.quantile(ratios, [0.25, 0.5, 0.75])
    return float(med), float(q1), float(q3)


def _cell(t, num, den, failed) -> tuple[str, float | None]:
    if num in failed or den in failed:
        who = "ours" if num in failed else "optax"
        return f"{who} fails: {failed.get(num) or failed.get(den)}", None
    med, q1, q3 = paired_ratio(t[num], t[den])
    return f"{med:.3f} [{q1:.2f}, {q3:.2f}]", med


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--shapes", nargs="*", default=["2048x32000", "8192x1024"])
    parser.add_argument("--dtypes", nargs="*", default=["float32", "bfloat16"])
    parser.add_argument("--only", nargs="*", default=None, help="function names to run")
    args = parser.parse_args(argv)
    names = list(CASES) if not args.only else [n for n in CASES if n in args.only]
    load_start = os.getloadavg()
    print(
        f"jax {jax.__version__}, optax {optax.__version__}, device {jax.devices()[0]}, "
        f"{os.cpu_count()} CPUs, load average at start {load_start[0]:.2f} "
        f"(5 min {load_start[1]:.2f}), {args.rounds} interleaved rounds per group"
    )
    header = (
        f"{'function':<42} {'shape':>11} {'dtype':>8} {'ours fwd ms':>11} {'ours f+b ms':>11}  "
        f"{'fwd ours/optax':>20} {'f+b ours/optax':>20} {'fwd ours/lse':>20}"
    )
    print(header)
    print("-" * len(header))
    misses = []
    seed = 0
    for name in names:
        _, _, make, nk, softmax = CASES[name]
        shapes = args.shapes if nk else ["own"]
        if name == "multiclass_sparsemax_loss":
            shapes = [sh for sh in shapes if sh != "2048x32000"]
        for shape_text in shapes:
            shape = tuple(int(v) for v in shape_text.split("x")) if nk else None
            for dtype_name in args.dtypes:
                dtype = jnp.dtype(dtype_name)
                inputs = make(shape, dtype, jax.random.key(seed))
                seed += 1
                failed: dict[str, str] = {}
                t = time_group(contenders(name), inputs, args.rounds, seed, failed)
                fwd, fwd_med = _cell(t, "fwd/ours", "fwd/optax", failed)
                fb, fb_med = _cell(t, "f+b/ours", "f+b/optax", failed)
                lse, lse_med = _cell(t, "fwd/ours", "fwd/lse", failed) if softmax else ("", None)
                label = shape_text if nk else "see doc"
                print(
                    f"{name:<42} {label:>11} {dtype_name:>8} "
                    f"{1e3 * statistics.median(t['fwd/ours']):11.2f} "
                    f"{1e3 * statistics.median(t['f+b/ours']):11.2f}  "
                    f"{fwd:>20} {fb:>20} {lse:>20}",
                    flush=True,
                )
                for what, med, target in (
                    ("fwd ours/optax", fwd_med, 1.05),
                    ("f+b ours/optax", fb_med, 1.05),
                    ("fwd ours/lse", lse_med, 1.10),
                ):
                    if med is not None and med > target:
                        misses.append(f"{name} {label} {dtype_name} {what} {med:.3f} > {target}")
                del inputs
    load_end = os.getloadavg()
    print(
        f"load average at end {load_end[0]:.2f} (5 min {load_end[1]:.2f}, 15 min {load_end[2]:.2f})"
    )
    print(
        "targets: fwd ours/optax <= 1.05, f+b ours/optax <= 1.05, softmax CEs fwd ours/lse <= 1.1"
    )
    print("over target (median of paired ratios):" if misses else "over target: none")
    for miss in misses:
        print("  " + miss)


if __name__ == "__main__":
    main()
