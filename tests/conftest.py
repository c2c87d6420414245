"""Shared fixtures: tiny run settings that keep every training test to a few seconds on a CPU."""
from __future__ import annotations

import jax
import pytest

TINY = {"model.width": 16, "model.depth": 2, "eval_every": 50, "points_scale": 0.125}


@pytest.fixture(autouse=True)
def _restore_x64():
    """Training may switch float64 on; put the global flag back after every test."""
    before = jax.config.jax_enable_x64
    yield
    jax.config.update("jax_enable_x64", before)


@pytest.fixture
def tiny():
    return dict(TINY)
