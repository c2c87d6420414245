r"""Switching optimizers: run ``first`` for the first ``switch_step`` updates, then ``second``.

A common PINN recipe (Raissi et al. 2019; PINNacle's Adam→L-BFGS row) is a first-order warm
start followed by a quasi-Newton phase. ``switch(first, second, switch_step)`` is an optax
transformation whose state holds both inner states; the branch is chosen with ``lax.cond`` so
only the active optimizer's update is executed. The second optimizer starts from a fresh state
at the switch.

Registered hybrids take ``total_steps`` (the run's step budget, passed by the training loop) and
``switch_fraction`` (default 0.5).
"""
from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from pinnarena.optimizers import register
from pinnarena.search_space import IntLog, Log
from pinnarena.optimizers.adam import adam
from pinnarena.optimizers.lbfgs import lbfgs


class SwitchState(NamedTuple):
    count: jax.Array
    first: Any
    second: Any


def switch(
    first: optax.GradientTransformation,
    second: optax.GradientTransformation,
    switch_step: int,
) -> optax.GradientTransformationExtraArgs:
    first = optax.with_extra_args_support(first)
    second = optax.with_extra_args_support(second)

    def init_fn(params):
        return SwitchState(jnp.zeros([], jnp.int32), first.init(params), second.init(params))

    def update_fn(updates, state, params=None, **extra):
        def run_first(_):
            u, s = first.update(updates, state.first, params, **extra)
            return u, SwitchState(state.count + 1, s, state.second)

        def run_second(_):
            u, s = second.update(updates, state.second, params, **extra)
            return u, SwitchState(state.count + 1, state.first, s)

        return jax.lax.cond(state.count < switch_step, run_first, run_second, None)

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)


def switch_step(total_steps: int, switch_fraction: float, switch_steps: int = 0) -> int:
    """The update at which a hybrid switches: ``switch_steps`` if > 0 (an absolute count, for
    runs that end on a time budget rather than at ``total_steps``), else
    round(switch_fraction · total_steps)."""
    if switch_steps < 0:
        raise ValueError(f"switch_steps must be >= 0, got {switch_steps}")
    if switch_steps > 0:
        return int(switch_steps)
    if not 0.0 <= switch_fraction <= 1.0:
        raise ValueError(f"switch_fraction must be in [0, 1], got {switch_fraction}")
    return int(round(switch_fraction * total_steps))


@register("adam-lbfgs", family="hybrid", line_search=True,
          search_space={"learning_rate": Log(1e-4, 1e-2), "switch_steps": IntLog(100, 10000),
                        "memory_size": IntLog(5, 100)})
def adam_lbfgs(total_steps: int = 1000, switch_fraction: float = 0.5, learning_rate: float = 1e-3, memory_size: int = 10,
               switch_steps: int = 0):
    """Adam for ``switch_fraction`` of the budget (or ``switch_steps`` updates), then L-BFGS
    (strong-Wolfe line search)."""
    return switch(
        adam(learning_rate=learning_rate),
        lbfgs(memory_size=memory_size),
        switch_step(total_steps, switch_fraction, switch_steps),
    )
