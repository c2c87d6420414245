"""The report (tables, figures, HTML, publish) from synthetic results, Parquet only.

Two fixtures: ``synthetic_results`` (per-run Parquet files, two problems, four methods: the CLI,
publish and failure paths) and :mod:`report_fixture` (five problems, two studies, tuning trials,
regimes and stationary points: page order, findings and the figures' legends and panels).
"""
import math
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from pinnarena.aggregate import leaderboard, load_results
from pinnarena.cli import main
from pinnarena.report import (FIGURES, Context, build, empty_panels, figure_objects, legend_outside_axes, markdown,
                              regime_fig, render)
from pinnarena.results import SUMMARY_SCHEMA, summary_table, write_parquet_atomic
from report_fixture import make_results

PROBLEMS = {"heat-1d": "forward", "inv-param": "inverse"}
METHODS = {("adam", "none"): (1.0, 100), ("soap", "none"): (3.0, 100), ("adam", "adapter"): (2.0, 130),
           ("newton", "none"): (0.5, 100)}


def synthetic_results(root: Path, *, extras: bool = True) -> Path:
    """RESULTS/runs/<study>/<problem>/<opt>/<remedy>/seed<s>/{summary,curves}.parquet.

    newton + none fails on heat-1d: seed 0 diverges, seed 1 errors (message with a '|'); the
    adapter has more parameters than the baseline; with ``extras`` the summaries carry
    stationary-point and regime fields.
    """
    rng = np.random.default_rng(0)
    for prob, kind in PROBLEMS.items():
        for (opt, rem), (rate, n_params) in METHODS.items():
            for seed in range(3):
                rid = f"{prob}-{opt}-{rem}-{seed}"
                status, err = "ok", ""
                if prob == "heat-1d" and opt == "newton" and seed < 2:
                    status, err = ("diverged", "loss is nan at step 30") if seed == 0 else ("error", "boom | linalg")
                steps = np.arange(0, 60, 10)
                e = np.exp(-rate * steps / 25.0) * (1.0 + 0.1 * seed)
                if status != "ok":
                    steps, e = steps[:4], e[:4].copy()
                    e[-1] = np.nan
                final = float(e[-1])
                row = dict(run_id=rid, problem=prob, family=prob.split("-")[0], kind=kind, n_losses=2, optimizer=opt,
                           remedy=rem, seed=seed, suite="synthetic", study="main", steps=50, steps_done=int(steps[-1]),
                           grad_evals=int(steps[-1]) * (2 if opt == "newton" else 1), fun_evals=int(steps[-1]),
                           train_seconds=steps[-1] * 0.01, rel_l2=final, rel_l2_best=float(np.nanmin(e)),
                           status=status, error=err, n_params=n_params, device="cpu:0", git_commit="0123456789abcdef",
                           pinnarena_version="0.1.0")
                more = dict(stationary_label="saddle" if opt == "newton" else "minimum",
                            hess_min_eig=-0.5 if opt == "newton" else 0.1,
                            regime="persistent" if prob == "heat-1d" else "transient") if extras else {}
                # fields the summary schema has go in the row; the others become extra columns
                row.update({k: v for k, v in more.items() if k in SUMMARY_SCHEMA.names})
                table = summary_table(row)
                for k, v in more.items():
                    if k not in SUMMARY_SCHEMA.names:
                        table = table.append_column(k, pa.array([v]))
                d = root / "runs" / "main" / prob / opt / rem / f"seed{seed}"
                write_parquet_atomic(table, d / "summary.parquet")
                write_parquet_atomic(pd.DataFrame({
                    "run_id": rid, "step": steps, "train_seconds": steps * 0.01 * (1 + 0.5 * (opt == "soap")),
                    "grad_evals": steps * (2 if opt == "newton" else 1), "loss_total": e ** 2, "rel_l2": e,
                    "align_intra": rng.uniform(-1, 1, len(steps)), "align_inter": rng.uniform(-1, 1, len(steps)),
                    "grad_norm_ratio": rng.uniform(0, 2, len(steps))}), d / "curves.parquet")
    return root


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    root = synthetic_results(tmp_path_factory.mktemp("results"))
    s, c = load_results(root)
    board = leaderboard(s, c, {"heat-1d": {"rel_l2": 0.3, "provenance": "unit test"}})
    out = tmp_path_factory.mktemp("report")
    paths = render(board, s, c, out)
    return root, out, paths, board, s


