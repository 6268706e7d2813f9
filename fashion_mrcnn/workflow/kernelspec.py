"""The Jupyter kernel papermill runs the notebooks with: always this interpreter.

A kernelspec for ``sys.executable`` is written to a private directory (per user and interpreter)
put first on ``JUPYTER_PATH`` for the duration of a run, so a fresh virtualenv or a CI runner
needs no ``ipykernel install`` step.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path


def _kernel_root() -> Path:
    """Private Jupyter data dir for this interpreter's kernelspec (per user, per interpreter)."""
    digest = hashlib.sha1(sys.executable.encode()).hexdigest()[:10]
    user = os.environ.get("USER") or str(os.getuid() if hasattr(os, "getuid") else "user")
    return Path(tempfile.gettempdir()) / f"fashion-mrcnn-jupyter-{user}" / digest


def current_kernel_name() -> str:
    """Name of the kernelspec that runs ``sys.executable``."""
    return "fashion-mrcnn-" + hashlib.sha1(sys.executable.encode()).hexdigest()[:10]


def ensure_kernelspec() -> Path:
    """Write (idempotently) a kernelspec for ``sys.executable``; return the Jupyter data dir.

    The spec runs ``sys.executable -m ipykernel_launcher`` with TensorFlow's C++ logging quieted
    and matplotlib's inline backend, so figures land in the executed notebook.
    """
    root = _kernel_root()
    spec_dir = root / "kernels" / current_kernel_name()
    spec = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": f"fashion-mrcnn ({sys.executable})",
        "language": "python",
        "env": {
            "TF_CPP_MIN_LOG_LEVEL": os.environ.get("TF_CPP_MIN_LOG_LEVEL", "2"),
            "MPLBACKEND": "module://matplotlib_inline.backend_inline",
            "PYTHONUNBUFFERED": "1",
        },
        "metadata": {"debugger": False},
    }
    text = json.dumps(spec, indent=1)
    path = spec_dir / "kernel.json"
    if not path.is_file() or path.read_text() != text:
        spec_dir.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(text)
        tmp.replace(path)
    return root


@contextlib.contextmanager
def jupyter_path(extra: Path) -> Iterator[None]:
    """Put ``extra`` first on JUPYTER_PATH inside the block (restored afterwards)."""
    old = os.environ.get("JUPYTER_PATH")
    os.environ["JUPYTER_PATH"] = os.pathsep.join([str(extra)] + ([old] if old else []))
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("JUPYTER_PATH", None)
        else:
            os.environ["JUPYTER_PATH"] = old
