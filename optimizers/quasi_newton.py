r"""Dense quasi-Newton methods: BFGS, self-scaled BFGS and self-scaled Broyden.

The parameters are flattened (``jax.flatten_util.ravel_pytree``) and a dense approximation
:math:`H_k \approx \nabla^2 L(x_k)^{-1}` of the inverse Hessian is kept in the state. Each step
takes the direction :math:`d_k = -H_k \nabla L(x_k)` and a step length :math:`\alpha_k` from a
strong-Wolfe (zoom) line search, :math:`x_{k+1} = x_k + \alpha_k d_k`.

With :math:`s_k = x_{k+1} - x_k`, :math:`y_k = \nabla L(x_{k+1}) - \nabla L(x_k)` the update of
the self-scaled Broyden family, as written by Urbán, Stefanou & Pons (2025, "Unveiling the
optimization process of physics informed neural networks: how accurate and competitive can PINNs
be?", J. Comput. Phys. 523, 113656, arXiv 2405.04230, Sec. 2; also Kiyani et al. 2025, arXiv
2501.16371, Sec. 2) is

.. math::

   H_{k+1} = \frac{1}{\tau_k}\Big[H_k - \frac{H_k y_k y_k^\top H_k}{y_k^\top H_k y_k}
             + \phi_k\, (y_k^\top H_k y_k)\, v_k v_k^\top\Big] + \frac{s_k s_k^\top}{y_k^\top s_k},
   \qquad
   v_k = \frac{s_k}{y_k^\top s_k} - \frac{H_k y_k}{y_k^\top H_k y_k}.

:math:`\phi_k = 1, \tau_k = 1` is BFGS (:math:`\phi_k = 0` would be DFP). The scalars of the
self-scaling rules (Al-Baali 1998; Al-Baali & Khalfan 2005, as restated in the paper) are

.. math::

   b_k = \frac{-\alpha_k\, s_k^\top \nabla L(x_k)}{y_k^\top s_k} = \frac{s_k^\top H_k^{-1} s_k}{y_k^\top s_k},\quad
   h_k = \frac{y_k^\top H_k y_k}{y_k^\top s_k},\quad a_k = b_k h_k - 1 \;(\ge 0),

* **SSBFGS**: :math:`\phi_k = 1`, :math:`\tau_k = \min(1, 1/b_k)`.
* **SSBroyden**: :math:`c_k = \sqrt{a_k/(1+a_k)}`, :math:`\rho_k^- = \min(1, h_k(1-c_k))`,
  :math:`\theta_k^- = (\rho_k^- - 1)/a_k`, :math:`\theta_k^+ = 1/\rho_k^-`,
  :math:`\theta_k = \max(\theta_k^-, \min(\theta_k^+, (1-b_k)/b_k))`,
  :math:`\sigma_k = 1 + \theta_k a_k`, :math:`\sigma_k^{(n)} = |\sigma_k|^{1/(1-n)}`,
  :math:`\rho_k^+ = \min(1, 1/b_k)`,

  .. math::

     \tau_k = \begin{cases}\min(\rho_k^+ \sigma_k^{(n)}, \sigma_k) & \theta_k \le 0\\
                           \rho_k^+ \min(\sigma_k^{(n)}, 1/\theta_k) & \theta_k > 0\end{cases},\qquad
     \phi_k = \frac{1 - \theta_k}{1 + a_k \theta_k}.

* On the first update (while :math:`H_0 = I`, option ``initial_scale``) the scaling is
  :math:`\tau_0 = h_0 / (1 + a_0\theta_0)` (for BFGS this is the usual
  :math:`H_0 \leftarrow (s^\top y / y^\top y) I` of Nocedal & Wright eq. 6.20).

(Equation numbers of the journal version were not reproduced here because only excerpts of the
paper could be read while writing this module; the formulas are stated in full above.)

The first direction (:math:`H_0 = I`, before any curvature pair) is scaled by
:math:`\min(1, 1/\lVert\nabla L(x_0)\rVert)`, so the line search's first trial step has length at
most 1: with :math:`H_0 = I` and the trial step 1 of a quasi-Newton line search, a PINN loss whose
gradient norm is 1e4 (poisson-2d-k4) would be probed 1e4 away. This is the first trial step of
SciPy's BFGS, whose line search starts at :math:`\min(1, 1.01 \cdot 2 (f_0 - f_{-1})/\phi'(0))`
with :math:`f_{-1} = f_0 + \lVert g_0\rVert/2` (Nocedal & Wright 2006, eq. 3.60), and of
``optax.scale_by_lbfgs``. The stored direction stays unscaled, so :math:`b_k` is exact.

The method is wrapped in :func:`pinnarena.optimizers._monotone.reject_increasing_steps`: a step
whose line search found no decrease is rejected and the method restarts from :math:`H_0 = I`
(optax's zoom line search would otherwise take an "unsafe step" that may raise the loss by any
amount).

Safeguards (not in the paper): an update is skipped when :math:`y_k^\top s_k \le 0`, when a scalar
is not finite, or (a tiny :math:`a_k`, e.g. one parameter) when :math:`\theta_k` is undefined, in
which case :math:`\theta_k = 0`. If :math:`d_k` is not a descent direction (round-off) H is reset
to the identity. The state exposes the line search's ``num_linesearch_steps``, so the training
loop counts every trial point as one function and one gradient evaluation.

The inverse Hessian is dense (n × n): the optimizers refuse, at ``init``, more than
``max_params`` parameters.

Example::

    >>> import jax.numpy as jnp, optax
    >>> from pinnarena.optimizers.quasi_newton import ssbroyden
    >>> f = lambda p: jnp.sum((p - 1.0) ** 2 * jnp.arange(1.0, 4.0))
    >>> opt = ssbroyden()
    >>> p = jnp.zeros(3); s = opt.init(p)
    >>> for _ in range(10):
    ...     v, g = jax.value_and_grad(f)(p)
    ...     u, s = opt.update(g, s, p, value=v, grad=g, value_fn=f)
    ...     p = optax.apply_updates(p, u)
"""
from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax
from jax.flatten_util import ravel_pytree

