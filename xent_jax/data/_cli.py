"""``xent-jax data list | check [NAME ...] | fetch NAME ... | --all [--mirror URL]``.

NAME is a data set (``mnist``, ``micrographs``, ...; see ``xent-jax data list``) or one file of the
registry (``mnist/t10k-labels-idx1-ubyte.gz``; ``xent-jax data list --files``).
"""

from __future__ import annotations

import argparse
from collections import Counter

from xent_jax.data._registry import fetch_dir, load_registry, locate, search_dirs

__all__ = ["add_data_parser", "run_data"]


def add_data_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Adds the ``data`` command (``list``, ``check``, ``fetch``) to the ``xent-jax`` parser."""
    data = subparsers.add_parser(
        "data",
        help="the data registry: list, check, fetch",
        description="Data files of the studies: where they come from, whether they are present "
        "and intact, and fetching them ($XENT_DATA, else ~/.cache/xent-jax).",
    )
    sub = data.add_subparsers(dest="data_command", required=True)
    list_p = sub.add_parser("list", help="data sets (or files): size, where present, licence")
    list_p.add_argument("--files", action="store_true", help="one row per file")
    check_p = sub.add_parser("check", help="verify size and sha256 (default: every file)")
    check_p.add_argument("names", nargs="*", metavar="NAME", help="data sets or files")
    fetch_p = sub.add_parser("fetch", help="download into $XENT_DATA, else the user cache")
    fetch_p.add_argument("names", nargs="*", metavar="NAME", help="data sets or files")
    fetch_p.add_argument("--all", action="store_true", help="every file of the registry")
    fetch_p.add_argument(
        "--mirror", metavar="URL", help="base URL (or folder) of a copy of a data folder"
    )
    fetch_p.add_argument("--no-progress", action="store_true", help="hide progress bars")
    return data


def _size(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    raise AssertionError


def _table(rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows
    )


def _list(args: argparse.Namespace) -> int:
    reg = load_registry()
    rows = [["name", "size", "present", "licence"]]
    if args.files:
        for f in reg.files:
            found = locate(f)
            rows.append([f.name, _size(f.size), found[0] if found else "-", f.licence])
    else:
        for name, ds in reg.datasets.items():
            files = reg.dataset_files(name)
            where = Counter(found[0] if (found := locate(f)) else "missing" for f in files)
            n = len(files)
            if where.get("missing") == n:
                present = f"- (0/{n})"
            else:
                present = ", ".join(f"{k} {v}/{n}" for k, v in where.items() if k != "missing")
            rows.append([name, _size(sum(f.size for f in files)), present, ds.licence])
    print(_table(rows))
    folders = ", ".join(f"{label}={path}" for label, path in search_dirs())
    print(f"\nsearched: {folders}; fetch writes to {fetch_dir()}")
    return 0


def _check(args: argparse.Namespace) -> int:
    from xent_jax.data._fetch import check

    reg = load_registry()
    files = reg.select(args.names) if args.names else list(reg.files)
    results = check(files)
    bad = [r for r in results if r.status != "ok"]
    for r in bad:
        where = f" ({r.path})" if r.path else ""
        print(f"{r.status.upper()}  {r.entry.name}{where}: {r.detail}")
    ok = Counter(r.where for r in results if r.status == "ok")
    places = ", ".join(f"{k} {v}" for k, v in ok.items()) or "none"
    print(f"{len(results) - len(bad)} of {len(results)} files ok (size and sha256; {places})")
    if bad:
        names = sorted({r.entry.dataset for r in bad})
        print(f"fix with: xent-jax data fetch {' '.join(names)}")
        return 1
    return 0


def _fetch(args: argparse.Namespace) -> int:
    from xent_jax.data._fetch import fetch

    reg = load_registry()
    if args.all and args.names:
        raise ValueError("data fetch: give NAME ... or --all, not both")
    if not args.all and not args.names:
        raise ValueError(
            f"data fetch: name data sets or files, or --all; data sets: {', '.join(reg.datasets)}"
        )
    files = list(reg.files) if args.all else reg.select(args.names)
    dest = fetch_dir()
    n = f"{len(files)} file{'s' if len(files) != 1 else ''}"
    print(f"fetching {n} into {dest}" + (f" from {args.mirror}" if args.mirror else ""))
    fetch(files, dest, mirror=args.mirror, registry=reg, progress=not args.no_progress)
    print(f"done: {n} verified in {dest}")
    return 0


def run_data(args: argparse.Namespace) -> int:
    """Runs ``xent-jax data ...``; returns the exit code (1 when ``check`` finds a bad file)."""
    commands = {"list": _list, "check": _check, "fetch": _fetch}
    return commands[args.data_command](args)
