r"""The training loop: compile a run's step and evaluation, drive them in chunks, and report.

``train_seeds`` trains one configuration for one or several seeds (stacked under ``jax.vmap`` in
one compiled program). What a step and an evaluation compute is built elsewhere
(pinnarena.build → pinnarena.losses, pinnarena.step, pinnarena.evaluation); this module owns the
clock and the control flow:

* **compile** ahead of time (timed as ``compile_seconds``), the chunk ``step(carry, n)`` and
  ``evaluate(carry, ref_data)``;
* **chunks**: ``eval_every`` steps run inside one ``lax.while_loop``, shortened to land on the
  time budget and to evaluate every ``eval_seconds`` (``_chunk_steps``); between chunks the
  loop measures train time (device work only, blocked; wall and process CPU clocks), evaluates
  (time kept out of ``train_seconds``), and stops on the step budget, the time budget
  (``stop_reason = time_budget``, a normal end) or ``max_seconds`` (status ``timeout``);
* **the divergence guard**: a step that produces a non-finite loss or parameters ends its
  chunk; ``_run_chunk`` re-runs the chunk up to the step before it, so the carry always holds the
  last finite state, and the run's status is ``diverged``. Nothing is selected per step;
* **checkpoints** every ``checkpoint_every`` evaluations (pinnarena.checkpoint), resumed when a
  matching one is found;
* an ``Outcome`` per seed: status, counters, clocks, curves (pinnarena.evaluation.curve_row)
  and the final (last finite) carry. The remedy ``auto`` runs in two phases
  (pinnarena.auto_training).
"""
from __future__ import annotations

import dataclasses
import math
import time
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np

from pinnarena import remedies
from pinnarena.build import Setup, build, make_optimizer  # noqa: F401  (the public entry points)
from pinnarena.config import RunConfig
from pinnarena.evaluation import VALIDATION_SEED, curve_row, split_reference  # noqa: F401
from pinnarena.step import Carry

__all__ = ["Outcome", "Setup", "VALIDATION_SEED", "build", "make_optimizer", "split_reference", "train", "train_seeds"]

@dataclasses.dataclass
class Outcome:
    status: str
    error: str
    steps_done: int
    grad_evals: int
    fun_evals: int
    train_seconds: float
    eval_seconds: float
    compile_seconds: float
    curves: list[dict]
    final: dict
    n_params: int
    n_net_params: int
    problem: Any
    setup: Setup  # what was built, for post-hoc analysis (stationary points)
    carry: Carry  # the final (last finite) training state
    seeds_batched: int = 1  # how many seeds shared the compiled program (vmap)
    setup_seconds: float = 0.0  # building model, data, optimizer and reference
    preemptions: int = 0  # times the run was resumed from a checkpoint
    extra: dict = dataclasses.field(default_factory=dict)  # summary fields of special remedies (auto)
    train_cpu_seconds: float = 0.0  # the process's CPU seconds in training, per seed
    stop_reason: str = "steps"  # steps | time_budget | max_seconds (or the step budget when diverged)


PROBE_STEPS = 1  # the first chunk's length when the chunk length follows the clock (one step: a dense
# Newton step at 921 parameters takes ~25 s, so a longer probe would overrun a 10 s budget many times)


def _chunk_steps(cfg: RunConfig, done: int, used: float) -> int:
    """Steps of the next chunk: ``eval_every``, shortened to land on the time budget and to
    evaluate every ``eval_seconds``. Train time per step is the mean so far; before any step
    is timed a probe of ``PROBE_STEPS`` steps measures it. A chunk ends at most one step past
    the budget. Chunk boundaries only decide where evaluations happen: the trajectory is the
    same for any chunking, so a rerun with the steps done reproduces it."""
    n = min(cfg.eval_every, cfg.steps - done)
    if cfg.time_budget is None and cfg.eval_seconds is None:
        return n
    if done == 0:
        return min(n, PROBE_STEPS)
    per_step = max(used / done, 1e-9)
    if cfg.time_budget is not None:
        n = min(n, max(1, math.ceil((cfg.time_budget - used) / per_step)))
    if cfg.eval_seconds is not None:
        n = min(n, max(1, round(cfg.eval_seconds / per_step)))
    return n


