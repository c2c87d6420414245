r"""The training step: one pure function of the carry (optimizer + remedy), and a chunk of steps.

The state of a run is a pytree ``Carry``. One step:

1. every ``resample_every`` steps (if > 0), redraw the resampled terms' points from
   ``fold_in(fold_in(data_key, step), k)``;
2. losses L (K,) and the combined gradient g (``combined_gradient``): when the remedy needs
   per-loss gradients at this step, G = [∇L_1; …; ∇L_K] comes from one reverse pass per loss and
   the remedy returns g; a remedy whose weights depend on the losses alone (``loss_only``) gets L
   first and g = (∂L/∂θ)ᵀ w is one vector–Jacobian product; otherwise g = ∇ Σ_k w_k L_k with the
   remedy's current weights, in a single reverse pass. A remedy refreshed every p > 1 steps
   switches between the two with ``lax.cond``;
3. the optimizer update, given ``value`` = Σ w_k L_k, ``grad`` = g and the closures
   ``value_fn``, ``residual_fn``, ``residual_jacobian_fn`` of the same objective (line searches,
   Gauss–Newton, ENGD);
4. the divergence guard: a non-finite loss or parameter sets ``diverged_at`` to the step.

``make_chunk`` returns ``chunk(carry, n)``: up to n steps in one ``lax.while_loop`` that stops
after the first failing step; the loop (pinnarena.training) replaces that state by the one
before it. Counters: ``grad_evals`` and ``fun_evals`` add 1 per step plus the line search's
evaluations (pinnarena.counting).
"""
from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from pinnarena.counting import linesearch_evals


class Carry(NamedTuple):
    params: Any
    opt_state: Any
    rem_state: Any
    batch: Any
    step: jax.Array
    grad_evals: jax.Array
    fun_evals: jax.Array
    diverged_at: jax.Array  # -1 while finite
    last_update: Any  # the optimizer's updates of the last two steps, as parameter pytrees (align_inter)
    prev_update: Any
    buffers: Any  # non-trainable model arrays (Fourier matrix), seed-dependent
    data_key: jax.Array  # key for resampling collocation points


def combined_gradient(losses, remedy, unravel, flat_dtype):
    """``(p, bufs, b, rem_state, step) -> (Σ w_k L_k, L, g, new rem_state, w)`` for this remedy
    (step 2 of the module docstring); ``unravel`` maps a flat gradient back to parameters."""
    K = losses.K

    def with_G(p, bufs, b, rem_state):
        L, G = losses.per_loss_grads(p, bufs, b)
        extra = {"ntk_traces": losses.ntk_traces(p, bufs, b)} if remedy.needs_ntk else {}
        g, new_state = remedy.update(G, L, rem_state, **extra)
        w = remedy.weights(new_state)
        w = jnp.ones((K,), L.dtype) if w is None else w
        return jnp.dot(w, L), L, unravel(g.astype(flat_dtype)), new_state, w

    def from_losses(p, bufs, b, rem_state):
        """Loss-only weightings: L and its pullback from one forward pass, g = (∂L/∂θ)ᵀ w."""
        L, pullback = jax.vjp(lambda q: losses.loss_vector(q, bufs, b), p)
        w, new_state = remedy.loss_weights(L, rem_state)
        w = w.astype(L.dtype)
        (g,) = pullback(w)
        return jnp.dot(w, L), L, g, new_state, w

    def without_G(p, bufs, b, rem_state):
        w = remedy.weights(rem_state)
        val, L, g = losses.weighted_value_and_grad(p, bufs, b, w)
        return val, L, g, rem_state, w

    def gradient(p, bufs, b, rem_state, step):
        if remedy.refresh_every == 0:
            return without_G(p, bufs, b, rem_state)
        refresh = from_losses if remedy.loss_only else with_G
        if remedy.refresh_every == 1:
            return refresh(p, bufs, b, rem_state)
        return jax.lax.cond(step % remedy.refresh_every == 0, lambda _: refresh(p, bufs, b, rem_state),
                            lambda _: without_G(p, bufs, b, rem_state), None)

    return gradient


def make_chunk(cfg, optimizer, remedy, losses, unravel, flat_dtype):
    """``chunk(carry, n_steps) -> carry``: up to ``n_steps`` steps (see the module docstring)."""
    terms = losses.terms
    resampled = [t for t in terms if t.resample]
    gradient = combined_gradient(losses, remedy, unravel, flat_dtype)

    def resample(b, step, data_key):
        fresh = {t.name: t.sample(jax.random.fold_in(jax.random.fold_in(data_key, step), k), cfg.batch[t.name])
                 for k, t in enumerate(terms) if t.resample}
        fresh = jax.tree_util.tree_map(lambda a, old: a.astype(old.dtype), fresh, {k: b[k] for k in fresh})
        return {**b, **fresh}

    def step_fn(c: Carry) -> Carry:
        b = c.batch
        if cfg.resample_every > 0 and resampled:
            b = jax.lax.cond((c.step > 0) & (c.step % cfg.resample_every == 0),
                             lambda bb: resample(bb, c.step, c.data_key), lambda bb: bb, b)
        val, L, g, rem_state, w = gradient(c.params, c.buffers, b, c.rem_state, c.step)
        value_fn = lambda q: jnp.dot(w, losses.loss_vector(q, c.buffers, b))
        residual_fn = lambda q: losses.scaled_residuals(q, c.buffers, b, w)
        residual_jacobian_fn = lambda q: losses.scaled_residual_jacobian(q, c.buffers, b, w)
        updates, opt_state = optimizer.update(g, c.opt_state, c.params, value=val, grad=g, value_fn=value_fn,
                                              residual_fn=residual_fn, residual_jacobian_fn=residual_jacobian_fn)
        new_params = optax.apply_updates(c.params, updates)
        # a non-finite entry makes its leaf's sum non-finite: one reduction per leaf, no copy
        total = sum(jnp.sum(a) for a in jax.tree_util.tree_leaves(new_params))
        ok = jnp.isfinite(val) & jnp.isfinite(total)
        ls = linesearch_evals(opt_state)
        return Carry(
            params=new_params,
            opt_state=opt_state,
            rem_state=rem_state,
            batch=b,
            step=c.step + 1,
            grad_evals=c.grad_evals + 1 + ls,
            fun_evals=c.fun_evals + 1 + ls,
            diverged_at=jnp.where(ok, c.diverged_at, c.step),
            last_update=updates,
            prev_update=c.last_update,
            buffers=c.buffers,
            data_key=c.data_key,
        )

    def chunk(c: Carry, n_steps) -> Carry:
        """Up to ``n_steps`` steps; stops after the first failing step (``diverged_at`` ≥ 0), whose
        non-finite state the caller replaces by the state before it (see ``training._run_chunk``)."""
        def go(ic):
            return (ic[0] < n_steps) & (ic[1].diverged_at < 0)

        return jax.lax.while_loop(go, lambda ic: (ic[0] + 1, step_fn(ic[1])), (jnp.zeros_like(n_steps), c))[1]

    return chunk
