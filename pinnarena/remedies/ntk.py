r"""NTK-trace loss weights (Wang, Yu & Perdikaris, *When and why PINNs fail to train: a neural
tangent kernel perspective*, J. Comput. Phys. 449, 2022, Algorithm 1).

For loss term i with residuals r_i(x) at its N_i points, the NTK block K_ii = J_i J_iᵀ with
J_i = ∂r_i/∂θ. Every ``refresh_every`` steps the weights become

    ŵ_i = (Σ_j τ_j) / τ_i,   τ_i = tr(K_ii) / N_i = (1/N_i) Σ_x ‖∂r_i(x)/∂θ‖²,

(the trace per point, so terms with different point counts compare like the mean losses do),
smoothed as w ← α w + (1 − α) ŵ with α = ``momentum`` (0 reproduces the paper's direct
assignment). The traces are computed by the training loop on the first ``ntk_points`` points of
each term (``needs_ntk``); between refreshes g = Σ_i w_i ∇L_i.
"""
from __future__ import annotations

import jax.numpy as jnp

from pinnarena.remedies import Remedy, register
from pinnarena.search_space import IntLog, Linear


class NTKWeights(Remedy):
    needs_ntk = True

    def __init__(self, refresh_every: int, momentum: float, ntk_points: int):
        if refresh_every < 1 or not 0.0 <= momentum < 1.0 or ntk_points < 1:
            raise ValueError("ntk needs refresh_every ≥ 1, momentum in [0, 1) and ntk_points ≥ 1")
        self.refresh_every = int(refresh_every)
        self.momentum = float(momentum)
        self.ntk_points = int(ntk_points)

    def update(self, G, losses, state, ntk_traces=None):
        if ntk_traces is None:
            raise ValueError("the ntk remedy needs ntk_traces from the training loop")
        target = jnp.sum(ntk_traces) / jnp.maximum(ntk_traces, 1e-30)
        w = self.momentum * state["weights"] + (1.0 - self.momentum) * target
        return w @ G, {"weights": w}


@register("ntk", family="weighting",
          search_space={"refresh_every": IntLog(10, 1000), "momentum": Linear(0.0, 0.99)})
def ntk(refresh_every: int = 100, momentum: float = 0.0, ntk_points: int = 128) -> Remedy:
    return NTKWeights(refresh_every, momentum, ntk_points)
