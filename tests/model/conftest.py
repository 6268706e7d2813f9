"""Fixtures for the engine tests (helpers live in ``engine_helpers``)."""

from __future__ import annotations

import pytest

from fashion_mrcnn.data.synthetic import CATEGORY_IDS
from tests.model.engine_helpers import SceneDataset, synthetic_scenes


@pytest.fixture(scope="session")
def scenes():
    return synthetic_scenes(4, size=128, seed=0)


@pytest.fixture()
def scene_dataset(scenes):
    return SceneDataset(scenes, 1 + len(CATEGORY_IDS))
