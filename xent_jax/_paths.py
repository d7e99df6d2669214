"""Where xent_jax finds the repository, its experiments and the shared data."""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]


def data_root() -> Path:
    """Returns the shared data folder: ``$XENT_DATA`` if set, else ``../shared/data``."""
    env = os.environ.get("XENT_DATA")
    if env:
        return Path(env).expanduser().resolve()
    return (REPO_ROOT.parent / "shared" / "data").resolve()


def data_file(*parts: str, what: str = "") -> Path:
    """Returns a file under the shared data folder, or raises naming the missing file.

    Args:
      *parts: path components below the data root, e.g. ``("mnist", "t10k-images-idx3-ubyte.gz")``.
      what: a short description used in the error message.

    Raises:
      FileNotFoundError: when the file does not exist, naming the path and how to provide it.
    """
    path = data_root().joinpath(*parts)
    if not path.exists():
        desc = f" ({what})" if what else ""
        raise FileNotFoundError(
            f"xent_jax needs the data file {'/'.join(parts)}{desc}, expected at {path}. "
            "Put the shared data folder at ../shared/data beside the repository, or set the "
            "environment variable XENT_DATA to the folder that holds it."
        )
    return path


def experiments_dir() -> Path:
    """Returns the folder holding the experiment scripts (``$XENT_EXPERIMENTS`` overrides)."""
    env = os.environ.get("XENT_EXPERIMENTS")
    return Path(env).resolve() if env else REPO_ROOT / "experiments"
