"""CLI contracts, input validation before compilation, and atomic Parquet writes."""
from __future__ import annotations

import json

import pandas as pd
import pyarrow.parquet as pq
import pytest

from pinnarena import cli
from pinnarena.config import parse_sets, resolve
from pinnarena.results import write_parquet_atomic


def test_list_problems_json_has_the_design_fields(capsys):
    assert cli.main(["list", "problems", "--json"]) == 0
    items = json.loads(capsys.readouterr().out)
    names = {i["name"] for i in items}
    assert {"burgers", "wave", "poisson-2d-k1"} <= names
    for i in items:
        assert {"name", "family", "kind", "n_losses", "input_dim", "output_dim", "params", "reference"} <= set(i)
    burgers = next(i for i in items if i["name"] == "burgers")
    assert burgers["n_losses"] == 3 and burgers["input_dim"] == 2 and burgers["output_dim"] == 1
    assert burgers["params"]["nu"] == pytest.approx(0.01 / 3.141592653589793)


@pytest.mark.parametrize("what", ["optimizers", "remedies"])
def test_list_optimizers_and_remedies(capsys, what):
    assert cli.main(["list", what, "--json"]) == 0
    names = {i["name"] for i in json.loads(capsys.readouterr().out)}
    assert ({"adam", "lbfgs", "adam-lbfgs"} if what == "optimizers" else {"none", "grad-norm"}) <= names


@pytest.mark.parametrize("argv, message", [
    (["--problem", "burger"], "Did you mean: burgers"),
    (["--problem", "burgers", "--optimizer", "adamm"], "Did you mean: adam"),
    (["--problem", "burgers", "--remedy", "gradnrom"], "unknown remedy"),
    (["--problem", "burgers", "--set", "model.widht=3"], "Did you mean: width"),
    (["--problem", "burgers", "--set", "model.width=wide"], "model.width must be an integer"),
    (["--problem", "burgers", "--set", "steps"], "expects key=value"),
    (["--problem", "burgers", "--set", "batch.interior=10"], "its terms are ['residual', 'boundary', 'initial']"),
    (["--problem", "burgers", "--set", "opt.momentum=0.9"], "does not accept momentum"),
    (["--problem", "burgers", "--set", "precision=float16"], "is not one of"),
    (["--problem", "burgers", "--set", "colour=red"], "unknown setting 'colour'"),
    (["--problem", "poisson-2d-k1", "burger"], "Did you mean: burgers"),  # every problem checked first
    (["--problem", "burgers", "burgers"], "names a problem twice"),
])
def test_bad_input_fails_before_compilation(tmp_path, capsys, monkeypatch, argv, message):
    import pinnarena.training as training

    monkeypatch.setattr(training, "build", lambda cfg: pytest.fail("compiled despite bad input"))
    code = cli.main(["run", *argv, "--out", str(tmp_path / "x")])
    assert code == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


def test_several_problems_train_in_one_process_each_in_its_folder(tmp_path, capsys):
    """A suite's `batch` job: `--problem A B` writes OUT/<problem>/<optimizer>/<remedy>/seed<S>/,
    one row per run with the same run id as a job of that problem alone."""
    sets = ["model.width=4", "model.depth=1", "points_scale=0.03", "eval_every=1", "checkpoint_every=1", "stationary=false"]
    argv = ["run", "--problem", "poisson-2d-k1", "heat-2d-k1", "--optimizer", "adam", "--remedy", "none",
            "--cell-dirs", "--seed-dirs", "--steps", "2", "--quiet", "--out", str(tmp_path / "out"),
            "--checkpoint", str(tmp_path / "ckpt")] + [a for kv in sets for a in ("--set", kv)]
    assert cli.main(argv) == 0
    printed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["problem"] for r in printed] == ["poisson-2d-k1", "heat-2d-k1"]
    for problem in ("poisson-2d-k1", "heat-2d-k1"):
        row = pd.read_parquet(tmp_path / "out" / problem / "adam" / "none" / "seed0" / "summary.parquet").iloc[0]
        alone = resolve(problem, "adam", "none", 0, steps=2, sets=parse_sets(sets))
        assert row["problem"] == problem and row["status"] == "ok"
        assert row["run_id"] == alone.run_id
    # each problem checkpointed in CHECKPOINT/<problem>/, and the files removed once the results are written
    assert {d.relative_to(tmp_path / "ckpt").as_posix() for d in (tmp_path / "ckpt").glob("*/*/*")} == \
        {"poisson-2d-k1/adam/none", "heat-2d-k1/adam/none"}
    assert not [f for f in (tmp_path / "ckpt").rglob("*") if f.is_file()]


def test_parse_sets_types():
    assert parse_sets(["a=3", "b=1e-3", "c=true", "d=tanh", "e=[1, 2]"]) == {
        "a": 3, "b": 1e-3, "c": True, "d": "tanh", "e": [1, 2]}


def test_run_id_hashes_the_resolved_config():
    a = resolve("burgers", steps=10)
    assert a.run_id == resolve("burgers", steps=10).run_id
    assert a.run_id != resolve("burgers", steps=11).run_id
    assert a.run_id != resolve("burgers", steps=10, sets={"model.width": 8}).run_id


def test_an_optional_setting_can_be_switched_off_with_null():
    """A suite's study can drop the defaults' time budget (config/cpu.yaml's step-budgeted
    regimes study); settings that are not optional still refuse null."""
    budgeted = resolve("burgers", steps=10, sets={"time_budget": 10, "eval_seconds": 1.0})
    off = resolve("burgers", steps=10, sets={**parse_sets(["time_budget=null", "eval_seconds=null"])})
    assert (off.time_budget, off.eval_seconds) == (None, None)
    assert off.run_id == resolve("burgers", steps=10).run_id != budgeted.run_id
    for key in ("eval_every", "model.width"):
        with pytest.raises(ValueError, match=f"{key} must be an integer, got None"):
            resolve("burgers", steps=10, sets={key: None})


def test_atomic_write_keeps_the_old_file_when_writing_fails(tmp_path, monkeypatch):
    path = tmp_path / "summary.parquet"
    write_parquet_atomic(pd.DataFrame({"a": [1]}), path)

    def failing(table, where, **kw):
        with open(where, "wb") as f:
            f.write(b"PAR1 half a file")
        raise OSError("disk full")

    monkeypatch.setattr(pq, "write_table", failing)
    with pytest.raises(OSError, match="disk full"):
        write_parquet_atomic(pd.DataFrame({"a": [2]}), path)
    monkeypatch.undo()
    assert pd.read_parquet(path)["a"].tolist() == [1]
    assert [p.name for p in tmp_path.iterdir()] == ["summary.parquet"]  # no temporary left behind
