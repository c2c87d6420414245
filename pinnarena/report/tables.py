"""The report's tables: rankings, against the baseline, per problem, targets, failures, tuning,
environment and conflict regimes.

Contract: each function takes the :class:`~pinnarena.report.context.Context` (or a frame) and
returns a :class:`~pinnarena.report.model.Table` (``None`` where there is nothing to show);
raw values in ``data``, formatting in ``fmt``. No figures, no file output.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from pinnarena import stats as S
from pinnarena.aggregate import method_name
from pinnarena.scoring import BASELINE, MAX_RATIO

from .context import Context
from .model import Table, _f3, _family, _g3, _interval, _pct, _sci, _slug, _ttt


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
             "target_provenance", "target_literature", "ttt_seconds", "ttt_grad_evals", "target_hit_rate", "n_ok", "n_diverged",
             "n_timeout", "n_error", "params_differ", "cpu_models", "problem_cpu_models"}


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
    cols = [c for c in ("suite", "study", "device", "cpu_model", "precision", "jax_version", "pinnarena_version",
                        "git_commit")
            if c in summaries]
    if summaries.empty or not cols:
        return Table("Environment", pd.DataFrame(columns=["runs"]), anchor="environment")
    s = summaries[cols].astype(str).fillna("—")
    df = s.groupby(cols, sort=True).size().reset_index(name="runs")
    return Table("Environment", df, anchor="environment",
                 note="Every run records its device, CPU model, versions, git commit and the full resolved config "
                      "(its hash is the run id). The CPU model matters: the bits of a run and what a time budget buys "
                      "depend on it (pinnarena.cpu_model).")


# ----------------------------------------------------------------------------------- regimes
PAPER_REGIME = ("multi-physics K = 5, 6 and inverse K = 3: magnitude imbalance dominates "
                "(Kim & N'guessan, arXiv 2605.10136)")


PAPER_PROFILE_POINTS = 50  # half the paper's 100 profile points (every 10 of 1000 steps)


def regime_sources(summaries: pd.DataFrame, curves: pd.DataFrame) -> tuple[pd.DataFrame, str, bool]:
    """The held-out runs the regime table counts, how to say so, and whether they profile like the
    paper.

    The paper's measurement (arXiv 2605.10136) is a profile of the first 1000 unmodified steps
    (``pinnarena.regime.PROFILE_STEPS``) sampled every 10. Where some runs that start unmodified
    (remedies ``none``, ``auto``) sample that whole window densely (≥ ``PAPER_PROFILE_POINTS``
    curve rows in it, and curves past its end), only they count: config/cpu.yaml's regimes study,
    for instance, not the time-budgeted runs that end before step 1000 or evaluate once a second.
    Otherwise the diagnostic-first (``auto``) runs count when there are any (profiles that may be
    shorter), else every unmodified run."""
    s = summaries[summaries["study"].astype(str) != "tuning"] if "study" in summaries else summaries
    s = s[s["remedy"].astype(str).isin(["none", "auto"])] if "remedy" in s else s.iloc[:0]
    if not s.empty and {"run_id", "step"} <= set(curves.columns):
        from pinnarena.regime import PROFILE_STEPS  # noqa: PLC0415

        c = curves[curves["run_id"].isin(s["run_id"])]
        points = c[(c["step"] > 0) & (c["step"] <= PROFILE_STEPS)].groupby("run_id").size()
        last = c.groupby("run_id")["step"].max()
        full = set(points[points >= PAPER_PROFILE_POINTS].index) & set(last[last >= PROFILE_STEPS].index)
        if full:
            return s[s["run_id"].isin(full)], (f"the {len(full)} held-out runs whose curves sample the paper's whole "
                                               f"{PROFILE_STEPS}-step profile (≥ {PAPER_PROFILE_POINTS} points)"), True
    auto = s[s["remedy"].astype(str) == "auto"] if "remedy" in s else s.iloc[:0]
    if not auto.empty:
        return auto, "the held-out runs of the diagnostic-first remedy (auto), from their own (possibly shorter) profiles", False
    return s, "every held-out run without a remedy, from its curves over the profile window (possibly coarse)", False


def regime_counts(summaries: pd.DataFrame, curves: pd.DataFrame) -> pd.DataFrame | None:
    """The regime table by problem kind and K (``pinnarena.regime.regime_table`` over the runs of
    :func:`regime_sources`), or, when no run's curves have a profile point, counts of the
    summaries' ``regime`` column (one count per run); None when neither is there."""
    from pinnarena.regime import regime_table  # noqa: PLC0415

    if not summaries.empty and {"grad_norm_ratio", "step"} <= set(curves.columns):
        t = regime_table(regime_sources(summaries, curves)[0], curves, remedies=None)
        if not t.empty:
            return t
    if summaries.empty or "regime" not in summaries or not summaries["regime"].notna().any():
        return None
    s = summaries.dropna(subset=["regime"])
    t = s.groupby(["kind", "n_losses", "regime"]).size().unstack("regime", fill_value=0).reset_index()
    t = t.rename(columns={"n_losses": "K"})
    t.columns.name = None
    return t


def _most_common_by_problem(runs: pd.DataFrame) -> pd.Series:
    return runs.groupby("problem")["regime"].agg(lambda x: x.astype(str).value_counts().index[0])


def problem_regimes(summaries: pd.DataFrame, curves: pd.DataFrame) -> tuple[pd.Series, str]:
    """Each problem's most common regime over the runs of :func:`regime_sources` (classified from
    their curves), else over the summaries' ``regime`` column (auto's own classification); with a
    phrase that says which."""
    if not summaries.empty and {"grad_norm_ratio", "step"} <= set(curves.columns):
        from pinnarena.regime import run_regimes  # noqa: PLC0415

        runs, said, paper = regime_sources(summaries, curves)  # else auto's own classification is the one to read
        r = run_regimes(runs, curves, remedies=None) if not runs.empty and (paper or "regime" not in summaries) \
            else pd.DataFrame()
        if not r.empty:
            return _most_common_by_problem(r), said
    if summaries.empty or "regime" not in summaries or not summaries["regime"].notna().any():
        return pd.Series(dtype=object), "no run measured a regime"
    return _most_common_by_problem(summaries.dropna(subset=["regime"])), "the auto runs' own classification"


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
    said = []
    for label, d in (("multi-physics K = 5", _dominant(t, "multiphysics", (5,))),
                     ("multi-physics K = 6", _dominant(t, "multiphysics", (6,))),
                     ("inverse K = 3", _dominant(t, "inverse", (3,)))):
        if d is None:
            said.append(f"{label}: not measured here")
        else:
            agree = "magnitude" in d
            said.append(f"{label}: most runs are {d} ({'agrees' if agree else 'disagrees'})")
    verdict = "; ".join(said)
    runs = regime_sources(ctx.summaries, ctx.curves)[1]
    return Table("Conflict regimes by problem kind and K", t, anchor="regimes",
                 note=f"Runs counted: {runs}. The paper: {PAPER_REGIME}. Measured here: {verdict}."), verdict
