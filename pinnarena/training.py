r"""One training loop for every problem × optimizer × remedy.

The state of a run is a pytree ``Carry`` (parameters, optimizer and remedy states, collocation
batch, key, step, counters). One step is a pure function of the carry:

1. every ``resample_every`` steps (if > 0), redraw the resampled terms' points from
   ``fold_in(data_key, step)``;
2. losses L (K,) and the combined gradient g: when the remedy needs per-loss gradients at this
   step, G = [∇L_1; …; ∇L_K] is built from one reverse pass per loss (each over its own points)
   and the remedy returns g; a remedy whose weights depend on the losses alone (``loss_only``)
   gets L first and g = (∂L/∂θ)ᵀ w is one vector–Jacobian product; otherwise
   g = ∇ Σ_k w_k L_k with the remedy's current weights, in a single reverse pass;
3. the optimizer update, given ``value``, ``grad`` and ``value_fn`` (objective Σ w_k L_k) so that
   line-search methods work;
4. a divergence guard: a step that produces a non-finite loss or parameters marks the run diverged
   and ends its chunk; the driver then replaces that step's state by the state before it (a
   re-run of the chunk up to that step, see ``_run_chunk``), so the carry always holds the last
   finite state and later steps are no-ops. Nothing is selected or copied per step.

``eval_every`` steps run inside one compiled ``lax.while_loop``; between chunks the loop measures
train time (device work only, blocked), checks the time budget and divergence, and evaluates
against the reference (time kept out of ``train_seconds``). Compilation is ahead of time and
timed separately.
"""
from __future__ import annotations

import dataclasses
import math
import time
from pathlib import Path
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.flatten_util import ravel_pytree

from pinnarena import diagnostics, optimizers, problems, remedies
from pinnarena.config import RunConfig
from pinnarena.counting import linesearch_evals
from pinnarena.models import count_params, make_model


class Carry(NamedTuple):
    params: Any
    opt_state: Any
    rem_state: Any
    batch: Any
    step: jax.Array
    grad_evals: jax.Array
    fun_evals: jax.Array
    diverged_at: jax.Array  # -1 while finite
    last_update: Any  # the optimizer's updates of the last two steps, as parameter pytrees (align_inter)
    prev_update: Any
    buffers: Any  # non-trainable model arrays (Fourier matrix), seed-dependent
    data_key: jax.Array  # key for resampling collocation points


@dataclasses.dataclass
class Setup:
    """Everything built from a RunConfig before compilation."""

    cfg: RunConfig
    problem: Any
    model: Any
    optimizer: optax.GradientTransformationExtraArgs
    remedy: Any
    loss_vector: Callable  # (params, buffers, batch) -> (K,)
    step: Callable  # (carry, n_steps) -> carry: n_steps training steps
    evaluate: Callable  # (carry, (ref_x, ref_y)) -> metrics
    ref_data: Any
    init_carry: Carry
    n_params: int
    n_net_params: int
    unravel: Callable
    carry_for: Callable  # seed -> initial Carry of the same configuration with that seed
    predict: Callable  # (carry, x (k × d)) -> network outputs (k × output_dim)

    def for_seed(self, cfg: RunConfig) -> "Setup":
        """This setup for ``cfg``, which differs only in its seed (shares every built function)."""
        return dataclasses.replace(self, cfg=cfg, init_carry=self.carry_for(cfg.seed))


def _schedule(cfg: RunConfig, lr):
    s = cfg.schedule
    if not s.active or lr is None or callable(lr):
        return lr
    return optax.warmup_exponential_decay_schedule(
        init_value=0.0 if s.warmup_steps else lr,
        peak_value=lr,
        warmup_steps=s.warmup_steps,
        transition_steps=s.decay_steps,
        decay_rate=s.decay_rate,
    )


def make_optimizer(cfg: RunConfig) -> optax.GradientTransformationExtraArgs:
    hp = dict(cfg.opt)
    accepted = optimizers.hyperparameters(cfg.optimizer)
    if "total_steps" in accepted:
        hp.setdefault("total_steps", cfg.steps)
    if "learning_rate" in accepted:
        lr = hp.get("learning_rate", accepted["learning_rate"])
        if lr is not None:
            hp["learning_rate"] = _schedule(cfg, lr)
    return optimizers.make(cfg.optimizer, **hp)