from pinnarena.optimizers import register
from pinnarena.optimizers._monotone import reject_increasing_steps
from pinnarena.search_space import Choice, IntLog

DEFAULT_MAX_PARAMS = 5000
METHODS = ("bfgs", "ssbfgs", "ssbroyden")


def check_max_params(name: str, n: int, max_params: int) -> None:
    """Refuse dense curvature matrices beyond ``max_params`` parameters (clear message)."""
    if n > max_params:
        gib = n * n * 4 / 2**30
        raise ValueError(
            f"{name} keeps a dense {n} x {n} matrix ({gib:.2f} GiB in float32) but max_params={max_params}; "
            f"use a smaller network, pass max_params={n} (or larger) to accept the cost, or choose a "
            f"limited-memory method such as 'lbfgs'"
        )


class ScaleBySelfScaledBroydenState(NamedTuple):
    """State of :func:`scale_by_self_scaled_broyden` (all arrays; flat vectors of length n)."""

    count: jax.Array  # number of updates so far
    inv_hessian: jax.Array  # H_k, n x n
    prev_params: jax.Array  # x_{k-1}
    prev_grad: jax.Array  # ∇L(x_{k-1})
    prev_direction: jax.Array  # d_{k-1} = -H_{k-1} ∇L(x_{k-1}) (before the line search scaled it)
    tau: jax.Array  # τ of the last curvature update (1 when none)
    phi: jax.Array  # φ of the last curvature update


