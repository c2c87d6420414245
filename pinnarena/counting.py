"""Counting the objective evaluations that an optimizer's line search performs.

An optimizer state may carry a field ``num_linesearch_steps`` (optax's zoom and backtracking
line searches do): the number of trial points evaluated during the last update, each costing one
function and one gradient evaluation. When several such fields are nested (a switching
optimizer wraps two), the shallowest one is authoritative.
"""
from __future__ import annotations

import jax.numpy as jnp
from optax import tree_utils as otu


def linesearch_evals(state) -> jnp.ndarray:
    found = otu.tree_get_all_with_path(state, "num_linesearch_steps")
    if not found:
        return jnp.zeros([], jnp.int32)
    path, value = min(found, key=lambda pv: len(pv[0]))
    return jnp.asarray(value, jnp.int32)


def rejected_steps(state) -> int | None:
    """Updates rejected by ``optimizers/_monotone.py``'s safeguard (its ``num_rejected`` fields,
    summed: a switching optimizer may hold two), or None when the optimizer has none."""
    found = otu.tree_get_all_with_path(state, "num_rejected")
    return int(sum(int(v) for _, v in found)) if found else None
