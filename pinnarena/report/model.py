"""The report's data model and vocabulary, shared by every other module of the package.

Contract: :class:`Table`, :class:`Section`, :class:`Finding` and :class:`Report` (what
:func:`pinnarena.report.build` returns and the Markdown / HTML writers render); the figure names
and titles; the cell formatters (``_sci``, ``_ttt``, …; each turns one raw value into the text
of a cell, ``—`` for missing); the optimizer / remedy family look-ups. No I/O, no plotting.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd


KINDS = ("forward", "inverse", "multiphysics", "highdim", "turbulent")
# Always written (the Snakemake report rule declares them; a "no data" figure when there is nothing to draw).
FIGURES = ("performance_profiles", "error_vs_time", "error_vs_grad_evals", "heatmap", "tuning_sensitivity",
           "alignment", "alignment_vs_error")
FIGURE_TITLES = {
    "performance_profiles": "Performance profiles ρ(τ) of time-to-target (top methods and the baseline, per study)",
    "error_vs_time": "Relative L2 error vs train seconds (median over seeds, band: min–max over seeds)",
    "error_vs_grad_evals": "Relative L2 error vs gradient evaluations (median over seeds, band: min–max over seeds)",
    "heatmap": "log10 median final relative L2 error, problem × method (every method)",
    "tuning_sensitivity": "Tuning sensitivity: each trial's error relative to the best trial of its cell",
    "alignment": "Intra-step gradient alignment score over training (median over runs, IQR band)",
    "alignment_vs_error": "Gradient alignment score against final error (per problem × method)",
    "regime_map": "Measured conflict regime per problem (diagnostic-first runs)",
    "performance_profiles_all": "Performance profiles, every method (appendix)",
    "tuning_sensitivity_all": "Tuning sensitivity, every method (appendix)",
}
APPENDIX_FIGURES = ("performance_profiles_all", "tuning_sensitivity_all")
DPI = 300
TOP_N = 8  # methods per panel besides the baseline and new methods
SECOND_ORDER_FAMILIES = ("second-order", "natural-gradient", "quasi-newton")
FIRST_ORDER_FAMILIES = ("first-order",)
NEW_COLOUR = "#d6007e"
BASE_COLOUR = "#222222"


# ------------------------------------------------------------------------------------ tables
@dataclass
class Table:
    """A report table: ``data`` holds raw values (for sorting), ``fmt`` per-column formatters;
    ``highlight`` names methods (in the ``method`` column) to mark as new."""

    title: str
    data: pd.DataFrame
    fmt: dict = field(default_factory=dict)
    anchor: str = ""
    note: str = ""
    highlight: frozenset = frozenset()
    collapsed: bool = False  # HTML: inside <details> (long appendix tables)

    def text(self, col: str, value) -> str:
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return "—"
        f = self.fmt.get(col)
        return f(value) if f else str(value)


@dataclass
class Section:
    heading: str
    anchor: str
    tables: list
    text: list = field(default_factory=list)  # paragraphs (plain text)
    appendix: bool = False


@dataclass
class Finding:
    title: str
    text: str
    anchor: str  # the table it comes from
    verdict: str = ""  # for claims: supported | refuted | mixed | not significant | not enough data


@dataclass
class Report:
    meta: dict
    summary: str
    sections: list  # [Section]
    findings: list = field(default_factory=list)
    figures: dict = field(default_factory=dict)  # name → PNG path
    figure_notes: dict = field(default_factory=dict)  # name → text (skipped panels, what is shown)
    new_methods: frozenset = frozenset()

    def section(self, heading: str) -> Section:
        return next(s for s in self.sections if s.heading == heading)

    def tables(self) -> list:
        return [t for s in self.sections for t in s.tables]


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


def _interval(lo, hi, f=_sci) -> str:
    if lo is None or hi is None or (isinstance(lo, float) and math.isnan(lo)):
        return "—"
    return f"{f(lo)} – {f(hi)}"


def _family(method: str) -> str:
    opt, _, rem = method.partition(" + ")
    try:
        from pinnarena import optimizers as reg

        fam = reg.REGISTRY.meta(opt).get("family", "?")
    except Exception:  # noqa: BLE001 - an optimizer this checkout does not know
        fam = "?"
    return fam if rem in ("none", "") else f"{fam} + {_remedy_class(rem)}"


def _opt_family(opt: str) -> str:
    try:
        from pinnarena import optimizers as reg

        return reg.REGISTRY.meta(opt).get("family", "?")
    except Exception:  # noqa: BLE001
        return "?"


def _remedy_class(rem: str) -> str:
    """adapter | surgery | weighting | none | selection | modifier | ? (compositions: the adapter
    wins, else the combining remedy's family)."""
    parts = str(rem).split("+")
    if "adapters" in parts:
        return "adapter"
    try:
        from pinnarena import remedies as reg

        fam = reg.REGISTRY.meta(parts[-1]).get("family", "?")
    except Exception:  # noqa: BLE001
        return "?"
    return {"baseline": "none"}.get(fam, fam)
