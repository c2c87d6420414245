r"""Loss assembly: a problem's terms → per-loss values, gradients and residual vectors.

A problem has K loss terms; term k has a pointwise residual r_k(x; u, λ) (u the network, λ the
inverse problem's unknowns, ``params["pde"]``) evaluated on its own points x_{k,1..N_k}. With
parameters θ = (network, λ):

* the **plain loss** L_k(θ) = (1/N_k) Σ_i ‖r_k(x_{k,i})‖² (what is reported);
* the **training loss** equals it, except for a residual term under causal weighting
  (Wang, Sankaran & Perdikaris 2024, "Respecting causality", CMAME 421): the points are
  binned into M time chunks with chunk losses L_k^{(j)}, and
  L_k = (1/M) Σ_j w_j L_k^{(j)}, w_j = exp(−ε Σ_{l<j} L_k^{(l)}) (weights without gradient);
* the **scaled residual vector** r(θ; w) = [√(w_k/N_k) r_k]_k, flattened, so that
  ‖r‖² = Σ_k w_k L_k, and its Jacobian J = ∂r/∂θ (m × n) for Gauss–Newton and ENGD;
* the **per-loss gradients** G = [∇L_1; …; ∇L_K] (K × n, flattened in ``ravel_pytree`` order)
  for gradient-based remedies, and NTK traces τ_k = mean_i ‖∂r_k(x_{k,i})/∂θ‖² over the first
  ``ntk_points`` points (Wang, Yu & Perdikaris 2022, "When and why PINNs fail to train", JCP 449).

With per-loss adapters the network has one head per loss: term k's residual uses head k
(``field(p, bufs, k)``), and evaluation uses the configured ``eval_adapter`` (``eval_k``, None for
the shared trunk). Every function here is pure, of (params, buffers, batch[, w]).
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
from jax.flatten_util import ravel_pytree


class LossAssembly:
    """The loss functions of one (problem, model, remedy) configuration; see the module docstring."""

    def __init__(self, cfg, problem, model, remedy):
        self.terms = terms = problem.terms
        self.K = len(terms)
        self.remedy = remedy
        self.batch_sizes = cfg.batch
        self.eval_k, self.field = _fields(problem, model, remedy)
        self.residual_fns = [self._term_residuals(t, k) for k, t in enumerate(terms)]
        causal = remedy.causal if (remedy.causal and problem.time_dependent and problem.input_names[0] == "t") else None
        if remedy.causal and causal is None:
            raise ValueError(f"causal weighting needs a time-dependent problem with t as first input; "
                             f"{problem.name!r} is not")
        self.causal_fns = {k: _causal_chunks(problem, causal, t, self.residual_fns[k])
                           for k, t in enumerate(terms) if causal and t.role == "residual"}
        self.plain_losses = [_mean_square(f) for f in self.residual_fns]
        self.term_losses = [self._train_loss(k, f) for k, f in enumerate(self.residual_fns)]  # what is minimised

    def _term_residuals(self, term, k):
        field = self.field

        def residuals(p, bufs, b):
            u = field(p, bufs, k)
            r = jax.vmap(lambda row: term.residual(u, row, p["pde"]))(b[term.name])
            return jnp.reshape(r, (r.shape[0], -1))

        return residuals

    def _train_loss(self, k, res_fn):
        if k in self.causal_fns:
            chunks = self.causal_fns[k]
            return lambda p, bufs, b: (lambda Lw: jnp.mean(Lw[1] * Lw[0]))(chunks(p, bufs, b))
        return _mean_square(res_fn)

    def loss_vector(self, p, bufs, b):
        """(K,) training losses."""
        return jnp.stack([f(p, bufs, b) for f in self.term_losses])

    def plain_loss_vector(self, p, bufs, b):
        """(K,) plain (reported) losses."""
        return jnp.stack([f(p, bufs, b) for f in self.plain_losses])

    def causal_weights(self, p, bufs, b) -> list:
        """The causal weight vector of every causally weighted term."""
        return [self.causal_fns[k](p, bufs, b)[1] for k in self.causal_fns]

    def ntk_traces(self, p, bufs, b):
        """τ_k = mean over the first ntk_points points of ‖∂r_k(x)/∂θ‖² (pinnarena/remedies/ntk.py)."""
        out = []
        for k, term in enumerate(self.terms):
            m = min(self.remedy.ntk_points, self.batch_sizes[term.name])
            sub = jax.tree_util.tree_map(lambda a: a[:m], b[term.name])

            def r_row(q, row, term=term, k=k):
                return jnp.ravel(term.residual(self.field(q, bufs, k), row, q["pde"]))

            sq = jax.vmap(lambda row: jnp.sum(ravel_pytree(jax.jacrev(r_row)(p, row))[0] ** 2))(sub)
            out.append(jnp.mean(sq))
        return jnp.stack(out)

    def scaled_residuals(self, p, bufs, b, w):
        """r with ‖r‖² = Σ_k w_k L_k: r = [√(w_k/N_k) r_k]_k, flattened (for Gauss–Newton)."""
        parts = []
        for k, f in enumerate(self.residual_fns):
            r = f(p, bufs, b)
            parts.append(jnp.sqrt(w[k] / r.shape[0]) * r.ravel())
        return jnp.concatenate(parts)

    def scaled_residual_jacobian(self, p, bufs, b, w):
        """(r, J): r = scaled_residuals(p, bufs, b, w) and J = ∂r/∂θ (m × n, columns in
        ``ravel_pytree(p)`` order), row by row from per-point reverse passes of each term's
        pointwise residual (pinnarena.curvature.pointwise_jacobian): about one batched backward
        pass, in memory m × n plus a bounded working set (for ENGD and Gauss–Newton)."""
        from pinnarena import curvature

        x, unravel_p = ravel_pytree(p)
        rs, Js = [], []
        for k, term in enumerate(self.terms):
            def r_point(z, row, term=term, k=k):
                q = unravel_p(z)
                return term.residual(self.field(q, bufs, k), row, q["pde"])

            r, J = curvature.pointwise_jacobian(r_point, x, b[term.name])
            s = jnp.sqrt(w[k] / r.shape[0]).astype(x.dtype)
            rs.append(s * r.ravel())
            Js.append(s * J.reshape(-1, x.shape[0]))
        return jnp.concatenate(rs), jnp.concatenate(Js)

    def per_loss_grads(self, p, bufs, b):
        """(L, G): the (K,) training losses and their gradients as rows of G (K × n)."""
        vals, grads = zip(*[jax.value_and_grad(f)(p, bufs, b) for f in self.term_losses])
        return jnp.stack(vals), jnp.stack([ravel_pytree(g)[0] for g in grads])

    def weighted_value_and_grad(self, p, bufs, b, w):
        """(Σ_k w_k L_k, L, its gradient as a parameter pytree), in one reverse pass."""
        (val, L), g = jax.value_and_grad(lambda q: (lambda L: (jnp.dot(w, L), L))(self.loss_vector(q, bufs, b)),
                                         has_aux=True)(p)
        return val, L, g


def _fields(problem, model, remedy):
    """(eval_k, field): ``field(p, bufs, k)`` is the network x ↦ u(x) that loss k trains; with
    adapters, head k, and ``eval_k`` the head that is evaluated (None: the trunk)."""
    K = problem.n_losses
    if not remedy.adapters:
        return None, lambda p, bufs, k: (lambda x: model.apply(p["net"], bufs, x))
    roles = [t.role for t in problem.terms]
    ev = remedy.adapters["eval_adapter"]
    eval_k = None if ev == "trunk" else (roles.index("residual") if ev == "residual" and "residual" in roles
                                         else (0 if ev == "residual" else int(ev)))
    if eval_k is not None and not 0 <= eval_k < K:
        raise ValueError(f"adapters eval_adapter {ev!r} is not a loss index below {K}")
    return eval_k, lambda p, bufs, k: (lambda x: model.apply(p["net"], bufs, x, k))


def _mean_square(res_fn):
    def loss(p, bufs, b):
        r = res_fn(p, bufs, b)
        return jnp.mean(jnp.sum(r * r, axis=1))

    return loss


def _causal_chunks(problem, causal, term, res_fn):
    """(chunk losses L_j, causal weights w_j) of a residual term (pinnarena/remedies/causal.py)."""
    M, eps = causal["chunks"], causal["eps"]
    t_lo, t_hi = problem.domain[0][0], problem.domain[1][0]

    def chunks(p, bufs, b):
        r = res_fn(p, bufs, b)
        sq = jnp.sum(r * r, axis=1)
        t = b[term.name]["x"][:, 0]
        idx = jnp.clip(((t - t_lo) / (t_hi - t_lo) * M).astype(jnp.int32), 0, M - 1)
        Lc = jax.ops.segment_sum(sq, idx, M) / jnp.maximum(jax.ops.segment_sum(jnp.ones_like(sq), idx, M), 1.0)
        w = jax.lax.stop_gradient(jnp.exp(-eps * (jnp.cumsum(Lc) - Lc)))
        return Lc, w

    return chunks
