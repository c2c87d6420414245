"""pinnarena.stats against known cases: bootstrap coverage, the vectorised scorer, rank tests."""
import numpy as np
import pandas as pd
import pytest

from pinnarena import stats as S
from pinnarena.scoring import performance_ratios, profile_scores


def test_bootstrap_median_interval_covers_at_about_the_nominal_rate():
    """200 synthetic samples (n = 25, lognormal, true median 1): the 95 % interval covers ~95 %."""
    rng = np.random.default_rng(123)
    hits = 0
    for i in range(200):
        x = np.exp(rng.normal(0.0, 1.0, 25))
        lo, hi = S.bootstrap_median_ci(x, n_boot=1000, seed=i)
        hits += lo <= 1.0 <= hi
    assert 0.88 <= hits / 200 <= 0.99, hits


def test_bootstrap_degenerate_and_deterministic():
    x = [0.3, 0.1, 0.5, 0.2, 0.9, np.nan]
    assert S.bootstrap_median_ci(x) == S.bootstrap_median_ci(list(reversed(x)))
    assert S.bootstrap_median_ci([0.4]) == (0.4, 0.4)
    assert all(np.isnan(S.bootstrap_median_ci([np.nan, np.inf])))
    assert S.intervals_overlap(0, 1, 1, 2) and not S.intervals_overlap(0, 1, 1.5, 2)
    assert not S.intervals_overlap(np.nan, 1, 0, 2)


def test_vectorised_scores_equal_the_scorer():
    rng = np.random.default_rng(0)
    t = rng.uniform(1, 10, size=(30, 7, 5))
    t[rng.uniform(size=t.shape) < 0.2] = np.inf
    t[3, 2, :] = np.inf  # every method misses a problem
    t[4, 1, :2] = 2.0  # a tie
    t[5, 0, 0] = 0.0  # a zero best time
    got = S.profile_scores_batch(t, 4.0)
    for b in range(len(t)):
        want = profile_scores(performance_ratios(pd.DataFrame(t[b])), 4.0).to_numpy()
        assert np.allclose(got[b], want), b


def test_score_interval_from_seeds():
    rows = []
    for p in range(4):
        for s in range(3):
            rows.append(dict(problem=f"p{p}", method="fast", t=1.0 + 0.01 * s))
            rows.append(dict(problem=f"p{p}", method="slow", t=3.0 + 0.01 * s))
            rows.append(dict(problem=f"p{p}", method="noisy", t=[1.0, 2.0, np.inf][s]))
    ci = S.bootstrap_scores(pd.DataFrame(rows)).set_index("method")
    assert ci.loc["fast", "score"] == pytest.approx(1.0) and ci.loc["fast", "score_low"] == pytest.approx(1.0, abs=0.01)
    assert ci.loc["slow", "score"] == pytest.approx(1 / 3, abs=0.01)
    assert ci.loc["noisy", "score_low"] < ci.loc["noisy", "score"] <= ci.loc["noisy", "score_high"]
    assert ci.loc["noisy", "score_high"] - ci.loc["noisy", "score_low"] > 0.2  # one seed of three misses


def test_holm_known_values():
    assert np.allclose(S.holm([0.01, 0.04, 0.03]), [0.03, 0.06, 0.06])
    assert np.allclose(S.holm([0.5, 0.001]), [0.5, 0.002])


def test_friedman_matches_scipy_without_ties():
    from scipy.stats import friedmanchisquare

    rng = np.random.default_rng(1)
    e = pd.DataFrame(rng.uniform(size=(12, 4)), columns=list("abcd"))
    fr = S.friedman(e)
    ref = friedmanchisquare(*[e[c] for c in e])
    assert fr.chi2 == pytest.approx(ref.statistic) and fr.p_chi2 == pytest.approx(ref.pvalue)
    # Demšar's worked numbers for the CD: k = 4, N = 14, q_0.05 = 2.569 → CD = 1.25
    assert S.nemenyi_cd(4, 14) == pytest.approx(2.569 * np.sqrt(4 * 5 / (6 * 14)), rel=1e-3)


def _synthetic(n_problems, shift, seed):
    rng = np.random.default_rng(seed)
    base = 10 ** rng.uniform(-4, -1, n_problems)  # problems of very different difficulty
    noise = lambda: np.exp(rng.normal(0, 0.3, n_problems))  # noqa: E731
    return pd.DataFrame({"a": base * noise(), "b": base * noise() * shift, "c": base * noise() * shift * 1.0},
                        index=[f"p{i}" for i in range(n_problems)])


def test_significance_separates_different_methods_and_not_identical_ones():
    e = _synthetic(30, shift=10.0, seed=2)  # b and c: 10× the error of a; b, c drawn alike
    cmp = S.compare_methods(e)
    assert cmp.friedman.significant() and cmp.posthoc == "wilcoxon-holm"
    pairs = cmp.pairs.set_index(["a", "b"])
    assert pairs.loc[("a", "b"), "significant"] and pairs.loc[("a", "c"), "significant"]
    assert not pairs.loc[("b", "c"), "significant"]
    assert cmp.letters["a"] != cmp.letters["b"] and set(cmp.letters["b"]) & set(cmp.letters["c"])
    assert "Friedman test over 30 problems and 3 methods" in cmp.statement()


def test_identical_methods_are_not_separated():
    rng = np.random.default_rng(5)
    base = 10 ** rng.uniform(-4, -1, 30)
    e = pd.DataFrame({"x": base * np.exp(rng.normal(0, .3, 30)), "y": base * np.exp(rng.normal(0, .3, 30))})
    cmp = S.compare_methods(e)
    assert not cmp.friedman.significant()
    assert cmp.letters == {"x": "a", "y": "a"}
    same = pd.DataFrame({"x": base, "y": base})  # exactly equal: every rank tied
    c2 = S.compare_methods(same)
    assert c2.friedman.p == 1.0 and c2.pairs["p"].iloc[0] == 1.0 and c2.letters == {"x": "a", "y": "a"}


def test_few_problems_use_nemenyi_and_failures_rank_last():
    e = pd.DataFrame({"good": [1e-3] * 6, "mid": [1e-2] * 6, "bad": [np.nan] * 6}, index=list("uvwxyz"))
    cmp = S.compare_methods(e)
    assert cmp.posthoc == "nemenyi" and list(cmp.friedman.avg_ranks.index) == ["good", "mid", "bad"]
    assert cmp.friedman.significant()
    assert "good" in cmp.groups[0] and "bad" not in cmp.groups[0]


def test_methods_run_on_few_problems_are_left_out():
    e = pd.DataFrame({"a": [1, 2, 3, 4.0], "b": [2, 3, 4, 5.0], "c": [np.nan, np.nan, np.nan, 1.0]})
    ran = e.notna()
    ran["a"] = ran["b"] = True
    cmp = S.compare_methods(e, ran)
    assert cmp.excluded == ["c"] and len(cmp.problems) == 4


def test_cd_groups_are_maximal_runs():
    R = pd.Series({"a": 1.0, "b": 1.5, "c": 2.6, "d": 3.0})
    g = S.cd_groups(R, lambda x, y: abs(R[x] - R[y]) >= 1.2)
    assert g == [["a", "b"], ["b", "c"], ["c", "d"]]  # b and d differ by 1.5
    assert S.group_letters(g) == {"a": "a", "b": "ab", "c": "bc", "d": "c"}
    assert S.cd_groups(R, lambda x, y: False) == [["a", "b", "c", "d"]]
