r"""Shampoo with grafting (Gupta, Koren, Singer 2018; Anil, Gupta, Koren, Regan, Singer 2020).

Shampoo (arXiv 1802.09568) preconditions a matrix gradient ``G`` (m × n) from both sides with
Kronecker-factor statistics; Anil et al., *Scalable Second Order Optimization for Deep Learning*
(arXiv 2002.09018), add exponential moving averages, infrequent inverse-root computation,
grafting of the step size from a first-order method, momentum and a delayed start. Per
parameter, at update ``t = 1, 2, …``::

    L ← β2 L + (1−β2) G Gᵀ,  R ← β2 R + (1−β2) GᵀG     (β2 = 1: L += G Gᵀ, R += GᵀG, the 2018 sums)
    ν ← β2 ν + (1−β2) G²                                 (diagonal statistics, same rule)
    every `precondition_frequency` updates from `start_preconditioning_step` on:
        L̃ = (L + ε_L I)^{-1/4},  R̃ = (R + ε_R I)^{-1/4}   (via eigh; ε_X = matrix_eps · λ_max(X))
    P = L̃ G R̃                                           (Shampoo direction)
    A = G / (√ν̂ + eps)  (graft "adam"; ν̂ bias-corrected when β2 < 1) or  A = G  (graft "sgd")
    D = P · ‖A‖_F / ‖P‖_F   (layer-wise grafting; graft "none": D = P)
    before `start_preconditioning_step`: D = A
    M ← β1 M + (1−β1) D;   W ← W − lr · (M / (1−β1^t) + wd · W)

For a tensor of order k the factor of each preconditioned axis gets the exponent −1/(2k) (−1/4
for a matrix). An axis longer than ``max_precond_dim`` gets no factor (k counts the remaining
axes); a parameter with no preconditioned axis — 1-D biases, scalars, or all axes too long —
falls back to the diagonal preconditioner ``P = G / (√ν̂ + eps)`` (AdaGrad for β2 = 1,
RMSProp/Adam-like otherwise), still grafted. Inverse roots are computed with ``eigh`` in the
parameters' dtype (negative eigenvalues from round-off are clipped to zero) inside
``lax.cond``, so the transformation runs under ``jax.jit``.

Example::

    >>> import jax, jax.numpy as jnp
    >>> from pinnarena.optimizers import make
    >>> params = {"w": jnp.ones((3, 2)), "b": jnp.zeros(2)}
    >>> f = lambda p: jnp.sum((p["w"] @ jnp.arange(2.0) + 1.0) ** 2) + jnp.sum((p["b"] - 1) ** 2)
    >>> tx = make("shampoo", learning_rate=1e-2, start_preconditioning_step=2, precondition_frequency=2)
    >>> state = tx.init(params)
    >>> for _ in range(5):
    ...     g = jax.grad(f)(params)
    ...     updates, state = tx.update(g, state, params)
    ...     params = jax.tree.map(lambda p, u: p + u, params, updates)
    >>> bool(f(params) < f({"w": jnp.ones((3, 2)), "b": jnp.zeros(2)}))
    True
"""
from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from pinnarena.optimizers import register
from pinnarena.search_space import Linear, Log

GRAFTS = ("adam", "sgd", "none")


class ScaleByShampooState(NamedTuple):
    """``count`` updates made; per parameter: ``stats`` and ``roots`` (a tuple with one entry per
    axis: the factor statistics and its inverse root, ``None`` for an axis without a factor),
    ``nu`` the diagonal statistics, ``mu`` the momentum of the grafted direction."""

    count: jax.Array
    stats: Any
    roots: Any
    nu: Any
    mu: Any


def _factored_axes(shape, max_precond_dim: int) -> tuple[bool, ...]:
    if len(shape) < 2:
        return tuple(False for _ in shape)
    return tuple(s <= max_precond_dim for s in shape)


def _gram(g, axis: int):
    others = [k for k in range(g.ndim) if k != axis]
    return jnp.tensordot(g, g, axes=(others, others))


def _apply(x, mats):
    """x ×_i M_i along every axis with a matrix (M_i symmetric)."""
    for i, m in enumerate(mats):
        if m is not None:
            x = jnp.moveaxis(jnp.tensordot(x, m, axes=([i], [0])), -1, i)
    return x


def _inverse_root(s, exponent: float, matrix_eps: float):
    """(S + ε I)^{-exponent} with ε = matrix_eps · λ_max(S) (plus a tiny floor), via eigh."""
    lam, u = jnp.linalg.eigh(s)
    lam = jnp.maximum(lam, 0.0)
    floor = jnp.sqrt(jnp.finfo(s.dtype).tiny)
    lam = lam + matrix_eps * jnp.max(lam) + floor
    return (u * jnp.power(lam, -exponent)) @ u.T


