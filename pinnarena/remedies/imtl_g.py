r"""IMTL-G: impartial multi-task learning, gradient balance.

Liu, Li, Kuang, Xue, Chen, Yang, Liao & Zhang, *Towards Impartial Multi-task Learning*,
ICLR 2021 (§3.2). The aggregated gradient g = Σ_i α_i g_i with Σ_i α_i = 1 is chosen so that its
projections onto every unit gradient u_i = g_i/‖g_i‖ are equal: g·(u_1 − u_i) = 0 for i = 2..K.
With D = [g_1 − g_2; …; g_1 − g_K] and U = [u_1 − u_2; …; u_1 − u_K] ((K−1) × n), the closed form is

    α_{2:K} = g_1 Uᵀ (D Uᵀ)⁻¹,       α_1 = 1 − Σ_{i≥2} α_i.

Here (D Uᵀ)⁻¹ is a pseudo-inverse, so rank-deficient G (including K > n) and zero rows give a
finite answer (a zero row has no direction: u_i = 0). All products are formed from the K × K matrix
P = G Uᵀ, so the cost beyond the Gram matrix is O(K³).

Properties: the projections g·u_i are all equal (impartial); positively homogeneous
(g(cG) = c·g(G), c > 0); permutation-invariant when G has full row rank (the conditions above then
determine g uniquely, whichever loss is called 1). In the paper the loss-scale half (IMTL-L) is
separate; this module is the gradient half only.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp

from pinnarena.diagnostics import gram, unit_rows
from pinnarena.remedies import Remedy, register


def imtl_g_weights(G):
    K = G.shape[0]
    if K == 1:
        return jnp.ones((1,), G.dtype)
    U, _ = unit_rows(G)
    P = gram(G, U)                                   # P[i, j] = g_i · u_j
    a = P[0, 0] - P[0, 1:]                           # g_1 Uᵀ           (K−1,)
    DU = P[0, 0] - P[0, 1:][None, :] - P[1:, 0][:, None] + P[1:, 1:]   # D Uᵀ   (K−1) × (K−1)
    rest = a @ jnp.linalg.pinv(DU)
    return jnp.concatenate([1.0 - jnp.sum(rest, keepdims=True), rest])


class IMTLG(Remedy):
    refresh_every = 1

    def init(self, num_losses: int):
        return {}

    def weights(self, state):
        return None

    def update(self, G, losses, state):
        alpha = imtl_g_weights(G)
        return jnp.matmul(alpha, G, precision=jax.lax.Precision.HIGHEST), state


@register("imtl-g", family="surgery",
          search_space={})
def imtl_g() -> Remedy:
    return IMTLG()
