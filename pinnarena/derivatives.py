r"""Derivatives of a pointwise field u: R^d → R^m, written with forward-mode transformations.

PINN residuals need a handful of partial derivatives per point. For a network with d ≪ #params,
forward mode (``jax.jvp``) along coordinate directions is cheaper than nested reverse mode, and
Taylor mode (``jax.experimental.jet``) gets all derivatives up to order k along one direction in
a single pass (u, ∂u, ∂²u, …, ∂^k u), which is how fourth-order terms (Kuramoto–Sivashinsky's
u_xxxx) stay cheap. ``laplacian`` sums exact second derivatives over coordinates, one
forward-over-forward pass per coordinate, and never forms the d × d Hessian.

Every function takes ``u`` (one point (d,) → (m,)) and a point ``x`` of shape (d,).
"""
from __future__ import annotations

from typing import Callable, Sequence

import jax
import jax.numpy as jnp
from jax.experimental import jet

Field = Callable[[jax.Array], jax.Array]


def _unit(x: jax.Array, i: int) -> jax.Array:
    return jnp.zeros_like(x).at[i].set(1.0)


def d(u: Field, x: jax.Array, i: int) -> jax.Array:
    """∂u/∂x_i at x (shape (m,)), one forward-mode pass."""
    return jax.jvp(u, (x,), (_unit(x, i),))[1]


def value_and_d(u: Field, x: jax.Array, i: int) -> tuple[jax.Array, jax.Array]:
    """(u(x), ∂u/∂x_i) from one forward-mode pass."""
    return jax.jvp(u, (x,), (_unit(x, i),))


def taylor(u: Field, x: jax.Array, i: int, order: int) -> list[jax.Array]:
    r"""[u, ∂_i u, ∂_i² u, …, ∂_i^order u] at x, all from one Taylor-mode (jet) pass."""
    e = _unit(x, i)
    series = [e] + [jnp.zeros_like(x)] * (order - 1)
    u0, us = jet.jet(u, (x,), (series,))
    return [u0, *us]


def d2(u: Field, x: jax.Array, i: int, j: int | None = None) -> jax.Array:
    """∂²u/∂x_i∂x_j (j defaults to i) by forward-over-forward mode."""
    j = i if j is None else j
    return jax.jvp(lambda y: d(u, y, i), (x,), (_unit(x, j),))[1]


def laplacian(u: Field, x: jax.Array, dims: Sequence[int] | None = None) -> jax.Array:
    r"""Σ_{i ∈ dims} ∂²u/∂x_i² (shape (m,)): one forward-over-forward pass per coordinate.

    The passes are vmapped over coordinate directions, so memory is O(len(dims) · m) per point
    and the d × d Hessian is never formed. (benchmarks/bench_laplacian.py: on CPU this is 3–8×
    faster than a second-order jet per coordinate and than trace(jax.hessian) for d = 5…50.)
    """
    dims = tuple(range(x.shape[0])) if dims is None else tuple(dims)
    eye = jnp.eye(x.shape[0], dtype=x.dtype)[jnp.asarray(dims)]

    def second(v):
        return jax.jvp(lambda y: jax.jvp(u, (y,), (v,))[1], (x,), (v,))[1]

    return jnp.sum(jax.vmap(second)(eye), axis=0)


def gradient(u: Field, x: jax.Array) -> jax.Array:
    """Jacobian ∂u_a/∂x_i as an (m, d) array (forward mode)."""
    return jax.jacfwd(u)(x)
