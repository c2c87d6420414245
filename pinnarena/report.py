"""The report: ``leaderboard.md`` and figures, computed from the Parquet results only.

Reads ``RESULTS/leaderboard.parquet`` (built from the run summaries if absent) and the runs'
``curves.parquet``; writes ``OUT/leaderboard.md`` and ``OUT/figures/error_vs_time.png``.
"""
from __future__ import annotations

import math
import os
from pathlib import Path

import pandas as pd

from pinnarena.aggregate import leaderboard
from pinnarena.results import read_curves, read_summaries


def _sci(x) -> str:
    return "—" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.2e}"


def markdown(board: pd.DataFrame) -> str:
    lines = ["# pinnarena leaderboard", ""]
    if board.empty:
        return "\n".join(lines + ["No runs found.", ""])
    n_runs = int(board["n_runs"].sum())
    n_fail = int(round((board["failure_rate"] * board["n_runs"]).sum()))
    lines += [f"Runs: {n_runs} · not ok: {n_fail} · suites: {', '.join(sorted(board['suite'].astype(str).unique()))}", ""]
    for (study, problem), g in board.groupby(["study", "problem"], sort=True):
        lines += [f"## {problem} ({study})", "",
                  "| optimizer | remedy | median rel. L2 | IQR | best rel. L2 | ok / diverged / timeout / error | train s (median) | params |",
                  "|---|---|---|---|---|---|---|---|"]
        for _, r in g.sort_values("rel_l2_median", na_position="last").iterrows():
            lines.append(
                f"| {r.optimizer} | {r.remedy} | {_sci(r.rel_l2_median)} | {_sci(r.rel_l2_q25)} – {_sci(r.rel_l2_q75)} | "
                f"{_sci(r.rel_l2_best)} | {r.n_ok} / {r.n_diverged} / {r.n_timeout} / {r.n_error} | "
                f"{r.train_seconds_median:.2f} | {r.n_params} |")
        lines.append("")
    return "\n".join(lines)


def error_vs_time_figure(curves: pd.DataFrame, summaries: pd.DataFrame, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import seaborn as sns

    meta = summaries[["run_id", "problem", "optimizer", "remedy", "seed"]]
    df = curves.merge(meta, on="run_id")
    df = df[df["rel_l2"].notna() & (df["rel_l2"] > 0)]
    df["method"] = df["optimizer"] + " + " + df["remedy"]
    problems = sorted(df["problem"].unique())
    ncol = min(3, max(1, len(problems)))
    nrow = math.ceil(len(problems) / ncol) if problems else 1
    fig, axes = plt.subplots(nrow, ncol, figsize=(5 * ncol, 3.6 * nrow), squeeze=False)
    for ax, prob in zip(axes.flat, problems):
        sub = df[df["problem"] == prob]
        sns.lineplot(data=sub, x="train_seconds", y="rel_l2", hue="method", units="seed", estimator=None, ax=ax, lw=1)
        ax.set_yscale("log")
        ax.set_title(prob)
        ax.set_xlabel("train seconds")
        ax.set_ylabel("relative L2 error")
        ax.legend(fontsize=6)
    for ax in list(axes.flat)[len(problems):]:
        ax.axis("off")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_report(results: str | os.PathLike, out: str | os.PathLike) -> list[Path]:
    """``pinnarena report RESULTS --out OUT``: everything under RESULTS/runs (or RESULTS)."""
    results = Path(results)
    runs = results / "runs" if (results / "runs").is_dir() else results
    summaries = read_summaries(runs)
    lb = results / "leaderboard.parquet"
    board = pd.read_parquet(lb) if lb.exists() else leaderboard(summaries)
    return render(board, summaries, read_curves(runs), Path(out))


def render(board: pd.DataFrame, summaries: pd.DataFrame, curves: pd.DataFrame, out: Path) -> list[Path]:
    """Write the report files for the given Parquet-derived tables; returns their paths."""
    out.mkdir(parents=True, exist_ok=True)
    md = out / "leaderboard.md"
    fig = out / "figures" / "error_vs_time.png"
    if not curves.empty and not summaries.empty:
        error_vs_time_figure(curves, summaries, fig)
        body = markdown(board) + "\n![error vs train seconds](figures/error_vs_time.png)\n"
    else:
        body = markdown(board)
    md.write_text(body)
    return [md, fig] if fig.exists() else [md]
