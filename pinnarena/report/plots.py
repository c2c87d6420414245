"""The result figures (performance profiles, error curves, heatmap, tuning sensitivity) and the
whole figure set of a report.

Contract: :func:`figure_objects` returns name → ``(figure, note)`` for every name of
:data:`~pinnarena.report.model.FIGURES` plus the optional ones; :func:`figures` writes them
into a folder (PNG and SVG) and removes figures an earlier render drew but this one did not.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from pinnarena.aggregate import method_name
from pinnarena.scoring import MAX_RATIO, performance_profile, performance_ratios, pivot

from .context import Context
from .model import FIGURES, KINDS, NEW_COLOUR, _slug
from .plot_base import _empty_fig, _grid, _handles, _legend_right, _plt, _save
from .plot_diagnostics import alignment_fig, alignment_vs_error_fig, regime_fig


def profiles_fig(ctx: Context, all_methods: bool = False):
    """Rows: studies with ≥ 2 problems; columns: seconds, gradient evaluations. Returns (fig, note)."""
    skipped = [s for s in ctx.studies if ctx.board[ctx.board.study == s]["problem"].nunique() < 2]
    keep = [s for s in ctx.studies if s not in skipped]
    note = (f"Skipped (a profile over a single problem is one step, not a distribution): study "
            f"{', '.join(skipped)}." if skipped else "")
    if not keep:
        return _empty_fig("no study with at least two problems: no performance profile"), note
    plt, _ = _plt()
    taus = np.linspace(1.0, MAX_RATIO, 301)
    fig, axes = plt.subplots(len(keep), 2, figsize=(7.2, 2.6 * len(keep)), squeeze=False)
    for i, s in enumerate(keep):
        b = ctx.board[ctx.board.study == s]
        problems = sorted(b["problem"].unique())
        allm = sorted(b["method"].unique())
        shown = allm if all_methods else ctx.top(s)
        for j, (col, label) in enumerate([("ttt_seconds", "train seconds"), ("ttt_grad_evals", "gradient evaluations")]):
            r = performance_ratios(pivot(b, col).reindex(index=problems, columns=allm))
            prof = performance_profile(r, taus)
            ax = axes[i, j]
            for m in shown:
                ax.step(taus, prof[m].to_numpy(), where="post", color=ctx.colour(m), lw=2.2 if m in ctx.new else 1.2,
                        zorder=3 if m in ctx.new else 2)
            ax.set_ylim(-0.03, 1.03)
            ax.set_xlim(1, MAX_RATIO)
            ax.set_xlabel("τ (ratio to the best time-to-target)")
            ax.set_ylabel("ρ(τ): share of problems")
            ax.set_title(f"{s}: {label} ({len(problems)} problems)")
        h, l_ = _handles(ctx, shown)
        fig.tight_layout()
        fig.canvas.draw()
        pos = axes[i, 1].get_position()
        fig.legend(h, l_, loc="upper left", bbox_to_anchor=(pos.x1 + 0.01, pos.y1), frameon=False,
                   ncol=2 if len(shown) > 14 else 1, title=f"study {s}", borderaxespad=0.0)
    return fig, note


def _seed_band(sub: pd.DataFrame, x: str, n: int = 60):
    """Per seed, log10 error interpolated on a common x grid; median, min and max over seeds, on the
    grid points that most seeds reach (past the end of most seeds' curves, e.g. one step beyond a
    time budget, the "median" would be one seed's value)."""
    xs = sub[x].astype(float)
    lo, hi = float(xs.min()), float(xs.max())
    if not np.isfinite(hi) or hi <= lo:
        return None
    grid = np.linspace(lo, hi, n)
    vals = []
    for _, r in sub.groupby("run_id"):
        r = r.sort_values(x)
        xr, yr = r[x].astype(float).to_numpy(), np.log10(r["rel_l2"].astype(float).to_numpy())
        ok = np.isfinite(xr) & np.isfinite(yr)
        if ok.sum() < 2:
            continue
        v = np.interp(grid, xr[ok], yr[ok], left=np.nan, right=np.nan)
        vals.append(v)
    if not vals:
        return None
    V = np.vstack(vals)
    with np.errstate(all="ignore"), __import__("warnings").catch_warnings():
        __import__("warnings").simplefilter("ignore")
        med, mn, mx = np.nanmedian(V, 0), np.nanmin(V, 0), np.nanmax(V, 0)
    ok = np.isfinite(med) & (np.isfinite(V).sum(0) > V.shape[0] / 2)
    return grid[ok], 10 ** med[ok], 10 ** mn[ok], 10 ** mx[ok]


def pick_problems(ctx: Context, study: str, df: pd.DataFrame, limit: int = 12) -> list[str]:
    """Up to ``limit`` problems, round-robin over kinds (most methods first) among those with curves."""
    b = ctx.board[ctx.board.study == study]
    have = set(df.loc[df.study == study, "problem"])
    by_kind = {}
    for k, g in b[b.problem.isin(have)].groupby("kind"):
        order = g.groupby("problem")["method"].nunique().sort_values(ascending=False, kind="mergesort")
        by_kind[k] = list(order.index)
    out = []
    kinds = [k for k in KINDS if k in by_kind] + sorted(set(by_kind) - set(KINDS))
    while len(out) < limit and any(by_kind.values()):
        for k in kinds:
            if by_kind[k] and len(out) < limit:
                out.append(by_kind[k].pop(0))
    return out


def error_curves_fig(ctx: Context, study: str, x: str, xlabel: str, limit: int = 12):
    df = ctx.curve_frame()
    if df.empty or x not in df:
        return _empty_fig("no curves in these results"), ""
    d = df[(df.study == study) & np.isfinite(df["rel_l2"].astype(float)) & (df["rel_l2"] > 0)]
    if d.empty:
        return _empty_fig("no finite errors in the curves"), ""
    shown = ctx.top(study)
    d = d[d.method.isin(shown)]
    problems = pick_problems(ctx, study, d, limit=10 ** 6)
    panels, skipped = [], []
    for p in problems:
        bands = {}
        for m, sub in d[d.problem == p].groupby("method", sort=True):
            b = _seed_band(sub, x)
            if b is not None:
                bands[m] = b
        (panels if len(bands) >= 2 or (len(bands) == 1 and len(shown) == 1) else skipped).append((p, bands))
    n_total = len(panels)
    # round-robin order already; keep at most `limit`
    panels = panels[:limit]
    if not panels:
        return _empty_fig(f"study {study}: no problem with curves of at least two methods"), \
            f"Skipped: every problem of study {study} has curves of fewer than two shown methods."
    plt, _ = _plt()
    fig, axes = _grid(len(panels))
    used = []
    for ax, (p, bands) in zip(axes, panels):
        for m in shown:
            if m not in bands:
                continue
            gx, med, lo, hi = bands[m]
            ax.plot(gx, med, color=ctx.colour(m), lw=2.0 if m in ctx.new else 1.1, zorder=3 if m in ctx.new else 2)
            ax.fill_between(gx, lo, hi, color=ctx.colour(m), alpha=0.18, lw=0)
            if m not in used:
                used.append(m)
        ax.set_yscale("log")
        ax.set_title(p)
        ax.set_xlabel(xlabel)
        ax.set_ylabel("relative L2 error")
    fig.tight_layout()
    h, l_ = _handles(ctx, [m for m in shown if m in used])
    _legend_right(fig, h, l_, title=f"study {study}")
    for ax in list(fig.axes):
        if not ax.has_data():
            fig.delaxes(ax)
    notes = [f"Study {study}: {len(panels)} of {n_total} problems with curves of at least two shown methods "
             f"(round-robin over kinds; every problem is in the heatmap and the per-problem tables)."]
    if skipped:
        notes.append(f"Skipped (fewer than two methods with curves): {', '.join(p for p, _ in skipped)}.")
    return fig, " ".join(notes)


def heatmap_fig(ctx: Context, study: str):
    b = ctx.board[ctx.board.study == study]
    if b.empty or not np.isfinite(b["rel_l2_median"].astype(float)).any():
        return _empty_fig(f"study {study}: no finite errors"), ""
    plt, sns = _plt()
    b = b.assign(log10_err=np.log10(b["rel_l2_median"].astype(float).where(b["rel_l2_median"] > 0)))
    order_m = list(ctx.rankings[study]["method"])
    order_p = list(b.drop_duplicates("problem").assign(
        _k=lambda d: d["kind"].map({k: i for i, k in enumerate(KINDS)}).fillna(99)).sort_values(["_k", "problem"])["problem"])
    h = b.pivot_table(index="problem", columns="method", values="log10_err", aggfunc="median").reindex(
        index=order_p, columns=order_m)
    kinds = b.drop_duplicates("problem").set_index("problem")["kind"]
    h.index = [f"{p} ({kinds[p]})" for p in h.index]
    fig, ax = plt.subplots(figsize=(2.6 + 0.32 * h.shape[1], 1.4 + 0.22 * h.shape[0]))
    sns.heatmap(h, annot=h.size <= 150, fmt=".1f", cmap="viridis_r", ax=ax, cbar_kws={"label": "log10 rel. L2"},
                annot_kws={"fontsize": 6}, linewidths=0.3, linecolor="white")
    ax.set_xticklabels([ctx.label(m) for m in h.columns], rotation=60, ha="right")
    for t, m in zip(ax.get_xticklabels(), h.columns):
        if m in ctx.new:
            t.set_color(NEW_COLOUR)
            t.set_fontweight("bold")
    ax.tick_params(axis="y", labelrotation=0)
    ax.set_xlabel("method (ranking order)")
    ax.set_ylabel("problem (kind)")
    ax.set_title(f"study {study}: log10 median final relative L2 error (blank: every seed failed)")
    return fig, ""


def tuning_fig(ctx: Context, all_methods: bool = False):
    t = ctx.tuning
    if t.empty or "trial" not in t:
        return _empty_fig("no tuning trials in these results"), "No tuning trials in these results."
    metric = "val_rel_l2" if "val_rel_l2" in t and t["val_rel_l2"].notna().any() else "rel_l2"
    t = t.assign(method=[method_name(o, r) for o, r in zip(t["optimizer"], t["remedy"])],
                 tuning_of=t["tuning_of"].fillna("?") if "tuning_of" in t else "?",
                 _m=t[metric].astype(float).where((t["status"] == "ok") & (t[metric].astype(float) > 0)))
    per = t.groupby(["tuning_of", "problem", "method", "trial"])["_m"].median().reset_index()
    per["ratio"] = per["_m"] / per.groupby(["tuning_of", "problem", "method"])["_m"].transform("min")
    per = per[np.isfinite(per["ratio"])]
    cells = per.groupby(["tuning_of", "method"])["trial"].count()
    studies = [s for s in sorted(per["tuning_of"].unique())]
    panels = []
    for s in studies:
        ms = list(ctx.rankings[s]["method"]) if s in ctx.rankings else sorted(per.loc[per.tuning_of == s, "method"].unique())
        if not all_methods and s in ctx.rankings:
            ms = ctx.top(s)
        ms = [m for m in ms if cells.get((s, m), 0) >= 2]
        if ms:
            panels.append((s, ms))
    if not panels:
        return _empty_fig("tuning trials too few to show a spread (fewer than two finished trials per cell)"), \
            "Skipped: fewer than two finished trials per tuned cell."
    plt, sns = _plt()
    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 0.8 + 0.32 * max(len(m) for _, m in panels)),
                             squeeze=False)
    for ax, (s, ms) in zip(axes.flat, panels):
        sub = per[(per.tuning_of == s) & per.method.isin(ms)]
        pal = {m: ctx.colour(m) for m in ms}
        sns.boxplot(data=sub, y="method", x="ratio", order=ms, hue="method", palette=pal, ax=ax, fliersize=0,
                    linewidth=0.7, legend=False, boxprops={"alpha": 0.35})
        sns.stripplot(data=sub, y="method", x="ratio", order=ms, hue="method", palette=pal, ax=ax, size=2.5,
                      jitter=0.2, legend=False)
        ax.set_xscale("log")
        ax.set_yticks(range(len(ms)))
        ax.set_yticklabels([ctx.label(m) for m in ms])
        for tl, m in zip(ax.get_yticklabels(), ms):
            if m in ctx.new:
                tl.set_color(NEW_COLOUR)
                tl.set_fontweight("bold")
        ax.set_xlabel(f"{metric} of a trial / best trial of its (problem, method) cell")
        ax.set_ylabel("")
        ax.set_title(f"tuning of study {s}: {sub['problem'].nunique()} problems")
    fig.tight_layout()
    return fig, (f"One point per (problem, trial): the trial's median {metric} over tuning seeds divided by the best "
                 "trial of the same cell (1 = the chosen setting's neighbourhood; wide boxes: sensitive to tuning).")


