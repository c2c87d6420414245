"""The published CPU snapshot (results/published/cpu): every row carries what reproduces it, and a
published row retrains, in a fresh process, to the same errors (relative 1e-10, float64 on CPU,
on the CPU model it was written on; on another model the bits differ: pinnarena.cpu_model)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from conftest import default_xla_env

from pinnarena.config import RunConfig
from pinnarena.cpu_model import cpu_model
from pinnarena.reproduce import rerun_config, threads_for
from pinnarena.results import read_summaries

ROOT = Path(__file__).resolve().parent.parent
PUBLISHED = ROOT / "results" / "published" / "cpu"


@pytest.fixture(scope="module")
def rows() -> pd.DataFrame:
    df = read_summaries(PUBLISHED / "runs")
    if df.empty:
        pytest.fail(f"no published rows under {PUBLISHED / 'runs'}: the CPU snapshot is part of the repository")
    return df


def test_every_published_row_records_what_reproduces_it(rows):
    assert rows["run_id"].is_unique
    for _, r in rows.iterrows():
        assert RunConfig.from_json(r["config"]).run_id == r["run_id"]  # the recorded config is the run's
        assert rerun_config(r).steps == r["steps_done"]
        assert r["jax_version"] and r["pinnarena_version"], r["run_id"]
        assert len(r["git_commit"]) == 40 and not r["git_commit"].endswith("-dirty"), (r["run_id"], r["git_commit"])
        assert r["status"] in ("ok", "diverged", "timeout", "failed"), r["run_id"]
        assert threads_for(r) == 1, f"{r['run_id']}: the CPU suite runs one core per job"
        assert r["precision"] == "float64"
        if pd.notna(r["budget_seconds"]):  # time-budgeted studies count the job's own CPU time
            assert r["budget_clock"] == "cpu", r["run_id"]
        else:  # a step-budgeted study (regimes) ends on its steps
            assert r["status"] != "ok" or r["steps_done"] == r["budget_steps"], r["run_id"]
        assert isinstance(r["cpu_model"], str) and " | " in r["cpu_model"], f"{r['run_id']}: no CPU model"


def _reproduce(row):
    env = {k: v for k, v in default_xla_env().items() if k != "PINNARENA_PIN_CORE"}  # the suite's XLA flags
    res = subprocess.run([sys.executable, "-m", "pinnarena", "reproduce", row["run_id"], "--from", str(PUBLISHED),
                          "--quiet"], capture_output=True, text=True, cwd=ROOT, env=env, timeout=900)
    lines = res.stdout.splitlines()
    table = {ln.split()[0]: ln.split()[1:] for ln in lines if ln.split()[:1] in (["rel_l2"], ["val_rel_l2"], ["loss_final"])}
    assert set(table) == {"rel_l2", "val_rel_l2", "loss_final"}, res.stdout + res.stderr
    assert float(table["rel_l2"][0]) == pytest.approx(row["rel_l2"], rel=1e-15)  # the published value, printed
    return res, lines, float(table["rel_l2"][2])


def test_a_published_row_reproduces_to_1e_10(rows):
    """The cheapest published row written on this machine's CPU model agrees to 1e-10. Where the
    snapshot has no row of this CPU model (a CI machine of another generation), the cheapest row
    still retrains and ``reproduce`` names both CPU models; its errors then agree only roughly."""
    ok = rows[(rows["status"] == "ok") & (rows["steps_done"] > 1)]
    here = ok[ok["cpu_model"] == cpu_model()]
    pool = here if len(here) else ok
    cheapest = pool.loc[(pool["train_seconds"] + pool["compile_seconds"]).idxmin()]
    res, lines, rel = _reproduce(cheapest)
    if len(here):
        assert res.returncode == 0 and lines[-1].startswith("agree"), res.stdout + res.stderr
        assert rel <= 1e-10
    else:
        assert "another CPU model" in res.stdout and cpu_model() in res.stdout, res.stdout
        assert rel < 0.5, res.stdout  # the same training, other rounding: not another result
