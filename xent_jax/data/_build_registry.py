"""Builds ``xent_jax/data/registry.json`` from a prepared data folder (a developer tool).

Reads the folder's ``SOURCES.md`` (every file pinned to an upstream file and commit, with the
conversions made and the upstream sha256), its ``README.md`` (licences; each data set's licence
below is checked against it) and the files themselves (size and sha256 are measured, and must
equal those in ``SOURCES.md``)::

    python -m xent_jax.data._build_registry ../shared/data

``micrographs/manifest.csv`` is not in ``SOURCES.md``: it is generated from the registry's
micrograph entries (conversion ``micrograph_manifest``). The two ``LICENSE`` files are
byte-identical to the upstream licence files at the pinned commits.
"""

from __future__ import annotations

import csv
import json
import re
import sys
from pathlib import Path
from typing import Any

from xent_jax.data._registry import REGISTRY_PATH, sha256_file

# Hand-written from ../shared/data/README.md (licence column) and the papers; the licence token
# of each data set must appear in the README's row for it (checked by build_registry).
DATASETS: list[dict[str, str]] = [
    dict(
        name="mnist",
        description="MNIST test set, IDX format (10,000 images 28x28 and labels)",
        source="github.com/kelas/mnist @ 283b387221ab46655e600cfcc25d843bb14292b9",
        licence="no licence stated by the authors (LeCun, Cortes, Burges); widely redistributed",
        citation="LeCun, Bottou, Bengio, Haffner (1998). Gradient-based learning applied to "
        "document recognition. Proc. IEEE 86(11):2278-2324",
    ),
    dict(
        name="supercon",
        description="superconductor compositions and critical temperatures (UCI Hamidieh 2018; "
        "SuperCon list of Stanev 2018)",
        source="github.com/oregonstate-physics/scicomp_ii_f26 @ a56ef9cb; "
        "github.com/aimat-lab/3DSC @ 8d69ca9c",
        licence="CC BY 4.0",
        citation="Hamidieh (2018). A data-driven statistical model for predicting the critical "
        "temperature of a superconductor. Comput. Mater. Sci. 154:346-354; Stanev et al. (2018). "
        "Machine learning modeling of superconducting critical temperature. npj Comput. Mater. "
        "4:29",
    ),
    dict(
        name="deeploc1",
        description="DeepLoc 1.0 protein subcellular localisation FASTA (test, validation, hard)",
        source="github.com/HannesStark/protein-localization @ 7b0be1e6",
        licence="MIT",
        citation="Almagro Armenteros et al. (2017). DeepLoc: prediction of protein subcellular "
        "localization using deep learning. Bioinformatics 33(21):3387-3395",
    ),
    dict(
        name="hiv",
        description="DTP AIDS antiviral screen as distributed with MoleculeNet (SMILES, active)",
        source="github.com/Je14sondang/Deepchem @ a65e9495",
        licence="NCI DTP public data",
        citation="Wu et al. (2018). MoleculeNet: a benchmark for molecular machine learning. "
        "Chem. Sci. 9:513-530",
    ),
    dict(
        name="riboswitch",
        description="EternaBench riboswitches (filtered training set and Test80 split)",
        source="github.com/eternagame/EternaBench @ 3f68978c",
        licence="MIT",
        citation="Wayment-Steele et al. (2022). RNA secondary structure packages evaluated and "
        "improved by high-throughput experiments. Nat. Methods 19:1234-1242",
    ),
    dict(
        name="toehold",
        description="first-generation toehold switches (Green 2014), redistributed by Valeri 2020",
        source="github.com/midas-wyss/engineered-riboregulator-ML @ c297a2bd",
        licence="GPLv3",
        citation="Green et al. (2014). Toehold switches: de-novo-designed regulators of gene "
        "expression. Cell 159(4):925-939; Valeri et al. (2020). Sequence-to-function deep "
        "learning frameworks for engineered riboregulators. Nat. Commun. 11:5058",
    ),
    dict(
        name="micrographs",
        description="SEM micrographs with segmentations (NASA MicroNet benchmark): 23 superalloy, "
        "22 EBC; converted from TIFF to greyscale PNG",
        source="github.com/nasa/pretrained-microscopy-models @ f50b5689",
        licence="MIT",
        citation="Stuckner, Harder, Smith (2022). Microstructure segmentation with deep learning "
        "encoders pre-trained on a large microscopy dataset. npj Comput. Mater. 8:200",
    ),
    dict(
        name="immune",
        description="IGoR human TRB recombination models of two individuals (converted for OLGA), "
        "IGoR demo reads, a SONIA TRB repertoire",
        source="github.com/qmarcou/IGoR @ 0453bb1a; github.com/statbiophys/SONIA @ 80b6a59e",
        licence="GPLv3",
        citation="Marcou, Mora, Walczak (2018). High-throughput immune repertoire analysis with "
        "IGoR. Nat. Commun. 9:561; Murugan et al. (2012). Statistical inference of the "
        "generation probability of T-cell receptors from sequence repertoires. PNAS "
        "109(40):16161-16166; Pogorelyy et al. (2017). Persisting fetal clonotypes influence the "
        "structure and overlap of adult human T cell receptor repertoires. PLoS Comput. Biol. "
        "13(7):e1005572 (preprint doi:10.1101/039297)",
    ),
]

