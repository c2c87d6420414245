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

Modifiers change the training problem rather than the combination and compose with any one
combining remedy through ``+``: ``causal`` (time-chunk weights inside the residual losses),
``adapters`` (one low-rank adapter per loss on the shared trunk), e.g. ``adapters+grad-norm``,
``causal+pcgrad``. ``auto`` (diagnostic-first selection) stands alone. Hyper-parameters of a
composed name go to whichever part accepts them.

Optional engine hooks a remedy may declare: ``needs_ntk = True`` — ``update`` then receives
``ntk_traces`` (K,), the mean NTK diagonal of each loss term (see pinnarena.training);
``loss_only = True`` (subclass ``LossWeighting``) — the weights depend on the losses alone (``loss_weights(losses, state) ->
(w, state)``, with ``update`` = w @ G), so on refresh steps the loop forms g = Σ_k w_k ∇L_k as one
vector–Jacobian product of the loss vector instead of K reverse passes.
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
    needs_ntk = False
    loss_only = False  # True: weights from the losses alone, see ``loss_weights``
    causal: dict | None = None  # set by the `causal` modifier: {"eps", "chunks"}
    adapters: dict | None = None  # set by the `adapters` modifier: {"rank", "placement", "eval_adapter"}
    auto: dict | None = None  # set by `auto`: profile settings and thresholds

    def init(self, num_losses: int) -> Any:
        return {"weights": jnp.ones((num_losses,))}

    def weights(self, state):
        return state["weights"]

    def update(self, G, losses, state):
        return self.weights(state) @ G, state

    def loss_weights(self, losses, state):
        """(w, new state) from the losses alone; defined by ``loss_only`` remedies."""
        raise NotImplementedError(f"remedy {self.name!r} does not weight by losses alone (loss_only is False)")


class LossWeighting(Remedy):
    """Base of the weightings whose weights depend on the losses alone (``loss_only``): subclasses
    define ``loss_weights``; ``update`` forms w @ G, the combination the loop otherwise takes as one
    vector–Jacobian product."""

    loss_only = True

    def update(self, G, losses, state):
        w, state = self.loss_weights(losses, state)
        return w.astype(G.dtype) @ G, state


MODIFIERS = ("causal", "adapters")


def init_state(remedy: Remedy, num_losses: int, num_params: int) -> Any:
    """``remedy.init(num_losses)``, also passing ``num_params`` (the length n of the flattened
    gradients) to remedies whose ``init`` accepts it, e.g. ``m-config`` (K × n momenta)."""
    if "num_params" in inspect.signature(remedy.init).parameters:
        return remedy.init(num_losses, num_params=num_params)
    return remedy.init(num_losses)


def names() -> list[str]:
    return REGISTRY.names()


def parts(name: str) -> tuple[list[str], str]:
    """Split a possibly composed name into (modifiers, combining remedy); validates every part."""
    pieces = name.split("+")
    for p in pieces:
        REGISTRY.factory(p)  # unknown part → error with close matches
    mods = [p for p in pieces if p in MODIFIERS]
    rest = [p for p in pieces if p not in MODIFIERS]
    if len(rest) > 1 or len(set(mods)) != len(mods):
        raise ValueError(f"remedy {name!r}: compose at most one of each modifier {MODIFIERS} with one combining remedy")
    if "auto" in rest and len(pieces) > 1:
        raise ValueError("remedy 'auto' chooses its own modifiers and cannot be composed")
    return mods, (rest[0] if rest else "none")


def _accepted(name: str) -> dict[str, Any]:
    sig = inspect.signature(REGISTRY.factory(name))
    return {k: p.default for k, p in sig.parameters.items() if p.default is not inspect.Parameter.empty}


def hyperparameters(name: str) -> dict[str, Any]:
    mods, base = parts(name)
    out: dict[str, Any] = {}
    for p in [*mods, base]:
        out.update(_accepted(p))
    return out


def check_hyperparameters(name: str, hparams: dict[str, Any]) -> None:
    bad = sorted(set(hparams) - set(hyperparameters(name)))
    if bad:
        raise ValueError(
            f"remedy {name!r} does not accept {', '.join(bad)}; accepted: {', '.join(sorted(hyperparameters(name))) or 'none'}"
        )


def make(name: str, **hparams: Any) -> Remedy:
    check_hyperparameters(name, hparams)
    mods, base = parts(name)
    remedy = REGISTRY.factory(base)(**{k: v for k, v in hparams.items() if k in _accepted(base)})
    for m in mods:
        mod = REGISTRY.factory(m)(**{k: v for k, v in hparams.items() if k in _accepted(m)})
        setattr(remedy, m, getattr(mod, m))
    remedy.name = name
    return remedy
