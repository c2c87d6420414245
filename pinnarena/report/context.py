"""The shared state of one report: :class:`Context`.

Contract: built once from the leaderboard, the summaries and the curves; holds the ranked and
tuning rows, per-run times-to-target, each study's ranking (score intervals, significance
groups) and the method colours. Tables, findings and figures read it and never change it.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from pinnarena import stats as S
from pinnarena.aggregate import method_name, ranked_rows, time_to_target, tuning_rows
from pinnarena.scoring import BASELINE, pivot, score_board

from .model import BASE_COLOUR, NEW_COLOUR, TOP_N


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