def _to_host(tree):
    return jax.tree_util.tree_map(lambda a: np.asarray(a), tree)


def _index(tree, i):
    return jax.tree_util.tree_map(lambda a: a[i], tree)


def train(cfg: RunConfig, log: Callable[[str], None] | None = None, checkpoint_dir=None) -> Outcome:
    """Run one training job; never raises for divergence (status says what happened)."""
    return train_seeds([cfg], log, checkpoint_dir)[0]


def train_seeds(cfgs: list[RunConfig], log: Callable[[str], None] | None = None,
                checkpoint_dir=None) -> list[Outcome]:
    """Train several seeds of one configuration in one compiled program (``jax.vmap``).

    The configs must differ only in ``seed``. Each seed's carry (initialisation, collocation
    points, Fourier buffers, data key) is built exactly as for a separate run and the carries are
    stacked on a leading axis, so per-seed results equal separate runs up to floating-point
    reduction order. Under vmap, ``lax.cond`` on per-seed predicates evaluates both branches
    (e.g. a periodic remedy refresh then costs per-loss gradients every step). A diverged seed is
    rolled back to its last finite state and frozen while the others go on. ``train_seconds`` of each seed is the
    batch's wall time divided by the number of seeds (compute per seed); ``seeds_batched`` says
    how many shared it.

    With ``checkpoint_dir``, the state is saved there every ``checkpoint_every`` evaluations
    (see pinnarena.checkpoint) and a matching checkpoint found at start is resumed.
    """
    base = {k: v for k, v in cfgs[0].to_dict().items() if k != "seed"}
    for c in cfgs[1:]:
        if {k: v for k, v in c.to_dict().items() if k != "seed"} != base:
            raise ValueError("train_seeds: the configs must differ only in their seed")
    if len({c.seed for c in cfgs}) != len(cfgs):
        raise ValueError("train_seeds: seeds must be distinct")
    cfg = cfgs[0]
    with jax.default_matmul_precision(None if cfg.matmul_precision == "default" else cfg.matmul_precision):
        if remedies.parts(cfg.remedy)[1] == "auto":
            from pinnarena.auto_training import train_auto
            return train_auto(cfgs, log, checkpoint_dir)
        return _train(cfgs, log, checkpoint_dir)


# Outcomes of the latest trainings in this process, by the run ids of their configs. The profile
# of `auto` (``reuse=True``) takes one from here when the job has just trained the same
# configuration: with remedy `none`, the profile's budget and its evaluation cadence, e.g. the
# cell `none` beside `auto` when the profile is the whole budget. Nothing else reads it, so a
# configuration trained twice on purpose is trained twice.
_RECENT: dict[tuple[str, ...], list[Outcome]] = {}
_RECENT_SIZE = 2


def _copy(o: Outcome) -> Outcome:
    return dataclasses.replace(o, curves=[dict(r) for r in o.curves], extra=dict(o.extra))


def _run_chunk(chunk_c, carry: Carry, n: int, steps_arg, S: int) -> Carry:
    """``n`` steps of every seed, with the divergence guard applied after the fact.

    The compiled chunk stops a seed after its first failing step k (non-finite loss or parameters)
    and leaves that step's state in the carry. Such a seed is then re-run from the chunk's start
    for the k − step₀ steps before k (the same program, so the same arithmetic), which gives its
    last finite state, marked ``diverged_at = k``; later chunks leave it as it is. This costs a
    re-run only when a seed diverges, instead of a select over the whole state at every step.
    """
    new = jax.block_until_ready(chunk_c(carry, steps_arg(n)))
    start_step = np.atleast_1d(np.asarray(carry.step))
    was = np.atleast_1d(np.asarray(carry.diverged_at)) >= 0
    at = np.atleast_1d(np.asarray(new.diverged_at))
    fresh = (at >= 0) & ~was
    while fresh.any():
        redo = jax.block_until_ready(chunk_c(carry, steps_arg(np.where(fresh, at - start_step, 0))))
        again = np.atleast_1d(np.asarray(redo.diverged_at))
        if (again[fresh] >= 0).any():  # a non-deterministic device failed earlier on the re-run
            at = np.where(fresh & (again >= 0), again, at)
            continue
        redo = redo._replace(diverged_at=jnp.asarray(at if S > 1 else at[0], jnp.int32))  # others: from `new`
        if S == 1:
            return redo
        pick = lambda a, b: jnp.where(jnp.asarray(fresh).reshape((S,) + (1,) * (a.ndim - 1)), a, b)
        return jax.tree_util.tree_map(pick, redo, new)
    return new


