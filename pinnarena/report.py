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
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from pinnarena import stats as S
from pinnarena.aggregate import leaderboard, load_results, method_name, ranked_rows, time_to_target, tuning_rows
from pinnarena.scoring import BASELINE, MAX_RATIO, performance_profile, performance_ratios, pivot, score_board

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


# ----------------------------------------------------------------------------------- context
class Context:
    """Everything the tables, findings and figures share: ranked rows, per-run times-to-target,
    the rankings with their intervals and significance groups, method colours."""

    def __init__(self, board: pd.DataFrame, summaries: pd.DataFrame, curves: pd.DataFrame | None = None,
                 new_methods=()):
        self.board = board
        self.all_summaries = summaries if summaries is not None else pd.DataFrame()
        self.summaries = ranked_rows(self.all_summaries)
        self.tuning = tuning_rows(self.all_summaries)
        self.curves = curves if curves is not None else pd.DataFrame()
        self.new = frozenset(new_methods)
        self.studies = sorted(board["study"].unique()) if not board.empty else []
        self.primary = ("optimizers" if "optimizers" in self.studies else
                        (board.groupby("study").size().sort_values(ascending=False, kind="mergesort").index[0]
                         if self.studies else None))
        self.run_t = self._run_times()
        self.rankings: dict = {}
        self.comparisons: dict = {}
        for s in self.studies:
            self.rankings[s], self.comparisons[s] = self.ranking(board[board.study == s])
        self.colours = self._colours()
        self._curve_df = None

    # per run: study, problem, method, ttt_seconds, ttt_grad_evals
    def _run_times(self) -> pd.DataFrame:
        cols = ["run_id", "study", "problem", "method", "ttt_seconds", "ttt_grad_evals"]
        s = self.summaries
        if s.empty or self.board.empty:
            return pd.DataFrame(columns=cols)
        tg = self.board.drop_duplicates("problem").set_index("problem")["target"]
        targets = {p: {"rel_l2": float(t)} for p, t in tg.items() if np.isfinite(t)}
        t = time_to_target(self.curves, s, targets)
        s = s[["run_id", "problem", "optimizer", "remedy"] + (["study"] if "study" in s else [])].copy()
        if "study" not in s:
            s["study"] = "default"
        s["study"] = s["study"].fillna("default")
        s["method"] = [method_name(o, r) for o, r in zip(s["optimizer"], s["remedy"])]
        return s.merge(t, on="run_id", how="left")[cols]

    def ranking(self, sub: pd.DataFrame) -> tuple[pd.DataFrame, S.Comparison]:
        """score_board + score intervals (seed bootstrap) + significance letters for board rows ``sub``."""
        sb = score_board(sub)
        study = sub["study"].iloc[0]
        rt = self.run_t[(self.run_t.study == study) & self.run_t.problem.isin(set(sub["problem"]))
                        & self.run_t.method.isin(set(sub["method"]))]
        for col, key in (("ttt_seconds", "seconds"), ("ttt_grad_evals", "grad_evals")):
            ci = S.bootstrap_scores(rt.rename(columns={col: "t"})[["problem", "method", "t"]]).set_index("method")
            sb[f"score_{key}_low"] = sb["method"].map(ci["score_low"])
            sb[f"score_{key}_high"] = sb["method"].map(ci["score_high"])
        problems, methods = sorted(sub["problem"].unique()), sorted(sub["method"].unique())
        err = pivot(sub, "rel_l2_median").reindex(index=problems, columns=methods)
        ran = pivot(sub.assign(_ran=1.0), "_ran").reindex(index=problems, columns=methods).notna()
        cmp = S.compare_methods(err, ran)
        sb["group"] = sb["method"].map(lambda m: cmp.letters.get(m, "—"))
        sb["mean_rank"] = sb["method"].map(cmp.friedman.avg_ranks)
        return sb, cmp

    def top(self, study: str, n: int = TOP_N) -> list[str]:
        """The ``n`` best methods of a study's ranking, plus the baseline and every new method."""
        if study not in self.rankings:
            return []
        order = list(self.rankings[study]["method"])
        out = order[:n]
        for m in [BASELINE, *sorted(self.new)]:
            if m in order and m not in out:
                out.append(m)
        return out

    def _colours(self) -> dict:
        import matplotlib.colors as mc
        import seaborn as sns

        order = []
        for s in ([self.primary] if self.primary else []) + [s for s in self.studies if s != self.primary]:
            order += [m for m in self.rankings[s]["method"] if m not in order]
        base = [c for i, c in enumerate(sns.color_palette("tab10", 10)) if i not in (6, 7)]  # no pink, grey
        extra = sns.color_palette("tab20", 20)[1::2] + sns.color_palette("husl", max(len(order), 1))
        pal, k = {}, 0
        for m in order:
            if m in self.new:
                pal[m] = mc.to_hex(NEW_COLOUR)
            elif m == BASELINE:
                pal[m] = BASE_COLOUR
            else:
                pool = base + extra
                pal[m] = mc.to_hex(pool[k % len(pool)])
                k += 1
        return pal

    def colour(self, m: str) -> str:
        return self.colours.get(m, "#888888")

    def label(self, m: str) -> str:
        return f"{m} (new)" if m in self.new else m

    def curve_frame(self) -> pd.DataFrame:
        if self._curve_df is None:
            self._curve_df = _curve_frame(self.curves, self.summaries)
        return self._curve_df


