"""CI: installing fashion-mrcnn on top of a Colab-like stack must leave that stack alone.

usage: python .ci/check_install.py BEFORE_FREEZE REQUIREMENT...

BEFORE_FREEZE is `pip freeze --all` taken after the preinstall and before the project install;
each REQUIREMENT is one of the preinstalled packages ("tensorflow==2.19.*"). Fails (exit 1) when
- a preinstalled package's version changed (pip replaced Colab's TensorFlow or Keras),
- more than one installed distribution ships files of the `tensorflow` or `keras` import package
  (a `tensorflow-cpu` / `tensorflow-intel` / `tf-nightly` / `keras-nightly` written over it),
- `pip check` finds a broken requirement (e.g. a NumPy too new for the preinstalled TensorFlow).
"""

from __future__ import annotations

import subprocess
import sys
from importlib import metadata

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name


def _freeze(lines) -> dict[str, str]:
    out = {}
    for line in lines:
        if "==" in line:
            name, version = line.strip().split("==", 1)
            out[canonicalize_name(name)] = version
    return out


def _owners(import_name: str) -> list[str]:
    """Installed distributions with files under ``import_name/`` in site-packages."""
    owners = []
    for dist in metadata.distributions():
        files = dist.files or []
        if any(f.parts and f.parts[0] == import_name for f in files):
            owners.append(f"{dist.metadata['Name']} {dist.version}")
    return sorted(set(owners))


def main(argv: list[str]) -> int:
    before_path, *requirements = argv
    with open(before_path) as f:
        before = _freeze(f)
    after = _freeze(
        subprocess.run(
            [sys.executable, "-m", "pip", "freeze", "--all"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.splitlines()
    )
    problems = []
    for text in requirements:
        name = canonicalize_name(Requirement(text).name)
        if before.get(name) != after.get(name):
            problems.append(
                f"{name}: {before.get(name)} before the project install, now {after.get(name)}"
            )
        else:
            print(f"ok: {name} {after[name]} unchanged by the project install")
    for import_name in ("tensorflow", "keras"):
        owners = _owners(import_name)
        if len(owners) != 1:
            problems.append(f"`{import_name}` package files come from {owners or 'nothing'}")
        else:
            print(f"ok: `{import_name}` files come from one distribution, {owners[0]}")
    check = subprocess.run([sys.executable, "-m", "pip", "check"], capture_output=True, text=True)
    if check.returncode != 0:
        problems.append("pip check:\n" + check.stdout + check.stderr)
    else:
        print("ok: pip check finds no broken requirement")
    for p in problems:
        print(f"FAIL: {p}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
