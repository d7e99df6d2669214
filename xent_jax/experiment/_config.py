"""Configs as Python: ``get_config(size)`` returns an ``ml_collections.ConfigDict``; overrides.

A study's config lives in ``experiments/configs/NAME.py`` with a ``get_config(size)`` function
(``size`` is ``"full"``, ``"quick"`` or ``"tiny"``). Overrides ``KEY=VALUE`` (from
``--config.KEY=VALUE`` on the command line) are applied before anything runs: an unknown key is
refused with the nearest existing key, and a value must have the type of the value it replaces.
"""

from __future__ import annotations

import ast
import difflib
import hashlib
import importlib.util
import json
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import ml_collections

__all__ = [
    "SIZES",
    "ConfigError",
    "apply_overrides",
    "config_hash",
    "config_to_dict",
    "load_config",
]

SIZES = ("full", "quick", "tiny")


class ConfigError(ValueError):
    """A config that cannot be loaded, or an override that does not fit it."""


def _module_from_path(path: Path, prefix: str):
    spec = importlib.util.spec_from_file_location(f"{prefix}.{path.stem}", path)
    if spec is None or spec.loader is None:
        raise ConfigError(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def load_config(path: str | Path, size: str = "full") -> ml_collections.ConfigDict:
    """Imports ``path`` and returns ``get_config(size)`` as a ``ConfigDict``.

    Args:
      path: a ``configs/NAME.py`` file defining ``get_config(size)``.
      size: ``"full"``, ``"quick"`` or ``"tiny"``.

    Returns:
      the config (a plain dict returned by ``get_config`` is converted).

    Raises:
      ConfigError: for a missing file, a file without ``get_config``, or an unknown size.
    """
    if size not in SIZES:
        raise ConfigError(f"size must be one of {SIZES}, got {size!r}")
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file {path} does not exist")
    module = _module_from_path(path, "xent_configs")
    get_config = getattr(module, "get_config", None)
    if not callable(get_config):
        raise ConfigError(f"config file {path} must define get_config(size)")
    cfg = get_config(size)
    if isinstance(cfg, Mapping) and not isinstance(cfg, ml_collections.ConfigDict):
        cfg = ml_collections.ConfigDict(dict(cfg))
    if not isinstance(cfg, ml_collections.ConfigDict):
        raise ConfigError(f"{path}: get_config must return a ConfigDict, got {type(cfg).__name__}")
    return cfg


def _is_group(value: Any) -> bool:
    return isinstance(value, Mapping | ml_collections.ConfigDict)


def _flat_keys(cfg: Mapping, prefix: str = "") -> list[str]:
    out = []
    for k, v in cfg.items():
        name = f"{prefix}{k}"
        out.append(name)
        if _is_group(v):
            out.extend(_flat_keys(v, name + "."))
    return out


def _parse_value(text: str) -> Any:
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text  # a bare word: a string


def _coerce(key: str, old: Any, new: Any) -> Any:
    """``new`` converted to the type of ``old``, or a ConfigError naming key and types."""
    if old is None or new is None:
        return new
    if isinstance(old, bool):
        if isinstance(new, bool):
            return new
        if isinstance(new, str) and new.lower() in ("true", "false"):
            return new.lower() == "true"
    elif isinstance(old, int):
        if isinstance(new, int) and not isinstance(new, bool):
            return new
    elif isinstance(old, float):
        if isinstance(new, int | float) and not isinstance(new, bool):
            return float(new)
    elif isinstance(old, str):
        return str(new) if not isinstance(new, bool | list | tuple | dict) else _bad(key, old, new)
    elif isinstance(old, tuple | list):
        if isinstance(new, tuple | list):
            return type(old)(new)
        if isinstance(new, int | float | str) and not isinstance(new, bool):
            return type(old)([new])  # a single value for a one-element sequence
    elif _is_group(old):
        pass
    else:
        return new if isinstance(new, type(old)) else _bad(key, old, new)
    return _bad(key, old, new)


def _bad(key: str, old: Any, new: Any):
    raise ConfigError(
        f"override {key}={new!r}: expected a value of type {type(old).__name__} "
        f"(like the default {old!r}), got {type(new).__name__}"
    )


def apply_overrides(
    config: ml_collections.ConfigDict, overrides: Iterable[str] | Mapping[str, Any]
) -> ml_collections.ConfigDict:
    """Returns a copy of ``config`` with ``KEY=VALUE`` overrides applied and checked.

    Values are Python literals (``3``, ``1e-3``, ``(16, 32)``, ``'digits'``, ``True``); a bare word
    is a string. Nested keys use dots (``model.width=64``).

    Args:
      config: the study's config.
      overrides: ``["steps=10", ...]`` or a mapping ``{"steps": 10}``.

    Returns:
      the overridden copy (``config`` is left unchanged).

    Raises:
      ConfigError: for an unknown key (naming the nearest existing keys), a malformed
        ``KEY=VALUE`` or a value of another type than the default.

    Examples:
      >>> cfg = ml_collections.ConfigDict({"steps": 100, "learning_rate": 1e-3})
      >>> apply_overrides(cfg, ["steps=5", "learning_rate=0.1"]).steps
      5
      >>> apply_overrides(cfg, ["stesp=5"])
      Traceback (most recent call last):
      ...
      xent_jax.experiment._config.ConfigError: unknown config key 'stesp' (did you mean 'steps'?)
    """
    items: list[tuple[str, Any]] = []
    if isinstance(overrides, Mapping):
        items = [(str(k), v) for k, v in overrides.items()]
    else:
        for text in overrides:
            if "=" not in text:
                raise ConfigError(f"override {text!r} must look like KEY=VALUE")
            k, v = text.split("=", 1)
            items.append((k.strip(), _parse_value(v.strip())))
    cfg = ml_collections.ConfigDict(config.to_dict())
    known = _flat_keys(cfg)
    for key, value in items:
        if key not in known:
            near = difflib.get_close_matches(key, known, n=3, cutoff=0.5)
            hint = f" (did you mean {' or '.join(repr(n) for n in near)}?)" if near else ""
            raise ConfigError(f"unknown config key {key!r}{hint}")
        *parents, leaf = key.split(".")
        node = cfg
        for p in parents:
            node = node[p]
        old = node[leaf]
        if _is_group(old):
            raise ConfigError(f"override {key}: {key} is a group of keys; set its members")
        new = _coerce(key, old, value)
        try:
            node[leaf] = new
        except TypeError:  # ConfigDict's own type lock (e.g. None defaults)
            with node.unlocked():
                node[leaf] = new
    return cfg


def config_to_dict(config: ml_collections.ConfigDict | Mapping) -> dict[str, Any]:
    """A JSON-ready nested dict of ``config`` (tuples become lists)."""
    raw = config.to_dict() if isinstance(config, ml_collections.ConfigDict) else dict(config)
    return json.loads(json.dumps(raw, default=str))


def config_hash(config: ml_collections.ConfigDict | Mapping, *parts: Any) -> str:
    """A short stable hash of the resolved config (and ``parts``, e.g. the seed).

    Examples:
      >>> a = ml_collections.ConfigDict({"steps": 1})
      >>> config_hash(a, 0) == config_hash(a, 0) != config_hash(a, 1)
      True
    """
    blob = json.dumps([config_to_dict(config), [str(p) for p in parts]], sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:12]
