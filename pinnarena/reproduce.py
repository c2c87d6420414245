"""``pinnarena reproduce RUN_ID --from DIR``: train a published row again and compare.

A summary row records its full resolved configuration (``config``), the commit and versions it
ran with, the steps it did (``steps_done``) and the runs trained in the same compiled program
(``batch_run_ids``). A time-budgeted run stops where its clock said; the trajectory itself does
not depend on the clock, only on the steps (``pinnarena.training._chunk_steps``), so the rerun
takes the recorded configuration with ``steps = steps_done`` and no time limits, and trains it
with the same batch partners (a vmapped group is trained as a group). On a CPU in float64 the
rerun then repeats the published arithmetic; the comparison prints the published and new final
errors side by side and their relative differences.

The arithmetic also depends on the number of cores: XLA's CPU backend splits products and
reductions over a thread pool sized from the process's affinity set (pinnarena.affinity), so a
run on one core and its rerun on two differ in their last bits and, along a chaotic trajectory,
in their errors. ``threads_for`` says how many cores the row ran on (its ``cpu_threads``; rows
written before that field existed: one core when their suite's config pinned each job,
``PINNARENA_PIN_CORE``), and ``pinnarena reproduce`` restricts itself to that many before JAX
starts. It depends on the CPU model as well (the instruction set XLA compiles for, OpenBLAS's
kernels: pinnarena.cpu_model); a row records its ``cpu_model``, and ``cpu_note`` says when this
machine's differs, in which case agreement in the last bits is not to be expected.
"""
from __future__ import annotations

import dataclasses
import math
import tempfile
from pathlib import Path

import pandas as pd

from pinnarena.config import RunConfig

COMPARED = ("rel_l2", "val_rel_l2", "loss_final")


def find(run_id: str, where: str | Path) -> tuple[pd.Series, pd.DataFrame]:
    """The row of ``run_id`` under ``where`` (a results folder) and every row there."""
    from pinnarena.results import read_summaries

    rows = read_summaries(where)
    hit = rows[rows["run_id"] == run_id]
    if hit.empty:
        close = [r for r in rows["run_id"] if r.startswith(run_id[:4])][:5]
        raise ValueError(f"no run {run_id!r} in {where} ({len(rows)} rows)"
                         + (f"; similar ids: {close}" if close else ""))
    return hit.iloc[0], rows


def threads_for(row: pd.Series) -> int | None:
    """The cores ``row`` was trained on: its ``cpu_threads``, else 1 if its suite's config
    (``config/<suite>.yaml``) pinned every job to a core, else None (unknown)."""
    v = row.get("cpu_threads")
    if v is not None and not pd.isna(v):
        return int(v)
    cfg = Path(__file__).resolve().parent.parent / "config" / f"{row.get('suite')}.yaml"
    if row.get("suite") and cfg.is_file():
        import yaml

        env = (yaml.safe_load(cfg.read_text()) or {}).get("env") or {}
        if str(env.get("PINNARENA_PIN_CORE", "")).lower() in ("1", "true", "yes"):
            return 1
    return None


def cpu_note(row: pd.Series) -> str | None:
    """A line saying that ``row`` ran on another CPU model than this machine's (None when the
    same, or when the row does not record it)."""
    from pinnarena.cpu_model import cpu_model

    theirs = row.get("cpu_model")
    if not isinstance(theirs, str) or not theirs or theirs == cpu_model():
        return None
    return (f"note: the row ran on another CPU model ({theirs}) than this machine ({cpu_model()}); XLA and "
            "OpenBLAS generate other code there, so the bits, and along a chaotic trajectory the errors, differ")


def rerun_config(row: pd.Series) -> RunConfig:
    cfg = RunConfig.from_json(row["config"])
    if cfg.run_id != row["run_id"]:
        raise ValueError(f"run {row['run_id']}: its recorded config hashes to {cfg.run_id}: the row was "
                         "written by a different configuration schema")
    return dataclasses.replace(cfg, steps=int(row["steps_done"]), time_budget=None, max_seconds=None,
                               eval_seconds=None, eval_every=max(1, int(row["steps_done"])), stationary=False)


def reproduce(run_id: str, where: str | Path, log=None) -> list[dict]:
    """Retrain ``run_id`` (with its batch partners); one comparison dict per compared metric."""
    from pinnarena.runner import run_seeds

    row, rows = find(run_id, where)
    if row["status"] not in ("ok", "diverged"):
        raise ValueError(f"run {run_id} has status {row['status']!r} ({row['error']}): nothing to reproduce")
    partners = list(row["batch_run_ids"]) if row.get("batch_run_ids") is not None else [run_id]
    group = [rows[rows["run_id"] == r].iloc[0] for r in partners if (rows["run_id"] == r).any()]
    if len(group) != len(partners):
        raise ValueError(f"run {run_id} was trained with {partners}; not all of them are in {where}")
    cfgs = [rerun_config(r) for r in group]
    with tempfile.TemporaryDirectory() as tmp:
        new = run_seeds(cfgs, [Path(tmp) / f"m{i}" for i in range(len(cfgs))], log=log)
    mine = new[partners.index(run_id)]
    out = []
    for k in COMPARED:
        a, b = float(row[k]), float(mine[k])
        rel = abs(a - b) / abs(a) if a != 0 and math.isfinite(a) else (0.0 if a == b else math.inf)
        out.append({"metric": k, "published": a, "reproduced": b,
                    "relative_difference": rel if (math.isfinite(a) or math.isfinite(b)) else 0.0})
    return out
