"""Fixtures shared by the preview engine tests."""

from __future__ import annotations

import numpy as np
import pytest
from preview_helpers import HEIGHT, SHIFT, WIDTH, Frame, synthetic_photo


@pytest.fixture(scope="session")
def photo() -> Frame:
    """A textured stand-in photograph at the test frame size."""
    return synthetic_photo(WIDTH, HEIGHT, 0)


@pytest.fixture(scope="session")
def other_photo(photo: Frame) -> Frame:
    """The same scene later: everything shifted right by SHIFT pixels (a last keyframe)."""
    return np.ascontiguousarray(np.roll(photo, SHIFT, axis=1))
