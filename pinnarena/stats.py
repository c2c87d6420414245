r"""Statistics of the report: bootstrap intervals, the score's interval, rank tests across problems.

Everything is deterministic: every resampling draws from ``numpy.random.default_rng(seed)`` with
a fixed default seed, so the same inputs always give the same intervals.

**Bootstrap interval of a median** (:func:`bootstrap_median_ci`). Efron & Tibshirani (1993),
*An Introduction to the Bootstrap*, Chapman & Hall, ch. 13: draw ``B`` resamples
:math:`x^{*b}` of size :math:`n` with replacement from the :math:`n` seeds' values, compute
:math:`\hat m^{*b} = \mathrm{median}(x^{*b})`, and report the percentile interval
:math:`[\hat m^*_{(\alpha/2)}, \hat m^*_{(1-\alpha/2)}]` (the empirical quantiles of the
:math:`B` replicates). With three seeds the interval can only take the sample's own values and
is as wide as the sample's range except in the tails: read it as "what the seeds allow".

**The score's interval** (:func:`bootstrap_scores`). The AlgoPerf-style score
(:mod:`pinnarena.scoring`) is a function of the per-(problem, method) median time-to-target over
seeds. A replicate resamples, independently for every (problem, method) cell, that cell's seeds
with replacement, takes the median of the resampled times (a miss is ``inf``), and recomputes
every method's score with the unchanged scorer (ratios to the replicate's best method per
problem, ``r > 4`` a miss, exact integral of the profile). The interval is the percentile
interval of the replicates (Efron & Tibshirani 1993, ch. 13), the spread that seed-to-seed
variation alone induces; problems are not resampled (the suite is fixed).

**Friedman test** (:func:`friedman`). Demšar (2006), *Statistical Comparisons of Classifiers
over Multiple Data Sets*, JMLR 7:1–30, Sec. 3.2.2. With :math:`N` problems (blocks) and
:math:`k` methods, :math:`r_i^j` the rank of method :math:`j` on problem :math:`i` (1 = lowest
error, ties share the average rank) and :math:`R_j = \frac1N\sum_i r_i^j` the average ranks,

.. math::
    \chi^2_F = \frac{12N}{k(k+1)}\Big[\sum_j R_j^2 - \frac{k(k+1)^2}{4}\Big],\qquad
    F_F = \frac{(N-1)\chi^2_F}{N(k-1) - \chi^2_F},

:math:`\chi^2_F \sim \chi^2_{k-1}` and (Iman & Davenport 1980) :math:`F_F \sim F_{k-1,(k-1)(N-1)}`
under the null hypothesis that all methods are equivalent. The p-value reported is Iman–
Davenport's (less conservative, recommended by Demšar). A tie correction divides
:math:`\chi^2_F` by :math:`1 - \sum (t^3 - t) / (N(k^3 - k))` over tie groups of size :math:`t`.

**Nemenyi critical difference** (:func:`nemenyi_cd`). Demšar (2006), Sec. 3.2.2: two methods
differ significantly when their average ranks differ by at least
:math:`CD = q_\alpha\sqrt{k(k+1)/(6N)}`, with :math:`q_\alpha` the studentized range quantile
for :math:`k` groups and infinite degrees of freedom divided by :math:`\sqrt2`.

**Wilcoxon–Holm** (:func:`pairwise_wilcoxon_holm`). Every pair of methods is compared with the
Wilcoxon signed-rank test on the paired per-problem differences (Demšar 2006, Sec. 3.1.3), and
the :math:`m = k(k-1)/2` p-values are adjusted with Holm's (1979) step-down procedure
(*A Simple Sequentially Rejective Multiple Test Procedure*, Scand. J. Statist. 6:65–70): sort
:math:`p_{(1)} \le \dots \le p_{(m)}`, adjusted
:math:`\tilde p_{(i)} = \max_{l \le i} \min(1, (m - l + 1)\,p_{(l)})`; a pair is significant
when :math:`\tilde p \le \alpha`. This controls the family-wise error rate at :math:`\alpha`.

**Groups that the data cannot separate** (:func:`cd_groups`). Methods sorted by average rank;
a group is a maximal run of consecutive methods no two of which differ significantly (by the
critical difference, or by the Wilcoxon–Holm decisions) — the bars of a critical-difference
diagram (Demšar 2006, Fig. 1). A method belongs to every group that contains it; two methods
that share a group are a tie the data cannot separate.

:func:`compare_methods` runs Friedman first; only if it rejects are pairs separated. The
post-hoc decisions are Wilcoxon–Holm with at least :data:`MIN_WILCOXON` problems and Nemenyi's
critical difference below that: with N < 10 problems Holm-adjusted signed-rank tests can hardly
reject (with N = 5 the smallest two-sided exact p is 0.0625), while the rank-based CD still can.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from itertools import combinations

import numpy as np
import pandas as pd

N_BOOT = 2000
BOOT_SEED = 20261
ALPHA = 0.05
MIN_WILCOXON = 10  # problems needed to use Wilcoxon–Holm rather than Nemenyi for the groups


def _finite(x) -> np.ndarray:
    x = np.asarray(x, dtype=float)
    return x[np.isfinite(x)]


# -------------------------------------------------------------------------------- bootstrap
def bootstrap_median_ci(x, *, n_boot: int = N_BOOT, seed: int = BOOT_SEED, level: float = 0.95) -> tuple[float, float]:
    """Percentile-bootstrap interval of the median of the finite values of ``x`` (deterministic;
    Efron & Tibshirani 1993, ch. 13). NaN for no finite value; the value itself for one."""
    x = np.sort(_finite(x))
    if len(x) == 0:
        return float("nan"), float("nan")
    if len(x) == 1:
        return float(x[0]), float(x[0])
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(x), size=(n_boot, len(x)))
    med = np.median(x[idx], axis=1)
    a = (1.0 - level) / 2.0
    return float(np.quantile(med, a)), float(np.quantile(med, 1.0 - a))


def intervals_overlap(lo1, hi1, lo2, hi2) -> bool:
    """Whether [lo1, hi1] and [lo2, hi2] overlap (False when any bound is NaN)."""
    vals = [lo1, hi1, lo2, hi2]
    if any(v is None or (isinstance(v, float) and math.isnan(v)) for v in vals):
        return False
    return bool(lo1 <= hi2 and lo2 <= hi1)


def bootstrap_scores(times: pd.DataFrame, *, n_boot: int = 1000, seed: int = BOOT_SEED, level: float = 0.95,
                     max_ratio: float | None = None) -> pd.DataFrame:
    """Percentile intervals of every method's score by resampling seeds (see the module docstring).

    ``times``: one row per run with columns ``problem, method, t`` (time-to-target of the run,
    ``inf`` for a miss or a failure). Returns ``method, score, score_low, score_high`` where
    ``score`` is the score of the observed medians (what :func:`pinnarena.scoring.score_board`
    reports). Methods not run on a problem count as a miss there (as in the scorer).
    """
    from pinnarena.scoring import MAX_RATIO

    max_ratio = MAX_RATIO if max_ratio is None else max_ratio
    if times.empty:
        return pd.DataFrame(columns=["method", "score", "score_low", "score_high"])
    problems = sorted(times["problem"].unique())
    methods = sorted(times["method"].unique())
    pi = {p: i for i, p in enumerate(problems)}
    mi = {m: j for j, m in enumerate(methods)}
    rng = np.random.default_rng(seed)
    reps = np.full((n_boot, len(problems), len(methods)), np.inf)
    obs = np.full((len(problems), len(methods)), np.inf)
    for (p, m), g in times.groupby(["problem", "method"], sort=True):
        t = np.asarray(g["t"], dtype=float)
        t = np.where(np.isnan(t), np.inf, t)
        obs[pi[p], mi[m]] = np.median(t)
        idx = rng.integers(0, len(t), size=(n_boot, len(t)))
        reps[:, pi[p], mi[m]] = np.median(t[idx], axis=1)
    s_obs = profile_scores_batch(obs[None], max_ratio)[0]
    s_rep = profile_scores_batch(reps, max_ratio)
    a = (1.0 - level) / 2.0
    return pd.DataFrame({"method": methods, "score": s_obs, "score_low": np.quantile(s_rep, a, axis=0),
                         "score_high": np.quantile(s_rep, 1.0 - a, axis=0)})


def profile_scores_batch(t: np.ndarray, max_ratio: float) -> np.ndarray:
    """The scorer's rules 2–6 (:mod:`pinnarena.scoring`) vectorised over a batch: ``t`` is
    (B, problems, methods) of times-to-target; returns (B, methods) scores. Equal to
    ``profile_scores(performance_ratios(t[b]))`` for every b (tested)."""
    from pinnarena.scoring import TIE_RTOL

    t = np.where(np.isfinite(t) & (t >= 0), t, np.inf)
    best = t.min(axis=2, keepdims=True) if t.shape[2] else np.full(t.shape[:2] + (1,), np.inf)
    with np.errstate(divide="ignore", invalid="ignore"):
        tie = (t == best) | (np.isfinite(t) & np.isclose(t, best, rtol=TIE_RTOL, atol=0.0))
        r = np.where(tie, 1.0, t / best)
    r = np.where(np.isfinite(best) & np.isfinite(r) & (r <= max_ratio), r, np.inf)
    if t.shape[1] == 0:
        return np.zeros((t.shape[0], t.shape[2]))
    area = np.where(np.isfinite(r) & (r <= max_ratio), max_ratio - np.maximum(r, 1.0), 0.0)
    return area.mean(axis=1) / (max_ratio - 1.0)


# ------------------------------------------------------------------------------- rank tests
def ranks(errors: pd.DataFrame) -> pd.DataFrame:
    """Per problem (row) the rank of each method (column): 1 = lowest error, average ranks for
    ties, NaN/inf (failures) rank after every finite value (tied among themselves)."""
    e = errors.astype(float)
    e = e.where(np.isfinite(e), np.inf)
    return e.rank(axis=1, method="average")


@dataclass
class Friedman:
    n_problems: int
    n_methods: int
    avg_ranks: pd.Series  # sorted ascending (best first)
    chi2: float
    p_chi2: float
    f: float
    p: float  # Iman–Davenport p-value

    def significant(self, alpha: float = ALPHA) -> bool:
        return bool(np.isfinite(self.p) and self.p <= alpha)


def friedman(errors: pd.DataFrame) -> Friedman:
    """Friedman test with the Iman–Davenport correction and a tie correction (Demšar 2006).

    ``errors``: problems × methods (complete: every method on every problem; failures as NaN or
    inf rank last). Needs N ≥ 2 problems and k ≥ 2 methods (else NaN statistics).
    """
    from scipy import stats as st

    N, k = errors.shape
    r = ranks(errors)
    R = r.mean(axis=0).sort_values(kind="mergesort")
    if N < 2 or k < 2:
        return Friedman(N, k, R, float("nan"), float("nan"), float("nan"), float("nan"))
    chi2 = 12.0 * N / (k * (k + 1)) * (float((R ** 2).sum()) - k * (k + 1) ** 2 / 4.0)
    ties = 0.0
    for _, row in r.iterrows():
        _, counts = np.unique(row.to_numpy(), return_counts=True)
        ties += float(np.sum(counts ** 3 - counts))
    corr = 1.0 - ties / (N * (k ** 3 - k))
    if corr <= 0:  # every method tied on every problem
        return Friedman(N, k, R, 0.0, 1.0, 0.0, 1.0)
    chi2 /= corr
    p_chi2 = float(st.chi2.sf(chi2, k - 1))
    denom = N * (k - 1) - chi2
    f = (N - 1) * chi2 / denom if denom > 0 else float("inf")
    p = float(st.f.sf(f, k - 1, (k - 1) * (N - 1))) if np.isfinite(f) else 0.0
    return Friedman(N, k, R, float(chi2), p_chi2, float(f), p)


def nemenyi_cd(k: int, n: int, alpha: float = ALPHA) -> float:
    """Nemenyi's critical difference of average ranks, ``q_α √(k(k+1)/(6N))`` (Demšar 2006)."""
    from scipy import stats as st

    if k < 2 or n < 1:
        return float("nan")
    q = float(st.studentized_range.ppf(1.0 - alpha, k, np.inf)) / math.sqrt(2.0)
    return q * math.sqrt(k * (k + 1) / (6.0 * n))


