r"""Dense curvature matrices in bounded memory: Jacobians, Hessians and their eigen-solves.

The dense second-order methods (``optimizers/engd.py``, ``optimizers/newton.py``) and the
stationary-point classification (``pinnarena/stationary.py``) need, for :math:`n` flattened
parameters :math:`\theta` and :math:`m` residuals,

* the residual Jacobian :math:`J = \partial r/\partial\theta \in \mathbb{R}^{m\times n}` (for the
  Gauss–Newton / energy Gram matrix :math:`G = 2J^\top J` of :math:`L = \|r\|^2`), and
* the Hessian :math:`H = \nabla^2 L \in \mathbb{R}^{n\times n}` (exact Newton, saddle-free Newton,
  the stationary-point spectrum).

``jax.jacfwd`` / ``jax.jacrev`` / ``jax.hessian`` vmap *all* n (or m) basis vectors through the
program at once, so the working set is n times that of one Jacobian–vector product: for a
3 × 20 PINN on 2560 points (n = 921) this is ~30 GB. The functions here keep the result
(:math:`m \times n` or :math:`n \times n`) plus a bounded working set:

* :func:`pointwise_jacobian` — for a residual that is a map over points,
  :math:`r_i(\theta) = \rho(\theta; x_i)` (every PINN loss term: ``term_residuals`` in
  ``pinnarena/training.py``), row :math:`i` of :math:`J` is the reverse-mode gradient
  :math:`\nabla_\theta \rho(\theta; x_i)^\top`; vmapped over points this is one batched backward
  pass (per-example gradients), chunked with ``lax.map(..., batch_size=B)``;
* :func:`jacobian` — any :math:`r`: linearise once (``jax.linearize`` for forward mode when
  :math:`m \ge n`, ``jax.vjp`` for reverse mode when :math:`m < n`) and apply the linear map to
  blocks of B basis vectors :math:`e_j`: :math:`J e_j` (columns) or :math:`J^\top e_i` (rows);
* :func:`hessian` — forward-over-reverse Hessian–vector products (Pearlmutter 1994, "Fast exact
  multiplication by the Hessian", Neural Computation 6(1)): :math:`H v = \tfrac{d}{d\epsilon}
  \nabla L(\theta + \epsilon v)|_{\epsilon=0}`, the gradient linearised once and applied to blocks
  of B basis vectors, :math:`H = [H e_1, \dots, H e_n]`.

Memory: B × (working set of one product) + the result. ``B`` is chosen by
:func:`auto_batch_size` from ``memory_bytes`` (default :data:`WORKING_SET_BYTES` = 128 MiB) and
an estimate of the bytes of one product, :func:`working_set_bytes` (the peak of the live
intermediates of its jaxpr, run in order), times a safety factor :data:`SAFETY`.
Pass ``batch_size`` to override.

Eigen-solves of a symmetric positive semi-definite :math:`C = V\Lambda V^\top`:
:func:`psd_eigh` (eigenvalues clipped at 0), :func:`pinv_apply`
(:math:`C^+ g = V\Lambda^+V^\top g`, eigenvalues below ``rcond``·max cut, Moore–Penrose) and
:func:`damped_apply` (:math:`(C + \lambda I)^{-1} g = V(\Lambda + \lambda)^{-1}V^\top g`).
"""
from __future__ import annotations

import math
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np
from jax.extend import core as jcore

WORKING_SET_BYTES = 128 * 2**20  # default bound on the working set of one block of products
SAFETY = 2.0  # XLA's buffers per HVP were 1.7x working_set_bytes (poisson-2d-k1, 3 x 20, 2560 points)


# -- choosing the block size -------------------------------------------------------------------

def _nbytes(v) -> int:
    aval = getattr(v, "aval", None)
    shape, dtype = getattr(aval, "shape", None), getattr(aval, "dtype", None)
    if shape is None or dtype is None:
        return 0
    return math.prod(shape) * np.dtype(dtype).itemsize


