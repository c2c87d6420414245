"""``pinnarena report NEW --baseline BASE``: a new method ranked among published runs, or refused."""
import re

import pandas as pd
import pytest

from pinnarena.cli import main
from pinnarena.compare import SettingsMismatch, check_settings
from report_fixture import make_results, write_snapshot

PROBLEMS = ["heat", "burgers", "inv-param", "mp-five"]
OPTS = ["adam", "soap", "lbfgs", "newton", "muon", "shampoo"]
REMS = ["none", "grad-norm", "auto"]


def new_method(**kw):
    return make_results(optimizers=["nesterov"], remedies=[], problems=PROBLEMS,
                        extra_methods={"nesterov": (0.05, 1.0, 1)}, seed_rng=7, **kw)


@pytest.fixture(scope="module")
def baseline(tmp_path_factory):
    s, c = make_results(optimizers=OPTS, remedies=REMS, problems=PROBLEMS)
    return write_snapshot(tmp_path_factory.mktemp("published"), s, c), s


@pytest.fixture(scope="module")
def compared(baseline, tmp_path_factory):
    base, _ = baseline
    new = write_snapshot(tmp_path_factory.mktemp("new"), *new_method())
    out = tmp_path_factory.mktemp("cmp")
    assert main(["report", str(new), "--baseline", str(base), "--out", str(out)]) == 0
    return out


def test_new_method_is_ranked_and_marked_in_tables(compared):
    md = (compared / "leaderboard.md").read_text()
    ranking = md.split("### Study optimizers")[1].split("###")[0]
    rows = [line for line in ranking.splitlines() if line.startswith("| ")][1:]
    assert len(rows) == len(OPTS) + 1
    assert re.match(r"\| 1 \| \*\*nesterov \+ none\*\* \(new\) \|", rows[0]), rows[0]  # 0.05× adam's error
    assert "New methods (compared against the baseline results): nesterov + none." in md
    assert "Comparison: 12 new ranked run(s)" in md
    heat = md.split("### heat (optimizers)")[1].split("###")[0]
    assert "**nesterov + none** (new)" in heat
    page = (compared / "index.html").read_text()
    assert page.count('<span class="badge">new</span>') >= 1 + 4 and '<tr class="new">' in page
    # the baseline's targets: the same as ranking the baseline alone
    assert "derived: median final error of adam + none over 6 run(s)" in md
    assert "the baseline has no leaderboard.parquet, so its targets are derived" in md  # and it says so


def test_new_method_is_drawn_in_the_figures(compared):
    for name in ("performance_profiles", "error_vs_time", "error_vs_grad_evals", "heatmap", "alignment_vs_error",
                 "tuning_sensitivity", "alignment"):
        svg = (compared / "figures" / f"{name}.svg").read_text()
        assert "nesterov + none (new)" in svg, name
        assert "#d6007e" in svg.lower() or name in ("heatmap", "tuning_sensitivity"), name  # the highlight colour


def test_mismatched_setting_is_refused_with_its_name(baseline, tmp_path, capsys):
    base, _ = baseline
    new = write_snapshot(tmp_path / "new", *new_method(config_over={"model.width": 32}))
    assert main(["report", str(new), "--baseline", str(base), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "refused" in err and "model.width = 32 in the new runs, 20 in the baseline" in err
    assert not (tmp_path / "out" / "index.html").exists()


def test_other_mismatches_are_named(baseline):
    _, base_s = baseline
    s, _ = new_method(config_over={"time_budget": 30.0, "precision": "float32"})
    with pytest.raises(SettingsMismatch, match=r"precision = \"float32\".*time_budget = 30.0"):
        check_settings(s, base_s)
    s, _ = new_method(tuning=False)
    with pytest.raises(SettingsMismatch, match="tuning trials per cell = none"):
        check_settings(s, base_s)
    s, _ = new_method(seeds=(0, 1))
    with pytest.raises(SettingsMismatch, match=r"held-out seeds = \[0, 1\] in the new runs, \[0, 1, 2\]"):
        check_settings(s, base_s)
    s, _ = make_results(optimizers=["nesterov"], remedies=[], problems=["poisson-hd"])
    with pytest.raises(SettingsMismatch, match="problem poisson-hd: not in the baseline"):
        check_settings(s, base_s)


def test_adhoc_study_maps_to_the_matching_baseline_study(baseline):
    _, base_s = baseline
    s, _ = new_method()
    s = s.copy()
    s.loc[s.study == "optimizers", "study"] = "adhoc"
    s.loc[s.tuning_of == "optimizers", "tuning_of"] = "adhoc"
    mapping, problems = check_settings(s, base_s)
    assert mapping == {"adhoc": "optimizers"} and problems == sorted(PROBLEMS)
    assert isinstance(s, pd.DataFrame)


def test_time_budgeted_runs_on_another_cpu_model_are_refused_unless_allowed(baseline):
    _, base_s = baseline
    s, _ = new_method()
    s = s.assign(cpu_model="Other CPU | x86_64 family 1 model 1 | avx2")
    with pytest.raises(SettingsMismatch, match=r"CPU model = Other CPU .* in the new runs, unrecorded in the baseline"):
        check_settings(s, base_s)
    mapping, problems = check_settings(s, base_s, allow_other_cpu=True)
    assert problems == sorted(PROBLEMS)
