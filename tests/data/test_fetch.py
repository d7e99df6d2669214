"""fetch and check against a local HTTP server (see conftest.py): verified, atomic, resumable."""

from __future__ import annotations

import pytest

from xent_jax.data._fetch import check, fetch


def _fetch(reg, dest, **kw):
    lines = []
    kw.setdefault("progress", False)
    paths = fetch(list(reg.files), dest, registry=reg, log=lines.append, **kw)
    return paths, lines


def _leftovers(dest):
    return sorted(
        p.relative_to(dest).as_posix()
        for p in dest.rglob("*")
        if p.is_file() and (p.name.endswith(".part") or p.name.startswith("tmp"))
    )


def test_fetch_from_sources_converts_and_verifies(toy, tmp_path, http_server):
    reg, ours = toy
    dest = tmp_path / "data"
    paths, lines = _fetch(reg, dest)
    assert [p.relative_to(dest).as_posix() for p in paths] == list(ours)
    for name, data in ours.items():
        assert (dest / name).read_bytes() == data
    assert any("(igor_params)" in line for line in lines)  # made from the upstream file
    assert _leftovers(dest) == [] and not (dest / ".upstream").exists()
    assert all(r.status == "ok" for r in check(reg.files, [("dest", dest)]))
    n = len(http_server.requests)
    _, lines = _fetch(reg, dest)  # everything present and verified: nothing downloaded
    assert len(http_server.requests) == n and all(line.startswith("present") for line in lines)


@pytest.mark.parametrize("kind", ["http", "folder"])
def test_fetch_from_mirror_takes_our_layout(toy, tmp_path, http_server, kind):
    reg, ours = toy
    dest = tmp_path / "data"
    mirror = f"{http_server.url}/mirror/" if kind == "http" else str(http_server.root / "mirror")
    _fetch(reg, dest, mirror=mirror)
    for name, data in ours.items():
        assert (dest / name).read_bytes() == data
    if kind == "http":  # the converted file came from the mirror, not from /up/
        assert not any(path.startswith("/up/") for path, _ in http_server.requests)
        assert ("/mirror/toy/sub%20dir/odd%20%231.txt", None) in http_server.requests
    assert _leftovers(dest) == []


def test_corrupt_download_never_gets_the_final_name(toy, tmp_path, http_server):
    reg, _ = toy
    (http_server.root / "mirror/toy/big.bin").write_bytes(b"\1" * reg["toy/big.bin"].size)
    dest = tmp_path / "data"
    with pytest.raises(OSError, match="big.bin.*does not match the registry"):
        _fetch(reg, dest, mirror=f"{http_server.url}/mirror")
    assert not (dest / "toy/big.bin").exists() and _leftovers(dest) == []


def test_missing_upstream_file_names_url(toy, tmp_path, http_server):
    reg, _ = toy
    (http_server.root / "mirror/toy/big.bin").unlink()
    with pytest.raises(OSError, match=r"mirror/toy/big.bin failed.*404"):
        _fetch(reg, tmp_path / "data", mirror=f"{http_server.url}/mirror")


def test_interrupted_download_resumes_with_range(toy, tmp_path, http_server):
    reg, ours = toy
    dest = tmp_path / "data"
    target, part = dest / "toy/big.bin", dest / "toy/big.bin.part"
    http_server.cut_after = 100_000
    with pytest.raises(OSError, match="big.bin.*run the same command again to resume"):
        _fetch(reg, dest)
    assert not target.exists()  # never under the final name
    got = part.stat().st_size
    assert 0 < got <= 100_000
    http_server.cut_after = None
    _fetch(reg, dest)
    assert http_server.requests[-3][1] == f"bytes={got}-"  # big.bin resumed where it stopped
    assert target.read_bytes() == ours["toy/big.bin"] and not part.exists()


def test_partial_file_restarts_where_server_has_no_range(toy, tmp_path, http_server):
    reg, ours = toy
    dest = tmp_path / "data"
    part = dest / "toy/big.bin.part"
    part.parent.mkdir(parents=True)
    part.write_bytes(b"junk" * 100)  # a stale partial download of other bytes
    http_server.ranges = False  # like `python -m http.server`: 200 and the whole file
    _fetch(reg, dest)
    assert (dest / "toy/big.bin").read_bytes() == ours["toy/big.bin"] and not part.exists()


def test_complete_but_wrong_part_is_refused_then_refetched(toy, tmp_path, http_server):
    reg, ours = toy
    dest = tmp_path / "data"
    part = dest / "toy/big.bin.part"
    part.parent.mkdir(parents=True)
    part.write_bytes(b"\0" * reg["toy/big.bin"].size)  # right size, wrong bytes
    with pytest.raises(OSError, match="does not match the registry"):
        _fetch(reg, dest)
    assert not (dest / "toy/big.bin").exists() and not part.exists()
    _fetch(reg, dest)
    assert (dest / "toy/big.bin").read_bytes() == ours["toy/big.bin"]


def test_existing_wrong_file_is_replaced(toy, tmp_path):
    reg, ours = toy
    dest = tmp_path / "data"
    _fetch(reg, dest)
    (dest / "toy/big.bin").write_bytes(b"altered")
    _, lines = _fetch(reg, dest)
    assert any(line.startswith("fetched  toy/big.bin") for line in lines)
    assert (dest / "toy/big.bin").read_bytes() == ours["toy/big.bin"]


def test_check_names_missing_truncated_and_altered_files(toy, tmp_path):
    reg, ours = toy
    dest = tmp_path / "data"
    _fetch(reg, dest)
    with (dest / "toy/params.txt").open("ab") as f:
        f.write(b"x")  # one appended byte
    big = dest / "toy/big.bin"
    big.write_bytes(big.read_bytes()[:-10])  # truncated
    (dest / "toy/sub dir/odd #1.txt").unlink()
    flipped = tmp_path / "other"
    (flipped / "toy").mkdir(parents=True)
    data = bytearray(ours["toy/big.bin"])
    data[5] ^= 1  # same size, one bit flipped
    (flipped / "toy/big.bin").write_bytes(bytes(data))
    res = {r.entry.name: r for r in check(reg.files, [("dest", dest)])}
    assert {n: r.status for n, r in res.items()} == {
        "toy/big.bin": "corrupt", "toy/sub dir/odd #1.txt": "missing", "toy/params.txt": "corrupt",
    }  # fmt: skip
    assert "size 307190 bytes, registry 307200" in res["toy/big.bin"].detail
    r = check([reg["toy/big.bin"]], [("other", flipped), ("dest", dest)])[0]
    assert r.status == "corrupt" and r.where == "other" and r.detail.startswith("sha256")
