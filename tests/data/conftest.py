"""Fetch-test fixtures: an HTTP server on 127.0.0.1 over a temporary folder, a toy registry.

Nothing here reaches a network: the server is started by the test, on a free local port.
"""

from __future__ import annotations

import hashlib
import http.server
import json
import threading
import urllib.parse
from pathlib import Path

import pytest

from xent_jax.data import load_registry


class _Handler(http.server.BaseHTTPRequestHandler):
    """GET of files below ``server.root``; ``Range`` when ``server.ranges``; cuts when told."""

    def log_message(self, *args) -> None:  # quiet
        pass

    def do_GET(self) -> None:
        srv = self.server
        rng = self.headers.get("Range")
        srv.requests.append((self.path, rng))
        path = srv.root / urllib.parse.unquote(self.path.lstrip("/"))
        if not path.is_file():
            self.send_error(404)
            return
        data = path.read_bytes()
        start = 0
        if rng and srv.ranges:
            start = int(rng.removeprefix("bytes=").split("-")[0])
            if start >= len(data):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(data)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            self.send_response(200)
        body = data[start:]
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if srv.cut_after is not None:  # promise the whole body, send part of it, hang up
            self.wfile.write(body[: srv.cut_after])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(body)


@pytest.fixture
def http_server(tmp_path):
    """A threaded HTTP server over ``tmp_path / "www"``: ``.url``, ``.root``, ``.requests``.

    Set ``.ranges = False`` to ignore ``Range`` (as ``python -m http.server`` does) and
    ``.cut_after = N`` to close every response after N body bytes.
    """
    root = tmp_path / "www"
    root.mkdir()
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    srv.daemon_threads = True
    srv.root, srv.ranges, srv.cut_after, srv.requests = root, True, None, []
    srv.url = f"http://127.0.0.1:{srv.server_address[1]}"
    thread = threading.Thread(target=srv.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()
    thread.join(5)


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def toy(tmp_path, http_server):
    """A toy registry served by ``http_server``: upstream files under ``/up/``, our layout under
    ``/mirror/``. Returns ``(registry, contents)`` with ``contents[name]`` our bytes."""
    big = bytes(range(256)) * 1200  # 307,200 bytes: several chunks, so a cut lands midway
    odd = b"a file whose name needs percent-encoding\n"
    up_params = b"@Event_list\n%M33235|TRBV11-2*02|Homo sapiens|[F]| Edited, partial| |;ACG;0\n"
    ours = {
        "toy/big.bin": big,
        "toy/sub dir/odd #1.txt": odd,
        "toy/params.txt": up_params.replace(b",", b" "),
    }
    upstream = {"toy/big.bin": big, "toy/sub dir/odd #1.txt": odd, "toy/params.txt": up_params}
    www = http_server.root
    files = []
    for i, (name, data) in enumerate(ours.items()):
        (www / "mirror" / name).parent.mkdir(parents=True, exist_ok=True)
        (www / "mirror" / name).write_bytes(data)
        up_name = f"up/{i}/{Path(name).name}"
        (www / up_name).parent.mkdir(parents=True, exist_ok=True)
        (www / up_name).write_bytes(upstream[name])
        files.append(
            dict(name=name, dataset="toy", size=len(data), sha256=_sha(data),
                 url=f"{http_server.url}/{urllib.parse.quote(up_name)}",
                 upstream_sha256=_sha(upstream[name]),
                 conversion="igor_params" if name.endswith("params.txt") else "")
        )  # fmt: skip
    doc = {
        "format": 1,
        "datasets": [
            dict(name="toy", description="toy data", source="tests", licence="MIT", citation="none")
        ],  # fmt: skip
        "files": files,
    }
    path = tmp_path / "registry.json"
    path.write_text(json.dumps(doc))
    return load_registry(path), ours
