"""Does batching trials (or seeds) pay on one core at the CPU leaderboard's size?

The tuning protocol trains 5 trials per (problem, method) cell and then 3 held-out seeds. On a
GPU, one vmapped program for a batch of them is faster than one after another (RESULTS.md: 2.16×
for 8 seeds). The CPU leaderboard (config/cpu.yaml) runs one single-core job per core with
3 × 20 tanh networks in float64 on the problems' default points; this measures, in one run and
pinned to one core, the in-process steady-state step rate of

* one configuration alone, and
* B members of the same configuration vmapped into one program (B seeds: the same arithmetic as
  B trials whose hyper-parameters were traced values of the optimizer state),

and prints per-member steps/s and their ratio (> 1: batching pays). Compilation is excluded
(AOT-compiled before timing); each timing is the best of ``--repeats`` interleaved runs.

    taskset -c 0 python benchmarks/bench_cpu_batching.py [--problem poisson-2d-k1] [--batch 5] [--steps 300]
"""
from __future__ import annotations

import argparse
import os
import time

import jax
import jax.numpy as jnp
import numpy as np


def _setup(problem: str, seeds, optimizer: str):
    from pinnarena.config import resolve
    from pinnarena.training import build

    cfgs = [resolve(problem, optimizer, seed=s, sets={"model.width": 20, "model.depth": 3, "precision": "float64",
                                                       "stationary": False}) for s in seeds]
    s0 = build(cfgs[0])
    carries = [s0.init_carry] + [s0.for_seed(c).init_carry for c in cfgs[1:]]
    if len(seeds) == 1:
        return s0.step, carries[0], lambda n: jnp.asarray(n, jnp.int32)
    carry = jax.tree_util.tree_map(lambda *xs: jnp.stack(xs), *carries)
    return jax.vmap(s0.step), carry, lambda n: jnp.full((len(seeds),), n, jnp.int32)


def rate(problem: str, members: int, steps: int, repeats: int, optimizer: str) -> float:
    """Steps per second per member, best of ``repeats``."""
    step, carry, arg = _setup(problem, list(range(members)), optimizer)
    chunk = jax.jit(step).lower(carry, arg(steps)).compile()
    jax.block_until_ready(chunk(carry, arg(steps)))  # warm-up
    best = np.inf
    for _ in range(repeats):
        t = time.perf_counter()
        jax.block_until_ready(chunk(carry, arg(steps)))
        best = min(best, time.perf_counter() - t)
    return steps / best


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--problem", nargs="+", default=["poisson-2d-k1", "burgers"])
    ap.add_argument("--optimizer", default="adam")
    ap.add_argument("--batch", type=int, default=5)
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args(argv)
    jax.config.update("jax_enable_x64", True)
    print(f"cores in affinity set: {len(os.sched_getaffinity(0))}; jax {jax.__version__}; {args.optimizer}, "
          f"3 x 20 tanh, float64, default points")
    print(f"{'problem':<16} {'1 alone steps/s':>16} {f'{args.batch} vmapped steps/s/member':>28} {'ratio':>7}")
    for p in args.problem:
        one = rate(p, 1, args.steps, args.repeats, args.optimizer)
        many = rate(p, args.batch, args.steps, args.repeats, args.optimizer)
        print(f"{p:<16} {one:>16.1f} {many:>28.1f} {many / one:>7.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
