r"""ConFIG: conflict-free inverse gradients.

Liu, Chu & Thuerey, *ConFIG: Towards Conflict-free Training of Physics Informed Neural
Networks*, ICLR 2025 (arXiv 2408.11104). With U(x) = x/‖x‖:

    g_u = U[ [U(g_1), …, U(g_K)]^{−T} 1_K ],        g = (Σ_i g_iᵀ g_u) g_u,

i.e. g_u is the unit vector whose cosines with all the g_i are equal (the components of
[U(g_i)]ᵀ v = 1_K), and the length is the sum of the projections of the g_i onto it. For K ≠ n the
inverse is the pseudo-inverse: v = Ûᵀ (Û Ûᵀ)⁺ 1_K with Û the K × n matrix of unit rows, the
minimum-norm least-squares solution of Û v = 1_K (exact when Û has full row rank). Only the
K × K Gram matrix Û Ûᵀ is formed, so the cost is one Gram matrix plus O(K³).

Properties: when G has full row rank, g_iᵀ g are all positive and g_i·g/‖g_i‖ all equal
(non-conflicting, equal progress); permutation-invariant; positively homogeneous
(g(cG) = c·g(G), c > 0). Zero rows carry no direction and drop out of the solve; G = 0 gives g = 0,
and so does a G for which 1_K is orthogonal to the range of Û (no direction has equal positive
cosines, v = 0 and U(v) is undefined — e.g. two exactly opposite gradients).
"""
from __future__ import annotations

import jax
import jax.numpy as jnp

from pinnarena.diagnostics import gram, unit_rows
from pinnarena.remedies import Remedy, register
from pinnarena.remedies.mgda import sym_pinv


def config_direction(G):
    """The ConFIG update g for the K × n matrix G (rows g_i)."""
    U, norms = unit_rows(G)
    M = gram(U)                                     # Û Ûᵀ
    K = G.shape[0]
    c = sym_pinv(M) @ jnp.ones((K,), G.dtype)
    Mc = M @ c                                      # Û v: the projection of 1_K onto the range of Û
    v_sq = c @ Mc                                   # ‖v‖², v = Ûᵀ c
    length = jnp.sum(norms * Mc)                    # Σ_i g_iᵀ v  (= ‖v‖ Σ_i g_iᵀ g_u)
    # When 1_K is (numerically) orthogonal to the range of Û — e.g. parallel gradients of opposite
    # signs — the least-squares v is 0 and g_u = U(v) is undefined: return 0, not amplified round-off.
    defined = jnp.linalg.norm(Mc) > 1e3 * K * jnp.finfo(G.dtype).eps * jnp.sqrt(K)
    coef = jnp.where(defined & (v_sq > 0), length / jnp.where(v_sq > 0, v_sq, 1.0), 0.0)
    return jnp.matmul(coef * c, U, precision=jax.lax.Precision.HIGHEST)


class ConFIG(Remedy):
    refresh_every = 1

    def init(self, num_losses: int):
        return {}

    def weights(self, state):
        return None

    def update(self, G, losses, state):
        return config_direction(G), state


@register("config", family="surgery",
          search_space={})
def config() -> Remedy:
    return ConFIG()
