"""One run per folder at a time: a lock file holding the owner's pid and host.

A second run on a locked folder is refused with :class:`FolderLockedError` naming the owner. A lock
left by a process that no longer exists on this host (killed with SIGKILL, say) is stale: it is
taken over with a warning. A lock held from another host cannot be checked and is refused; delete
the file by hand when that run is known to be gone.
"""

from __future__ import annotations

import json
import os
import socket
import time
import warnings
from pathlib import Path

__all__ = ["FolderLock", "FolderLockedError"]

LOCK_NAME = ".xent-jax.lock"


class FolderLockedError(RuntimeError):
    """The folder is in use by another live run."""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class FolderLock:
    """Exclusive lock on a folder: ``with FolderLock(path): ...``.

    Not re-entrant: a second lock of the same folder is refused even from the same process (two
    ``fit`` calls on one folder at once are two runs).

    Args:
      directory: the folder to lock (created if absent). A path that is a file is refused.

    Raises:
      FolderLockedError: when a live process (or one on another host) holds the lock.
      ValueError: when ``directory`` exists and is not a folder.

    Examples:
      >>> import tempfile
      >>> d = tempfile.mkdtemp()
      >>> with FolderLock(d) as lock:
      ...     lock.path.name
      '.xent-jax.lock'
    """

    def __init__(self, directory: str | Path):
        directory = Path(directory).expanduser().resolve()
        if directory.exists() and not directory.is_dir():
            raise ValueError(f"{directory} exists and is not a folder")
        self.directory = directory
        self.path = directory / LOCK_NAME

    def _owner(self) -> dict | None:
        try:
            return json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError):
            return {}

    def _create(self, me: dict) -> None:
        """Creates the lock file with its content in one step (``FileExistsError`` if present).

        The owner is written to a private file first and then hard-linked to the lock's name, so
        that another process never reads a lock file that exists but is still empty.
        """
        tmp = self.path.with_name(f"{LOCK_NAME}.{me['pid']}.{time.monotonic_ns()}")
        tmp.write_text(json.dumps(me), encoding="utf-8")
        try:
            os.link(tmp, self.path)
        except (AttributeError, NotImplementedError, PermissionError):  # no hard links here
            fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(me, f)
        finally:
            tmp.unlink(missing_ok=True)

    def acquire(self) -> FolderLock:
        """Takes the lock (see the class docstring); returns ``self``."""
        self.directory.mkdir(parents=True, exist_ok=True)
        me = {"pid": os.getpid(), "host": socket.gethostname(), "since": time.time()}
        for _ in range(3):
            try:
                self._create(me)
            except FileExistsError:
                owner = self._owner()
                if owner is None:
                    continue  # released between our two calls: try again
                pid, host = owner.get("pid"), owner.get("host")
                if host == me["host"] and isinstance(pid, int) and not _alive(pid):
                    warnings.warn(
                        f"taking over the stale lock {self.path} of process {pid}, which is gone",
                        RuntimeWarning,
                        stacklevel=2,
                    )
                    self.path.unlink(missing_ok=True)
                    continue
                if not owner:
                    raise FolderLockedError(
                        f"{self.directory} is locked by an unreadable lock file {self.path}; "
                        "delete it if no run is using the folder"
                    ) from None
                raise FolderLockedError(
                    f"{self.directory} is in use by process {pid} on host {host} "
                    f"(lock file {self.path}); wait for it to finish, use another output folder, "
                    "or delete the lock file if that run is gone"
                ) from None
            self._mine = True
            return self
        raise FolderLockedError(f"could not lock {self.directory} (lock file {self.path} churns)")

    def release(self) -> None:
        """Removes the lock file if this object holds it."""
        if not getattr(self, "_mine", False):
            return
        self._mine = False
        owner = self._owner()
        if owner and owner.get("pid") == os.getpid() and owner.get("host") == socket.gethostname():
            self.path.unlink(missing_ok=True)

    def __enter__(self) -> FolderLock:
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()