def _peak_bytes(jaxpr) -> int:
    """Peak of the live intermediates of a sequential, unfused execution of ``jaxpr``."""
    last = {}
    for i, eqn in enumerate(jaxpr.eqns):
        for v in eqn.invars:
            if isinstance(v, jcore.Var):
                last[v] = i
    for v in jaxpr.outvars:
        if isinstance(v, jcore.Var):
            last[v] = len(jaxpr.eqns)
    given = set(jaxpr.invars) | set(jaxpr.constvars)  # inputs and constants: not intermediates
    live = peak = 0
    for i, eqn in enumerate(jaxpr.eqns):
        out = sum(_nbytes(v) for v in eqn.outvars)
        peak = max(peak, live + _inner_peak(eqn) + out)
        live += out
        for v in {v for v in (*eqn.invars, *eqn.outvars) if isinstance(v, jcore.Var)}:
            if last.get(v, -1) <= i and v not in given:
                live -= _nbytes(v)
    return peak


def _inner_peak(eqn) -> int:
    subs = []
    for val in eqn.params.values():
        for item in (val if isinstance(val, (tuple, list)) else (val,)):
            if isinstance(item, jcore.ClosedJaxpr):
                subs.append(item.jaxpr)
            elif isinstance(item, jcore.Jaxpr):
                subs.append(item)
    return max((_peak_bytes(j) for j in subs), default=0)


def working_set_bytes(fun: Callable, *args: Any) -> int:
    """An estimate of the memory of evaluating ``fun(*args)`` beyond its inputs and constants.

    The peak, over a sequential execution of the traced program, of the bytes of the
    intermediates alive at once (each lives from the equation that makes it to its last use;
    a sub-program such as a ``jit`` or loop body adds its own peak while it runs). XLA fuses
    element-wise chains and so usually needs less; it may also keep a few more buffers. Tracing
    only: nothing is compiled or run.
    """
    return max(1, _peak_bytes(jax.make_jaxpr(fun)(*args).jaxpr))


def check_batch_size(batch_size: int | None, what: str = "batch_size") -> None:
    if batch_size is not None and (isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer))
                                   or batch_size < 1):
        raise ValueError(f"{what} must be a positive integer or None (automatic), got {batch_size!r}")