# per-file citations where a data set has several sources
FILE_CITATIONS = {
    "supercon/composition_train.csv.gz": "Hamidieh (2018). A data-driven statistical model for "
    "predicting the critical temperature of a superconductor. Comput. Mater. Sci. 154:346-354",
    "supercon/Supercon_data_by_2018_Stanev.csv": "Stanev et al. (2018). Machine learning "
    "modeling of superconducting critical temperature. npj Comput. Mater. 4:29",
    "immune/sonia/sonia_data_seqs.csv.gz": "Sethna et al. (2020). Population variability in the "
    "generation and selection of T-cell repertoires. PLoS Comput. Biol. 16(12):e1008394",
}

_RAW = "https://raw.githubusercontent.com"
LICENCE_FILES = {  # byte-identical to the upstream licence files (SOURCES.md, notes)
    "micrographs/LICENSE": (
        "nasa/pretrained-microscopy-models",
        "f50b5689a71cf6f86016fb4a5c5a2bb31e0397f3",
        "LICENSE.txt",
    ),
    "riboswitch/LICENSE": (
        "eternagame/EternaBench",
        "3f68978c357f1158d681df59ee7a9d5b9bd2a4f2",
        "LICENSE",
    ),
}


def conversion_name(kind: str) -> str:
    """Maps a ``SOURCES.md`` "identical or conversion" cell to a conversion in ``_convert``.

    Examples:
      >>> conversion_name("identical")
      ''
      >>> conversion_name("conversion: TIFF label map to PNG, values unchanged (0 = background)")
      'label_tiff_to_png'
    """
    if kind == "identical":
        return ""
    rules = [
        ("TIFF to lossless greyscale PNG", "tiff_to_png"),
        ("TIFF label map to PNG", "label_tiff_to_png"),
        ("blue/red paint", "paint_to_labels_png"),
        ("anchors rewritten", "igor_anchors"),
        ("commas inside IMGT gene names replaced by spaces (3 commas", "igor_params"),
    ]
    for needle, name in rules:
        if needle in kind:
            return name
    raise ValueError(f"SOURCES.md: unknown conversion {kind!r}")


def _sources_rows(text: str) -> list[list[str]]:
    rows = []
    for line in text.splitlines():
        if line.startswith("| `"):
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if len(cells) != 9:
                raise ValueError(f"SOURCES.md: expected 9 cells, got {len(cells)}: {line[:80]}")
            rows.append([c.strip("`") for c in cells])
    return rows


def _check_licences(readme: str) -> None:
    table = {}
    for line in readme.splitlines():
        m = re.match(r"\| `([^`/]+)/?", line)
        if m:
            table.setdefault(m.group(1), "")
            table[m.group(1)] += line
    for ds in DATASETS:
        token = ds["licence"].split(";")[0]
        if ds["name"] == "mnist":
            continue  # the README names the authors, no licence
        if token not in table.get(ds["name"], ""):
            raise ValueError(f"README.md: licence {token!r} not in the row of {ds['name']!r}")


