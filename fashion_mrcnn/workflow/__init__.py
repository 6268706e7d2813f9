"""Workflow layer: the functions the CLI, the notebooks and the demo share.

``register(subparsers)`` adds the model commands (train, evaluate, predict, submit, demo, tune,
pipeline, ...) to the ``fashion-mrcnn`` parser; each command calls a function of this package.
"""

from __future__ import annotations


def register(subparsers) -> None:
    """Add the workflow sub-commands to ``subparsers`` (an argparse sub-parser action)."""
    from fashion_mrcnn.workflow import commands

    commands.register(subparsers)
