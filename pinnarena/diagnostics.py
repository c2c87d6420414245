r"""Gradient-conflict diagnostics on a K × n matrix G of flattened per-loss gradients.

* Gradient alignment score (Wang, Bhartari, Li, Perdikaris 2025, arXiv 2502.00604, eq. 3.3):

      A(g_1, …, g_K) = 2 ‖ (1/K) Σ_i g_i / ‖g_i‖ ‖² − 1 ∈ [−1, 1],

  which equals cos(g_1, g_2) for K = 2 and 1 when all directions coincide. Zero rows carry no
  direction and are left out of the mean (a matrix without a non-zero row scores NaN).
* K-normalised alignment (``normalized_alignment``). With u_i = g_i/‖g_i‖ and c_ij = u_i·u_j,
  ‖Σ_i u_i‖² = K + 2 Σ_{i<j} c_ij, so A = 2/K − 1 + (4/K²) Σ_{i<j} c_ij. K mutually orthogonal
  gradients (no conflict) score A₀ = 2/K − 1 (−1/3 at K = 3, −2/3 at K = 6), so A is biased by K.
  Rescaling the orthogonal baseline to 0 and full agreement to 1,

      Ã = (A − A₀) / (1 − A₀) = [(4/K²) Σ_{i<j} c_ij] / [2(K − 1)/K] = mean_{i<j} c_ij =: c̄,

  the mean pairwise cosine (Ã = A for K = 2; NaN for K < 2). It lies in [−1/(K−1), 1].
* ``cancellation`` C = 1 − ‖Σ_i u_i‖²/K = −(K − 1) c̄ ∈ [1 − K, 1]: the share of the
  orthogonal baseline's squared norm that the unit gradients cancel (0 for orthogonal rows at
  every K, 1 when Σ_i u_i = 0, −cos for K = 2); the statistic of ``pinnarena.regime``.
* ``conflict_pair_share``: the share of the K(K−1)/2 pairs with c_ij < −ε.
* ``norm_ratio`` = max_i ‖g_i‖ / min_i ‖g_i‖ (magnitude imbalance).
* ``pairwise_cosines``: the K × K matrix of cosines (0 in the rows and columns of zero rows).
* ``gram_eigenvalues``: eigenvalues of G Gᵀ in ascending order.

In the pairwise statistics, as in A, zero rows carry no direction and are left out (K counts the
non-zero rows).

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


def _pair_cosines(G):
    """(cosines K × K at full precision, mask of the pairs i < j between non-zero rows, k)."""
    G = jnp.asarray(G)
    if G.ndim != 2:
        raise ValueError(f"expected a K × n matrix of per-loss gradients, got shape {G.shape}")
    U, norms = _unit_rows(G)
    nonzero = norms > 0
    K = G.shape[0]
    upper = jnp.triu(jnp.ones((K, K), bool), k=1)
    mask = upper & nonzero[:, None] & nonzero[None, :]
    return gram(U), mask, jnp.sum(nonzero)


def normalized_alignment(G) -> jnp.ndarray:
    """Ã = (A − A₀)/(1 − A₀), A₀ = 2/K − 1: the mean pairwise cosine of the non-zero rows of G
    (see the module docstring; NaN with fewer than two non-zero rows)."""
    C, mask, _ = _pair_cosines(G)
    n = jnp.sum(mask)
    return jnp.where(n > 0, jnp.sum(jnp.where(mask, C, 0.0)) / jnp.maximum(n, 1), jnp.nan)


def cancellation(G) -> jnp.ndarray:
    """C = 1 − ‖Σ_i u_i‖²/K = −(K − 1)·Ã over the K non-zero rows (NaN for K < 2)."""
    _, _, k = _pair_cosines(G)
    return -(k - 1) * normalized_alignment(G)


def conflict_pair_share(G, eps: float = 0.1) -> jnp.ndarray:
    """The share of pairs i < j of non-zero rows with cos(g_i, g_j) < −eps (NaN without a pair)."""
    if not eps >= 0:
        raise ValueError(f"conflict_pair_share needs eps ≥ 0, got {eps}")
    C, mask, _ = _pair_cosines(G)
    n = jnp.sum(mask)
    return jnp.where(n > 0, jnp.sum(mask & (C < -eps)) / jnp.maximum(n, 1), jnp.nan)
