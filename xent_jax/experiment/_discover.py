"""Finding the experiment scripts: ``experiments/NAME.py`` with ``NAME``/``DESCRIPTION``/``ORDER``.

A script is registered by module-level constants, read without importing it::

    NAME = "rotation"             # used by `xent-jax run NAME`
    DESCRIPTION = "one line"      # shown by `xent-jax list` and in REPORT.md
    ORDER = 30                    # position in `xent-jax run all`
    CONFIG = "rotation_pretext"   # optional: configs/<CONFIG>.py (default: the script's stem)

and defines ``run(run: Run) -> dict`` (one seed), ``headline(summary: Summary) -> str``, and
optionally ``summarize(summary: Summary) -> None`` (figures and report lines over all seeds) and
``run_seeds(runs: list[Run]) -> list[dict]`` (all seeds at once, e.g. as a vmapped batch axis).
"""

from __future__ import annotations

import dataclasses
import os
import re
from pathlib import Path
from types import ModuleType

from xent_jax.experiment._config import _module_from_path

__all__ = ["Experiment", "ExperimentsNotFound", "discover", "experiments_dir"]

_CONST = re.compile(r'^(NAME|DESCRIPTION|ORDER|CONFIG)\s*=\s*(?:"([^"]*)"|(\d+))\s*$', re.MULTILINE)
_REPO_EXPERIMENTS = Path(__file__).resolve().parents[2] / "experiments"


class ExperimentsNotFound(FileNotFoundError):
    """No folder of experiment scripts was found."""


def experiments_dir(directory: str | Path | None = None) -> Path:
    """The experiments folder: ``directory``, else ``$XENT_EXPERIMENTS``, else the checkout's.

    Raises:
      ExperimentsNotFound: outside a checkout with neither given, saying how to point at one.
    """
    if directory is None:
        env = os.environ.get("XENT_EXPERIMENTS")
        directory = Path(env) if env else _REPO_EXPERIMENTS
        given = "XENT_EXPERIMENTS" if env else None
    else:
        directory, given = Path(directory), "--experiments"
    directory = directory.expanduser().resolve()
    if not directory.is_dir():
        where = (
            f"{given} points at {directory}, which is not a folder"
            if given
            else (
                "xent-jax is installed outside a checkout, so there is no experiments/ folder "
                "beside it"
            )
        )
        raise ExperimentsNotFound(
            f"{where}. The experiment scripts live in the experiments/ folder of a xent_jax "
            "checkout (git clone the repository); run `xent-jax run NAME --experiments "
            "PATH/TO/xent_jax/experiments` or set XENT_EXPERIMENTS to that folder."
        )
    return directory


@dataclasses.dataclass(frozen=True)
class Experiment:
    """A registered experiment script."""

    name: str
    description: str
    order: int
    path: Path
    config_name: str

    @property
    def config_path(self) -> Path:
        return self.path.parent / "configs" / f"{self.config_name}.py"

    def load(self) -> ModuleType:
        """Imports the script and checks that it defines ``run`` and ``headline``."""
        module = _module_from_path(self.path, "xent_experiments")
        for attr in ("run", "headline"):
            if not callable(getattr(module, attr, None)):
                raise TypeError(f"experiment script {self.path} must define a function {attr}()")
        return module


def discover(directory: str | Path | None = None) -> dict[str, Experiment]:
    """Finds the registered experiment scripts, sorted by ORDER then name.

    Raises:
      ExperimentsNotFound: see :func:`experiments_dir`.
      ValueError: when two scripts register the same name.
    """
    directory = experiments_dir(directory)
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
            config_name=consts.get("CONFIG", path.stem),
        )
        if exp.name in found:
            raise ValueError(
                f"experiment name {exp.name!r} is used by {found[exp.name].path} and {path}"
            )
        found[exp.name] = exp
    return dict(sorted(found.items(), key=lambda kv: (kv[1].order, kv[0])))
