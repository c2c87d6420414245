"""Aggregation: summaries + curves → leaderboard rows (pinnarena/aggregate.py)."""
import math

import numpy as np
import pandas as pd
import pytest

from pinnarena.aggregate import bootstrap_median_ci, derived_targets, leaderboard, time_to_target

INF = math.inf


def run(run_id, optimizer="adam", remedy="none", seed=0, status="ok", rel_l2=0.1, problem="p", study="s", **kw):
    row = dict(run_id=run_id, problem=problem, family="fam", kind="forward", n_losses=2, optimizer=optimizer,
               remedy=remedy, seed=seed, suite="unit", study=study, steps=20, steps_done=20, grad_evals=20,
               fun_evals=20, train_seconds=2.0, rel_l2=rel_l2, rel_l2_best=rel_l2, status=status,
               error="" if status == "ok" else f"{status}!", n_params=100, device="cpu", git_commit="abc")
    row.update(kw)
    return row


def curve(run_id, errors, dt=1.0):
    """Evaluations at steps 0, 10, 20, … with the given errors; train seconds = step · dt / 10."""
    return pd.DataFrame({"run_id": run_id, "step": [10 * i for i in range(len(errors))],
                         "train_seconds": [i * dt for i in range(len(errors))],
                         "grad_evals": [10 * i for i in range(len(errors))], "rel_l2": errors})


@pytest.fixture
def data():
    s = pd.DataFrame([
        run("a0", seed=0, rel_l2=0.10), run("a1", seed=1, rel_l2=0.30), run("a2", seed=2, rel_l2=0.20),
        run("a3", seed=3, status="diverged", rel_l2=np.nan),
        run("n0", optimizer="newton", seed=0, status="error", rel_l2=np.nan, n_params=100),
        run("n1", optimizer="newton", seed=1, status="timeout", rel_l2=np.nan),
        run("p0", remedy="pcgrad-adapter", seed=0, rel_l2=0.05, n_params=140, stationary_label="saddle",
            hess_min_eig=-2.0, regime="persistent"),
        run("p1", remedy="pcgrad-adapter", seed=1, rel_l2=0.07, n_params=140, stationary_label="saddle",
            hess_min_eig=-1.0, regime="persistent"),
        run("p2", remedy="pcgrad-adapter", seed=2, rel_l2=0.06, n_params=140, stationary_label="minimum",
            hess_min_eig=0.5, regime="persistent"),
    ])
    c = pd.concat([
        curve("a0", [0.1, 0.5, 0.2, 0.1]),  # step-0 value below target must not count; hit (≤) at step 20
        curve("a1", [1.0, 0.9, 0.4, 0.3]),  # never ≤ 0.2 → miss
        curve("a2", [1.0, 0.5, 0.3, 0.2]),  # hit at step 30
        curve("a3", [1.0, np.nan]),
        curve("p0", [1.0, 0.1, 0.05]), curve("p1", [1.0, 0.2, 0.07]), curve("p2", [1.0, 0.3, 0.06]),
    ], ignore_index=True)
    return s, c


def test_error_statistics_status_counts_and_failures(data):
    s, c = data
    b = leaderboard(s, c, {"p": {"rel_l2": 0.2, "provenance": "unit"}}).set_index("method")
    a = b.loc["adam + none"]
    assert (a.n_runs, a.n_ok, a.n_diverged, a.n_timeout, a.n_error) == (4, 3, 1, 0, 0)
    assert a.failure_rate == pytest.approx(0.25)
    assert a.rel_l2_median == pytest.approx(0.2)  # over the finite errors 0.1, 0.2, 0.3
    assert (a.rel_l2_q25, a.rel_l2_q75) == pytest.approx((0.15, 0.25))
    assert a.rel_l2_iqr == pytest.approx(0.1)
    assert 0.1 <= a.rel_l2_ci_low <= a.rel_l2_median <= a.rel_l2_ci_high <= 0.3
    assert a.rel_l2_best == pytest.approx(0.1)
    n = b.loc["newton + none"]  # every run failed: the row exists, errors NaN, failure rate 1
    assert n.failure_rate == 1.0 and (n.n_error, n.n_timeout) == (1, 1) and math.isnan(n.rel_l2_median)
    assert n.ttt_seconds == INF and n.target_hit_rate == 0.0


