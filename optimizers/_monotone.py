r"""A monotone safeguard for line-search methods: a step that does not lower the objective is
rejected and the method restarts from its initial state.

A strong-Wolfe line search guarantees :math:`L(x_k + \alpha_k d_k) \le L(x_k) + c_1 \alpha_k
\nabla L(x_k)^\top d_k < L(x_k)` when it succeeds (Nocedal & Wright, *Numerical Optimization*,
2nd ed. 2006, §3.1, eq. 3.6a). When it fails within its budget of trial points, optax's
``scale_by_zoom_linesearch`` falls back to the last point that satisfied sufficient decrease and,
if there is none, makes "an unsafe step" with the last trial step size, which may raise the
objective by any amount. On badly scaled PINN losses (poisson-2d-k4 starts near 2.5e4) that
unsafe step sent dense BFGS to loss 1e21 and saturated its network (rel. L2 8e8, then a constant
output), which is not what BFGS is: a quasi-Newton method with a Wolfe line search is a descent
method.

:func:`reject_increasing_steps` wraps such a method (direction + line search):

* the step is accepted iff :math:`L(x_k + \alpha_k d_k)` is finite and
  :math:`< L(x_k)` (the ``value`` passed to ``update``; the line search's state holds the value
  at the point it chose);
* otherwise the update is zero (:math:`x_{k+1} = x_k`) and the wrapped method's state is
  re-initialised, which discards the curvature pairs that produced the failed direction: the
  next direction is the (scaled) steepest-descent one. This is the restart that Nocedal & Wright
  recommend when a quasi-Newton approximation has become poor (§6.1, §7.2), and what SciPy's
  BFGS does short of stopping (it stops with ``warnflag = 2``).

The line search's ``num_linesearch_steps`` of the rejected update is kept, so its trial
evaluations are still counted (``pinnarena.counting``), and ``num_rejected`` counts the rejected
updates.
"""
from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax
from optax._src.linesearch import ScaleByZoomLinesearchState


class RejectIncreasingStepsState(NamedTuple):
    """State of :func:`reject_increasing_steps`."""

    inner: Any  # the wrapped method's state
    num_rejected: jax.Array  # updates rejected so far (int32)


def _is_zoom(x) -> bool:
    return isinstance(x, ScaleByZoomLinesearchState)


def zoom_state(state) -> ScaleByZoomLinesearchState:
    """The (single) zoom line-search state inside an optax state tree."""
    found = [x for x in jax.tree.leaves(state, is_leaf=_is_zoom) if _is_zoom(x)]
    if len(found) != 1:
        raise ValueError(f"expected one zoom line-search state in the optimizer state, found {len(found)}")
    return found[0]


def _with_zoom(state, zoom: ScaleByZoomLinesearchState):
    """``state`` with its zoom line-search state replaced by ``zoom``."""
    return jax.tree.map(lambda x: zoom if _is_zoom(x) else x, state, is_leaf=_is_zoom)


def reject_increasing_steps(inner: optax.GradientTransformation) -> optax.GradientTransformationExtraArgs:
    """Wrap a line-search method (ending in ``scale_by_zoom_linesearch``) so that it never raises
    the objective: see the module docstring."""
    inner = optax.with_extra_args_support(inner)

    def init_fn(params):
        return RejectIncreasingStepsState(inner.init(params), jnp.zeros([], jnp.int32))

    def update_fn(updates, state, params=None, *, value, **extra):
        new_updates, new_inner = inner.update(updates, state.inner, params, value=value, **extra)
        zoom = zoom_state(new_inner)
        accept = jnp.isfinite(zoom.value) & (zoom.value < value)
        fresh = _with_zoom(inner.init(params), zoom._replace(learning_rate=jnp.ones_like(zoom.learning_rate)))
        pick = lambda a, b: jnp.where(accept, a, jnp.asarray(b, a.dtype))  # noqa: E731
        out_state = jax.tree.map(pick, new_inner, fresh)
        out_updates = jax.tree.map(lambda u: jnp.where(accept, u, jnp.zeros_like(u)), new_updates)
        return out_updates, RejectIncreasingStepsState(out_state, state.num_rejected + (~accept).astype(jnp.int32))

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)
