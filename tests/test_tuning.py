"""The tuning protocol (pinnarena/tuning.py, pinnarena/search_space.py), time budgets, the
validation split, core pinning, and ``pinnarena reproduce``."""
from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import jax
import numpy as np
import pandas as pd
import pytest
import yaml

from pinnarena import optimizers, remedies, search_space, suite, tuning
from pinnarena.config import resolve
from pinnarena.training import _chunk_steps, split_reference

ROOT = Path(__file__).resolve().parents[1]


# ------------------------------------------------------------------ search spaces and trials
SPACE = {"lr": search_space.Log(1e-4, 1e-1), "beta": search_space.Linear(0.5, 0.9),
         "memory": search_space.IntLog(5, 100), "mode": search_space.Choice("a", "b", "c")}


def test_trials_are_deterministic_in_their_seed_and_differ_between_seeds():
    a = search_space.trials(SPACE, 8, seed=3)
    assert a == search_space.trials(SPACE, 8, seed=3)
    assert a != search_space.trials(SPACE, 8, seed=4)
    # a prefix: asking for fewer trials gives the first ones of the same sequence
    assert search_space.trials(SPACE, 8, seed=3)[:4] == search_space.trials(SPACE, 4, seed=3)


def test_trials_respect_each_dimension_kind_and_cover_the_space():
    t = search_space.trials(SPACE, 64, seed=0)
    lr = np.array([x["lr"] for x in t])
    assert (lr >= 1e-4).all() and (lr <= 1e-1).all()
    # log scale: a balanced Sobol set puts about half the points below the geometric midpoint
    assert 0.4 < np.mean(lr < math.sqrt(1e-4 * 1e-1)) < 0.6
    beta = np.array([x["beta"] for x in t])
    assert (beta >= 0.5).all() and (beta <= 0.9).all() and 0.4 < np.mean(beta < 0.7) < 0.6
    mem = [x["memory"] for x in t]
    assert all(isinstance(m, int) and 5 <= m <= 100 for m in mem)
    assert {x["mode"] for x in t} == {"a", "b", "c"}


def test_bad_dimensions_and_unknown_names_are_refused():
    with pytest.raises(ValueError, match="0 < lo < hi"):
        search_space.Log(0.0, 1.0)
    with pytest.raises(ValueError, match="lo < hi"):
        search_space.Linear(1.0, 1.0)
    with pytest.raises(ValueError, match="not a hyper-parameter"):
        search_space.check({"lrr": search_space.Log(1e-3, 1e-2)}, {"lr": 1e-3}, "optimizer 'x'")


@pytest.mark.parametrize("kind,names", [("opt", optimizers.names()), ("remedy", remedies.names())])
def test_every_registered_method_declares_a_valid_search_space(kind, names):
    for name in names:
        space = tuning.declared_space(kind, name)  # raises if undeclared or naming unknown keys
        for trial in search_space.trials(space, 4, 0) if space else []:
            if kind == "opt":
                optimizers.check_hyperparameters(name, trial)
            else:
                remedies.check_hyperparameters(name, trial)


def test_cell_space_namespaces_and_filters_keys():
    full = tuning.cell_space("adam", "grad-norm")
    assert set(full) == {"opt.learning_rate", "opt.b1", "remedy.refresh_every", "remedy.momentum"}
    part = tuning.cell_space("adam", "grad-norm", ["remedy.*", "opt.learning_rate"])
    assert set(part) == {"opt.learning_rate", "remedy.refresh_every", "remedy.momentum"}
    with pytest.raises(ValueError, match="not in the declared space"):
        tuning.cell_space("adam", "none", ["opt.momentum"])
    # a method with nothing to tune has one trial, not N copies of the same run
    assert tuning.trial_settings("adam", "pcgrad", 5, 0, ["remedy.*"]) == [{}]
    assert len(tuning.trial_settings("adam", "pcgrad", 5, 0, ["remedy.*", "opt.learning_rate"])) == 5


# ------------------------------------------------------------------ selection
def _rows(val, test, status=None):
    status = status or ["ok"] * len(val)
    return [{"trial": k, "val_rel_l2": v, "rel_l2": t, "loss_final": 1.0, "status": s}
            for k, (v, t, s) in enumerate(zip(val, test, status))]


def test_selection_follows_the_validation_metric_and_never_the_test_error():
    # the test errors rank the trials the other way round: a selection that peeked would pick 2
    rows = _rows(val=[0.1, 0.3, 0.5], test=[0.9, 0.5, 0.01])
    assert tuning.select(rows, "val_rel_l2")["trial"] == 0
    with pytest.raises(ValueError, match="never used for selection"):
        tuning.select(rows, "rel_l2")


