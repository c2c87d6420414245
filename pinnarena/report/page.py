"""The report without figures: header, summary paragraph, sections in reading order, and its
Markdown text.

Contract: :func:`build` assembles a :class:`~pinnarena.report.model.Report` (tables and findings,
no figures); :func:`markdown` writes ``leaderboard.md``'s text from a report (figures linked from
``figures/``); :func:`table_markdown` renders one table.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from pinnarena.aggregate import ranked_rows, tuning_rows

from .analysis import findings
from .context import Context
from .model import APPENDIX_FIGURES, FIGURE_TITLES, KINDS, Report, Section, Table, _slug
from .tables import (_problem_table, _ranking_table, _vs_baseline_table, board_extras, environment_table,
                     failures_table, regime_section_table, targets_table, tuning_table)


# ------------------------------------------------------------------------------------- build
def header_meta(board: pd.DataFrame, summaries: pd.DataFrame) -> dict:
    def uniq(col, s=summaries):
        if s.empty or col not in s:
            return []
        return sorted(s[col].dropna().astype(str).unique())

    ranked, tun = ranked_rows(summaries), tuning_rows(summaries)
    n_fail = int((ranked["status"] != "ok").sum()) if not ranked.empty else 0
    return {"suite": ", ".join(uniq("suite")) or "—", "commit": ", ".join(c[:12] for c in uniq("git_commit")) or "—",
            "devices": ", ".join(uniq("device")) or "—", "runs": int(len(ranked)), "failures": n_fail,
            "tuning_runs": int(len(tun)), "tuning_failures": int((tun["status"] != "ok").sum()) if len(tun) else 0,
            "studies": int(board["study"].nunique()) if not board.empty else 0,
            "problems": int(board["problem"].nunique()) if not board.empty else 0,
            "methods": int(board["method"].nunique()) if not board.empty else 0,
            "pinnarena": ", ".join(uniq("pinnarena_version")) or "—"}


def _budget_text(s: pd.DataFrame) -> str:
    if s.empty:
        return "—"
    parts = []
    if "budget_seconds" in s and s["budget_seconds"].notna().any():
        b = s["budget_seconds"].dropna().astype(float)
        clock = ", ".join(sorted(s["budget_clock"].dropna().astype(str).unique())) if "budget_clock" in s else ""
        rng = f"{b.min():g} s" if b.min() == b.max() else f"{b.min():g}–{b.max():g} s"
        parts.append(f"{rng} of train time per run{f' ({clock} clock)' if clock else ''}")
    col = "budget_steps" if "budget_steps" in s and s["budget_steps"].notna().any() else "steps"
    if col in s and s[col].notna().any():
        b = s[col].dropna().astype(float)
        rng = f"{b.min():g}" if b.min() == b.max() else f"{b.min():g}–{b.max():g}"
        parts.append(f"{'at most ' if parts else ''}{rng} steps")
    return ", ".join(parts) or "—"


def _protocol_text(ctx: Context) -> str:
    t = ctx.tuning
    held = sorted(ctx.summaries["seed"].dropna().astype(int).unique()) if not ctx.summaries.empty else []
    if t.empty or "trial" not in t:
        return (f"no tuning trials in these results (hyper-parameters as set by each study); seeds "
                f"{', '.join(map(str, held)) or '—'}")
    per = t.groupby(["problem", "optimizer", "remedy"])["trial"].nunique()
    tr = f"{per.min()}" if per.min() == per.max() else f"{per.min()}–{per.max()}"
    seeds = ", ".join(map(str, sorted(t["seed"].dropna().astype(int).unique())))
    metric = "validation error (val_rel_l2)" if "val_rel_l2" in t and t["val_rel_l2"].notna().any() \
        else "training loss"
    return (f"{tr} trials per (problem, method) cell on tuning seed(s) {seeds}, the trial with the lowest median "
            f"{metric} retrained on the held-out seeds {', '.join(map(str, held))} (only those are ranked)")


def summary_text(ctx: Context, meta: dict) -> str:
    if meta["runs"] == 0:
        return "No runs found."
    return (f"Suite {meta['suite']} on {meta['devices']}: {meta['runs']} ranked runs ({meta['failures']} not ok) "
            f"and {meta['tuning_runs']} tuning-trial runs ({meta['tuning_failures']} not ok) over {meta['problems']} "
            f"problem{'' if meta['problems'] == 1 else 's'}, {meta['methods']} methods (optimizer + remedy) and {meta['studies']} "
            f"stud{'y' if meta['studies'] == 1 else 'ies'}. Budget: {_budget_text(ctx.summaries)}. Tuning protocol: "
            f"{_protocol_text(ctx)}. Medians are over seeds with bootstrap 95 % intervals; scores are "
            f"AlgoPerf-style integrals of the time-to-target performance profile with intervals from resampling seeds; "
            f"significance across problems by a Friedman test followed by Wilcoxon–Holm (≥ 10 problems) or Nemenyi critical-difference groups. Commit "
            f"{meta['commit']}, pinnarena {meta['pinnarena']}.{_machines_text(ctx.board)}")


def _machines_text(board: pd.DataFrame) -> str:
    """Which problems' methods ran on more than one CPU model (their time budgets are not comparable)."""
    if "problem_cpu_models" not in board:
        return ""
    mixed = sorted({f"{p} ({s})" for s, p, n in zip(board["study"], board["problem"], board["problem_cpu_models"]) if n > 1})
    if not mixed:
        return ""
    return (f" Not comparable: on {', '.join(mixed)} the ranked runs ran on more than one CPU model, and a time "
            "budget buys each method a different amount of work on another model (1.1-1.6x between two EPYC "
            "generations; pinnarena.cpu_model).")