def build_registry(folder: str | Path) -> dict[str, Any]:
    """The registry document for a prepared data folder (``SOURCES.md``, ``README.md``, files).

    Raises:
      ValueError: when a file's measured size or sha256 differs from ``SOURCES.md``, or a file
        in the folder is in no entry.
    """
    folder = Path(folder)
    _check_licences((folder / "README.md").read_text(encoding="utf-8"))
    rows = _sources_rows((folder / "SOURCES.md").read_text(encoding="utf-8"))
    manifest = list(csv.DictReader((folder / "micrographs/manifest.csv").open(encoding="utf-8")))
    copies: dict[str, list[str]] = {}
    for r in manifest:
        copies[f"micrographs/{r['group']}/{r['image']}"] = r["source_paths"].split("|")
        copies[f"micrographs/{r['group']}/{r['mask']}"] = [r["source_mask"]]
    by_path = {r[0]: r for r in rows}
    order = []  # micrographs in manifest order (the manifest is generated in registry order)
    for r in manifest:
        order += [f"micrographs/{r['group']}/{r['image']}", f"micrographs/{r['group']}/{r['mask']}"]
    names = [p for p in by_path if not p.startswith("micrographs/")] + order
    if sorted(names) != sorted(by_path):
        raise ValueError("manifest.csv and SOURCES.md list different micrographs")
    files: list[dict[str, Any]] = []
    for name in names:
        path, size, sha, repo, commit, up_path, kind, url, up_sha = by_path[name]
        entry: dict[str, Any] = dict(
            name=name,
            dataset=name.split("/")[0],
            size=int(size),
            sha256=sha,
            url=url,
            upstream_sha256=sha if up_sha == "= ours" else up_sha,
            conversion=conversion_name(kind),
            note=f"{repo}@{commit}:{up_path}"
            + ("" if kind == "identical" else f"; {kind.removeprefix('conversion: ')}"),
        )
        if name in FILE_CITATIONS:
            entry["citation"] = FILE_CITATIONS[name]
        if name in copies:
            entry["extra"] = {"upstream_paths": copies[name]}
        files.append(entry)
    for name, (repo, commit, up_path) in LICENCE_FILES.items():
        sha = sha256_file(folder / name)
        files.append(
            dict(name=name, dataset=name.split("/")[0], size=(folder / name).stat().st_size,
                 sha256=sha, url=f"{_RAW}/{repo}/{commit}/{up_path}", upstream_sha256=sha,
                 note=f"{repo}@{commit}:{up_path}")
        )  # fmt: skip
    man = folder / "micrographs/manifest.csv"
    files.append(
        dict(name="micrographs/manifest.csv", dataset="micrographs", size=man.stat().st_size,
             sha256=sha256_file(man), url="", upstream_sha256="", conversion="micrograph_manifest",
             note="generated from the registry's micrograph entries and their PNG files")
    )  # fmt: skip
    for entry in files:
        p = folder / entry["name"]
        size, sha = p.stat().st_size, sha256_file(p)
        if (size, sha) != (entry["size"], entry["sha256"]):
            raise ValueError(
                f"{entry['name']}: SOURCES.md says {entry['size']} bytes sha256 "
                f"{entry['sha256']}, the file has {size} bytes sha256 {sha}"
            )
    listed = {e["name"] for e in files} | {"README.md", "SOURCES.md"}
    present = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}
    if present - listed:
        raise ValueError(f"files in {folder} in no registry entry: {sorted(present - listed)}")
    return {"format": 1, "datasets": DATASETS, "files": files}


def main(argv: list[str] | None = None) -> int:
    """``python -m xent_jax.data._build_registry FOLDER [OUT]``: writes the registry JSON."""
    argv = sys.argv[1:] if argv is None else argv
    if not 1 <= len(argv) <= 2:
        print("usage: python -m xent_jax.data._build_registry FOLDER [OUT]", file=sys.stderr)
        return 2
    doc = build_registry(argv[0])
    out = Path(argv[1]) if len(argv) > 1 else REGISTRY_PATH
    out.write_text(json.dumps(doc, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"{out}: {len(doc['files'])} files, {len(doc['datasets'])} data sets")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
