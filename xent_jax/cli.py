"""The ``xent-jax`` command line: ``xent-jax list`` and ``xent-jax run NAME [--quick] [--out DIR]``.

Experiments live as scripts in ``experiments/`` (one file per study). A script is registered by
module-level constants, read without importing it::

    NAME = "rotation"             # the name used by `xent-jax run NAME`
    DESCRIPTION = "one line"      # shown by `xent-jax list` and in REPORT.md
    ORDER = 30                    # position in `xent-jax run all`

and exposes ``run(out_dir: pathlib.Path, *, size: str = "full", seed: int = 0) -> dict`` returning
JSON-serialisable metrics (``size`` is ``"full"``, ``"quick"`` or ``"tiny"``; tiny is for tests) and
``headline(metrics: dict) -> str``, one line for the summary table. The command writes
``OUT/NAME/metrics.json``; the script writes its own plots into ``out_dir``.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import json
import re
import sys
import time
import traceback
from pathlib import Path
from types import ModuleType

from xent_jax._paths import experiments_dir

_CONST = re.compile(r'^(NAME|DESCRIPTION|ORDER)\s*=\s*(?:"([^"]*)"|(\d+))\s*$', re.MULTILINE)


@dataclasses.dataclass(frozen=True)
class Experiment:
    name: str
    description: str
    order: int
    path: Path

    def load(self) -> ModuleType:
        spec = importlib.util.spec_from_file_location(
            f"xent_experiments.{self.path.stem}", self.path
        )
        if spec is None or spec.loader is None:
            raise ImportError(f"cannot load experiment script {self.path}")
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        spec.loader.exec_module(module)
        for attr in ("run", "headline"):
            if not callable(getattr(module, attr, None)):
                raise TypeError(f"experiment script {self.path} must define a function {attr}()")
        return module


def discover(directory: Path | None = None) -> dict[str, Experiment]:
    """Finds the registered experiment scripts, sorted by ORDER then name."""
    directory = directory or experiments_dir()
    found: dict[str, Experiment] = {}
    for path in sorted(directory.glob("*.py")):
        consts: dict[str, str] = {}
        for key, text, number in _CONST.findall(path.read_text(encoding="utf-8")):
            consts.setdefault(key, text if text else number)
        if "NAME" not in consts:
            continue
        exp = Experiment(
            name=consts["NAME"],
            description=consts.get("DESCRIPTION", ""),
            order=int(consts.get("ORDER", 100)),
            path=path,
        )
        if exp.name in found:
            raise ValueError(
                f"experiment name {exp.name!r} is used by {found[exp.name].path} and {path}"
            )
        found[exp.name] = exp
    return dict(sorted(found.items(), key=lambda kv: (kv[1].order, kv[0])))


def run_experiment(exp: Experiment, out: Path, *, size: str = "full", seed: int = 0) -> dict:
    """Runs one experiment, writes ``out/NAME/metrics.json`` and returns the metrics."""
    if size not in ("full", "quick", "tiny"):
        raise ValueError(f"size must be 'full', 'quick' or 'tiny', got {size!r}")
    module = exp.load()
    out_dir = out / exp.name
    out_dir.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    metrics = module.run(out_dir, size=size, seed=seed)
    if not isinstance(metrics, dict):
        raise TypeError(f"{exp.path.name}: run() must return a dict, got {type(metrics).__name__}")
    metrics = dict(metrics)
    metrics.setdefault("experiment", exp.name)
    metrics.setdefault("size", size)
    metrics["wall_seconds"] = round(time.perf_counter() - start, 2)
    metrics["headline"] = str(module.headline(metrics))
    (out_dir / "metrics.json").write_text(json.dumps(metrics, indent=2, default=_jsonable) + "\n")
    return metrics


def _jsonable(obj):
    try:
        import numpy as np

        if isinstance(obj, np.generic):
            return obj.item()
        if isinstance(obj, np.ndarray):
            return obj.tolist()
    except ImportError:  # pragma: no cover
        pass
    if hasattr(obj, "tolist"):
        return obj.tolist()
    return str(obj)


def write_report(out: Path, rows: list[tuple[Experiment, dict | None, str]]) -> Path:
    """Writes ``out/REPORT.md``: one summary table over the experiments that ran."""
    lines = [
        "# xent_jax report",
        "",
        "| experiment | what it shows | headline | seconds |",
        "|---|---|---|---|",
    ]
    for exp, metrics, headline in rows:
        secs = f"{metrics['wall_seconds']:.1f}" if metrics else "-"
        cells = [f"`{exp.name}`", exp.description, headline, secs]
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    path = out / "REPORT.md"
    path.write_text("\n".join(lines) + "\n")
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="xent-jax", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="list the experiments")
    run_p = sub.add_parser("run", help="run an experiment, or 'all'")
    run_p.add_argument("name", help="experiment name (see `xent-jax list`) or 'all'")
    run_p.add_argument("--quick", action="store_true", help="CPU smoke size (about 2 minutes)")
    run_p.add_argument("--tiny", action="store_true", help=argparse.SUPPRESS)
    run_p.add_argument("--out", type=Path, default=Path("results"), help="output folder")
    run_p.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    experiments = discover()
    if args.command == "list":
        width = max((len(n) for n in experiments), default=4)
        for name, exp in experiments.items():
            print(f"{name:<{width}}  {exp.description}")
        return 0

    size = "tiny" if args.tiny else "quick" if args.quick else "full"
    if args.name == "all":
        selected = list(experiments.values())
    elif args.name in experiments:
        selected = [experiments[args.name]]
    else:
        known = ", ".join(experiments) or "(none found)"
        parser.error(f"unknown experiment {args.name!r}; known: {known}, or 'all'")
    args.out.mkdir(parents=True, exist_ok=True)
    rows = []
    failed = []
    for exp in selected:
        print(f"== {exp.name}: {exp.description} [{size}]", flush=True)
        try:
            metrics = run_experiment(exp, args.out, size=size, seed=args.seed)
            headline = metrics["headline"]
        except Exception:  # one failed study must not hide the others in `run all`
            traceback.print_exc()
            failed.append(exp.name)
            rows.append((exp, None, "FAILED (see log)"))
            continue
        print(
            f"-> {headline}  ({metrics['wall_seconds']:.1f} s, {args.out / exp.name})", flush=True
        )
        rows.append((exp, metrics, headline))
    if args.name == "all":
        print(f"summary: {write_report(args.out, rows)}")
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
