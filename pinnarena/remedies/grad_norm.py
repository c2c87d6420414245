r"""Gradient-norm loss weights ("learning-rate annealing").

Wang, Teng & Perdikaris, *Understanding and mitigating gradient flow pathologies in PINNs*,
SIAM J. Sci. Comput. 43 (2021); in the form of Wang et al., *An expert's guide to training
PINNs* (arXiv 2308.08468, §3.1): every ``refresh_every`` steps

    ŵ_i = (Σ_j ‖∇L_j‖) / ‖∇L_i‖,       w ← α w + (1 − α) ŵ   (α = ``momentum`` = 0.9),

starting from w = 1, and in between g = Σ_i w_i ∇L_i with the weights held fixed. The
``statistic`` option replaces Σ_j by max_j or mean_j (the 2021 paper balanced against the
residual's max; the sum is the 2023 form).
"""
from __future__ import annotations

import jax.numpy as jnp

from pinnarena.remedies import Remedy, register
from pinnarena.search_space import IntLog, Linear

_STATISTICS = {"sum": jnp.sum, "max": jnp.max, "mean": jnp.mean}


class GradNorm(Remedy):
    def __init__(self, refresh_every: int, momentum: float, statistic: str, eps: float):
        if statistic not in _STATISTICS:
            raise ValueError(f"grad-norm statistic {statistic!r} is not one of {sorted(_STATISTICS)}")
        if refresh_every < 1:
            raise ValueError(f"grad-norm refresh_every must be ≥ 1, got {refresh_every}")
        if not 0.0 <= momentum < 1.0:
            raise ValueError(f"grad-norm momentum must be in [0, 1), got {momentum}")
        self.refresh_every = int(refresh_every)
        self.momentum = momentum
        self.statistic = _STATISTICS[statistic]
        self.eps = eps

    def update(self, G, losses, state):
        norms = jnp.linalg.norm(G, axis=1)
        target = self.statistic(norms) / (norms + self.eps)
        w = self.momentum * state["weights"] + (1.0 - self.momentum) * target
        return w @ G, {"weights": w}


@register("grad-norm", family="weighting",
          search_space={"refresh_every": IntLog(10, 1000), "momentum": Linear(0.5, 0.99)})
def grad_norm(refresh_every: int = 100, momentum: float = 0.9, statistic: str = "sum", eps: float = 1e-12) -> Remedy:
    return GradNorm(refresh_every, momentum, statistic, eps)
