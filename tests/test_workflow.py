"""The Snakemake workflow: the tiny suite end to end, the cluster profile, config validation."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]


def snakemake(*args, cwd=ROOT, tmp=None):
    env = {**os.environ, "PINNARENA_JAX_CACHE": "off"}
    cmd = [sys.executable, "-m", "snakemake", "--nolock", *args]
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=900)


def test_tiny_suite_end_to_end(tmp_path):
    res = snakemake("--cores", "2", "--configfile", "config/test.yaml",
                    "--config", f"results={tmp_path}/results", f"report={tmp_path}/report")
    assert res.returncode == 0, res.stderr[-3000:]
    board = pd.read_parquet(tmp_path / "results" / "leaderboard.parquet")
    assert set(board["remedy"]) == {"none", "grad-norm"}
    assert (board["n_runs"] == 2).all()  # both seeds of each cell, trained in one vmapped job
    summaries = pd.concat(pd.read_parquet(p) for p in (tmp_path / "results" / "runs").rglob("summary.parquet"))
    assert len(summaries) == 4 and (summaries["suite"] == "test").all()
    assert (summaries["seeds_batched"] == 2).all()
    assert set(summaries["status"]) <= {"ok", "diverged"}
    assert "poisson-2d-k1" in (tmp_path / "report" / "leaderboard.md").read_text()


def test_slurm_profile_dry_run(tmp_path):
    res = snakemake("--profile", "workflow/profiles/slurm", "-n", "--configfile", "config/test.yaml",
                    "--config", f"results={tmp_path}/results", f"report={tmp_path}/report")
    assert res.returncode == 0, res.stderr[-3000:]
    out = res.stdout + res.stderr
    assert "run_tiny" in out and "This was a dry-run" in out


def test_local_profile_dry_run(tmp_path):
    res = snakemake("--profile", "workflow/profiles/local", "-n", "--configfile", "config/test.yaml",
                    "--config", f"results={tmp_path}/results", f"report={tmp_path}/report")
    assert res.returncode == 0, res.stderr[-3000:]


def _with_config(tmp_path, change, *extra):
    cfg = yaml.safe_load((ROOT / "config" / "test.yaml").read_text())
    change(cfg)
    path = tmp_path / "suite.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return snakemake("-n", *extra, "--configfile", str(path), "--config", f"results={tmp_path}/results")


def test_config_schema_rejects_unknown_keys(tmp_path):
    res = _with_config(tmp_path, lambda c: c["studies"]["tiny"].update(optimisers=["adam"]))
    assert res.returncode != 0
    assert "optimisers" in res.stdout + res.stderr


def test_config_rejects_unknown_problem_names(tmp_path):
    res = _with_config(tmp_path, lambda c: c["studies"]["tiny"].update(problems=["poisson-3d"]))
    assert res.returncode != 0
    assert "poisson-3d" in res.stdout + res.stderr


def test_select_slices_a_suite_and_names_what_it_does_not_know():
    from pinnarena import suite

    cfg = yaml.safe_load((ROOT / "config" / "standard.yaml").read_text())
    every = suite.jobs(cfg)
    seed_paper = ["wave", "burgers", "kdv", "ldc-re100"]
    cfg["select"] = {"studies": ["optimizers"], "optimizers": ["adam", "soap"], "problems": seed_paper}
    part = suite.jobs(cfg)
    assert len(part) == len(seed_paper) * 2 * 3
    assert {(j["study"], j["optimizer"]) for j in part} == {("optimizers", "adam"), ("optimizers", "soap")}
    assert all(j in every for j in part)  # a slice is a subset of the same jobs
    for bad, needle in (({"optimisers": ["adam"]}, "optimisers"), ({"optimizers": ["adamm"]}, "adamm"),
                        ({"studies": ["nope"]}, "nope"), ({"problems": "burgers"}, "non-empty list")):
        cfg["select"] = bad
        with pytest.raises(ValueError, match=needle):
            suite.jobs(cfg)


def test_select_on_the_command_line_schedules_only_the_slice(tmp_path):
    base = ["-n", "--configfile", "config/test.yaml", "--config", f"results={tmp_path}/results"]
    whole = snakemake(*base)
    part = snakemake(*base, 'select={"remedies": ["grad-norm"]}')
    assert whole.returncode == 0 and part.returncode == 0, part.stderr[-3000:]
    count = lambda res: sum(1 for line in (res.stdout + res.stderr).splitlines() if line.strip().startswith("rule run_tiny"))
    assert (count(whole), count(part)) == (2, 1)


def test_a_batched_study_trains_its_problems_in_a_few_jobs(tmp_path):
    """`group: problem` with `batch: 2`: three problems in two jobs, each job's command naming its
    problems and its outputs every cell of them; a solver reference is an input of its batch."""
    from pinnarena import suite

    def batched(c):
        c["studies"]["tiny"].update(group="problem", batch=2, problems=["poisson-2d-k1", "heat-2d-k1", "burgers"])
    cfg = yaml.safe_load((ROOT / "config" / "test.yaml").read_text())
    batched(cfg)
    assert suite.problem_batches(cfg, "tiny") == [["poisson-2d-k1", "heat-2d-k1"], ["burgers"]]
    cfg["select"] = {"problems": ["heat-2d-k1", "burgers"]}  # a slice batches what it selects
    assert suite.problem_batches(cfg, "tiny") == [["heat-2d-k1", "burgers"]]

    res = _with_config(tmp_path, batched, "-p")
    assert res.returncode == 0, res.stderr[-3000:]
    out = res.stdout + res.stderr
    assert sorted(r for r, _ in _dry_run_jobs(res) if r.startswith("run_")) == ["run_tiny_batch0", "run_tiny_batch1"]
    assert "--problem poisson-2d-k1 heat-2d-k1 --seed 0 1" in out and "--problem burgers --seed 0 1" in out
    for problem in ("poisson-2d-k1", "heat-2d-k1", "burgers"):
        for remedy in ("none", "grad-norm"):
            assert f"runs/tiny/{problem}/adam/{remedy}/seed1/summary.parquet" in out
    assert "references/burgers--standard.npz" in out  # burgers' solver reference comes first


@pytest.mark.parametrize("change, needle", [
    (lambda s: s.update(batch=2), "batch needs group: problem"),
    (lambda s: s.update(group="problem", batch=0), "batch"),
    (lambda s: s.update(group="problem", batch=2, problem_set={"poisson-2d-k1": {"steps": 5}}),
     "cannot be combined with problem_set"),
])
def test_a_batch_that_cannot_work_is_refused(tmp_path, change, needle):
    res = _with_config(tmp_path, lambda c: change(c["studies"]["tiny"]))
    assert res.returncode != 0
    assert needle in res.stdout + res.stderr


def test_reference_batches_build_each_needed_reference_once_n_to_a_job(tmp_path):
    """`reference_batch: 2`: the solver references the selected jobs need (none for analytic
    problems), per tier, two to a job, each job's command naming them; the one-file rule then
    schedules nothing."""
    from pinnarena import suite

    def refs(c):
        c["reference_batch"] = 2
        c["studies"]["tiny"]["problems"] = ["poisson-2d-k1", "burgers", "kdv", "heat-2d-k1", "allen-cahn"]
        c["studies"]["other"] = {"problems": ["burgers", "wave", "ks"], "optimizers": ["adam"], "remedies": ["none"],
                                 "set": {"reference_tier": "smoke"}}
    cfg = yaml.safe_load((ROOT / "config" / "test.yaml").read_text())
    assert suite.reference_batches(cfg) is None  # default: one job per reference
    refs(cfg)
    assert suite.reference_batches(cfg) == [("standard", ["burgers", "kdv"]), ("standard", ["allen-cahn"]),
                                            ("smoke", ["burgers", "ks"])]  # wave's is analytic
    cfg["select"] = {"problems": ["kdv", "wave", "ks"]}  # a slice builds what it needs
    assert suite.reference_batches(cfg) == [("standard", ["kdv"]), ("smoke", ["ks"])]
    for bad in (0, True, "2"):
        with pytest.raises(ValueError, match="reference_batch must be a positive integer"):
            suite.reference_batches({**cfg, "reference_batch": bad})

    res = _with_config(tmp_path, refs, "-p")
    assert res.returncode == 0, res.stderr[-3000:]
    out = res.stdout + res.stderr
    rules = [r for r, _ in _dry_run_jobs(res)]
    assert sorted(r for r in rules if r.startswith("reference")) == ["reference_batch0", "reference_batch1",
                                                                     "reference_batch2"]
    assert "pinnarena reference burgers kdv --tier standard --out-dir" in out
    assert "pinnarena reference burgers ks --tier smoke --out-dir" in out


def test_reference_cli_builds_several_into_a_folder_and_refuses_one_file_for_several(tmp_path):
    from pinnarena import cli

    assert cli.main(["reference", "ldc-re100", "kdv", "--tier", "smoke", "--out-dir", str(tmp_path)]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kdv--smoke.npz", "ldc-re100--smoke.npz"]
    assert cli.main(["reference", "ldc-re100", "kdv", "--tier", "smoke", "--out", str(tmp_path / "x.npz")]) == 2
    assert cli.main(["reference", "ldc-re100", "no-such-problem", "--tier", "smoke", "--out-dir", str(tmp_path)]) == 2
    assert not (tmp_path / "x.npz").exists()


def test_default_suite_covers_every_registered_name():
    """smoke.yaml touches every problem, optimizer and remedy (its studies use `all`)."""
    from pinnarena import optimizers, problems, remedies

    cfg = yaml.safe_load((ROOT / "config" / "smoke.yaml").read_text())
    studies = cfg["studies"].values()
    for kind, reg in (("problems", problems), ("optimizers", optimizers), ("remedies", remedies)):
        covered = set()
        for s in studies:
            covered |= set(reg.names()) if s[kind] == "all" else set(s[kind])
        assert covered >= set(reg.names()), kind


def _dry_run_jobs(res):
    """(rule, wildcards line) of every job a dry run schedules."""
    jobs, rule = [], None
    for line in (res.stdout + res.stderr).splitlines():
        s = line.strip()
        if s.startswith(("rule ", "localrule ")) and s.endswith(":"):
            rule = s.split()[1].rstrip(":")
            jobs.append((rule, ""))
        elif s.startswith("wildcards:") and rule:
            jobs[-1] = (rule, s.removeprefix("wildcards:").strip())
    return jobs


def test_a_restored_snapshot_is_not_retrained_when_its_references_are_rebuilt(tmp_path):
    """References are not committed; a fresh clone rebuilds them. A finished cell (all outputs
    present) must not be rerun for it, an unfinished one must wait for its reference."""
    results = tmp_path / "results"
    done = results / "runs" / "tuning" / "optimizers" / "burgers" / "adam" / "none"
    done.mkdir(parents=True)
    for name in ("summary.parquet", "curves.parquet", "selected.json"):
        (done / name).write_text("finished\n")
    res = snakemake("-n", "--configfile", "config/cpu.yaml", "--config", f"results={results}",
                    f"report={tmp_path}/report",
                    'select={"studies": ["optimizers"], "problems": ["burgers"], "optimizers": ["adam", "soap"]}')
    assert res.returncode == 0, res.stderr[-3000:]
    jobs = _dry_run_jobs(res)
    tuned = {w.split("optimizer=")[1].split(",")[0] for r, w in jobs if r == "tune_optimizers"}
    assert tuned == {"soap"}, jobs
    assert ("reference", "problem=burgers, tier=standard") in jobs
    held_out = {w.split("optimizer=")[1].split(",")[0] for r, w in jobs if r == "run_optimizers"}
    assert held_out == {"adam", "soap"}


def test_resuming_a_checkout_does_not_rerun_the_jobs_it_finished(tmp_path):
    """A finished job drops its reference input (run.smk, reference_unless_done). Under
    snakemake's default rerun triggers that changed input set reran, after deleting them, every
    job the checkout had finished; the default workflow profile (profiles/default) drops the
    `input` trigger, so the README's plain command resumes without losing rows."""
    cfg = yaml.safe_load((ROOT / "config" / "test.yaml").read_text())
    cfg["studies"]["tiny"].update(problems=["burgers"], remedies=["none"], seeds=[0])
    cfg["defaults"]["steps"] = 5
    cfg["defaults"]["set"]["reference_tier"] = "smoke"
    path = tmp_path / "suite.yaml"
    path.write_text(yaml.safe_dump(cfg))
    summary = tmp_path / "results" / "runs" / "tiny" / "burgers" / "adam" / "none" / "seed0" / "summary.parquet"
    args = (str(summary), "--configfile", str(path), "--config", f"results={tmp_path}/results")
    first = snakemake("--cores", "2", *args)  # the run alone (and its reference), not the report
    assert first.returncode == 0, first.stderr[-3000:]
    assert (tmp_path / "results" / "references" / "burgers--smoke.npz").exists()  # the job had a reference input
    again = snakemake("-n", *args)
    assert again.returncode == 0, again.stderr[-3000:]
    assert _dry_run_jobs(again) == [], again.stdout[-3000:]
    # the profile is what holds it: without it snakemake reruns the finished job
    bare = snakemake("-n", "--workflow-profile", "none", *args)
    assert ("run_tiny", "problem=burgers, optimizer=adam, remedy=none") in _dry_run_jobs(bare), bare.stdout[-3000:]