def build(board: pd.DataFrame, summaries: pd.DataFrame, curves: pd.DataFrame | None = None,
          new_methods=(), ctx: Context | None = None) -> Report:
    """Every table and finding of the report (no figures)."""
    summaries = summaries if summaries is not None else pd.DataFrame()
    meta = header_meta(board, summaries)
    if board.empty:
        return Report(meta, "No runs found.", [Section("Appendix: failures", "appendix-failures",
                                                       [failures_table(summaries)], appendix=True)])
    ctx = ctx or Context(board, summaries, curves, new_methods)
    sections = []
    ranking = []
    for s in ctx.studies:
        ranking.append(_ranking_table(ctx, ctx.rankings[s], ctx.comparisons[s], f"Study {s}", f"ranking-{_slug(s)}"))
        vb = _vs_baseline_table(ctx, s)
        if vb is not None:
            ranking.append(vb)
    sections.append(Section("Ranking", "ranking", ranking))
    kinds = [k for k in KINDS if k in set(board["kind"])] + sorted(set(board["kind"].dropna()) - set(KINDS))
    per_kind, kind_anchors = [], {}
    for k in kinds:
        for s in ctx.studies:
            sub = board[(board.study == s) & (board.kind == k)]
            if not sub.empty:
                sb, cmp = ctx.ranking(sub)
                a = f"kind-{_slug(k)}-{_slug(s)}"
                per_kind.append(_ranking_table(ctx, sb, cmp, f"{k} — study {s}", a))
                kind_anchors[(k, s)] = (a, sb)
    sections.append(Section("Rankings by kind", "rankings-by-kind", per_kind))
    extras = board_extras(board)
    sections.append(Section("Per problem", "per-problem",
                            [_problem_table(ctx, g, extras) for _, g in board.groupby(["study", "problem"], sort=True)]))
    fnd, evidence = findings(ctx, kind_anchors)
    appendix = [Section("Appendix: targets", "appendix-targets", [targets_table(board)], appendix=True)]
    rt, _ = regime_section_table(ctx)
    if rt is not None:
        appendix.append(Section("Appendix: conflict regimes", "appendix-regimes", [rt], appendix=True))
    appendix.append(Section("Appendix: evidence for the findings", "appendix-evidence", evidence, appendix=True))
    appendix.append(Section("Appendix: failures", "appendix-failures", [failures_table(summaries)], appendix=True))
    tt = tuning_table(ctx)
    appendix.append(Section("Appendix: tuning trials", "appendix-tuning", [tt] if tt is not None else [],
                            ["No tuning trials in these results."] if tt is None else [], appendix=True))
    appendix.append(Section("Appendix: environment", "appendix-environment", [environment_table(summaries)],
                            appendix=True))
    return Report(meta, summary_text(ctx, meta), sections + appendix, fnd, new_methods=ctx.new)


# ---------------------------------------------------------------------------------- markdown
def _md_cell(s: str) -> str:
    return str(s).replace("|", "\\|").replace("\n", " ")


def table_markdown(t: Table) -> list[str]:
    lines = [f'### {t.title} <a id="{t.anchor}"></a>' if t.anchor else f"### {t.title}", ""]
    if t.note:
        lines += [t.note, ""]
    if t.data.empty:
        return lines + ["(none)", ""]
    cols = list(t.data.columns)
    lines += ["| " + " | ".join(map(_md_cell, cols)) + " |", "|" + "---|" * len(cols)]
    for row in t.data.itertuples(index=False):
        cells = []
        for c, v in zip(cols, row):
            txt = t.text(c, v)
            if c == "method" and v in t.highlight:
                txt = f"**{txt}** (new)"
            cells.append(_md_cell(txt))
        lines.append("| " + " | ".join(cells) + " |")
    return lines + [""]


def markdown(rep: Report | pd.DataFrame, summaries: pd.DataFrame | None = None) -> str:
    if isinstance(rep, pd.DataFrame):
        rep = build(rep, summaries if summaries is not None else pd.DataFrame())
    m = rep.meta
    lines = ["# pinnarena leaderboard", "",
             f"Suite: {m['suite']} · commit: {m['commit']} · devices: {m['devices']} · runs: {m['runs']} · "
             f"not ok: {m['failures']} · tuning runs: {m['tuning_runs']}", "", rep.summary, ""]
    if rep.new_methods:
        lines += [f"New methods (compared against the baseline results): {', '.join(sorted(rep.new_methods))}.", ""]
    main = [s for s in rep.sections if not s.appendix]
    appendix = [s for s in rep.sections if s.appendix]

    def sec(s):
        out = [f"## {s.heading}", ""]
        for p in s.text:
            out += [p, ""]
        for t in s.tables:
            out += table_markdown(t)
        return out

    for s in main:
        lines += sec(s)
    figs = {k: v for k, v in rep.figures.items() if k not in APPENDIX_FIGURES}
    if figs:
        lines += ["## Figures", ""]
        for name, p in figs.items():
            lines += [f"![{FIGURE_TITLES.get(name, name)}](figures/{Path(p).name})", ""]
            if rep.figure_notes.get(name):
                lines += [rep.figure_notes[name], ""]
    if rep.findings:
        lines += ["## Findings", ""]
        for f in rep.findings:
            lines.append(f"- **{f.title}.** {f.text} ([table](#{f.anchor}))")
        lines.append("")
    for s in appendix:
        lines += sec(s)
    afigs = {k: v for k, v in rep.figures.items() if k in APPENDIX_FIGURES}
    if afigs:
        lines += ["## Appendix: figures with every method", ""]
        for name, p in afigs.items():
            lines += [f"![{FIGURE_TITLES.get(name, name)}](figures/{Path(p).name})", ""]
    return "\n".join(lines)
