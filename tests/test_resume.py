"""Kill a training job mid-way; restarting it resumes from its checkpoint and ends identically."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest

ARGS = ["--problem", "poisson-2d-k1", "--optimizer", "adam", "--seed", "0", "1", "--steps", "400",
        "--set", "model.width=16", "--set", "model.depth=2", "--set", "points_scale=0.125",
        "--set", "eval_every=20", "--set", "checkpoint_every=1", "--set", "stationary=false", "--quiet"]


def _run(out, ckpt, env):
    return subprocess.Popen([sys.executable, "-m", "pinnarena", "run", *ARGS, "--out", str(out), "--checkpoint", str(ckpt)],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


@pytest.fixture
def env(tmp_path):
    return {**os.environ, "PINNARENA_JAX_CACHE": "off", "PYTHONUNBUFFERED": "1"}


def test_killed_run_resumes_with_the_same_result(tmp_path, env):
    ref = _run(tmp_path / "ref", tmp_path / "ref-ckpt", env)
    assert ref.wait(timeout=600) == 0, ref.stderr.read().decode()

    ckpt = tmp_path / "ckpt"
    job = _run(tmp_path / "out", ckpt, env)
    deadline = time.time() + 600
    while not (ckpt / "checkpoint.npz").exists():  # wait for the first checkpoint, then kill
        assert job.poll() is None, "job ended before writing a checkpoint"
        assert time.time() < deadline
        time.sleep(0.05)
    time.sleep(0.5)
    job.send_signal(signal.SIGKILL)
    job.wait()
    assert not (tmp_path / "out" / "seed0" / "summary.parquet").exists(), "job finished before it was killed"
    assert (ckpt / "checkpoint.npz").exists()

    again = _run(tmp_path / "out", ckpt, env)
    assert again.wait(timeout=600) == 0, again.stderr.read().decode()
    assert not (ckpt / "checkpoint.npz").exists()  # removed once the results are written
    for seed in (0, 1):
        a = pd.read_parquet(tmp_path / "ref" / f"seed{seed}" / "summary.parquet").iloc[0]
        b = pd.read_parquet(tmp_path / "out" / f"seed{seed}" / "summary.parquet").iloc[0]
        assert b["preemptions"] == 1 and a["preemptions"] == 0
        assert b["rel_l2"] == a["rel_l2"] and b["steps_done"] == a["steps_done"] == 400
        assert b["grad_evals"] == a["grad_evals"]
        ca = pd.read_parquet(tmp_path / "ref" / f"seed{seed}" / "curves.parquet")
        cb = pd.read_parquet(tmp_path / "out" / f"seed{seed}" / "curves.parquet")
        pd.testing.assert_series_equal(ca["step"], cb["step"])
        pd.testing.assert_series_equal(ca["loss_total"], cb["loss_total"])
        pd.testing.assert_series_equal(ca["rel_l2"], cb["rel_l2"])


def test_a_checkpoint_of_another_configuration_is_ignored(tmp_path, env):
    from pinnarena import checkpoint
    from pinnarena.config import resolve
    from pinnarena.training import build

    a = build(resolve("poisson-2d-k1", steps=10, sets={"model.width": 8, "model.depth": 1}))
    fp = checkpoint.fingerprint(["a"], a.init_carry)
    checkpoint.save(tmp_path, a.init_carry, {"done": 0}, fp)
    assert checkpoint.load(tmp_path, a.init_carry, checkpoint.fingerprint(["b"], a.init_carry)) is None
    carry, meta = checkpoint.load(tmp_path, a.init_carry, fp)
    assert meta["done"] == 0
    import jax
    import numpy as np

    for x, y in zip(jax.tree_util.tree_leaves(carry), jax.tree_util.tree_leaves(a.init_carry)):
        assert np.array_equal(x, y) and x.dtype == y.dtype
