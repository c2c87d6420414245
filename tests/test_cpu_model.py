"""The CPU signature rows record (pinnarena.cpu_model), and what the leaderboard and report make of it."""
from __future__ import annotations

import os

import pandas as pd

from pinnarena.aggregate import leaderboard
from pinnarena.cpu_model import FEATURES, cpu_model, signature

ZEN4 = {"model name": "AMD EPYC 9R14", "cpu family": "25", "model": "17",
        "flags": "fpu sse4_2 avx avx2 fma f16c avx512f avx512dq avx512bw avx512vl avx512_bf16 avx512_vnni"}


def test_the_signature_separates_what_the_model_name_hides():
    zen5 = dict(ZEN4, **{"cpu family": "26", "model": "2"})
    no512 = dict(ZEN4, flags="fpu sse4_2 avx avx2 fma f16c")
    sigs = {signature(i, "x86_64") for i in (ZEN4, zen5, no512)}
    assert len(sigs) == 3  # same model name, other generation or instruction set
    assert signature(ZEN4, "x86_64") == ("AMD EPYC 9R14 | x86_64 family 25 model 17 | "
                                         "sse4_2 avx avx2 fma f16c avx512f avx512dq avx512bw avx512vl avx512_bf16 avx512_vnni")
    assert "fpu" not in signature(ZEN4, "x86_64")  # only features that change generated code
    assert signature({}, "arm64").endswith("| arm64 | baseline ISA")


def test_this_machine_has_a_signature_and_rows_record_it(tmp_path):
    from pinnarena.config import resolve

    sig = cpu_model()
    features = sig.split(" | ")[2]
    assert sig.count(" | ") == 2 and (features == "baseline ISA" or set(features.split()) <= set(FEATURES))
    if os.path.exists("/proc/cpuinfo"):
        assert "family" in sig or "baseline" in sig
    cfg = resolve("poisson-2d-k1", steps=2, seed=0, sets={"model.width": 4, "model.depth": 1, "points_scale": 0.02,
                                                             "stationary": False})
    from pinnarena.runner import run

    row = run(cfg, tmp_path / "run")
    assert row["cpu_model"] == sig
    assert pd.read_parquet(tmp_path / "run" / "summary.parquet")["cpu_model"].iloc[0] == sig


def _rows(models):
    base = dict(problem="p", family="fam", kind="forward", n_losses=2, remedy="none", suite="unit", study="s",
                steps=20, steps_done=20, grad_evals=20, fun_evals=20, train_seconds=2.0, rel_l2=0.1, rel_l2_best=0.1,
                status="ok", error="", n_params=100, device="cpu", git_commit="abc")
    return pd.DataFrame([dict(base, run_id=f"{o}{s}", optimizer=o, seed=s, cpu_model=m)
                         for o, m in models.items() for s in range(3)])


def test_the_leaderboard_counts_the_cpu_models_behind_a_problem():
    one = leaderboard(_rows({"adam": "A", "lbfgs": "A"}))
    assert set(one["problem_cpu_models"]) == {1} and set(one["cpu_models"]) == {"A"}
    two = leaderboard(_rows({"adam": "A", "lbfgs": "B"}))
    assert set(two["problem_cpu_models"]) == {2}
    assert dict(zip(two["optimizer"], two["cpu_models"])) == {"adam": "A", "lbfgs": "B"}
    old = leaderboard(_rows({"adam": "A", "lbfgs": None}))  # rows written before the field: "unrecorded"
    assert set(old["problem_cpu_models"]) == {2} and "unrecorded" in set(old["cpu_models"])


def test_the_report_says_which_problems_mix_cpu_models():
    from pinnarena.report import build

    mixed = _rows({"adam": "A", "lbfgs": "B"})
    text = build(leaderboard(mixed), mixed).summary
    assert "Not comparable" in text and "p (s)" in text
    same = _rows({"adam": "A", "lbfgs": "A"})
    assert "Not comparable" not in build(leaderboard(same), same).summary


def test_reproduce_names_a_cpu_mismatch():
    from pinnarena.reproduce import cpu_note

    assert cpu_note(pd.Series({"cpu_model": cpu_model()})) is None
    assert cpu_note(pd.Series({"cpu_model": None})) is None  # rows before the field: nothing to say
    note = cpu_note(pd.Series({"cpu_model": "Other | x86_64 family 1 model 1 | avx2"}))
    assert "another CPU model (Other | x86_64 family 1 model 1 | avx2)" in note and cpu_model() in note