def broyden_scalars(method: str, s, y, g_prev, alpha, Hy, n: int, first):
    """τ_k, φ_k of the paper's rules (see the module docstring) for one pair (s_k, y_k)."""
    sy = jnp.dot(s, y)
    yHy = jnp.dot(y, Hy)
    h = yHy / sy
    b = -alpha * jnp.dot(s, g_prev) / sy
    a = jnp.maximum(b * h - 1.0, 0.0)
    one = jnp.ones_like(sy)
    if method == "bfgs":
        theta, tau = 0.0 * one, one
    elif method == "ssbfgs":
        theta, tau = 0.0 * one, jnp.minimum(one, 1.0 / b)
    elif method == "ssbroyden":
        tiny = a <= jnp.finfo(sy.dtype).eps
        a_safe = jnp.where(tiny, one, a)
        c = jnp.sqrt(a_safe / (1.0 + a_safe))
        rho_minus = jnp.minimum(one, h * (1.0 - c))
        theta_minus = (rho_minus - 1.0) / a_safe
        theta_plus = 1.0 / rho_minus
        theta = jnp.maximum(theta_minus, jnp.minimum(theta_plus, (1.0 - b) / b))
        theta = jnp.where(tiny, 0.0 * one, theta)
        sigma = 1.0 + theta * a
        sigma_n = jnp.abs(sigma) ** (1.0 / (1.0 - n)) if n > 1 else one
        rho_plus = jnp.minimum(one, 1.0 / b)
        theta_pos = jnp.where(theta > 0, theta, one)
        tau = jnp.where(theta <= 0, jnp.minimum(rho_plus * sigma_n, sigma), rho_plus * jnp.minimum(sigma_n, 1.0 / theta_pos))
    else:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    phi = (1.0 - theta) / (1.0 + a * theta)
    tau = jnp.where(first, h / (1.0 + a * theta), tau)
    return tau, phi, b, h, a


def broyden_update(H, s, y, tau, phi):
    """H_{k+1} of the self-scaled Broyden family (module docstring)."""
    sy = jnp.dot(s, y)
    Hy = H @ y
    yHy = jnp.dot(y, Hy)
    v = s / sy - Hy / yHy
    Hn = (H - jnp.outer(Hy, Hy) / yHy + phi * yHy * jnp.outer(v, v)) / tau + jnp.outer(s, s) / sy
    return 0.5 * (Hn + Hn.T)


