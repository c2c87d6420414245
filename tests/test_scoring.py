"""The scorer against its written rules (pinnarena/scoring.py docstring; DESIGN.md, Scoring)."""
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pinnarena.scoring import (
    load_targets,
    median_rank,
    performance_profile,
    performance_ratios,
    profile_scores,
    score_board,
    speedups,
    wins,
)

INF = math.inf
TARGETS = Path(__file__).resolve().parents[1] / "config" / "targets.yaml"


def T(rows: dict) -> pd.DataFrame:
    """problems × methods times table from {problem: {method: t}}."""
    return pd.DataFrame.from_dict(rows, orient="index")


def test_hand_computed_two_problems():
    t = T({"p1": {"A": 10.0, "B": 20.0}, "p2": {"A": 30.0, "B": 15.0}})
    r = performance_ratios(t)
    assert r.loc["p1"].tolist() == [1.0, 2.0]
    assert r.loc["p2"].tolist() == [2.0, 1.0]
    # ∫₁⁴ ρ = ½[(4−1) + (4−2)] → score = 5/6 for both
    s = profile_scores(r)
    assert s["A"] == pytest.approx(5 / 6) and s["B"] == pytest.approx(5 / 6)
    prof = performance_profile(r, [1.0, 1.5, 1.999, 2.0, 4.0])
    assert prof["B"].tolist() == [0.5, 0.5, 0.5, 1.0, 1.0]
    assert wins(r).to_dict() == {"A": 1, "B": 1}


def test_ties_share_the_best_ratio_and_ratio_above_four_is_a_miss():
    t = T({"p1": {"A": 5.0, "B": 5.0, "C": 25.0, "D": 20.0}})
    r = performance_ratios(t)
    assert r.loc["p1"].tolist() == [1.0, 1.0, INF, 4.0]  # 25/5 = 5 > 4 → miss; exactly 4 still counts
    s = profile_scores(r)
    assert s.to_dict() == pytest.approx({"A": 1.0, "B": 1.0, "C": 0.0, "D": 0.0})
    assert performance_profile(r, [4.0])["D"].iloc[0] == 1.0  # ρ_D(4) = 1 although its area is 0
    assert wins(r).to_dict() == {"A": 1, "B": 1, "C": 0, "D": 0}
    # float round-off is a tie too: 20 · 0.01 · 1.5 = 0.30000000000000004 vs 0.3
    r = performance_ratios(T({"p1": {"A": 20 * 0.01 * 1.5, "B": 30 * 0.01, "C": 0.3 * (1 + 1e-6)}}))
    assert r.loc["p1", "A"] == 1.0 and r.loc["p1", "B"] == 1.0 and r.loc["p1", "C"] > 1.0


def test_all_miss_problem_counts_in_the_denominator():
    t = T({"p1": {"A": INF, "B": INF}, "p2": {"A": 1.0, "B": 3.0}})
    r = performance_ratios(t)
    assert np.isinf(r.loc["p1"]).all()
    s = profile_scores(r)
    assert s["A"] == pytest.approx(0.5 * 3 / 3)
    assert s["B"] == pytest.approx(0.5 * 1 / 3)
    assert performance_profile(r, [4.0]).iloc[0].tolist() == [0.5, 0.5]


def test_single_method():
    t = T({"p1": {"A": 7.0}, "p2": {"A": INF}, "p3": {"A": 0.5}})
    r = performance_ratios(t)
    assert r["A"].tolist() == [1.0, INF, 1.0]
    assert profile_scores(r)["A"] == pytest.approx(2 / 3)
    assert performance_profile(r, [1.0, 3.9])["A"].tolist() == pytest.approx([2 / 3, 2 / 3])


def test_not_run_and_nan_count_as_miss_and_zero_best_time():
    t = T({"p1": {"A": np.nan, "B": 2.0}, "p2": {"A": 0.0, "B": 1.0}})
    r = performance_ratios(t)
    assert r.loc["p1"].tolist() == [INF, 1.0]
    assert r.loc["p2"].tolist() == [1.0, INF]  # best time 0: only t = 0 gets r = 1


def test_exact_integral_matches_a_fine_riemann_sum():
    rng = np.random.default_rng(3)
    t = pd.DataFrame(rng.uniform(1, 10, size=(7, 4)), columns=list("ABCD"))
    t.iloc[2, 1] = INF
    r = performance_ratios(t)
    taus = np.linspace(1, 4, 30001)
    prof = performance_profile(r, taus)
    riemann = prof.mean(axis=0)  # ≈ (1/3)∫₁⁴ ρ dτ on a uniform grid
    assert profile_scores(r).to_numpy() == pytest.approx(riemann.to_numpy(), abs=1e-3)


def test_speedups_geometric_mean_over_problems_both_hit():
    t = T({"p1": {"adam + none": 10.0, "A": 5.0}, "p2": {"adam + none": 40.0, "A": 10.0},
           "p3": {"adam + none": INF, "A": 1.0}, "p4": {"adam + none": 3.0, "A": INF}})
    sp = speedups(t)
    assert sp.loc["A", "speedup"] == pytest.approx(math.sqrt(2 * 4))
    assert sp.loc["A", "n_common"] == 2
    assert sp.loc["adam + none", "speedup"] == pytest.approx(1.0)
    assert math.isnan(speedups(T({"p1": {"adam + none": INF, "A": 1.0}})).loc["A", "speedup"])