def test_time_to_target_first_evaluation_after_step_zero(data):
    s, c = data
    t = time_to_target(c, s, {"p": {"rel_l2": 0.2}}).set_index("run_id")
    assert t.loc["a0"].tolist() == [2.0, 20.0]  # the step-0 value 0.1 does not count
    assert t.loc["a1"].tolist() == [INF, INF]
    assert t.loc["a2"].tolist() == [3.0, 30.0]
    assert t.loc["a3"].tolist() == [INF, INF]
    assert t.loc["n0"].tolist() == [INF, INF]  # no curves at all: a miss
    b = leaderboard(s, c, {"p": {"rel_l2": 0.2, "provenance": "unit"}}).set_index("method")
    # adam seeds: 2, inf, 3, inf → median inf (half the seeds miss)
    assert b.loc["adam + none", "ttt_seconds"] == INF
    assert b.loc["adam + none", "target_hit_rate"] == pytest.approx(0.5)
    # pcgrad-adapter seeds hit at steps 10, 10 (0.2 ≤ 0.2), 20 → median 1 s, 10 grad evals
    assert b.loc["adam + pcgrad-adapter", ["ttt_seconds", "ttt_grad_evals"]].tolist() == [1.0, 10.0]
    assert b.loc["adam + pcgrad-adapter", "target_provenance"] == "unit"


def test_derived_target_uses_the_baseline_only(data):
    s, c = data
    d = derived_targets(s)
    assert d["p"]["rel_l2"] == pytest.approx(0.2) and d["p"]["provenance"].startswith("derived")
    b = leaderboard(s, c)
    assert np.allclose(b["target"], 0.2)
    more = pd.concat([s, pd.DataFrame([run("z0", optimizer="zzz", rel_l2=1e-6)])], ignore_index=True)
    assert derived_targets(more) == d


def test_param_mismatch_flag_and_extra_columns(data):
    s, c = data
    b = leaderboard(s, c).set_index("method")
    assert bool(b.loc["adam + pcgrad-adapter", "params_differ"]) is True
    assert bool(b.loc["adam + none", "params_differ"]) is False
    assert bool(b.loc["newton + none", "params_differ"]) is False
    p = b.loc["adam + pcgrad-adapter"]
    assert p.stationary_label == "saddle (2/3)"
    assert p.hess_min_eig == pytest.approx(-1.0)
    assert p.regime == "persistent"
    assert pd.isna(b.loc["adam + none", "regime"])


def test_bootstrap_is_deterministic_and_degenerate_cases():
    x = [0.3, 0.1, 0.5, 0.2, 0.9, np.nan]
    assert bootstrap_median_ci(x) == bootstrap_median_ci(list(reversed(x)))
    lo, hi = bootstrap_median_ci(x)
    assert 0.1 <= lo < hi <= 0.9
    assert bootstrap_median_ci([0.4]) == (0.4, 0.4)
    assert all(math.isnan(v) for v in bootstrap_median_ci([np.nan, np.inf]))


def test_leaderboard_is_grouped_by_study(data):
    s, c = data
    s2 = pd.concat([s, pd.DataFrame([run("x0", study="other", rel_l2=0.9)])], ignore_index=True)
    b = leaderboard(s2, c)
    assert len(b[(b.method == "adam + none")]) == 2
    assert b[(b.study == "other")]["rel_l2_median"].tolist() == [pytest.approx(0.9)]


def test_extra_evaluation_sets_become_median_columns():
    """rel_l2_sets maps (e.g. the cavity's Ghia set) → rel_l2_set_<name>, median over seeds; NaN elsewhere."""
    s = pd.DataFrame([
        run("a", seed=0, problem="ldc", rel_l2_sets=[("ghia1982", 0.2), ("solver", 0.1)]),
        run("b", seed=1, problem="ldc", rel_l2_sets=[("ghia1982", 0.4), ("solver", 0.3)]),
        run("c", seed=2, problem="ldc", rel_l2_sets=[("ghia1982", 0.9), ("solver", 0.2)]),
        run("d", seed=0, problem="poisson", rel_l2_sets=None),
    ])
    board = leaderboard(s).set_index("problem")
    assert board.loc["ldc", "rel_l2_set_ghia1982"] == pytest.approx(0.4)
    assert board.loc["ldc", "rel_l2_set_solver"] == pytest.approx(0.2)
    assert math.isnan(board.loc["poisson", "rel_l2_set_ghia1982"])
    assert "rel_l2_sets" not in board


def test_tuning_rows_are_not_ranked_and_do_not_set_targets(data):
    s, c = data
    trials = pd.DataFrame([run(f"t{k}", seed=1000, study="tuning", rel_l2=1e-6 * (k + 1), trial=k, tuning_of="s")
                           for k in range(3)])
    both = pd.concat([s, trials], ignore_index=True)
    b = leaderboard(both, c)
    assert set(b["study"]) == {"s"}
    assert b.set_index("method").loc["adam + none", "n_runs"] == 4
    assert derived_targets(both) == derived_targets(s)


