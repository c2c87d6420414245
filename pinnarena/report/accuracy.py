"""The best accuracy reached on each problem, whatever the study: a finding and its table.

For every problem with ranked runs: the cell (study, method) with the lowest median rel. L2 over
its held-out seeds, that median's bootstrap 95 % interval, the cell's budget (its runs' median
``budget_seconds``, or steps where a study has no time budget), and whether the median reaches
the problem's target (≤, pinnarena.scoring's targets). A study with a longer budget (the CPU
suite's ``records``) then shows what the methods reach when time is not what stops them.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from pinnarena.aggregate import ranked_rows

from .context import Context
from .model import Finding, Table, _interval, _sci

ANCHOR = "best-accuracy"


def _budgets(summaries: pd.DataFrame) -> dict:
    """(study, optimizer, remedy, problem) → "60 s" or "2000 steps" (the cell's median budget)."""
    rows = ranked_rows(summaries)
    out = {}
    if rows.empty:
        return out
    for key, g in rows.groupby(["study", "optimizer", "remedy", "problem"], dropna=False):
        sec = g["budget_seconds"].astype(float).dropna() if "budget_seconds" in g else pd.Series(dtype=float)
        out[key] = f"{sec.median():g} s" if len(sec) else f"{int(g['steps'].median())} steps"
    return out


def best_accuracy(ctx: Context) -> tuple[Finding, Table | None]:
    """The finding "Best accuracy by problem" and its evidence table."""
    b = ctx.board[np.isfinite(ctx.board["rel_l2_median"].astype(float))]
    if b.empty:
        return Finding("Best accuracy by problem", "Not enough data: no cell has a finite median error.", ANCHOR), None
    budgets = _budgets(ctx.summaries)
    rows = []
    for problem, g in b.groupby("problem", sort=True):
        w = g.loc[g["rel_l2_median"].astype(float).idxmin()]
        target = float(w["target"]) if "target" in w and pd.notna(w["target"]) else np.nan
        rows.append({"problem": problem, "kind": w["kind"], "study": w["study"], "method": w["method"],
                     "budget": budgets.get((w["study"], w["optimizer"], w["remedy"], problem), "—"),
                     "median rel. L2": float(w["rel_l2_median"]),
                     "95 % CI": _interval(w["rel_l2_ci_low"], w["rel_l2_ci_high"]),
                     "target": target,
                     "reached": "—" if np.isnan(target) else ("yes" if w["rel_l2_median"] <= target else "no")})
    df = pd.DataFrame(rows)
    with_target = df[df["reached"] != "—"]
    hit = with_target[with_target["reached"] == "yes"]
    best = ", ".join(f"{r.problem} {_sci(r['median rel. L2'])} ({r.method}, {r.study}, {r.budget})"
                     for _, r in df.iterrows())
    txt = (f"The lowest median error over held-out seeds on each problem: {best}. "
           f"{len(hit)} of {len(with_target)} problems with a target reach it"
           + (f" ({', '.join(hit['problem'])})." if len(hit) else "."))
    table = Table("Best accuracy by problem", df, anchor=ANCHOR,
                  fmt={"median rel. L2": _sci, "target": _sci},
                  note="Per problem the cell (study, method) with the lowest median final rel. L2 over its held-out "
                       "seeds, with its budget and the problem's target (reached: median ≤ target).")
    return Finding("Best accuracy by problem", txt, ANCHOR), table