def test_median_rank_ties_share_the_lowest_rank_and_nan_is_last():
    e = T({"p1": {"A": 0.1, "B": 0.1, "C": 0.5}, "p2": {"A": np.nan, "B": 0.2, "C": 0.3},
           "p3": {"A": 0.01, "B": 0.3, "C": 0.2}})
    assert median_rank(e).to_dict() == {"A": 1.0, "B": 1.0, "C": 2.0}


def test_score_board_from_leaderboard_rows():
    rows = []
    for prob, times in {"p1": {"adam": 10.0, "soap": 5.0}, "p2": {"adam": 8.0, "soap": INF}}.items():
        for opt, tt in times.items():
            rows.append(dict(study="s", problem=prob, optimizer=opt, remedy="none", method=f"{opt} + none",
                             ttt_seconds=tt, ttt_grad_evals=tt * 10, rel_l2_median=0.1 if opt == "soap" else 0.2,
                             failure_rate=0.5 if tt == INF else 0.0, n_runs=2))
    s = score_board(pd.DataFrame(rows)).set_index("method")
    # p1: adam r = 2, soap r = 1; p2: adam r = 1, soap misses
    assert s.loc["adam + none", "score_seconds"] == pytest.approx(0.5 * (2 + 3) / 3)
    assert s.loc["soap + none", "score_seconds"] == pytest.approx(0.5 * 3 / 3)
    assert s.loc["soap + none", "speedup_seconds"] == pytest.approx(2.0)
    assert s.loc["soap + none", "wins"] == 1 and s.loc["adam + none", "wins"] == 1
    assert s.loc["soap + none", "problems_hit"] == 1
    assert s.loc["soap + none", "failure_rate"] == pytest.approx(0.25)
    assert s.index[0] == "adam + none"  # sorted by score


times_st = st.one_of(st.just(INF), st.floats(0.01, 1000.0, allow_nan=False))


@settings(max_examples=150, deadline=None)
@given(data=st.data(), n_problems=st.integers(1, 6), n_methods=st.integers(1, 5))
def test_adding_a_method_worse_everywhere_never_changes_the_others(data, n_problems, n_methods):
    grid = data.draw(st.lists(st.lists(times_st, min_size=n_methods, max_size=n_methods),
                              min_size=n_problems, max_size=n_problems))
    t = pd.DataFrame(grid, index=[f"p{i}" for i in range(n_problems)], columns=[f"m{j}" for j in range(n_methods)])
    worse = []
    for i in range(n_problems):
        finite = [x for x in grid[i] if math.isfinite(x)]
        if not finite or data.draw(st.booleans()):
            worse.append(INF)  # a miss is worse than (or as bad as) anything
        else:
            worse.append(max(finite) * data.draw(st.floats(1.0001, 20.0)))  # slower than every other method
    t2 = t.assign(new=worse)
    r1, r2 = performance_ratios(t), performance_ratios(t2)
    pd.testing.assert_frame_equal(r1, r2[t.columns])
    s1, s2 = profile_scores(r1), profile_scores(r2)
    np.testing.assert_allclose(s1.to_numpy(), s2[t.columns].to_numpy(), rtol=0, atol=1e-15)
    taus = [1.0, 1.5, 2.0, 3.0, 4.0]
    pd.testing.assert_frame_equal(performance_profile(r1, taus), performance_profile(r2, taus)[t.columns])
    assert wins(r2)["new"] == 0  # it is never the best on any problem


def test_targets_file_loads_with_provenance(tmp_path):
    smoke = load_targets(TARGETS, suite="smoke")
    assert {"burgers", "poisson-2d-k1", "wave"} <= set(smoke)
    assert all(v["rel_l2"] > 0 and v["provenance"] for v in smoke.values())
    assert load_targets(TARGETS, suite="test")["poisson-2d-k1"]["rel_l2"] == 1.75
    bad = tmp_path / "t.yaml"
    bad.write_text("targets:\n  burgers: {rel_l2: 0.5}\n")
    with pytest.raises(ValueError, match="provenance"):
        load_targets(bad)
    bad.write_text("targets:\n  burgers: {rel_l2: 0.5, provenance: x}\nsuites:\n  s: {burgers: {rel_l2: 0.1, provenance: y}}\n")
    assert load_targets(bad)["burgers"]["rel_l2"] == 0.5
    assert load_targets(bad, suite="s")["burgers"] == {"rel_l2": 0.1, "provenance": "y"}


def test_targets_carry_the_literature_error_and_refuse_what_they_do_not_know(tmp_path):
    cpu = load_targets(TARGETS, suite="cpu")
    assert cpu["poisson-2d-k1"]["literature"] == 1e-6 and cpu["burgers-nu0.01"]["literature"] == 3.9e-7
    assert all(v["literature"] < v["rel_l2"] for v in cpu.values() if "literature" in v)
    f = tmp_path / "t.yaml"
    f.write_text("targets:\n  burgers: {rel_l2: 0.5, provenance: x, literature: 0}\n")
    with pytest.raises(ValueError, match="literature must be a positive"):
        load_targets(f)
    f.write_text("targets:\n  burgers: {rel_l2: 0.5, provenance: x, litterature: 1e-6}\n")
    with pytest.raises(ValueError, match=r"unknown keys \['litterature'\].*accepted: rel_l2, provenance, literature"):
        load_targets(f)
