"""Where xent_jax finds the repository, its experiments and the shared data."""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]


def data_root() -> Path:
    """Returns the first data folder: ``$XENT_DATA`` if set, else ``../shared/data``.

    Loaders search more than this one folder (``$XENT_DATA``, ``../shared/data``, the user cache;
    see :func:`xent_jax.data.search_dirs`); use :func:`data_file` to find a file.
    """
    env = os.environ.get("XENT_DATA")
    if env:
        return Path(env).expanduser().resolve()
    return (REPO_ROOT.parent / "shared" / "data").resolve()


def data_file(*parts: str, what: str = "") -> Path:
    """Returns a data file, found through the data registry, or raises naming it.

    Searches ``$XENT_DATA``, then ``../shared/data`` beside the checkout, then the user cache
    (``~/.cache/xent-jax``, honouring ``XDG_CACHE_HOME``); nothing is downloaded.

    Args:
      *parts: path components below the data folder, e.g.
        ``("mnist", "t10k-images-idx3-ubyte.gz")``.
      what: a short description used in the error message.

    Raises:
      xent_jax.data.MissingDataError: (a ``FileNotFoundError``) when no folder holds the file; it
        names the registry entry, the folders searched and ``xent-jax data fetch NAME``.
      ValueError: when the file found has another size than its registry entry.
    """
    from xent_jax.data._registry import find_file

    return find_file("/".join(parts), what=what)


def experiments_dir() -> Path:
    """Returns the folder holding the experiment scripts (``$XENT_EXPERIMENTS`` overrides)."""
    env = os.environ.get("XENT_EXPERIMENTS")
    return Path(env).resolve() if env else REPO_ROOT / "experiments"
