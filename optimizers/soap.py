r"""SOAP: Adam in the eigenbasis of Shampoo's preconditioner (Vyas et al., arXiv 2409.11321).

This is the 2024 algorithm as the paper and its first public implementation state it (the version
used by Wang et al., arXiv 2502.00604, for PINNs); ``/work/shared/REFERENCES.md`` is the normative
summary. Per parameter ``W`` with gradient ``G`` (a 2-D weight of shape m × n; the same code runs
along every axis of a tensor):

* **first call**: ``L ← (1−β_s) G Gᵀ``, ``R ← (1−β_s) GᵀG`` (from zero); ``Q_L, Q_R`` ← the
  eigenvectors of ``L, R`` (``eigh``, columns in descending eigenvalue order). The parameters are
  **not** updated on this call (the update is zero), so the current gradient is never used in
  its own projection.
* **every later call**, ``t = 1, 2, …`` counting these calls::

      G' = Q_Lᵀ G Q_R
      M ← β1 M + (1−β1) G'          V ← β2 V + (1−β2) G'²        (both in the rotated basis)
      N = Q_L (M / (√V + ε)) Q_Rᵀ   (N ← N / RMS(N) if normalize_grads)
      W ← W − lr · √(1−β2^t)/(1−β1^t) · N    (plain lr if not correct_bias)
      W ← W − lr · wd · W                      (decoupled weight decay, after the step)
      L ← β_s L + (1−β_s) G Gᵀ,  R ← β_s R + (1−β_s) GᵀG
      if t % precondition_frequency == 0, for Q ∈ {Q_L, Q_R} with its factor P ∈ {L, R}:
          e = diag(Qᵀ P Q); sort Q's columns and V along that axis by e, descending;
          Q ← qr(P Q)                  (one power iteration + QR)
      M is rotated back with the old basis and into the new one.

``β_s = shampoo_beta`` if ``shampoo_beta ≥ 0`` else ``β2``. An axis longer than
``max_precond_dim`` keeps the identity basis (it is not rotated and has no factor). 1-D
parameters (biases) and scalars are not rotated unless ``precondition_1d`` (then a 1-D parameter
of length ≤ max_precond_dim gets one factor ``g gᵀ``), so by default they follow Adam with the
first call skipped. ``eigh`` and ``qr`` run in the parameters' dtype; ``1e-30·I`` is added
before the first ``eigh`` as in the reference. Everything is traceable (``lax.cond``), so the
transformation runs under ``jax.jit``.

Later revisions of the reference implementation changed details (first moment kept unrotated,
debiased betas); they are not offered here: the defaults and the only behaviour are the 2024
algorithm.

Example::

    >>> import jax, jax.numpy as jnp
    >>> from pinnarena.optimizers.soap import soap
    >>> params = {"w": jnp.ones((3, 2)), "b": jnp.zeros(2)}
    >>> f = lambda p: jnp.sum((p["w"] @ jnp.arange(2.0) + 1.0) ** 2) + jnp.sum((p["b"] - 1) ** 2)
    >>> tx = soap(learning_rate=1e-2, weight_decay=0.0)
    >>> state = tx.init(params)
    >>> for _ in range(3):
    ...     g = jax.grad(f)(params)
    ...     updates, state = tx.update(g, state, params)
    ...     params = jax.tree.map(lambda p, u: p + u, params, updates)
    >>> bool(f(params) < f({"w": jnp.ones((3, 2)), "b": jnp.zeros(2)}))
    True
"""
from __future__ import annotations

from typing import Any, NamedTuple, Optional

import jax
import jax.numpy as jnp
import optax

from pinnarena.optimizers import register
from pinnarena.search_space import Linear, Log


class ScaleBySoapState(NamedTuple):
    """State of :func:`scale_by_soap`.

    ``count`` is the number of calls made (the first one only initialises); ``mu`` and ``nu`` are
    the first and second moments in the rotated basis; ``factors`` and ``bases`` hold, per
    parameter, one tuple with an entry per axis: the Shampoo factor (``L``, ``R``, …) and its
    eigenbasis, or ``None`` for an axis that is not rotated.
    """

    count: jax.Array
    mu: Any
    nu: Any
    factors: Any
    bases: Any


class SoapStepState(NamedTuple):
    count: jax.Array


def _rotated_axes(shape, max_precond_dim: int, precondition_1d: bool) -> tuple[bool, ...]:
    if len(shape) == 0:
        return ()
    if len(shape) == 1:
        return (bool(precondition_1d and shape[0] <= max_precond_dim),)
    return tuple(s <= max_precond_dim for s in shape)


def _rotate(x, bases):
    """x ×_i Q_iᵀ along every rotated axis i (for a matrix: Q_Lᵀ X Q_R)."""
    for i, q in enumerate(bases):
        if q is not None:
            x = jnp.moveaxis(jnp.tensordot(x, q, axes=([i], [0])), -1, i)
    return x