def test_outputs_and_figures(rendered):
    _, out, paths, board, s = rendered
    names = {p.name for p in paths}
    assert {"leaderboard.md", "index.html", *(f"{n}.png" for n in FIGURES), "regime_map.png"} <= names
    for n in FIGURES:
        png = (out / "figures" / f"{n}.png").read_bytes()
        assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5000, n
        assert (out / "figures" / f"{n}.svg").read_text().lstrip().startswith("<?xml")
    assert regime_fig(Context(board, s.drop(columns=["regime"])))[0] is None


def test_markdown_tables(rendered):
    _, out, _, _, _ = rendered
    md = (out / "leaderboard.md").read_text()
    assert "Suite: synthetic" in md and "runs: 24" in md and "not ok: 2" in md
    order = ["## Ranking", "## Rankings by kind", "### forward — study main", "### inverse — study main",
             "## Per problem", "### heat-1d (main)", "## Figures", "## Findings", "## Appendix: targets",
             "## Appendix: failures", "## Appendix: tuning trials", "## Appendix: environment"]
    at = [md.find(h) for h in order]
    assert all(i >= 0 for i in at) and at == sorted(at), dict(zip(order, at))
    # failures table: both failed runs with their status and (escaped) message
    fail = md.split("\n## Appendix: failures\n")[1]
    assert re.search(r"\| main \| heat-1d \| newton \+ none \| 0 \| diverged \| loss is nan at step 30 \|", fail)
    assert re.search(r"\| main \| heat-1d \| newton \+ none \| 1 \| error \| boom \\\| linalg \|", fail)
    heat = md.split("### heat-1d (main)")[1].split("###")[0]
    newton = next(line for line in heat.splitlines() if line.startswith("| newton + none"))
    assert "| 1 / 1 / 0 / 1 |" in newton and "| 67 % |" in newton  # status counts and failure rate
    adapter = next(line for line in heat.splitlines() if line.startswith("| adam + adapter"))
    assert adapter.rstrip().endswith("| minimum | 0.1 | persistent |") and "| 130 | yes |" in adapter
    header = next(line for line in heat.splitlines() if line.startswith("| method"))
    assert "stationary_label" in header and "hess_min_eig" in header and "regime" in header
    assert "unit test" in md and "derived: median final error of adam + none" in md  # both target kinds
    assert "![Performance profiles" in md


def test_ranking_is_by_score(rendered):
    _, _, _, board, s = rendered
    rep = build(board, s)
    ranking = rep.section("Ranking").tables[0].data
    assert ranking["score (s)"].is_monotonic_decreasing
    assert ranking["rank"].tolist() == [1, 2, 3, 4]
    assert all(re.fullmatch(r"\d\.\d{3} – \d\.\d{3}", c) for c in ranking["score 95 % CI (s)"])
    # heat-1d target 0.3: adam (rate 1) hits at step 40 (0.4 s), soap (rate 3) at step 20 with 1.5× slower
    # steps (0.3 s), the adapter (rate 2) at step 20 (0.2 s); newton fails (median over seeds is a miss)
    heat = board[board.problem == "heat-1d"].set_index("method")
    assert heat.loc["soap + none", "ttt_seconds"] == pytest.approx(0.3)
    assert heat.loc["adam + none", "ttt_seconds"] == pytest.approx(0.4)
    assert math.isinf(heat.loc["newton + none", "ttt_seconds"])
    assert heat.loc["adam + adapter", "ttt_seconds"] == pytest.approx(0.2)
    assert ranking.iloc[0]["method"] == "adam + adapter"


def test_html_is_self_contained(rendered):
    _, out, paths, _, _ = rendered
    page = (out / "index.html").read_text()
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:|//)""", page)
    assert "<link" not in page and "@import" not in page
    imgs = re.findall(r'<img [^>]*src="([^"]+)"', page)
    assert len(imgs) == len(paths) - 2 and all(i.startswith("data:image/png;base64,") for i in imgs)
    assert page.count('<table class="sortable">') == len(build(*rendered[3:5]).tables())
    for k in ("suite: <b>synthetic", "commit: <b>0123456789ab", "devices: <b>cpu:0", "runs: <b>24", "failures (not ok): <b>2"):
        assert k in page, k


def test_report_tables_are_deterministic(rendered):
    root, out, paths, board, s = rendered
    _, c = load_results(root)
    a = build(leaderboard(s, c, {"heat-1d": {"rel_l2": 0.3, "provenance": "unit test"}}), s, c)
    b = build(board, s, c)
    assert markdown(a) == markdown(b)
    assert markdown(a).split("## Findings")[0].split("## Ranking")[1] in (out / "leaderboard.md").read_text()


