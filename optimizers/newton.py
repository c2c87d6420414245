r"""Exact-curvature second-order methods on the flattened parameters (dense).

All three compute a curvature matrix :math:`C` of the objective :math:`L` at :math:`x_k`, the
damped direction :math:`d_k = -(C + \lambda_k I)^{-1} \nabla L(x_k)` and a step along it:

* ``newton``: :math:`C = \nabla^2 L` (the exact Hessian of ``value_fn``), Levenberg–Marquardt
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
  backtracking Armijo line search (Nocedal & Wright, Alg. 3.1). With a tiny damping the direction
  carries :math:`(u_i^\top r)/\sigma_i` along the smallest singular directions of J and can be so
  long that no trial point decreases the loss; the step is then zero, and a fixed damping would
  repeat the same failed search from the same point for the rest of the run (the CPU suite saw
  Gauss–Newton stay at its initial loss on 2 of 3 held-out seeds of poisson-2d-k1), and a search
  that succeeds only at a tiny step (2^-17) moves the loss by 1e-5 a step for the rest of the run.
  So the damping follows Marquardt's rule (Marquardt 1963, with his factor 10; Nocedal & Wright
  Sec. 10.3) on the gain ratio of the step taken, :math:`\rho = (L(x) - L(x + td)) /
  (-(t g^\top d + \tfrac12 t^2 d^\top C d))`: a failed search or :math:`\rho < 1/4` multiplies it
  by ``FAIL_FACTOR`` = 10 for the next step, :math:`\rho > 3/4` divides it by 10, never below the
  set ``damping``. A run whose steps all have :math:`\rho \ge 1/4` keeps the set damping and is
  unchanged by the rule.

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

Memory (``pinnarena.curvature``). The Hessian is built from forward-over-reverse
Hessian–vector products :math:`He_j` (Pearlmutter 1994), the gradient linearised once and
applied to ``hvp_batch_size`` basis vectors at a time (``None``: as many as fit a 128 MiB working
set), so memory is n² + B × one HVP instead of n HVPs at once (``jax.hessian``). Gauss–Newton
takes :math:`J` from the training loop's ``residual_jacobian_fn`` (per-point reverse passes), or,
without it, from blocks of ``jacobian_batch_size`` Jacobian–vector products of ``residual_fn``.

Example::

    from pinnarena import optimizers
    tx = optimizers.make("saddle-free-newton", damping=1e-3)
    tx = optimizers.make("newton", hvp_batch_size=64)   # 64 HVPs per block
"""
from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax
from jax.flatten_util import ravel_pytree

from pinnarena import curvature
from pinnarena.optimizers import register
from pinnarena.optimizers.quasi_newton import DEFAULT_MAX_PARAMS, check_max_params
from pinnarena.search_space import Log


FAIL_FACTOR = 10.0  # damping × this after a line search that found no decrease (gauss-newton)


class DampedNewtonState(NamedTuple):
    count: jax.Array
    damping: jax.Array  # current λ
    num_linesearch_steps: jax.Array  # trial evaluations in the last update
    accepted: jax.Array  # whether the last step was taken (adaptive damping)


def backtracking(f, x, d, f0, g, *, max_steps: int, c1: float = 1e-4, shrink: float = 0.5):
    """Armijo backtracking along d from step 1: returns (step, trials, f at the step). step = 0
    (and the value f0) if it fails."""
    slope = jnp.dot(g, d)

    def cond(c):
        t, i, ok, _ = c
        return (~ok) & (i < max_steps)

    def body(c):
        t, i, _, _ = c
        ft = f(x + t * d)
        ok = jnp.isfinite(ft) & (ft <= f0 + c1 * t * slope)
        return jnp.where(ok, t, t * shrink), i + 1, ok, ft

    one = jnp.ones([], x.dtype)
    t, i, ok, ft = jax.lax.while_loop(cond, body, (one, jnp.zeros([], jnp.int32), jnp.zeros([], bool), f0))
    return jnp.where(ok, t, 0.0 * t), i, jnp.where(ok, ft, f0)


