"""Aggregation: every run's summary → ``leaderboard.parquet``, one row per study × problem × method.

Per group (``study, problem, optimizer, remedy``) over seeds: number of runs, counts by status
and the failure rate (share of runs whose status is not ``ok``), median and interquartile range
of the final relative L2 error (over runs with a finite error), the best relative L2, median
train seconds, median gradient evaluations and the parameter count. A group whose runs all
failed still has its row, with NaN errors and failure rate 1.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from pinnarena.results import STATUSES, read_summaries, write_parquet_atomic

GROUP = ["study", "problem", "optimizer", "remedy"]


def _q(s: pd.Series, q: float) -> float:
    s = s[np.isfinite(s)]
    return float(np.quantile(s, q)) if len(s) else float("nan")


def leaderboard(summaries: pd.DataFrame) -> pd.DataFrame:
    if summaries.empty:
        return pd.DataFrame(columns=GROUP + ["n_runs", "failure_rate", "rel_l2_median"])
    rows = []
    for key, g in summaries.groupby(GROUP, sort=True, dropna=False):
        err = g["rel_l2"].astype(float).where(g["status"] != "error")
        row = dict(zip(GROUP, key))
        row.update(
            family=g["family"].iloc[0],
            kind=g["kind"].iloc[0],
            suite=g["suite"].iloc[0],
            n_runs=len(g),
            seeds=",".join(str(s) for s in sorted(g["seed"])),
            failure_rate=float((g["status"] != "ok").mean()),
            rel_l2_median=_q(err, 0.5),
            rel_l2_q25=_q(err, 0.25),
            rel_l2_q75=_q(err, 0.75),
            rel_l2_best=float(np.nanmin(g["rel_l2_best"].astype(float))) if g["rel_l2_best"].notna().any() else float("nan"),
            train_seconds_median=float(g["train_seconds"].astype(float).median()),
            grad_evals_median=float(g["grad_evals"].astype(float).median()),
            n_params=int(g["n_params"].max()) if g["n_params"].notna().any() else -1,
        )
        for s in STATUSES:
            row[f"n_{s}"] = int((g["status"] == s).sum())
        rows.append(row)
    return pd.DataFrame(rows)


def write_leaderboard(results: str | os.PathLike, out: str | os.PathLike | None = None) -> pd.DataFrame:
    results = Path(results)
    runs = results / "runs" if (results / "runs").is_dir() else results
    df = leaderboard(read_summaries(runs))
    write_parquet_atomic(df, out or results / "leaderboard.parquet")
    return df
