"""Training throughput of pinnarena against DeepXDE (PyTorch backend) on the same work, in one run.

Same problem as ``bench_burgers.py``: Burgers u_t + u u_x − (0.01/π) u_xx = 0 on [0, 1] × [−1, 1],
u(0, x) = −sin πx, u(t, ±1) = 0; a 4 × 128 tanh MLP (Glorot-normal weights, zero biases);
4096 residual + 256 boundary + 256 initial points, fixed; mean-squared losses summed with unit
weights; Adam lr 1e-3; float32; CPU.

* pinnarena: the compiled training chunk (``training.build(...).step``, one ``lax.scan`` over the
  steps; u_t by one forward-mode JVP, (u, u_x, u_xx) by one second-order Taylor pass).
* DeepXDE ≥ 1.11 with ``DDE_BACKEND=pytorch``: ``dde.data.TimePDE`` + ``dde.nn.FNN`` +
  ``Model.compile("adam", lr=1e-3)``, ``Model.train``; derivatives by reverse-mode autograd
  (``dde.grad.jacobian`` / ``dde.grad.hessian``). DeepXDE evaluates the PDE residual on its
  domain points *and* on the boundary and initial points, so it is given 4096 − 512 = 3584 domain
  points: 4096 residual points on both sides. (It also differentiates the 512 duplicated
  boundary/initial inputs, part of its own per-step cost.) Each ``Model.train`` call also
  evaluates the losses at its start and end (no backward pass; ~1 % of a 100-step call).

Both use the machine's cores: ``torch.set_num_threads(--threads)`` (default: all cores, as XLA's
CPU backend does). Each side is warmed up once (excluded: compilation, DeepXDE's set-up), then
``--repeats`` timed runs of ``--steps`` steps alternate between the two (so background load hits
both alike); the best of each is reported, with the ratio pinnarena / DeepXDE steps/s and the
1-minute load average before and after.

    DDE_BACKEND=pytorch python benchmarks/bench_peers.py [--steps 200] [--repeats 3]

Needs the optional extra ``peers`` (``pip install -e '.[peers]'``); without deepxde/torch it
prints a "skipped" line and exits 0.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time

import numpy as np

NU = 0.01 / np.pi
SKIP = "skipped: deepxde/torch not installed (pip install -e '.[peers]')"


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def deepxde_runner(steps: int, n_res: int, n_bc: int, n_ic: int, width: int, depth: int, threads: int):
    """Return (train(n_steps) -> None, info) for DeepXDE/PyTorch on this work."""
    os.environ.setdefault("DDE_BACKEND", "pytorch")
    import torch

    torch.set_num_threads(threads)
    import deepxde as dde

    if dde.backend.backend_name != "pytorch":
        raise RuntimeError(f"DeepXDE backend is {dde.backend.backend_name!r}; set DDE_BACKEND=pytorch")
    dde.config.set_default_float("float32")
    dde.config.set_random_seed(0)

    geom = dde.geometry.GeometryXTime(dde.geometry.Interval(-1.0, 1.0), dde.geometry.TimeDomain(0.0, 1.0))

    def pde(x, y):  # x = (x, t)
        u_x = dde.grad.jacobian(y, x, i=0, j=0)
        u_t = dde.grad.jacobian(y, x, i=0, j=1)
        u_xx = dde.grad.hessian(y, x, i=0, j=0)
        return u_t + y * u_x - NU * u_xx

    bc = dde.icbc.DirichletBC(geom, lambda x: np.zeros((len(x), 1)), lambda _, on_boundary: on_boundary)
    ic = dde.icbc.IC(geom, lambda x: -np.sin(np.pi * x[:, 0:1]), lambda _, on_initial: on_initial)
    data = dde.data.TimePDE(geom, pde, [bc, ic], num_domain=n_res - n_bc - n_ic, num_boundary=n_bc,
                            num_initial=n_ic, train_distribution="pseudo", num_test=256)
    net = dde.nn.FNN([2] + [width] * depth + [1], "tanh", "Glorot normal")
    model = dde.Model(data, net)
    model.compile("adam", lr=1e-3)

    def train(n):
        model.train(iterations=n, display_every=10 * n, verbose=0)

    info = {"deepxde": dde.__version__, "torch": torch.__version__, "torch_threads": torch.get_num_threads(),
            "residual_points": int(len(data.train_x_all)), "bc_points": int(data.num_bcs[0]),
            "ic_points": int(data.num_bcs[1])}
    return train, info


def pinnarena_runner(steps: int, n_res: int, n_bc: int, n_ic: int, width: int, depth: int):
    """Return (run() -> None, info): the compiled chunk of ``steps`` steps."""
    import jax
    import jax.numpy as jnp

    from pinnarena.config import resolve
    from pinnarena.training import build

    cfg = resolve("burgers", "adam", "none", 0, steps=steps, sets={
        "model.width": width, "model.depth": depth, "batch.residual": n_res,
        "batch.boundary": n_bc, "batch.initial": n_ic, "eval_every": steps})
    s = build(cfg)
    n = jnp.asarray(steps, jnp.int32)
    t = time.perf_counter()
    chunk = jax.jit(s.step).lower(s.init_carry, n).compile()
    compile_s = time.perf_counter() - t
    return (lambda: jax.block_until_ready(chunk(s.init_carry, n))), {
        "jax": jax.__version__, "device": str(jax.devices()[0]), "compile_seconds": round(compile_s, 2)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--points", type=int, default=4096)
    ap.add_argument("--width", type=int, default=128)
    ap.add_argument("--depth", type=int, default=4)
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="torch.set_num_threads")
    args = ap.parse_args(argv)
    try:
        os.environ.setdefault("DDE_BACKEND", "pytorch")
        import torch  # noqa: F401
        import deepxde  # noqa: F401
    except ImportError:
        print(SKIP)
        return 0
    n_bc = n_ic = 256
    load0 = os.getloadavg()[0]
    dde_train, dde_info = deepxde_runner(args.steps, args.points, n_bc, n_ic, args.width, args.depth, args.threads)
    pa_run, pa_info = pinnarena_runner(args.steps, args.points, n_bc, n_ic, args.width, args.depth)
    dde_train(args.steps)  # warm-up (excluded)
    pa_run()
    best = {"deepxde": np.inf, "pinnarena": np.inf}
    runs = {"deepxde": [], "pinnarena": []}
    for _ in range(args.repeats):
        for name, f in (("deepxde", lambda: dde_train(args.steps)), ("pinnarena", pa_run)):
            t = time.perf_counter()
            f()
            dt = time.perf_counter() - t
            runs[name].append(round(args.steps / dt, 2))
            best[name] = min(best[name], dt)
    sps = {k: args.steps / v for k, v in best.items()}
    print(json.dumps({
        "problem": "burgers", "mlp": f"{args.depth}x{args.width} tanh", "points": [args.points, n_bc, n_ic],
        "steps": args.steps, "repeats": args.repeats,
        "cpu": _cpu_model(), "cores": os.cpu_count(), "python": platform.python_version(),
        **pa_info, **dde_info,
        "deepxde_steps_per_s": round(sps["deepxde"], 2), "pinnarena_steps_per_s": round(sps["pinnarena"], 2),
        "all_runs_steps_per_s": runs,
        "ratio_pinnarena_over_deepxde": round(sps["pinnarena"] / sps["deepxde"], 3),
        "loadavg_1min_before_after": [round(load0, 2), round(os.getloadavg()[0], 2)],
    }, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
