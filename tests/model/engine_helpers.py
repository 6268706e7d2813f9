"""Helpers shared by the engine tests (a uniquely named module: several test folders have a
``conftest``): a tiny in-memory dataset of synthetic scenes and the cpu-smoke config."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from fashion_mrcnn.config import Config
from fashion_mrcnn.data.synthetic import CATEGORY_IDS, render_scene


class SceneDataset:
    """A minimal Matterport-style Dataset over in-memory scenes.

    ``scenes``: list of ``(image uint8 [H, W, 3], masks bool [H, W, N], class_ids int32 [N])``
    with internal class ids (1..K); ``box_only``: optional list of bool [N] per scene.
    """

    def __init__(self, scenes, num_classes, box_only=None):
        self.scenes = scenes
        self.num_classes = num_classes
        self.class_names = ["BG"] + [f"c{i}" for i in range(1, num_classes)]
        self.image_ids = np.arange(len(scenes))
        self.image_info = [{"source": "synthetic", "id": i} for i in range(len(scenes))]
        self.source_class_ids = {"synthetic": list(range(num_classes))}
        self.box_only = box_only

    def load_image(self, i):
        return self.scenes[i][0]

    def load_mask(self, i):
        return self.scenes[i][1], self.scenes[i][2]

    def load_instances(self, i):
        masks, class_ids = self.load_mask(i)
        flags = (
            np.zeros(len(class_ids), bool)
            if self.box_only is None
            else np.asarray(self.box_only[i])
        )
        return {"masks": masks, "class_ids": class_ids, "box_only": flags, "attribute_ids": []}

    def image_reference(self, i):
        return f"scene {i}"


def synthetic_scenes(n, size=128, seed=0, min_instances=1, max_instances=4, min_area=None):
    """``n`` rendered scenes with internal class ids 1..7 (``CATEGORY_IDS`` order)."""
    lookup = {c: i + 1 for i, c in enumerate(CATEGORY_IDS)}
    rng = np.random.default_rng(seed)
    scenes = []
    for _ in range(n):
        image, masks, cats = render_scene(
            rng, size, min_instances=min_instances, max_instances=max_instances, min_area=min_area
        )
        scenes.append((image, masks, np.array([lookup[int(c)] for c in cats], np.int32)))
    return scenes


def smoke_config(**overrides):
    """The cpu-smoke preset for the 7 synthetic categories."""
    values = {
        "NAME": "test",
        "NUM_CLASSES": 1 + len(CATEGORY_IDS),
        "STEPS_PER_EPOCH": 2,
        "VALIDATION_STEPS": 1,
    }
    values.update(overrides)
    return Config.preset("cpu-smoke", **values)


def run_script_result(script_text: str, tmp_path, *args: str) -> dict:
    """Run ``script_text`` in a fresh interpreter (TF devices / policies configured before TF
    starts) with args ``(tmp_path / "logs", tests/model, *args)`` and return the JSON of its last
    ``RESULT {...}`` line; fails with the script's stderr tail when it exits non-zero."""
    script = tmp_path / "run.py"
    script.write_text(script_text)
    repo = Path(__file__).resolve().parents[2]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONPATH": str(repo)}
    proc = subprocess.run(
        [sys.executable, str(script), str(tmp_path / "logs"), str(Path(__file__).parent), *args],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
        cwd=repo,
    )
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    assert proc.returncode == 0 and lines, proc.stderr[-3000:]
    return json.loads(lines[-1][len("RESULT ") :])


class AttributeSceneDataset(SceneDataset):
    """:class:`SceneDataset` whose instances carry attribute ids: ``scenes`` are ``(image,
    masks, class_ids, attribute_ids)`` with attribute_ids a list of N lists of source ids."""

    def load_mask(self, i):
        return self.scenes[i][1], self.scenes[i][2]

    def load_instances(self, i):
        return {**super().load_instances(i), "attribute_ids": self.scenes[i][3]}


def attribute_scenes(n, size=128, seed=0, min_instances=1, max_instances=4):
    """``n`` rendered scenes with internal class ids 1..7 and the generator's attribute ids."""
    from fashion_mrcnn.data.synthetic import render_scene_with_attributes

    lookup = {c: i + 1 for i, c in enumerate(CATEGORY_IDS)}
    rng = np.random.default_rng(seed)
    scenes = []
    for _ in range(n):
        image, masks, cats, attrs = render_scene_with_attributes(
            rng, size, min_instances=min_instances, max_instances=max_instances
        )
        ids = np.array([lookup[int(c)] for c in cats], np.int32)
        scenes.append((image, masks, ids, attrs))
    return scenes
