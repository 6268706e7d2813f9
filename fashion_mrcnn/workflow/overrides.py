"""Command-line ``NAME=VALUE`` / ``STAGE.NAME=VALUE`` notebook parameters (``--set`` of
``fashion-mrcnn tune`` and ``pipeline``)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from fashion_mrcnn.errors import ConfigError
from fashion_mrcnn.workflow.papermill_runner import stage_name


def parse_overrides(items: Iterable[str]) -> dict[str, Any]:
    """Parameters from command-line ``NAME=VALUE`` / ``STAGE.NAME=VALUE`` strings.

    Values are read as YAML (``1e-3`` is a float, ``[1, 2]`` a list, ``cpu-small`` a string);
    ``STAGE`` is a stage name or number (``02.heads_epochs=3``) and nests the value under that
    stage, the form ``run_pipeline`` takes. Raises ConfigError naming the malformed item.
    """
    import yaml

    from fashion_mrcnn.workflow.grid import parse_value

    out: dict[str, Any] = {}
    for item in items:
        name, sep, text = item.partition("=")
        name = name.strip()
        if not sep or not name:
            raise ConfigError(f"parameter {item!r}: expected NAME=VALUE or STAGE.NAME=VALUE")
        try:
            value = parse_value(text)
        except yaml.YAMLError as exc:
            problem = " ".join(ln.strip() for ln in str(exc).splitlines() if ln.strip("^ "))
            raise ConfigError(f"parameter {item!r}: value is not valid YAML ({problem})") from exc
        stage, dot, key = name.rpartition(".")
        if dot:
            matched = stage_name(stage)
            if matched is None:
                raise ConfigError(f"parameter {item!r}: unknown stage {stage!r}")
            if not key.isidentifier():
                raise ConfigError(f"parameter {item!r}: {key!r} is not a parameter name")
            out.setdefault(matched, {})[key] = value
        elif not name.isidentifier():
            raise ConfigError(f"parameter {item!r}: {name!r} is not a parameter name")
        else:
            out[name] = value
    return out
