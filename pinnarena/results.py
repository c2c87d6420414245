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
    ("regime_align_median", pa.float64()),
    ("regime_align_share_negative", pa.float64()),
    ("regime_norm_ratio_median", pa.float64()),
    ("regime_profile_points", pa.int64()),
    ("status", pa.string()),
    ("error", pa.string()),
    ("n_params", pa.int64()),
    ("n_net_params", pa.int64()),
    ("device", pa.string()),
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
        return out.stdout.strip() if out.returncode == 0 else "unknown"
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
