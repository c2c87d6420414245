"""Per-loss gradients G = [∇L_1; …; ∇L_K]: one reverse pass per loss vs a Jacobian of the loss vector.

The engine (pinnarena/training.py, ``per_loss_grads``) builds G from K reverse passes, each over
its own term's points. The alternative is ``jax.jacrev`` of the loss vector L(θ) ∈ R^K: one forward
pass of all terms and K vmapped cotangents through the whole graph. Both are timed here, compiled
ahead of time, with the cost of a single gradient of Σ L as the unit (what a step without per-loss
gradients pays). Best of ``--repeats`` interleaved timings; the two G must agree. A fourth row,
``weighted_vjp``, is what a loss-only weighting (relobralo, softadapt) pays per step: the loss
vector and (∂L/∂θ)ᵀ w from one vector–Jacobian product; it must equal w @ G.

    python benchmarks/bench_per_loss_grads.py [--problems burgers poisson-2d-k1 ldc-re100] [--width 128]
"""
from __future__ import annotations

import argparse
import json
import time

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree


def variants(setup):
    params, bufs, batch = setup.init_carry.params, setup.init_carry.buffers, setup.init_carry.batch
    lv = setup.loss_vector
    K = len(setup.problem.terms)

    def per_loss(p):
        rows = [ravel_pytree(jax.grad(lambda q, k=k: lv(q, bufs, batch)[k])(p))[0] for k in range(K)]
        return jnp.stack(rows)

    def jac_flat(p):
        # reorder the Jacobian's leaves exactly like ravel_pytree does
        J = jax.jacrev(lambda q: lv(q, bufs, batch))(p)
        return jax.vmap(lambda k: ravel_pytree(jax.tree_util.tree_map(lambda x: x[k], J))[0])(jnp.arange(K))

    def summed(p):
        return ravel_pytree(jax.grad(lambda q: jnp.sum(lv(q, bufs, batch)))(p))[0]

    w = jnp.linspace(0.5, 2.0, K)

    def weighted_vjp(p):
        # what loss-only weightings (relobralo, softadapt) cost: L and g = (∂L/∂θ)ᵀ w in one pass
        L, pullback = jax.vjp(lambda q: lv(q, bufs, batch), p)
        return L, ravel_pytree(pullback(w.astype(L.dtype))[0])[0]

    fns = {"sum_gradient": summed, "per_loss_reverse": per_loss, "jacrev_loss_vector": jac_flat,
           "weighted_vjp": weighted_vjp}
    return params, {k: jax.jit(f).lower(params).compile() for k, f in fns.items()}


def measure(problem: str, width: int, depth: int, repeats: int) -> dict:
    from pinnarena.config import resolve
    from pinnarena.training import build

    setup = build(resolve(problem, "adam", "none", 0, steps=1,
                          sets={"model.width": width, "model.depth": depth, "stationary": False,
                                "reference_tier": "smoke"}))  # the reference plays no part here
    params, compiled = variants(setup)
    a = np.asarray(compiled["per_loss_reverse"](params))
    b = np.asarray(compiled["jacrev_loss_vector"](params))
    agree = float(np.max(np.abs(a - b)) / max(np.max(np.abs(a)), 1e-30))
    g_w = np.asarray(compiled["weighted_vjp"](params)[1])
    w = np.linspace(0.5, 2.0, a.shape[0])
    agree_w = float(np.max(np.abs(g_w - w @ a)) / max(np.max(np.abs(w @ a)), 1e-30))
    best = {k: np.inf for k in compiled}
    for _ in range(repeats):
        for k, f in compiled.items():
            t = time.perf_counter()
            jax.block_until_ready(f(params))
            best[k] = min(best[k], time.perf_counter() - t)
    unit = best["sum_gradient"]
    return {"problem": problem, "K": len(setup.problem.terms), "n_params": setup.n_params,
            "sum_gradient_ms": round(1e3 * unit, 2),
            "per_loss_reverse_x": round(best["per_loss_reverse"] / unit, 2),
            "jacrev_loss_vector_x": round(best["jacrev_loss_vector"] / unit, 2),
            "weighted_vjp_x": round(best["weighted_vjp"] / unit, 2),
            "max_rel_diff": agree, "weighted_vjp_max_rel_diff": agree_w}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--problems", nargs="+", default=["burgers", "poisson-2d-k1", "ldc-re100"])
    ap.add_argument("--width", type=int, default=128)
    ap.add_argument("--depth", type=int, default=4)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    rows = [measure(p, args.width, args.depth, args.repeats) for p in args.problems]
    print(json.dumps({"device": str(jax.devices()[0]), "mlp": f"{args.depth}x{args.width} tanh",
                      "unit": "time of one gradient of the summed loss", "results": rows}, indent=1))


if __name__ == "__main__":
    main()
