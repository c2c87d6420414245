r"""PCGrad: projecting conflicting gradients.

Yu, Kumar, Gupta, Levine, Hausman & Finn, *Gradient Surgery for Multi-Task Learning*,
NeurIPS 2020 (arXiv 2001.06782), Algorithm 1: for every loss i, start from g_i^PC = g_i and visit
the other losses j ≠ i in a random order; whenever g_i^PC · g_j < 0,

    g_i^PC ← g_i^PC − (g_i^PC · g_j / ‖g_j‖²) g_j

(projection onto the normal plane of the *original* g_j); the update is g = Σ_i g_i^PC.
For K = 2 the order does not matter: g = g_1 + g_2 − (g_1·g_2)(g_1/‖g_1‖² + g_2/‖g_2‖²) when
g_1·g_2 < 0, else g_1 + g_2.

Each loss i draws its own random permutation from ``fold_in(PRNGKey(seed), count)`` with the
update counter in the state (``orders`` returns them, for tests and analysis). A zero g_j projects
nothing. Properties: positively homogeneous (g(cG) = c·g(G), c > 0); not permutation-invariant
for K ≥ 3 (the random orders are tied to the row indices).
"""
from __future__ import annotations

import jax
import jax.numpy as jnp

from pinnarena.diagnostics import gram
from pinnarena.remedies import Remedy, register


class PCGrad(Remedy):
    refresh_every = 1

    def __init__(self, seed: int):
        self.seed = int(seed)

    def init(self, num_losses: int):
        return {"count": jnp.zeros((), jnp.int32)}

    def weights(self, state):
        return None

    def orders(self, count, num_losses: int):
        """K × K int array: row i is the random visiting order of loss i at update ``count``."""
        key = jax.random.fold_in(jax.random.PRNGKey(self.seed), count)
        return jnp.argsort(jax.random.uniform(key, (num_losses, num_losses)), axis=1)  # uniform permutations

    def update(self, G, losses, state):
        K = G.shape[0]
        perms = self.orders(state["count"], K)
        M = gram(G)                       # g_i · g_j
        sq = jnp.diag(M)
        # Work in coefficients: g_i^PC = Σ_j C[i, j] g_j, so the K² projections cost K × K products.
        def project(i, perm):
            c = jax.nn.one_hot(i, K, dtype=G.dtype)
            for p in range(K):
                j = perm[p]
                d = c @ M[:, j]           # g_i^PC · g_j
                hit = (d < 0) & (j != i) & (sq[j] > 0)
                coef = jnp.where(hit, d / jnp.where(sq[j] > 0, sq[j], 1.0), 0.0)
                c = c - coef * jax.nn.one_hot(j, K, dtype=G.dtype)
            return c

        C = jax.vmap(project)(jnp.arange(K), perms)
        w = jnp.sum(C, axis=0)
        return jnp.matmul(w, G, precision=jax.lax.Precision.HIGHEST), {"count": state["count"] + 1}


@register("pcgrad", family="surgery",
          search_space={})
def pcgrad(seed: int = 0) -> Remedy:
    return PCGrad(seed)
