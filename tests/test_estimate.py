"""``python -m pinnarena.estimate``: the time-budgeted cost model and its calibration on measured rows."""
from __future__ import annotations

import pandas as pd
import pytest
import yaml

from pinnarena import estimate
from pinnarena.cpu_model import cpu_model


def _config(tmp_path):
    return {"suite": "t", "defaults": {"steps": 10**6, "seeds": [0, 1, 2],
                                       "tune": {"trials": 5, "seed": 0, "seeds": [1000], "select": "val_rel_l2"},
                                       "set": {"time_budget": 10, "time_budget_clock": "cpu", "validation_fraction": 0.2}},
            "studies": {"s": {"problems": ["poisson-2d-k1"], "optimizers": ["adam", "lbfgs"], "remedies": ["none"],
                              "problem_set": {}}}}


def test_a_time_budgeted_study_costs_its_budgets_plus_the_overheads(tmp_path):
    from pinnarena import suite

    cfg = _config(tmp_path)
    s = suite.study(cfg, "s")
    trials = {o: suite.n_trials(s, o, "none") for o in ("adam", "lbfgs")}
    (row,) = estimate.estimate(cfg)
    assert row["runs"] == sum(3 + n for n in trials.values())
    want = sum(10 * (3 + n) + estimate.PROGRAM_OVERHEAD_S * n + estimate.HELD_OUT_OVERHEAD_S * 3
               + 2 * estimate.JOB_OVERHEAD_S for n in trials.values())  # a tuning job and a held-out job
    assert row["core_hours"] == pytest.approx(want / 3600)


def test_calibration_uses_undisturbed_rows_of_this_cpu_model(tmp_path):
    def row(i, study, over, cpu=None, wall_extra=0.0):
        return dict(run_id=f"r{i}", study=study, budget_seconds=10.0, train_cpu_seconds=10.0,
                    train_seconds=10.0 + wall_extra, setup_seconds=0.5, compile_seconds=over - 1.0, eval_seconds=0.5,
                    cpu_model=cpu or cpu_model(), status="ok")
    rows = [row(0, "tuning", 4.0), row(1, "tuning", 6.0), row(2, "tuning", 5.0),
            row(3, "tuning", 90.0, wall_extra=80.0),  # paused: its wall clock ran ahead
            row(4, "tuning", 50.0, cpu="Other | x86_64 family 1 model 1 | avx2"),  # another machine
            row(5, "s", 2.0), row(6, "s", 3.0)]
    d = tmp_path / "runs" / "x"
    d.mkdir(parents=True)
    pd.DataFrame(rows).to_parquet(d / "summary.parquet")
    trial, held_out, n = estimate.calibrate(tmp_path)
    assert (trial, held_out, n) == (5.0, 2.5, 5)
    with pytest.raises(ValueError, match="no time-budgeted rows"):
        estimate.calibrate(tmp_path / "nothing")


def test_the_command_prints_the_calibrated_overheads(tmp_path, capsys, monkeypatch):
    cfg = tmp_path / "suite.yaml"
    cfg.write_text(yaml.safe_dump(_config(tmp_path)))
    monkeypatch.setattr(estimate, "calibrate", lambda results: (7.0, 3.0, 12))
    monkeypatch.setattr(estimate, "PROGRAM_OVERHEAD_S", estimate.PROGRAM_OVERHEAD_S)  # restored after the test
    monkeypatch.setattr(estimate, "HELD_OUT_OVERHEAD_S", estimate.HELD_OUT_OVERHEAD_S)
    assert estimate.main([str(cfg), "--calibrate", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "calibrated on 12 rows" in out and "7.0 s a trial, 3.0 s a held-out run" in out


def test_a_step_budgeted_study_in_a_cpu_suite_costs_its_calibrated_steps(tmp_path, monkeypatch, capsys):
    """config/cpu.yaml's regimes study (exactly 1000 steps, no time budget): estimated from the
    seconds a step measured on this CPU, or said to be not estimated."""
    cfg = _config(tmp_path)
    cfg["studies"]["r"] = {"problems": ["poisson-2d-k1"], "optimizers": ["adam"], "remedies": ["none"], "steps": 1000,
                           "tune": {}, "set": {"time_budget": None}, "problem_set": {}}
    monkeypatch.setattr(estimate, "STEP_SECONDS", {})
    rows = {r["study"]: r for r in estimate.estimate(cfg)}
    assert rows["r"]["core_hours"] is None and rows["r"]["missing"] == [("poisson-2d-k1", "adam")]
    monkeypatch.setattr(estimate, "STEP_SECONDS", {("poisson-2d-k1", "adam"): 0.02})
    rows = {r["study"]: r for r in estimate.estimate(cfg)}
    want = 3 * (1000 * 0.02 + estimate.HELD_OUT_OVERHEAD_S) + estimate.JOB_OVERHEAD_S
    assert rows["r"]["core_hours"] == pytest.approx(want / 3600) and rows["r"]["runs"] == 3
    path = tmp_path / "suite.yaml"
    path.write_text(yaml.safe_dump(cfg))
    monkeypatch.setattr(estimate, "STEP_SECONDS", {})
    assert estimate.main([str(path)]) == 0
    assert "not estimated" in capsys.readouterr().out