# ------------------------------------------------------------------------------ rank tables
_RANK_FMT = {"score (s)": _f3, "score (grad evals)": _f3, "median rank": lambda x: f"{x:g}",
             "mean rank": lambda x: f"{x:.2f}", "speed-up vs adam (s)": _g3,
             "speed-up vs adam (grad evals)": _g3, "failure rate": _pct}


def _ranking_table(ctx: Context, sb: pd.DataFrame, cmp: S.Comparison, title: str, anchor: str) -> Table:
    s = sb
    df = pd.DataFrame({
        "rank": np.arange(1, len(s) + 1), "method": s["method"], "family": [_family(m) for m in s["method"]],
        "score (s)": s["score_seconds"],
        "score 95 % CI (s)": [_interval(a, b, _f3) for a, b in zip(s["score_seconds_low"], s["score_seconds_high"])],
        "score (grad evals)": s["score_grad_evals"],
        "score 95 % CI (grad evals)": [_interval(a, b, _f3) for a, b in
                                       zip(s["score_grad_evals_low"], s["score_grad_evals_high"])],
        "group": s["group"], "mean rank": s["mean_rank"], "wins": s["wins"],
        "problems hit": s["problems_hit"].astype(str) + " / " + s["n_problems"].astype(str),
        "median rank": s["median_rank"], "speed-up vs adam (s)": s["speedup_seconds"],
        "speed-up vs adam (grad evals)": s["speedup_grad_evals"], "failure rate": s["failure_rate"],
    })
    note = ("Score = (1/3)∫₁⁴ ρ(τ)dτ of time-to-target (1: fastest to the target on every problem); its 95 % "
            "interval resamples each cell's seeds (1000 resamples). "
            + cmp.statement())
    return Table(title, df.reset_index(drop=True), _RANK_FMT, anchor, note, ctx.new)


def _vs_baseline_table(ctx: Context, study: str) -> Table | None:
    b = ctx.board[ctx.board.study == study]
    base = b[b.method == BASELINE].set_index("problem")
    if base.empty:
        return None
    rows = []
    for m, g in b[b.method != BASELINE].groupby("method", sort=True):
        g = g.set_index("problem")
        common = [p for p in g.index if p in base.index]
        if not common:
            continue
        e, eb = g.loc[common, "rel_l2_median"].astype(float), base.loc[common, "rel_l2_median"].astype(float)
        lo, hi = g.loc[common, "rel_l2_ci_low"].astype(float), g.loc[common, "rel_l2_ci_high"].astype(float)
        blo, bhi = base.loc[common, "rel_l2_ci_low"].astype(float), base.loc[common, "rel_l2_ci_high"].astype(float)
        ef, ebf = e.where(np.isfinite(e), np.inf), eb.where(np.isfinite(eb), np.inf)
        better = int((ef < ebf).sum())
        fin, bfin = np.isfinite(ef), np.isfinite(ebf)
        clearly = int(((hi < blo) | (~bfin & fin)).sum())
        worse_clearly = int(((lo > bhi) | (bfin & ~fin)).sum())
        le = S.failures_worst(np.log10(pd.DataFrame({"m": e, "b": eb}).where(lambda d: d > 0)))
        d = (le["m"] - le["b"]).to_numpy()
        rows.append(dict(method=m, problems=len(common), better=better, worse=int((ef > ebf).sum()),
                         separable_better=clearly, separable_worse=worse_clearly,
                         median_ratio=float(10 ** np.median(d)), p=S.wilcoxon_p(d)))
    if not rows:
        return None
    df = pd.DataFrame(rows)
    df["p_holm"] = S.holm(df["p"].fillna(1.0).to_numpy())
    df = df.sort_values(["median_ratio", "method"]).reset_index(drop=True)
    out = pd.DataFrame({
        "method": df["method"], "problems": df["problems"], "lower error": df["better"], "higher error": df["worse"],
        "better, intervals apart": df["separable_better"], "worse, intervals apart": df["separable_worse"],
        "median error ratio vs adam": df["median_ratio"], "Wilcoxon p": df["p"], "Holm p": df["p_holm"],
        "verdict": [("better" if r.median_ratio < 1 else "worse") if r.p_holm <= S.ALPHA else "not separable"
                    for r in df.itertuples()],
    })
    fmt = {"median error ratio vs adam": lambda x: f"{x:.3g}", "Wilcoxon p": lambda x: f"{x:.2g}",
           "Holm p": lambda x: f"{x:.2g}"}
    return Table(f"Against the baseline {BASELINE} — study {study}", out, fmt, f"vsbase-{_slug(study)}",
                 "Per problem the median final error over seeds against the baseline's; 'intervals apart': the two "
                 "bootstrap 95 % intervals do not overlap (or one method failed on every seed). Wilcoxon signed-rank "
                 "test on log10 error ratios across problems, Holm-adjusted over the methods.", ctx.new)


