r"""Gradient-conflict remedies: how K per-loss gradients become the one the optimizer sees.

Contract (DESIGN.md): ``make(name, **hp)`` returns a :class:`Remedy` with

* ``init(num_losses) -> state`` (a pytree);
* ``update(G, losses, state) -> (g, state)`` with ``G`` the K × n matrix of flattened per-loss
  gradients and ``losses`` the K loss values; ``g`` is the combined n-vector.

Two attributes let the training loop avoid per-loss gradients on steps that do not need them:

* ``refresh_every``: 0 — never needs G (a fixed weighting); 1 — needs G every step (gradient
  surgery); N > 1 — needs G every N steps and uses fixed weights in between;
* ``weights(state)``: the current loss weights w (K,) when the remedy is a weighting, so that on
  steps without a refresh the loop computes g = ∇ Σ_k w_k L_k with one reverse pass. Remedies that
  are not weightings return None and must have ``refresh_every == 1``.

For optimizers with a line search, the objective the line search sees is Σ_k w_k L_k with the
current weights (all ones for non-weighting remedies) and the direction is the remedy's g.
Add a remedy by adding a module to this folder that calls ``register``.
"""
from __future__ import annotations

import inspect
from typing import Any

import jax.numpy as jnp

from pinnarena.registry import Registry

REGISTRY: Registry = Registry("remedy", package=__name__)
register = REGISTRY.register


class Remedy:
    """Base class: a fixed weighting by ``weights`` (all ones unless overridden)."""

    name = "remedy"
    refresh_every = 0

    def init(self, num_losses: int) -> Any:
        return {"weights": jnp.ones((num_losses,))}

    def weights(self, state):
        return state["weights"]

    def update(self, G, losses, state):
        return self.weights(state) @ G, state


def names() -> list[str]:
    return REGISTRY.names()


def hyperparameters(name: str) -> dict[str, Any]:
    sig = inspect.signature(REGISTRY.factory(name))
    return {k: p.default for k, p in sig.parameters.items() if p.default is not inspect.Parameter.empty}


def check_hyperparameters(name: str, hparams: dict[str, Any]) -> None:
    bad = sorted(set(hparams) - set(hyperparameters(name)))
    if bad:
        raise ValueError(
            f"remedy {name!r} does not accept {', '.join(bad)}; accepted: {', '.join(sorted(hyperparameters(name))) or 'none'}"
        )


def make(name: str, **hparams: Any) -> Remedy:
    check_hyperparameters(name, hparams)
    remedy = REGISTRY.factory(name)(**hparams)
    remedy.name = name
    return remedy
