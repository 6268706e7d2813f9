"""model.torch_legacy: a legacy-format torch state_dict built here by hand (no torch) reads back
exactly; strided views, dtypes, and refusals (foreign globals, zip files, bad magic, truncation)."""

from __future__ import annotations

import numpy as np
import pytest

from fashion_mrcnn.errors import WeightsError
from fashion_mrcnn.model.torch_legacy import read_state_dict
from tests.model.torch_legacy_files import op, write_legacy


def _sample(rng):
    conv = rng.standard_normal((4, 3, 3, 2)).astype("<f4")  # [out, in, kh, kw]
    # stored channels-last ([kh, kw, in, out] contiguous), as a TF-converted file does
    conv_storage = np.ascontiguousarray(conv.transpose(2, 3, 1, 0)).ravel()
    bias_storage = np.concatenate([np.zeros(3, "<f4"), rng.standard_normal(4).astype("<f4")])
    count = np.array([5], "<i8")
    tensors = {
        "layer.weight": (conv_storage, 0, (4, 3, 3, 2), (1, 4, 24, 12)),
        "layer.bias": (bias_storage, 3, (4,), (1,)),
        "bn.num_batches_tracked": (count, 0, (), ()),
    }
    expected = {"layer.weight": conv, "layer.bias": bias_storage[3:], "bn.num_batches_tracked": 5}
    return tensors, expected


def test_reads_back_a_hand_built_file(tmp_path):
    tensors, expected = _sample(np.random.default_rng(0))
    out = read_state_dict(write_legacy(tmp_path / "w.pth", tensors))
    assert list(out) == list(tensors)  # key order kept
    np.testing.assert_array_equal(out["layer.weight"], expected["layer.weight"])
    np.testing.assert_array_equal(out["layer.bias"], expected["layer.bias"])
    assert out["layer.weight"].dtype == np.float32
    assert out["bn.num_batches_tracked"].shape == ()
    assert out["bn.num_batches_tracked"].dtype == np.int64
    assert int(out["bn.num_batches_tracked"]) == 5


def test_refuses_a_foreign_global(tmp_path):
    tensors, _ = _sample(np.random.default_rng(1))
    evil = op("x") + b"cos\nsystem\n" + op("true") + b"\x85R"  # os.system("true")
    path = write_legacy(tmp_path / "evil.pth", tensors, inject=evil)
    with pytest.raises(WeightsError, match="refusing to unpickle global os.system"):
        read_state_dict(path)


def test_refuses_wrong_magic_zip_and_truncation(tmp_path):
    tensors, _ = _sample(np.random.default_rng(2))
    with pytest.raises(WeightsError, match="magic number"):
        read_state_dict(write_legacy(tmp_path / "m.pth", tensors, magic=12345))
    (tmp_path / "z.pth").write_bytes(b"PK\x03\x04" + b"\0" * 30)
    with pytest.raises(WeightsError, match="zip-format"):
        read_state_dict(tmp_path / "z.pth")
    with pytest.raises(WeightsError, match="truncated"):
        read_state_dict(write_legacy(tmp_path / "t.pth", tensors, truncate=3))


def test_view_past_its_storage_is_an_error(tmp_path):
    storage = np.arange(4, dtype="<f4")
    path = write_legacy(tmp_path / "v.pth", {"w": (storage, 2, (4,), (1,))})
    with pytest.raises(WeightsError, match="reaches past its storage"):
        read_state_dict(path)
