r"""UPGrad: unconflicting projection of gradients (Jacobian descent).

Quinton & Rey, *Jacobian Descent for Multi-Objective Optimization*, arXiv 2406.16232 (2024).
With J = G (rows g_i) and M = G Gᵀ, each row is projected onto the dual cone of the rows,
C = {x : G x ≥ 0}, and the projections are averaged:

    A_UPGrad(G) = (1/K) Σ_i π_C(g_i).

By the paper's Proposition 1, π_C(Gᵀu) = Gᵀ w with w = argmin_{v ≥ u} vᵀ M v, so
A_UPGrad(G) = Gᵀ ((1/K) Σ_i w^(i)), w^(i) solving that K-dimensional QP with u = e_i. Its KKT
conditions give M w^(i) ≥ 0, i.e. every projection, hence the average, has a non-negative inner
product with every g_i.

Solver: the QPs are posed for the unit rows (see ``upgrad_weights``); each is solved with ``iters`` steps of accelerated projected gradient (FISTA) on
z = v − u ≥ 0 (step 1/(2 λ_max(M)), M scaled by its largest diagonal entry), followed by an
active-set polish: with the free set F found, (M v)_F = 0, v_i = u_i off F is solved by
pseudo-inverse for the solution closest to the iterate (so a singular M, where the minimisers form an
affine set, is handled) and kept when feasible and no worse. Fixed iteration count: jittable, data-independent
cost.

Properties: non-conflicting (G·A(G) ≥ 0), permutation-invariant, positively homogeneous
(A(cG) = c·A(G) for c > 0), and A(G) = (1/K) Σ g_i, the mean, when no two gradients conflict
(every g_i is then in the dual cone). Note the scale: the paper averages, so without conflicts UPGrad
is 1/K of the unweighted sum that ``none`` uses.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp

from pinnarena.diagnostics import gram
from pinnarena.remedies import Remedy, register
from pinnarena.remedies.mgda import _scaled, _step_size, sym_pinv


def _polish_box(M, u, v):
    K = M.shape[0]
    f = lambda a: a @ M @ a
    for _ in range(2):
        free = ((v - u) > 1e-6) | ((M @ v) < -1e-7)
        s = free.astype(M.dtype)
        # (M v)_F = 0 with v_i = u_i off F, written symmetrically: M_FF v_F = −M_FA u_A.
        fixed = (1.0 - s) * u
        A = M * s[:, None] * s[None, :] + jnp.diag(1.0 - s)
        b = fixed - s * (M @ fixed)
        y = v + sym_pinv(A) @ (b - A @ v)   # the solution closest to the iterate (degenerate faces)
        ok = jnp.all(jnp.isfinite(y)) & jnp.all(y >= u - 1e-6)
        y = jnp.maximum(y, u)
        ok = ok & (f(y) <= f(v) * (1 + 1e-6) + 1e-12)
        v = jnp.where(ok, y, v)
    return v


def dual_cone_weights(M, u, iters: int = 200):
    """w = argmin_{v ≥ u} vᵀ M v for a PSD K × K matrix M and a lower bound u (K,)."""
    M = _scaled(M)
    step = _step_size(M)
    z0 = jnp.zeros_like(u)

    def body(_, carry):
        z, y, t = carry
        z_new = jnp.maximum(y - step * 2.0 * (M @ (u + y)), 0.0)
        t_new = 0.5 * (1.0 + jnp.sqrt(1.0 + 4.0 * t * t))
        y_new = z_new + ((t - 1.0) / t_new) * (z_new - z)
        return z_new, y_new, t_new

    z, _, _ = jax.lax.fori_loop(0, iters, body, (z0, z0, jnp.ones((), M.dtype)))
    return _polish_box(M, u, u + z)


def upgrad_weights(M, iters: int = 200):
    """The combination weights (1/K) Σ_i w^(i) of A_UPGrad for the Gram matrix M.

    The QPs are solved for the unit rows U = D⁻¹G (D = diag ‖g_i‖): the cone C is unchanged by
    positive row scaling and π_C(g_i) = ‖g_i‖ π_C(u_i), so the weights for G are
    (1/K) Σ_i ‖g_i‖ D⁻¹ w_U^(i). This keeps the fixed-iteration solver accurate when the
    gradient norms differ by orders of magnitude (zero rows contribute nothing).
    """
    K = M.shape[0]
    norms = jnp.sqrt(jnp.maximum(jnp.diag(M), 0.0))
    safe = jnp.where(norms > 0, norms, 1.0)
    Mu = M / (safe[:, None] * safe[None, :])
    W = jax.vmap(lambda u: dual_cone_weights(Mu, u, iters))(jnp.eye(K, dtype=M.dtype))
    W = norms[:, None] * W / safe[None, :]
    return jnp.mean(W, axis=0)


class UPGrad(Remedy):
    refresh_every = 1

    def __init__(self, iters: int):
        if int(iters) < 1:
            raise ValueError(f"upgrad iters must be ≥ 1, got {iters}")
        self.iters = int(iters)

    def init(self, num_losses: int):
        return {}

    def weights(self, state):
        return None

    def update(self, G, losses, state):
        w = upgrad_weights(gram(G), self.iters)
        return jnp.matmul(w.astype(G.dtype), G, precision=jax.lax.Precision.HIGHEST), state


@register("upgrad", family="surgery",
          search_space={})
def upgrad(iters: int = 200) -> Remedy:
    return UPGrad(iters)
