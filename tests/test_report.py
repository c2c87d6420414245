"""The report (tables, figures, HTML, publish) from a small synthetic results set, Parquet only."""
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
from pinnarena.report import FIGURES, build, markdown, regime_figure, render
from pinnarena.results import SUMMARY_SCHEMA, summary_table, write_parquet_atomic

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
    _, out, paths, board, _ = rendered
    assert {p.name for p in paths} == {"leaderboard.md", "index.html", *(f"{n}.png" for n in FIGURES), "regime_map.png"}
    for n in FIGURES:
        png = (out / "figures" / f"{n}.png").read_bytes()
        assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5000, n
    assert regime_figure(board.drop(columns=["regime"]), out / "nope.png") is None
    assert not (out / "nope.png").exists()


def test_markdown_tables(rendered):
    _, out, _, _, _ = rendered
    md = (out / "leaderboard.md").read_text()
    assert "Suite: synthetic" in md and "runs: 24" in md and "not ok: 2" in md
    for heading in ("## Targets", "## Overall ranking", "## Rankings by kind", "### forward — study main",
                    "### inverse — study main", "## Per problem", "### heat-1d (main)", "## Failures"):
        assert heading in md, heading
    # failures table: both failed runs with their status and (escaped) message
    fail = md.split("\n## Failures\n")[1]
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
    ranking = dict(rep.sections)["Overall ranking"][0].data
    assert ranking["score (s)"].is_monotonic_decreasing
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
    assert page.count('<table class="sortable">') == sum(len(t) for _, t in build(*rendered[3:5]).sections)
    for k in ("suite: <b>synthetic", "commit: <b>0123456789ab", "devices: <b>cpu:0", "runs: <b>24", "failures (not ok): <b>2"):
        assert k in page, k


def test_report_tables_are_deterministic(rendered):
    root, out, paths, board, s = rendered
    _, c = load_results(root)
    rep = build(leaderboard(s, c, {"heat-1d": {"rel_l2": 0.3, "provenance": "unit test"}}), s)
    rep.figures = {p.stem: p for p in paths if p.suffix == ".png"}
    assert markdown(rep) == (out / "leaderboard.md").read_text()


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
