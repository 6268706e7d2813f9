"""What this runtime is: Python, TensorFlow, Keras and the GPU, against the ranges we support.

The supported ranges have one owner, ``pyproject.toml``; they are read back here from the
installed package's metadata, so a Colab runtime outside them is named in the report instead of
failing later in an obscure way. Used by every notebook's setup cell and by the CI legs.
"""

from __future__ import annotations

import platform
import sys
from importlib import metadata

#: Distributions whose version the report shows (the stack the engine depends on).
STACK = ("tensorflow", "keras", "numpy")


def installed_version(distribution: str) -> str | None:
    """The installed version of ``distribution``, or None when it is not installed."""
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def declared_ranges() -> dict[str, str]:
    """``{distribution: specifier}`` for the stack, from fashion-mrcnn's own metadata
    (``requires-python`` included as ``python``). Empty when the package is not installed."""
    try:
        meta = metadata.metadata("fashion-mrcnn")
    except metadata.PackageNotFoundError:
        return {}
    from packaging.requirements import Requirement

    ranges = {"python": meta.get("Requires-Python", "")}
    for text in meta.get_all("Requires-Dist") or []:
        req = Requirement(text)
        if req.marker is None and req.name in STACK:
            ranges[req.name] = str(req.specifier)
    return ranges


def outside_ranges() -> list[str]:
    """One line per stack component whose installed version is outside the declared range."""
    from packaging.specifiers import SpecifierSet

    found = {"python": platform.python_version()}
    found.update({name: installed_version(name) for name in STACK})
    problems = []
    for name, spec in declared_ranges().items():
        version = found.get(name)
        if spec and version is not None and version not in SpecifierSet(spec):
            problems.append(f"{name} {version} is outside the supported range {spec}")
    return problems


def gpus() -> list[str]:
    """Names of the GPUs TensorFlow sees (imports TensorFlow)."""
    import tensorflow as tf

    return [d.name for d in tf.config.list_physical_devices("GPU")]


def runtime_report() -> str:
    """A few lines: Python, TensorFlow, Keras, NumPy versions, the GPU, and any version outside
    the supported ranges (with what to do about it)."""
    versions = ", ".join(f"{n} {installed_version(n) or 'not installed'}" for n in STACK)
    devices = gpus()
    lines = [
        f"Python {platform.python_version()} ({sys.executable}); {versions}",
        "GPU: "
        + (", ".join(devices) if devices else "none (Colab: Runtime > Change runtime type)"),
    ]
    for problem in outside_ranges():
        lines.append(f"warning: {problem}; see the support table in the README")
    return "\n".join(lines)
