"""The ``xent-jax`` command line.

``xent-jax list``; ``xent-jax run NAME|all [--quick] [--config.KEY=VALUE ...] [--seeds K]
[--seed S] [--out DIR] [--experiments DIR] [--tensorboard] [--profile FIRST:LAST]``;
``xent-jax data ...`` (the data registry). Every user error (unknown study or key, bad value,
missing data, a locked or unusable output folder) is one line on stderr and exit code 2;
``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

__all__ = ["main"]


def _profile_window(text: str) -> tuple[int, int]:
    try:
        first, last = (int(v) for v in text.split(":"))
    except ValueError:
        msg = f"--profile must be FIRST:LAST steps, got {text!r}"
        raise argparse.ArgumentTypeError(msg) from None
    if not 0 <= first < last:
        raise argparse.ArgumentTypeError(f"--profile needs 0 <= FIRST < LAST, got {text!r}")
    return first, last


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive int, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive int, got {text!r}")
    return value


def _non_negative(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a non-negative int, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a non-negative int, got {text!r}")
    return value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="xent-jax", description="xent_jax studies and data (see `xent-jax run --help`)."
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks for errors")
    sub = parser.add_subparsers(dest="command", required=True)
    list_p = sub.add_parser("list", help="list the experiments")
    list_p.add_argument("--experiments", type=Path, help="folder of experiment scripts")
    run_p = sub.add_parser(
        "run",
        help="run an experiment, or 'all'",
        description="Run a study. Config overrides: --config.KEY=VALUE (Python literals).",
    )
    run_p.add_argument("name", help="experiment name (see `xent-jax list`) or 'all'")
    run_p.add_argument("--quick", action="store_true", help="CPU smoke size (minutes)")
    run_p.add_argument("--tiny", action="store_true", help=argparse.SUPPRESS)
    run_p.add_argument("--out", type=Path, default=Path("results"), help="output folder")
    run_p.add_argument("--seeds", type=_positive, help="training seeds (default: the config's)")
    run_p.add_argument("--seed", type=_non_negative, default=0, help="first seed (default 0)")
    run_p.add_argument("--experiments", type=Path, help="folder of experiment scripts")
    run_p.add_argument("--tensorboard", action="store_true", help="TensorBoard scalars")
    run_p.add_argument(
        "--profile", type=_profile_window, metavar="FIRST:LAST", help="jax.profiler trace window"
    )
    run_p.add_argument("--no-progress", action="store_true", help="hide progress bars")
    run_p.add_argument(
        "--distributed", action="store_true", help="call jax.distributed.initialize() first"
    )
    try:
        from xent_jax.data._cli import add_data_parser
    except ImportError:  # the data registry is optional at import time
        pass
    else:
        add_data_parser(sub)
    return parser


def _split_overrides(argv: list[str]) -> tuple[list[str], list[str]]:
    """Takes ``--config.KEY=VALUE`` (or ``--config.KEY VALUE``) out of ``argv``."""
    rest, overrides, i = [], [], 0
    while i < len(argv):
        arg = argv[i]
        if arg.startswith("--config."):
            body = arg[len("--config.") :]
            if "=" not in body:
                if i + 1 >= len(argv):
                    raise ValueError(f"{arg} needs a value: {arg}=VALUE")
                body = f"{body}={argv[i + 1]}"
                i += 1
            overrides.append(body)
        else:
            rest.append(arg)
        i += 1
    return rest, overrides


def _run(args: argparse.Namespace, overrides: list[str]) -> int:
    from xent_jax.experiment import discover, prepare_config, run_all, run_study

    if args.distributed:
        import jax

        jax.distributed.initialize()
    experiments = discover(args.experiments)
    size = "tiny" if args.tiny else "quick" if args.quick else "full"
    if args.out.exists() and not args.out.is_dir():
        raise ValueError(f"--out {args.out} exists and is not a folder")
    if args.name == "all":
        selected = list(experiments.values())
    elif args.name in experiments:
        selected = [experiments[args.name]]
    else:
        known = ", ".join(experiments) or "(none found)"
        raise ValueError(f"unknown experiment {args.name!r}; known: {known}, or 'all'")
    for exp in selected:  # every override is checked against every config before anything runs
        prepare_config(exp, size=size, overrides=overrides)
    options = {"tensorboard": args.tensorboard, "profile": args.profile}
    common = dict(
        size=size, overrides=overrides, seeds=args.seeds, first_seed=args.seed,
        progress=not args.no_progress, fit_options=options,
    )  # fmt: skip
    if args.name != "all":
        metrics = run_study(selected[0], args.out, **common)
        print(f"-> {metrics['headline']}  ({metrics['wall_seconds']:.1f} s, "
              f"{args.out / selected[0].name})")  # fmt: skip
        return 0
    outcomes = run_all(selected, args.out, **common)
    print(f"summary: {args.out / 'REPORT.md'}")
    failed = [o.experiment.name for o in outcomes if o.status == "failed"]
    skipped = [o.experiment.name for o in outcomes if o.status == "skipped"]
    if skipped:
        print(f"skipped (data not present): {', '.join(skipped)}")
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``xent-jax``; returns the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    parser = _parser()
    try:
        rest, overrides = _split_overrides(argv)
        args = parser.parse_args(rest)
        if overrides and args.command != "run":
            raise ValueError("--config.KEY=VALUE overrides only apply to `xent-jax run`")
        if args.command == "list":
            from xent_jax.experiment import discover

            experiments = discover(args.experiments)
            width = max((len(n) for n in experiments), default=4)
            for name, exp in experiments.items():
                print(f"{name:<{width}}  {exp.description}")
            return 0
        if args.command == "run":
            return _run(args, overrides)
        if args.command == "data":
            from xent_jax.data._cli import run_data

            return run_data(args)
        parser.error(f"unknown command {args.command!r}")
    except KeyboardInterrupt:
        print("xent-jax: interrupted", file=sys.stderr)
        return 130
    except (ValueError, TypeError, OSError, RuntimeError, ImportError) as e:
        if debug:
            raise
        print(f"xent-jax: error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