def test_cli_aggregate_report_publish(tmp_path):
    root = synthetic_results(tmp_path / "results", extras=False)
    targets = tmp_path / "targets.yaml"
    targets.write_text("suites:\n  synthetic:\n    heat-1d: {rel_l2: 0.3, provenance: cli test}\n")
    assert main(["aggregate", str(root), "--targets", str(targets)]) == 0
    lb = pd.read_parquet(root / "leaderboard.parquet")
    assert set(lb["target_provenance"]) >= {"cli test"}
    pub, rep = tmp_path / "published", tmp_path / "report"
    assert main(["publish", str(root), "--out", str(pub), "--report", str(rep)]) == 0
    for f in ("summaries.parquet", "curves.parquet", "leaderboard.parquet"):
        assert (pub / f).stat().st_size > 0
    assert len(pd.read_parquet(pub / "summaries.parquet")) == 24
    md = (rep / "leaderboard.md").read_text()
    assert "cli test" in md and (rep / "index.html").exists()
    assert not (rep / "figures" / "regime_map.png").exists()  # no regime column: figure omitted
    # no `regime` column, but the `none` runs' curves carry the pairwise cosines, from which
    # pinnarena.regime.regime_table classifies each run: the regime appendix is there
    assert "## Appendix: conflict regimes" in md
    assert "regime" not in md.split("## Per problem")[1].split("\n|")[1]
    # the snapshot alone re-renders the same report
    shutil.rmtree(root)
    rep2 = tmp_path / "report2"
    assert main(["report", str(pub), "--out", str(rep2)]) == 0
    assert (rep2 / "leaderboard.md").read_text() == md


def test_empty_results_still_write_every_declared_output(tmp_path):
    (tmp_path / "runs").mkdir()
    paths = main(["report", str(tmp_path), "--out", str(tmp_path / "rep")])
    assert paths == 0
    assert "No runs found." in (tmp_path / "rep" / "leaderboard.md").read_text()
    assert (tmp_path / "rep" / "index.html").exists()
    for n in FIGURES:  # the Snakemake report rule declares these
        assert (tmp_path / "rep" / "figures" / f"{n}.png").stat().st_size > 0


# ------------------------------------------------------------------- the full synthetic suite
@pytest.fixture(scope="module")
def suite():
    s, c = make_results()
    board = leaderboard(s, c)
    ctx = Context(board, s, c)
    return s, c, board, ctx, build(board, s, c, ctx=ctx)


def test_claim_b_reads_negative_curvature_at_the_end_not_only_stationary_saddles(suite):
    """arXiv 2510.11987's claim as the issue states it: negative Hessian eigenvalues at the final
    point. Newton runs that end with negative curvature but a gradient too large to call them
    stationary ('not-stationary') count for the claim; their strict 'saddle' count is reported too."""
    from pinnarena.report.analysis import _claim_newton

    s, c, board, _, _ = suite
    s = s.copy()
    newton = s["stationary_label"].notna() & (s["optimizer"] == "newton") & (s["status"] == "ok")
    s.loc[newton, "stationary_label"] = "not-stationary"  # negative eigenvalues kept (hess_neg_count 4)
    finding, table = _claim_newton(Context(board, s, c))
    assert finding.verdict == "supported", finding.text
    assert "at a saddle (a stationary point with negative curvature) in 0 of" in finding.text
    first = table.data.iloc[0]
    assert first["optimizers"] == "exact Newton" and first["negative curvature"] > first["runs"] / 2
    assert first["saddle"] == 0
    s.loc[newton, "hess_neg_count"] = 0  # no negative curvature either: nothing supports the claim
    assert _claim_newton(Context(board, s, c))[0].verdict in ("refuted", "not significant")


def test_claim_b_leaves_out_runs_that_never_left_their_initial_point(suite):
    """A Newton run that accepted no step ends at its initial weights, whose negative curvature is
    not where the method went: such runs are counted as 'never moved' and not as evidence."""
    from pinnarena.report.analysis import _claim_newton

    s, c, board, _, _ = suite
    ranked = Context(board, s, c).summaries
    newton = ranked.loc[ranked["stationary_label"].notna() & (ranked["optimizer"] == "newton")
                        & (ranked["status"] == "ok"), "run_id"]
    assert len(newton) >= 3
    c = c.copy()
    frozen = c["run_id"].isin(newton)
    first = c[frozen].sort_values("step").groupby("run_id")["loss_total"].transform("first")
    c.loc[frozen, "loss_total"] = first  # the loss never changes: no step was accepted
    finding, table = _claim_newton(Context(board, s, c))
    row = table.data.iloc[0]
    assert row["optimizers"] == "exact Newton" and row["never moved"] == len(newton) and row["runs"] == 0
    assert finding.verdict == "not enough data" and "never" in finding.text + table.title


