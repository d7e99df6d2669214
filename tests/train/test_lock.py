"""FolderLock: one run per folder, owner named, stale locks of dead processes taken over."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import pytest

from xent_jax.train import FolderLock, FolderLockedError


def test_second_lock_is_refused_and_released_lock_is_free(tmp_path):
    with FolderLock(tmp_path) as lock:
        owner = json.loads(lock.path.read_text())
        assert owner["pid"] == os.getpid() and owner["host"] == socket.gethostname()
        with pytest.raises(FolderLockedError, match=f"process {os.getpid()}"):
            FolderLock(tmp_path).acquire()
    assert not lock.path.exists()
    with FolderLock(tmp_path):
        pass


def test_stale_lock_of_a_dead_process_is_taken_over(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    pid = int(dead.stdout)
    path = tmp_path / ".xent-jax.lock"
    path.write_text(json.dumps({"pid": pid, "host": socket.gethostname(), "since": 0}))
    with pytest.warns(RuntimeWarning, match=f"stale lock .* of process {pid}"):
        with FolderLock(tmp_path):
            assert json.loads(path.read_text())["pid"] == os.getpid()


def test_lock_from_another_host_and_bad_paths(tmp_path):
    path = tmp_path / ".xent-jax.lock"
    path.write_text(json.dumps({"pid": 1, "host": "elsewhere.example", "since": 0}))
    with pytest.raises(FolderLockedError, match="on host elsewhere.example"):
        FolderLock(tmp_path).acquire()
    path.write_text("not json")
    with pytest.raises(FolderLockedError, match="unreadable lock file"):
        FolderLock(tmp_path).acquire()
    (tmp_path / "file").write_text("x")
    with pytest.raises(ValueError, match="not a folder"):
        FolderLock(tmp_path / "file")
