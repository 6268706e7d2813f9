"""Session fixtures of the hostile-input suite: the shared inputs (``hostile_inputs.World``)."""

from __future__ import annotations

import pytest

from tests.hostile.hostile_inputs import World


@pytest.fixture(scope="session")
def world(tmp_path_factory) -> World:
    return World(tmp_path_factory.mktemp("hostile"))
