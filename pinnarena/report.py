"""The report: ``leaderboard.md``, ``index.html`` and ``figures/``, computed from Parquet only.

Inputs are the leaderboard (``RESULTS/leaderboard.parquet``, built by :mod:`pinnarena.aggregate`
if absent) and the runs' ``summary.parquet`` / ``curves.parquet`` (or a published snapshot's
``summaries.parquet`` / ``curves.parquet``). Logs are never read. Outputs:

- ``leaderboard.md`` and ``index.html`` (self-contained, see :mod:`pinnarena.report_html`) with
  the same tables: targets, overall ranking per study (AlgoPerf-style score, wins, median rank,
  speed-ups against ``adam + none``), per-kind rankings, a table per problem with every method
  (stationary-point and regime columns when the summaries carry them; ``params ≠ baseline``
  flags methods whose parameter count differs from ``adam + none``) and a failures table listing
  every run whose status is not ``ok``;
- ``figures/``: ``performance_profiles.png``, ``error_vs_time.png``, ``error_vs_grad_evals.png``,
  ``alignment.png``, ``heatmap.png`` (always written, a "no data" panel when there is nothing to
  draw) and ``regime_map.png`` (only when the leaderboard has a ``regime`` column).
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from pinnarena.aggregate import leaderboard, load_results, method_name
from pinnarena.scoring import MAX_RATIO, performance_profile, performance_ratios, pivot, score_board

KINDS = ("forward", "inverse", "multiphysics", "highdim", "turbulent")
FIGURES = ("performance_profiles", "error_vs_time", "error_vs_grad_evals", "alignment", "heatmap")
FIGURE_TITLES = {
    "performance_profiles": "Performance profiles ρ(τ) (time-to-target, per study)",
    "error_vs_time": "Relative L2 error vs train seconds (median over seeds, min–max band)",
    "error_vs_grad_evals": "Relative L2 error vs gradient evaluations (median over seeds, min–max band)",
    "alignment": "Gradient alignment scores per optimizer (median, IQR band)",
    "heatmap": "log10 median final relative L2 error, problem × method",
    "regime_map": "Conflict regime per problem × method",
}


# ------------------------------------------------------------------------------------ tables
@dataclass
class Table:
    """A report table: ``data`` holds raw values (for sorting), ``fmt`` per-column formatters."""

    title: str
    data: pd.DataFrame
    fmt: dict = field(default_factory=dict)
    anchor: str = ""
    note: str = ""

    def text(self, col: str, value) -> str:
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return "—"
        f = self.fmt.get(col)
        return f(value) if f else str(value)


def _sci(x) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "—"
    return "∞" if x == np.inf else f"{x:.2e}"


def _ttt(x) -> str:
    return "miss" if x == np.inf else (f"{x:.3g}" if x == x else "—")


def _g3(x) -> str:
    return "∞" if x == np.inf else f"{x:.3g}"


def _pct(x) -> str:
    return f"{100 * x:.0f} %"


def _f3(x) -> str:
    return f"{x:.3f}"


def _slug(s: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in str(s).lower()).strip("-")


_RANK_FMT = {"score (s)": _f3, "score (grad evals)": _f3, "median rank": lambda x: f"{x:g}",
             "speed-up vs adam (s)": _g3, "speed-up vs adam (grad evals)": _g3, "failure rate": _pct}


def _ranking_table(board: pd.DataFrame, title: str, anchor: str) -> Table:
    s = score_board(board)
    df = pd.DataFrame({
        "method": s["method"], "score (s)": s["score_seconds"], "score (grad evals)": s["score_grad_evals"],
        "wins": s["wins"], "problems hit": s["problems_hit"].astype(str) + " / " + s["n_problems"].astype(str),
        "median rank": s["median_rank"], "speed-up vs adam (s)": s["speedup_seconds"],
        "speed-up vs adam (grad evals)": s["speedup_grad_evals"], "failure rate": s["failure_rate"],
    })
    return Table(title, df, _RANK_FMT, anchor)


_STANDARD = {"study", "problem", "optimizer", "remedy", "method", "family", "kind", "suite", "n_runs", "seeds",
             "failure_rate", "rel_l2_median", "rel_l2_q25", "rel_l2_q75", "rel_l2_iqr", "rel_l2_ci_low",
             "rel_l2_ci_high", "rel_l2_best", "train_seconds_median", "grad_evals_median", "n_params", "target",
             "target_provenance", "ttt_seconds", "ttt_grad_evals", "target_hit_rate", "n_ok", "n_diverged",
             "n_timeout", "n_error", "params_differ"}


def board_extras(board: pd.DataFrame) -> list[str]:
    """Stationary-point / regime / other extra leaderboard columns that hold any value."""
    cols = [c for c in board.columns if c not in _STANDARD and board[c].notna().any()]
    first = [c for c in cols if c.startswith("stationary")] + [c for c in cols if c.startswith("hess")]
    last = [c for c in cols if c == "regime" or c.startswith("regime")]
    return first + [c for c in cols if c not in first and c not in last] + last


def _problem_table(g: pd.DataFrame, extras: list[str]) -> Table:
    g = g.sort_values(["rel_l2_median", "method"], na_position="last")
    df = pd.DataFrame({
        "method": g["method"], "runs": g["n_runs"],
        "ok / div / t.o. / err": [f"{r.n_ok} / {r.n_diverged} / {r.n_timeout} / {r.n_error}" for r in g.itertuples()],
        "failure rate": g["failure_rate"], "median rel. L2": g["rel_l2_median"],
        "IQR": [f"{_sci(a)} – {_sci(b)}" for a, b in zip(g["rel_l2_q25"], g["rel_l2_q75"])],
        "95 % CI": [f"{_sci(a)} – {_sci(b)}" for a, b in zip(g["rel_l2_ci_low"], g["rel_l2_ci_high"])],
        "best rel. L2": g["rel_l2_best"], "time to target (s)": g["ttt_seconds"],
        "time to target (grad evals)": g["ttt_grad_evals"], "hit rate": g["target_hit_rate"],
        "train s": g["train_seconds_median"], "grad evals": g["grad_evals_median"], "params": g["n_params"],
        "params ≠ baseline": np.where(g["params_differ"], "yes", ""),
    })
    fmt = {"failure rate": _pct, "median rel. L2": _sci, "best rel. L2": _sci, "time to target (s)": _ttt,
           "time to target (grad evals)": _ttt, "hit rate": _pct, "train s": lambda x: f"{x:.3g}",
           "grad evals": lambda x: f"{x:g}"}
    for c in extras:
        df[c] = g[c].to_numpy()
        if pd.api.types.is_float_dtype(df[c]):
            fmt[c] = lambda x: f"{x:.3g}"
    r0 = g.iloc[0]
    note = (f"kind {r0.kind} · family {r0.family} · target rel. L2 {_sci(r0.target)} "
            f"({r0.target_provenance}) · seeds {r0.seeds}")
    return Table(f"{r0.problem} ({r0.study})", df.reset_index(drop=True), fmt,
                 f"problem-{_slug(r0.study)}-{_slug(r0.problem)}", note)


def failures_table(summaries: pd.DataFrame) -> Table:
    cols = ["study", "problem", "method", "seed", "status", "error", "run_id"]
    if summaries.empty:
        return Table("Failures (every run whose status is not ok)", pd.DataFrame(columns=cols), anchor="failures")
    f = summaries[summaries["status"] != "ok"].copy()
    f["method"] = [method_name(o, r) for o, r in zip(f["optimizer"], f["remedy"])]
    f["error"] = f["error"].fillna("").astype(str).str.slice(0, 300)
    f = f.sort_values(["study", "problem", "method", "seed"])[cols].reset_index(drop=True)
    return Table("Failures (every run whose status is not ok)", f, anchor="failures")


def targets_table(board: pd.DataFrame) -> Table:
    t = board.drop_duplicates("problem").sort_values(["kind", "problem"])
    df = pd.DataFrame({"problem": t["problem"], "kind": t["kind"], "target rel. L2": t["target"],
                       "provenance": t["target_provenance"]})
    return Table("Per-problem targets", df.reset_index(drop=True), {"target rel. L2": _sci}, "targets",
                 "Time-to-target is the first evaluation after step 0 with rel. L2 ≤ target (median over seeds; a "
                 f"miss is ∞). r = t / best t on the problem; r > {MAX_RATIO:g} is a miss. Score = (1/3)∫₁⁴ ρ(τ)dτ.")


@dataclass
class Report:
    meta: dict
    sections: list  # [(heading, [Table, …])]
    figures: dict  # name → Path


def build(board: pd.DataFrame, summaries: pd.DataFrame) -> Report:
    """Every table of the report (no figures)."""
    meta = header_meta(board, summaries)
    sections = []
    if board.empty:
        return Report(meta, [("Failures", [failures_table(summaries)])], {})
    studies = sorted(board["study"].unique())
    sections.append(("Targets", [targets_table(board)]))
    sections.append(("Overall ranking", [_ranking_table(board[board.study == s], f"Study {s}", f"ranking-{_slug(s)}")
                                         for s in studies]))
    kinds = [k for k in KINDS if k in set(board["kind"])] + sorted(set(board["kind"].dropna()) - set(KINDS))
    per_kind = []
    for k in kinds:
        for s in studies:
            sub = board[(board.study == s) & (board.kind == k)]
            if not sub.empty:
                per_kind.append(_ranking_table(sub, f"{k} — study {s}", f"kind-{_slug(k)}-{_slug(s)}"))
    sections.append(("Rankings by kind", per_kind))
    extras = board_extras(board)
    sections.append(("Per problem", [_problem_table(g, extras) for _, g in board.groupby(["study", "problem"], sort=True)]))
    sections.append(("Failures", [failures_table(summaries)]))
    return Report(meta, sections, {})


def header_meta(board: pd.DataFrame, summaries: pd.DataFrame) -> dict:
    def uniq(col):
        if summaries.empty or col not in summaries:
            return []
        return sorted(summaries[col].dropna().astype(str).unique())

    n_fail = int((summaries["status"] != "ok").sum()) if not summaries.empty else 0
    return {"suite": ", ".join(uniq("suite")) or "—", "commit": ", ".join(c[:12] for c in uniq("git_commit")) or "—",
            "devices": ", ".join(uniq("device")) or "—", "runs": int(len(summaries)), "failures": n_fail,
            "studies": int(board["study"].nunique()) if not board.empty else 0,
            "problems": int(board["problem"].nunique()) if not board.empty else 0,
            "methods": int(board["method"].nunique()) if not board.empty else 0,
            "pinnarena": ", ".join(uniq("pinnarena_version")) or "—"}


# ---------------------------------------------------------------------------------- markdown
def _md_cell(s: str) -> str:
    return str(s).replace("|", "\\|").replace("\n", " ")


def table_markdown(t: Table) -> list[str]:
    lines = [f"### {t.title}", ""]
    if t.note:
        lines += [t.note, ""]
    if t.data.empty:
        return lines + ["(none)", ""]
    cols = list(t.data.columns)
    lines += ["| " + " | ".join(map(_md_cell, cols)) + " |", "|" + "---|" * len(cols)]
    for row in t.data.itertuples(index=False):
        lines.append("| " + " | ".join(_md_cell(t.text(c, v)) for c, v in zip(cols, row)) + " |")
    return lines + [""]


def markdown(rep: Report | pd.DataFrame, summaries: pd.DataFrame | None = None) -> str:
    if isinstance(rep, pd.DataFrame):
        rep = build(rep, summaries if summaries is not None else pd.DataFrame())
    m = rep.meta
    lines = ["# pinnarena leaderboard", "",
             f"Suite: {m['suite']} · commit: {m['commit']} · devices: {m['devices']} · runs: {m['runs']} · "
             f"not ok: {m['failures']}", ""]
    if m["runs"] == 0:
        lines += ["No runs found.", ""]
    for heading, tables in rep.sections:
        lines += [f"## {heading}", ""]
        for t in tables:
            lines += table_markdown(t)
    if rep.figures:
        lines += ["## Figures", ""]
        for name, p in rep.figures.items():
            lines += [f"![{FIGURE_TITLES.get(name, name)}](figures/{Path(p).name})", ""]
    return "\n".join(lines)


# ----------------------------------------------------------------------------------- figures
def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import seaborn as sns

    sns.set_theme(style="whitegrid", context="paper")
    return plt, sns


def _save(fig, path: Path, tight: bool = True) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if tight:
        fig.tight_layout()
    fig.savefig(path, dpi=90)
    import matplotlib.pyplot as plt

    plt.close(fig)
    return path


def _empty(path: Path, msg: str) -> Path:
    plt, _ = _plt()
    fig, ax = plt.subplots(figsize=(5, 1.6))
    ax.axis("off")
    ax.text(0.5, 0.5, msg, ha="center", va="center")
    return _save(fig, path)


def _grid(n: int, w: float = 4.2, h: float = 3.0, ncol: int = 4):
    plt, _ = _plt()
    ncol = min(ncol, max(1, n))
    nrow = max(1, math.ceil(n / ncol))
    fig, axes = plt.subplots(nrow, ncol, figsize=(w * ncol, h * nrow), squeeze=False)
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    return fig, list(axes.flat)


def profiles_figure(board: pd.DataFrame, path: Path) -> Path:
    if board.empty:
        return _empty(path, "no runs")
    plt, sns = _plt()
    studies = sorted(board["study"].unique())
    fig, axes = plt.subplots(len(studies), 2, figsize=(10, 3.2 * len(studies)), squeeze=False)
    taus = np.linspace(1.0, MAX_RATIO, 301)
    for i, s in enumerate(studies):
        b = board[board.study == s]
        problems, methods = sorted(b["problem"].unique()), sorted(b["method"].unique())
        for j, (col, label) in enumerate([("ttt_seconds", "train seconds"), ("ttt_grad_evals", "gradient evaluations")]):
            r = performance_ratios(pivot(b, col).reindex(index=problems, columns=methods))
            prof = performance_profile(r, taus).reset_index().melt(id_vars="tau", var_name="method", value_name="rho")
            ax = axes[i, j]
            sns.lineplot(data=prof, x="tau", y="rho", hue="method", drawstyle="steps-post", ax=ax, lw=1.4)
            ax.set_ylim(-0.03, 1.03)
            ax.set_xlim(1, MAX_RATIO)
            ax.set_xlabel("τ (ratio to the best time-to-target)")
            ax.set_ylabel("ρ(τ)")
            ax.set_title(f"{s}: {label} ({len(problems)} problems)")
            ax.legend(fontsize=6, loc="lower right")
    return _save(fig, path)


def _curve_frame(curves: pd.DataFrame, summaries: pd.DataFrame) -> pd.DataFrame:
    if curves.empty or summaries.empty:
        return pd.DataFrame()
    meta = summaries[["run_id", "problem", "optimizer", "remedy", "seed"]].drop_duplicates("run_id")
    df = curves.merge(meta, on="run_id")
    df["method"] = [method_name(o, r) for o, r in zip(df["optimizer"], df["remedy"])]
    return df


def error_curves_figure(df: pd.DataFrame, x: str, xlabel: str, path: Path) -> Path:
    """One panel per problem: per method the median over seeds (line) and the min–max band."""
    if df.empty or x not in df:
        return _empty(path, "no curves")
    d = df[np.isfinite(df["rel_l2"].astype(float)) & (df["rel_l2"] > 0)]
    if d.empty:
        return _empty(path, "no finite errors in the curves")
    plt, sns = _plt()
    problems = sorted(d["problem"].unique())
    methods = sorted(d["method"].unique())
    pal = dict(zip(methods, sns.color_palette("tab10" if len(methods) <= 10 else "husl", len(methods))))
    agg = d.groupby(["problem", "method", "step"]).agg(x=(x, "median"), med=("rel_l2", "median"),
                                                       lo=("rel_l2", "min"), hi=("rel_l2", "max")).reset_index()
    fig, axes = _grid(len(problems))
    for ax, (prob, sub) in zip(axes, agg.groupby("problem", sort=True)):
        for m, a in sub.groupby("method", sort=True):
            ax.plot(a["x"], a["med"], color=pal[m], lw=1.2, label=m)
            ax.fill_between(a["x"], a["lo"], a["hi"], color=pal[m], alpha=0.2, lw=0)
        ax.set_yscale("log")
        ax.set_title(prob, fontsize=9)
        ax.set_xlabel(xlabel, fontsize=8)
        ax.set_ylabel("relative L2 error", fontsize=8)
    handles = [plt.Line2D([], [], color=pal[m], lw=2) for m in methods]
    fig.legend(handles, methods, loc="upper center", ncol=min(len(methods), 5), fontsize=8, frameon=False)
    W, H = fig.get_size_inches()
    legend_rows = math.ceil(len(methods) / 5)
    fig.subplots_adjust(top=1 - (0.3 * legend_rows + 0.45) / H, bottom=0.6 / H, left=0.8 / W, right=1 - 0.2 / W,
                        hspace=0.6, wspace=0.35)
    return _save(fig, path, tight=False)


def alignment_figure(df: pd.DataFrame, path: Path) -> Path:
    cols = [c for c in ("align_intra", "align_inter") if c in df and df[c].notna().any()] if not df.empty else []
    if not cols:
        return _empty(path, "no alignment scores in the curves")
    plt, sns = _plt()
    d = df.copy()
    d["progress"] = d["step"] / d.groupby("run_id")["step"].transform("max").replace(0, 1)
    d["progress"] = (d["progress"] * 10).round() / 10
    fig, axes = plt.subplots(1, len(cols), figsize=(5.5 * len(cols), 3.4), squeeze=False)
    for ax, c in zip(axes.flat, cols):
        sub = d[np.isfinite(d[c].astype(float))]
        sns.lineplot(data=sub, x="progress", y=c, hue="optimizer", estimator="median", errorbar=("pi", 50), ax=ax)
        ax.set_ylim(-1.05, 1.05)
        ax.set_xlabel("training progress (step / last step)")
        ax.set_title({"align_intra": "intra-step alignment (across loss gradients)",
                      "align_inter": "inter-step alignment (consecutive updates)"}[c])
        ax.legend(fontsize=6)
    return _save(fig, path)


def heatmap_figure(board: pd.DataFrame, path: Path) -> Path:
    if board.empty or not np.isfinite(board["rel_l2_median"].astype(float)).any():
        return _empty(path, "no finite errors")
    plt, sns = _plt()
    b = board.assign(log10_err=np.log10(board["rel_l2_median"].astype(float).where(board["rel_l2_median"] > 0)))
    h = b.pivot_table(index="problem", columns="method", values="log10_err", aggfunc="median")
    fig, ax = plt.subplots(figsize=(3.5 + 0.7 * h.shape[1], 2.8 + 0.4 * h.shape[0]))
    sns.heatmap(h, annot=h.size <= 400, fmt=".1f", cmap="viridis_r", ax=ax, cbar_kws={"label": "log10 rel. L2"},
                annot_kws={"fontsize": 6})
    ax.tick_params(axis="y", labelrotation=0)
    ax.set_title("log10 median final relative L2 error")
    return _save(fig, path)


def regime_figure(board: pd.DataFrame, path: Path) -> Path | None:
    if "regime" not in board or not board["regime"].notna().any():
        return None
    plt, sns = _plt()
    b = board.copy()
    b["regime"] = b["regime"].astype(str).str.replace(r" \(\d+/\d+\)$", "", regex=True)
    cats = sorted(b.loc[board["regime"].notna(), "regime"].unique())
    b["code"] = b["regime"].map({c: i for i, c in enumerate(cats)}).where(board["regime"].notna())
    h = b.pivot_table(index="problem", columns="method", values="code", aggfunc="first")
    cmap = sns.color_palette("Set2", len(cats))
    fig, ax = plt.subplots(figsize=(4.5 + 0.7 * h.shape[1], 2.8 + 0.4 * h.shape[0]))
    sns.heatmap(h, cmap=cmap, vmin=-0.5, vmax=len(cats) - 0.5, ax=ax, cbar_kws={"ticks": range(len(cats))})
    ax.collections[0].colorbar.set_ticklabels(cats)
    ax.tick_params(axis="y", labelrotation=0)
    ax.set_title("conflict regime")
    return _save(fig, path)


def figures(board: pd.DataFrame, summaries: pd.DataFrame, curves: pd.DataFrame, fig_dir: Path) -> dict[str, Path]:
    df = _curve_frame(curves, summaries)
    out = {
        "performance_profiles": profiles_figure(board, fig_dir / "performance_profiles.png"),
        "error_vs_time": error_curves_figure(df, "train_seconds", "train seconds", fig_dir / "error_vs_time.png"),
        "error_vs_grad_evals": error_curves_figure(df, "grad_evals", "gradient evaluations",
                                                   fig_dir / "error_vs_grad_evals.png"),
        "alignment": alignment_figure(df, fig_dir / "alignment.png"),
        "heatmap": heatmap_figure(board, fig_dir / "heatmap.png"),
    }
    rm = regime_figure(board, fig_dir / "regime_map.png")
    if rm is not None:
        out["regime_map"] = rm
    elif (fig_dir / "regime_map.png").exists():
        (fig_dir / "regime_map.png").unlink()
    return out


# ------------------------------------------------------------------------------------ entry
def write_report(results: str | os.PathLike, out: str | os.PathLike,
                 targets: str | os.PathLike | dict | None = None) -> list[Path]:
    """``pinnarena report RESULTS --out OUT``: everything from RESULTS' Parquet files.

    Uses ``RESULTS/leaderboard.parquet`` when present (and current), else aggregates with
    ``targets`` (a YAML file or a dict; default ``RESULTS/targets.yaml`` when it exists).
    """
    from pinnarena.scoring import load_targets

    results = Path(results)
    summaries, curves = load_results(results)
    lb = results / "leaderboard.parquet"
    board = pd.read_parquet(lb) if lb.exists() else None
    if board is None or "ttt_seconds" not in board or targets is not None:
        if targets is None and (results / "targets.yaml").exists():
            targets = results / "targets.yaml"
        suite = str(summaries["suite"].dropna().iloc[0]) if len(summaries) and summaries["suite"].notna().any() else None
        tg = targets if isinstance(targets, dict) else (load_targets(targets, suite) if targets else None)
        board = leaderboard(summaries, curves, tg)
    return render(board, summaries, curves, Path(out))


def render(board: pd.DataFrame, summaries: pd.DataFrame, curves: pd.DataFrame, out: Path) -> list[Path]:
    """Write ``leaderboard.md``, ``index.html`` and the figures; returns their paths."""
    from pinnarena.report_html import html

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rep = build(board, summaries)
    rep.figures = figures(board, summaries, curves, out / "figures")
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


__all__ = ["render", "write_report", "publish", "build", "markdown", "figures"]
