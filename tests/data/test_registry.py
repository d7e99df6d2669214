"""The data registry: entries, agreement with ../shared/data, lookup order, MissingDataError."""

from __future__ import annotations

import json
import pickle
import re

import pytest

from xent_jax import _paths
from xent_jax.data import MissingDataError, load_registry, search_dirs
from xent_jax.data import _registry as registry_mod
from xent_jax.data._build_registry import build_registry
from xent_jax.data._convert import CONVERSIONS

SHARED = (_paths.REPO_ROOT.parent / "shared" / "data").resolve()
PINNED = re.compile(r"^https://raw\.githubusercontent\.com/[^/]+/[^/]+/[0-9a-f]{40}/\S+$")


@pytest.fixture
def data_dirs(tmp_path, monkeypatch):
    """Empty XENT_DATA, checkout-side shared/data and user cache folders (in that search order)."""
    env, repo, cache = tmp_path / "env", tmp_path / "repo", tmp_path / "xdg"
    for d in (env, repo / "shared" / "data", cache):
        d.mkdir(parents=True)
    monkeypatch.setenv("XENT_DATA", str(env))
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache))
    monkeypatch.setattr(registry_mod, "REPO_ROOT", repo / "checkout")
    return {"env": env, "shared": repo / "shared" / "data", "cache": cache / "xent-jax"}


def test_entries_are_complete_and_pinned():
    reg = load_registry()
    assert len(reg) == 114  # SOURCES.md's 111, manifest.csv, two LICENSE files
    assert sum(f.identical for f in reg.files) == 17 and len(reg.datasets) == 8
    for f in reg.files:
        assert re.fullmatch(r"[0-9a-f]{64}", f.sha256) and f.size > 0, f.name
        assert f.licence and f.citation, f.name
        if f.conversion == "micrograph_manifest":
            assert f.url == "" and f.upstream_sha256 == ""
            continue
        assert PINNED.match(f.url), f.url
        assert re.fullmatch(r"[0-9a-f]{64}", f.upstream_sha256), f.name
        assert f.identical == (f.upstream_sha256 == f.sha256), f.name
        assert f.identical or f.conversion in CONVERSIONS, f.name


def test_every_file_a_loader_reads_is_registered():
    from xent_jax.data.proteins import DEEPLOC_FILES
    from xent_jax.data.supercon import _SOURCES

    reg = load_registry()
    names = ["mnist/t10k-images-idx3-ubyte.gz", "mnist/t10k-labels-idx1-ubyte.gz",
             "micrographs/manifest.csv"]  # fmt: skip
    names += [f"deeploc1/{f}" for f in DEEPLOC_FILES.values()]
    names += ["/".join(parts) for parts in _SOURCES.values()]
    assert all(n in reg for n in names), [n for n in names if n not in reg]
    pngs = [f for f in reg.dataset_files("micrographs") if f.name.endswith(".png")]
    assert len(pngs) == 90 and all("upstream_paths" in f.extra for f in pngs)


def test_registry_matches_shared_data():
    if not (SHARED / "SOURCES.md").is_file():
        pytest.skip(f"needs the shared data folder at {SHARED}")
    built = build_registry(SHARED)  # measures every file; raises on any difference
    assert built == json.loads(registry_mod.REGISTRY_PATH.read_text(encoding="utf-8"))


def test_select_by_dataset_and_file():
    reg = load_registry()
    assert [f.name for f in reg.select(["supercon/Supercon_data_by_2018_Stanev.csv"])] == [
        "supercon/Supercon_data_by_2018_Stanev.csv"
    ]
    both = reg.select(["mnist", "mnist/t10k-labels-idx1-ubyte.gz"])
    assert len(both) == 2  # no repeats
    with pytest.raises(ValueError, match=r"unknown data set or file 'nope'.*mnist"):
        reg.select(["nope"])
    with pytest.raises(TypeError, match="sequence of str"):
        reg.select("mnist")


def test_lookup_order(data_dirs):
    name = "mnist/t10k-labels-idx1-ubyte.gz"
    size = load_registry()[name].size
    assert [lab for lab, _ in search_dirs()] == ["XENT_DATA", "shared", "cache"]
    for where in ("cache", "shared", "env"):  # each new copy comes earlier in the order
        p = data_dirs[where] / name
        p.parent.mkdir(parents=True)
        p.write_bytes(b"\0" * size)
        assert _paths.data_file("mnist", "t10k-labels-idx1-ubyte.gz") == p


def test_cache_defaults_to_home(monkeypatch, tmp_path):
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.delenv("XENT_DATA", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert search_dirs()[-1] == ("cache", tmp_path / ".cache" / "xent-jax")
    assert registry_mod.fetch_dir() == tmp_path / ".cache" / "xent-jax"


def test_empty_xent_data_is_not_searched(monkeypatch):
    monkeypatch.setenv("XENT_DATA", "")
    assert [lab for lab, _ in search_dirs()] == ["shared", "cache"]


def test_missing_file_error(data_dirs):
    with pytest.raises(MissingDataError) as info:
        _paths.data_file("mnist", "t10k-images-idx3-ubyte.gz", what="MNIST test images")
    e = info.value
    assert isinstance(e, FileNotFoundError)
    assert e.names == ("mnist/t10k-images-idx3-ubyte.gz",)
    assert e.paths == (data_dirs["env"], data_dirs["shared"], data_dirs["cache"])
    assert e.fetch_command == "xent-jax data fetch mnist"
    msg = str(e)
    assert "registry entry mnist/t10k-images-idx3-ubyte.gz" in msg and "MNIST test images" in msg
    assert "`xent-jax data fetch mnist`" in msg and str(data_dirs["cache"]) in msg
    copy = pickle.loads(pickle.dumps(e))  # crosses process boundaries intact
    assert copy.fetch_command == e.fetch_command and str(copy) == msg


def test_loaders_raise_missing_data_error(data_dirs):
    from xent_jax.data import load_micrographs, load_mnist10k

    with pytest.raises(MissingDataError, match="fetch mnist"):
        load_mnist10k()
    with pytest.raises(MissingDataError, match="micrographs/manifest.csv.*fetch micrographs"):
        load_micrographs("ebc")


def test_unregistered_file_says_so(data_dirs):
    with pytest.raises(MissingDataError, match="not in the data registry") as info:
        _paths.data_file("nowhere", "x.txt")
    assert info.value.registered is False


def test_wrong_size_is_refused(data_dirs):
    name = "mnist/t10k-labels-idx1-ubyte.gz"
    p = data_dirs["cache"] / name
    p.parent.mkdir(parents=True)
    p.write_bytes(b"short")
    with pytest.raises(ValueError, match=r"5 bytes.*4542.*xent-jax data check"):
        _paths.data_file("mnist", "t10k-labels-idx1-ubyte.gz")