def test_tuning_rows_are_not_ranked(suite):
    s, _, board, _, rep = suite
    assert (s["study"] == "tuning").sum() > 0
    assert set(board["study"]) == {"optimizers", "remedies"}
    assert board["n_runs"].max() == 3  # the held-out seeds only
    tuning = rep.section("Appendix: tuning trials").tables[0].data
    assert set(tuning["trials"]) == {4} and set(tuning["chosen trial"]) == {1}
    assert "4 trials per (problem, method) cell on tuning seed(s) 1000" in rep.summary
    assert "180 ranked runs (1 not ok) and 240 tuning-trial runs" in rep.summary


def test_ranking_first_with_intervals_and_groups(suite):
    _, _, _, _, rep = suite
    assert [s.heading for s in rep.sections][:3] == ["Ranking", "Rankings by kind", "Per problem"]
    first = rep.sections[0].tables[0]
    assert first.anchor == "ranking-optimizers" and first.data["method"].iloc[0] == "lbfgs + none"
    assert "Friedman test over 5 problems and 7 methods" in first.note
    assert first.data["group"].str.fullmatch(r"[a-z]+").all()
    assert first.data.set_index("method").loc["lbfgs + none", "group"] != \
        first.data.set_index("method").loc["newton + none", "group"]
    vs = rep.sections[0].tables[1]
    assert vs.anchor == "vsbase-optimizers" and "lbfgs + none" in set(vs.data["method"])
    heat = next(t for t in rep.section("Per problem").tables if t.anchor == "problem-optimizers-heat").data
    assert heat["tie"].iloc[0] == "best" and heat["95 % CI"].str.contains(" – ").all()


def test_findings_link_their_tables(suite):
    _, _, _, _, rep = suite
    anchors = {t.anchor for t in rep.tables()}
    assert rep.findings and all(f.anchor in anchors for f in rep.findings), [f.anchor for f in rep.findings]
    by = {f.title.split(":")[0]: f for f in rep.findings}
    assert by["Claim (b)"].verdict == "supported" and "Exact Newton ends with negative Hessian eigenvalues" in by["Claim (b)"].text
    assert by["Claim (a)"].verdict in ("supported", "not significant")  # 5 problems: p ≥ 0.0625
    assert "5 of 5" in by["Claim (a)"].text
    assert by["Claim (c)"].verdict in ("supported", "not significant")
    never = next(f for f in rep.findings if f.title == "Never better than the baseline (optimizers)")
    assert "muon + none" in never.text and "newton + none" in never.text and "lbfgs" not in never.text
    second = next(f for f in rep.findings if f.title.startswith("Second-order"))
    assert "5 of 5 problems" in second.text
    winner = next(f for f in rep.findings if f.title == "Winner on inverse (optimizers)")
    assert winner.text.startswith("lbfgs + none ranks first") and "margin" in winner.text
    regimes = rep.section("Appendix: conflict regimes").tables[0]
    assert "magnitude imbalance dominates" in regimes.note and "agrees" in regimes.note


def test_figures_have_outside_legends_and_no_empty_panels(suite):
    import matplotlib.pyplot as plt

    _, _, _, ctx, _ = suite
    figs = figure_objects(ctx)
    assert set(FIGURES) | {"regime_map", "performance_profiles_all"} <= set(figs)
    try:
        for name, (fig, _) in figs.items():
            assert legend_outside_axes(fig), name
            assert not empty_panels(fig), (name, empty_panels(fig))
            if not name.endswith("_all"):  # at most ~10 methods per panel outside the appendix figures
                for lg in fig.legends + [ax.get_legend() for ax in fig.axes if ax.get_legend()]:
                    assert len(lg.get_texts()) <= 12, name
                if name.startswith("tuning"):
                    assert all(len(ax.get_yticklabels()) <= 12 for ax in fig.axes), name
            if name.startswith("error_vs"):
                assert all(ax.get_yscale() == "log" for ax in fig.axes if ax.axison), name
    finally:
        for fig, _ in figs.values():
            plt.close(fig)


def test_single_problem_panels_are_skipped_and_said(suite):
    s, c, board, _, _ = suite
    one = board[(board.problem == "heat") | (board.study == "optimizers")]
    one = one[~((one.study == "remedies") & (one.problem != "heat"))]
    ctx = Context(one, s, c)
    fig, note = figure_objects(ctx)["performance_profiles"]
    assert "Skipped" in note and "remedies" in note
    assert len([ax for ax in fig.axes if ax.axison]) == 2  # only the optimizers study's row


