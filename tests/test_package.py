import subprocess
import sys

import fashion_mrcnn


def test_public_names_resolve():
    for name in fashion_mrcnn.__all__:
        assert getattr(fashion_mrcnn, name) is not None


def test_unknown_name_raises():
    import pytest

    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        fashion_mrcnn.nope  # noqa: B018


def test_import_does_not_load_tensorflow():
    code = "import sys, fashion_mrcnn, fashion_mrcnn.cli; print('tensorflow' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "False"


def test_environment_yml_pins_what_pyproject_declares():
    """environment.yml (conda) states the same ranges as pyproject.toml for every dependency."""
    import re
    from pathlib import Path

    import pytest
    import yaml
    from packaging.requirements import Requirement

    tomllib = pytest.importorskip("tomllib", reason="tomllib is in the standard library from 3.11")

    root = Path(__file__).resolve().parents[1]
    project = tomllib.loads((root / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    wanted = list(project["dependencies"])
    for text in extras["dev"]:
        req = Requirement(text)
        if req.name == project["name"]:  # "fashion-mrcnn[app]": dev includes the app extra
            wanted += [r for extra in req.extras for r in extras[extra]]
        else:
            wanted.append(text)
    declared = {Requirement(r).name: str(Requirement(r).specifier) for r in wanted}
    env = yaml.safe_load((root / "environment.yml").read_text())["dependencies"]
    entries = [e for e in env if isinstance(e, str)]
    entries += [e for e in next(d["pip"] for d in env if isinstance(d, dict)) if e != "-e ."]
    pinned = {}
    for entry in entries:
        name, spec = re.match(r"([A-Za-z0-9_.-]+)(.*)", entry.replace(" ", "")).groups()
        pinned[name] = str(Requirement(f"x{spec}").specifier)
    assert pinned.pop("python") == str(Requirement("x" + project["requires-python"]).specifier)
    pinned.pop("pip")
    assert pinned == declared
