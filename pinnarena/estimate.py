"""Dry-run cost estimate of a suite: ``python -m pinnarena.estimate config/standard.yaml``.

Counts the training runs of every study (cells × seeds) and estimates device hours from a
per-step cost model calibrated on benchmarks/RESULTS.md: a 4 × 128 tanh MLP on 4096 Burgers
points runs ≈ 1800 Adam steps/s on an H100, i.e. ≈ 0.55 ms per step. A step is assumed to cost
in proportion to the number of collocation points and to the number of width × width layers
(``depth`` for an MLP; 3 · blocks + 2 for a PirateNet: three per block plus the two gates), and
second-order or
line-search optimizers a stated multiple (``OPTIMIZER_FACTOR``). It is an order-of-magnitude
guide for planning, not a measurement.

A study whose runs end on a ``time_budget`` (the CPU suite) is estimated exactly from its
budgets: (trial runs + held-out runs) × the problem's budget, plus a fixed cost per tuning trial
(``PROGRAM_OVERHEAD_S``: its hyper-parameters are constants of its program, so every trial
compiles anew) and per held-out run (``HELD_OUT_OVERHEAD_S``: the selected trial's program comes
from JAX's persistent compilation cache), in core-hours; the wall time is that over the cores, one
single-core job per core. ``--calibrate RESULTS`` measures both overheads on the rows a suite
has written on this machine (medians of build + compilation + evaluation seconds, plus any
overrun of the budget), since they depend on the CPU: ≈ 15 s a trial on the first machine of the
CPU suite, 4-6 s on a Zen 5 EPYC (session 8).

A step-budgeted study inside such a CPU suite (config/cpu.yaml's regimes study: exactly 1000
Adam steps) is estimated from the seconds a step took in the calibration rows (median CPU
seconds per step of the same problem and optimizer on this CPU model) plus the per-run and
per-job costs; without ``--calibrate`` (or without such rows) it is listed as not estimated.
"""
from __future__ import annotations

import argparse
import sys

import yaml

BASE_MS = 0.55  # ms per step: H100, 4 × 128 MLP, 4096 + 512 points (benchmarks/RESULTS.md)
OPTIMIZER_FACTOR = {"lbfgs": 3.0, "adam-lbfgs": 2.0, "bfgs": 3.0, "ssbfgs": 3.0, "ssbroyden": 3.0,
                    "adam-ssbroyden": 2.0, "soap-ssbroyden": 2.5, "soap": 1.5, "shampoo": 1.5,
                    "newton": 50.0, "saddle-free-newton": 60.0, "gauss-newton": 20.0, "engd": 20.0}


# Fixed cost of one tuning trial on the 2-core CPU (build, XLA compilation, evaluations, the
# overrun of the last step, the job's start-up shared by its 5 trials), seconds. Measured on the
# CPU suite's first 15 tuning jobs (session 7, snakemake log: (job wall time − 5 × budget) / 5):
# median 19.8 s, range 5.8–43 s, with a test run sharing the cores, so ~15 s on a quiet machine.
PROGRAM_OVERHEAD_S = 15.0
# A held-out run: start-up share, a cached program, evaluations.
HELD_OUT_OVERHEAD_S = 4.0
# A job's own cost beyond its runs' recorded seconds (process start, imports, writing the rows):
# measured from the snakemake log against the rows' seconds on the Zen 5 EPYC, session 8:
# median 3.2 s a tuning job, 2.1 s a held-out job.
JOB_OVERHEAD_S = 3.0
# CPU seconds a step, by (problem, optimizer), measured by calibrate() on this CPU model's rows.
STEP_SECONDS: dict[tuple[str, str], float] = {}