def holm(pvalues) -> np.ndarray:
    """Holm (1979) step-down adjusted p-values (same order as the input)."""
    p = np.asarray(pvalues, dtype=float)
    m = len(p)
    if m == 0:
        return p
    order = np.argsort(p, kind="mergesort")
    adj = np.minimum(1.0, (m - np.arange(m)) * p[order])
    adj = np.maximum.accumulate(adj)
    out = np.empty(m)
    out[order] = adj
    return out


def wilcoxon_p(d) -> float:
    """Two-sided Wilcoxon signed-rank p-value of paired differences ``d`` (1 when all are zero;
    NaN with fewer than two non-zero finite differences)."""
    from scipy import stats as st

    d = np.asarray(d, dtype=float)
    d = d[np.isfinite(d)]
    if len(d) == 0 or np.all(d == 0):
        return 1.0
    if np.count_nonzero(d) < 2:
        return float("nan")
    return float(st.wilcoxon(d, zero_method="wilcox", alternative="two-sided").pvalue)


def failures_worst(log_errors: pd.DataFrame) -> pd.DataFrame:
    """Replace NaN/inf (failures) by one more than the worst finite value of that problem (row):
    a failure is worse than every finite error and equal to another failure."""
    e = log_errors.astype(float)
    e = e.where(np.isfinite(e))
    worst = e.max(axis=1).fillna(0.0) + 1.0
    return e.apply(lambda col: col.fillna(worst))


