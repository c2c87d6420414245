"""Dry-run cost estimate of a suite: ``python -m pinnarena.estimate config/standard.yaml``.

Counts the training runs of every study (cells × seeds) and estimates device hours from a
per-step cost model calibrated on benchmarks/RESULTS.md: a 4 × 128 tanh MLP on 4096 Burgers
points runs ≈ 1800 Adam steps/s on an H100, i.e. ≈ 0.55 ms per step. A step is assumed to cost
in proportion to the number of collocation points and to the number of width × width layers
(``depth`` for an MLP; 3 · blocks + 2 for a PirateNet: three per block plus the two gates), and
second-order or
line-search optimizers a stated multiple (``OPTIMIZER_FACTOR``). It is an order-of-magnitude
guide for planning, not a measurement.
"""
from __future__ import annotations

import argparse
import sys

import yaml

BASE_MS = 0.55  # ms per step: H100, 4 × 128 MLP, 4096 + 512 points (benchmarks/RESULTS.md)
OPTIMIZER_FACTOR = {"lbfgs": 3.0, "adam-lbfgs": 2.0, "bfgs": 3.0, "ssbfgs": 3.0, "ssbroyden": 3.0,
                    "adam-ssbroyden": 2.0, "soap-ssbroyden": 2.5, "soap": 1.5, "shampoo": 1.5,
                    "newton": 50.0, "saddle-free-newton": 60.0, "gauss-newton": 20.0, "engd": 20.0}


def estimate(config: dict) -> list[dict]:
    """Runs and estimated H100 hours per study (of the ``select``-ed jobs, pinnarena/suite.py)."""
    from pinnarena import problems, suite

    by_study: dict[str, list[dict]] = {}
    for j in suite.jobs(config):
        by_study.setdefault(j["study"], []).append(j)
    rows = []
    for name, jobs in by_study.items():
        s = suite.study(config, name)
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
    args = ap.parse_args(argv)
    with open(args.config) as f:
        config = yaml.safe_load(f)
    if args.select:
        config["select"] = yaml.safe_load(args.select)
    rows = estimate(config)
    for r in rows:
        print(f"{r['study']:<16} {r['runs']:>6} runs × {r['steps']:>7} steps  ≈ {r['gpu_hours']:8.1f} GPU hours (H100)")
    print(f"{'total':<16} {sum(r['runs'] for r in rows):>6} runs{'':>18}≈ {sum(r['gpu_hours'] for r in rows):8.1f} GPU hours")
    return 0


if __name__ == "__main__":
    sys.exit(main())
