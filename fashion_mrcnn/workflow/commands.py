"""Model sub-commands of ``fashion-mrcnn`` (filled in as the engine lands)."""

from __future__ import annotations


def register(subparsers) -> None:
    """Add the model sub-commands to ``subparsers``."""
