r"""Exact-curvature second-order methods on the flattened parameters (dense).

All three compute a curvature matrix :math:`C` of the objective :math:`L` at :math:`x_k`, the
damped direction :math:`d_k = -(C + \lambda_k I)^{-1} \nabla L(x_k)` and a step along it:

* ``newton``: :math:`C = \nabla^2 L` (``jax.hessian`` of ``value_fn``), Levenberg–Marquardt
  damping (Levenberg 1944; Marquardt 1963; Nocedal & Wright 2006, Sec. 10.3). Exact-Hessian
  Newton is attracted by *every* stationary point, saddles included: Rowan (2025, arXiv
  2510.11987, "Nonlinear discretizations and Newton's method: characterizing stationary points of
  regression objectives") shows that it reliably ends at saddle points of regression objectives;
  ``pinnarena.stationary.classify`` labels where a run ended.
* ``saddle-free-newton``: Dauphin et al. (2014, "Identifying and attacking the saddle point
  problem in high-dimensional non-convex optimization", NeurIPS), Sec. 5: :math:`C = |\nabla^2 L|
  = V|\Lambda|V^\top` from the eigendecomposition :math:`\nabla^2 L = V\Lambda V^\top`, so that
  negative-curvature directions are followed downhill instead of towards the saddle; damped as
  in the paper (:math:`|\Lambda| + \lambda`).
* ``gauss-newton``: with the residual vector :math:`r` (``residual_fn``, :math:`L = \|r\|^2`)
  and its Jacobian :math:`J`, :math:`\nabla L = 2J^\top r` and :math:`C = 2J^\top J` (positive
  semi-definite), damped with :math:`\lambda = \text{damping}\cdot\operatorname{tr}(C)/n`, and a
  backtracking Armijo line search (Nocedal & Wright, Alg. 3.1).

Adaptive damping (``newton`` and ``saddle-free-newton`` without line search): the step is
tried at one extra objective evaluation; with the gain ratio
:math:`\rho = (L(x) - L(x+d)) / (-(g^\top d + \tfrac12 d^\top C d))` the step is accepted when
the loss decreases, and :math:`\lambda \leftarrow \lambda/3` when accepted with :math:`\rho > 3/4`,
:math:`\lambda \leftarrow 2\lambda` when rejected or :math:`\rho < 1/4` (Nielsen-style LM rule),
clipped to ``[min_damping, max_damping]``. With ``linesearch=True`` λ stays fixed and a
backtracking Armijo search picks the step (if :math:`d` is not a descent direction, which can
happen for an indefinite :math:`C + \lambda I`, the search runs along :math:`-d`).

Every trial evaluation is reported in the state's ``num_linesearch_steps`` so the training loop
counts it as one function and one gradient evaluation (an over-count of gradients: the trials
need values only). The Hessian itself costs n Hessian-vector products and is not counted there.

Dense n × n matrices: the optimizers refuse more than ``max_params`` parameters at ``init``.
"""
from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax
from jax.flatten_util import ravel_pytree

from pinnarena.optimizers import register
from pinnarena.optimizers.quasi_newton import DEFAULT_MAX_PARAMS, check_max_params


class DampedNewtonState(NamedTuple):
    count: jax.Array
    damping: jax.Array  # current λ
    num_linesearch_steps: jax.Array  # trial evaluations in the last update
    accepted: jax.Array  # whether the last step was taken (adaptive damping)


def backtracking(f, x, d, f0, g, *, max_steps: int, c1: float = 1e-4, shrink: float = 0.5):
    """Armijo backtracking along d from step 1: returns (step, trials). step = 0 if it fails."""
    slope = jnp.dot(g, d)

    def cond(c):
        t, i, ok = c
        return (~ok) & (i < max_steps)

    def body(c):
        t, i, _ = c
        ft = f(x + t * d)
        ok = jnp.isfinite(ft) & (ft <= f0 + c1 * t * slope)
        return jnp.where(ok, t, t * shrink), i + 1, ok

    one = jnp.ones([], x.dtype)
    t, i, ok = jax.lax.while_loop(cond, body, (one, jnp.zeros([], jnp.int32), jnp.zeros([], bool)))
    return jnp.where(ok, t, 0.0 * t), i