VALIDATION_SEED = 20261203  # fixed: every run of a problem holds out the same validation points


def split_reference(n: int, fraction: float) -> tuple[np.ndarray, np.ndarray]:
    """(test indices, validation indices) of a reference with ``n`` points.

    With ``fraction`` = 0 every point is a test point (no validation set). Otherwise a fixed
    permutation (``VALIDATION_SEED``, independent of the run seed) puts round(fraction · n) points
    in the validation set and the rest in the test set: the two are disjoint, and the same for
    every run of the problem, so model selection (``pinnarena.tuning``) never sees a test point.
    The reported ``rel_l2`` is then measured on the test points only.
    """
    if fraction <= 0:
        return np.arange(n), np.arange(0)
    perm = np.random.default_rng(VALIDATION_SEED).permutation(n)
    k = int(round(fraction * n))
    return np.sort(perm[k:]), np.sort(perm[:k])


def build(cfg: RunConfig) -> Setup:
    """Construct model, data, optimizer, remedy and the pure step/eval functions."""
    jax.config.update("jax_enable_x64", cfg.precision == "float64")
    dtype = jnp.float64 if cfg.precision == "float64" else jnp.float32
    problem = problems.get(cfg.problem)
    optimizer = make_optimizer(cfg)
    remedy = remedies.make(cfg.remedy, **cfg.remedy_hp)
    if remedy.auto is not None:
        raise ValueError("remedy 'auto' is run by train_seeds (profile, then continue), not by build")
    if remedy.refresh_every != 1 and remedy.weights(remedies.init_state(remedy, problem.n_losses, 1)) is None:
        raise ValueError(f"remedy {cfg.remedy!r} has no weights, so it needs refresh_every = 1")
    model = make_model(cfg.model, problem.domain, problem.output_dim, adapters=remedy.adapters,
                       num_losses=problem.n_losses)

    terms = problem.terms
    cast = lambda tree: jax.tree_util.tree_map(
        lambda a: jnp.asarray(a, dtype) if jnp.issubdtype(jnp.asarray(a).dtype, jnp.floating) else jnp.asarray(a), tree)

    def initial_state(key):
        """Parameters, buffers and resampled terms' points, in one compiled call (not ~60 eager ops)."""
        k_init, k_data = jax.random.split(key)
        net, buffers = model.init(k_init)
        params = {"net": net, "pde": {k: jnp.asarray(v) for k, v in sorted(problem.unknowns.items())}}
        batch = {t.name: t.sample(jax.random.fold_in(k_data, k), cfg.batch[t.name])
                 for k, t in enumerate(terms) if t.resample}
        return cast(params), cast(buffers), cast(batch), k_init, k_data

    initial_state_c = jax.jit(initial_state)

    def seed_state(seed: int):
        params, buffers, batch, k_init, k_data = initial_state_c(jax.random.PRNGKey(seed))
        # fixed terms (data) may draw from NumPy references, so they are sampled eagerly, with the
        # same key that Problem.sample would use
        batch.update(cast({t.name: t.sample(jax.random.fold_in(k_data, k), cfg.batch[t.name])
                           for k, t in enumerate(terms) if not t.resample}))
        if cfg.model.pi_init:  # PirateNet output layer fitted by least squares (pinnarena/pirate_init.py)
            from pinnarena import pirate_init
            params = cast(pirate_init.fit(problem, model, params, buffers, batch, cfg.batch, k_init))
        return params, buffers, {t.name: batch[t.name] for t in terms}, k_data

    params, buffers, batch, k_data = seed_state(cfg.seed)
    flat, unravel = ravel_pytree(params)
    n = flat.shape[0]
    K = len(terms)
    resampled = [t for t in terms if t.resample]

    roles = [t.role for t in terms]
    if remedy.adapters:
        ev = remedy.adapters["eval_adapter"]
        eval_k = None if ev == "trunk" else (roles.index("residual") if ev == "residual" and "residual" in roles
                                             else (0 if ev == "residual" else int(ev)))
        if eval_k is not None and not 0 <= eval_k < K:
            raise ValueError(f"adapters eval_adapter {ev!r} is not a loss index below {K}")
        field = lambda p, bufs, k: (lambda x: model.apply(p["net"], bufs, x, k))
    else:
        eval_k = None
        field = lambda p, bufs, k: (lambda x: model.apply(p["net"], bufs, x))

    def term_residuals(term, k):
        def residuals(p, bufs, b):
            u = field(p, bufs, k)
            r = jax.vmap(lambda row: term.residual(u, row, p["pde"]))(b[term.name])
            return jnp.reshape(r, (r.shape[0], -1))

        return residuals

    residual_fns = [term_residuals(t, k) for k, t in enumerate(terms)]

    def term_loss(res_fn):
        def loss(p, bufs, b):
            r = res_fn(p, bufs, b)
            return jnp.mean(jnp.sum(r * r, axis=1))

        return loss

    causal = remedy.causal if (remedy.causal and problem.time_dependent and problem.input_names[0] == "t") else None
    if remedy.causal and causal is None:
        raise ValueError(f"causal weighting needs a time-dependent problem with t as first input; {problem.name!r} is not")

    def causal_chunks(term, res_fn):
        """(chunk losses L_i, causal weights w_i) of a residual term (pinnarena/remedies/causal.py)."""
        M, eps = causal["chunks"], causal["eps"]
        t_lo, t_hi = problem.domain[0][0], problem.domain[1][0]

        def chunks(p, bufs, b):
            r = res_fn(p, bufs, b)
            sq = jnp.sum(r * r, axis=1)
            t = b[term.name]["x"][:, 0]
            idx = jnp.clip(((t - t_lo) / (t_hi - t_lo) * M).astype(jnp.int32), 0, M - 1)
            Lc = jax.ops.segment_sum(sq, idx, M) / jnp.maximum(jax.ops.segment_sum(jnp.ones_like(sq), idx, M), 1.0)
            w = jax.lax.stop_gradient(jnp.exp(-eps * (jnp.cumsum(Lc) - Lc)))
            return Lc, w

        return chunks

    causal_fns = {k: causal_chunks(t, residual_fns[k]) for k, t in enumerate(terms) if causal and t.role == "residual"}

    def train_loss(k, res_fn):
        if k in causal_fns:
            return lambda p, bufs, b: (lambda Lw: jnp.mean(Lw[1] * Lw[0]))(causal_fns[k](p, bufs, b))
        return term_loss(res_fn)

    plain_losses = [term_loss(f) for f in residual_fns]
    term_losses = [train_loss(k, f) for k, f in enumerate(residual_fns)]  # what the optimizer minimises

    def loss_vector(p, bufs, b):
        return jnp.stack([f(p, bufs, b) for f in term_losses])

    def plain_loss_vector(p, bufs, b):
        return jnp.stack([f(p, bufs, b) for f in plain_losses])

    def ntk_traces(p, bufs, b):
        """τ_k = mean over the first ntk_points points of ‖∂r_k(x)/∂θ‖² (pinnarena/remedies/ntk.py)."""
        out = []
        for k, term in enumerate(terms):
            m = min(remedy.ntk_points, cfg.batch[term.name])
            sub = jax.tree_util.tree_map(lambda a: a[:m], b[term.name])

            def r_row(q, row, term=term, k=k):
                return jnp.ravel(term.residual(field(q, bufs, k), row, q["pde"]))

            sq = jax.vmap(lambda row: jnp.sum(ravel_pytree(jax.jacrev(r_row)(p, row))[0] ** 2))(sub)
            out.append(jnp.mean(sq))
        return jnp.stack(out)

    def scaled_residuals(p, bufs, b, w):
        """r with ‖r‖² = Σ_k w_k L_k: r = [√(w_k/N_k) r_k]_k, flattened (for Gauss–Newton)."""
        parts = []
        for k, f in enumerate(residual_fns):
            r = f(p, bufs, b)
            parts.append(jnp.sqrt(w[k] / r.shape[0]) * r.ravel())
        return jnp.concatenate(parts)

    def scaled_residual_jacobian(p, bufs, b, w):
        """(r, J): r = scaled_residuals(p, bufs, b, w) and J = ∂r/∂θ (m × n, columns in
        ``ravel_pytree(p)`` order), row by row from per-point reverse passes of each term's
        pointwise residual (pinnarena.curvature.pointwise_jacobian): about one batched backward
        pass, in memory m × n plus a bounded working set (for ENGD and Gauss–Newton)."""
        from pinnarena import curvature

        x, unravel_p = ravel_pytree(p)
        rs, Js = [], []
        for k, term in enumerate(terms):
            def r_point(z, row, term=term, k=k):
                q = unravel_p(z)
                return term.residual(field(q, bufs, k), row, q["pde"])

            r, J = curvature.pointwise_jacobian(r_point, x, b[term.name])
            s = jnp.sqrt(w[k] / r.shape[0]).astype(x.dtype)
            rs.append(s * r.ravel())
            Js.append(s * J.reshape(-1, x.shape[0]))
        return jnp.concatenate(rs), jnp.concatenate(Js)

    def per_loss_grads(p, bufs, b):
        vals, grads = zip(*[jax.value_and_grad(f)(p, bufs, b) for f in term_losses])
        return jnp.stack(vals), jnp.stack([ravel_pytree(g)[0] for g in grads])

    def weighted_value_and_grad(p, bufs, b, w):
        (val, L), g = jax.value_and_grad(lambda q: (lambda L: (jnp.dot(w, L), L))(loss_vector(q, bufs, b)), has_aux=True)(p)
        return val, L, g

    def combined_gradient(p, bufs, b, rem_state, step):
        def with_G(_):
            L, G = per_loss_grads(p, bufs, b)
            extra = {"ntk_traces": ntk_traces(p, bufs, b)} if remedy.needs_ntk else {}
            g, new_state = remedy.update(G, L, rem_state, **extra)
            w = remedy.weights(new_state)
            w = jnp.ones((K,), L.dtype) if w is None else w
            return jnp.dot(w, L), L, unravel(g.astype(flat.dtype)), new_state, w

        def from_losses(_):
            """Loss-only weightings: L and its pullback from one forward pass, g = (∂L/∂θ)ᵀ w."""
            L, pullback = jax.vjp(lambda q: loss_vector(q, bufs, b), p)
            w, new_state = remedy.loss_weights(L, rem_state)
            w = w.astype(L.dtype)
            (g,) = pullback(w)
            return jnp.dot(w, L), L, g, new_state, w

        def without_G(_):
            w = remedy.weights(rem_state)
            val, L, g = weighted_value_and_grad(p, bufs, b, w)
            return val, L, g, rem_state, w

        if remedy.refresh_every == 0:
            return without_G(None)
        refresh = from_losses if remedy.loss_only else with_G
        if remedy.refresh_every == 1:
            return refresh(None)
        return jax.lax.cond(step % remedy.refresh_every == 0, refresh, without_G, None)

    def resample(b, step, data_key):
        fresh = {t.name: t.sample(jax.random.fold_in(jax.random.fold_in(data_key, step), k), cfg.batch[t.name])
                 for k, t in enumerate(terms) if t.resample}
        fresh = jax.tree_util.tree_map(lambda a, old: a.astype(old.dtype), fresh, {k: b[k] for k in fresh})
        return {**b, **fresh}

    def step_fn(c: Carry) -> Carry:
        b = c.batch
        if cfg.resample_every > 0 and resampled:
            b = jax.lax.cond((c.step > 0) & (c.step % cfg.resample_every == 0), lambda bb: resample(bb, c.step, c.data_key), lambda bb: bb, b)
        val, L, g, rem_state, w = combined_gradient(c.params, c.buffers, b, c.rem_state, c.step)
        value_fn = lambda q: jnp.dot(w, loss_vector(q, c.buffers, b))
        residual_fn = lambda q: scaled_residuals(q, c.buffers, b, w)
        residual_jacobian_fn = lambda q: scaled_residual_jacobian(q, c.buffers, b, w)
        updates, opt_state = optimizer.update(g, c.opt_state, c.params, value=val, grad=g, value_fn=value_fn,
                                              residual_fn=residual_fn, residual_jacobian_fn=residual_jacobian_fn)
        new_params = optax.apply_updates(c.params, updates)
        # a non-finite entry makes its leaf's sum non-finite: one reduction per leaf, no copy
        total = sum(jnp.sum(a) for a in jax.tree_util.tree_leaves(new_params))
        ok = jnp.isfinite(val) & jnp.isfinite(total)
        ls = linesearch_evals(opt_state)
        return Carry(
            params=new_params,
            opt_state=opt_state,
            rem_state=rem_state,
            batch=b,
            step=c.step + 1,
            grad_evals=c.grad_evals + 1 + ls,
            fun_evals=c.fun_evals + 1 + ls,
            diverged_at=jnp.where(ok, c.diverged_at, c.step),
            last_update=updates,
            prev_update=c.last_update,
            buffers=c.buffers,
            data_key=c.data_key,
        )

    def chunk(c: Carry, n_steps) -> Carry:
        """Up to ``n_steps`` steps; stops after the first failing step (``diverged_at`` ≥ 0), whose
        non-finite state the caller replaces by the state before it (see ``_run_chunk``)."""
        def go(ic):
            return (ic[0] < n_steps) & (ic[1].diverged_at < 0)

        return jax.lax.while_loop(go, lambda ic: (ic[0] + 1, step_fn(ic[1])), (jnp.zeros_like(n_steps), c))[1]

    ref = problem.reference(cfg.reference_tier)
    test_idx, val_idx = split_reference(len(ref.points), cfg.validation_fraction)
    ref_data = tuple(jnp.asarray(a[idx], dtype) for idx in (test_idx, val_idx) for a in (ref.points, ref.values))

    def predict(c: Carry, x) -> jax.Array:
        """The network of ``c`` at points x (k × d) → (k × output_dim), as it is evaluated
        (with adapters: the configured evaluation adapter)."""
        return jax.lax.map(field(c.params, c.buffers, eval_k), x, batch_size=4096)

    def evaluate(c: Carry, ref_xy) -> dict:
        ref_x, ref_y, val_x, val_y = ref_xy
        pred = predict(c, ref_x)
        err = pred - ref_y
        by_out = jnp.linalg.norm(err, axis=0) / jnp.linalg.norm(ref_y, axis=0)
        _, G = per_loss_grads(c.params, c.buffers, c.batch)
        L = plain_loss_vector(c.params, c.buffers, c.batch)
        w = remedy.weights(c.rem_state)
        cw = [causal_fns[k](c.params, c.buffers, c.batch)[1] for k in causal_fns]
        return {
            "cosines": diagnostics.pairwise_cosines(G),
            "gram_eigs": diagnostics.gram_eigenvalues(G),
            "causal_weight_min": jnp.min(jnp.stack([jnp.min(x) for x in cw])) if cw else jnp.asarray(jnp.nan, L.dtype),
            "rel_l2": jnp.linalg.norm(err) / jnp.linalg.norm(ref_y),
            "val_rel_l2": (jnp.linalg.norm(predict(c, val_x) - val_y) / jnp.linalg.norm(val_y)) if val_x.shape[0]
            else jnp.asarray(jnp.nan, ref_y.dtype),
            "rel_l2_by_output": by_out,
            "losses": L,
            "weights": jnp.full((K,), jnp.nan, L.dtype) if w is None else w,
            "align_intra": diagnostics.alignment_score(G),
            "align_inter": diagnostics.alignment_score(jnp.stack([ravel_pytree(c.last_update)[0],
                                                                  ravel_pytree(c.prev_update)[0]])),
            "grad_norm_ratio": diagnostics.norm_ratio(G),
            "align_pairwise_mean": diagnostics.normalized_alignment(G),
            "conflict_pair_share": diagnostics.conflict_pair_share(G),
            "grad_norm": jnp.linalg.norm(jnp.sum(G, axis=0)),
            "pde": c.params["pde"],
        }

    opt_init_c = jax.jit(optimizer.init)
    rem_state0 = jax.jit(lambda: remedies.init_state(remedy, K, n))()
    zero = jnp.zeros([], jnp.int32)

    def carry_for(seed: int, state=None) -> Carry:
        """The initial carry of ``seed``, with the compiled initialisers of this setup."""
        params, buffers, batch, k_data = seed_state(seed) if state is None else state
        no_update = jax.tree_util.tree_map(jnp.zeros_like, params)
        return Carry(
            params=params,
            opt_state=opt_init_c(params),
            rem_state=rem_state0,
            batch=batch,
            step=zero,
            grad_evals=zero,
            fun_evals=zero,
            diverged_at=zero - 1,
            last_update=no_update,
            prev_update=no_update,
            buffers=buffers,
            data_key=k_data,
        )

    init = carry_for(cfg.seed, (params, buffers, batch, k_data))
    return Setup(cfg, problem, model, optimizer, remedy, loss_vector, chunk, evaluate, ref_data,
                 init, n, count_params(params["net"]["trunk"] if remedy.adapters else params["net"]), unravel,
                 carry_for, predict)


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


