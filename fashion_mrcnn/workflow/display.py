"""Showing a stage's artifacts inside its notebook."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path


def show_artifacts(
    paths: Iterable[str | Path], suffixes: tuple[str, ...] = (".png",)
) -> list[Path]:
    """Display the image files among ``paths`` inline (in a notebook); return those shown.

    Missing files raise FileNotFoundError: an artifact a stage reported must exist.
    """
    from IPython.display import Image, display

    shown = []
    for path in map(Path, paths):
        if path.suffix.lower() not in suffixes:
            continue
        if not path.is_file():
            raise FileNotFoundError(f"artifact {path} was reported but does not exist")
        display(Image(filename=str(path)))
        shown.append(path)
    return shown
