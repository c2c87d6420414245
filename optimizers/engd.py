r"""Energy natural gradient descent (ENGD) for PINNs.

Müller & Zeinhofer (2023, "Achieving high accuracy with PINNs via energy natural gradient
descent", ICML, arXiv 2302.13163): for a least-squares PINN loss the energy Gram matrix is the
Gauss–Newton matrix of the residuals,

.. math::

   G(\theta)_{ij} = \sum_m \partial_{\theta_i} r_m(\theta)\, \partial_{\theta_j} r_m(\theta),
   \qquad G = J^\top J,

(their Sec. 3; with the paper's loss :math:`\tfrac12\|r\|^2` this is the Hessian's Gauss–Newton
part). The update is

.. math::

   \theta_{k+1} = \theta_k - \eta_k\, G(\theta_k)^{+} \nabla L(\theta_k),

with :math:`G^+` the Moore–Penrose pseudo-inverse (Algorithm 1 of the paper) and the step size
:math:`\eta_k` chosen by a line search over a logarithmically spaced grid on :math:`[0, 1]`:
:math:`\eta \in \{0\} \cup \{2^{-j}: j = 0, \dots, n_\text{grid} - 1\}`, taking the grid point with
the smallest loss (:math:`\eta = 0`, no step, when none decreases it).

In pinnarena the training loop's objective is :math:`L = \|r\|^2` (``residual_fn``), whose
gradient is :math:`2J^\top r`; the direction uses :math:`(2J^\top J)^+` so that :math:`\eta = 1`
is the Gauss–Newton step (exact for a linear least-squares problem), which only shifts the grid.
``damping > 0`` replaces the pseudo-inverse by the damped solve :math:`(G + \lambda I)^{-1}` with
:math:`\lambda = \text{damping}\cdot\operatorname{tr}(G)/n`. The pseudo-inverse cuts eigenvalues
below ``rcond`` times the largest (default: n × machine epsilon).

When no grid point lowers the loss (:math:`\eta = 0`) the next step would repeat the same
search from the same point, for the rest of the run (the CPU suite saw ENGD stay at its initial
loss on poisson-2d-k4 and on burgers trials). As in Levenberg–Marquardt (Marquardt 1963), a
failed step multiplies the damping by ``FAIL_FACTOR`` = 10 for the next one (the pseudo-inverse's
cut-off ``rcond`` instead, when ``damping`` is 0), and a step that moves divides it by 10, never
below the set value: a run whose steps all move is unchanged. The paper does not say what to do
when the grid fails.

Every grid point costs one objective evaluation and is reported in the state's
``num_linesearch_steps`` (the training loop counts each as a function and a gradient
evaluation; the gradient count is therefore an over-count for ENGD). Dense n × n: refuses more
than ``max_params`` parameters at ``init``.

Cost and memory. The training loop passes ``residual_jacobian_fn(p) -> (r, J)``, J built row by
row from per-point reverse passes of the pointwise PINN residual (about one batched backward
pass; ``pinnarena.curvature.pointwise_jacobian``). Without it (an optimizer used on its own, with
``residual_fn`` only) J comes from ``pinnarena.curvature.jacobian``: the residual linearised once
and applied to blocks of ``jacobian_batch_size`` basis vectors (automatic from a 128 MiB working
set when ``None``). Either way memory is m·n + n² + a bounded working set, and a step costs the
Jacobian, :math:`2J^\top J` (2mn² flops), one n × n ``eigh`` and ``n_grid`` objective
evaluations.

Example::

    from pinnarena import optimizers
    tx = optimizers.make("engd")           # pseudo-inverse, 31-point grid
    tx = optimizers.make("engd", damping=1e-8)
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


FAIL_FACTOR = 10.0  # the damping (or rcond) × this after a step whose grid found no decrease


class ENGDState(NamedTuple):
    count: jax.Array
    step_size: jax.Array  # η chosen at the last update
    num_linesearch_steps: jax.Array
    boost: jax.Array  # FAIL_FACTOR^(failed steps, less successes), ≥ 1: multiplies damping (or rcond)


def scale_by_engd(*, damping: float = 0.0, rcond=None, n_grid: int = 31,
                  max_params: int = DEFAULT_MAX_PARAMS,
                  jacobian_batch_size: int | None = None) -> optax.GradientTransformationExtraArgs:
    """The ENGD step −η G⁺ ∇L with η from the log-spaced grid search (module docstring).

    Args:
      damping: λ / (tr(G)/n) of the damped solve; 0 → Moore–Penrose pseudo-inverse.
      rcond: pseudo-inverse cut-off relative to the largest eigenvalue (None: n × eps).
      n_grid: number of step sizes 2^-j, j = 0 … n_grid − 1, tried per step.
      max_params: refuse more parameters than this at ``init`` (dense n × n).
      jacobian_batch_size: basis vectors per block of the fallback Jacobian (used only without
        ``residual_jacobian_fn``); None: from the working-set bound.
    """
    if n_grid < 1:
        raise ValueError(f"n_grid must be >= 1, got {n_grid}")
    if damping < 0:
        raise ValueError(f"damping must be >= 0, got {damping}")
    curvature.check_batch_size(jacobian_batch_size, "jacobian_batch_size")

    def init_fn(params):
        flat, _ = ravel_pytree(params)
        check_max_params("engd", flat.shape[0], max_params)
        return ENGDState(jnp.zeros([], jnp.int32), jnp.zeros([], flat.dtype), jnp.zeros([], jnp.int32),
                         jnp.ones([], flat.dtype))

    def update_fn(updates, state, params, *, residual_fn=None, residual_jacobian_fn=None, value_fn=None,
                  value=None, **extra):
        if residual_fn is None and residual_jacobian_fn is None:
            raise ValueError("engd needs residual_fn (the residual vector r with ||r||^2 = value_fn) "
                             "or residual_jacobian_fn (p -> (r, dr/dp))")
        if params is None:
            raise ValueError("engd needs params")
        g, unravel_u = ravel_pytree(updates)
        x, unravel = ravel_pytree(params)
        g = g.astype(x.dtype)
        n = x.shape[0]
        if residual_jacobian_fn is not None:
            _, J = residual_jacobian_fn(params)
        else:
            _, J = curvature.jacobian(lambda z: residual_fn(unravel(z)), x, batch_size=jacobian_batch_size)
        J = J.astype(x.dtype)
        G = 2.0 * J.T @ J
        w, V = curvature.psd_eigh(G)
        boost = state.boost.astype(x.dtype)
        if damping > 0:
            lam = damping * boost * jnp.sum(w) / n
            d = -curvature.damped_apply(w, V, g, lam + jnp.finfo(x.dtype).tiny)
        else:
            cut = (n * jnp.finfo(x.dtype).eps if rcond is None else rcond) * boost
            d = -curvature.pinv_apply(w, V, g, cut)
        if value_fn is not None:
            f = lambda z: value_fn(unravel(z))
        elif residual_fn is not None:
            f = lambda z: jnp.sum(jnp.ravel(residual_fn(unravel(z))) ** 2)
        else:
            f = lambda z: jnp.sum(residual_jacobian_fn(unravel(z))[0] ** 2)
        f0 = f(x) if value is None else jnp.asarray(value, x.dtype)
        etas = 0.5 ** jnp.arange(n_grid, dtype=x.dtype)
        losses = jax.lax.map(lambda eta: f(x + eta * d), etas)
        losses = jnp.where(jnp.isfinite(losses), losses, jnp.inf)
        best = jnp.argmin(losses)
        eta = jnp.where(losses[best] < f0, etas[best], 0.0)
        step = eta * d
        step = jnp.where(jnp.all(jnp.isfinite(step)), step, 0.0 * step)
        moved = eta > 0
        boost = jnp.where(moved, jnp.maximum(boost / FAIL_FACTOR, 1.0), boost * FAIL_FACTOR)
        return unravel_u(step), ENGDState(state.count + 1, eta, jnp.asarray(n_grid, jnp.int32), boost)

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)


@register("engd", family="natural-gradient", line_search=True, dense=True,
          extra_args=("value", "grad", "value_fn", "residual_fn", "residual_jacobian_fn"),
          search_space={"damping": Log(1e-10, 1e-3)})
def engd(*, damping: float = 0.0, rcond=None, n_grid: int = 31, max_params: int = DEFAULT_MAX_PARAMS,
         jacobian_batch_size: int | None = None) -> optax.GradientTransformationExtraArgs:
    """Energy natural gradient descent (Müller & Zeinhofer 2023) with the grid line search.

    The search space tunes the damping of :math:`(G + \\lambda I)^{-1}` (relative to tr(G)/n);
    the default (0) is the paper's pseudo-inverse.
    """
    return scale_by_engd(damping=damping, rcond=rcond, n_grid=n_grid, max_params=max_params,
                         jacobian_batch_size=jacobian_batch_size)
