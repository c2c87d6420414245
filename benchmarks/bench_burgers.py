"""Training throughput of pinnarena's loop against a plain hand-written JAX loop, in one run.

Same work on both sides: Burgers (ν = 0.01/π), 4 × 128 tanh MLP, 4096 residual points (+256
boundary, +256 initial), Adam lr 1e-3, fixed points, float32; derivatives by one forward-mode
pass for u_t and one second-order Taylor pass for (u, u_x, u_xx). The plain loop is what a
careful user writes by hand: parameters as a list of (W, b), one jitted ``lax.scan`` over steps.
Both are compiled ahead of time and timed over the same number of steps, best of ``repeats``
interleaved runs (so background load hits both alike); the printed ratio is
framework steps/s ÷ plain steps/s (≥ 0.9 is the issue-2 bar, ≥ 0.95 the issue-8 bar).

Also printed, for both loops: compile seconds; the compiled program's peak memory (XLA's buffer
assignment: arguments + outputs + temporaries, the same on every device kind); arithmetic per
step (XLA's cost analysis of the loop body, which it counts once) and the achieved FLOP/s, as a
fraction of the device's measured dense float32 matmul rate (``matmul_peak``: the best of a few
N × N products at the default matmul precision, i.e. the rate the MLP's own matmuls could reach;
TF32 on recent NVIDIA GPUs). On a GPU the device's own peak-memory counter is printed as well.

    python benchmarks/bench_burgers.py [--steps 500] [--repeats 3] [--points 4096]
"""
from __future__ import annotations

import argparse
import json
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.experimental import jet

NU = 0.01 / np.pi


def plain_loop(steps: int, n_res: int, width: int, depth: int, seed: int = 0):
    """Return (compiled run(params, opt_state) -> (params, opt_state), params, opt_state)."""
    key = jax.random.PRNGKey(seed)
    k_init, k_res, k_bc, k_ic = jax.random.split(key, 4)
    sizes = [2] + [width] * depth + [1]
    params = []
    for k, (a, b) in zip(jax.random.split(k_init, len(sizes) - 1), zip(sizes[:-1], sizes[1:])):
        params.append((jax.random.normal(k, (a, b)) * np.sqrt(2.0 / (a + b)), jnp.zeros((b,))))
    lo, hi = jnp.array([0.0, -1.0]), jnp.array([1.0, 1.0])
    x_res = lo + (hi - lo) * jax.random.uniform(k_res, (n_res, 2))
    x_bc = lo + (hi - lo) * jax.random.uniform(k_bc, (256, 2))
    x_bc = x_bc.at[:, 1].set(jnp.where(jnp.arange(256) % 2 == 0, -1.0, 1.0))
    x_ic = (lo + (hi - lo) * jax.random.uniform(k_ic, (256, 2))).at[:, 0].set(0.0)

    def u(p, x):
        h = 2.0 * (x - lo) / (hi - lo) - 1.0
        for w, b in p[:-1]:
            h = jnp.tanh(h @ w + b)
        w, b = p[-1]
        return h @ w + b

    def residual(p, x):
        f = lambda y: u(p, y)
        u_t = jax.jvp(f, (x,), (jnp.array([1.0, 0.0]),))[1]
        v, (v_x, v_xx) = jet.jet(f, (x,), ((jnp.array([0.0, 1.0]), jnp.zeros(2)),))
        return u_t + v * v_x - NU * v_xx

    def loss(p):
        r = jax.vmap(lambda x: residual(p, x))(x_res)
        b = jax.vmap(lambda x: u(p, x))(x_bc)
        i = jax.vmap(lambda x: u(p, x))(x_ic) + jnp.sin(jnp.pi * x_ic[:, 1:2])
        return jnp.mean(r**2) + jnp.mean(b**2) + jnp.mean(i**2)

    opt = optax.adam(1e-3)

    def step(carry, _):
        p, s = carry
        g = jax.grad(loss)(p)
        upd, s = opt.update(g, s, p)
        return (optax.apply_updates(p, upd), s), None

    @jax.jit
    def run(p, s):
        return jax.lax.scan(step, (p, s), None, length=steps)[0]

    opt_state = opt.init(params)
    t = time.perf_counter()
    compiled = run.lower(params, opt_state).compile()
    return compiled, params, opt_state, time.perf_counter() - t


def framework_loop(steps, n_res, width, depth):
    """The compiled training chunk of pinnarena for the same work (no evaluation inside)."""
    from pinnarena.config import resolve
    from pinnarena.training import build

    cfg = resolve("burgers", "adam", "none", 0, steps=steps, sets={
        "model.width": width, "model.depth": depth, "batch.residual": n_res,
        "batch.boundary": 256, "batch.initial": 256, "eval_every": steps})
    s = build(cfg)
    n = jnp.asarray(steps, jnp.int32)
    t = time.perf_counter()
    chunk = jax.jit(s.step).lower(s.init_carry, n).compile()
    return (lambda: chunk(s.init_carry, n)), chunk, time.perf_counter() - t


def program_stats(compiled) -> dict:
    """XLA's view of a compiled loop: FLOPs of one step (the loop body is counted once) and the
    program's peak memory in MB."""
    cost = compiled.cost_analysis()
    cost = cost[0] if isinstance(cost, (list, tuple)) else cost
    mem = compiled.memory_analysis()
    # arguments + outputs + temporaries (``peak_memory_in_bytes`` leaves out the temporaries on CPU)
    peak = mem.argument_size_in_bytes + mem.output_size_in_bytes + mem.temp_size_in_bytes - mem.alias_size_in_bytes
    return {"flops_per_step": float(cost.get("flops", float("nan"))), "peak_memory_mb": peak / 2**20}