PROBE_STEPS = 8  # the first chunk's length when the chunk length follows the clock


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
            return _train_auto(cfgs, log, checkpoint_dir)
        return _train(cfgs, log, checkpoint_dir)


def _train_auto(cfgs: list[RunConfig], log, checkpoint_dir) -> list[Outcome]:
    """Diagnostic-first selection (pinnarena/remedies/auto.py): profile, classify, continue.

    The profile (remedy ``none``) of all seeds runs as one vmapped batch (or is taken from the
    same process's identical run of ``none``, see ``_RECENT``); each seed's regime is
    classified from its own profile, and the seeds that chose the same remedy continue together
    (one vmapped batch per choice, checkpointed in ``checkpoint_dir/auto-<choice>``). The profile
    is deterministic, so a resumed job re-profiles and finds the same groups.
    """
    from pinnarena.regime import row_cosines
    from pinnarena.remedies.auto import choice, classify_regime

    cfg = cfgs[0]
    a = remedies.make(cfg.remedy, **cfg.remedy_hp).auto
    P = min(a["profile_steps"], cfg.steps)
    profs = _train([dataclasses.replace(c, remedy="none", remedy_hp={}, steps=P, eval_every=a["profile_every"])
                    for c in cfgs], log, None, reuse=True)
    picks, extras = [], []
    for c, prof in zip(cfgs, profs):
        series = prof.curves[1:] or prof.curves
        regime, stats = classify_regime([row_cosines(r) for r in series], [r["grad_norm_ratio"] for r in series],
                                        a["conflict_eps"], a["persistent_share"], a["imbalance_ratio"])
        picks.append(choice(regime, a["reweighting"]))
        extras.append({"regime": regime, "auto_choice": picks[-1], **{f"regime_{k}": v for k, v in stats.items()}})
        if log:
            log(f"[{c.problem} auto seed {c.seed}] regime {regime} ({stats}) → {picks[-1]}")
    out: list[Outcome | None] = list(profs)
    groups: dict[str, list[int]] = {}
    for i, (prof, chosen) in enumerate(zip(profs, picks)):
        if P < cfg.steps and prof.status == "ok":
            groups.setdefault(chosen, []).append(i)
    for chosen, idx in groups.items():
        by_seed = {cfgs[i].seed: profs[i] for i in idx}
        hp = {"rank": a["rank"]} if chosen.startswith("adapters") else {}

        def start(setup: Setup, init: Carry, by_seed=by_seed) -> Carry:
            prof = by_seed[setup.cfg.seed]
            p = prof.carry.params
            net = {"trunk": p["net"], "adapters": init.params["net"]["adapters"]} if setup.remedy.adapters else p["net"]
            params = {"net": net, "pde": p["pde"]}
            return prof.carry._replace(params=params, opt_state=setup.optimizer.init(params), rem_state=init.rem_state,
                                       last_update=init.last_update, prev_update=init.prev_update)

        ckpt = None if checkpoint_dir is None else Path(checkpoint_dir) / f"auto-{chosen}"
        conts = _train([dataclasses.replace(cfgs[i], remedy=chosen, remedy_hp=hp, steps=cfg.steps - P,
                                            time_budget=_left(cfg, profs[i])) for i in idx],
                       log, ckpt, start=start, skip_first_eval=True)
        for i, cont in zip(idx, conts):
            prof = profs[i]
            cont.curves = prof.curves + cont.curves
            for r in cont.curves[len(prof.curves):]:
                r["train_seconds"] += prof.train_seconds
                r["train_cpu_seconds"] += prof.train_cpu_seconds
            cont.train_seconds += prof.train_seconds
            cont.train_cpu_seconds += prof.train_cpu_seconds
            cont.eval_seconds += prof.eval_seconds
            cont.compile_seconds += prof.compile_seconds
            cont.setup_seconds += prof.setup_seconds
            out[i] = cont
    for o, extra in zip(out, extras):
        o.extra = extra
    return out


