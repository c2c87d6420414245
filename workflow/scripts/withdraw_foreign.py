"""Before resuming a long suite on another machine: withdraw the half-finished problems that an
earlier machine of another CPU model started, so every method of a problem runs on one model.

    python workflow/scripts/withdraw_foreign.py config/cpu.yaml [--results DIR] [--dry-run]

A time budget buys each method a different amount of work on another CPU model
(pinnarena.cpu_model: 1.1-1.6x between two EPYC generations), so a problem whose cells were
partly trained on one model and finished on another is not a fair comparison. For each study and
problem of the suite: when some but not all of its outputs exist (tuning cells' selected.json,
held-out cells' per-seed summaries) and any of its rows ran on another CPU model than this
machine's, the problem's folders (``runs/<study>/<problem>`` and ``runs/tuning/<study>/<problem>``)
are removed, and snakemake retrains them here. Finished problems stay, whatever they ran on
(each is one machine's comparison); the leaderboard's ``problem_cpu_models`` shows any mix.
Removed files that were committed show up in ``git status`` as deletions: commit them.
"""
from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import yaml


def expected(config: dict, results: Path) -> dict[tuple[str, str], list[Path]]:
    """(study, problem) → the output files that mark its cells done."""
    from pinnarena import suite

    out: dict[tuple[str, str], list[Path]] = {}
    for j in suite.jobs(config):
        cell = Path(j["study"]) / j["problem"] / j["optimizer"] / j["remedy"]
        files = out.setdefault((j["study"], j["problem"]), [])
        files.append(results / "runs" / cell / f"seed{j['seed']}" / "summary.parquet")
        if suite.tune_spec(suite.study(config, j["study"])) is not None:
            files.append(results / "runs" / "tuning" / cell / "selected.json")
    return {k: sorted(set(v)) for k, v in out.items()}


def cpu_models(folders: list[Path]) -> set[str]:
    """The CPU models recorded by the summaries under ``folders`` ("unrecorded" for older rows)."""
    from pinnarena.aggregate import cpu_models as models
    from pinnarena.results import read_summaries

    return {m for f in folders if f.exists() for m in models(read_summaries(f))}


def withdraw(config: dict, results: Path, here: str, dry_run: bool = False) -> list[tuple[str, str, set[str]]]:
    """Remove the half-finished problems started on another CPU model; [(study, problem, their models)]."""
    done = []
    for (study, problem), files in expected(config, results).items():
        present = sum(f.exists() for f in files)
        if present == 0 or present == len(files):
            continue
        folders = [results / "runs" / study / problem, results / "runs" / "tuning" / study / problem]
        models = cpu_models(folders)
        if models <= {here}:
            continue
        done.append((study, problem, models))
        if not dry_run:
            for f in folders:
                shutil.rmtree(f, ignore_errors=True)
    return done


def main(argv=None) -> int:
    from pinnarena.cpu_model import cpu_model

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("config", help="the suite's config (e.g. config/cpu.yaml)")
    ap.add_argument("--results", default=None, help="its results folder (default: the config's `results`)")
    ap.add_argument("--dry-run", action="store_true", help="only list what would be withdrawn")
    args = ap.parse_args(argv)
    config = yaml.safe_load(Path(args.config).read_text())
    results = Path(args.results or config.get("results", "results"))
    here = cpu_model()
    gone = withdraw(config, results, here, dry_run=args.dry_run)
    for study, problem, models in gone:
        print(f"{'would withdraw' if args.dry_run else 'withdrew'} {study}/{problem}: half finished on "
              f"{', '.join(sorted(models))}; this machine: {here}")
    if not gone:
        print(f"nothing to withdraw (this machine: {here})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
