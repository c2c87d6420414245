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
