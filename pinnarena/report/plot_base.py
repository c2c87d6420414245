"""Matplotlib plumbing shared by the figures: theme, saving (PNG at :data:`DPI` and SVG),
placeholder figures, panel grids, legends outside the axes; and the figure checks the tests use.

Contract: no data logic; every figure function of :mod:`pinnarena.report.plots` and
:mod:`pinnarena.report.plot_diagnostics` draws through these helpers.
"""
from __future__ import annotations

import math
from pathlib import Path

from .context import Context
from .model import DPI


# ----------------------------------------------------------------------------------- figures
def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import seaborn as sns

    sns.set_theme(style="whitegrid", context="paper")
    plt.rcParams.update({"figure.max_open_warning": 0, "svg.fonttype": "none", "axes.titlesize": 9, "axes.labelsize": 8, "legend.fontsize": 7,
                         "xtick.labelsize": 7, "ytick.labelsize": 7})
    return plt, sns


def _save(fig, path: Path, dpi: int | None = None) -> Path:
    import matplotlib.pyplot as plt

    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi or DPI, bbox_inches="tight")
    fig.savefig(path.with_suffix(".svg"), bbox_inches="tight")
    plt.close(fig)
    return path


def _empty_fig(msg: str):
    plt, _ = _plt()
    fig, ax = plt.subplots(figsize=(5, 1.2))
    ax.axis("off")
    ax.text(0.5, 0.5, msg, ha="center", va="center", fontsize=9)
    fig._pinnarena_placeholder = True
    return fig


def _layout(n: int, max_col: int = 4) -> tuple[int, int]:
    """Columns and rows for n panels with the fewest empty cells (ties: more columns)."""
    if n <= max_col:
        return n, 1
    best = min(range(2, max_col + 1), key=lambda c: (math.ceil(n / c) * c - n, -c))
    return best, math.ceil(n / best)


def _grid(n: int, w: float = 3.0, h: float = 2.3, max_col: int = 4):
    """n panels on a grid; unused cells are removed (``fig._pinnarena_gap`` keeps the first
    one's position, where the legend goes instead of floating beside the grid)."""
    plt, _ = _plt()
    ncol, nrow = _layout(n, max_col)
    fig, axes = plt.subplots(nrow, ncol, figsize=(w * ncol, h * nrow), squeeze=False)
    axes = list(axes.flat)
    fig._pinnarena_gap = axes[n] if len(axes) > n else None
    return fig, axes[:n]


def _legend_right(fig, handles, labels, title=None, ncol=1):
    """One figure legend outside every plotting area: in the grid's first empty cell when there is
    one, else to the right of the axes, aligned with the top of the highest one."""
    fig.canvas.draw()
    gap = getattr(fig, "_pinnarena_gap", None)
    if gap is not None:
        pos = gap.get_position()
        for ax in list(fig.axes):
            if ax.get_position().x0 >= pos.x0 - 1e-9 and ax.get_position().y1 <= pos.y1 + 1e-9 and not ax.has_data():
                fig.delaxes(ax)
        fig.legend(handles, labels, loc="upper left", bbox_to_anchor=(pos.x0, pos.y1), frameon=False, title=title,
                   ncol=ncol, borderaxespad=0.0)
        return
    x1 = max(ax.get_position().x1 for ax in fig.axes)
    y1 = max(ax.get_position().y1 for ax in fig.axes)
    fig.legend(handles, labels, loc="upper left", bbox_to_anchor=(x1 + 0.01, y1), frameon=False, title=title,
               ncol=ncol, borderaxespad=0.0)


def _handles(ctx: Context, methods):
    import matplotlib.lines as ml

    return [ml.Line2D([], [], color=ctx.colour(m), lw=2.4 if m in ctx.new else 1.6) for m in methods], \
        [ctx.label(m) for m in methods]


# ------------------------------------------------------------------- figure checks (tests)
def legend_outside_axes(fig) -> bool:
    """Whether every legend of ``fig`` lies outside every axes' plotting area (display coords)."""
    fig.canvas.draw()
    r = fig.canvas.get_renderer()
    legends = list(fig.legends) + [ax.get_legend() for ax in fig.axes if ax.get_legend() is not None]
    for lg in legends:
        lb = lg.get_window_extent(r)
        for ax in fig.axes:
            if ax.get_visible() and ax.axison:
                ab = ax.get_window_extent(r)
                if lb.overlaps(ab):
                    return False
    return True


def empty_panels(fig) -> list[str]:
    """Titles of axes (with visible axis) that draw nothing."""
    out = []
    for ax in fig.axes:
        if not ax.axison:
            continue
        n = len(ax.lines) + len(ax.collections) + len(ax.images) + len(ax.patches)
        if n == 0:
            out.append(ax.get_title() or "?")
    return out
