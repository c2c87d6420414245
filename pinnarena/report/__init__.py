"""The report: ``leaderboard.md``, ``index.html`` and ``figures/``, computed from Parquet only.

Inputs are the leaderboard (``RESULTS/leaderboard.parquet``, built by :mod:`pinnarena.aggregate`
if absent) and the runs' ``summary.parquet`` / ``curves.parquet`` (or a published snapshot's
``summaries.parquet`` / ``curves.parquet``). Logs are never read. Only rows whose study is not
``tuning`` are ranked; the tuning trials feed the tuning-sensitivity figure and an appendix table.

The page, in reading order (``leaderboard.md`` has the same tables):

1. a summary paragraph: suite, machine, budget, tuning protocol, counts of runs and failures;
2. **the ranking** per study: AlgoPerf-style score (time-to-target in train seconds and in
   gradient evaluations, :mod:`pinnarena.scoring`) with a 95 % interval from resampling seeds,
   the significance groups of a Friedman → Wilcoxon–Holm procedure over the problems (methods
   that share a letter are ties the data cannot separate; :mod:`pinnarena.stats`), wins, median
   rank, speed-ups against ``adam + none``, failure rate; each method against the baseline;
   then the same ranking per problem kind;
3. a table per problem: median final error over the held-out seeds with its bootstrap 95 %
   interval (``≈ best`` marks methods whose interval overlaps the best one's), time-to-target,
   counts by status, stationary-point and regime columns when present;
4. figures (300 dpi PNG and SVG, embedded in the page): performance profiles,
   error-vs-time and error-vs-gradient-evaluations curves with seed bands, the log10-error
   heatmap, tuning sensitivity, alignment over training, alignment against final error, the
   regime map (when the results have regimes). At most ~10 methods per panel (the top of the
   ranking, the baseline ``adam + none`` and any new method); "all methods" versions go to the
   appendix; panels with too little data are skipped and the page says so;
5. findings generated from the data, each linking the table it comes from;
6. the appendix: targets with provenance, the regime table, evidence tables of the findings,
   failures, tuning trials, environment.

``render(..., new_methods=…)`` (used by :mod:`pinnarena.compare`) marks methods as new in every
table (a badge) and figure (one highlight colour, thicker lines).

The package, one job per module (imports run one way, top to bottom):

- :mod:`~pinnarena.report.model`: the Table / Section / Finding / Report dataclasses, figure
  names and titles, cell formatters, optimizer / remedy family look-ups;
- :mod:`~pinnarena.report.context`: :class:`Context`, the state tables, findings and figures share;
- :mod:`~pinnarena.report.tables`: every table (rankings, per problem, appendix, regimes);
- :mod:`~pinnarena.report.analysis`: the findings and the seed papers' claims;
- :mod:`~pinnarena.report.page`: :func:`build` (the report without figures) and :func:`markdown`;
- :mod:`~pinnarena.report.plot_base`: matplotlib plumbing and the figure checks;
- :mod:`~pinnarena.report.plot_diagnostics`: alignment and regime figures;
- :mod:`~pinnarena.report.plots`: the result figures and the whole figure set;
- :mod:`~pinnarena.report.html`: ``index.html``;
- :mod:`~pinnarena.report.output`: :func:`render`, :func:`write_report`, :func:`publish`.

This module only re-exports their public names (module names never shadow them).
"""
from __future__ import annotations

from .analysis import findings
from .context import Context
from .model import (APPENDIX_FIGURES, BASE_COLOUR, DPI, FIGURE_TITLES, FIGURES, FIRST_ORDER_FAMILIES, KINDS,
                    NEW_COLOUR, SECOND_ORDER_FAMILIES, TOP_N, Finding, Report, Section, Table)
from .output import load_board, publish, render, write_report
from .page import build, header_meta, markdown, summary_text, table_markdown
from .plot_base import empty_panels, legend_outside_axes
from .plot_diagnostics import alignment_fig, alignment_vs_error_fig, regime_fig
from .plots import error_curves_fig, figure_objects, figures, heatmap_fig, pick_problems, profiles_fig, tuning_fig
from .tables import (PAPER_REGIME, board_extras, environment_table, failures_table, regime_counts,
                     regime_section_table, targets_table, tuning_table)

__all__ = ["render", "write_report", "publish", "build", "markdown", "figures", "figure_objects", "Context",
           "legend_outside_axes", "empty_panels", "load_board"]
