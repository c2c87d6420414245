"""Time and memory of pinnarena.derivatives.laplacian vs trace(jax.hessian) for d = 5 … 50.

A small tanh MLP u: R^d → R (3 × 64), a batch of points, the Laplacian at every point (vmapped),
jit-compiled. Prints, per d: wall time per batch (median of repeats, after compilation) and the
compiled program's temporary + output memory (XLA's memory analysis) for
``derivatives.laplacian`` (one jet pass per coordinate), ``trace(jax.hessian)`` (reverse-over-
forward, full d × d Hessian) and, for comparison, forward-over-forward directional second
derivatives vmapped over the d coordinates (no Hessian either).

    python benchmarks/bench_laplacian.py [--batch 1024] [--dims 5 10 20 50] [--repeats 5]
"""
from __future__ import annotations

import argparse
import statistics
import time

import jax
import jax.numpy as jnp

from pinnarena import derivatives as D


def mlp(key, d, width=64, depth=3):
    sizes = [d] + [width] * depth + [1]
    keys = jax.random.split(key, len(sizes) - 1)
    params = [(jax.random.normal(k, (m, n)) / jnp.sqrt(m), jnp.zeros(n)) for k, m, n in zip(keys, sizes[:-1], sizes[1:])]

    def u(x):
        h = x
        for W, b in params[:-1]:
            h = jnp.tanh(h @ W + b)
        W, b = params[-1]
        return h @ W + b

    return u


def temp_bytes(compiled) -> int:
    try:
        m = compiled.memory_analysis()
        return int(m.temp_size_in_bytes + m.output_size_in_bytes)
    except Exception:  # backend without memory analysis
        return -1


def bench(fn, x, repeats):
    compiled = jax.jit(fn).lower(x).compile()
    compiled(x).block_until_ready()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        compiled(x).block_until_ready()
        times.append(time.perf_counter() - t)
    return statistics.median(times), temp_bytes(compiled), compiled(x)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=1024)
    ap.add_argument("--dims", type=int, nargs="+", default=[5, 10, 20, 50])
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args(argv)
    print(f"device {jax.devices()[0].platform}, batch {args.batch}, MLP 3 x 64 tanh")
    print(f"{'d':>4} {'taylor ms':>10} {'hessian ms':>11} {'fwdfwd ms':>10} {'hess/taylor':>12} "
          f"{'taylor MiB':>11} {'hessian MiB':>12} {'fwdfwd MiB':>11} {'max |diff|':>11}")
    for d in args.dims:
        u = mlp(jax.random.PRNGKey(0), d)
        x = jax.random.uniform(jax.random.PRNGKey(1), (args.batch, d))
        lap_taylor = jax.vmap(lambda p: D.laplacian(u, p))
        lap_hessian = jax.vmap(lambda p: jnp.trace(jax.hessian(lambda q: u(q)[0])(p))[None])
        eye = jnp.eye(d)

        def fwdfwd(p):
            second = lambda v: jax.jvp(lambda y: jax.jvp(u, (y,), (v,))[1], (p,), (v,))[1]
            return jnp.sum(jax.vmap(second)(eye), axis=0)

        t1, m1, y1 = bench(lap_taylor, x, args.repeats)
        t2, m2, y2 = bench(lap_hessian, x, args.repeats)
        t3, m3, y3 = bench(jax.vmap(fwdfwd), x, args.repeats)
        mib = lambda b: f"{b / 2**20:.2f}" if b >= 0 else "n/a"
        diff = max(float(jnp.max(jnp.abs(y1 - y2))), float(jnp.max(jnp.abs(y3 - y2))))
        print(f"{d:>4} {1e3 * t1:>10.2f} {1e3 * t2:>11.2f} {1e3 * t3:>10.2f} {t2 / t1:>12.2f} "
              f"{mib(m1):>11} {mib(m2):>12} {mib(m3):>11} {diff:>11.2e}")


if __name__ == "__main__":
    main()