_STANDARD = {"study", "problem", "optimizer", "remedy", "method", "family", "kind", "suite", "n_runs", "seeds",
             "failure_rate", "rel_l2_median", "rel_l2_q25", "rel_l2_q75", "rel_l2_iqr", "rel_l2_ci_low",
             "rel_l2_ci_high", "rel_l2_best", "train_seconds_median", "grad_evals_median", "n_params", "target",
             "target_provenance", "ttt_seconds", "ttt_grad_evals", "target_hit_rate", "n_ok", "n_diverged",
             "n_timeout", "n_error", "params_differ"}


def board_extras(board: pd.DataFrame) -> list[str]:
    """Stationary-point / regime / other extra leaderboard columns that hold any value."""
    cols = [c for c in board.columns if c not in _STANDARD and board[c].notna().any()]
    first = [c for c in cols if c.startswith("stationary")] + [c for c in cols if c.startswith("hess")]
    last = [c for c in cols if c == "regime" or c.startswith("regime") or c == "auto_choice"]
    return first + [c for c in cols if c not in first and c not in last] + last


def _problem_table(ctx: Context, g: pd.DataFrame, extras: list[str]) -> Table:
    g = g.sort_values(["rel_l2_median", "method"], na_position="last")
    best = g.iloc[0]
    tie = [("best" if i == 0 else ("≈ best" if S.intervals_overlap(r.rel_l2_ci_low, r.rel_l2_ci_high,
                                                                     best.rel_l2_ci_low, best.rel_l2_ci_high) else ""))
           for i, r in enumerate(g.itertuples())]
    if not np.isfinite(float(best.rel_l2_median)):
        tie = [""] * len(g)
    df = pd.DataFrame({
        "method": g["method"], "median rel. L2": g["rel_l2_median"],
        "95 % CI": [_interval(a, b) for a, b in zip(g["rel_l2_ci_low"], g["rel_l2_ci_high"])],
        "tie": tie, "runs": g["n_runs"],
        "ok / div / t.o. / err": [f"{r.n_ok} / {r.n_diverged} / {r.n_timeout} / {r.n_error}" for r in g.itertuples()],
        "failure rate": g["failure_rate"],
        "IQR": [f"{_sci(a)} – {_sci(b)}" for a, b in zip(g["rel_l2_q25"], g["rel_l2_q75"])],
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
            f"({r0.target_provenance}) · seeds {r0.seeds} · 95 % CI: percentile bootstrap of the median over seeds; "
            "'≈ best': its interval overlaps the best method's (a tie the seeds cannot separate)")
    return Table(f"{r0.problem} ({r0.study})", df.reset_index(drop=True), fmt,
                 f"problem-{_slug(r0.study)}-{_slug(r0.problem)}", note, ctx.new)


def failures_table(summaries: pd.DataFrame) -> Table:
    cols = ["study", "problem", "method", "seed", "status", "error", "run_id"]
    title = "Failures (every run whose status is not ok, tuning trials included)"
    if summaries.empty:
        return Table(title, pd.DataFrame(columns=cols), anchor="failures")
    f = summaries[summaries["status"] != "ok"].copy()
    if "study" not in f:
        f["study"] = "default"
    f["method"] = [method_name(o, r) for o, r in zip(f["optimizer"], f["remedy"])]
    f["error"] = f["error"].fillna("").astype(str).str.slice(0, 300)
    f = f.sort_values(["study", "problem", "method", "seed"])[cols].reset_index(drop=True)
    return Table(title, f, anchor="failures", collapsed=len(f) > 100)


def targets_table(board: pd.DataFrame) -> Table:
    t = board.drop_duplicates("problem").sort_values(["kind", "problem"])
    df = pd.DataFrame({"problem": t["problem"], "kind": t["kind"], "target rel. L2": t["target"],
                       "provenance": t["target_provenance"]})
    return Table("Per-problem targets", df.reset_index(drop=True), {"target rel. L2": _sci}, "targets",
                 "Time-to-target is the first evaluation after step 0 with rel. L2 ≤ target (median over seeds; a "
                 f"miss is ∞). r = t / best t on the problem; r > {MAX_RATIO:g} is a miss. Score = (1/3)∫₁⁴ ρ(τ)dτ.",
                 collapsed=len(df) > 30)


def tuning_table(ctx: Context) -> Table | None:
    t = ctx.tuning
    if t.empty or "trial" not in t:
        return None
    t = t.copy()
    metric = "val_rel_l2" if "val_rel_l2" in t and t["val_rel_l2"].notna().any() else "rel_l2"
    t["method"] = [method_name(o, r) for o, r in zip(t["optimizer"], t["remedy"])]
    t["tuning_of"] = t["tuning_of"].fillna("?") if "tuning_of" in t else "?"
    t["_m"] = t[metric].astype(float).where(t["status"] == "ok")
    chosen = {}
    held = ctx.summaries
    if "trial" in held:
        for r in held.dropna(subset=["trial"]).itertuples():
            chosen[(getattr(r, "study", "?"), r.problem, method_name(r.optimizer, r.remedy))] = int(r.trial)
    rows = []
    for (study, prob, m), g in t.groupby(["tuning_of", "problem", "method"], sort=True):
        per = g.groupby("trial")["_m"].median()
        fin = per[np.isfinite(per)]
        ch = chosen.get((study, prob, m))
        hp = ""
        if ch is not None and "hparams" in g:
            h = g.loc[g["trial"] == ch, "hparams"].dropna()
            hp = str(h.iloc[0]) if len(h) else ""
        rows.append({"study": study, "problem": prob, "method": m, "trials": int(g["trial"].nunique()),
                     "tuning seeds": ",".join(str(s) for s in sorted(g["seed"].unique())),
                     "failed trials": int((g.groupby("trial")["status"].apply(lambda s: (s != "ok").any())).sum()),
                     f"best {metric}": float(fin.min()) if len(fin) else np.nan,
                     f"worst {metric}": float(fin.max()) if len(fin) else np.nan,
                     "worst / best": float(fin.max() / fin.min()) if len(fin) and fin.min() > 0 else np.nan,
                     "chosen trial": ch if ch is not None else np.nan, "chosen hparams": hp})
    df = pd.DataFrame(rows)
    return Table("Tuning trials (per tuned cell)", df, {f"best {metric}": _sci, f"worst {metric}": _sci,
                                                          "worst / best": lambda x: f"{x:.3g}",
                                                          "chosen trial": lambda x: f"{x:g}"}, "tuning",
                 f"Trials are selected by the median over tuning seeds of {metric} (never the test error); the "
                 "chosen trial is retrained on the held-out seeds, the only rows ranked.", ctx.new,
                 collapsed=len(df) > 60)


def environment_table(summaries: pd.DataFrame) -> Table:
    cols = [c for c in ("suite", "study", "device", "precision", "jax_version", "pinnarena_version", "git_commit")
            if c in summaries]
    if summaries.empty or not cols:
        return Table("Environment", pd.DataFrame(columns=["runs"]), anchor="environment")
    s = summaries[cols].astype(str).fillna("—")
    df = s.groupby(cols, sort=True).size().reset_index(name="runs")
    return Table("Environment", df, anchor="environment",
                 note="Every run records its device, versions, git commit and the full resolved config (its hash "
                      "is the run id).")


# ----------------------------------------------------------------------------------- regimes
PAPER_REGIME = ("multi-physics K = 5, 6 and inverse K = 3: magnitude imbalance dominates "
                "(Kim & N'guessan, arXiv 2605.10136)")


def regime_counts(summaries: pd.DataFrame, curves: pd.DataFrame) -> pd.DataFrame | None:
    """The regime table by problem kind and K: ``pinnarena.regime.regime_table`` when that module
    exists, else counts of the summaries' ``regime`` column (one count per run)."""
    try:
        from pinnarena.regime import regime_table  # noqa: PLC0415

        t = regime_table(summaries, curves)
        if isinstance(t, pd.DataFrame) and not t.empty:
            return t.reset_index(drop=not any(n is not None for n in t.index.names))
    except ImportError:
        pass
    except Exception:  # noqa: BLE001 - the other module's table must not break the report
        pass
    if summaries.empty or "regime" not in summaries or not summaries["regime"].notna().any():
        return None
    s = summaries.dropna(subset=["regime"])
    t = s.groupby(["kind", "n_losses", "regime"]).size().unstack("regime", fill_value=0).reset_index()
    t = t.rename(columns={"n_losses": "K"})
    t.columns.name = None
    return t


def _dominant(t: pd.DataFrame, kind: str, ks) -> str | None:
    kcol = "K" if "K" in t else ("n_losses" if "n_losses" in t else None)
    if kcol is None or "kind" not in t:
        return None
    sub = t[(t["kind"] == kind) & t[kcol].isin(ks)]
    num = [c for c in sub.columns if c not in ("kind", kcol) and pd.api.types.is_numeric_dtype(sub[c])]
    if sub.empty or not num:
        return None
    tot = sub[num].sum()
    return str(tot.idxmax()) if tot.max() > 0 else None


def regime_section_table(ctx: Context) -> tuple[Table | None, str]:
    t = regime_counts(ctx.summaries, ctx.curves)
    if t is None:
        return None, "no regime measured in these results"
    mp, inv = _dominant(t, "multiphysics", (5, 6)), _dominant(t, "inverse", (3,))
    said = []
    for label, d in (("multi-physics K = 5, 6", mp), ("inverse K = 3", inv)):
        if d is None:
            said.append(f"{label}: not measured here")
        else:
            agree = "magnitude" in d
            said.append(f"{label}: most runs are {d} ({'agrees' if agree else 'disagrees'})")
    verdict = "; ".join(said)
    return Table("Conflict regimes by problem kind and K", t, anchor="regimes",
                 note=f"The paper: {PAPER_REGIME}. Measured here: {verdict}."), verdict


# ---------------------------------------------------------------------------------- findings
def _fmt_ci(v, lo, hi) -> str:
    return f"{v:.3f} [{lo:.3f}, {hi:.3f}]"


def findings(ctx: Context, kind_anchors: dict) -> tuple[list, list]:
    """(findings, evidence tables): every statement computed from the leaderboard and summaries."""
    out, tables = [], []
    # 1. winner per kind
    for (kind, study), (anchor, sb) in kind_anchors.items():
        if sb.empty:
            continue
        w = sb.iloc[0]
        if not w.score_seconds > 0:
            b = ctx.board[(ctx.board.study == study) & (ctx.board.kind == kind)]
            best = b.sort_values("rel_l2_median").iloc[0]
            out.append(Finding(f"Winner on {kind} ({study})",
                               f"No method reaches the target within a factor {MAX_RATIO:g} of the fastest on any "
                               f"{kind} problem of study {study} (every score is 0); by median final error the best "
                               f"is {best.method} on {best.problem} ({_sci(best.rel_l2_median)}, 95 % CI "
                               f"{_interval(best.rel_l2_ci_low, best.rel_l2_ci_high)}).", anchor))
            continue
        txt = (f"{w.method} ranks first on {kind} problems (study {study}, {int(w.n_problems)} problem(s)) with score "
               f"{_fmt_ci(w.score_seconds, w.score_seconds_low, w.score_seconds_high)}")
        if len(sb) > 1:
            r = sb.iloc[1]
            sep = not S.intervals_overlap(w.score_seconds_low, w.score_seconds_high, r.score_seconds_low,
                                          r.score_seconds_high)
            txt += (f"; margin {w.score_seconds - r.score_seconds:.3f} over {r.method} "
                    f"({_fmt_ci(r.score_seconds, r.score_seconds_low, r.score_seconds_high)}): "
                    + ("the intervals do not overlap." if sep else "the intervals overlap, so the seeds cannot "
                       "separate the two."))
        else:
            txt += " (the only method)."
        out.append(Finding(f"Winner on {kind} ({study})", txt, anchor))
    # 2. never better than the baseline
    for study in ctx.studies:
        b = ctx.board[ctx.board.study == study]
        base = b[b.method == BASELINE].set_index("problem")["rel_l2_median"].astype(float)
        if base.empty:
            continue
        never = []
        for m, g in b[b.method != BASELINE].groupby("method", sort=True):
            e = g.set_index("problem")["rel_l2_median"].astype(float)
            common = [p for p in e.index if p in base.index]
            if common and not (e[common].fillna(np.inf) < base[common].fillna(np.inf)).any():
                never.append(m)
        n_m = b.loc[b.method != BASELINE, "method"].nunique()
        txt = (f"{len(never)} of {n_m} methods never reach a lower median error than {BASELINE} on any problem they "
               f"share with it: {', '.join(never)}." if never else
               f"Every method beats {BASELINE} on at least one problem (median error over seeds).")
        out.append(Finding(f"Never better than the baseline ({study})", txt, f"vsbase-{_slug(study)}"))
    # 3. second-order vs first-order
    t2, f2 = _second_vs_first(ctx)
    if t2 is not None:
        tables.append(t2)
    out.append(Finding("Second-order against first-order methods", f2, "second-order"))
    # 4-6. the seed papers' claims
    for fn in (_claim_soap, _claim_newton, _claim_regime):
        f, t = fn(ctx)
        out.append(f)
        if t is not None:
            tables.append(t)
    return out, tables


def _second_vs_first(ctx: Context) -> tuple[Table | None, str]:
    rows = []
    for (study, prob), g in ctx.board.groupby(["study", "problem"], sort=True):
        fam = g["optimizer"].map(_opt_family)
        base_rem = g["remedy"] == "none"
        so = g[fam.isin(SECOND_ORDER_FAMILIES) & base_rem]
        fo = g[fam.isin(FIRST_ORDER_FAMILIES) & base_rem]
        so, fo = so[np.isfinite(so.rel_l2_median.astype(float))], fo[np.isfinite(fo.rel_l2_median.astype(float))]
        if so.empty or fo.empty:
            continue
        a, b = so.sort_values("rel_l2_median").iloc[0], fo.sort_values("rel_l2_median").iloc[0]
        apart = a.rel_l2_ci_high < b.rel_l2_ci_low
        rows.append({"study": study, "problem": prob, "kind": a.kind, "best second-order": a.method,
                     "its error": a.rel_l2_median, "best first-order": b.method, "its error ": b.rel_l2_median,
                     "error ratio": a.rel_l2_median / b.rel_l2_median if b.rel_l2_median > 0 else np.nan,
                     "second-order better, intervals apart": "yes" if apart else "",
                     "train s (2nd / 1st)": a.train_seconds_median / b.train_seconds_median
                     if b.train_seconds_median > 0 else np.nan,
                     "time to target s (2nd)": a.ttt_seconds, "time to target s (1st)": b.ttt_seconds})
    if not rows:
        return None, "Not enough data: no problem has both a second-order (second-order, natural-gradient or " \
                     "quasi-Newton family, remedy none) and a first-order method with a finite error."
    df = pd.DataFrame(rows)
    wins = df[df["second-order better, intervals apart"] == "yes"]
    kinds = ", ".join(f"{k} ({n})" for k, n in wins["kind"].value_counts().sort_index().items()) or "none"
    cost = wins["train s (2nd / 1st)"].median() if len(wins) else np.nan
    txt = (f"The best second-order method beats the best first-order one with non-overlapping 95 % intervals on "
           f"{len(wins)} of {len(df)} problems (by kind: {kinds}); median error ratio over all problems "
           f"{df['error ratio'].median():.3g}.")
    if len(wins):
        txt += (f" Where it wins its median train time is {cost:.3g}× the first-order method's"
                f" (time-to-target medians: {wins['time to target s (2nd)'].replace(np.inf, np.nan).median():.3g} s vs "
                f"{wins['time to target s (1st)'].replace(np.inf, np.nan).median():.3g} s, misses excluded).")
    fmt = {"its error": _sci, "its error ": _sci, "error ratio": lambda x: f"{x:.3g}",
           "train s (2nd / 1st)": lambda x: f"{x:.3g}", "time to target s (2nd)": _ttt, "time to target s (1st)": _ttt}
    return Table("Evidence: second-order against first-order per problem", df, fmt, "second-order",
                 "Optimizer families from the registry; remedy none only.", ctx.new, collapsed=len(df) > 40), txt


def _run_alignment(ctx: Context) -> pd.Series:
    """Per run: the median intra-step alignment score over its evaluations after step 0."""
    c = ctx.curves
    if c.empty or "align_intra" not in c or not c["align_intra"].notna().any():
        return pd.Series(dtype=float)
    c = c[(c["step"] > 0) & np.isfinite(c["align_intra"].astype(float))]
    return c.groupby("run_id")["align_intra"].median()


def _claim_verdict(n: int, dirs: list[tuple[float, float]]) -> str:
    """dirs: (median difference in the claimed direction (> 0 supports), p)."""
    if n < 3:
        return "not enough data"
    ok = [d > 0 and p <= S.ALPHA for d, p in dirs]
    bad = [d < 0 and p <= S.ALPHA for d, p in dirs]
    if all(ok):
        return "supported"
    if any(bad) and not any(ok):
        return "refuted"
    if any(ok) and any(bad):
        return "mixed"
    return "not significant"


def _claim_soap(ctx: Context) -> tuple[Finding, Table | None]:
    title = "Claim (a): SOAP raises the gradient alignment and lowers the error relative to Adam (arXiv 2502.00604)"
    s = ctx.summaries
    al = _run_alignment(ctx)
    rows = []
    if not s.empty:
        s = s.assign(method=[method_name(o, r) for o, r in zip(s["optimizer"], s["remedy"])])
        s = s.assign(align=s["run_id"].map(al) if len(al) else np.nan)
        for (study, prob), g in s.groupby([s.get("study", pd.Series("default", index=s.index)), "problem"]):
            a, b = g[g.method == "soap + none"], g[g.method == "adam + none"]
            if a.empty or b.empty:
                continue
            ea = a["rel_l2"].astype(float).where(a["status"] != "error").median()
            eb = b["rel_l2"].astype(float).where(b["status"] != "error").median()
            rows.append({"study": study, "problem": prob, "align soap": a["align"].median(),
                         "align adam": b["align"].median(), "error soap": ea, "error adam": eb})
    if not rows:
        return Finding(title, "Not enough data: no problem has runs of both soap + none and adam + none.", "claim-soap",
                       "not enough data"), None
    df = pd.DataFrame(rows)
    df["align diff"] = df["align soap"] - df["align adam"]
    df["error ratio"] = df["error soap"] / df["error adam"]
    da = df["align diff"].dropna()
    le = np.log10(df["error ratio"].where(df["error ratio"] > 0)).dropna()
    pa, pe = S.wilcoxon_p(da), S.wilcoxon_p(le)
    n = min(len(da), len(le)) if len(da) else len(le)
    dirs = [(float(np.median(da)) if len(da) else 0.0, pa if np.isfinite(pa) else 1.0),
            (-float(np.median(le)) if len(le) else 0.0, pe if np.isfinite(pe) else 1.0)]
    verdict = _claim_verdict(n if len(da) else 0, dirs) if len(da) else "not enough data"
    txt = (f"Over {len(df)} problem(s) with both: SOAP's median intra-step alignment score is higher than Adam's on "
           f"{int((da > 0).sum())} of {len(da)} (median difference {np.median(da) if len(da) else float('nan'):+.3f}, "
           f"Wilcoxon p {S._p(pa)[2:] if np.isfinite(pa) else '—'}), its median error lower on "
           f"{int((le < 0).sum())} of {len(le)} (median ratio {10 ** np.median(le) if len(le) else float('nan'):.3g}, "
           f"p {S._p(pe)[2:] if np.isfinite(pe) else '—'}). Verdict: {verdict}.")
    if 0 < n < 6:
        txt += " (With fewer than 6 problems a two-sided signed-rank test cannot reach p ≤ 0.05.)"
    if not len(da):
        txt += " The curves carry no alignment scores (align_intra), so the alignment half cannot be checked."
    fmt = {c: (lambda x: f"{x:+.3f}") for c in ("align soap", "align adam", "align diff")}
    fmt.update({"error soap": _sci, "error adam": _sci, "error ratio": lambda x: f"{x:.3g}"})
    return (Finding(title, txt, "claim-soap", verdict),
            Table("Evidence for claim (a): SOAP against Adam", df, fmt, "claim-soap",
                  "align: median over a run's evaluations (after step 0) of align_intra, median over seeds; "
                  "error: median final rel. L2 over seeds.", collapsed=len(df) > 40))


def _claim_newton(ctx: Context) -> tuple[Finding, Table | None]:
    title = ("Claim (b): exact Newton tends to end at saddle points, saddle-free Newton and quasi-Newton do not "
             "(arXiv 2510.11987)")
    s = ctx.summaries
    if s.empty or "stationary_label" not in s or not s["stationary_label"].notna().any():
        return Finding(title, "Not enough data: no run carries a stationary-point classification "
                              "(stationary_label).", "claim-newton", "not enough data"), None
    s = s[s["stationary_label"].notna() & (s["status"] == "ok")]
    group = np.where(s["optimizer"] == "newton", "exact Newton",
                     np.where(s["optimizer"] == "saddle-free-newton", "saddle-free Newton",
                              np.where(s["optimizer"].map(_opt_family) == "quasi-newton", "quasi-Newton", "")))
    s = s.assign(group=group)
    s = s[s.group != ""]
    rows = []
    for gname in ("exact Newton", "saddle-free Newton", "quasi-Newton"):
        g = s[s.group == gname]
        if g.empty:
            continue
        rows.append({"optimizers": gname, "runs": len(g), "saddle": int((g["stationary_label"] == "saddle").sum()),
                     "minimum": int((g["stationary_label"] == "minimum").sum()),
                     "other": int((~g["stationary_label"].isin(["saddle", "minimum"])).sum()),
                     "saddle share": float((g["stationary_label"] == "saddle").mean()),
                     "median negative eigenvalues": float(g["hess_neg_count"].astype(float).where(
                         g["hess_neg_count"].astype(float) >= 0).median()) if "hess_neg_count" in g else np.nan,
                     "median min. eigenvalue": float(g["hess_min_eig"].astype(float).median())
                     if "hess_min_eig" in g else np.nan})
    if not rows or rows[0]["optimizers"] != "exact Newton" or len(rows) < 2:
        return Finding(title, "Not enough data: the classified runs lack exact Newton or a comparison group "
                              "(saddle-free Newton, quasi-Newton).", "claim-newton", "not enough data"), \
            (Table("Evidence for claim (b): stationary points", pd.DataFrame(rows), anchor="claim-newton")
             if rows else None)
    from scipy.stats import fisher_exact

    df = pd.DataFrame(rows)
    n0 = df.iloc[0]
    parts, verdicts = [], []
    for _, r in df.iloc[1:].iterrows():
        p = float(fisher_exact([[n0.saddle, n0.runs - n0.saddle], [r.saddle, r.runs - r.saddle]],
                               alternative="greater").pvalue)
        parts.append(f"{r.optimizers} {r.saddle}/{r.runs} ({100 * r['saddle share']:.0f} %, one-sided Fisher p "
                     f"{S._p(p)[2:]})")
        verdicts.append("supported" if p <= S.ALPHA else ("refuted" if r["saddle share"] >= n0["saddle share"] else
                                                           "not significant"))
    if n0.runs < 3:
        verdict = "not enough data"
    elif all(v == "supported" for v in verdicts):
        verdict = "supported"
    elif all(v == "refuted" for v in verdicts):
        verdict = "refuted"
    elif "supported" in verdicts:
        verdict = "mixed"
    else:
        verdict = "not significant" if "not significant" in verdicts else "refuted"
    txt = (f"Exact Newton ends at a saddle in {n0.saddle} of {n0.runs} ok runs ({100 * n0['saddle share']:.0f} %; "
           f"median {n0['median negative eigenvalues']:.3g} negative Hessian eigenvalues, median smallest eigenvalue "
           f"{n0['median min. eigenvalue']:.3g}); " + "; ".join(parts) + f". Verdict: {verdict}.")
    fmt = {"saddle share": _pct, "median negative eigenvalues": lambda x: f"{x:.3g}",
           "median min. eigenvalue": lambda x: f"{x:.3g}"}
    return (Finding(title, txt, "claim-newton", verdict),
            Table("Evidence for claim (b): stationary points at the end of training", df, fmt, "claim-newton",
                  "Ranked runs with status ok and a stationary-point classification (pinnarena.stationary)."))


_PREDICTED = {"persistent-conflict": ("adapter", "surgery"), "magnitude-imbalance": ("weighting",),
              "low-conflict": ("none",)}


def _claim_regime(ctx: Context) -> tuple[Finding, Table | None]:
    title = "Claim (c): the measured conflict regime predicts which remedy helps (arXiv 2605.10136)"
    s = ctx.summaries
    if s.empty or "regime" not in s or not s["regime"].notna().any():
        return Finding(title, "Not enough data: no run measured a conflict regime (remedy auto).", "claim-regime",
                       "not enough data"), None
    reg = s.dropna(subset=["regime"]).groupby("problem")["regime"].agg(lambda x: x.astype(str).value_counts().index[0])
    rows = []
    for (study, prob), g in ctx.board.groupby(["study", "problem"], sort=True):
        if prob not in reg.index:
            continue
        g = g[(g.remedy != "auto") & np.isfinite(g.rel_l2_median.astype(float))]
        opts = g.groupby("optimizer")["remedy"].nunique()
        opts = opts[opts >= 3]  # a remedy comparison needs several remedies with one optimizer
        for opt in opts.index:
            h = g[g.optimizer == opt].sort_values("rel_l2_median")
            best = h.iloc[0]
            classes = [_remedy_class(r) for r in h["remedy"]]
            pred = _PREDICTED.get(reg[prob], ())
            auto = ctx.board[(ctx.board.study == study) & (ctx.board.problem == prob) & (ctx.board.optimizer == opt)
                             & (ctx.board.remedy == "auto")]
            rows.append({"study": study, "problem": prob, "optimizer": opt, "regime": reg[prob],
                         "predicted": " / ".join(pred) or "?", "best remedy": best.remedy,
                         "its class": _remedy_class(best.remedy),
                         "hit": "yes" if _remedy_class(best.remedy) in pred else "",
                         "chance": float(np.mean([c in pred for c in classes])) if classes else np.nan,
                         "auto / best error": float(auto.rel_l2_median.iloc[0] / best.rel_l2_median)
                         if len(auto) and best.rel_l2_median > 0 else np.nan})
    if not rows:
        return Finding(title, "Not enough data: regimes are measured, but no problem with a regime has a remedy "
                              "comparison (at least three remedies with one optimizer).", "claim-regime",
                       "not enough data"), None
    from scipy.stats import binomtest

    df = pd.DataFrame(rows)
    hits, n = int((df["hit"] == "yes").sum()), len(df)
    chance = float(df["chance"].mean())
    p = float(binomtest(hits, n, min(max(chance, 1e-9), 1 - 1e-9), alternative="greater").pvalue) if n else 1.0
    verdict = ("not enough data" if n < 3 else "supported" if p <= S.ALPHA else
               ("refuted" if hits / n <= chance else "not significant"))
    auto = df["auto / best error"].dropna()
    txt = (f"On {hits} of {n} (problem, optimizer) cells the best remedy belongs to the class the measured regime "
           f"predicts (persistent conflict → adapters or surgery, magnitude imbalance → reweighting, low conflict → "
           f"none); by chance {100 * chance:.0f} % would (binomial p {S._p(p)[2:]}). Verdict: {verdict}.")
    if len(auto):
        txt += f" The diagnostic-first remedy auto ends at a median {auto.median():.3g}× the best remedy's error."
    return (Finding(title, txt, "claim-regime", verdict),
            Table("Evidence for claim (c): regime against the best remedy", df,
                  {"chance": _pct, "auto / best error": lambda x: f"{x:.3g}"}, "claim-regime",
                  "Regime: the most common one over the problem's auto runs; best remedy by median final error.",
                  collapsed=len(df) > 40))


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
            f"{meta['commit']}, pinnarena {meta['pinnarena']}.")


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


def _curve_frame(curves: pd.DataFrame, summaries: pd.DataFrame) -> pd.DataFrame:
    if curves.empty or summaries.empty or "run_id" not in curves:
        return pd.DataFrame()
    cols = ["run_id", "problem", "optimizer", "remedy", "seed"] + (["study"] if "study" in summaries else [])
    meta = summaries[cols].drop_duplicates("run_id")
    df = curves.merge(meta, on="run_id")
    if "study" not in df:
        df["study"] = "default"
    df["study"] = df["study"].fillna("default")
    df["method"] = [method_name(o, r) for o, r in zip(df["optimizer"], df["remedy"])]
    return df


def _seed_band(sub: pd.DataFrame, x: str, n: int = 60):
    """Per seed, log10 error interpolated on a common x grid; median, min and max over seeds."""
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
    ok = np.isfinite(med)
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
    from pinnarena.report_html import html

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


__all__ = ["render", "write_report", "publish", "build", "markdown", "figures", "figure_objects", "Context",
           "legend_outside_axes", "empty_panels", "load_board"]