def pairwise_wilcoxon_holm(errors: pd.DataFrame, alpha: float = ALPHA) -> pd.DataFrame:
    """Every pair of methods: Wilcoxon signed-rank test on the per-problem differences of
    log10 error (failures worst), Holm-adjusted. Columns ``a, b, n, wins_a, wins_b, ties,
    median_log10_ratio`` (median of log10 err_a − log10 err_b; < 0: a better), ``p, p_holm,
    significant``."""
    le = failures_worst(np.log10(errors.astype(float).where(errors.astype(float) > 0)))
    rows = []
    for a, b in combinations(list(le.columns), 2):
        d = (le[a] - le[b]).to_numpy()
        rows.append(dict(a=a, b=b, n=len(d), wins_a=int((d < 0).sum()), wins_b=int((d > 0).sum()),
                         ties=int((d == 0).sum()), median_log10_ratio=float(np.median(d)) if len(d) else np.nan,
                         p=wilcoxon_p(d)))
    df = pd.DataFrame(rows, columns=["a", "b", "n", "wins_a", "wins_b", "ties", "median_log10_ratio", "p"])
    if df.empty:
        df["p_holm"], df["significant"] = [], []
        return df
    p = df["p"].fillna(1.0).to_numpy()
    df["p_holm"] = holm(p)
    df["significant"] = df["p_holm"] <= alpha
    return df