def test_time_to_target_is_measured_on_the_budget_clock():
    """A run whose budget counts CPU time is timed by its CPU seconds, others by wall seconds."""
    import pandas as pd

    from pinnarena.aggregate import time_to_target

    summaries = pd.DataFrame({"run_id": ["a", "b"], "problem": ["p", "p"], "budget_clock": ["cpu", None]})
    curves = pd.DataFrame({"run_id": ["a", "a", "b", "b"], "step": [0, 10, 0, 10], "rel_l2": [1.0, 0.01, 1.0, 0.01],
                           "train_seconds": [0.0, 5.0, 0.0, 5.0], "train_cpu_seconds": [0.0, 2.0, 0.0, 2.0],
                           "grad_evals": [0, 10, 0, 10]})
    t = time_to_target(curves, summaries, {"p": {"rel_l2": 0.1}}).set_index("run_id")
    assert t.loc["a", "ttt_seconds"] == 2.0 and t.loc["b", "ttt_seconds"] == 5.0


def test_field_median_targets_follow_their_written_rule():
    """target = min(1, round_up_2sig(median over methods of each method's median ok error)); a
    method with no ok run counts as +inf; other studies and the tuning trials do not count."""
    from pinnarena.aggregate import _round_up, field_median_targets

    errs = {"adam": [0.30, 0.10, 0.20], "soap": [0.011, 0.012, 0.013], "lbfgs": [1e-4, 2e-4, 3e-4],
            "muon": [0.5, 0.7, 0.9]}
    rows = [run(f"{o}{s}", optimizer=o, seed=s, rel_l2=e, study="optimizers") for o, es in errs.items()
            for s, e in enumerate(es)]
    rows += [run(f"bad{s}", optimizer="bfgs", seed=s, status="diverged", rel_l2=np.nan, study="optimizers")
             for s in range(3)]  # every run failed: +inf
    rows += [run("other", optimizer="engd", rel_l2=1e-9, study="records"),
             run("trial", optimizer="engd", rel_l2=1e-9, study="tuning")]
    rows += [run(f"k4-{o}", optimizer=o, problem="hard", rel_l2=e, study="optimizers")
             for o, e in (("adam", 2.0), ("soap", 3.0), ("muon", 0.5))]
    t = field_median_targets(pd.DataFrame(rows), "optimizers")
    # medians 0.2, 0.012, 2e-4, 0.7, inf → the median of five is 0.2
    assert t["p"]["rel_l2"] == 0.2 and "5 methods" in t["p"]["provenance"]
    assert t["hard"]["rel_l2"] == 1.0 and "capped" in t["hard"]["provenance"]  # 2.0 > the zero predictor
    hit = [o for o, es in errs.items() if np.median(es) <= t["p"]["rel_l2"]]
    assert len(hit) == 3  # about half the methods reach the target (4 of 5 methods failed or not)
    for x in (0.0123, 1.0, 2.1e-7, 0.099999, 5.5e-3):
        r = _round_up(x)
        assert r >= x and r < x * 1.1 and float(f"{r:.2g}") == r


def test_the_cpu_targets_are_the_field_medians_of_the_published_snapshot():
    """config/targets.yaml's cpu entries that state the field-median rule hold the numbers the rule
    gives on results/published/cpu (the file is not edited by hand away from its rule)."""
    from pathlib import Path

    from pinnarena.aggregate import field_median_targets
    from pinnarena.results import read_summaries
    from pinnarena.scoring import load_targets

    root = Path(__file__).resolve().parents[1]
    stated = {p: t for p, t in load_targets(root / "config" / "targets.yaml", suite="cpu").items()
              if t["provenance"].startswith("derived (field median)")}
    assert len(stated) >= 8
    rule = field_median_targets(read_summaries(root / "results" / "published" / "cpu" / "runs"), "optimizers")
    assert {p: t["rel_l2"] for p, t in stated.items()} == {p: rule[p]["rel_l2"] for p in stated}


def test_targets_command_prints_the_rule_as_yaml_and_names_a_missing_study(tmp_path, capsys):
    import yaml

    from pinnarena import cli
    from pinnarena.aggregate import field_median_targets
    from pinnarena.results import write_parquet_atomic

    rows = pd.DataFrame([run(f"{o}{s}", optimizer=o, seed=s, rel_l2=e * (1 + s), problem=p, study="optimizers")
                         for p in ("a", "b") for o, e in (("adam", 0.1), ("soap", 0.02), ("lbfgs", 0.5))
                         for s in range(3)])
    write_parquet_atomic(rows, tmp_path / "runs" / "all" / "summary.parquet")
    assert cli.main(["targets", str(tmp_path), "--study", "optimizers"]) == 0
    printed = yaml.safe_load(capsys.readouterr().out)
    rule = field_median_targets(rows, "optimizers")
    assert {p: t["rel_l2"] for p, t in printed.items()} == {p: t["rel_l2"] for p, t in rule.items()} == {"a": 0.2, "b": 0.2}
    assert all(t["provenance"].startswith("derived (field median)") and str(tmp_path) in t["provenance"]
               for t in printed.values())
    assert cli.main(["targets", str(tmp_path), "--study", "remedies"]) == 2
    assert "no held-out rows of study 'remedies'" in capsys.readouterr().err
