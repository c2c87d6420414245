r"""Aligned-MTL: aligning the gradient system to the condition number one.

Senushkin, Patakin, Kuznetsov & Konushin, *Independent Component Alignment for Multi-Task
Learning*, CVPR 2023 (Algorithm 1). With the Gram matrix of the gradients and its
eigendecomposition

    M = G Gᵀ = V Λ Vᵀ,   Σ⁻¹ = diag(λ_1^{−1/2}, …, λ_R^{−1/2}) (R non-zero eigenvalues),
    B = √λ_min · V Σ⁻¹ Vᵀ      (λ_min the smallest non-zero eigenvalue),
    α = B w,                     g = Σ_i α_i g_i = Gᵀ B w,

with w the task preferences (here w = 1). The aligned system Ĝᵀ = Gᵀ B has orthogonal columns of
equal norm, all its non-zero singular values equal to σ_min(G) = √λ_min: condition number one, so no
gradient dominates and none conflicts (‖·‖ of the update is fixed by the weakest direction).

Eigenvalues below ``rcond`` · λ_max (default: 100 · K · machine epsilon of G's dtype) count as zero,
so rank-deficient G (including K > n and zero rows) gives a finite answer; G = 0 gives g = 0.

Properties: permutation-invariant, positively homogeneous (g(cG) = c·g(G), c > 0).
"""
from __future__ import annotations

import jax
import jax.numpy as jnp

from pinnarena.diagnostics import gram
from pinnarena.remedies import Remedy, register


def aligned_mtl_weights(G, rcond: float | None = None, preferences=None):
    K = G.shape[0]
    M = gram(G)
    lam, V = jnp.linalg.eigh(M)
    tol = (100.0 * K * jnp.finfo(G.dtype).eps if rcond is None else rcond) * jnp.maximum(lam[-1], 0.0)
    keep = lam > tol
    any_kept = jnp.any(keep)
    inv_sqrt = jnp.where(keep, 1.0 / jnp.sqrt(jnp.where(keep, lam, 1.0)), 0.0)
    lam_min = jnp.min(jnp.where(keep, lam, jnp.inf))
    scale = jnp.where(any_kept, jnp.sqrt(jnp.where(any_kept, lam_min, 0.0)), 0.0)
    B = scale * (V * inv_sqrt[None, :]) @ V.T
    w = jnp.ones((K,), G.dtype) if preferences is None else jnp.asarray(preferences, G.dtype)
    return B @ w


class AlignedMTL(Remedy):
    refresh_every = 1

    def __init__(self, rcond: float | None):
        self.rcond = rcond

    def init(self, num_losses: int):
        return {}

    def weights(self, state):
        return None

    def update(self, G, losses, state):
        alpha = aligned_mtl_weights(G, self.rcond)
        return jnp.matmul(alpha, G, precision=jax.lax.Precision.HIGHEST), state


@register("aligned-mtl", family="surgery",
          search_space={})
def aligned_mtl(rcond: float | None = None) -> Remedy:
    return AlignedMTL(rcond)
