"""The report's entry points: ``pinnarena report`` and ``pinnarena publish``.

Contract: :func:`render` writes ``leaderboard.md``, ``index.html`` and ``figures/`` for a
leaderboard; :func:`write_report` does so from a results folder's Parquet files;
:func:`publish` snapshots a results folder and re-renders the report from the snapshot alone.
"""
from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from pinnarena.aggregate import leaderboard, load_results

from .context import Context
from .html import html
from .page import build, markdown
from .plots import figures


# ------------------------------------------------------------------------------------ entry
def write_report(results: str | os.PathLike, out: str | os.PathLike,
                 targets: str | os.PathLike | dict | None = None) -> list[Path]:
    """``pinnarena report RESULTS --out OUT``: everything from RESULTS' Parquet files.

    Uses ``RESULTS/leaderboard.parquet`` when present (and current), else aggregates with
    ``targets`` (a YAML file or a dict; default ``RESULTS/targets.yaml`` when it exists).
    """
    results = Path(results)
    summaries, curves = load_results(results)
    board = load_board(results, summaries, curves, targets)
    return render(board, summaries, curves, Path(out))


def load_board(results: Path, summaries: pd.DataFrame, curves: pd.DataFrame, targets=None) -> pd.DataFrame:
    """RESULTS/leaderboard.parquet when current, else aggregated (with ``targets``)."""
    from pinnarena.scoring import load_targets

    lb = Path(results) / "leaderboard.parquet"
    board = pd.read_parquet(lb) if lb.exists() else None
    if board is None or "ttt_seconds" not in board or targets is not None:
        if targets is None and (Path(results) / "targets.yaml").exists():
            targets = Path(results) / "targets.yaml"
        suite = str(summaries["suite"].dropna().iloc[0]) if len(summaries) and summaries["suite"].notna().any() else None
        tg = targets if isinstance(targets, dict) else (load_targets(targets, suite) if targets else None)
        board = leaderboard(summaries, curves, tg)
    return board


def render(board: pd.DataFrame, summaries: pd.DataFrame, curves: pd.DataFrame, out: Path,
           new_methods=(), comparison_note: str = "") -> list[Path]:
    """Write ``leaderboard.md``, ``index.html`` and the figures; returns their paths."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    ctx = Context(board, summaries, curves, new_methods) if not board.empty else None
    rep = build(board, summaries, curves, new_methods, ctx=ctx)
    if comparison_note:
        rep.summary = f"{rep.summary} {comparison_note}"
    notes: dict = {}
    rep.figures = figures(board, summaries, curves, out / "figures", ctx=ctx, notes=notes)
    rep.figure_notes = notes
    md = out / "leaderboard.md"
    md.write_text(markdown(rep))
    page = out / "index.html"
    page.write_text(html(rep), encoding="utf-8")
    return [md, page, *rep.figures.values()]


def _snapshot_table(results: Path, single: str, per_run: str):
    """One Arrow table of a published snapshot's file or of every per-run file (schemas unified)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from pinnarena.aggregate import runs_dir

    if (results / single).exists():
        return pq.read_table(results / single)
    files = sorted(runs_dir(results).rglob(per_run))
    if not files:
        return None
    return pa.concat_tables([pq.read_table(f) for f in files], promote_options="permissive")


def publish(results: str | os.PathLike, out: str | os.PathLike = "results/published",
            report: str | os.PathLike = "report", targets: str | os.PathLike | dict | None = None) -> list[Path]:
    """``pinnarena publish RESULTS --out results/published --report report``.

    Copies every run's summary and curves into ``OUT/summaries.parquet`` / ``OUT/curves.parquet``
    and the leaderboard into ``OUT/leaderboard.parquet`` (re-aggregated when ``targets`` is given
    or RESULTS has no current leaderboard), then re-renders ``REPORT`` from the snapshot alone.
    """
    from pinnarena.results import write_parquet_atomic
    from pinnarena.scoring import load_targets

    results, out = Path(results), Path(out)
    summaries_t = _snapshot_table(results, "summaries.parquet", "summary.parquet")
    if summaries_t is None:
        raise FileNotFoundError(f"no summary.parquet below {results}")
    curves_t = _snapshot_table(results, "curves.parquet", "curves.parquet")
    summaries = summaries_t.to_pandas()
    curves = curves_t.to_pandas() if curves_t is not None else pd.DataFrame()
    lb = results / "leaderboard.parquet"
    board = pd.read_parquet(lb) if lb.exists() and targets is None else None
    if board is None or "ttt_seconds" not in board:
        if targets is None and (results / "targets.yaml").exists():
            targets = results / "targets.yaml"
        suite = str(summaries["suite"].dropna().iloc[0]) if summaries["suite"].notna().any() else None
        tg = targets if isinstance(targets, dict) else (load_targets(targets, suite) if targets else None)
        board = leaderboard(summaries, curves, tg)
    written = []
    if out.resolve() != results.resolve():
        write_parquet_atomic(summaries_t, out / "summaries.parquet")
        written.append(out / "summaries.parquet")
        if curves_t is not None:
            write_parquet_atomic(curves_t, out / "curves.parquet")
            written.append(out / "curves.parquet")
    write_parquet_atomic(board, out / "leaderboard.parquet")
    written.append(out / "leaderboard.parquet")
    return written + write_report(out, report)