def test_selection_uses_the_median_over_seeds_and_skips_failed_trials():
    rows = [{"trial": 0, "val_rel_l2": v, "status": "ok"} for v in (0.2, 0.2, 5.0)]  # median 0.2
    rows += [{"trial": 1, "val_rel_l2": v, "status": "ok"} for v in (0.3, 0.3, 0.3)]
    rows += [{"trial": 2, "val_rel_l2": 0.01, "status": "diverged"}, {"trial": 2, "val_rel_l2": 0.01, "status": "ok"}]
    sel = tuning.select(rows, "val_rel_l2")
    assert sel["trial"] == 0 and sel["scores"]["2"] == math.inf and sel["note"] == ""
    none_ok = tuning.select(_rows([math.nan, 1.0], [0, 0], ["error", "diverged"]), "val_rel_l2")
    assert none_ok["trial"] == 0 and "no trial" in none_ok["note"]


def test_held_out_seeds_must_differ_from_the_tuning_seeds():
    tuning.check_seeds([1000], [0, 1, 2])
    with pytest.raises(ValueError, match="share"):
        tuning.check_seeds([0, 1000], [0, 1, 2])
    s = suite.study({"defaults": {"set": {"validation_fraction": 0.2}},
                     "studies": {"a": {"problems": ["poisson-2d-k1"], "optimizers": ["adam"], "remedies": ["none"],
                                       "seeds": [0, 1], "tune": {"seeds": [1]}}}}, "a")
    with pytest.raises(ValueError, match="share"):
        suite.tune_spec(s)
    s["tune"]["seeds"] = [7]
    assert suite.tune_spec(s)["trials"] == 5
    s["set"].pop("validation_fraction")
    with pytest.raises(ValueError, match="validation_fraction"):
        suite.tune_spec(s)


def test_the_validation_split_is_fixed_disjoint_and_complete():
    test, val = split_reference(1000, 0.2)
    assert len(val) == 200 and len(test) == 800 and not set(test) & set(val)
    assert sorted(set(test) | set(val)) == list(range(1000))
    assert all((a == b).all() for a, b in zip(split_reference(1000, 0.2), (test, val)))
    t0, v0 = split_reference(50, 0.0)
    assert len(v0) == 0 and (t0 == np.arange(50)).all()


# ------------------------------------------------------------------ budgets and chunks
def test_chunks_probe_the_step_time_then_land_on_the_budget():
    cfg = resolve("poisson-2d-k1", steps=10_000, sets={"eval_every": 1000, "time_budget": 2.0})
    assert _chunk_steps(cfg, 0, 0.0) == 1  # the probe: one step, however slow a step is
    # 0.01 s a step so far, 1.9 s left: 190 steps end the chunk on the budget
    assert _chunk_steps(cfg, 10, 0.1) == 190
    assert _chunk_steps(cfg, 200, 1.999) == 1  # never a zero-step chunk
    cfg = resolve("poisson-2d-k1", steps=10_000, sets={"eval_every": 1000, "eval_seconds": 0.5})
    assert _chunk_steps(cfg, 100, 1.0) == 50  # evaluate every 0.5 s at 0.01 s a step
    cfg = resolve("poisson-2d-k1", steps=30, sets={"eval_every": 1000})
    assert _chunk_steps(cfg, 0, 0.0) == 30  # no clock: eval_every or what is left


def test_a_time_budget_ends_the_run_normally_and_is_recorded(tmp_path, tiny):
    from pinnarena.runner import run

    cfg = resolve("poisson-2d-k1", steps=10**6, sets={**tiny, "time_budget": 0.5, "time_budget_clock": "cpu",
                                                      "stationary": False})
    row = run(cfg, tmp_path)
    assert row["status"] == "ok" and row["stop_reason"] == "time_budget"
    assert 0 < row["steps_done"] < 10**6
    assert row["budget_seconds"] == 0.5 and row["budget_clock"] == "cpu" and row["budget_steps"] == 10**6
    assert row["train_cpu_seconds"] >= 0.5
    with pytest.raises(ValueError, match="time_budget_clock"):
        resolve("poisson-2d-k1", sets={"time_budget_clock": "gpu"})
    with pytest.raises(ValueError, match="validation_fraction"):
        resolve("poisson-2d-k1", sets={"validation_fraction": 1.0})


