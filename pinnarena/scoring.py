"""Scoring, after MLCommons AlgoPerf (``scoring/performance_profile.py``), adapted to PINNs.

Rules (tested in ``tests/test_scoring.py``):

1. Every problem has a target relative L2 error (``config/targets.yaml``, each with its
   provenance; a problem missing from the file falls back to the median final error of the
   baseline ``adam + none`` in the same results, see :func:`pinnarena.aggregate.derived_targets`).
2. A method's time-to-target ``t[p, m]`` on problem ``p`` is the time (train seconds or gradient
   evaluations) of its first evaluation with ``rel_l2 ≤ target`` (median over seeds); a miss, a
   method that was not run on the problem and a NaN all count as ``t = inf``.
3. ``r[p, m] = t[p, m] / min_m' t[p, m']`` — relative to the best method *on that problem*, so a
   method that is worse everywhere never changes anyone else's ratio. Ties (equal up to a
   relative 1e-9, i.e. float round-off) give ``r = 1`` to every tied method. If the best time is 0, methods with ``t = 0`` get ``r = 1`` and all
   others ``inf``. If every method misses, every ratio is ``inf``.
4. ``r > max_ratio`` (4) counts as a miss: ``r = inf``.
5. Performance profile ``ρ_m(τ) = |{p : r[p, m] ≤ τ}| / P`` (P = number of problems).
6. Score ``= 1/(τ_max − 1) ∫₁^τ_max ρ_m(τ) dτ``, the exact integral of the step function:
   ``(1/P) Σ_p (τ_max − r[p, m]) / (τ_max − 1)`` over the problems with finite ``r`` — 1 for a
   method that is best everywhere, 0 for one that never gets within a factor 4 of the best.
7. Speed-up against the baseline: the geometric mean over the problems both hit of
   ``t[p, baseline] / t[p, m]`` (> 1: faster than the baseline); NaN if there is no such problem.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

MAX_RATIO = 4.0
TIE_RTOL = 1e-9  # times within this relative distance of the best are ties (float round-off)
BASELINE = "adam + none"


# ----------------------------------------------------------------------------------- targets
def load_targets(path: str | os.PathLike, suite: str | None = None) -> dict[str, dict]:
    """``{problem: {"rel_l2": float, "provenance": str}}`` from a targets YAML file.

    Layout: ``targets: {problem: {rel_l2, provenance}}`` plus optional per-suite overrides
    ``suites: {suite: {problem: {rel_l2, provenance}}}`` that replace entries for that suite.
    Every entry must have a positive ``rel_l2`` and a non-empty ``provenance``; an entry may add
    ``literature``, the (positive) error the literature reports for the problem (the report's
    best-accuracy finding measures the best cell against it; scoring uses ``rel_l2`` only).
    """
    import yaml

    data = yaml.safe_load(Path(path).read_text()) or {}
    out = dict(data.get("targets") or {})
    if suite is not None:
        out.update((data.get("suites") or {}).get(suite) or {})
    for prob, t in out.items():
        if not isinstance(t, dict) or "rel_l2" not in t:
            raise ValueError(f"targets {path}: {prob}: needs rel_l2")
        if not (float(t["rel_l2"]) > 0):
            raise ValueError(f"targets {path}: {prob}: rel_l2 must be positive")
        if not str(t.get("provenance", "")).strip():
            raise ValueError(f"targets {path}: {prob}: needs a provenance string")
        unknown = set(t) - {"rel_l2", "provenance", "literature"}
        if unknown:
            raise ValueError(f"targets {path}: {prob}: unknown keys {sorted(unknown)} "
                             "(accepted: rel_l2, provenance, literature)")
        out[prob] = {"rel_l2": float(t["rel_l2"]), "provenance": str(t["provenance"]).strip()}
        if "literature" in t:
            if not (float(t["literature"]) > 0):
                raise ValueError(f"targets {path}: {prob}: literature must be a positive error")
            out[prob]["literature"] = float(t["literature"])
    return out


# ----------------------------------------------------------------------------------- scoring
def _clean(times: pd.DataFrame) -> pd.DataFrame:
    t = times.astype(float)
    return t.where(np.isfinite(t) & (t >= 0), np.inf)


def performance_ratios(times: pd.DataFrame, max_ratio: float = MAX_RATIO) -> pd.DataFrame:
    """``r`` for a problems × methods table of times-to-target (rules 2–4)."""
    t = _clean(times).to_numpy(dtype=float)
    best = t.min(axis=1, keepdims=True) if t.shape[1] else np.full((t.shape[0], 1), np.inf)
    with np.errstate(divide="ignore", invalid="ignore"):
        tie = (t == best) | (np.isfinite(t) & np.isclose(t, best, rtol=TIE_RTOL, atol=0.0))
        r = np.where(tie, 1.0, t / best)  # ties (also t = best = 0, and float round-off) → exactly 1
    r = np.where(np.isfinite(best) & np.isfinite(r) & (r <= max_ratio), r, np.inf)
    return pd.DataFrame(r, index=times.index, columns=times.columns)


def performance_profile(ratios: pd.DataFrame, taus) -> pd.DataFrame:
    """``ρ_m(τ)``: rows τ, columns methods (rule 5)."""
    taus = np.asarray(taus, dtype=float)
    P = max(len(ratios.index), 1)
    r = ratios.to_numpy(dtype=float)
    counts = np.stack([np.searchsorted(np.sort(r[:, j]), taus, side="right") for j in range(r.shape[1])], axis=1) \
        if r.shape[1] else np.zeros((len(taus), 0))
    return pd.DataFrame(counts / P, index=pd.Index(taus, name="tau"), columns=ratios.columns)


def profile_scores(ratios: pd.DataFrame, max_ratio: float = MAX_RATIO) -> pd.Series:
    """Exact ``1/(τ_max−1) ∫₁^τ_max ρ(τ) dτ`` per method (rule 6)."""
    if len(ratios.index) == 0:
        return pd.Series(0.0, index=ratios.columns)
    r = ratios.to_numpy(dtype=float)
    area = np.where(np.isfinite(r) & (r <= max_ratio), max_ratio - np.maximum(r, 1.0), 0.0)
    return pd.Series(area.mean(axis=0) / (max_ratio - 1.0), index=ratios.columns)


def speedups(times: pd.DataFrame, baseline: str = BASELINE) -> pd.DataFrame:
    """Geometric-mean speed-up against ``baseline`` over problems both hit (rule 7): columns
    ``speedup`` and ``n_common``."""
    t = _clean(times)
    out = {}
    for m in t.columns:
        if baseline not in t.columns:
            out[m] = (np.nan, 0)
            continue
        both = np.isfinite(t[m]) & np.isfinite(t[baseline]) & (t[m] > 0) & (t[baseline] > 0)
        n = int(both.sum())
        out[m] = (float(np.exp(np.mean(np.log(t.loc[both, baseline] / t.loc[both, m])))) if n else np.nan, n)
    return pd.DataFrame.from_dict(out, orient="index", columns=["speedup", "n_common"])


def wins(ratios: pd.DataFrame) -> pd.Series:
    """Problems on which the method reached the target fastest (ties count for every tied method)."""
    return (ratios == 1.0).sum(axis=0).astype(int)


def median_rank(errors: pd.DataFrame) -> pd.Series:
    """Median over problems of the method's rank by final error (1 = lowest; ties share the lowest
    rank; NaN errors rank last)."""
    if errors.empty:
        return pd.Series(np.nan, index=errors.columns)
    e = errors.astype(float).where(np.isfinite(errors.astype(float)), np.inf)
    ranks = e.rank(axis=1, method="min")
    return ranks.median(axis=0)


def pivot(board: pd.DataFrame, value: str) -> pd.DataFrame:
    """problems × methods table of a leaderboard column (one study's rows)."""
    return board.pivot_table(index="problem", columns="method", values=value, aggfunc="first", dropna=False)


def score_board(board: pd.DataFrame, baseline: str = BASELINE, max_ratio: float = MAX_RATIO) -> pd.DataFrame:
    """Per method of one study's leaderboard rows: scores (seconds and gradient evaluations),
    wins, problems hit, median rank by final error, speed-ups against the baseline, failure rate."""
    methods = sorted(board["method"].unique())
    problems = sorted(board["problem"].unique())
    full = lambda v: pivot(board, v).reindex(index=problems, columns=methods)  # noqa: E731
    ts, tg = full("ttt_seconds"), full("ttt_grad_evals")
    rs, rg = performance_ratios(ts, max_ratio), performance_ratios(tg, max_ratio)
    sp_s, sp_g = speedups(ts, baseline), speedups(tg, baseline)
    runs = board["n_runs"].astype(float)
    fr = (board["failure_rate"].astype(float) * runs).groupby(board["method"]).sum() / runs.groupby(board["method"]).sum()
    out = pd.DataFrame({
        "method": methods,
        "score_seconds": profile_scores(rs, max_ratio).reindex(methods).to_numpy(),
        "score_grad_evals": profile_scores(rg, max_ratio).reindex(methods).to_numpy(),
        "wins": wins(rs).reindex(methods).to_numpy(),
        "problems_hit": np.isfinite(_clean(ts)).sum(axis=0).reindex(methods).to_numpy(),
        "n_problems": len(problems),
        "median_rank": median_rank(full("rel_l2_median")).reindex(methods).to_numpy(),
        "speedup_seconds": sp_s["speedup"].reindex(methods).to_numpy(),
        "speedup_grad_evals": sp_g["speedup"].reindex(methods).to_numpy(),
        "failure_rate": fr.reindex(methods).to_numpy(),
    })
    return out.sort_values(["score_seconds", "score_grad_evals", "median_rank"], ascending=[False, False, True],
                           kind="mergesort").reset_index(drop=True)