def _train(cfgs: list[RunConfig], log, checkpoint_dir, start=None, skip_first_eval=False,
           reuse=False) -> list[Outcome]:
    """Train ``cfgs`` (one config, several seeds); with ``reuse``, take this process's identical training."""
    key = tuple(c.run_id for c in cfgs)
    if reuse and start is None and not skip_first_eval and key in _RECENT:
        if log:
            log(f"[{cfgs[0].problem}] seeds {[c.seed for c in cfgs]}: the same configuration was trained "
                "earlier in this process; reusing its outcome")
        return [_copy(o) for o in _RECENT[key]]
    outs = _train_uncached(cfgs, log, checkpoint_dir, start, skip_first_eval)
    if start is None and not skip_first_eval:
        _RECENT[key] = [_copy(o) for o in outs]
        while len(_RECENT) > _RECENT_SIZE:
            _RECENT.pop(next(iter(_RECENT)))
    return outs


def _train_uncached(cfgs: list[RunConfig], log, checkpoint_dir, start, skip_first_eval) -> list[Outcome]:
    from pinnarena import checkpoint

    t0 = time.perf_counter()
    cfg = cfgs[0]
    S = len(cfgs)
    first = build(cfg)
    setups = [first] + [first.for_seed(c) for c in cfgs[1:]]
    if start is not None:
        for x in setups:
            x.init_carry = start(x, x.init_carry)
    s = setups[0]
    setup_seconds = time.perf_counter() - t0
    if S == 1:
        carry, step, evaluate = s.init_carry, s.step, s.evaluate
    else:
        # stacked on the host: jnp.stack would compile a program per leaf shape (setup cost)
        carry = jax.tree_util.tree_map(lambda *xs: jax.device_put(np.stack([np.asarray(x) for x in xs])),
                                       *[x.init_carry for x in setups])
        step = jax.vmap(s.step)  # steps per seed: a rolled-back seed re-runs alone
        evaluate = jax.vmap(s.evaluate, in_axes=(0, None))
    steps_arg = lambda n: jnp.asarray(np.reshape(n, -1)[0] if S == 1 else np.broadcast_to(n, (S,)), jnp.int32)
    chunk_c = jax.jit(step).lower(carry, steps_arg(min(cfg.eval_every, cfg.steps))).compile()
    eval_c = jax.jit(evaluate).lower(carry, s.ref_data).compile()
    compile_seconds = time.perf_counter() - t0 - setup_seconds

    per_seed = (lambda tree, i: tree) if S == 1 else _index
    curves: list[list[dict]] = [[] for _ in cfgs]
    finished = [False] * S  # diverged seeds stop recording
    status = ["ok"] * S
    finals: list[Carry | None] = [None] * S
    train_seconds = eval_seconds = cpu_seconds = 0.0

    def budget_used() -> float:
        """Train time per seed on the budget's clock (a vmapped batch shares its wall time)."""
        return (train_seconds if cfg.time_budget_clock == "wall" else cpu_seconds) / S
    loss_names = s.problem.loss_names

    def do_eval(c):
        nonlocal eval_seconds
        te = time.perf_counter()
        m = _to_host(eval_c(c, s.ref_data))
        eval_seconds += time.perf_counter() - te
        host = _to_host(c)
        for i in range(S):
            if finished[i]:
                continue
            ci = per_seed(host, i)
            row = curve_row(ci, per_seed(m, i), loss_names, train_seconds / S, cpu_seconds / S)
            finite = np.isfinite(row["loss_total"]) and np.isfinite(row["rel_l2"])
            if finite:
                curves[i].append(row)
                finals[i] = ci
            if int(ci.diverged_at) >= 0 or not finite:
                finished[i], status[i] = True, "diverged"
            if log:
                log(_fmt(cfgs[i], row))

    fp = checkpoint.fingerprint([c.run_id for c in cfgs], carry)
    resumed = checkpoint.load(checkpoint_dir, carry, fp) if checkpoint_dir else None
    preemptions = 0
    if resumed is not None:
        carry, meta = resumed
        train_seconds, eval_seconds = meta["train_seconds"], meta["eval_seconds"]
        cpu_seconds = meta.get("cpu_seconds", 0.0)
        curves, finished, status = meta["curves"], meta["finished"], meta["status"]
        finals = [None if f is None else per_seed(_to_host(carry), i) for i, f in enumerate(meta["finals"])]
        done, preemptions = meta["done"], meta["preemptions"] + 1
        if log:
            log(f"resumed from {checkpoint_dir} at step {done} (preemption {preemptions})")
    else:
        if skip_first_eval:  # continuing another phase: its last evaluation is this state
            finals = [per_seed(_to_host(carry), i) for i in range(S)]
        else:
            do_eval(carry)
        done = 0
    n_evals = 0
    stop_reason = "steps"
    while done < cfg.steps and not all(finished):
        n = _chunk_steps(cfg, done, budget_used())
        tt, tc = time.perf_counter(), time.process_time()
        carry = _run_chunk(chunk_c, carry, n, steps_arg, S)
        train_seconds += time.perf_counter() - tt
        cpu_seconds += time.process_time() - tc
        done += n
        do_eval(carry)
        n_evals += 1
        if checkpoint_dir and cfg.checkpoint_every and n_evals % cfg.checkpoint_every == 0 and done < cfg.steps:
            # ``finals`` of seeds still running equal the current carry; diverged seeds are rolled
            # back and frozen (``_run_chunk``), so the carry also holds their last finite state.
            checkpoint.save(checkpoint_dir, carry, {
                "train_seconds": train_seconds, "eval_seconds": eval_seconds, "cpu_seconds": cpu_seconds, "done": done,
                "curves": [[{k: v for k, v in r.items() if k != "_metrics"} for r in c] for c in curves],
                "finished": finished, "status": status, "finals": [None if f is None else 1 for f in finals],
                "preemptions": preemptions}, fp)
        if cfg.max_seconds is not None and train_seconds / S > cfg.max_seconds and done < cfg.steps:
            status = ["timeout" if st == "ok" else st for st in status]
            stop_reason = "max_seconds"
            break
        if cfg.time_budget is not None and budget_used() >= cfg.time_budget and done < cfg.steps:
            stop_reason = "time_budget"
            break

    outcomes = []
    for i, c in enumerate(cfgs):
        fin = finals[i]
        if fin is None:  # not even the initial evaluation was finite
            fin = per_seed(_to_host(carry), i)
            curves[i].append(curve_row(fin, per_seed(_to_host(eval_c(carry, s.ref_data)), i), loss_names,
                                       train_seconds / S, cpu_seconds / S))
        err = {"ok": "", "diverged": f"non-finite loss at step {int(fin.diverged_at) if int(fin.diverged_at) >= 0 else int(fin.step)}",
               "timeout": f"train-time budget of {c.max_seconds} s exhausted after {int(fin.step)} steps"}[status[i]]
        outcomes.append(Outcome(
            status=status[i], error=err, steps_done=int(fin.step), grad_evals=int(fin.grad_evals),
            fun_evals=int(fin.fun_evals), train_seconds=train_seconds / S, eval_seconds=eval_seconds / S,
            compile_seconds=compile_seconds / S,
            curves=[{k: v for k, v in r.items() if k != "_metrics"} for r in curves[i]], final=curves[i][-1],
            n_params=s.n_params, n_net_params=s.n_net_params, problem=s.problem, setup=setups[i],
            carry=jax.device_put(fin), seeds_batched=S, setup_seconds=setup_seconds / S,
            preemptions=preemptions, train_cpu_seconds=cpu_seconds / S, stop_reason=stop_reason))
    return outcomes


def _fmt(cfg: RunConfig, row: dict) -> str:
    return (f"[{cfg.problem} {cfg.optimizer} {cfg.remedy} seed {cfg.seed}] step {row['step']:>7d}  "
            f"loss {row['loss_total']:.3e}  rel_l2 {row['rel_l2']:.3e}  "
            f"align {row['align_intra']:+.2f}  t {row['train_seconds']:.1f}s")