def auto_batch_size(per_item_bytes: int, count: int, *, memory_bytes: int = WORKING_SET_BYTES) -> int:
    """B = clip(⌊memory_bytes / (SAFETY · per_item_bytes)⌋, 1, count): products batched at once.

    ``per_item_bytes`` is :func:`working_set_bytes` of one product; :data:`SAFETY` = 2 covers
    what XLA's buffer assignment adds to that estimate (measured 1.7× for a PINN HVP).
    """
    if memory_bytes <= 0:
        raise ValueError(f"memory_bytes must be positive, got {memory_bytes}")
    return int(max(1, min(count, memory_bytes // max(1, int(SAFETY * per_item_bytes)))))


def _blocked_map(f: Callable, n: int, dtype, B: int) -> jax.Array:
    """[f(e_0); …; f(e_{n-1})] (stacked along axis 0), B basis vectors e_j ∈ R^n at a time.

    The n indices are split into k = ⌈n/B⌉ equal blocks of ⌈n/k⌉ (the last padded with
    out-of-range indices, whose one-hot vector is zero, and dropped): one compiled copy of the
    vmapped product (``lax.map``'s remainder would compile a second one), at most k − 1 wasted
    products.
    """
    one = lambda j: f(jax.nn.one_hot(j, n, dtype=dtype))
    if B >= n:
        return jax.vmap(one)(jnp.arange(n))
    k = -(-n // B)
    size = -(-n // k)
    idx = jnp.arange(k * size).reshape(k, size)
    out = jax.lax.map(jax.vmap(one), idx)
    return out.reshape((k * size,) + out.shape[2:])[:n]


# -- Jacobians ---------------------------------------------------------------------------------

def jacobian(fun: Callable[[jax.Array], jax.Array], x: jax.Array, *, batch_size: int | None = None,
             mode: str = "auto", memory_bytes: int = WORKING_SET_BYTES) -> tuple[jax.Array, jax.Array]:
    r"""(r, J): r = ravel(fun(x)) (m,) and J = ∂r/∂x (m × n), in blocks of ``batch_size`` products.

    ``mode="forward"``: ``jax.linearize`` once, then :math:`J e_j` for blocks of columns;
    ``"reverse"``: ``jax.vjp`` once, then :math:`J^\top e_i` for blocks of rows; ``"auto"``:
    reverse when m < n, else forward (the choice of ``jax.jacrev``/``jax.jacfwd`` in the dense
    optimizers). Memory: the linearisation (one evaluation's residuals) + m·n + B × one product.
    """
    check_batch_size(batch_size)
    if mode not in ("auto", "forward", "reverse"):
        raise ValueError(f"mode must be 'auto', 'forward' or 'reverse', got {mode!r}")
    if x.ndim != 1:
        raise ValueError(f"jacobian needs a flat parameter vector, got shape {x.shape}")
    f = lambda z: jnp.ravel(fun(z))
    m = jax.eval_shape(f, x).shape[0]
    n = x.shape[0]
    if mode == "auto":
        mode = "reverse" if m < n else "forward"
    if mode == "forward":
        r, lin = jax.linearize(f, x)
        B = batch_size or auto_batch_size(working_set_bytes(lin, x), n, memory_bytes=memory_bytes)
        return r, _blocked_map(lin, n, x.dtype, B).T
    r, pull = jax.vjp(f, x)
    row = lambda e: pull(e)[0]
    B = batch_size or auto_batch_size(working_set_bytes(row, r), m, memory_bytes=memory_bytes)
    return r, _blocked_map(row, m, r.dtype, B)


def pointwise_jacobian(point_fn: Callable[[jax.Array, Any], jax.Array], x: jax.Array, points: Any, *,
                       batch_size: int | None = None,
                       memory_bytes: int = WORKING_SET_BYTES) -> tuple[jax.Array, jax.Array]:
    r"""(r, J) of a residual that is a map over points: :math:`r_i = \rho(x; p_i)`.

    Args:
      point_fn: ``point_fn(x, p)`` → the residual at one point ``p`` (any shape; raveled to d).
      x: the flat parameter vector (n,).
      points: a pytree whose leaves have a leading axis of N points (``p`` is one slice of it).
      batch_size: points per vmapped block (``None``: from ``memory_bytes`` and
        :func:`working_set_bytes` of one point's reverse pass).

    Returns:
      ``r`` of shape (N, d) and ``J`` of shape (N, d, n) with :math:`J_{i,a,:} =
      \nabla_x \rho_a(x; p_i)`, i.e. ``J.reshape(N*d, n)`` is the Jacobian of ``r.ravel()``. Each
      point costs one reverse pass per residual component, vmapped: about one batched backward
      pass in all, instead of n forward-mode tangents through every point at once.
    """
    check_batch_size(batch_size)
    if x.ndim != 1:
        raise ValueError(f"pointwise_jacobian needs a flat parameter vector, got shape {x.shape}")
    leaves = jax.tree_util.tree_leaves(points)
    if not leaves:
        raise ValueError("pointwise_jacobian needs at least one array of points")
    N = leaves[0].shape[0]
    if any(a.shape[:1] != (N,) for a in leaves):
        raise ValueError(f"every array of points needs the same leading axis, got {[a.shape for a in leaves]}")

    def one(p):
        r, pull = jax.vjp(lambda z: jnp.ravel(point_fn(z, p)), x)
        J = jax.vmap(lambda e: pull(e)[0])(jnp.eye(r.shape[0], dtype=r.dtype))
        return r, J

    if N == 0:
        d = jax.eval_shape(lambda p: jnp.ravel(point_fn(x, p)), jax.tree_util.tree_map(lambda a: a[0], points)).shape
        return jnp.zeros((0,) + d, x.dtype), jnp.zeros((0,) + d + x.shape, x.dtype)
    if batch_size is None:
        first = jax.tree_util.tree_map(lambda a: a[0], points)
        batch_size = auto_batch_size(working_set_bytes(one, first), N, memory_bytes=memory_bytes)
    if batch_size >= N:
        return jax.vmap(one)(points)
    return jax.lax.map(one, points, batch_size=batch_size)


# -- Hessians ----------------------------------------------------------------------------------

def hvp_fn(f: Callable[[jax.Array], jax.Array], x: jax.Array) -> Callable[[jax.Array], jax.Array]:
    """v ↦ ∇²f(x) v, forward-over-reverse (``jax.linearize`` of ``jax.grad(f)`` at x, once)."""
    _, lin = jax.linearize(jax.grad(f), x)
    return lin


def hessian(f: Callable[[jax.Array], jax.Array], x: jax.Array, *, batch_size: int | None = None,
            memory_bytes: int = WORKING_SET_BYTES) -> jax.Array:
    r"""The dense Hessian :math:`\nabla^2 f(x)` (n × n) from blocks of ``batch_size`` HVPs.

    Column j is :math:`H e_j` (forward-over-reverse, :func:`hvp_fn`), so the result equals
    ``jax.hessian(f)(x)`` (also forward-over-reverse) up to round-off, in memory
    n² + one gradient's linearisation + B × one HVP's tangent working set, with
    B = ``batch_size`` or :func:`auto_batch_size` of :func:`working_set_bytes` of one HVP. It is not
    symmetrised (round-off may make it slightly asymmetric).
    """
    check_batch_size(batch_size)
    if x.ndim != 1:
        raise ValueError(f"hessian needs a flat parameter vector, got shape {x.shape}")
    n = x.shape[0]
    hvp = hvp_fn(f, x)
    B = batch_size or auto_batch_size(working_set_bytes(hvp, x), n, memory_bytes=memory_bytes)
    return _blocked_map(hvp, n, x.dtype, B).T


# -- eigen-solves ------------------------------------------------------------------------------

def psd_eigh(C: jax.Array) -> tuple[jax.Array, jax.Array]:
    r"""(w, V) with :math:`\tfrac12(C + C^\top) = V\operatorname{diag}(w)V^\top`, w clipped at 0.

    For a positive semi-definite C (a Gram matrix :math:`2J^\top J`) negative eigenvalues are
    round-off; clipping them keeps the pseudo-inverse and damped solves well defined.
    """
    w, V = jnp.linalg.eigh(0.5 * (C + C.T))
    return jnp.maximum(w, 0.0), V


def pinv_apply(w: jax.Array, V: jax.Array, g: jax.Array, rcond=None) -> jax.Array:
    r""":math:`C^+ g = V\Lambda^+V^\top g` with :math:`\Lambda^+_{ii} = 1/w_i` for
    :math:`w_i > \text{rcond}\cdot\max_j w_j`, else 0 (default rcond = n · machine epsilon)."""
    n = w.shape[0]
    rc = n * jnp.finfo(w.dtype).eps if rcond is None else rcond
    cut = w > rc * jnp.max(w)
    inv_w = jnp.where(cut, 1.0 / jnp.where(cut, w, 1.0), 0.0)
    return V @ (inv_w * (V.T @ g))


def damped_apply(w: jax.Array, V: jax.Array, g: jax.Array, lam) -> jax.Array:
    r""":math:`(C + \lambda I)^{-1} g = V(\Lambda + \lambda)^{-1}V^\top g` (``lam`` > 0, or
    :math:`|\Lambda| + \lambda` when the caller passes absolute eigenvalues)."""
    return V @ ((V.T @ g) / (w + lam))