def test_a_problem_built_before_float64_was_switched_on_samples_float64_points():
    """The samplers keep their bounds in float64 and cast when traced, so the points (and a
    period such as 2π) of a float64 run do not depend on when the problem object was built."""
    from pinnarena import problems

    before = jax.config.jax_enable_x64
    jax.config.update("jax_enable_x64", False)
    p32 = problems.REGISTRY.factory("reaction-rho5")()  # a fresh instance, built in float32 mode
    jax.config.update("jax_enable_x64", True)
    try:
        key = jax.random.PRNGKey(0)
        for term in p32.terms:
            pts = term.sample(key, 64)
            assert pts["x"].dtype == np.float64
        periodic = [t for t in p32.terms if t.name == "periodic"][0].sample(key, 64)
        assert np.isclose(float(np.max(periodic["shift"])), 2 * np.pi, rtol=0, atol=1e-15)
    finally:
        jax.config.update("jax_enable_x64", before)


# ------------------------------------------------------------------ core pinning
def test_concurrent_jobs_claim_different_cores(tmp_path):
    cores = sorted(os.sched_getaffinity(0))
    code = textwrap.dedent(f"""
        import os, sys, time
        from pinnarena.affinity import claim_core
        c = claim_core({str(tmp_path)!r})
        print(c, sorted(os.sched_getaffinity(0)), flush=True)
        time.sleep(3)
    """)
    procs = [subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True) for _ in range(2)]
    out = [p.communicate(timeout=60)[0].split(maxsplit=1) for p in procs]
    claimed = [None if o[0] == "None" else int(o[0]) for o in out]
    for c, (_, aff) in zip(claimed, out):
        if c is not None:
            assert json.loads(aff) == [c]  # pinned to exactly the claimed core
    if len(cores) >= 2:
        assert None not in claimed and claimed[0] != claimed[1]
    else:
        assert sorted(claimed, key=str) == [cores[0], None]


# ------------------------------------------------------------------ reproduce
def test_reproduce_retrains_a_time_budgeted_row_to_the_same_errors(tmp_path):
    from pinnarena.reproduce import reproduce
    from pinnarena.runner import run

    cfg = resolve("poisson-2d-k1", steps=10**6, seed=3, sets={
        "model.width": 8, "model.depth": 1, "points_scale": 0.05, "precision": "float64", "time_budget": 0.5,
        "time_budget_clock": "cpu", "eval_seconds": 0.1, "eval_every": 10**6, "validation_fraction": 0.2,
        "stationary": False})
    row = run(cfg, tmp_path / "published" / "run")
    assert row["stop_reason"] == "time_budget"
    assert row["cpu_threads"] == len(os.sched_getaffinity(0))  # XLA's CPU arithmetic depends on it
    cmp = reproduce(row["run_id"], tmp_path / "published")
    assert {c["metric"] for c in cmp} == {"rel_l2", "val_rel_l2", "loss_final"}
    for c in cmp:
        assert c["relative_difference"] <= 1e-10, c
    with pytest.raises(ValueError, match="no run"):
        reproduce("0000000000000000", tmp_path / "published")


