"""Data loaders: bundled and shared data sets, each raising a clear error when absent.

Loaders of files never drop a record silently: what they return carries a :class:`LoadReport`
(rows read, kept and dropped by reason, with the first offending line numbers).
"""

from xent_jax.data._registry import (
    DataFile,
    Dataset,
    MissingDataError,
    Registry,
    find_file,
    load_registry,
    search_dirs,
)
from xent_jax.data._report import LoadReport
from xent_jax.data.images import (
    load_digits,
    load_mnist5k,
    load_mnist10k,
    read_idx,
    train_test_split,
    train_val_test_split,
)
from xent_jax.data.micrographs import MATERIALS, MicrographSet, load_micrographs, split_by_image
from xent_jax.data.mixtures import grid_centers, mixture, ring_centers, sample_mixture
from xent_jax.data.patches import (
    Patches,
    area_fraction,
    intensity_histogram,
    sample_patches,
    stretch_contrast,
)
from xent_jax.data.proteins import (
    SCL_CLASSES,
    SCL_LOCATIONS,
    DeepLocSet,
    bucket_batches,
    load_deeploc,
    load_scl,
    scl_targets,
)
from xent_jax.data.supercon import (
    ELEMENTS,
    SuperconData,
    composition_key,
    fractions_from_formula,
    load_supercon,
    parse_formula,
    sample_independent_marginals,
)

__all__ = [
    "DataFile",
    "Dataset",
    "MissingDataError",
    "Registry",
    "find_file",
    "load_registry",
    "search_dirs",
    "LoadReport",
    "MATERIALS",
    "MicrographSet",
    "load_micrographs",
    "split_by_image",
    "Patches",
    "area_fraction",
    "intensity_histogram",
    "sample_patches",
    "stretch_contrast",
    "ELEMENTS",
    "SuperconData",
    "composition_key",
    "fractions_from_formula",
    "grid_centers",
    "load_supercon",
    "mixture",
    "parse_formula",
    "ring_centers",
    "sample_independent_marginals",
    "sample_mixture",
    "load_digits",
    "load_mnist5k",
    "load_mnist10k",
    "read_idx",
    "train_test_split",
    "train_val_test_split",
    "SCL_CLASSES",
    "SCL_LOCATIONS",
    "DeepLocSet",
    "bucket_batches",
    "load_deeploc",
    "load_scl",
    "scl_targets",
]