def matmul_peak(n: int | None = None, repeats: int = 5) -> float:
    """Best measured FLOP/s of an n × n float32 matmul at the default precision (n: 8192 on a
    GPU, 2048 on a CPU)."""
    n = n or (8192 if jax.devices()[0].platform == "gpu" else 2048)
    a = jax.random.normal(jax.random.PRNGKey(0), (n, n), jnp.float32)
    f = jax.jit(lambda x: x @ x).lower(a).compile()
    jax.block_until_ready(f(a))
    best = np.inf
    for _ in range(repeats):
        t = time.perf_counter()
        jax.block_until_ready(f(a))
        best = min(best, time.perf_counter() - t)
    return 2.0 * n**3 / best


def measure(steps, n_res, width, depth, repeats):
    """Steps/s, compile seconds and program statistics of each loop; best-of-``repeats``
    seconds, runs interleaved so load drift hits both."""
    run_p, p, s, plain_compile = plain_loop(steps, n_res, width, depth)
    plain = lambda: run_p(p, s)
    fw, fw_compiled, fw_compile = framework_loop(steps, n_res, width, depth)
    jax.block_until_ready(plain())
    jax.block_until_ready(fw())
    best = {"plain": np.inf, "framework": np.inf}
    for _ in range(repeats):
        for name, f in (("plain", plain), ("framework", fw)):
            t = time.perf_counter()
            jax.block_until_ready(f())
            best[name] = min(best[name], time.perf_counter() - t)
    out = {}
    for name, compiled, compile_s in (("plain", run_p, plain_compile), ("framework", fw_compiled, fw_compile)):
        st = program_stats(compiled)
        out[name] = {"steps_per_s": steps / best[name], "compile_seconds": compile_s, **st,
                     "achieved_flops": st["flops_per_step"] * steps / best[name]}
    return out


def seeds_throughput(steps, n_res, width, depth, n_seeds, repeats):
    """Steps/s summed over seeds: ``n_seeds`` seeds in one vmapped program vs one after another."""
    from pinnarena.config import resolve
    from pinnarena.training import build

    sets = {"model.width": width, "model.depth": depth, "batch.residual": n_res,
            "batch.boundary": 256, "batch.initial": 256, "eval_every": steps}
    first = build(resolve("burgers", "adam", "none", 0, steps=steps, sets=sets))
    setups = [first] + [first.for_seed(resolve("burgers", "adam", "none", s, steps=steps, sets=sets))
                        for s in range(1, n_seeds)]
    n = jnp.asarray(steps, jnp.int32)
    single = jax.jit(setups[0].step).lower(setups[0].init_carry, n).compile()
    stacked = jax.tree_util.tree_map(lambda *xs: jnp.stack(xs), *[x.init_carry for x in setups])
    batched = jax.jit(jax.vmap(setups[0].step, in_axes=(0, None))).lower(stacked, n).compile()
    seq = lambda: [single(x.init_carry, n) for x in setups]
    vm = lambda: batched(stacked, n)
    jax.block_until_ready(seq()); jax.block_until_ready(vm())
    best = {"sequential": np.inf, "vmapped": np.inf}
    for _ in range(repeats):
        for name, f in (("sequential", seq), ("vmapped", vm)):
            t = time.perf_counter()
            jax.block_until_ready(f())
            best[name] = min(best[name], time.perf_counter() - t)
    return n_seeds * steps / best["sequential"], n_seeds * steps / best["vmapped"]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--points", type=int, default=4096)
    ap.add_argument("--width", type=int, default=128)
    ap.add_argument("--depth", type=int, default=4)
    ap.add_argument("--seeds", type=int, default=8, help="seeds for the vmap comparison (0: skip)")
    args = ap.parse_args()
    m = measure(args.steps, args.points, args.width, args.depth, args.repeats)
    peak = matmul_peak()
    extra = {}
    if args.seeds:
        seq, vm = seeds_throughput(max(args.steps // 4, 10), args.points, args.width, args.depth, args.seeds, args.repeats)
        extra = {"seeds": args.seeds, "sequential_seed_steps_per_s": round(seq, 2),
                 "vmapped_seed_steps_per_s": round(vm, 2), "ratio_vmapped_over_sequential": round(vm / seq, 3)}
    dev = jax.devices()[0]
    stats = dev.memory_stats() or {}
    loops = {name: {"steps_per_s": round(v["steps_per_s"], 2), "compile_seconds": round(v["compile_seconds"], 2),
                    "peak_memory_mb": round(v["peak_memory_mb"], 2),
                    "gflop_per_step": round(v["flops_per_step"] / 1e9, 4),
                    "achieved_gflops": round(v["achieved_flops"] / 1e9, 1),
                    "fraction_of_matmul_peak": round(v["achieved_flops"] / peak, 3)} for name, v in m.items()}
    print(json.dumps({
        "device": str(dev), "jax": jax.__version__,
        "problem": "burgers", "mlp": f"{args.depth}x{args.width} tanh", "points": args.points,
        "plain": loops["plain"], "framework": loops["framework"],
        "ratio_framework_over_plain": round(m["framework"]["steps_per_s"] / m["plain"]["steps_per_s"], 3),
        "matmul_peak_gflops": round(peak / 1e9, 1),
        # batching seeds adds no arithmetic per seed, so it can raise throughput at most to the
        # matmul rate: this bounds ratio_vmapped_over_sequential (roofline, up to fusion effects)
        "batching_gain_bound": round(peak / m["framework"]["achieved_flops"], 2),
        **({"device_peak_memory_mb": round(stats["peak_bytes_in_use"] / 2**20, 1)} if "peak_bytes_in_use" in stats else {}),
        **extra,
    }, indent=1))


if __name__ == "__main__":
    main()
