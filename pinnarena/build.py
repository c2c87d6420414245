r"""``build``: a RunConfig → a ``Setup`` (everything a run needs, before compilation).

It resolves the problem, the optimizer (with its learning-rate schedule), the remedy and the
model, draws seed 0's initial state (network parameters, the inverse problem's unknowns, model
buffers, collocation points), and wires the pure functions of the other modules:

* pinnarena.losses — the loss assembly (per-loss values, gradients, residual vectors);
* pinnarena.step — ``step(carry, n)``, n training steps (optimizer + remedy);
* pinnarena.evaluation — ``evaluate(carry, ref_data)`` and ``predict(carry, x)``.

A ``Setup`` serves every seed of its configuration: ``for_seed`` swaps the initial carry and
shares every built function, so vmapped seeds and separate runs trace the same program. The
loop that compiles and drives these functions is pinnarena.training.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.flatten_util import ravel_pytree

from pinnarena import optimizers, problems, remedies
from pinnarena.config import RunConfig
from pinnarena.evaluation import make_evaluate, make_predict, reference_data
from pinnarena.losses import LossAssembly
from pinnarena.models import count_params, make_model
from pinnarena.step import Carry, make_chunk


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
    evaluate: Callable  # (carry, (ref_x, ref_y, val_x, val_y)) -> metrics
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
    """The configured optimizer, its learning rate under the configured schedule."""
    hp = dict(cfg.opt)
    accepted = optimizers.hyperparameters(cfg.optimizer)
    if "total_steps" in accepted:
        hp.setdefault("total_steps", cfg.steps)
    if "learning_rate" in accepted:
        lr = hp.get("learning_rate", accepted["learning_rate"])
        if lr is not None:
            hp["learning_rate"] = _schedule(cfg, lr)
    return optimizers.make(cfg.optimizer, **hp)


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
    seed_state = _seed_initialiser(cfg, problem, model, dtype)
    params, buffers, batch, k_data = seed_state(cfg.seed)
    flat, unravel = _ravel_shape(params)
    n = flat.shape[0]
    losses = LossAssembly(cfg, problem, model, remedy)
    chunk = make_chunk(cfg, optimizer, remedy, losses, unravel, flat.dtype)
    predict = make_predict(losses)
    evaluate = make_evaluate(losses, remedy, predict)
    ref_data = reference_data(problem, cfg, dtype)

    opt_init_c = jax.jit(optimizer.init)
    rem_state0 = jax.jit(lambda: remedies.init_state(remedy, losses.K, n))()
    # constants are made on the host and device_put: an eager jnp.zeros / x - 1 compiles one small
    # XLA program per shape (a second of setup per problem on a CPU), device_put compiles none
    zero, minus_one = jax.device_put(np.zeros([], np.int32)), jax.device_put(np.full([], -1, np.int32))

    def carry_for(seed: int, state=None) -> Carry:
        """The initial carry of ``seed``, with the compiled initialisers of this setup."""
        params, buffers, batch, k_data = seed_state(seed) if state is None else state
        no_update = jax.tree_util.tree_map(lambda a: jax.device_put(np.zeros(a.shape, a.dtype)), params)
        return Carry(params=params, opt_state=opt_init_c(params), rem_state=rem_state0, batch=batch, step=zero,
                     grad_evals=zero, fun_evals=zero, diverged_at=minus_one, last_update=no_update,
                     prev_update=no_update, buffers=buffers, data_key=k_data)

    init = carry_for(cfg.seed, (params, buffers, batch, k_data))
    n_net = count_params(params["net"]["trunk"] if remedy.adapters else params["net"])
    return Setup(cfg, problem, model, optimizer, remedy, losses.loss_vector, chunk, evaluate, ref_data,
                 init, n, n_net, unravel, carry_for, predict)


def _ravel_shape(params) -> tuple[jax.ShapeDtypeStruct, Callable]:
    """(shape and dtype of the flat parameter vector, its unravel function), without computing
    the vector: ``ravel_pytree`` on the arrays runs eager concatenations (one small compiled
    program each on a CPU); under ``eval_shape`` nothing is compiled, and the unravel function
    it returns holds only the static sizes, shapes and dtypes."""
    box = {}

    def flat(p):
        v, box["unravel"] = ravel_pytree(p)
        return v

    return jax.eval_shape(flat, params), box["unravel"]


def _seed_initialiser(cfg: RunConfig, problem, model, dtype) -> Callable:
    """``seed -> (params, buffers, batch, data key)``: the initial state of a seed.

    Parameters θ = {"net": network, "pde": the inverse problem's unknowns at their initial
    guesses}, the model's buffers (e.g. a Fourier-feature matrix) and the resampled terms' points
    come from one compiled call on ``PRNGKey(seed)`` split into (init key, data key); term k
    draws from ``fold_in(data key, k)``. Fixed terms (data from NumPy references) are sampled
    eagerly with the same keys. With ``model.pi_init`` the PirateNet output layer is fitted by
    least squares (pinnarena.pirate_init).
    """
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
        batch.update(cast({t.name: t.sample(jax.random.fold_in(k_data, k), cfg.batch[t.name])
                           for k, t in enumerate(terms) if not t.resample}))
        if cfg.model.pi_init:  # PirateNet output layer fitted by least squares (pinnarena/pirate_init.py)
            from pinnarena import pirate_init
            params = cast(pirate_init.fit(problem, model, params, buffers, batch, cfg.batch, k_init))
        return params, buffers, {t.name: batch[t.name] for t in terms}, k_data

    return seed_state