def _rotate_back(x, bases):
    """x ×_i Q_i along every rotated axis i (for a matrix: Q_L X Q_Rᵀ)."""
    for i, q in enumerate(bases):
        if q is not None:
            x = jnp.moveaxis(jnp.tensordot(x, q, axes=([i], [1])), -1, i)
    return x


def _gram(g, axis: int):
    """The contraction of g with itself over every axis but ``axis`` (G Gᵀ for axis 0 of a matrix)."""
    others = [k for k in range(g.ndim) if k != axis]
    return jnp.tensordot(g, g, axes=(others, others))


def _eigenbasis(p):
    """Eigenvectors of the symmetric matrix p, columns in descending eigenvalue order."""
    eye = jnp.eye(p.shape[0], dtype=p.dtype)
    _, q = jnp.linalg.eigh(p + 1e-30 * eye)
    return jnp.flip(q, axis=1)


def scale_by_soap(
    b1: float = 0.95,
    b2: float = 0.95,
    shampoo_beta: float = -1.0,
    eps: float = 1e-8,
    *,
    precondition_frequency: int = 10,
    max_precond_dim: int = 10000,
    precondition_1d: bool = False,
    normalize_grads: bool = False,
    correct_bias: bool = True,
) -> optax.GradientTransformation:
    r"""The SOAP direction ``√(1−β2^t)/(1−β1^t) · Q_L (M/(√V+ε)) Q_Rᵀ`` (zero on the first call).

    See the module docstring for the algorithm. The output is a descent direction to be scaled
    by ``−lr`` (see :func:`soap`, which also applies the decoupled weight decay after the step).
    """
    if precondition_frequency < 1:
        raise ValueError(f"precondition_frequency must be ≥ 1, got {precondition_frequency}")
    beta_s = shampoo_beta if shampoo_beta >= 0 else b2

    def init_fn(params):
        def factors(p):
            return tuple(jnp.zeros((s, s), p.dtype) if r else None
                         for s, r in zip(p.shape, _rotated_axes(p.shape, max_precond_dim, precondition_1d)))

        def bases(p):
            return tuple(jnp.eye(s, dtype=p.dtype) if r else None
                         for s, r in zip(p.shape, _rotated_axes(p.shape, max_precond_dim, precondition_1d)))

        return ScaleBySoapState(
            count=jnp.zeros([], jnp.int32),
            mu=jax.tree.map(jnp.zeros_like, params),
            nu=jax.tree.map(jnp.zeros_like, params),
            factors=jax.tree.map(factors, params),
            bases=jax.tree.map(bases, params),
        )

    def leaf_first(g, mu, nu, facs, qs):
        facs = tuple(None if f is None else (1.0 - beta_s) * _gram(g, i).astype(f.dtype) for i, f in enumerate(facs))
        qs = tuple(None if f is None else _eigenbasis(f) for f in facs)
        return jnp.zeros_like(g), mu, nu, facs, qs

    def leaf_later(g, mu, nu, facs, qs, t):
        dtype = g.dtype
        tf = t.astype(dtype)
        gr = _rotate(g, qs)
        mu = b1 * mu + (1.0 - b1) * gr
        nu = b2 * nu + (1.0 - b2) * gr * gr
        n = _rotate_back(mu / (jnp.sqrt(nu) + eps), qs)
        if normalize_grads:
            n = n / (1e-30 + jnp.sqrt(jnp.mean(n * n)))
        if correct_bias:
            n = n * (jnp.sqrt(1.0 - jnp.power(jnp.asarray(b2, dtype), tf)) / (1.0 - jnp.power(jnp.asarray(b1, dtype), tf)))
        # Preconditioner update.
        facs = tuple(None if f is None else beta_s * f + (1.0 - beta_s) * _gram(g, i) for i, f in enumerate(facs))

        def refresh(args):
            mu, nu, qs = args
            mu_orig = _rotate_back(mu, qs)
            new_qs = []
            for i, (f, q) in enumerate(zip(facs, qs)):
                if f is None:
                    new_qs.append(None)
                    continue
                est = jnp.diag(q.T @ f @ q)
                order = jnp.argsort(-est)
                q = q[:, order]
                nu = jnp.take(nu, order, axis=i)
                q, _ = jnp.linalg.qr(f @ q)
                new_qs.append(q)
            new_qs = tuple(new_qs)
            return _rotate(mu_orig, new_qs), nu, new_qs

        if any(f is not None for f in facs):
            mu, nu, qs = jax.lax.cond(t % precondition_frequency == 0, refresh, lambda a: a, (mu, nu, qs))
        return n, mu, nu, facs, qs

    def update_fn(updates, state, params=None):
        del params
        treedef = jax.tree.structure(updates)
        g_leaves = treedef.flatten_up_to(updates)
        mu_l = treedef.flatten_up_to(state.mu)
        nu_l = treedef.flatten_up_to(state.nu)
        fac_l = treedef.flatten_up_to(state.factors)
        q_l = treedef.flatten_up_to(state.bases)
        t = state.count

        def first(_):
            return [leaf_first(*a) for a in zip(g_leaves, mu_l, nu_l, fac_l, q_l)]

        def later(_):
            return [leaf_later(*a, t) for a in zip(g_leaves, mu_l, nu_l, fac_l, q_l)]

        out = jax.lax.cond(t == 0, first, later, None)
        unflat = lambda k: treedef.unflatten([o[k] for o in out])
        new_state = ScaleBySoapState(
            count=t + 1,
            mu=unflat(1), nu=unflat(2), factors=unflat(3), bases=unflat(4),
        )
        return unflat(0), new_state

    return optax.GradientTransformation(init_fn, update_fn)


