"""Aggregation: run summaries (+ curves) → ``leaderboard.parquet``, one row per study × problem × method.

A *method* is an optimizer together with a remedy (``method = "optimizer + remedy"``). Per group
(``study, problem, optimizer, remedy``) over its seeds the leaderboard holds:

- ``n_runs, seeds``, counts by status ``n_ok, n_diverged, n_timeout, n_error`` and the
  ``failure_rate`` (share of runs whose status is not ``ok``);
Only ranked rows enter: tuning-trial rows (``study == "tuning"``, see :mod:`pinnarena.tuning`)
are left out (the report shows them separately).

- the final relative L2 error over the runs with a finite error and status other than ``error``:
  ``rel_l2_median``, ``rel_l2_q25``, ``rel_l2_q75``, ``rel_l2_iqr`` and a percentile-bootstrap
  95 % interval of the median, ``rel_l2_ci_low`` / ``rel_l2_ci_high``
  (:func:`pinnarena.stats.bootstrap_median_ci`, seeded, so the same inputs always give the
  same interval); ``rel_l2_best`` (best error seen by any seed);
- ``train_seconds_median``, ``grad_evals_median``, ``n_params`` and ``params_differ`` (the
  parameter count differs from the baseline ``adam + none`` on the same study and problem, or on
  the same problem in another study when the study has no baseline);
- per-problem ``target`` (relative L2, see :mod:`pinnarena.scoring`) with its ``target_provenance``
  and ``target_literature`` (the error the literature reports, NaN where the targets give none),
  and time-to-target from ``curves.parquet``: the first evaluation after step 0 (the untrained
  network does not count) with ``rel_l2 ≤ target``, in
  train seconds and in gradient evaluations, per seed; the group holds the median over seeds
  (``ttt_seconds``, ``ttt_grad_evals``; a missed seed counts as ``inf``, so the median is ``inf``
  once half the seeds miss) and ``target_hit_rate``;
- stationary-point and regime fields when the summaries carry them (``stationary_label``,
  ``hess_*``, ``regime`` …): numbers as the median over seeds, labels as the most common one;
- the errors on a problem's extra evaluation sets (summary map ``rel_l2_sets``, e.g. the Ghia
  et al. 1982 centreline values of the cavity) as ``rel_l2_set_<name>``, median over seeds.

A group whose runs all failed still has its row, with NaN errors and failure rate 1.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from pinnarena.results import STATUSES, SUMMARY_SCHEMA, read_curves, read_summaries, write_parquet_atomic

from pinnarena.stats import BOOT_SEED, N_BOOT, bootstrap_median_ci  # noqa: F401 (re-exported)

GROUP = ["study", "problem", "optimizer", "remedy"]
BASELINE = ("adam", "none")
TUNING_STUDY = "tuning"  # rows of tuning trials: never ranked
# Summary fields the leaderboard carries over when present (per seed → median or most common label).
EXTRA_PREFIXES = ("stationary", "hess", "regime", "saddle", "newton_", "auto_choice")
_SKIP = {"run_id", "config", "rel_l2_by_output", "rel_l2_sets", "unknowns", "unknowns_error", "unknowns_metrics", "error",
         "device", "cpu_threads", "cpu_model", "jax_version", "pinnarena_version", "git_commit", "precision"}


def flatten_sets(summaries: pd.DataFrame) -> pd.DataFrame:
    """The ``rel_l2_sets`` map as one column ``rel_l2_set_<name>`` per evaluation set (NaN where absent)."""
    if "rel_l2_sets" not in summaries:
        return summaries.copy()
    maps = [dict(m) if m is not None and not (isinstance(m, float) and np.isnan(m)) else {}
            for m in summaries["rel_l2_sets"]]
    names = sorted({k for m in maps for k in m})
    out = summaries.copy()
    for n in names:
        out[f"rel_l2_set_{n}"] = [float(m.get(n, np.nan)) for m in maps]
    return out


def method_name(optimizer: str, remedy: str) -> str:
    return f"{optimizer} + {remedy}"


def _finite(x) -> np.ndarray:
    x = np.asarray(x, dtype=float)
    return x[np.isfinite(x)]


def _q(x, q: float) -> float:
    x = _finite(x)
    return float(np.quantile(x, q)) if len(x) else float("nan")


def ranked_rows(summaries: pd.DataFrame) -> pd.DataFrame:
    """The rows that enter the ranking: every study except the tuning trials."""
    if summaries.empty or "study" not in summaries:
        return summaries
    return summaries[summaries["study"].fillna("") != TUNING_STUDY]


def tuning_rows(summaries: pd.DataFrame) -> pd.DataFrame:
    """The tuning-trial rows (``study == "tuning"``), empty when there are none."""
    if summaries.empty or "study" not in summaries:
        return summaries.iloc[0:0]
    return summaries[summaries["study"].fillna("") == TUNING_STUDY]


def extra_columns(summaries: pd.DataFrame) -> list[str]:
    """Stationary-point / regime / other non-core summary fields to carry into the leaderboard."""
    out = []
    for c in summaries.columns:
        if c in _SKIP or c in GROUP:
            continue
        if c.startswith(EXTRA_PREFIXES) or c not in SUMMARY_SCHEMA.names:
            out.append(c)
    return out


def _label_mode(s: pd.Series) -> str | None:
    s = s.dropna().astype(str)
    s = s[s != ""]
    if s.empty:
        return None
    counts = s.value_counts()
    top = counts.index[0]
    return top if counts.iloc[0] == len(s) else f"{top} ({counts.iloc[0]}/{len(s)})"


# ------------------------------------------------------------------------------------ targets
def derived_targets(summaries: pd.DataFrame) -> dict[str, dict]:
    """Fallback targets: the median final error of the baseline (adam + none, status ok) per problem.

    Depends on the baseline's runs only, so adding another method never moves a target.
    """
    out: dict[str, dict] = {}
    summaries = ranked_rows(summaries)
    if summaries.empty:
        return out
    base = summaries[(summaries["optimizer"] == BASELINE[0]) & (summaries["remedy"] == BASELINE[1])
                     & (summaries["status"] == "ok")]
    for prob, g in base.groupby("problem"):
        med = _q(g["rel_l2"], 0.5)
        if np.isfinite(med):
            out[str(prob)] = {"rel_l2": med, "provenance": f"derived: median final error of adam + none over "
                                                          f"{len(g)} run(s) in these results"}
    return out


def _round_up(x: float, digits: int = 2) -> float:
    """``x`` > 0 rounded up to ``digits`` significant digits (so whatever was ≤ x stays ≤)."""
    e = int(np.floor(np.log10(x))) - digits + 1
    return float(f"{np.ceil(x / 10.0**e - 1e-9) * 10.0**e:.{digits}g}")


def field_median_targets(summaries: pd.DataFrame, study: str) -> dict[str, dict]:
    """Targets that separate the methods of a study: per problem, the median over the study's
    methods (optimizer + remedy) of each method's median final error on its held-out seeds,
    rounded up to two significant digits, and at most 1 (the error of the zero predictor: a
    network worse than predicting nothing never counts as reaching a target).

    target(p) = min(1, round_up( median_m median_s e(p, m, s) )),   e = final rel. L2 of a status-ok run;

    a method none of whose runs is ok counts as +inf (its failure moves the target up, never
    down). About half of the methods reach the target within the budget, so time-to-target and
    the performance profile rank them, which a target no method reaches (or every method
    reaches) cannot. The numbers are meant to be computed once from a published snapshot and
    written into ``config/targets.yaml`` (``pinnarena targets``): a fixed target does not move
    when a method is added later.
    """
    rows = ranked_rows(summaries)
    rows = rows[rows["study"] == study]
    out: dict[str, dict] = {}
    for prob, g in rows.groupby("problem"):
        per_method = []
        for _, m in g.groupby(["optimizer", "remedy"]):
            ok = m.loc[m["status"] == "ok", "rel_l2"]
            med = _q(ok, 0.5)
            per_method.append(med if np.isfinite(med) else np.inf)
        field = float(np.median(per_method))
        if not np.isfinite(field):
            continue
        rounded = _round_up(field)
        out[str(prob)] = {"rel_l2": min(1.0, rounded), "provenance":
                          f"derived (field median): the median over the {study} study's {len(per_method)} methods "
                          f"of each method's median final error on held-out seeds ({field:.3g}), rounded up to "
                          f"2 significant digits" + (", capped at the zero predictor's 1.0" if rounded > 1.0 else "")}
    return out


def resolve_targets(summaries: pd.DataFrame, targets: dict[str, dict] | None) -> dict[str, dict]:
    """Targets from the file where given, else derived from the baseline; problems with neither are absent."""
    out = derived_targets(summaries)
    out.update(targets or {})
    return out


def budget_clock_seconds(curves: pd.DataFrame, summaries: pd.DataFrame) -> pd.Series:
    """Each curve row's time on its run's budget clock: ``train_cpu_seconds`` for a run whose time
    budget counts CPU time (``budget_clock`` cpu, where the curves record it), else
    ``train_seconds``."""
    secs = curves["train_seconds"].astype(float)
    if "train_cpu_seconds" in curves and "budget_clock" in summaries:
        clock = curves["run_id"].map(summaries.drop_duplicates("run_id").set_index("run_id")["budget_clock"])
        cpu = clock.eq("cpu") & curves["train_cpu_seconds"].notna()
        secs = secs.where(~cpu, curves["train_cpu_seconds"].astype(float))
    return secs


def time_to_target(curves: pd.DataFrame, summaries: pd.DataFrame, targets: dict[str, dict]) -> pd.DataFrame:
    """Per run: ``run_id, ttt_seconds, ttt_grad_evals`` (first evaluation after step 0 with
    rel_l2 ≤ target; miss = inf). Seconds are on the run's budget clock: a run whose time budget
    counts CPU time (``budget_clock`` cpu) is timed by its curves' ``train_cpu_seconds``, so that
    time-to-target and the budget measure the same thing; other runs by ``train_seconds``."""
    runs = summaries[["run_id", "problem"]].drop_duplicates("run_id").copy()
    runs["target"] = runs["problem"].map(lambda p: float(targets[p]["rel_l2"]) if p in targets else np.nan)
    runs["ttt_seconds"] = np.inf
    runs["ttt_grad_evals"] = np.inf
    if curves is None or curves.empty or "rel_l2" not in curves:
        return runs[["run_id", "ttt_seconds", "ttt_grad_evals"]]
    c = curves.merge(runs[["run_id", "target"]], on="run_id")
    c["_clock"] = budget_clock_seconds(c, summaries).to_numpy()
    c = c[(c["step"] > 0) & np.isfinite(c["rel_l2"].astype(float)) & (c["rel_l2"].astype(float) <= c["target"])]
    if not c.empty:
        first = c.sort_values(["run_id", "step"]).groupby("run_id", sort=False).head(1).set_index("run_id")
        ge = first["grad_evals"] if "grad_evals" in first else first["step"]
        runs = runs.set_index("run_id")
        runs.loc[first.index, "ttt_seconds"] = first["_clock"]
        runs.loc[first.index, "ttt_grad_evals"] = ge.astype(float)
        runs = runs.reset_index()
    return runs[["run_id", "ttt_seconds", "ttt_grad_evals"]]


# -------------------------------------------------------------------------------- leaderboard
def leaderboard(summaries: pd.DataFrame, curves: pd.DataFrame | None = None,
                targets: dict[str, dict] | None = None) -> pd.DataFrame:
    """The leaderboard table (see the module docstring); ``targets`` maps problem → {rel_l2, provenance}."""
    summaries = ranked_rows(summaries)
    if summaries.empty:
        return pd.DataFrame(columns=GROUP + ["method", "n_runs", "failure_rate", "rel_l2_median"])
    summaries = flatten_sets(summaries)
    if "study" not in summaries or summaries["study"].isna().all():
        summaries["study"] = summaries.get("suite", "default")
    summaries["study"] = summaries["study"].fillna("default")
    tgt = resolve_targets(summaries, targets)
    ttt = time_to_target(curves if curves is not None else pd.DataFrame(), summaries, tgt)
    summaries = summaries.merge(ttt, on="run_id", how="left")
    extras = extra_columns(summaries.drop(columns=["ttt_seconds", "ttt_grad_evals"]))
    rows = []
    for key, g in summaries.groupby(GROUP, sort=True, dropna=False):
        err = g["rel_l2"].astype(float).where(g["status"] != "error")
        lo, hi = bootstrap_median_ci(err)
        row = dict(zip(GROUP, key))
        t = tgt.get(row["problem"])
        row.update(
            method=method_name(row["optimizer"], row["remedy"]),
            family=g["family"].iloc[0],
            kind=g["kind"].iloc[0],
            suite=g["suite"].iloc[0],
            n_runs=len(g),
            seeds=",".join(str(s) for s in sorted(g["seed"])),
            failure_rate=float((g["status"] != "ok").mean()),
            rel_l2_median=_q(err, 0.5),
            rel_l2_q25=_q(err, 0.25),
            rel_l2_q75=_q(err, 0.75),
            rel_l2_ci_low=lo,
            rel_l2_ci_high=hi,
            rel_l2_best=float(np.min(_finite(g["rel_l2_best"]))) if len(_finite(g["rel_l2_best"])) else float("nan"),
            train_seconds_median=float(g["train_seconds"].astype(float).median()),
            grad_evals_median=float(g["grad_evals"].astype(float).median()),
            n_params=int(g["n_params"].max()) if g["n_params"].notna().any() else -1,
            target=float(t["rel_l2"]) if t else float("nan"),
            target_provenance=str(t.get("provenance", "")) if t else "no target",
            target_literature=float(t.get("literature", np.nan)) if t else float("nan"),
            ttt_seconds=float(np.median(g["ttt_seconds"].astype(float))),
            ttt_grad_evals=float(np.median(g["ttt_grad_evals"].astype(float))),
            target_hit_rate=float(np.isfinite(g["ttt_seconds"].astype(float)).mean()),
            cpu_models="; ".join(cpu_models(g)),
        )
        row["rel_l2_iqr"] = row["rel_l2_q75"] - row["rel_l2_q25"]
        for s in STATUSES:
            row[f"n_{s}"] = int((g["status"] == s).sum())
        for c in extras:
            col = g[c]
            if pd.api.types.is_bool_dtype(col):
                row[c] = float(col.astype(float).mean())
            elif pd.api.types.is_numeric_dtype(col):
                row[c] = float(col.astype(float).median()) if col.notna().any() else float("nan")
            else:
                row[c] = _label_mode(col)
        rows.append(row)
    board = pd.DataFrame(rows)
    board["params_differ"] = _params_differ(board)
    board["problem_cpu_models"] = _problem_cpu_models(summaries, board)
    return board


def cpu_models(rows: pd.DataFrame) -> list[str]:
    """The distinct CPU signatures (pinnarena.cpu_model) behind ``rows``; "unrecorded" for rows before the field."""
    col = rows["cpu_model"] if "cpu_model" in rows else pd.Series([None] * len(rows), index=rows.index)
    return sorted({str(v) if isinstance(v, str) and v else "unrecorded" for v in col})


def _problem_cpu_models(summaries: pd.DataFrame, board: pd.DataFrame) -> pd.Series:
    """How many CPU models the ranked rows of each board row's (study, problem) ran on. A time
    budget buys each method a different amount of work on another CPU model (pinnarena.cpu_model:
    1.1-1.6x between two EPYC generations), so a problem whose methods ran on more than one is not
    a fair comparison; the report says which."""
    n = {k: len(cpu_models(g)) for k, g in summaries.groupby(["study", "problem"], dropna=False)}
    return pd.Series([n.get((s, p), 0) for s, p in zip(board["study"], board["problem"])], index=board.index, dtype=int)


def _params_differ(board: pd.DataFrame) -> pd.Series:
    base = board[(board["optimizer"] == BASELINE[0]) & (board["remedy"] == BASELINE[1])]
    by_study = {(r.study, r.problem): r.n_params for r in base.itertuples()}
    by_problem = {r.problem: r.n_params for r in base.itertuples()}
    out = []
    for r in board.itertuples():
        ref = by_study.get((r.study, r.problem), by_problem.get(r.problem))
        out.append(bool(ref is not None and ref >= 0 and r.n_params >= 0 and r.n_params != ref))
    return pd.Series(out, index=board.index, dtype=bool)


# ----------------------------------------------------------------------------------- reading
def runs_dir(results: str | os.PathLike) -> Path:
    results = Path(results)
    return results / "runs" if (results / "runs").is_dir() else results


def load_results(results: str | os.PathLike, curves: bool = True) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(summaries, curves) of a results folder: a published snapshot (``summaries.parquet`` +
    ``curves.parquet``) or the per-run files below ``RESULTS/runs`` (or ``RESULTS``); with
    ``curves=False`` the curves are not read (an empty frame)."""
    results = Path(results)
    snap = results / "summaries.parquet"
    if snap.exists():
        c = results / "curves.parquet"
        return pd.read_parquet(snap), (pd.read_parquet(c) if curves and c.exists() else pd.DataFrame())
    d = runs_dir(results)
    return (_read_all(d, "summary.parquet", read_summaries),
            _read_all(d, "curves.parquet", read_curves) if curves else pd.DataFrame())


def _read_all(d: Path, name: str, fallback) -> pd.DataFrame:
    """Every ``name`` below ``d`` as one DataFrame: Arrow tables concatenated (schemas unified:
    older runs lacking newer columns get nulls), converted once."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    files = sorted(d.rglob(name))
    if not files:
        return fallback(d)
    return pa.concat_tables([pq.read_table(f) for f in files], promote_options="permissive").to_pandas()


def write_leaderboard(results: str | os.PathLike, out: str | os.PathLike | None = None,
                      targets: str | os.PathLike | dict | None = None) -> pd.DataFrame:
    from pinnarena.scoring import load_targets

    summaries, curves = load_results(results)
    suite = str(summaries["suite"].dropna().iloc[0]) if not summaries.empty and summaries["suite"].notna().any() else None
    tg = targets if isinstance(targets, dict) else (load_targets(targets, suite=suite) if targets else None)
    df = leaderboard(summaries, curves, tg)
    write_parquet_atomic(df, out or Path(results) / "leaderboard.parquet")
    return df