def test_reproduce_runs_on_the_cores_the_row_ran_on(tmp_path):
    """A row's ``cpu_threads`` (else its suite config's pinning) sets the rerun's cores."""
    from pinnarena import affinity
    from pinnarena.reproduce import threads_for

    assert threads_for(pd.Series({"cpu_threads": 2, "suite": "cpu"})) == 2
    assert threads_for(pd.Series({"cpu_threads": None, "suite": "cpu"})) == 1  # config/cpu.yaml pins each job
    assert threads_for(pd.Series({"cpu_threads": None, "suite": "smoke"})) is None
    code = ("import os; from pinnarena import affinity; n = affinity.restrict(1); "
            "print(n, len(os.sched_getaffinity(0)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, "PINNARENA_LOCK_DIR": str(tmp_path)}).stdout.split()
    assert out == ["1", "1"]
    with pytest.raises(ValueError, match="cores asked for"):
        affinity.restrict(len(os.sched_getaffinity(0)) + 1)


# ------------------------------------------------------------------ the workflow, end to end
TUNE_CONFIG = """
suite: tunetest
defaults:
  steps: 15
  seeds: [0, 1]
  vmap_seeds: false
  tune: {trials: 3, seed: 0, seeds: [100], select: val_rel_l2}
  set: {model.width: 8, model.depth: 1, eval_every: 5, points_scale: 0.03, validation_fraction: 0.2,
        stationary: false}
studies:
  optimizers:
    problems: [poisson-2d-k1]
    optimizers: [adam]
    remedies: [none]
  remedies:
    problems: [poisson-2d-k1]
    optimizers: [adam]
    remedies: [none, pcgrad]
    tune: {trials: 3, seed: 0, seeds: [100], base: optimizers, keys: ["remedy.*", "opt.learning_rate"]}
  longer:
    problems: [poisson-2d-k1]
    optimizers: [adam]
    remedies: [none]
    seeds: [0]
    steps: 25
    tune: {}
    hparams_from: optimizers
"""


def test_a_tuned_suite_selects_without_the_test_set_and_reports_held_out_seeds(tmp_path):
    (tmp_path / "c.yaml").write_text(TUNE_CONFIG)
    env = {**os.environ, "PINNARENA_JAX_CACHE": "off"}
    # the leaderboard, not the report (tests/test_workflow.py renders a suite's report end to end)
    res = subprocess.run([sys.executable, "-m", "snakemake", "--nolock", "--cores", "2",
                          f"{tmp_path}/results/leaderboard.parquet", "--configfile",
                          str(tmp_path / "c.yaml"), "--config", f"results={tmp_path}/results",
                          f"report={tmp_path}/report"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert res.returncode == 0, res.stderr[-3000:]
    from pinnarena.results import read_summaries

    rows = read_summaries(tmp_path / "results" / "runs")
    trials = rows[rows["study"] == "tuning"]
    held = rows[rows["study"] != "tuning"]
    assert set(trials["seed"]) == {100} and set(held["seed"]) == {0, 1}  # held-out seeds differ
    tune_dir = tmp_path / "results" / "runs" / "tuning"
    for study, remedy in (("optimizers", "none"), ("remedies", "none"), ("remedies", "pcgrad")):
        sel = json.loads((tune_dir / study / "poisson-2d-k1" / "adam" / remedy / "selected.json").read_text())
        mine = trials[(trials["tuning_of"] == study) & (trials["remedy"] == remedy)]
        assert sorted(mine["trial"]) == [0, 1, 2]
        # the chosen trial has the lowest validation error, whatever its test error
        assert sel["trial"] == int(mine.loc[mine["val_rel_l2"].idxmin(), "trial"])
        # the trials are the declared quasi-random points, reproducible from the seed
        keys = None if study == "optimizers" else ["remedy.*", "opt.learning_rate"]
        assert sel["trials"] == json.loads(json.dumps(tuning.trial_settings("adam", remedy, 3, 0, keys)))
        cell = held[(held["study"] == study) & (held["remedy"] == remedy)]
        assert len(cell) == 2 and (cell["trial"] == sel["trial"]).all()
        assert all(json.loads(h) == sel["hparams"] for h in cell["hparams"])
        for c in cell["config"]:
            opt = json.loads(c)["opt"]
            assert all(opt[k[4:]] == v for k, v in sel["hparams"].items() if k.startswith("opt."))
    # the remedies study keeps Adam's other settings from the optimizers study's choice
    base = json.loads((tune_dir / "optimizers" / "poisson-2d-k1" / "adam" / "none" / "selected.json").read_text())
    rem = json.loads((tune_dir / "remedies" / "poisson-2d-k1" / "adam" / "pcgrad" / "selected.json").read_text())
    assert rem["hparams"]["opt.b1"] == base["hparams"]["opt.b1"]
    # an untuned study with hparams_from runs the optimizers study's choice under its own settings
    longer = held[held["study"] == "longer"]
    assert len(longer) == 1 and json.loads(longer["hparams"].iloc[0]) == base["hparams"]
    assert json.loads(longer["config"].iloc[0])["steps"] == 25
    assert (tmp_path / "results" / "leaderboard.parquet").exists()


def test_hparams_from_names_a_tuned_study_of_the_suite():
    from pinnarena import suite

    cfg = yaml.safe_load(TUNE_CONFIG)
    assert suite.hparams_source(cfg, "longer") == "optimizers" and suite.hparams_source(cfg, "optimizers") is None
    for change, needle in ((lambda s: s.update(hparams_from="nope"), "not a study of the suite"),
                           (lambda s: s.update(hparams_from="longer"), "not a tuned study"),
                           (lambda s: s.pop("tune"), "both tunes and takes hparams_from"),
                           (lambda s: s.update(seeds=[100]), "held-out seeds")):
        bad = yaml.safe_load(TUNE_CONFIG)
        change(bad["studies"]["longer"])
        with pytest.raises(ValueError, match=needle):
            suite.hparams_source(bad, "longer")


def test_a_kept_trial_from_older_code_is_trained_again(tmp_path):
    """A killed `pinnarena tune` reuses its finished trials, but only rows with today's summary
    columns: a trial kept from before a schema change (the CPU suite met one from before
    `linesearch_rejections`) would not concatenate with the new rows, and its code is not today's."""
    import pyarrow.parquet as pq

    from pinnarena.cli import _finished
    from pinnarena.results import summary_table

    path = tmp_path / "trial-summary.parquet"
    assert not _finished(str(path), "abc")  # nothing kept
    table = summary_table({"run_id": "abc", "status": "ok"})
    pq.write_table(table, path)
    assert _finished(str(path), "abc") and not _finished(str(path), "other")
    pq.write_table(table.drop(["linesearch_rejections"]), path)
    assert not _finished(str(path), "abc")
