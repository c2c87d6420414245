r"""Muon: MomentUm Orthogonalized by Newton–Schulz (Jordan et al. 2024), as ``optax.contrib.muon``.

For a 2-D weight ``W`` with gradient ``G`` (Jordan, Jin, Boza, You, Cesista, Newhouse, Bernstein,
"Muon: An optimizer for hidden layers in neural networks", 2024)::

    M ← β M + (1−β) G, bias-corrected M̂  (Nesterov: use β M̂ + (1−β) Ĝ)
    O = NS_k(M̂ / ‖M̂‖_F)             k Newton–Schulz steps X ← a X + b (X Xᵀ) X + c (X Xᵀ)² X
                                     with (a, b, c) = (3.4445, −4.775, 2.0315), O ≈ U Vᵀ of M = U Σ Vᵀ
    W ← W − lr · √max(1, fan_out/fan_in) · O − lr · wd · W

i.e. steepest descent under the spectral norm with momentum. Newton–Schulz is defined for
matrices only: **every leaf that is not 2-D** — biases ``b`` (1-D), the weight-factorisation
scales ``s`` (1-D), scalar PDE unknowns (0-D) — is updated by AdamW instead (optax's
``muon`` labels leaves with ``ndim == 2`` as Muon and everything else as Adam; checked against
optax 0.2.8). Weight-factorised layers ("v" with "s") are therefore Muon on ``v`` and Adam on
``s``. By default the Adam part uses the same learning rate (optax's choice, so a schedule on
``learning_rate`` reaches both parts); pass ``adam_learning_rate`` to decouple it.

Example::

    >>> import jax, jax.numpy as jnp
    >>> from pinnarena.optimizers import make
    >>> params = {"w": jnp.ones((3, 2)), "b": jnp.zeros(2)}
    >>> f = lambda p: jnp.sum((p["w"] - 2.0) ** 2) + jnp.sum((p["b"] - 1.0) ** 2)
    >>> tx = make("muon", learning_rate=0.05)
    >>> state = tx.init(params)
    >>> for _ in range(20):
    ...     g = jax.grad(f)(params)
    ...     updates, state = tx.update(g, state, params)
    ...     params = jax.tree.map(lambda p, u: p + u, params, updates)
    >>> bool(f(params) < f({"w": jnp.ones((3, 2)), "b": jnp.zeros(2)}))
    True
"""
from __future__ import annotations

import optax
from optax import contrib

from pinnarena.optimizers import register
from pinnarena.search_space import Linear, Log

scale_by_muon = contrib.scale_by_muon
MuonState = contrib.MuonState


def muon(
    learning_rate: optax.ScalarOrSchedule = 0.02,
    beta: float = 0.95,
    ns_steps: int = 5,
    weight_decay: float = 0.0,
    *,
    nesterov: bool = True,
    eps: float = 1e-8,
    adam_b1: float = 0.9,
    adam_b2: float = 0.999,
    adam_weight_decay: float = 0.0,
    adam_learning_rate: optax.ScalarOrSchedule | None = None,
) -> optax.GradientTransformation:
    """Muon on 2-D leaves, AdamW on every other leaf (``optax.contrib.muon``)."""
    return contrib.muon(
        learning_rate=learning_rate,
        ns_steps=int(ns_steps),
        beta=beta,
        eps=eps,
        weight_decay=weight_decay,
        nesterov=bool(nesterov),
        adam_b1=adam_b1,
        adam_b2=adam_b2,
        adam_weight_decay=adam_weight_decay,
        adam_learning_rate=adam_learning_rate,
    )


@register("muon", family="first-order",
          search_space={"learning_rate": Log(1e-3, 1e-1), "beta": Linear(0.85, 0.98)})
def _muon_factory(
    learning_rate=0.02,
    beta: float = 0.95,
    ns_steps: int = 5,
    weight_decay: float = 0.0,
    nesterov: bool = True,
    eps: float = 1e-8,
    adam_b1: float = 0.9,
    adam_b2: float = 0.999,
    adam_weight_decay: float = 0.0,
    adam_learning_rate=None,
):
    """Muon (Jordan et al. 2024) for 2-D weights, AdamW for biases, scales and scalars."""
    return muon(learning_rate, beta, ns_steps, weight_decay, nesterov=nesterov, eps=eps, adam_b1=adam_b1,
                adam_b2=adam_b2, adam_weight_decay=adam_weight_decay, adam_learning_rate=adam_learning_rate)