def cd_groups(avg_ranks: pd.Series, differ) -> list[list[str]]:
    """Maximal runs of consecutive methods (by average rank, best first) no two of which differ.

    ``differ(a, b) -> bool`` says whether two methods differ significantly. Returns the groups
    with at least one member, each a list of methods, none contained in another.
    """
    order = list(avg_ranks.sort_values(kind="mergesort").index)
    groups: list[list[str]] = []
    for i in range(len(order)):
        j = i
        while j + 1 < len(order) and not any(differ(order[a], order[j + 1]) for a in range(i, j + 1)):
            j += 1
        g = order[i:j + 1]
        if not any(set(g) <= set(h) for h in groups):
            groups.append(g)
    return groups


def group_letters(groups: list[list[str]]) -> dict[str, str]:
    """Compact letter display: method → the letters of the groups it belongs to ('a' = best group)."""
    letters = "abcdefghijklmnopqrstuvwxyz"
    out: dict[str, str] = {}
    for i, g in enumerate(groups):
        L = letters[i] if i < len(letters) else f"[{i}]"
        for m in g:
            out[m] = out.get(m, "") + L
    return out


@dataclass
class Comparison:
    """Friedman → Wilcoxon–Holm (and Nemenyi CD) over one set of problems × methods."""

    friedman: Friedman
    cd: float
    pairs: pd.DataFrame
    groups: list = field(default_factory=list)
    letters: dict = field(default_factory=dict)
    problems: list = field(default_factory=list)
    excluded: list = field(default_factory=list)  # methods left out (too few problems)
    posthoc: str = "wilcoxon-holm"  # or "nemenyi"

    def statement(self, alpha: float = ALPHA) -> str:
        fr = self.friedman
        if fr.n_problems < 2 or fr.n_methods < 2:
            return (f"Not enough data for a significance test ({fr.n_problems} problem(s) with every method, "
                    f"{fr.n_methods} method(s)).")
        s = (f"Friedman test over {fr.n_problems} problems and {fr.n_methods} methods (median final error per "
             f"problem; failures rank last): χ²_F = {fr.chi2:.2f}, Iman–Davenport F = {_num(fr.f)}, p {_p(fr.p)}. ")
        n_pairs = fr.n_methods * (fr.n_methods - 1) // 2
        if fr.significant(alpha) and self.posthoc == "wilcoxon-holm":
            s += (f"The methods differ (p ≤ {alpha:g}); pairwise Wilcoxon signed-rank tests with Holm's correction "
                  f"separate {int(self.pairs['significant'].sum())} of {n_pairs} pairs. ")
        elif fr.significant(alpha):
            sep = sum(1 for a, b in combinations(fr.avg_ranks.index, 2)
                      if abs(fr.avg_ranks[a] - fr.avg_ranks[b]) >= self.cd)
            s += (f"The methods differ (p ≤ {alpha:g}); with {fr.n_problems} < {MIN_WILCOXON} problems the pairs are "
                  f"separated by Nemenyi's critical difference: {sep} of {n_pairs} pairs. ")
        else:
            s += f"The data do not show a difference between the methods (p > {alpha:g}): every method shares one group. "
        s += (f"Nemenyi critical difference of average ranks at α = {alpha:g}: {self.cd:.2f}. Methods sharing a "
              "letter in the 'group' column are ties the data cannot separate.")
        if self.excluded:
            s += f" Left out (run on too few of these problems): {', '.join(self.excluded)}."
        return s


