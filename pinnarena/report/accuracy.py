"""The best accuracy reached on each problem, whatever the study: a finding and its table.

For every problem with ranked runs: the cell (study, method) with the lowest median rel. L2 over
its held-out seeds, that median's bootstrap 95 % interval, the cell's budget (its runs' median
``budget_seconds``, or steps where a study has no time budget), and whether the median reaches
the problem's target (≤, pinnarena.scoring's targets). A study with a longer budget (the CPU
suite's ``records``) then shows what the methods reach when time is not what stops them.

Where the targets give the error the literature reports (``literature``), the table adds the
ratio median / literature and a measured diagnosis of a miss, from the winning cell's curves:
the *end trend* s, the least-squares slope of log10 rel. L2 against the budget's clock over
the last half of each held-out run (median over the runs, in decades per minute). With the
remaining gap g = log10(median / literature) decades,

* s ≤ −``FALLING`` decades/min: still falling when the budget ended, a budget limit; at that
  rate the literature's error needs about 60 · g / |s| seconds more;
* otherwise: flat or rising at the end, so more of the same budget would not close the gap
  (capacity, precision, conditioning or the method's own floor: the error is not time-limited).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from pinnarena.aggregate import budget_clock_seconds, ranked_rows

from .context import Context
from .model import Finding, Table, _interval, _sci

ANCHOR = "best-accuracy"
FALLING = 0.05  # decades per minute: slower than this at the end counts as flat


def _budgets(summaries: pd.DataFrame) -> dict:
    """(study, optimizer, remedy, problem) → (label "60 s" or "2000 steps", seconds or NaN): the
    cell's median budget."""
    rows = ranked_rows(summaries)
    out = {}
    if rows.empty:
        return out
    for key, g in rows.groupby(["study", "optimizer", "remedy", "problem"], dropna=False):
        sec = g["budget_seconds"].astype(float).dropna() if "budget_seconds" in g else pd.Series(dtype=float)
        out[key] = ((f"{sec.median():g} s", float(sec.median())) if len(sec)
                    else (f"{int(g['steps'].median())} steps", float("nan")))
    return out


def end_trend(curves: pd.DataFrame, summaries: pd.DataFrame) -> float:
    """Median over runs of the slope of log10 rel. L2 against time on the run's budget clock
    (``budget_clock_seconds``; decades per minute) over the last half of each run. NaN when no
    run has three finite points in its last half."""
    if curves.empty:
        return float("nan")
    curves = curves.assign(_clock=budget_clock_seconds(curves, summaries).to_numpy())
    slopes = []
    for _, c in curves.groupby("run_id"):
        t, e = c["_clock"].to_numpy(float), c["rel_l2"].to_numpy(float)
        ok = np.isfinite(t) & np.isfinite(e) & (e > 0)
        t, e = t[ok], e[ok]
        if len(t) < 3:
            continue
        last = t >= t.max() / 2
        if last.sum() < 3 or np.ptp(t[last]) <= 0:
            continue
        slopes.append(np.polyfit(t[last], np.log10(e[last]), 1)[0] * 60.0)
    return float(np.median(slopes)) if slopes else float("nan")


def diagnosis(median: float, literature: float, slope: float, budget_s: float) -> str:
    """The miss of ``literature`` by ``median`` read from the end trend (decades/min); see the module."""
    if not (np.isfinite(literature) and np.isfinite(median)):
        return "—"
    if median <= literature:
        return "reached"
    gap = np.log10(median / literature)
    if not np.isfinite(slope):
        return f"{gap:.1f} decades short; no curve to read a trend from"
    if slope <= -FALLING:
        more = 60.0 * gap / -slope
        times = f", {more / budget_s:.0f}× the budget" if np.isfinite(budget_s) and budget_s > 0 else ""
        return (f"budget: {gap:.1f} decades short, still falling {-slope:.2g} decades/min at the end; "
                f"at that rate ≈ {more:.0f} s more{times}")
    return (f"not the budget: {gap:.1f} decades short and flat at the end ({slope:+.2g} decades/min), "
            "so more time alone would not close it")


