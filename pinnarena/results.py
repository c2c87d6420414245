"""The results schema and atomic Parquet writing.

``summary.parquet`` holds one row per run with the columns of :data:`SUMMARY_SCHEMA`;
``curves.parquet`` one row per evaluation (``run_id, step, train_seconds, grad_evals,
loss_total, loss_<term>…, weight_<term>…, rel_l2, align_intra, align_inter, grad_norm_ratio``).
Files are written to a temporary name in the same folder and renamed, so a reader never sees a
half-written file. Failed runs are rows too: ``status`` ∈ {ok, diverged, timeout, error}.
"""
from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

STATUSES = ("ok", "diverged", "timeout", "error")

SUMMARY_SCHEMA = pa.schema([
    ("run_id", pa.string()),
    ("problem", pa.string()),
    ("family", pa.string()),
    ("kind", pa.string()),
    ("n_losses", pa.int64()),
    ("optimizer", pa.string()),
    ("remedy", pa.string()),
    ("seed", pa.int64()),
    ("suite", pa.string()),
    ("study", pa.string()),
    ("steps", pa.int64()),
    ("steps_done", pa.int64()),
    ("grad_evals", pa.int64()),
    ("fun_evals", pa.int64()),
    ("train_seconds", pa.float64()),
    ("eval_seconds", pa.float64()),
    ("compile_seconds", pa.float64()),
    ("setup_seconds", pa.float64()),
    ("seeds_batched", pa.int64()),
    ("preemptions", pa.int64()),
    ("rel_l2", pa.float64()),
    ("rel_l2_best", pa.float64()),
    ("rel_l2_by_output", pa.map_(pa.string(), pa.float64())),
    # validation error (config validation_fraction > 0): reference points held out from rel_l2,
    # the tuning protocol's selection metric (pinnarena.tuning); NaN without a validation set
    ("val_rel_l2", pa.float64()),
    ("val_rel_l2_best", pa.float64()),
    # final relative L2 error on each extra evaluation set of the problem (Problem.eval_sets, e.g.
    # ldc: ghia1982 = the published centreline values); null for problems without such sets
    ("rel_l2_sets", pa.map_(pa.string(), pa.float64())),
    ("loss_final", pa.float64()),
    ("grad_norm_final", pa.float64()),
    ("unknowns", pa.map_(pa.string(), pa.float64())),
    ("unknowns_error", pa.map_(pa.string(), pa.float64())),
    ("unknowns_metrics", pa.map_(pa.string(), pa.float64())),
    ("stationary_label", pa.string()),  # minimum | saddle | not-stationary (pinnarena.stationary)
    ("stationary_method", pa.string()),  # dense | lanczos
    ("stationary_grad_norm", pa.float64()),
    ("hess_min_eig", pa.float64()),
    ("hess_max_eig", pa.float64()),
    ("hess_neg_count", pa.int64()),  # -1 when estimated by Lanczos
    ("regime", pa.string()),  # auto: persistent-conflict | magnitude-imbalance | low-conflict
    ("auto_choice", pa.string()),  # auto: the remedy it continued with
    # auto's profile statistics (pinnarena/regime.py): the median K-normalised alignment
    # Ã = (A − A₀)/(1 − A₀) (the mean pairwise cosine; = cos for K = 2), the share of profile points
    # in conflict (cancellation C > ε), the median norm ratio, the number of points, the median
    # cancellation C = 1 − ‖Σ u_i‖²/K and the median share of pairs with cos < −ε
    ("regime_align_median", pa.float64()),
    ("regime_align_share_negative", pa.float64()),
    ("regime_norm_ratio_median", pa.float64()),
    ("regime_profile_points", pa.int64()),
    ("regime_cancellation_median", pa.float64()),
    ("regime_conflict_pair_share_median", pa.float64()),
    # the budget every method of a comparison shares: steps (a cap) and train seconds on a clock
    # updates whose line search found no decrease, rejected with a restart (optimizers/_monotone.py);
    # null for optimizers without that safeguard
    ("linesearch_rejections", pa.int64()),
    ("budget_steps", pa.int64()),
    ("budget_seconds", pa.float64()),
    ("budget_clock", pa.string()),  # wall | cpu (null without a time budget)
    ("train_cpu_seconds", pa.float64()),
    ("stop_reason", pa.string()),  # steps | time_budget | max_seconds
    # the tuning protocol (pinnarena.tuning): a trial row (study "tuning") has its trial index,
    # the study it tunes and the sampled hyper-parameters (JSON); a held-out row the chosen trial
    ("trial", pa.int64()),
    ("tuning_of", pa.string()),
    ("hparams", pa.string()),
    ("batch_run_ids", pa.list_(pa.string())),  # the runs trained in the same compiled program
    ("status", pa.string()),
    ("error", pa.string()),
    ("n_params", pa.int64()),
    ("n_net_params", pa.int64()),
    ("device", pa.string()),
    ("cpu_threads", pa.int64()),  # cores the process could run on: XLA's CPU threads (pinnarena.affinity)
    ("cpu_model", pa.string()),  # the CPU signature (pinnarena.cpu_model): bits and budgets depend on it
    ("precision", pa.string()),
    ("jax_version", pa.string()),
    ("pinnarena_version", pa.string()),
    ("git_commit", pa.string()),
    ("config", pa.string()),
])


def git_commit() -> str:
    try:
        here = Path(__file__).resolve().parent
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, timeout=5)
        if out.returncode != 0:
            return "unknown"
        # tracked files that differ from the commit make the commit an incomplete record
        dirty = subprocess.run(["git", "diff", "--quiet", "HEAD", "--", "."], cwd=here.parent, timeout=10).returncode
        return out.stdout.strip() + ("-dirty" if dirty == 1 else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def summary_table(row: dict) -> pa.Table:
    """One summary row as a table; missing columns are null, extra keys are an error."""
    extra = set(row) - set(SUMMARY_SCHEMA.names)
    if extra:
        raise ValueError(f"summary row has columns outside the schema: {sorted(extra)}")
    if row.get("status") not in STATUSES:
        raise ValueError(f"status must be one of {STATUSES}, got {row.get('status')!r}")
    data = {}
    for f in SUMMARY_SCHEMA:
        v = row.get(f.name)
        if pa.types.is_map(f.type) and isinstance(v, dict):
            v = list(v.items())
        data[f.name] = [v]
    return pa.Table.from_pydict(data, schema=SUMMARY_SCHEMA)


def write_parquet_atomic(table: pa.Table | pd.DataFrame, path: str | os.PathLike) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(table, pd.DataFrame):
        table = pa.Table.from_pandas(table, preserve_index=False)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        pq.write_table(table, tmp)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def read_summaries(root: str | os.PathLike) -> pd.DataFrame:
    """Every ``summary.parquet`` below ``root`` as one DataFrame (empty if none)."""
    files = sorted(Path(root).rglob("summary.parquet"))
    if not files:
        return pd.DataFrame(columns=SUMMARY_SCHEMA.names)
    return pd.concat([pq.read_table(f).to_pandas() for f in files], ignore_index=True)


def read_curves(root: str | os.PathLike) -> pd.DataFrame:
    files = sorted(Path(root).rglob("curves.parquet"))
    if not files:
        return pd.DataFrame()
    return pd.concat([pq.read_table(f).to_pandas() for f in files], ignore_index=True)
