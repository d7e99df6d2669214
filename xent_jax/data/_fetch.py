"""Fetching and checking registry files: resumable, verified, atomic downloads through pooch.

Only :func:`fetch` downloads, and only ``xent-jax data fetch`` calls it. A download goes to
``NAME.part`` beside its target (resumed with an HTTP ``Range`` request where the server supports
it, else restarted), is handed to pooch, which checks the sha256 and only then moves it to its
final name; a partial or corrupt download never appears under the final name. Without a mirror,
a file that is a conversion of an upstream file is made from the downloaded upstream file (its
sha256 checked) by :mod:`xent_jax.data._convert`, and the result checked against our sha256.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import tempfile
import urllib.parse
from collections.abc import Callable, Sequence
from pathlib import Path

from xent_jax.data._registry import (
    DataFile,
    Registry,
    fetch_dir,
    load_registry,
    search_dirs,
    sha256_file,
)

__all__ = ["CheckResult", "check", "fetch", "mirror_url"]

_CHUNK = 1 << 16
_UPSTREAM = ".upstream"  # upstream files awaiting conversion, below the destination folder


def mirror_url(mirror: str, entry: DataFile) -> str:
    """The URL of ``entry`` on a mirror serving our layout (``MIRROR/NAME``, percent-encoded).

    Examples:
      >>> e = load_registry()["mnist/t10k-labels-idx1-ubyte.gz"]
      >>> mirror_url("http://127.0.0.1:8000/data/", e)
      'http://127.0.0.1:8000/data/mnist/t10k-labels-idx1-ubyte.gz'
    """
    return mirror.rstrip("/") + "/" + urllib.parse.quote(entry.name)


class ResumableDownloader:
    """A pooch downloader that writes to a ``.part`` file and resumes it with HTTP ``Range``.

    pooch calls it with its own temporary file (beside the target); the bytes go to ``part``
    first, so an interrupted download is resumed by the next call, and only a complete one is
    moved to pooch's temporary file (pooch then checks the hash and renames it).

    Args:
      part: the partial-download file.
      size: the expected size in bytes, or None when unknown.
      progress: show a tqdm bar.
      desc: the bar's label.
      timeout: seconds to wait for the server (connect and each read).
    """

    def __init__(
        self,
        part: Path,
        *,
        size: int | None = None,
        progress: bool = True,
        desc: str = "",
        timeout: float = 60.0,
    ) -> None:
        self.part, self.size, self.progress, self.desc, self.timeout = (
            Path(part), size, progress, desc, timeout
        )  # fmt: skip

    def __call__(self, url: str, output_file: str, pooch_obj: object = None) -> None:
        part = self.part
        have = part.stat().st_size if part.exists() else 0
        if self.size is not None and have > self.size:
            part.unlink()
            have = 0
        if self.size is None or have != self.size:
            self._get(url, have)
        os.replace(part, output_file)

    def _get(self, url: str, have: int) -> None:
        import requests
        from tqdm.auto import tqdm

        headers = {"Accept-Encoding": "identity"}  # byte offsets of the file, not of a gzip stream
        if have:
            headers["Range"] = f"bytes={have}-"
        try:
            with requests.get(url, headers=headers, stream=True, timeout=self.timeout) as resp:
                if have and resp.status_code == 416:  # nothing left to send: the part is stale
                    self.part.unlink()
                    return self._get(url, 0)
                resumed = (
                    have > 0
                    and resp.status_code == 206
                    and resp.headers.get("Content-Range", "").startswith(f"bytes {have}-")
                )
                if not resumed:
                    resp.raise_for_status()
                    have = 0
                length = resp.headers.get("Content-Length")
                total = have + int(length) if length is not None else self.size
                with (
                    self.part.open("ab" if resumed else "wb") as fh,
                    tqdm(
                        total=total, initial=have, unit="B", unit_scale=True, leave=False,
                        desc=self.desc, disable=not self.progress,
                    ) as bar,
                ):  # fmt: skip
                    for chunk in resp.iter_content(_CHUNK):
                        fh.write(chunk)
                        bar.update(len(chunk))
        except requests.RequestException as e:
            got = self.part.stat().st_size if self.part.exists() else 0
            raise OSError(
                f"download of {url} failed after {got} bytes ({type(e).__name__}: {e}); "
                "run the same command again to resume"
            ) from e
        got = self.part.stat().st_size
        if total is not None and got != total:
            raise OSError(
                f"download of {url} stopped at {got} of {total} bytes; run the same command "
                "again to resume"
            )
        return None


def _download(url: str, target: Path, sha256: str, size: int | None, progress: bool) -> None:
    """Downloads ``url`` to ``target`` through pooch (sha256 checked before the rename)."""
    import pooch

    target.parent.mkdir(parents=True, exist_ok=True)
    part = target.with_name(target.name + ".part")
    downloader = ResumableDownloader(part, size=size, progress=progress, desc=target.name)
    logger = pooch.get_logger()
    level = logger.level
    logger.setLevel("WARNING")
    try:
        pooch.retrieve(
            url, known_hash=f"sha256:{sha256}", fname=target.name, path=target.parent,
            downloader=downloader, progressbar=False,
        )  # fmt: skip
    except ValueError as e:  # pooch: hash mismatch (the temporary file is already removed)
        raise OSError(f"{url}: the downloaded file does not match the registry: {e}") from e
    finally:
        logger.setLevel(level)


def _copy_local(src: Path, target: Path, sha256: str) -> None:
    """Copies ``src`` to ``target`` atomically, checking the sha256 first."""
    if not src.is_file():
        raise FileNotFoundError(f"mirror folder has no file {src}")
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    os.close(fd)
    try:
        shutil.copyfile(src, tmp)
        got = sha256_file(tmp)
        if got != sha256:
            raise OSError(f"{src}: sha256 {got}, the registry has {sha256}")
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _write_atomic(target: Path, data: bytes, sha256: str, what: str) -> None:
    import hashlib

    got = hashlib.sha256(data).hexdigest()
    if got != sha256:
        raise OSError(
            f"{what}: the converted file has sha256 {got}, the registry has {sha256} "
            "(another Pillow/zlib build may encode PNGs differently; use --mirror)"
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _remove_empty_dirs(folder: Path, *, stop: Path) -> None:
    while folder != stop and folder.is_dir() and not any(folder.iterdir()):
        folder.rmdir()
        folder = folder.parent


def _verified(path: Path, entry: DataFile) -> bool:
    return (
        path.is_file() and path.stat().st_size == entry.size and sha256_file(path) == entry.sha256
    )


def _manifest(registry: Registry, dest: Path) -> bytes:
    from xent_jax.data._convert import micrograph_manifest

    pngs = [f for f in registry.dataset_files("micrographs") if f.name.endswith(".png")]
    pairs = []
    for img, mask in zip(pngs[::2], pngs[1::2], strict=True):
        pairs.append(
            (img.name.split("/")[1], dest / img.name, img.extra["upstream_paths"],
             dest / mask.name, mask.extra["upstream_paths"])
        )  # fmt: skip
    return micrograph_manifest(pairs)


def _with_dependencies(files: Sequence[DataFile], registry: Registry) -> list[DataFile]:
    """Orders the files, generated ones last, adding the files a generated one is made from."""
    chosen = {f.name: f for f in files if f.conversion != "micrograph_manifest"}
    generated = [f for f in files if f.conversion == "micrograph_manifest"]
    for _ in generated:
        for f in registry.dataset_files("micrographs"):
            if f.name.endswith(".png"):
                chosen.setdefault(f.name, f)
    return list(chosen.values()) + generated


def fetch(
    files: Sequence[DataFile],
    dest: str | os.PathLike | None = None,
    *,
    mirror: str | None = None,
    registry: Registry | None = None,
    progress: bool = True,
    log: Callable[[str], None] = print,
) -> list[Path]:
    """Downloads registry files into ``dest`` (default ``$XENT_DATA``, else the user cache).

    Files already in ``dest`` with the registry's size and sha256 are kept. From the sources
    (no ``mirror``), a converted file is made from its upstream file, whose sha256 is checked
    first; from a ``mirror`` (an HTTP URL, or a local folder, serving our layout) every file is
    taken as it is. Every file is checked against the registry before it gets its final name.

    Args:
      files: the entries to fetch (``Registry.select``).
      dest: the data folder to fill.
      mirror: base URL or folder of a copy of a prepared data folder, or None for the sources.
      registry: the registry the entries come from (default: the packaged one).
      progress: show tqdm bars.
      log: where the one-line reports go.

    Returns:
      The paths of the files, in the order fetched.

    Raises:
      OSError: a download failed (resumable: run again) or a file does not match the registry.
    """
    reg = load_registry() if registry is None else registry
    dest = Path(fetch_dir() if dest is None else dest).expanduser().resolve()
    local = None
    if mirror is not None:
        scheme = urllib.parse.urlparse(mirror).scheme
        if scheme == "file":
            local = Path(urllib.parse.unquote(urllib.parse.urlparse(mirror).path))
        elif scheme not in ("http", "https"):
            local = Path(mirror).expanduser()
        if local is not None and not local.is_dir():
            raise ValueError(f"--mirror must be an http(s) URL or a folder, got {mirror!r}")
    todo = files if mirror is not None else _with_dependencies(files, reg)
    done = []
    for entry in todo:
        target = dest / entry.name
        done.append(target)
        if _verified(target, entry):
            log(f"present  {entry.name}")
            continue
        if local is not None:
            _copy_local(local / entry.name, target, entry.sha256)
            source = str(local / entry.name)
        elif mirror is not None:
            source = mirror_url(mirror, entry)
            _download(source, target, entry.sha256, entry.size, progress)
        elif entry.conversion == "micrograph_manifest":
            _write_atomic(target, _manifest(reg, dest), entry.sha256, entry.name)
            source = "generated from the micrograph entries"
        elif entry.identical:
            source = entry.url
            _download(source, target, entry.sha256, entry.size, progress)
        else:
            from xent_jax.data._convert import CONVERSIONS

            upstream = dest / _UPSTREAM / entry.name
            _download(entry.url, upstream, entry.upstream_sha256, None, progress)
            data = CONVERSIONS[entry.conversion](upstream.read_bytes())
            _write_atomic(target, data, entry.sha256, entry.name)
            upstream.unlink()
            _remove_empty_dirs(upstream.parent, stop=dest)
            source = f"{entry.url} ({entry.conversion})"
        log(f"fetched  {entry.name}  <- {source}")
    return done


@dataclasses.dataclass(frozen=True)
class CheckResult:
    """The state of one registry file: ``status`` is ``ok``, ``missing`` or ``corrupt``."""

    entry: DataFile
    status: str
    path: Path | None = None
    where: str = ""
    detail: str = ""


def check(
    files: Sequence[DataFile], dirs: Sequence[tuple[str, Path]] | None = None
) -> list[CheckResult]:
    """Verifies size and sha256 of each file where the loaders find it (first searched folder).

    Args:
      files: the registry entries to check.
      dirs: ``(label, folder)`` pairs searched in order (default :func:`search_dirs`).

    Returns:
      One :class:`CheckResult` per entry, in order.
    """
    dirs = search_dirs() if dirs is None else list(dirs)
    results = []
    for entry in files:
        found = next(((lab, d / entry.name) for lab, d in dirs if (d / entry.name).is_file()), None)
        if found is None:
            results.append(CheckResult(entry, "missing", detail="in none of the data folders"))
            continue
        where, path = found
        size = path.stat().st_size
        if size != entry.size:
            detail = f"size {size} bytes, registry {entry.size}"
            results.append(CheckResult(entry, "corrupt", path, where, detail))
            continue
        sha = sha256_file(path)
        if sha != entry.sha256:
            detail = f"sha256 {sha}, registry {entry.sha256}"
            results.append(CheckResult(entry, "corrupt", path, where, detail))
            continue
        results.append(CheckResult(entry, "ok", path, where))
    return results
