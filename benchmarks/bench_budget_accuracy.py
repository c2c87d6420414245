"""How much CPU time the CPU suite's accuracy targets need: one method, one seed, a long budget.

    python benchmarks/bench_budget_accuracy.py poisson-2d-k1 ssbroyden 120

trains the CPU suite's network (3 × 20 tanh, float64, fixed points, 20 % validation split) with the
method's default settings for ``budget`` seconds of its own CPU time and prints the test error
at about twelve points of that clock, to read off where the suite's 10–30 s budget stands on the
way to the literature's accuracy (the leaderboard issue's targets: ≤ 1e-6 on Poisson and
Helmholtz, ≤ 1e-5 on heat and Burgers). Run it pinned to one core for the suite's conditions
(``taskset -c 0``).
"""
from __future__ import annotations

import argparse

from pinnarena.config import parse_sets, resolve
from pinnarena.training import train


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("problem")
    ap.add_argument("optimizer")
    ap.add_argument("budget", type=float, help="CPU seconds")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="a setting on top of the suite's (e.g. a tuned opt.damping from the cell's selected.json)")
    a = ap.parse_args(argv)
    sets = {"model.width": 20, "model.depth": 3, "model.activation": "tanh", "precision": "float64",
            "resample_every": 0, "validation_fraction": 0.2, "time_budget": a.budget, "time_budget_clock": "cpu",
            "eval_every": 10**7, "eval_seconds": a.budget / 12, "stationary": False, "reference_tier": "standard"}
    sets.update(parse_sets(a.set))
    o = train(resolve(a.problem, a.optimizer, "none", a.seed, steps=10**7, sets=sets))
    print(f"{'step':>8} {'cpu s':>8} {'rel_l2':>10} {'loss':>10}")
    for r in o.curves:
        print(f"{r['step']:>8d} {r['train_cpu_seconds']:>8.1f} {r['rel_l2']:>10.3e} {r['loss_total']:>10.3e}")


if __name__ == "__main__":
    main()
