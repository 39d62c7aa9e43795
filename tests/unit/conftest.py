from __future__ import annotations

import pytest

from tests.support.e2e_world import World, new_world


@pytest.fixture
def world() -> World:
    return new_world()
