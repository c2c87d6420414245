"""Shared fixtures: tiny run settings that keep every training test to a few seconds on a CPU."""
from __future__ import annotations

import os

# XLA's backend optimisation is lowered for the tests, as in the smoke suite: at test size
# compilation, not execution, is the cost (30 % of the PirateNet tests' time on 2 cores). Set
# before jax starts its backend, so every xdist worker and every subprocess (snakemake, pinnarena)
# inherits it. Checks of stored arithmetic run with the user's own flags: `default_xla_env`.
# The controller process records the user's flags; xdist workers (started after this ran in the
# controller, so with the lowered flags in XLA_FLAGS) read the record.
_RECORD, _UNSET = "PINNARENA_TEST_USER_XLA_FLAGS", "<unset>"
os.environ.setdefault(_RECORD, os.environ.get("XLA_FLAGS", _UNSET))
ORIGINAL_XLA_FLAGS = None if os.environ[_RECORD] == _UNSET else os.environ[_RECORD]
LOWERED = "--xla_backend_optimization_level=0"
if LOWERED not in (ORIGINAL_XLA_FLAGS or ""):
    os.environ["XLA_FLAGS"] = f"{ORIGINAL_XLA_FLAGS or ''} {LOWERED}".strip()

import jax  # noqa: E402
import pytest  # noqa: E402

# stationary: the final point's classification (a dense Hessian: 2.5-8 CPU-s a run at this size) is
# checked by tests/test_stationary.py, not paid by every training test
TINY = {"model.width": 16, "model.depth": 2, "eval_every": 50, "points_scale": 0.125, "stationary": False}


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
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0)  # eager operations too
    yield where


def default_xla_env(**extra) -> dict:
    """os.environ with the XLA flags the test session started with (not the lowered level):
    for subprocesses whose numbers are compared with numbers stored by a normal run."""
    env = {k: v for k, v in os.environ.items() if k not in ("XLA_FLAGS", _RECORD)}
    if ORIGINAL_XLA_FLAGS is not None:
        env["XLA_FLAGS"] = ORIGINAL_XLA_FLAGS
    env.update(extra)
    return env


@pytest.fixture(autouse=True)
def _restore_x64():
    """Training may switch float64 on; put the global flag back after every test."""
    before = jax.config.jax_enable_x64
    yield
    jax.config.update("jax_enable_x64", before)


@pytest.fixture
def tiny():
    return dict(TINY)


# The longest test files first. xdist's `--dist loadfile` (pyproject's addopts) hands files to
# the workers in collection order, alphabetical by default, which put three of the longest
# (test_training_golden, test_tuning, test_workflow: 678 s of their tests' listed durations out of
# a 1547-s session on 2 workers, `pytest --durations=80` on a shared 2-core machine, 2026-12-07)
# last, and one worker finished them alone. Longest first (the LPT rule) leaves the short files to fill the end.
LONGEST_FIRST = ("test_training_golden.py", "test_pirate.py", "test_training.py", "test_workflow.py",
                 "test_tuning.py", "test_remedy_engine.py", "test_curvature.py", "test_report.py",
                 "test_resume.py", "test_published.py", "test_reference_crosscheck.py",
                 "test_report_browser.py", "test_stationary.py", "test_compare.py", "test_ns_solvers.py")


def pytest_collection_modifyitems(config, items):
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: file order kept otherwise
