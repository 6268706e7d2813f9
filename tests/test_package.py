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