def calibrate(results) -> tuple[float, float, int]:
    """(seconds a trial, seconds a held-out run, rows used) measured on the rows under ``results``
    that ran on this machine's CPU model; rows whose wall clock ran far ahead of their CPU clock
    (a paused or starved job) are left out."""
    from pinnarena.cpu_model import cpu_model
    from pinnarena.results import read_summaries

    rows = read_summaries(results)
    if rows.empty or "budget_seconds" not in rows:
        raise ValueError(f"no time-budgeted rows under {results} to calibrate on")
    here = rows["cpu_model"] == cpu_model() if "cpu_model" in rows else False
    rows = rows[rows["budget_seconds"].notna() & here]
    rows = rows[(rows["train_seconds"] - rows["train_cpu_seconds"]).abs() < 1.0]
    if rows.empty:
        raise ValueError(f"no rows under {results} ran on this machine's CPU model ({cpu_model()}) undisturbed")
    over = (rows["setup_seconds"] + rows["compile_seconds"] + rows["eval_seconds"]
            + (rows["train_cpu_seconds"] - rows["budget_seconds"]).clip(lower=0))
    trial = rows["study"] == "tuning"
    if {"steps_done", "problem", "optimizer"} <= set(rows.columns):
        ran = rows[rows["steps_done"] > 0]
        per_step = (ran["train_cpu_seconds"] / ran["steps_done"]).groupby([ran["problem"], ran["optimizer"]]).median()
        STEP_SECONDS.update({k: float(v) for k, v in per_step.items()})
    med = lambda s, default: float(s.median()) if len(s) else default  # noqa: E731
    return med(over[trial], PROGRAM_OVERHEAD_S), med(over[~trial], HELD_OUT_OVERHEAD_S), len(rows)


def _time_budgeted(config: dict, name: str, jobs: list[dict]) -> dict:
    """Runs and core-hours of a study whose runs end on a time budget (plus its tuning trials)."""
    from pinnarena import suite

    s = suite.study(config, name)
    t = suite.tune_spec(s)
    budget = lambda p: float({**s["set"], **s["problem_set"].get(p, {})}["time_budget"])  # noqa: E731
    seconds, runs, programs = 0.0, 0, 0
    cells = {(j["problem"], j["optimizer"], j["remedy"]) for j in jobs}
    for p, o, r in cells:
        n_seeds = len(s.get("seeds", [0]))
        n_trials = suite.n_trials(s, o, r) if t else 0
        n_tune_seeds = len(t["seeds"]) if t else 0
        runs += n_seeds + n_trials * n_tune_seeds
        programs += 1 + n_trials
        seconds += (budget(p) * (n_seeds + n_trials * n_tune_seeds) + PROGRAM_OVERHEAD_S * n_trials * n_tune_seeds
                    + HELD_OUT_OVERHEAD_S * n_seeds + JOB_OVERHEAD_S * (2 if t else 1))
    return {"study": name, "runs": runs, "steps": s["steps"], "core_hours": seconds / 3600.0, "programs": programs}


def _step_budgeted_cpu(config: dict, name: str, jobs: list[dict]) -> dict:
    """Core-hours of a step-budgeted study in a CPU suite, from the calibrated seconds a step
    (``STEP_SECONDS``); ``core_hours`` is None when a (problem, optimizer) has no measured rate."""
    from pinnarena import suite

    s = suite.study(config, name)
    cells = {(j["problem"], j["optimizer"], j["remedy"]) for j in jobs}
    missing = sorted({(p, o) for p, o, _ in cells if (p, o) not in STEP_SECONDS})
    runs = len(cells) * len(s.get("seeds", [0]))
    if missing:
        return {"study": name, "runs": runs, "steps": s["steps"], "core_hours": None, "per_step": True,
                "missing": missing}
    seconds = sum(len(s.get("seeds", [0])) * (s["steps"] * STEP_SECONDS[(p, o)] + HELD_OUT_OVERHEAD_S) + JOB_OVERHEAD_S
                  for p, o, _ in cells)
    return {"study": name, "runs": runs, "steps": s["steps"], "core_hours": seconds / 3600.0, "per_step": True}


