"""The optimizer registry: one module per optimizer (or family) in this folder.

``make(name, **hparams)`` returns an ``optax.GradientTransformationExtraArgs``. The training
loop calls every optimizer as ``update(g, state, params, value=..., grad=..., value_fn=...,
residual_fn=..., residual_jacobian_fn=...)`` where

* ``value`` = Σ_k w_k L_k(params) and ``grad`` = g (the remedy's combined gradient);
* ``value_fn(p)`` = Σ_k w_k L_k(p) on the current batch (for line searches, Newton);
* ``residual_fn(p)`` = r(p), the flattened residual vector with ‖r(p)‖² = value_fn(p)
  (for Gauss–Newton and natural-gradient methods);
* ``residual_jacobian_fn(p)`` = (r(p), J(p)): the same r and its Jacobian J = ∂r/∂θ (m × n,
  columns in ``jax.flatten_util.ravel_pytree(p)`` order), built from per-point reverse passes of
  the pointwise residuals (about one batched backward pass, memory m × n;
  ``pinnarena.curvature.pointwise_jacobian``). Use it rather than ``jax.jacfwd(residual_fn)``,
  which pushes n tangents through every point at once. An optimizer that declares it should
  still work with ``residual_fn`` alone (the conformance tests pass only that), e.g. with
  ``pinnarena.curvature.jacobian``, which builds J in blocks of bounded memory.

``make`` passes on only the extra arguments the optimizer declares with the registry metadata
``extra_args`` (default ``("value", "grad", "value_fn")``), because optax's line searches hand
unknown keywords on to ``value_fn``.
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


DEFAULT_EXTRA_ARGS = ("value", "grad", "value_fn")


def make(name: str, **hparams: Any) -> optax.GradientTransformationExtraArgs:
    check_hyperparameters(name, hparams)
    tx = optax.with_extra_args_support(REGISTRY.factory(name)(**hparams))
    wanted = tuple(REGISTRY.meta(name).get("extra_args", DEFAULT_EXTRA_ARGS))

    def update(updates, state, params=None, **extra):
        return tx.update(updates, state, params, **{k: v for k, v in extra.items() if k in wanted})

    return optax.GradientTransformationExtraArgs(tx.init, update)