def test_half_finished_problems_of_another_cpu_model_are_withdrawn(tmp_path):
    sys.path.insert(0, str(ROOT / "workflow" / "scripts"))
    from withdraw_foreign import withdraw

    from pinnarena.cpu_model import cpu_model

    cfg = {"suite": "t", "defaults": {"steps": 5, "seeds": [0, 1]},
           "studies": {"s": {"problems": ["poisson-2d-k1", "heat-2d-k1", "burgers"], "optimizers": ["adam", "soap"],
                             "remedies": ["none"]}}}
    results = tmp_path / "results"

    def write(problem, optimizer, seeds, model):
        for seed in seeds:
            d = results / "runs" / "s" / problem / optimizer / "none" / f"seed{seed}"
            d.mkdir(parents=True)
            pd.DataFrame({"run_id": [f"{problem}{optimizer}{seed}"], "cpu_model": [model]}).to_parquet(d / "summary.parquet")

    write("poisson-2d-k1", "adam", [0, 1], "other | x86_64 family 1 model 1 | avx2")  # half finished, elsewhere
    write("heat-2d-k1", "adam", [0, 1], "other | x86_64 family 1 model 1 | avx2")  # finished, elsewhere: stays
    write("heat-2d-k1", "soap", [0, 1], "other | x86_64 family 1 model 1 | avx2")
    write("burgers", "adam", [0], cpu_model())  # half finished here: resumes here
    assert [(s, p) for s, p, _ in withdraw(cfg, results, cpu_model(), dry_run=True)] == [("s", "poisson-2d-k1")]
    assert (results / "runs" / "s" / "poisson-2d-k1").exists()  # a dry run removes nothing
    gone = withdraw(cfg, results, cpu_model())
    assert [(s, p) for s, p, _ in gone] == [("s", "poisson-2d-k1")]
    assert not (results / "runs" / "s" / "poisson-2d-k1").exists()
    assert (results / "runs" / "s" / "heat-2d-k1" / "soap").exists() and (results / "runs" / "s" / "burgers").exists()
