"""The data registry: every data file the studies read, where it comes from, and where it is found.

``registry.json`` (shipped with the package, built by ``python -m xent_jax.data._build_registry``
from ``../shared/data``, its ``SOURCES.md`` and ``README.md``) holds one entry per file: its path
below the data folder (the entry's name), size and sha256 *as the loaders read it*, the public
source pinned to a commit, licence and citation; for a file that is a conversion of an upstream
file, the upstream file's URL and sha256 and the conversion (code in :mod:`xent_jax.data._convert`).

Files are looked up, in this order, in ``$XENT_DATA``, in ``../shared/data`` beside the checkout and
in the user cache (``$XDG_CACHE_HOME/xent-jax``, else ``~/.cache/xent-jax``), which
``xent-jax data fetch`` fills when ``$XENT_DATA`` is not set. Nothing is ever downloaded implicitly:
a missing file raises :class:`MissingDataError`, naming the entry and the fetch command.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from xent_jax._paths import REPO_ROOT

__all__ = [
    "DataFile",
    "Dataset",
    "MissingDataError",
    "Registry",
    "find_file",
    "load_registry",
    "fetch_dir",
    "search_dirs",
    "sha256_file",
    "user_cache_dir",
]

REGISTRY_PATH = Path(__file__).with_name("registry.json")


@dataclasses.dataclass(frozen=True)
class Dataset:
    """A group of registry files from one source (the unit ``xent-jax data fetch`` takes).

    Attributes:
      name: short name, e.g. ``"mnist"``; also the top folder of its files.
      description: what it is, in one line.
      source: the public source, pinned (repository and commit).
      licence: the licence of the data as its source states it.
      citation: the reference to cite.
    """

    name: str
    description: str
    source: str
    licence: str
    citation: str


@dataclasses.dataclass(frozen=True)
class DataFile:
    """One registry entry: a file below the data folder, as the loaders read it.

    Attributes:
      name: the path below the data folder with ``/`` separators; unique in the registry.
      dataset: the :class:`Dataset` it belongs to.
      size: size in bytes of our file.
      sha256: sha256 (hex) of our file.
      url: the pinned public URL of the upstream file ("" for a file generated from others).
      upstream_sha256: sha256 of the upstream file at ``url`` (equal to ``sha256`` when identical).
      conversion: "" when our file is the upstream file byte for byte, else the name of the
        conversion in :data:`xent_jax.data._convert.CONVERSIONS` that makes it.
      note: how our file was made from the upstream one, in words.
      licence: the licence of this file (its data set's unless stated).
      citation: the reference to cite for this file (its data set's unless stated).
      extra: conversion details, e.g. the other upstream copies of a micrograph.
    """

    name: str
    dataset: str
    size: int
    sha256: str
    url: str
    upstream_sha256: str
    conversion: str = ""
    note: str = ""
    licence: str = ""
    citation: str = ""
    extra: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    @property
    def identical(self) -> bool:
        """Whether our file is the upstream file byte for byte."""
        return not self.conversion


class Registry:
    """The files and data sets of the registry, in registry order.

    Args:
      files: the entries; names must be unique and each dataset known.
      datasets: the data sets by name.

    Examples:
      >>> from xent_jax.data import load_registry
      >>> reg = load_registry()
      >>> [f.name for f in reg.select(["mnist"])]
      ['mnist/t10k-images-idx3-ubyte.gz', 'mnist/t10k-labels-idx1-ubyte.gz']
      >>> reg["mnist/t10k-labels-idx1-ubyte.gz"].size
      4542
    """

    def __init__(self, files: Iterable[DataFile], datasets: Mapping[str, Dataset]) -> None:
        self.files: tuple[DataFile, ...] = tuple(files)
        self.datasets: dict[str, Dataset] = dict(datasets)
        self._by_name: dict[str, DataFile] = {}
        for f in self.files:
            if f.name in self._by_name:
                raise ValueError(f"registry: duplicate entry {f.name!r}")
            if f.dataset not in self.datasets:
                raise ValueError(f"registry: entry {f.name!r} has unknown dataset {f.dataset!r}")
            self._by_name[f.name] = f

    def __len__(self) -> int:
        return len(self.files)

    def __contains__(self, name: object) -> bool:
        return name in self._by_name

    def __getitem__(self, name: str) -> DataFile:
        try:
            return self._by_name[name]
        except KeyError:
            raise KeyError(f"no registry entry {name!r}") from None

    def get(self, name: str) -> DataFile | None:
        """The entry named ``name``, or None."""
        return self._by_name.get(name)

    def dataset_files(self, dataset: str) -> tuple[DataFile, ...]:
        """The entries of one data set, in registry order."""
        return tuple(f for f in self.files if f.dataset == dataset)

    def select(self, names: Sequence[str]) -> list[DataFile]:
        """The entries named by ``names``: data set names or entry names, without repeats.

        Raises:
          ValueError: naming each unknown name and the known data sets.
        """
        if isinstance(names, str):
            raise TypeError(f"names must be a sequence of str, got the str {names!r}")
        chosen: dict[str, DataFile] = {}
        unknown = []
        for name in names:
            name = name.strip("/")
            if name in self.datasets:
                chosen.update((f.name, f) for f in self.dataset_files(name))
            elif name in self._by_name:
                chosen[name] = self._by_name[name]
            else:
                unknown.append(name)
        if unknown:
            raise ValueError(
                f"unknown data set or file {', '.join(map(repr, unknown))}; data sets: "
                f"{', '.join(self.datasets)} (files: `xent-jax data list --files`)"
            )
        return list(chosen.values())


def _registry_from_json(doc: Mapping[str, Any]) -> Registry:
    datasets = {d["name"]: Dataset(**d) for d in doc["datasets"]}
    files = []
    for entry in doc["files"]:
        ds = datasets[entry["dataset"]]
        entry = {"licence": ds.licence, "citation": ds.citation, **entry}
        files.append(DataFile(**entry))
    return Registry(files, datasets)


@functools.cache
def _load_default() -> Registry:
    return _registry_from_json(json.loads(REGISTRY_PATH.read_text(encoding="utf-8")))


def load_registry(path: str | os.PathLike | None = None) -> Registry:
    """Reads the registry (the packaged ``registry.json`` unless ``path`` names another).

    Args:
      path: a registry JSON file of the same format (tests pass a small one).

    Returns:
      The :class:`Registry`.
    """
    if path is None:
        return _load_default()
    return _registry_from_json(json.loads(Path(path).read_text(encoding="utf-8")))


def user_cache_dir() -> Path:
    """The user cache data folder: ``$XDG_CACHE_HOME/xent-jax``, else ``~/.cache/xent-jax``."""
    base = os.environ.get("XDG_CACHE_HOME")
    root = Path(base).expanduser() if base else Path.home() / ".cache"
    return root / "xent-jax"


def search_dirs() -> list[tuple[str, Path]]:
    """The folders searched for data files, in order, each with a short label.

    ``$XENT_DATA`` (when set and not empty), ``../shared/data`` beside the checkout, the user
    cache (:func:`user_cache_dir`).

    Examples:
      >>> [label for label, _ in search_dirs()][-2:]
      ['shared', 'cache']
    """
    dirs = []
    env = os.environ.get("XENT_DATA")
    if env:
        dirs.append(("XENT_DATA", Path(env).expanduser().resolve()))
    dirs.append(("shared", (REPO_ROOT.parent / "shared" / "data").resolve()))
    dirs.append(("cache", user_cache_dir()))
    return dirs


def fetch_dir() -> Path:
    """The folder ``xent-jax data fetch`` writes into: ``$XENT_DATA``, else the user cache."""
    env = os.environ.get("XENT_DATA")
    return Path(env).expanduser().resolve() if env else user_cache_dir()


def sha256_file(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    """The sha256 (hex) of a file, read in chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


class MissingDataError(FileNotFoundError):
    """A data file the code needs is in none of the searched folders.

    Attributes:
      names: the registry entries (paths below the data folder) that are missing.
      paths: the folders searched, in order.
      fetch_command: the command that fetches them, e.g. ``xent-jax data fetch mnist``.
    """

    def __init__(
        self,
        names: Sequence[str],
        paths: Sequence[Path],
        fetch_command: str,
        what: str = "",
        registered: bool = True,
        dataset: str = "",
    ) -> None:
        self.names = tuple(names)
        self.paths = tuple(Path(p) for p in paths)
        self.fetch_command = fetch_command
        self.what = what
        self.registered = registered
        self.dataset = dataset
        desc = f", {what}" if what else ""
        searched = ", ".join(str(p) for p in self.paths)
        files = ", ".join(self.names)
        if registered:
            entry = f" (registry entry {files}{f' of data set {dataset}' if dataset else ''}{desc})"
            how = f"fetch it with `{fetch_command}`"
        else:
            entry = f" ({what})" if what else ""
            how = "it is not in the data registry (xent_jax/data/registry.json)"
        message = (
            f"missing data file {files}{entry}; searched {searched}; {how}, or set XENT_DATA "
            "to a folder that holds it"
        )
        super().__init__(message)

    def __reduce__(self):
        args = (
            self.names, self.paths, self.fetch_command, self.what, self.registered, self.dataset
        )  # fmt: skip
        return (type(self), args)


def _fetch_command(datasets: Iterable[str]) -> str:
    return "xent-jax data fetch " + " ".join(dict.fromkeys(datasets))


def find_file(name: str, *, what: str = "", registry: Registry | None = None) -> Path:
    """The path of data file ``name`` in the first searched folder that holds it.

    Only the size is checked here (a stat); ``xent-jax data check`` verifies sha256s.

    Args:
      name: the path below the data folder, e.g. ``"mnist/t10k-labels-idx1-ubyte.gz"``.
      what: a short description for the error message.
      registry: the registry (default: the packaged one).

    Returns:
      The path of the file.

    Raises:
      MissingDataError: when no searched folder holds it; names the entry and the fetch command.
      ValueError: when the file found has another size than the registry's (truncated or altered).

    Examples:
      >>> try:
      ...     find_file("no/such-file.txt")
      ... except MissingDataError as e:
      ...     print(e.names, e.registered, isinstance(e, FileNotFoundError))
      ('no/such-file.txt',) False True
    """
    if not isinstance(name, str) or not name:
        raise TypeError(f"name must be a non-empty str path below the data folder, got {name!r}")
    reg = load_registry() if registry is None else registry
    dirs = [d for _, d in search_dirs()]
    entry = reg.get(name)
    for d in dirs:
        path = d / name
        if path.is_file():
            if entry is not None and (size := path.stat().st_size) != entry.size:
                raise ValueError(
                    f"data file {path} has {size} bytes, the registry entry {name} has "
                    f"{entry.size}: it is truncated or altered; see `xent-jax data check "
                    f"{name}` and re-fetch it with `{_fetch_command([entry.dataset])}`"
                )
            return path
    if entry is None:
        raise MissingDataError([name], dirs, "", what=what, registered=False)
    command = _fetch_command([entry.dataset])
    raise MissingDataError([name], dirs, command, what=what, dataset=entry.dataset)


def locate(entry: DataFile) -> tuple[str, Path] | None:
    """The first searched folder (label, path of the file) holding ``entry``, or None."""
    for label, d in search_dirs():
        path = d / entry.name
        if path.is_file():
            return label, path
    return None