def figure_objects(ctx: Context) -> dict:
    """name → (matplotlib figure, note); every name of :data:`FIGURES` plus optional ones."""
    out = {"performance_profiles": profiles_fig(ctx)}
    studies = ([ctx.primary] if ctx.primary else []) + [s for s in ctx.studies if s != ctx.primary]
    for i, s in enumerate(studies or [None]):
        sfx = "" if i == 0 else f"-{_slug(s)}"
        for name, x, label in (("error_vs_time", "train_seconds", "train seconds"),
                               ("error_vs_grad_evals", "grad_evals", "gradient evaluations")):
            out[name + sfx] = error_curves_fig(ctx, s, x, label) if s else (_empty_fig("no runs"), "")
        out["heatmap" + sfx] = heatmap_fig(ctx, s) if s else (_empty_fig("no runs"), "")
    out["tuning_sensitivity"] = tuning_fig(ctx)
    out["alignment"] = alignment_fig(ctx)
    out["alignment_vs_error"] = alignment_vs_error_fig(ctx)
    rf = regime_fig(ctx)
    if rf[0] is not None:
        out["regime_map"] = rf
    out["performance_profiles_all"] = profiles_fig(ctx, all_methods=True)
    tf = tuning_fig(ctx, all_methods=True)
    if not getattr(tf[0], "_pinnarena_placeholder", False):
        out["tuning_sensitivity_all"] = tf
    else:
        import matplotlib.pyplot as plt

        plt.close(tf[0])
    return out


def figures(board: pd.DataFrame, summaries: pd.DataFrame, curves: pd.DataFrame, fig_dir: Path,
            ctx: Context | None = None, notes: dict | None = None) -> dict[str, Path]:
    """Write every figure (PNG at 300 dpi and SVG) into ``fig_dir``; returns name → PNG path."""
    fig_dir = Path(fig_dir)
    if board.empty:
        out = {n: _save(_empty_fig("no runs"), fig_dir / f"{n}.png") for n in FIGURES}
        _clean_stale(fig_dir, set(out))
        return out
    ctx = ctx or Context(board, summaries, curves)
    out = {}
    for name, (fig, note) in figure_objects(ctx).items():
        out[name] = _save(fig, fig_dir / f"{name}.png")
        if notes is not None and note:
            notes[name] = note
    _clean_stale(fig_dir, set(out))
    return out


def _clean_stale(fig_dir: Path, keep: set) -> None:
    """Remove figures of an earlier render that this one did not draw (e.g. regime_map)."""
    if not fig_dir.is_dir():
        return
    for p in fig_dir.iterdir():
        if p.suffix in (".png", ".svg") and p.stem not in keep:
            p.unlink()