def estimate(config: dict) -> list[dict]:
    """Runs and estimated H100 hours per study (of the ``select``-ed jobs, pinnarena/suite.py)."""
    from pinnarena import problems, suite

    by_study: dict[str, list[dict]] = {}
    for j in suite.jobs(config):
        by_study.setdefault(j["study"], []).append(j)
    cpu_suite = any(suite.study(config, name)["set"].get("time_budget") is not None for name in by_study)
    rows = []
    for name, jobs in by_study.items():
        s = suite.study(config, name)
        if s["set"].get("time_budget") is not None:
            rows.append(_time_budgeted(config, name, jobs))
            continue
        if cpu_suite:
            rows.append(_step_budgeted_cpu(config, name, jobs))
            continue
        width, depth = s["set"].get("model.width", 64), s["set"].get("model.depth", 4)
        if s["set"].get("model.arch", "mlp") == "pirate":
            depth = 3 * depth + 2  # square layers of a PirateNet (pinnarena/models.py)
        scale = s["set"].get("points_scale", 1.0)
        hours = 0.0
        for j in jobs:
            pts = sum(t.n for t in problems.get(j["problem"]).terms) * scale
            ms = BASE_MS * (pts / 4608) * (width**2 * depth) / (128**2 * 4)
            extra = 1.0 if j["remedy"] == "none" else 1.3
            hours += s["steps"] * ms * OPTIMIZER_FACTOR.get(j["optimizer"], 1.0) * extra / 3.6e6
        rows.append({"study": name, "runs": len(jobs), "steps": s["steps"], "gpu_hours": hours})
    return rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("config")
    ap.add_argument("--select", default=None, metavar="YAML",
                    help='a slice of the suite, as for snakemake --config select=...: '
                         'e.g. \'{"studies": ["optimizers"], "optimizers": ["adam", "soap"]}\'')
    ap.add_argument("--cores", type=int, default=2, help="cores for the wall-time figure of time-budgeted studies")
    ap.add_argument("--calibrate", default=None, metavar="RESULTS",
                    help="measure the per-trial and per-run overheads on the rows under RESULTS (this CPU model)")
    args = ap.parse_args(argv)
    global PROGRAM_OVERHEAD_S, HELD_OUT_OVERHEAD_S
    if args.calibrate:
        PROGRAM_OVERHEAD_S, HELD_OUT_OVERHEAD_S, n = calibrate(args.calibrate)
        print(f"calibrated on {n} rows of {args.calibrate}: {PROGRAM_OVERHEAD_S:.1f} s a trial, "
              f"{HELD_OUT_OVERHEAD_S:.1f} s a held-out run")
    with open(args.config) as f:
        config = yaml.safe_load(f)
    if args.select:
        config["select"] = yaml.safe_load(args.select)
    rows = estimate(config)
    gpu = [r for r in rows if "gpu_hours" in r]
    cpu = [r for r in rows if r.get("core_hours") is not None]
    for r in rows:
        if "core_hours" in r and r["core_hours"] is None:
            print(f"{r['study']:<16} {r['runs']:>6} runs × {r['steps']} steps: not estimated (no measured seconds a "
                  f"step for {', '.join('/'.join(m) for m in r['missing'][:3])}…; run with --calibrate RESULTS)")
    for r in gpu:
        print(f"{r['study']:<16} {r['runs']:>6} runs × {r['steps']:>7} steps  ≈ {r['gpu_hours']:8.1f} GPU hours (H100)")
    for r in cpu:
        if r.get("per_step"):
            print(f"{r['study']:<16} {r['runs']:>6} runs × {r['steps']} steps ≈ {r['core_hours']:6.2f} core-hours "
                  f"(calibrated seconds a step + {HELD_OUT_OVERHEAD_S:.1f} s a run)")
            continue
        print(f"{r['study']:<16} {r['runs']:>6} runs (trials included) in {r['programs']} programs "
              f"≈ {r['core_hours']:6.2f} core-hours (time budgets + {PROGRAM_OVERHEAD_S:.1f} s a trial, "
              f"{HELD_OUT_OVERHEAD_S:.1f} s a held-out run, {JOB_OVERHEAD_S:.1f} s a job)")
    if gpu:
        print(f"{'total':<16} {sum(r['runs'] for r in gpu):>6} runs{'':>18}≈ {sum(r['gpu_hours'] for r in gpu):8.1f} GPU hours")
    if cpu:
        ch = sum(r["core_hours"] for r in cpu)
        print(f"{'total':<16} {sum(r['runs'] for r in cpu):>6} runs ≈ {ch:.2f} core-hours = {ch / args.cores:.2f} h "
              f"on {args.cores} cores (one single-core job per core)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