def _left(cfg: RunConfig, used: Outcome) -> float | None:
    """The time budget left after phase ``used`` (auto's profile), on the budget's clock."""
    if cfg.time_budget is None:
        return None
    spent = used.train_seconds if cfg.time_budget_clock == "wall" else used.train_cpu_seconds
    return max(cfg.time_budget - spent, 1e-3)


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
        carry = jax.tree_util.tree_map(lambda *xs: jnp.stack(xs), *[x.init_carry for x in setups])
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

    def record(c: Carry, m) -> dict:
        row = {
            "step": int(c.step),
            "train_seconds": train_seconds / S,
            "train_cpu_seconds": cpu_seconds / S,  # the time budget's cpu clock (scoring uses the budget's clock)
            "grad_evals": int(c.grad_evals),
            "loss_total": float(np.sum(m["losses"])),
            "rel_l2": float(m["rel_l2"]),
            "val_rel_l2": float(m["val_rel_l2"]),
            "align_intra": float(m["align_intra"]),
            "align_inter": float(m["align_inter"]) if int(c.step) >= 2 else float("nan"),
            "grad_norm_ratio": float(m["grad_norm_ratio"]),
            "align_pairwise_mean": float(m["align_pairwise_mean"]),  # K-free, pinnarena.regime
            "conflict_pair_share": float(m["conflict_pair_share"]),
        }
        for name, v, w in zip(loss_names, m["losses"], m["weights"]):
            row[f"loss_{name}"] = float(v)
            row[f"weight_{name}"] = float(w)
        for a in range(len(loss_names)):
            row[f"gram_eig_{a}"] = float(m["gram_eigs"][a])
            for b_ in range(a + 1, len(loss_names)):
                row[f"cos_{loss_names[a]}__{loss_names[b_]}"] = float(m["cosines"][a, b_])
        row["causal_weight_min"] = float(m["causal_weight_min"])
        row["_metrics"] = m
        return row

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
            row = record(ci, per_seed(m, i))
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
            curves[i].append(record(fin, per_seed(_to_host(eval_c(carry, s.ref_data)), i)))
        err = {"ok": "", "diverged": f"non-finite loss at step {int(fin.diverged_at) if int(fin.diverged_at) >= 0 else int(fin.step)}",
               "timeout": f"train-time budget of {c.max_seconds} s exhausted after {int(fin.step)} steps"}[status[i]]
        outcomes.append(Outcome(
            status=status[i], error=err, steps_done=int(fin.step), grad_evals=int(fin.grad_evals),
            fun_evals=int(fin.fun_evals), train_seconds=train_seconds / S, eval_seconds=eval_seconds / S,
            compile_seconds=compile_seconds / S,
            curves=[{k: v for k, v in r.items() if k != "_metrics"} for r in curves[i]], final=curves[i][-1],
            n_params=s.n_params, n_net_params=s.n_net_params, problem=s.problem, setup=setups[i],
            carry=jax.tree_util.tree_map(jnp.asarray, fin), seeds_batched=S, setup_seconds=setup_seconds / S,
            preemptions=preemptions, train_cpu_seconds=cpu_seconds / S, stop_reason=stop_reason))
    return outcomes


def _fmt(cfg: RunConfig, row: dict) -> str:
    return (f"[{cfg.problem} {cfg.optimizer} {cfg.remedy} seed {cfg.seed}] step {row['step']:>7d}  "
            f"loss {row['loss_total']:.3e}  rel_l2 {row['rel_l2']:.3e}  "
            f"align {row['align_intra']:+.2f}  t {row['train_seconds']:.1f}s")
