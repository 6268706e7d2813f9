"""Showing a stage's artifacts in its notebook."""

import pytest

from fashion_mrcnn.workflow import display


def test_show_artifacts_displays_images_only_and_checks_they_exist(tmp_path):
    from PIL import Image

    png = tmp_path / "a.png"
    Image.new("RGB", (4, 4)).save(png)
    csv = tmp_path / "t.csv"
    csv.write_text("a\n")
    assert display.show_artifacts([png, csv]) == [png]
    with pytest.raises(FileNotFoundError, match="gone.png was reported but does not exist"):
        display.show_artifacts([tmp_path / "gone.png"])