def scale_by_shampoo(
    b1: float = 0.9,
    b2: float = 0.999,
    eps: float = 1e-8,
    *,
    matrix_eps: float = 1e-6,
    precondition_frequency: int = 10,
    start_preconditioning_step: int = 10,
    max_precond_dim: int = 1024,
    graft: str = "adam",
) -> optax.GradientTransformation:
    """The grafted, momentum-averaged Shampoo direction (to be scaled by ``−lr``); see the module."""
    if graft not in GRAFTS:
        raise ValueError(f"graft must be one of {GRAFTS}, got {graft!r}")
    if precondition_frequency < 1:
        raise ValueError(f"precondition_frequency must be ≥ 1, got {precondition_frequency}")
    start = max(int(start_preconditioning_step), 1)

    def accumulate(old, new):
        return old + new if b2 == 1.0 else b2 * old + (1.0 - b2) * new

    def init_fn(params):
        def stats(p):
            return tuple(jnp.zeros((s, s), p.dtype) if f else None for s, f in zip(p.shape, _factored_axes(p.shape, max_precond_dim)))

        def roots(p):
            return tuple(jnp.eye(s, dtype=p.dtype) if f else None for s, f in zip(p.shape, _factored_axes(p.shape, max_precond_dim)))

        return ScaleByShampooState(
            count=jnp.zeros([], jnp.int32),
            stats=jax.tree.map(stats, params),
            roots=jax.tree.map(roots, params),
            nu=jax.tree.map(jnp.zeros_like, params),
            mu=jax.tree.map(jnp.zeros_like, params),
        )

    def leaf(g, stats, roots, nu, mu, t):
        dtype = g.dtype
        tf = t.astype(dtype)
        stats = tuple(None if s is None else accumulate(s, _gram(g, i)) for i, s in enumerate(stats))
        nu = accumulate(nu, g * g)
        nu_hat = nu if b2 == 1.0 else nu / (1.0 - jnp.power(jnp.asarray(b2, dtype), tf))
        diag_dir = g / (jnp.sqrt(nu_hat) + eps)
        n_factors = sum(s is not None for s in stats)
        if n_factors:
            exponent = 1.0 / (2 * n_factors)
            do = (t >= start) & ((t - start) % precondition_frequency == 0)
            roots = jax.lax.cond(
                do,
                lambda st: tuple(None if s is None else _inverse_root(s, exponent, matrix_eps) for s in st),
                lambda st: roots,
                stats,
            )
            p = _apply(g, roots)
        else:
            p = diag_dir
        if graft == "none":
            d = p
            before = diag_dir
        else:
            a = diag_dir if graft == "adam" else g
            pn = jnp.linalg.norm(p)
            d = jnp.where(pn > 0, p * (jnp.linalg.norm(a) / jnp.where(pn > 0, pn, 1.0)), a)
            before = a
        d = jnp.where(t >= start, d, before)
        mu = b1 * mu + (1.0 - b1) * d
        out = mu / (1.0 - jnp.power(jnp.asarray(b1, dtype), tf)) if b1 > 0 else mu
        return out, stats, roots, nu, mu

    def update_fn(updates, state, params=None):
        del params
        t = state.count + 1
        treedef = jax.tree.structure(updates)
        parts = [treedef.flatten_up_to(x) for x in (updates, state.stats, state.roots, state.nu, state.mu)]
        out = [leaf(*a, t) for a in zip(*parts)]
        unflat = lambda k: treedef.unflatten([o[k] for o in out])
        return unflat(0), ScaleByShampooState(t, unflat(1), unflat(2), unflat(3), unflat(4))

    return optax.GradientTransformation(init_fn, update_fn)


def shampoo(
    learning_rate: optax.ScalarOrSchedule = 1e-3,
    b1: float = 0.9,
    b2: float = 0.999,
    eps: float = 1e-8,
    weight_decay: float = 0.0,
    *,
    matrix_eps: float = 1e-6,
    precondition_frequency: int = 10,
    start_preconditioning_step: int = 10,
    max_precond_dim: int = 1024,
    graft: str = "adam",
) -> optax.GradientTransformation:
    """Shampoo (arXiv 1802.09568, 2002.09018) with layer-wise grafting, momentum, decoupled weight decay.

    Args:
      learning_rate: step size or schedule.
      b1: momentum of the grafted direction (0: none).
      b2: EMA rate of the Kronecker and diagonal statistics; 1.0 sums them (original Shampoo).
      eps: added to ``√ν̂`` in the Adam graft and the diagonal fallback.
      weight_decay: decoupled weight decay (``W ← W − lr·wd·W``).
      matrix_eps: regularisation of the factors relative to their largest eigenvalue.
      precondition_frequency: recompute the inverse roots every this many updates.
      start_preconditioning_step: the update at which Shampoo's direction replaces the graft's.
      max_precond_dim: axes longer than this get no Kronecker factor.
      graft: ``"adam"``, ``"sgd"`` (per-layer step norm taken from that method) or ``"none"``.
    """
    return optax.chain(
        scale_by_shampoo(b1, b2, eps, matrix_eps=matrix_eps, precondition_frequency=precondition_frequency,
                         start_preconditioning_step=start_preconditioning_step, max_precond_dim=max_precond_dim,
                         graft=graft),
        optax.add_decayed_weights(weight_decay) if weight_decay else optax.identity(),
        optax.scale_by_learning_rate(learning_rate),
    )


@register("shampoo", family="second-order",
          search_space={"learning_rate": Log(1e-4, 3e-2), "b2": Linear(0.95, 0.999)})
def _shampoo_factory(
    learning_rate=1e-3,
    b1: float = 0.9,
    b2: float = 0.999,
    eps: float = 1e-8,
    weight_decay: float = 0.0,
    matrix_eps: float = 1e-6,
    precondition_frequency: int = 10,
    start_preconditioning_step: int = 10,
    max_precond_dim: int = 1024,
    graft: str = "adam",
):
    """Shampoo with Adam grafting (Anil et al. 2020)."""
    return shampoo(learning_rate, b1, b2, eps, weight_decay, matrix_eps=matrix_eps,
                   precondition_frequency=int(precondition_frequency),
                   start_preconditioning_step=int(start_preconditioning_step),
                   max_precond_dim=int(max_precond_dim), graft=str(graft))
