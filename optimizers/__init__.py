"""The optimizer registry: one module per optimizer (or family) in this folder.

``make(name, **hparams)`` returns an ``optax.GradientTransformationExtraArgs``. Every optimizer
is called by the training loop as ``update(g, state, params, value=..., grad=..., value_fn=...)``
so line-search methods have what they need; others ignore the extra arguments.
Add an optimizer by adding a module here that calls ``register(name, factory, ...)``.
"""
from __future__ import annotations

import inspect
from typing import Any

import optax

from pinnarena.registry import Registry

REGISTRY: Registry = Registry("optimizer", package=__name__)
register = REGISTRY.register


def names() -> list[str]:
    return REGISTRY.names()


def hyperparameters(name: str) -> dict[str, Any]:
    """The keyword hyper-parameters the optimizer accepts, with their defaults."""
    sig = inspect.signature(REGISTRY.factory(name))
    return {
        k: (None if p.default is inspect.Parameter.empty else p.default)
        for k, p in sig.parameters.items()
        if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)
    }


def check_hyperparameters(name: str, hparams: dict[str, Any]) -> None:
    """Raise ValueError naming any hyper-parameter the optimizer does not accept."""
    accepted = hyperparameters(name)
    bad = sorted(set(hparams) - set(accepted))
    if bad:
        raise ValueError(
            f"optimizer {name!r} does not accept {', '.join(bad)}; accepted: {', '.join(sorted(accepted))}"
        )


def make(name: str, **hparams: Any) -> optax.GradientTransformationExtraArgs:
    check_hyperparameters(name, hparams)
    tx = REGISTRY.factory(name)(**hparams)
    return optax.with_extra_args_support(tx)
