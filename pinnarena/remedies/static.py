r"""Static loss weights: g = Σ_k w_k ∇L_k with user-given, fixed weights.

The classical hand-tuned penalty weighting of PINNs (Raissi, Perdikaris & Karniadakis, *J. Comput.
Phys.* 378, 2019, where the boundary and residual terms are summed with constant multipliers):

    L(θ) = Σ_k w_k L_k(θ),        g = Σ_k w_k g_k  (g_k = ∇L_k).

``weights`` is a list with one finite, non-negative entry per loss term, in the problem's
``loss_names`` order; its length is checked against the number of loss terms at ``init``.
Without ``weights`` the weighting is all ones (the same as ``none``). The weights never change, so
``refresh_every = 0``: the loop never forms the per-loss gradients and takes one reverse pass of
Σ_k w_k L_k per step.

Example::

    rem = pinnarena.remedies.make("static", weights=[1.0, 100.0])
    state = rem.init(2)
    g, state = rem.update(G, losses, state)   # = 1.0 * G[0] + 100.0 * G[1]
"""
from __future__ import annotations

import math
from typing import Sequence

import jax.numpy as jnp

from pinnarena.remedies import Remedy, register


class StaticWeights(Remedy):
    refresh_every = 0

    def __init__(self, weights: Sequence[float] | None):
        if weights is None:
            self._weights = None
            return
        if isinstance(weights, (str, bytes)) or not hasattr(weights, "__len__"):
            raise ValueError(f"static weights must be a list of numbers, one per loss term, got {weights!r}")
        try:
            values = [float(w) for w in weights]
        except (TypeError, ValueError) as e:
            raise ValueError(f"static weights must be a list of numbers, got {weights!r}") from e
        bad = [w for w in values if not math.isfinite(w) or w < 0]
        if bad:
            raise ValueError(f"static weights must be finite and non-negative, got {values}")
        self._weights = values

    def init(self, num_losses: int):
        if self._weights is None:
            return {"weights": jnp.ones((num_losses,))}
        if len(self._weights) != num_losses:
            raise ValueError(
                f"static weights has {len(self._weights)} entries ({self._weights}) but the problem has "
                f"{num_losses} loss terms: give exactly one weight per loss term, in loss_names order"
            )
        return {"weights": jnp.asarray(self._weights, dtype=jnp.ones(()).dtype)}

    def update(self, G, losses, state):
        w = state["weights"]
        return w.astype(G.dtype) @ G, state


@register("static", family="weighting",
          search_space={})
def static(weights: Sequence[float] | None = None) -> Remedy:
    return StaticWeights(weights)
