"""The cost of exact curvature at the CPU suite's stationary-study size, in one run.

Prints, for one problem at the stationary study's setting (config/cpu.yaml: 2 × 8 tanh network,
float64, default points), the CPU time of a jitted gradient of Σ_k L_k against a dense Hessian
from ``pinnarena.curvature.hessian`` (blocked forward-over-reverse HVPs, Pearlmutter 1994) and
``jax.hessian``. A dense Hessian is n Hessian–vector products, each a few gradients, so the ratio
is about 3n: this is what bounds the steps exact Newton takes in a time budget.

    python benchmarks/bench_newton_step.py [--problem poisson-2d-k1] [--points-scale 1.0]
"""
from __future__ import annotations

import argparse
import time


def cpu_ms(fn, x, repeats: int) -> float:
    fn(x).block_until_ready()  # compile
    t = time.process_time()
    for _ in range(repeats):
        fn(x).block_until_ready()
    return (time.process_time() - t) / repeats * 1e3


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--problem", default="poisson-2d-k1")
    ap.add_argument("--points-scale", type=float, default=1.0)
    args = ap.parse_args()

    import jax
    import jax.numpy as jnp
    from jax.flatten_util import ravel_pytree

    from pinnarena import curvature, training
    from pinnarena.config import resolve

    cfg = resolve(args.problem, "newton", "none", 0, steps=1, sets={
        "model.width": 8, "model.depth": 2, "precision": "float64", "stationary": False,
        "points_scale": args.points_scale})
    s = training.build(cfg)
    c = s.init_carry
    x, unravel = ravel_pytree(c.params)
    points = {k: int(jax.tree_util.tree_leaves(v)[0].shape[0]) for k, v in c.batch.items()}
    f = lambda z: jnp.sum(s.loss_vector(unravel(z), c.buffers, c.batch))
    g = cpu_ms(jax.jit(jax.grad(f)), x, 20)
    h = cpu_ms(jax.jit(lambda z: curvature.hessian(f, z)), x, 3)
    hj = cpu_ms(jax.jit(jax.hessian(f)), x, 3)
    print(f"{args.problem}: n = {x.shape[0]} parameters, points {points}")
    print(f"gradient               {g:9.2f} ms CPU")
    print(f"curvature.hessian      {h:9.1f} ms CPU  ({h / g:.0f}x the gradient)")
    print(f"jax.hessian            {hj:9.1f} ms CPU  ({hj / g:.0f}x)")


if __name__ == "__main__":
    main()
