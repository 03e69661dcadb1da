"""The neural engine tests need the 'gpu' extra; the tiny weights come from tests/conftest.py."""

from __future__ import annotations

import pytest

pytest.importorskip("diffusers", reason="the neural engines need the 'gpu' extra (torch, diffusers)")
