"""Seeds end to end: S separate ``pinnarena run`` processes one after another vs one vmapped process.

This is what a user (or the workflow's seed grouping) actually chooses between: S jobs, each
paying interpreter start-up, imports, building the problem, loading the reference, compiling and
training, against one job that pays the fixed costs once and trains the S seeds in one vmapped
program (``--seed 0 1 … --vmap-seeds``). Wall time of the whole thing is measured, so the ratio
includes compilation; ``bench_burgers.py`` measures the in-process steady state separately.

Two cache settings are timed, because they bracket the workflow's behaviour:

* ``cold``: the persistent compilation cache is off (every separate process compiles);
* ``warm``: the separate processes share one persistent cache (``PINNARENA_JAX_CACHE``), so from
  the second process on compilation is a cache read — as for seeds run as separate jobs of one
  workflow.

Sizes (``--size``): ``smoke`` = the smoke suite's burgers job (2 × 16 MLP, points_scale 1/16,
100 steps, optimisation level 0 as in config/smoke.yaml); ``bench`` = the issue's 4 × 128 tanh
MLP with 4096 residual points (``--steps``, default 200). The per-seed results of both ways are
compared (final rel. L2 must agree up to floating-point reduction order). The reference solution
is built once before timing, as the workflow's ``reference`` rule does.

    python benchmarks/bench_seed_processes.py [--size smoke|bench] [--seeds 8] [--steps N]
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pandas as pd

SIZES = {
    "smoke": {"steps": 100, "sets": ["model.width=16", "model.depth=2", "points_scale=0.0625", "eval_every=50",
                                     "reference_tier=smoke"],
              "env": {"XLA_FLAGS": "--xla_backend_optimization_level=0"}},
    "bench": {"steps": 200, "sets": ["model.width=128", "model.depth=4", "batch.residual=4096", "batch.boundary=256",
                                     "batch.initial=256", "eval_every=100", "reference_tier=standard"], "env": {}},
}


def _run(seeds, out: Path, steps: int, size: dict, cache: str | None) -> float:
    env = {**os.environ, **size["env"], "PINNARENA_JAX_CACHE": cache or "off"}
    cmd = ["pinnarena", "run", "--problem", "burgers", "--optimizer", "adam", "--remedy", "none",
           "--steps", str(steps), "--seed", *map(str, seeds), "--seed-dirs", "--vmap-seeds",
           "--set", "stationary=false", *[a for s in size["sets"] for a in ("--set", s)], "--out", str(out)]
    t = time.perf_counter()
    subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t


def _final_errors(out: Path, seeds) -> list[float]:
    return [float(pd.read_parquet(out / f"seed{s}" / "summary.parquet")["rel_l2"].iloc[0]) for s in seeds]


def measure(n_seeds: int, steps: int, size: dict, cache_mode: str, tmp: Path) -> dict:
    seeds = list(range(n_seeds))
    cache = str(tmp / f"cache-{cache_mode}") if cache_mode == "warm" else None
    sep_dir, vm_dir = tmp / f"separate-{cache_mode}", tmp / f"vmapped-{cache_mode}"
    separate = sum(_run([s], sep_dir, steps, size, cache) for s in seeds)
    if cache:  # the vmapped program is a different program: give it a cold cache of its own
        cache = str(tmp / "cache-vmapped")
    vmapped = _run(seeds, vm_dir, steps, size, cache)
    a, b = _final_errors(sep_dir, seeds), _final_errors(vm_dir, seeds)
    return {"cache": cache_mode, "separate_seconds": round(separate, 2), "vmapped_seconds": round(vmapped, 2),
            "separate_seed_steps_per_s": round(n_seeds * steps / separate, 2),
            "vmapped_seed_steps_per_s": round(n_seeds * steps / vmapped, 2),
            "ratio_vmapped_over_separate": round(separate / vmapped, 3),
            "max_rel_diff_final_rel_l2": float(max(abs(x - y) / abs(x) for x, y in zip(a, b)))}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", choices=sorted(SIZES), default="smoke")
    ap.add_argument("--seeds", type=int, default=8)
    ap.add_argument("--steps", type=int, default=None, help="training steps per seed (default: the size's)")
    ap.add_argument("--cache", choices=["cold", "warm", "both"], default="both")
    args = ap.parse_args()
    if shutil.which("pinnarena") is None:
        raise SystemExit("bench_seed_processes: the `pinnarena` command is not on PATH (pip install -e .)")
    size = SIZES[args.size]
    steps = args.steps or size["steps"]
    tmp = Path(tempfile.mkdtemp(prefix="pinnarena-bench-"))
    refs = tmp / "references"
    os.environ["PINNARENA_REFERENCE_DIR"] = str(refs)
    try:  # the reference is built once beforehand, as the workflow's reference rule does
        tier = next(s.split("=")[1] for s in size["sets"] if s.startswith("reference_tier="))
        subprocess.run(["pinnarena", "reference", "burgers", "--tier", tier, "--out", str(refs / f"burgers--{tier}.npz")],
                       check=True, stdout=subprocess.DEVNULL)
        modes = ["cold", "warm"] if args.cache == "both" else [args.cache]
        rows = [measure(args.seeds, steps, size, m, tmp) for m in modes]
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(json.dumps({"problem": "burgers", "size": args.size, "seeds": args.seeds, "steps": steps,
                      "cpus": os.cpu_count(), "results": rows}, indent=1))


if __name__ == "__main__":
    main()
