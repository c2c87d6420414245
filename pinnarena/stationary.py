r"""Classify the point a run ended at: minimum, saddle, or not stationary.

Rowan (2025, "Nonlinear discretizations and Newton's method: characterizing stationary points of
regression objectives", arXiv 2510.11987) shows that exact-Hessian Newton methods reliably
converge to *saddle points* of neural-network regression objectives rather than to minima, so a
small final loss or gradient says little on its own. :func:`classify` inspects the gradient and
the spectrum of the Hessian of the total loss at the final parameters.

Tests and tolerances (documented, keyword-adjustable):

* stationary iff :math:`\|\nabla L\| \le \text{grad\_rtol}\cdot|L| + \text{grad\_atol}`
  (gradient norm relative to the loss scale, plus an absolute floor for losses near zero, where
  a relative test alone could never pass: near a zero-residual minimum :math:`\|\nabla L\|
  \sim \sqrt{L}`); defaults ``grad_rtol = 1e-3``, ``grad_atol = 1e-8``;
* an eigenvalue counts as negative iff
  :math:`\lambda < -\text{neg\_rtol}\cdot\max_i|\lambda_i|` (relative to the largest
  absolute eigenvalue; default ``neg_rtol`` = max(1e-6, 1000·machine epsilon of the parameters'
  dtype), i.e. 1e-6 in float64 and about 1.2e-4 in float32);
* label: ``"not-stationary"`` if the gradient test fails, else ``"saddle"`` if the smallest
  eigenvalue is negative by that test, else ``"minimum"`` (this includes degenerate minima with
  zero eigenvalues, which second-order information cannot tell from degenerate saddles).

The spectrum: for at most ``dense_max_params`` parameters the dense Hessian, built from
blocks of ``hvp_batch_size`` forward-over-reverse Hessian–vector products
(``pinnarena.curvature.hessian``: memory n² + a bounded working set, so n of a few thousand fits;
``jax.hessian`` would push all n products through the program at once), and all its eigenvalues
(LAPACK ``eigvalsh`` in float64; the config's ``stationary_dense_max`` defaults to 3000); otherwise
``lanczos_steps`` steps of the Lanczos iteration (full reorthogonalisation) on Hessian-vector
products (forward-over-reverse: ``jvp`` of ``grad``), whose extreme Ritz values estimate the
smallest and largest eigenvalues; ``hess_neg_count`` is then ``-1`` (unknown).
"""
from __future__ import annotations

from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

from pinnarena import curvature

LABELS = ("minimum", "saddle", "not-stationary")


def _lanczos_extremes(hvp: Callable, n: int, steps: int, dtype, seed: int) -> tuple[float, float]:
    """Extreme Ritz values of ``steps`` Lanczos iterations with full reorthogonalisation."""
    k = min(steps, n)
    rng = np.random.default_rng(seed)
    q = rng.standard_normal(n)
    q /= np.linalg.norm(q)
    Q = np.zeros((k, n))
    alphas, betas = [], []
    for j in range(k):
        Q[j] = q
        w = np.asarray(hvp(jnp.asarray(q, dtype)), np.float64)
        a = float(q @ w)
        alphas.append(a)
        w = w - Q[: j + 1].T @ (Q[: j + 1] @ w)  # full reorthogonalisation (twice is enough)
        w = w - Q[: j + 1].T @ (Q[: j + 1] @ w)
        b = float(np.linalg.norm(w))
        if j == k - 1 or b <= 1e-10 * max(1.0, abs(a)):
            break  # Krylov space exhausted (invariant subspace) or last step
        betas.append(b)
        q = w / b
    m = len(alphas)
    T = np.diag(alphas) + np.diag(betas[: m - 1], 1) + np.diag(betas[: m - 1], -1)
    ev = np.linalg.eigvalsh(T)
    return float(ev[0]), float(ev[-1])


def classify(
    loss_fn: Callable[[Any], jax.Array],
    params: Any,
    *,
    dense_max_params: int = 3000,
    lanczos_steps: int = 80,
    grad_rtol: float = 1e-3,
    grad_atol: float = 1e-8,
    neg_rtol: float | None = None,
    seed: int = 0,
    hvp_batch_size: int | None = None,
) -> dict:
    """Gradient norm, Hessian extreme eigenvalues and a label for ``params`` under ``loss_fn``.

    Args:
      loss_fn: maps the parameter pytree to the scalar total loss.
      params: the parameter pytree (e.g. the final parameters of a run).
      dense_max_params: at most this many parameters → dense Hessian and ``eigh``; above →
        Lanczos on Hessian-vector products.
      lanczos_steps: Lanczos iterations (Krylov dimension) in the large case.
      grad_rtol, grad_atol, neg_rtol: tolerances (module docstring).
      seed: start vector of the Lanczos iteration.
      hvp_batch_size: Hessian–vector products per block of the dense Hessian (None: as many as
        fit ``pinnarena.curvature.WORKING_SET_BYTES``).

    Returns:
      dict with ``loss``, ``grad_norm``, ``hess_min_eig``, ``hess_max_eig``, ``hess_neg_count``
      (exact count for the dense path, ``-1`` for Lanczos), ``label`` (one of
      ``"minimum" | "saddle" | "not-stationary"``), ``method`` (``"dense" | "lanczos"``),
      ``n_params``, ``grad_tol`` and ``neg_tol`` (the absolute thresholds used).
    """
    curvature.check_batch_size(hvp_batch_size, "hvp_batch_size")
    if dense_max_params < 0 or lanczos_steps < 1:
        raise ValueError(f"dense_max_params must be >= 0 and lanczos_steps >= 1, got {dense_max_params}, "
                         f"{lanczos_steps}")
    x, unravel = ravel_pytree(params)
    n = int(x.shape[0])
    if n == 0:
        raise ValueError("classify needs at least one parameter")
    f = lambda z: loss_fn(unravel(z))
    loss, g = jax.jit(jax.value_and_grad(f))(x)
    loss = float(loss)
    grad_norm = float(jnp.linalg.norm(g))
    eps = float(jnp.finfo(x.dtype).eps)
    neg_rtol = max(1e-6, 1000.0 * eps) if neg_rtol is None else float(neg_rtol)
    if n <= dense_max_params:
        Hm = jax.jit(lambda z: curvature.hessian(f, z, batch_size=hvp_batch_size))(x)
        ev = np.linalg.eigvalsh(np.asarray(0.5 * (Hm + Hm.T), np.float64))
        lo, hi = float(ev[0]), float(ev[-1])
        scale = float(np.max(np.abs(ev)))
        neg_tol = neg_rtol * scale
        neg_count = int(np.sum(ev < -neg_tol))
        method = "dense"
    else:
        grad_f = jax.grad(f)
        hvp = jax.jit(lambda v: jax.jvp(grad_f, (x,), (v,))[1])
        lo, hi = _lanczos_extremes(hvp, n, lanczos_steps, x.dtype, seed)
        scale = max(abs(lo), abs(hi))
        neg_tol = neg_rtol * scale
        neg_count = -1
        method = "lanczos"
    grad_tol = grad_rtol * abs(loss) + grad_atol
    if not (np.isfinite(grad_norm) and grad_norm <= grad_tol):
        label = "not-stationary"
    elif lo < -neg_tol:
        label = "saddle"
    else:
        label = "minimum"
    return {
        "loss": loss,
        "grad_norm": grad_norm,
        "hess_min_eig": lo,
        "hess_max_eig": hi,
        "hess_neg_count": neg_count,
        "label": label,
        "method": method,
        "n_params": n,
        "grad_tol": grad_tol,
        "neg_tol": neg_tol,
    }