def scale_by_self_scaled_broyden(
    method: str = "ssbroyden", *, initial_scale: bool = True, max_params: int = DEFAULT_MAX_PARAMS
) -> optax.GradientTransformation:
    """Turn the gradient into the quasi-Newton direction ``-H_k g`` (no step length).

    Args:
      method: ``"bfgs"``, ``"ssbfgs"`` or ``"ssbroyden"`` (the rules for τ_k, φ_k).
      initial_scale: scale H_0 = I by 1/τ_0 = (1 + a θ)/h at the first update.
      max_params: refuse (``ValueError`` at init) more parameters than this.
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")

    def init_fn(params):
        flat, _ = ravel_pytree(params)
        n = flat.shape[0]
        check_max_params(method, n, max_params)
        z = jnp.zeros_like(flat)
        return ScaleBySelfScaledBroydenState(
            count=jnp.zeros([], jnp.int32),
            inv_hessian=jnp.eye(n, dtype=flat.dtype),
            prev_params=z,
            prev_grad=z,
            prev_direction=z,
            tau=jnp.ones([], flat.dtype),
            phi=jnp.ones([], flat.dtype),
        )

    def update_fn(updates, state, params):
        if params is None:
            raise ValueError("quasi-Newton updates need params")
        g, unravel = ravel_pytree(updates)
        x, _ = ravel_pytree(params)
        g = g.astype(x.dtype)
        n = x.shape[0]
        H = state.inv_hessian
        s = x - state.prev_params
        y = g - state.prev_grad
        d = state.prev_direction
        dd = jnp.dot(d, d)
        alpha = jnp.where(dd > 0, jnp.dot(s, d) / jnp.where(dd > 0, dd, 1.0), 0.0)
        Hy = H @ y
        sy = jnp.dot(s, y)
        first = state.count == 1
        tau, phi, b, h, _ = broyden_scalars(method, s, y, state.prev_grad, alpha, Hy, n, first & initial_scale)
        H_new = broyden_update(H, s, y, tau, phi)
        eps = jnp.finfo(x.dtype).eps
        ok = (
            (state.count > 0)
            & (sy > eps * jnp.linalg.norm(s) * jnp.linalg.norm(y))
            & (b > 0)
            & jnp.isfinite(tau) & (tau > 0)
            & jnp.isfinite(phi)
            & jnp.all(jnp.isfinite(H_new))
        )
        H = jnp.where(ok, H_new, H)
        direction = -(H @ g)
        descent = jnp.dot(direction, g) < 0
        H = jnp.where(descent, H, jnp.eye(n, dtype=x.dtype))
        direction = jnp.where(descent, direction, -g)
        # first step (H_0 = I, no curvature pair yet): a trial step of length min(1, ‖g‖), module docstring
        step_scale = jnp.where(state.count == 0, jnp.minimum(1.0, 1.0 / jnp.linalg.norm(g)), 1.0).astype(x.dtype)
        new_state = ScaleBySelfScaledBroydenState(
            count=state.count + 1,
            inv_hessian=H,
            prev_params=x,
            prev_grad=g,
            prev_direction=direction,
            tau=jnp.where(ok, tau, jnp.ones_like(tau)).astype(x.dtype),
            phi=jnp.where(ok, phi, jnp.ones_like(phi)).astype(x.dtype),
        )
        return unravel(step_scale * direction), new_state

    return optax.GradientTransformation(init_fn, update_fn)


def _alias(method, learning_rate, max_linesearch_steps, initial_scale, max_params):
    if learning_rate is None:
        base = optax.identity()
    else:
        base = optax.scale_by_learning_rate(learning_rate, flip_sign=False)
    return reject_increasing_steps(optax.chain(
        scale_by_self_scaled_broyden(method, initial_scale=initial_scale, max_params=max_params),
        base,
        optax.scale_by_zoom_linesearch(max_linesearch_steps=max_linesearch_steps, initial_guess_strategy="one"),
    ))


@register("bfgs", family="quasi-newton", line_search=True, dense=True,
          search_space={"initial_scale": Choice(True, False), "max_linesearch_steps": IntLog(10, 40)})
def bfgs(learning_rate=None, *, max_linesearch_steps: int = 20, initial_scale: bool = True,
         max_params: int = DEFAULT_MAX_PARAMS) -> optax.GradientTransformationExtraArgs:
    """Dense BFGS (φ_k = 1, τ_k = 1) with a strong-Wolfe zoom line search.

    ``learning_rate`` (optional) multiplies the direction before the line search, as in
    ``optax.lbfgs``; leave it ``None`` for a pure line-search method.
    """
    return _alias("bfgs", learning_rate, max_linesearch_steps, initial_scale, max_params)


@register("ssbfgs", family="quasi-newton", line_search=True, dense=True,
          search_space={"initial_scale": Choice(True, False), "max_linesearch_steps": IntLog(10, 40)})
def ssbfgs(learning_rate=None, *, max_linesearch_steps: int = 20, initial_scale: bool = True,
           max_params: int = DEFAULT_MAX_PARAMS) -> optax.GradientTransformationExtraArgs:
    """Self-scaled BFGS (Urbán, Stefanou & Pons 2025): φ_k = 1, τ_k = min(1, 1/b_k); zoom line search."""
    return _alias("ssbfgs", learning_rate, max_linesearch_steps, initial_scale, max_params)


@register("ssbroyden", family="quasi-newton", line_search=True, dense=True,
          search_space={"initial_scale": Choice(True, False), "max_linesearch_steps": IntLog(10, 40)})
def ssbroyden(learning_rate=None, *, max_linesearch_steps: int = 20, initial_scale: bool = True,
              max_params: int = DEFAULT_MAX_PARAMS) -> optax.GradientTransformationExtraArgs:
    """Self-scaled Broyden (Urbán, Stefanou & Pons 2025; Kiyani et al. 2025): τ_k, φ_k from
    θ_k (module docstring); zoom line search."""
    return _alias("ssbroyden", learning_rate, max_linesearch_steps, initial_scale, max_params)
