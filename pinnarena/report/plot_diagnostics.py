"""The diagnostic figures: gradient alignment over training, alignment against final error, and
the measured conflict-regime map.

Contract: each function takes the :class:`~pinnarena.report.context.Context` and returns
``(figure, note)`` (a placeholder figure when there is no data; :func:`regime_fig` returns
``(None, "")`` when no regime was measured).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from pinnarena.aggregate import method_name
from pinnarena.scoring import BASELINE

from .analysis import _run_alignment
from .context import Context
from .model import KINDS
from .plot_base import _empty_fig, _handles, _legend_right, _plt
from .tables import PAPER_REGIME


def alignment_fig(ctx: Context):
    df = ctx.curve_frame()
    if df.empty or "align_intra" not in df or not df["align_intra"].notna().any():
        return _empty_fig("no alignment scores in the curves"), ""
    study = ctx.primary
    shown = ctx.top(study)
    d = df[(df.study == study) & df.method.isin(shown) & np.isfinite(df["align_intra"].astype(float))].copy()
    if d.empty:
        return _empty_fig("no alignment scores for the shown methods"), ""
    d["progress"] = d["step"] / d.groupby("run_id")["step"].transform("max").replace(0, 1)
    d["progress"] = (d["progress"] * 10).round() / 10
    plt, _ = _plt()
    fig, ax = plt.subplots(figsize=(5.0, 3.0))
    used = []
    for m in shown:
        sub = d[d.method == m]
        if sub.empty:
            continue
        g = sub.groupby("progress")["align_intra"]
        q = pd.DataFrame({"med": g.median(), "lo": g.quantile(0.25), "hi": g.quantile(0.75)})
        ax.plot(q.index, q["med"], color=ctx.colour(m), lw=2.0 if m in ctx.new else 1.1)
        ax.fill_between(q.index, q["lo"], q["hi"], color=ctx.colour(m), alpha=0.15, lw=0)
        used.append(m)
    ax.set_ylim(-1.05, 1.05)
    ax.axhline(0, color="#999", lw=0.6)
    ax.set_xlabel("training progress (step / last step)")
    ax.set_ylabel("intra-step alignment score A")
    ax.set_title(f"study {study}: alignment across the loss gradients")
    fig.tight_layout()
    h, l_ = _handles(ctx, used)
    _legend_right(fig, h, l_)
    return fig, "A = 2‖mean of the unit loss gradients‖² − 1 (arXiv 2502.00604): 1 aligned, < 0 conflicting."


def alignment_vs_error_fig(ctx: Context):
    al = _run_alignment(ctx)
    s = ctx.summaries
    if not len(al) or s.empty:
        return _empty_fig("no alignment scores in the curves"), ""
    s = s.assign(method=[method_name(o, r) for o, r in zip(s["optimizer"], s["remedy"])], align=s["run_id"].map(al))
    if "study" not in s:
        s["study"] = "default"
    s = s[s["status"] != "error"]
    g = s.groupby(["study", "problem", "method"]).agg(align=("align", "median"), err=("rel_l2", "median")).reset_index()
    base = g[g.method == BASELINE].set_index(["study", "problem"])["err"]
    rel = not base.empty
    if rel:
        g["y"] = g["err"] / [base.get((a, b), np.nan) for a, b in zip(g.study, g.problem)]
    else:
        g["y"] = g["err"]
    g = g[np.isfinite(g["align"]) & np.isfinite(g["y"]) & (g["y"] > 0)]
    if len(g) < 3:
        return _empty_fig("fewer than three (problem, method) points with alignment and error"), ""
    study = ctx.primary
    shown = ctx.top(study)
    plt, _ = _plt()
    fig, ax = plt.subplots(figsize=(5.0, 3.4))
    other = g[~g.method.isin(shown)]
    if len(other):
        ax.scatter(other["align"], other["y"], s=8, color="#bbbbbb", lw=0, label="_other")
    used = []
    for m in shown:
        sub = g[g.method == m]
        if sub.empty:
            continue
        ax.scatter(sub["align"], sub["y"], s=26 if m in ctx.new else 14, color=ctx.colour(m), lw=0,
                   marker="D" if m in ctx.new else "o", zorder=3)
        used.append(m)
    ax.set_yscale("log")
    ax.set_xlabel("median intra-step alignment score over training")
    ax.set_ylabel(f"final error / {BASELINE}'s" if rel else "final relative L2 error")
    ax.set_title("alignment against error (one point per problem × method)")
    if rel:
        ax.axhline(1, color="#999", lw=0.6)
    fig.tight_layout()
    import matplotlib.lines as ml

    h, l_ = _handles(ctx, used)
    h = [ml.Line2D([], [], ls="", marker="D" if m in ctx.new else "o", color=ctx.colour(m)) for m in used]
    if len(other):
        h.append(ml.Line2D([], [], ls="", marker="o", color="#bbbbbb"))
        l_.append("other methods")
    _legend_right(fig, h, l_)
    return fig, ""


def regime_fig(ctx: Context):
    s = ctx.summaries
    if s.empty or "regime" not in s or not s["regime"].notna().any():
        return None, ""
    plt, sns = _plt()
    d = s.dropna(subset=["regime"]).assign(method=lambda x: [method_name(o, r) for o, r in zip(x["optimizer"], x["remedy"])])
    d["regime"] = d["regime"].astype(str)
    cats = sorted(d["regime"].unique())
    mode = d.groupby(["problem", "method"])["regime"].agg(lambda x: x.value_counts().index[0]).unstack("method")
    info = d.drop_duplicates("problem").set_index("problem")
    order = sorted(mode.index, key=lambda p: (KINDS.index(info.loc[p, "kind"]) if info.loc[p, "kind"] in KINDS else 99,
                                               int(info.loc[p, "n_losses"]) if "n_losses" in info else 0, p))
    mode = mode.reindex(order)
    code = mode.apply(lambda col: col.map({c: i for i, c in enumerate(cats)}))
    code.index = [f"{p} ({info.loc[p, 'kind']}, K={info.loc[p, 'n_losses']})" if "n_losses" in info else p
                  for p in code.index]
    cols = sns.color_palette("Set2", len(cats))
    fig, ax = plt.subplots(figsize=(2.8 + 0.5 * code.shape[1], 2.2 + 0.22 * code.shape[0]))
    from matplotlib.colors import ListedColormap
    import matplotlib.patches as mp

    sns.heatmap(code.astype(float), cmap=ListedColormap(cols), vmin=-0.5, vmax=len(cats) - 0.5, cbar=False, ax=ax,
                linewidths=0.3, linecolor="white")
    ax.tick_params(axis="y", labelrotation=0)
    ax.set_xticklabels(ax.get_xticklabels(), rotation=45, ha="right")
    ax.set_xlabel("")
    ax.set_ylabel("problem (kind, K)")
    ax.set_title("measured conflict regime\n(most common over seeds)")
    fig.tight_layout()
    _legend_right(fig, [mp.Patch(color=c) for c in cols], cats, title="regime")
    return fig, f"The paper: {PAPER_REGIME}. See the regime table in the appendix."
