"""Shared fixtures: tiny run settings that keep every training test to a few seconds on a CPU."""
from __future__ import annotations

import jax
import pytest

TINY = {"model.width": 16, "model.depth": 2, "eval_every": 50, "points_scale": 0.125}


@pytest.fixture(scope="session", autouse=True)
def _compilation_cache(tmp_path_factory):
    """One persistent JAX compilation cache for the whole test session, shared by the xdist
    workers (the parent of their base temp folders): the same tiny program built by several
    tests is compiled once. A cached executable is the one XLA built for the same program and
    flags, so results are the same bits; tests that must compile (or time) on their own turn
    it off (PINNARENA_JAX_CACHE=off in their subprocesses)."""
    root = tmp_path_factory.getbasetemp()
    where = (root.parent if root.name.startswith("popen-gw") else root) / "jax-cache"
    where.mkdir(exist_ok=True)
    jax.config.update("jax_compilation_cache_dir", str(where))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.5)
    yield where


@pytest.fixture(autouse=True)
def _restore_x64():
    """Training may switch float64 on; put the global flag back after every test."""
    before = jax.config.jax_enable_x64
    yield
    jax.config.update("jax_enable_x64", before)


@pytest.fixture
def tiny():
    return dict(TINY)
