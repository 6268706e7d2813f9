"""The batched detect loop with a fake model (no TensorFlow): batches of exactly BATCH_SIZE, a
short last batch padded and its padding dropped, unreadable items raised or skipped."""

from __future__ import annotations

import numpy as np
import pytest

from fashion_mrcnn.errors import FashionDataError, SkipReport
from fashion_mrcnn.inference.detect import detect_batches, detect_dataset


class _Config:
    BATCH_SIZE = 2


class _Model:
    """Records each batch; its one "detection" is the image's fill value."""

    config = _Config()

    def __init__(self):
        self.batches = []

    def detect(self, images):
        self.batches.append([int(image[0, 0, 0]) for image in images])
        return [{"value": int(image[0, 0, 0])} for image in images]


def _load(item):
    if item < 0:
        raise FashionDataError(f"{item}: unreadable")
    return np.full((4, 4, 3), item, dtype=np.uint8)


def test_short_last_batch_is_padded_and_the_padding_dropped():
    model = _Model()
    found = list(detect_batches(model, [1, 2, 3], _load))
    assert [item for item, _, _ in found] == [1, 2, 3]
    assert [result["value"] for _, _, result in found] == [1, 2, 3]
    assert model.batches == [[1, 2], [3, 3]]


def test_unreadable_items_raise_or_go_to_the_skip_report():
    with pytest.raises(FashionDataError, match="-1: unreadable"):
        list(detect_batches(_Model(), [1, -1, 2], _load))
    skipped = SkipReport("detect")
    model = _Model()
    found = list(detect_batches(model, [1, -1, 2], _load, skipped=skipped))
    assert [item for item, _, _ in found] == [1, 2]
    assert len(skipped) == 1
    assert model.batches == [[1, 1], [2, 2]]


def test_detect_dataset_returns_the_results_in_order():
    class _Dataset:
        load_image = staticmethod(_load)

    results = detect_dataset(_Model(), _Dataset(), [5, 6, 7])
    assert [r["value"] for r in results] == [5, 6, 7]


def _screen_line(stderr: str) -> str:
    """What a terminal shows of the progress bar: the text after its last carriage return."""
    return stderr.split("\r")[-1].strip()


def test_a_failed_pass_leaves_no_progress_bar_above_its_error(capsys):
    list(detect_batches(_Model(), [1, 2, 3], _load, progress=True))
    assert _screen_line(capsys.readouterr().err).startswith("detect: 100%")
    with pytest.raises(FashionDataError):
        list(detect_batches(_Model(), [-1, 2, 3], _load, progress=True))
    assert _screen_line(capsys.readouterr().err) == ""
