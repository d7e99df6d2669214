"""The one way figures are made and saved (matplotlib, headless)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["figure", "save_figure"]


def figure(nrows: int = 1, ncols: int = 1, **kwargs: Any) -> tuple[Any, Any]:
    """``plt.subplots`` on the headless Agg backend (``squeeze=False`` unless given).

    Returns:
      ``(fig, axes)``; ``axes`` is a 2-D array ``[nrows, ncols]`` unless ``squeeze=True``.

    Examples:
      >>> fig, axes = figure(1, 2, figsize=(4, 2))
      >>> axes.shape
      (1, 2)
      >>> import matplotlib.pyplot as plt; plt.close(fig)
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    kwargs.setdefault("squeeze", False)
    return plt.subplots(nrows, ncols, **kwargs)


def save_figure(fig: Any, path: str | Path, *, dpi: int = 120) -> Path:
    """Saves ``fig`` as a PNG at ``path`` (``.png`` added when missing), closes it, returns path.

    Examples:
      >>> import tempfile, pathlib
      >>> fig, axes = figure()
      >>> _ = axes[0, 0].plot([0, 1], [1, 0])
      >>> save_figure(fig, pathlib.Path(tempfile.mkdtemp()) / "line").name
      'line.png'
    """
    import matplotlib.pyplot as plt

    path = Path(path)
    if path.suffix.lower() != ".png":
        path = path.with_name(path.name + ".png")
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
    return path