def _num(x: float) -> str:
    return "∞" if x == np.inf else f"{x:.2f}"


def _p(p: float) -> str:
    """``= 0.03`` or ``< 1e-4`` (for "p …" in text)."""
    if not np.isfinite(p):
        return "= —"
    return f"= {p:.2g}" if p >= 1e-4 else "< 1e-4"


def compare_methods(errors: pd.DataFrame, ran: pd.DataFrame | None = None, alpha: float = ALPHA,
                    min_coverage: float = 0.5) -> Comparison:
    """The full procedure on a problems × methods table of median errors (NaN = failed or not run).

    Methods run (a row exists) on fewer than ``min_coverage`` of the problems are left out; the
    test then uses the problems every remaining method was run on. Columns that are all-NaN
    because every run failed still take part (they rank last). ``ran`` (a boolean frame of the
    same shape) says which cells were run; without it every cell counts as run.
    """
    if ran is None:
        ran = pd.DataFrame(True, index=errors.index, columns=errors.columns)
    ran = ran.reindex(index=errors.index, columns=errors.columns).fillna(False).astype(bool)
    cover = ran.mean(axis=0) if len(ran) else pd.Series(dtype=float)
    keep = [m for m in errors.columns if cover.get(m, 0) >= min_coverage]
    excluded = [m for m in errors.columns if m not in keep]
    probs = [p for p in errors.index if bool(ran.loc[p, keep].all())] if keep else []
    e = errors.loc[probs, keep]
    fr = friedman(e)
    cd = nemenyi_cd(len(keep), len(probs), alpha)
    pairs = pairwise_wilcoxon_holm(e, alpha) if len(probs) >= 2 else pd.DataFrame(
        columns=["a", "b", "n", "wins_a", "wins_b", "ties", "median_log10_ratio", "p", "p_holm", "significant"])
    posthoc = "wilcoxon-holm" if len(probs) >= MIN_WILCOXON else "nemenyi"
    if not fr.significant(alpha):
        differ = lambda a, b: False  # noqa: E731
    elif posthoc == "wilcoxon-holm":
        sig = {(r.a, r.b) for r in pairs.itertuples() if r.significant}
        differ = lambda a, b: (a, b) in sig or (b, a) in sig  # noqa: E731
    else:
        R = fr.avg_ranks
        differ = lambda a, b: abs(R[a] - R[b]) >= cd  # noqa: E731
    groups = cd_groups(fr.avg_ranks, differ) if len(keep) else []
    return Comparison(fr, cd, pairs, groups, group_letters(groups), probs, excluded, posthoc)


__all__ = ["bootstrap_median_ci", "bootstrap_scores", "friedman", "nemenyi_cd", "holm", "wilcoxon_p",
           "pairwise_wilcoxon_holm", "cd_groups", "group_letters", "compare_methods", "intervals_overlap",
           "Comparison", "Friedman", "ranks"]
