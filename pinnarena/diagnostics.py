r"""Gradient-conflict diagnostics on a K × n matrix G of flattened per-loss gradients.

* Gradient alignment score (Wang, Bhartari, Li, Perdikaris 2025, arXiv 2502.00604, eq. 3.3):

      A(g_1, …, g_K) = 2 ‖ (1/K) Σ_i g_i / ‖g_i‖ ‖² − 1 ∈ [−1, 1],

  which equals cos(g_1, g_2) for K = 2 and 1 when all directions coincide. Zero rows carry no
  direction and are left out of the mean (a matrix without a non-zero row scores NaN).
* ``norm_ratio`` = max_i ‖g_i‖ / min_i ‖g_i‖ (magnitude imbalance).
* ``pairwise_cosines``: the K × K matrix of cosines.
* ``gram_eigenvalues``: eigenvalues of G Gᵀ in ascending order.

Shared helpers for the remedies (``pinnarena.remedies``): ``unit_rows`` (rows scaled to unit
norm, zero rows left at zero) and ``gram`` (G Gᵀ at full matmul precision, so that the K × K
solves of the surgery remedies do not see TF32/bfloat16 round-off on accelerators).
"""
from __future__ import annotations

import jax
import jax.numpy as jnp


def _unit_rows(G):
    norms = jnp.linalg.norm(G, axis=1, keepdims=True)
    safe = jnp.where(norms > 0, norms, 1.0)
    return G / safe, norms[:, 0]


def unit_rows(G):
    """(U, norms): the rows of G divided by their norms (zero rows stay zero) and the norms."""
    return _unit_rows(jnp.asarray(G))


def gram(A, B=None):
    """A Bᵀ (default B = A) at the highest matmul precision: the K × K Gram matrix of the rows."""
    A = jnp.asarray(A)
    B = A if B is None else jnp.asarray(B)
    return jnp.matmul(A, B.T, precision=jax.lax.Precision.HIGHEST)


def alignment_score(G) -> jnp.ndarray:
    """A(g_1..g_K) for the rows of G (a scalar array; float() it for a Python number)."""
    G = jnp.asarray(G)
    U, norms = _unit_rows(G)
    nonzero = norms > 0
    k = jnp.sum(nonzero)
    mean = jnp.sum(jnp.where(nonzero[:, None], U, 0.0), axis=0) / jnp.where(k > 0, k, jnp.nan)
    return 2.0 * jnp.sum(mean**2) - 1.0


def norm_ratio(G) -> jnp.ndarray:
    norms = jnp.linalg.norm(jnp.asarray(G), axis=1)
    return jnp.max(norms) / jnp.min(norms)


def pairwise_cosines(G) -> jnp.ndarray:
    U, _ = _unit_rows(jnp.asarray(G))
    return U @ U.T


def gram_eigenvalues(G) -> jnp.ndarray:
    G = jnp.asarray(G)
    return jnp.linalg.eigvalsh(G @ G.T)