def _damped_newton(kind: str, *, damping, adaptive_damping, linesearch, max_linesearch_steps,
                   min_damping, max_damping, max_params, name):
    def init_fn(params):
        flat, _ = ravel_pytree(params)
        check_max_params(name, flat.shape[0], max_params)
        return DampedNewtonState(
            count=jnp.zeros([], jnp.int32),
            damping=jnp.asarray(damping, flat.dtype),
            num_linesearch_steps=jnp.zeros([], jnp.int32),
            accepted=jnp.ones([], bool),
        )

    def update_fn(updates, state, params, *, value_fn=None, residual_fn=None, value=None, **extra):
        if params is None:
            raise ValueError(f"{name} needs params")
        g, unravel_u = ravel_pytree(updates)
        x, unravel = ravel_pytree(params)
        g = g.astype(x.dtype)
        n = x.shape[0]
        lam = state.damping
        if kind == "gauss-newton":
            if residual_fn is None:
                raise ValueError(f"{name} needs residual_fn (the residual vector r with ||r||^2 = value_fn)")
            r = lambda z: jnp.ravel(residual_fn(unravel(z)))
            m = jax.eval_shape(r, x).shape[0]
            J = (jax.jacrev if m < n else jax.jacfwd)(r)(x)
            C = 2.0 * J.T @ J
            lam_eff = lam * jnp.trace(C) / n + jnp.finfo(x.dtype).tiny
            w, V = jnp.linalg.eigh(C)
            w = jnp.maximum(w, 0.0)
            d = -(V @ ((V.T @ g) / (w + lam_eff)))
            Cd = C @ d
            if value_fn is None:
                f = lambda z: jnp.sum(r(z) ** 2)
            else:
                f = lambda z: value_fn(unravel(z))
        else:
            if value_fn is None:
                raise ValueError(f"{name} needs value_fn")
            f = lambda z: value_fn(unravel(z))
            Hm = jax.hessian(f)(x)
            Hm = 0.5 * (Hm + Hm.T)
            if kind == "newton":
                d = -jnp.linalg.solve(Hm + lam * jnp.eye(n, dtype=x.dtype), g)
                Cd = Hm @ d
            else:  # saddle-free
                w, V = jnp.linalg.eigh(Hm)
                aw = jnp.abs(w)
                d = -(V @ ((V.T @ g) / (aw + lam)))
                Cd = V @ (aw * (V.T @ d))
        f0 = f(x) if value is None else jnp.asarray(value, x.dtype)
        if linesearch:
            descent = jnp.dot(g, d) < 0
            d = jnp.where(descent, d, -d)
            t, trials = backtracking(f, x, d, f0, g, max_steps=max_linesearch_steps)
            step = t * d
            new_lam, accepted = lam, t > 0
        elif adaptive_damping:
            f1 = f(x + d)
            actual = f0 - f1
            pred = -(jnp.dot(g, d) + 0.5 * jnp.dot(d, Cd))
            accepted = jnp.isfinite(f1) & (actual > 0)
            rho = actual / jnp.where(pred != 0, pred, 1.0)
            good = accepted & (pred > 0) & (rho > 0.75)
            bad = (~accepted) | (rho < 0.25)
            new_lam = jnp.where(good, lam / 3.0, jnp.where(bad, lam * 2.0, lam))
            new_lam = jnp.clip(new_lam, min_damping, max_damping)
            step = jnp.where(accepted, d, 0.0 * d)
            trials = jnp.ones([], jnp.int32)
        else:
            step, new_lam, accepted, trials = d, lam, jnp.ones([], bool), jnp.zeros([], jnp.int32)
        step = jnp.where(jnp.all(jnp.isfinite(step)), step, 0.0 * step)
        new_state = DampedNewtonState(
            count=state.count + 1,
            damping=jnp.asarray(new_lam, x.dtype),
            num_linesearch_steps=jnp.asarray(trials, jnp.int32),
            accepted=jnp.asarray(accepted, bool),
        )
        return unravel_u(step.astype(x.dtype)), new_state

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)


@register("newton", family="second-order", line_search=True, dense=True,
          extra_args=("value", "grad", "value_fn"))
def newton(*, damping: float = 1e-3, adaptive_damping: bool = True, linesearch: bool = False,
           max_linesearch_steps: int = 20, min_damping: float = 1e-12, max_damping: float = 1e12,
           max_params: int = DEFAULT_MAX_PARAMS) -> optax.GradientTransformationExtraArgs:
    """Exact-Hessian Newton with Levenberg–Marquardt damping (see the module docstring)."""
    return _damped_newton("newton", damping=damping, adaptive_damping=adaptive_damping, linesearch=linesearch,
                          max_linesearch_steps=max_linesearch_steps, min_damping=min_damping,
                          max_damping=max_damping, max_params=max_params, name="newton")


@register("saddle-free-newton", family="second-order", line_search=True, dense=True,
          extra_args=("value", "grad", "value_fn"))
def saddle_free_newton(*, damping: float = 1e-3, adaptive_damping: bool = True, linesearch: bool = False,
                       max_linesearch_steps: int = 20, min_damping: float = 1e-12, max_damping: float = 1e12,
                       max_params: int = DEFAULT_MAX_PARAMS) -> optax.GradientTransformationExtraArgs:
    """Saddle-free Newton (Dauphin et al. 2014): d = -(|H| + λI)^{-1} g, |H| = V|Λ|Vᵀ."""
    return _damped_newton("saddle-free", damping=damping, adaptive_damping=adaptive_damping,
                          linesearch=linesearch, max_linesearch_steps=max_linesearch_steps,
                          min_damping=min_damping, max_damping=max_damping, max_params=max_params,
                          name="saddle-free-newton")


@register("gauss-newton", family="second-order", line_search=True, dense=True,
          extra_args=("value", "grad", "value_fn", "residual_fn"))
def gauss_newton(*, damping: float = 1e-8, max_linesearch_steps: int = 30,
                 max_params: int = DEFAULT_MAX_PARAMS) -> optax.GradientTransformationExtraArgs:
    """Damped Gauss–Newton, C = 2JᵀJ of ``residual_fn``, λ = damping·tr(C)/n, Armijo line search."""
    return _damped_newton("gauss-newton", damping=damping, adaptive_damping=False, linesearch=True,
                          max_linesearch_steps=max_linesearch_steps, min_damping=0.0, max_damping=jnp.inf,
                          max_params=max_params, name="gauss-newton")