def test_a_median_time_to_target_of_only_misses_is_named_not_nan():
    from pinnarena.report.analysis import _seconds_or_missed

    assert _seconds_or_missed(pd.Series([np.inf, np.inf])) == "every one missed"
    assert _seconds_or_missed(pd.Series([3.0, np.inf, 5.0])) == "4 s"


def test_best_accuracy_per_problem_is_the_lowest_median_of_any_study(suite):
    _, _, board, _, rep = suite
    f = next(f for f in rep.findings if f.title == "Best accuracy by problem")
    table = next(t for t in rep.tables() if t.anchor == "best-accuracy").data
    assert f.anchor == "best-accuracy" and set(table["problem"]) == set(board["problem"])
    for _, r in table.iterrows():
        cells = board[board["problem"] == r["problem"]]
        assert r["median rel. L2"] == cells["rel_l2_median"].min()
        assert r["reached"] == ("yes" if r["median rel. L2"] <= r["target"] else "no")
        assert r["budget"].endswith((" s", " steps"))
    hit = (table["reached"] == "yes").sum()
    assert f"{hit} of {len(table)} problems with a target reach it" in f.text


def test_a_missed_literature_error_is_diagnosed_from_the_end_of_the_curves():
    """A run still falling at the end misses for lack of budget, and the extrapolation is the
    slope's; a run flat at the end does not."""
    from pinnarena.report.accuracy import diagnosis, end_trend

    t = np.linspace(0, 60, 61)
    falling = pd.DataFrame({"run_id": "a", "train_cpu_seconds": t, "train_seconds": 2 * t,
                            "rel_l2": 10.0 ** (-1 - t / 30)})  # 2 decades a minute, ends at 1e-3
    flat = pd.DataFrame({"run_id": "b", "train_cpu_seconds": t, "train_seconds": t,
                         "rel_l2": np.where(t < 30, 10.0 ** (-1 - t / 15), 1e-3)})
    clock = lambda c: pd.DataFrame({"run_id": ["a", "b"], "budget_clock": [c, c]})  # noqa: E731
    s_cpu = end_trend(falling, clock("cpu"))
    assert s_cpu == pytest.approx(-2.0)
    assert end_trend(falling, clock("wall")) == pytest.approx(-1.0)  # the clock is the budget's
    assert end_trend(flat, pd.DataFrame()) == pytest.approx(0.0, abs=1e-9)  # only the last half counts
    d = diagnosis(1e-3, 1e-6, s_cpu, 60.0)
    assert d.startswith("budget: 3.0 decades short") and "≈ 90 s more, 2× the budget" in d
    assert diagnosis(1e-3, 1e-6, 0.0, 60.0).startswith("not the budget: 3.0 decades short and flat")
    assert diagnosis(1e-7, 1e-6, np.nan, 60.0) == "reached"
    assert np.isnan(end_trend(falling.head(2), clock("cpu")))  # too few points


def test_the_best_accuracy_table_measures_against_the_literature(tmp_path):
    s, c = make_results()
    problem = sorted(s["problem"].unique())[0]
    board = leaderboard(s, c, {problem: {"rel_l2": 1.0, "provenance": "unit", "literature": 1e-12}})
    rep = build(board, s, c)
    table = next(t for t in rep.tables() if t.anchor == "best-accuracy").data
    row = table.set_index("problem").loc[problem]
    assert row["literature"] == 1e-12 and row["× literature"] == pytest.approx(row["median rel. L2"] / 1e-12)
    assert row["diagnosis"].startswith(("budget:", "not the budget:"))
    others = table[table["problem"] != problem]
    assert others["literature"].isna().all() and (others["diagnosis"].isna()).all()
    f = next(f for f in rep.findings if f.title == "Best accuracy by problem")
    assert "Against the error the literature reports, 0 of 1 reach it" in f.text and problem in f.text


def test_seed_bands_stop_where_most_seeds_stop():
    from pinnarena.report.plots import _seed_band

    ends = {"a": 10.0, "b": 10.0, "c": 12.0}  # one seed runs on past the others
    sub = pd.concat([pd.DataFrame({"run_id": r, "train_seconds": np.linspace(0, t, 30),
                                   "rel_l2": np.geomspace(1, 1e-3, 30)}) for r, t in ends.items()])
    x, med, lo, hi = _seed_band(sub, "train_seconds")
    assert x.max() <= 10.0 + 1e-9 and x.min() == 0.0  # the last 2 s hold one seed only
    assert np.all(lo <= med) and np.all(med <= hi)