def _damped_newton(kind: str, *, damping, adaptive_damping, linesearch, max_linesearch_steps,
                   min_damping, max_damping, max_params, name, batch_size=None):
    if not damping >= 0:
        raise ValueError(f"{name}: damping must be >= 0, got {damping}")
    if max_linesearch_steps < 1:
        raise ValueError(f"{name}: max_linesearch_steps must be >= 1, got {max_linesearch_steps}")
    curvature.check_batch_size(batch_size, "jacobian_batch_size" if kind == "gauss-newton" else "hvp_batch_size")
    def init_fn(params):
        flat, _ = ravel_pytree(params)
        check_max_params(name, flat.shape[0], max_params)
        return DampedNewtonState(
            count=jnp.zeros([], jnp.int32),
            damping=jnp.asarray(damping, flat.dtype),
            num_linesearch_steps=jnp.zeros([], jnp.int32),
            accepted=jnp.ones([], bool),
        )

    def update_fn(updates, state, params, *, value_fn=None, residual_fn=None, residual_jacobian_fn=None,
                  value=None, **extra):
        if params is None:
            raise ValueError(f"{name} needs params")
        g, unravel_u = ravel_pytree(updates)
        x, unravel = ravel_pytree(params)
        g = g.astype(x.dtype)
        n = x.shape[0]
        lam = state.damping
        if kind == "gauss-newton":
            if residual_fn is None and residual_jacobian_fn is None:
                raise ValueError(f"{name} needs residual_fn (the residual vector r with ||r||^2 = value_fn) "
                                 "or residual_jacobian_fn (p -> (r, dr/dp))")
            if residual_jacobian_fn is not None:
                _, J = residual_jacobian_fn(params)
            else:
                _, J = curvature.jacobian(lambda z: residual_fn(unravel(z)), x, batch_size=batch_size)
            J = J.astype(x.dtype)
            C = 2.0 * J.T @ J
            lam_eff = lam * jnp.trace(C) / n + jnp.finfo(x.dtype).tiny
            w, V = curvature.psd_eigh(C)
            d = -curvature.damped_apply(w, V, g, lam_eff)
            Cd = C @ d
            if value_fn is not None:
                f = lambda z: value_fn(unravel(z))
            elif residual_fn is not None:
                f = lambda z: jnp.sum(jnp.ravel(residual_fn(unravel(z))) ** 2)
            else:
                f = lambda z: jnp.sum(residual_jacobian_fn(unravel(z))[0] ** 2)
        else:
            if value_fn is None:
                raise ValueError(f"{name} needs value_fn")
            f = lambda z: value_fn(unravel(z))
            Hm = curvature.hessian(f, x, batch_size=batch_size)
            Hm = 0.5 * (Hm + Hm.T)
            if kind == "newton":
                d = -jnp.linalg.solve(Hm + lam * jnp.eye(n, dtype=x.dtype), g)
                Cd = Hm @ d
            else:  # saddle-free
                w, V = jnp.linalg.eigh(Hm)
                aw = jnp.abs(w)
                d = -curvature.damped_apply(aw, V, g, lam)
                Cd = V @ (aw * (V.T @ d))
        f0 = f(x) if value is None else jnp.asarray(value, x.dtype)
        if linesearch:
            descent = jnp.dot(g, d) < 0
            d = jnp.where(descent, d, -d)
            t, trials, ft = backtracking(f, x, d, f0, g, max_steps=max_linesearch_steps)
            step = t * d
            accepted = t > 0
            # Marquardt's rule on the gain ratio of the step taken (module docstring): a failed
            # search or a poor model (ρ < 1/4) → λ × 10; a good one (ρ > 3/4) → λ / 10, never
            # below the set damping
            pred = -(t * jnp.dot(g, d) + 0.5 * t * t * jnp.dot(d, Cd))
            rho = (f0 - ft) / jnp.where(pred > 0, pred, 1.0)
            base = jnp.asarray(damping, x.dtype)
            poor = (~accepted) | (pred <= 0) | (rho < 0.25)
            good = accepted & (pred > 0) & (rho > 0.75)
            new_lam = jnp.where(poor, lam * FAIL_FACTOR, jnp.where(good, jnp.maximum(lam / FAIL_FACTOR, base), lam))
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
          extra_args=("value", "grad", "value_fn"), search_space={"damping": Log(1e-8, 1e-1)})
