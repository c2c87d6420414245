r"""MGDA: the minimum-norm point of the convex hull of the per-loss gradients.

Désidéri, *Multiple-gradient descent algorithm (MGDA) for multiobjective optimization*,
C. R. Math. 350 (2012); Sener & Koltun, *Multi-Task Learning as Multi-Objective Optimization*,
NeurIPS 2018 (arXiv 1810.04650). The common descent direction is

    d = Σ_i α_i g_i,    α = argmin_{α ∈ Δ_K} ‖Σ_i α_i g_i‖² = argmin_{α ∈ Δ_K} αᵀ M α,   M = G Gᵀ,

Δ_K the probability simplex. Its optimality conditions give g_i · d ≥ ‖d‖² ≥ 0 for every i: d
conflicts with no loss, and d = 0 exactly when some convex combination of the gradients vanishes
(a Pareto-stationary point).

Solver (Sener & Koltun, Algorithm 1 for K = 2, a small QP on the K × K Gram matrix otherwise):

* K = 2: the closed form α_1 = clip((g_2 − g_1)·g_2 / ‖g_1 − g_2‖², 0, 1), α_2 = 1 − α_1;
* K > 2: ``iters`` steps of accelerated projected gradient (FISTA) on the simplex, step
  1/(2 λ_max(M)), on M scaled by its largest diagonal entry; then an active-set polish: on the
  support found, the KKT system of the equality-constrained minimiser is solved (by pseudo-inverse,
  for the solution closest to the iterate, so rank-deficient G is fine) and the result kept when it
  is feasible and no worse. The iteration count is
  fixed, so the step is jittable and its cost independent of the data.

``rescale=True`` returns K·d (weights summing to K, the scale of the unweighted sum Σ g_i) instead of
the min-norm point d itself, whose norm shrinks towards 0 as the conflict grows.

Properties: permutation-invariant (d is unique), positively homogeneous (d(cG) = c·d(G) for c > 0),
non-conflicting (g_i · d ≥ 0 for every i).
"""
from __future__ import annotations

import jax
import jax.numpy as jnp

from pinnarena.diagnostics import gram
from pinnarena.remedies import Remedy, register
from pinnarena.search_space import Choice


def project_simplex(v):
    """Euclidean projection of v (K,) onto the probability simplex (sort-based)."""
    K = v.shape[-1]
    u = jnp.sort(v)[::-1]
    css = jnp.cumsum(u) - 1.0
    idx = jnp.arange(1, K + 1, dtype=v.dtype)
    rho = jnp.max(jnp.where(u - css / idx > 0, jnp.arange(1, K + 1), 1))
    theta = css[rho - 1] / rho.astype(v.dtype)
    return jnp.maximum(v - theta, 0.0)


def sym_pinv(A, rtol: float | None = None):
    """Pseudo-inverse of a symmetric matrix through its eigendecomposition (eigenvalues below
    rtol · max|λ| are dropped; default rtol = 10 · size · machine epsilon)."""
    lam, V = jnp.linalg.eigh(A)
    rtol = 10.0 * A.shape[0] * jnp.finfo(A.dtype).eps if rtol is None else rtol
    keep = jnp.abs(lam) > rtol * jnp.max(jnp.abs(lam))
    inv = jnp.where(keep, 1.0 / jnp.where(keep, lam, 1.0), 0.0)
    return (V * inv[None, :]) @ V.T


def _scaled(M):
    s = jnp.max(jnp.diag(M))
    return M / jnp.where(s > 0, s, 1.0)


def _step_size(M):
    lmax = jnp.linalg.eigvalsh(M)[-1]
    return 1.0 / jnp.where(lmax > 0, 2.0 * lmax, 1.0)


def _polish_simplex(M, x):
    """Minimiser of αᵀMα on the face {α_i = 0 off the support, Σα = 1}, if feasible and better."""
    K = M.shape[0]
    f = lambda a: a @ M @ a
    for _ in range(2):
        grad = M @ x
        support = (x > 1e-6) | (grad < x @ grad - 1e-7)
        s = support.astype(M.dtype)
        A = jnp.zeros((K + 1, K + 1), M.dtype)
        A = A.at[:K, :K].set(M * s[:, None] * s[None, :] + jnp.diag(1.0 - s))
        A = A.at[:K, K].set(s).at[K, :K].set(s)
        b = jnp.zeros((K + 1,), M.dtype).at[K].set(1.0)
        # The solution of A z = b closest to the current iterate (z = [α, μ], μ = −αᵀMα): unique
        # when M_S is non-singular, and the least change of x on a degenerate face otherwise.
        z = jnp.concatenate([x * s, -(x @ M @ x)[None]])
        y = (z + sym_pinv(A) @ (b - A @ z))[:K] * s
        ok = jnp.all(jnp.isfinite(y)) & jnp.all(y >= -1e-6) & (jnp.abs(jnp.sum(y) - 1.0) < 1e-4)
        y = jnp.maximum(y, 0.0)
        y = y / jnp.where(jnp.sum(y) > 0, jnp.sum(y), 1.0)
        ok = ok & (f(y) <= f(x) * (1 + 1e-6) + 1e-12)
        x = jnp.where(ok, y, x)
    return x


def min_norm_weights(M, iters: int = 200):
    """α ∈ Δ_K minimising αᵀ M α for a PSD K × K matrix M (see the module docstring)."""
    K = M.shape[0]
    if K == 1:
        return jnp.ones((1,), M.dtype)
    if K == 2:
        den = M[0, 0] + M[1, 1] - 2.0 * M[0, 1]
        a = jnp.where(den > 0, (M[1, 1] - M[0, 1]) / jnp.where(den > 0, den, 1.0), 0.5)
        a = jnp.clip(a, 0.0, 1.0)
        return jnp.stack([a, 1.0 - a])
    M = _scaled(M)
    step = _step_size(M)
    x0 = jnp.full((K,), 1.0 / K, M.dtype)

    def body(_, carry):
        x, y, t = carry
        x_new = project_simplex(y - step * 2.0 * (M @ y))
        t_new = 0.5 * (1.0 + jnp.sqrt(1.0 + 4.0 * t * t))
        y_new = x_new + ((t - 1.0) / t_new) * (x_new - x)
        return x_new, y_new, t_new

    x, _, _ = jax.lax.fori_loop(0, iters, body, (x0, x0, jnp.ones((), M.dtype)))
    return _polish_simplex(M, x)


class MGDA(Remedy):
    refresh_every = 1

    def __init__(self, rescale: bool, iters: int):
        if int(iters) < 1:
            raise ValueError(f"mgda iters must be ≥ 1, got {iters}")
        self.rescale, self.iters = bool(rescale), int(iters)

    def init(self, num_losses: int):
        return {}

    def weights(self, state):
        return None

    def update(self, G, losses, state):
        alpha = min_norm_weights(gram(G), self.iters)
        if self.rescale:
            alpha = G.shape[0] * alpha
        return jnp.matmul(alpha.astype(G.dtype), G, precision=jax.lax.Precision.HIGHEST), state


@register("mgda", family="surgery",
          search_space={"rescale": Choice(False, True)})
def mgda(rescale: bool = False, iters: int = 200) -> Remedy:
    return MGDA(rescale, iters)