def scale_by_learning_rate_and_decay_after_step(
    learning_rate: optax.ScalarOrSchedule,
    weight_decay: float = 0.0,
) -> optax.GradientTransformation:
    r"""``u = −lr·d − lr·wd·(W − lr·d)``: a step along ``−d`` then ``W ← W − lr·wd·W``.

    This is the reference SOAP's order (decay applied to the already-updated weights). The first
    call returns zero (SOAP's initialising call); a schedule is evaluated at the number of
    parameter updates made before this one.
    """

    def init_fn(params):
        del params
        return SoapStepState(count=jnp.zeros([], jnp.int32))

    def update_fn(updates, state, params=None):
        if weight_decay != 0.0 and params is None:
            raise ValueError("SOAP's weight decay needs the params argument of update")
        c = state.count
        lr = learning_rate(jnp.maximum(c - 1, 0)) if callable(learning_rate) else learning_rate
        active = c > 0

        def leaf(d, w):
            step = (-lr * d).astype(d.dtype)
            if weight_decay != 0.0:
                step = step - (lr * weight_decay * (w + step)).astype(d.dtype)
            return jnp.where(active, step, jnp.zeros_like(step))

        if weight_decay != 0.0:
            out = jax.tree.map(leaf, updates, params)
        else:
            out = jax.tree.map(lambda d: leaf(d, None), updates)
        return out, SoapStepState(count=c + 1)

    return optax.GradientTransformation(init_fn, update_fn)


def soap(
    learning_rate: optax.ScalarOrSchedule = 3e-3,
    b1: float = 0.95,
    b2: float = 0.95,
    shampoo_beta: float = -1.0,
    eps: float = 1e-8,
    weight_decay: float = 0.01,
    *,
    precondition_frequency: int = 10,
    max_precond_dim: int = 10000,
    precondition_1d: bool = False,
    normalize_grads: bool = False,
    correct_bias: bool = True,
) -> optax.GradientTransformation:
    """SOAP (Vyas et al. 2024, arXiv 2409.11321) with the reference implementation's defaults.

    Args:
      learning_rate: step size or schedule (lr 3e-3 in the reference).
      b1, b2: Adam's betas for the rotated moments.
      shampoo_beta: EMA rate of the Shampoo factors; negative means ``b2``.
      eps: added to ``√V``.
      weight_decay: decoupled weight decay, applied after the step (``W ← W − lr·wd·W``).
      precondition_frequency: refresh the eigenbases every this many updates.
      max_precond_dim: axes longer than this are not rotated.
      precondition_1d: rotate 1-D parameters too.
      normalize_grads: rescale the preconditioned direction to unit RMS.
      correct_bias: Adam's bias correction ``√(1−β2^t)/(1−β1^t)``.
    """
    return optax.chain(
        scale_by_soap(b1, b2, shampoo_beta, eps, precondition_frequency=precondition_frequency,
                      max_precond_dim=max_precond_dim, precondition_1d=precondition_1d,
                      normalize_grads=normalize_grads, correct_bias=correct_bias),
        scale_by_learning_rate_and_decay_after_step(learning_rate, weight_decay),
    )


@register("soap", family="second-order",
          search_space={"learning_rate": Log(3e-4, 3e-2), "b2": Linear(0.95, 0.999)})
def _soap_factory(
    learning_rate=3e-3,
    b1: float = 0.95,
    b2: float = 0.95,
    shampoo_beta: float = -1.0,
    eps: float = 1e-8,
    weight_decay: float = 0.01,
    precondition_frequency: int = 10,
    max_precond_dim: int = 10000,
    precondition_1d: bool = False,
    normalize_grads: bool = False,
    correct_bias: bool = True,
):
    """SOAP, the 2024 algorithm (arXiv 2409.11321), reference defaults."""
    return soap(learning_rate, b1, b2, shampoo_beta, eps, weight_decay,
                precondition_frequency=int(precondition_frequency), max_precond_dim=int(max_precond_dim),
                precondition_1d=bool(precondition_1d), normalize_grads=bool(normalize_grads),
                correct_bias=bool(correct_bias))