def newton(*, damping: float = 1e-3, adaptive_damping: bool = True, linesearch: bool = False,
           max_linesearch_steps: int = 20, min_damping: float = 1e-12, max_damping: float = 1e12,
           max_params: int = DEFAULT_MAX_PARAMS,
           hvp_batch_size: int | None = None) -> optax.GradientTransformationExtraArgs:
    """Exact-Hessian Newton with Levenberg–Marquardt damping (see the module docstring).

    ``damping`` is the initial λ (adapted per step unless ``linesearch``); the search space tunes
    it. ``hvp_batch_size``: Hessian–vector products per block (None: automatic).
    """
    return _damped_newton("newton", damping=damping, adaptive_damping=adaptive_damping, linesearch=linesearch,
                          max_linesearch_steps=max_linesearch_steps, min_damping=min_damping,
                          max_damping=max_damping, max_params=max_params, name="newton", batch_size=hvp_batch_size)


@register("saddle-free-newton", family="second-order", line_search=True, dense=True,
          extra_args=("value", "grad", "value_fn"), search_space={"damping": Log(1e-8, 1e-1)})
def saddle_free_newton(*, damping: float = 1e-3, adaptive_damping: bool = True, linesearch: bool = False,
                       max_linesearch_steps: int = 20, min_damping: float = 1e-12, max_damping: float = 1e12,
                       max_params: int = DEFAULT_MAX_PARAMS,
                       hvp_batch_size: int | None = None) -> optax.GradientTransformationExtraArgs:
    """Saddle-free Newton (Dauphin et al. 2014): d = -(|H| + λI)^{-1} g, |H| = V|Λ|Vᵀ.

    ``damping`` is the initial λ (tuned by the search space); ``hvp_batch_size`` as for newton.
    """
    return _damped_newton("saddle-free", damping=damping, adaptive_damping=adaptive_damping,
                          linesearch=linesearch, max_linesearch_steps=max_linesearch_steps,
                          min_damping=min_damping, max_damping=max_damping, max_params=max_params,
                          name="saddle-free-newton", batch_size=hvp_batch_size)


@register("gauss-newton", family="second-order", line_search=True, dense=True,
          extra_args=("value", "grad", "value_fn", "residual_fn", "residual_jacobian_fn"),
          search_space={"damping": Log(1e-12, 1e-4)})
def gauss_newton(*, damping: float = 1e-8, max_linesearch_steps: int = 30, max_params: int = DEFAULT_MAX_PARAMS,
                 jacobian_batch_size: int | None = None) -> optax.GradientTransformationExtraArgs:
    """Damped Gauss–Newton, C = 2JᵀJ of ``residual_fn``, λ = damping·tr(C)/n, Armijo line search.

    J from ``residual_jacobian_fn`` when the training loop passes it, else from blocks of
    ``jacobian_batch_size`` products of ``residual_fn`` (None: automatic). The search space tunes
    the relative damping.
    """
    return _damped_newton("gauss-newton", damping=damping, adaptive_damping=False, linesearch=True,
                          max_linesearch_steps=max_linesearch_steps, min_damping=0.0, max_damping=jnp.inf,
                          max_params=max_params, name="gauss-newton", batch_size=jacobian_batch_size)