def best_accuracy(ctx: Context) -> tuple[Finding, Table | None]:
    """The finding "Best accuracy by problem" and its evidence table."""
    b = ctx.board[np.isfinite(ctx.board["rel_l2_median"].astype(float))]
    if b.empty:
        return Finding("Best accuracy by problem", "Not enough data: no cell has a finite median error.", ANCHOR), None
    budgets = _budgets(ctx.summaries)
    curves = ctx.curve_frame()
    rows = []
    for problem, g in b.groupby("problem", sort=True):
        w = g.loc[g["rel_l2_median"].astype(float).idxmin()]
        target = float(w["target"]) if "target" in w and pd.notna(w["target"]) else np.nan
        budget, budget_s = budgets.get((w["study"], w["optimizer"], w["remedy"], problem), ("—", np.nan))
        row = {"problem": problem, "kind": w["kind"], "study": w["study"], "method": w["method"],
               "budget": budget,
               "median rel. L2": float(w["rel_l2_median"]),
               "95 % CI": _interval(w["rel_l2_ci_low"], w["rel_l2_ci_high"]),
               "target": target,
               "reached": "—" if np.isnan(target) else ("yes" if w["rel_l2_median"] <= target else "no")}
        lit = float(w["target_literature"]) if "target_literature" in w and pd.notna(w["target_literature"]) else np.nan
        if np.isfinite(lit):
            cell = curves[(curves["study"] == w["study"]) & (curves["problem"] == problem)
                          & (curves["method"] == w["method"])] if not curves.empty else curves
            slope = end_trend(cell, ctx.summaries)
            row.update({"literature": lit, "× literature": float(w["rel_l2_median"]) / lit,
                        "end trend (decades/min)": slope,
                        "diagnosis": diagnosis(float(w["rel_l2_median"]), lit, slope, budget_s)})
        rows.append(row)
    df = pd.DataFrame(rows)
    with_target = df[df["reached"] != "—"]
    hit = with_target[with_target["reached"] == "yes"]
    best = ", ".join(f"{r.problem} {_sci(r['median rel. L2'])} ({r.method}, {r.study}, {r.budget})"
                     for _, r in df.iterrows())
    txt = (f"The lowest median error over held-out seeds on each problem: {best}. "
           f"{len(hit)} of {len(with_target)} problems with a target reach it"
           + (f" ({', '.join(hit['problem'])})." if len(hit) else "."))
    fmt = {"median rel. L2": _sci, "target": _sci}
    note = ("Per problem the cell (study, method) with the lowest median final rel. L2 over its held-out "
            "seeds, with its budget and the problem's target (reached: median ≤ target).")
    if "literature" in df:
        lit = df[df["literature"].notna()]
        met = lit[lit["× literature"] <= 1]
        missed = lit[lit["× literature"] > 1]
        txt += f" Against the error the literature reports, {len(met)} of {len(lit)} reach it"
        txt += ("." if missed.empty else
                "; the misses, read from the end of the best cell's curves: "
                + "; ".join(f"{r.problem} {r['× literature']:.3g}× ({r.diagnosis})" for _, r in missed.iterrows()) + ".")
        fmt.update({"literature": _sci, "× literature": lambda x: "—" if pd.isna(x) else f"{x:.3g}",
                    "end trend (decades/min)": lambda x: "—" if pd.isna(x) else f"{x:+.2g}"})
        note += (" literature: the error the literature reports (config/targets.yaml, with its citation); "
                 "end trend: slope of log10 rel. L2 over the last half of each held-out run, median over runs; "
                 "a miss with a falling end is the budget's, a flat one is not (pinnarena/report/accuracy.py).")
    table = Table("Best accuracy by problem", df, anchor=ANCHOR, fmt=fmt, note=note)
    return Finding("Best accuracy by problem", txt, ANCHOR), table
